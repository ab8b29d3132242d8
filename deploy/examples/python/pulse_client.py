"""pulse_client.py: a small client of plurum-pulse-bridge in Python (Debian: python3-zmq).

Owns: the bridge's default endpoints, a command client (DEALER socket, one JSON object per
request, replies matched by "id"), and a subscriber that notices gaps in "seq" and fills
them with the bridge's replay command. No dependency besides pyzmq and the standard library.

    from pulse_client import Commands, Subscriber
    with Commands() as cmd:
        print(cmd.request({"cmd": "status"}))
    with Subscriber(["contribution.received."], commands=Commands()) as sub:
        for how, topic, env in sub.events():
            print(how, topic, env["data"])
"""

import itertools
import json
import os
import time

import zmq

TOPIC_SEGMENT_MAX = 64


def default_endpoint(name):
    """The bridge's default endpoint: $PLURUM_PULSE_EVENTS / $PLURUM_PULSE_COMMANDS, else
    an ipc socket in $XDG_RUNTIME_DIR/plurum-pulse/ (else /tmp/plurum-pulse-$UID/)."""
    env = {"events": "PLURUM_PULSE_EVENTS", "commands": "PLURUM_PULSE_COMMANDS"}[name]
    if os.environ.get(env):
        return os.environ[env]
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    d = os.path.join(xdg, "plurum-pulse") if xdg else "/tmp/plurum-pulse-%d" % os.geteuid()
    return "ipc://%s/%s.sock" % (d, name)


class NoReply(Exception):
    """The bridge did not answer in time (is it running? is the endpoint right?)."""


class Commands:
    """A command client. request() returns the reply as a dict, or raises NoReply."""

    def __init__(self, endpoint=None, zctx=None):
        self.zctx = zctx or zmq.Context.instance()
        self.sock = self.zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        # Queue only on a completed connection: with no bridge, a request times out instead
        # of waiting to be delivered to a bridge started later.
        self.sock.setsockopt(zmq.IMMEDIATE, 1)
        self.sock.connect(endpoint or default_endpoint("commands"))
        self._ids = ("py-%d-%d" % (os.getpid(), n) for n in itertools.count(1))

    def request(self, obj, timeout_ms=5000):
        """Send one command (a dict); an "id" is added when absent. Replies to earlier,
        timed-out requests are skipped (they carry another id)."""
        obj = dict(obj)
        obj.setdefault("id", next(self._ids))
        # With IMMEDIATE the socket is writable only once connected: wait for that first.
        if not self.sock.poll(timeout_ms, zmq.POLLOUT):
            raise NoReply("the bridge is not connected")
        try:
            # An empty delimiter frame first, as a REQ socket would send (the bridge
            # answers with one too).
            self.sock.send_multipart([b"", json.dumps(obj).encode()], zmq.NOBLOCK)
        except zmq.Again:
            raise NoReply("the bridge is not connected")
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        left = timeout_ms
        end = time.monotonic() + timeout_ms / 1000.0
        while left > 0:
            if not poller.poll(left):
                break
            frames = self.sock.recv_multipart()
            reply = json.loads(frames[-1])
            if reply.get("id") in (obj["id"], None):
                return reply
            left = int((end - time.monotonic()) * 1000)
        raise NoReply("no reply within %d ms" % timeout_ms)

    def contribute(self, session_id, content, ctype=None, req_id=None, timeout_ms=10000):
        """The contribute command; waits the bridge's timeout plus 2 s for its reply."""
        req = {"cmd": "contribute", "session_id": session_id, "content": content,
               "timeout_ms": timeout_ms}
        if ctype:
            req["contribution_type"] = ctype
        if req_id:
            req["id"] = req_id
        return self.request(req, timeout_ms + 2000)

    def replay(self, after_seq, limit=0):
        req = {"cmd": "replay", "after_seq": after_seq}
        if limit:
            req["limit"] = limit
        return self.request(req)

    def outcome(self, req_id):
        return self.request({"cmd": "outcome", "id": req_id})

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _segment(value):
    """A topic segment cleaned as the bridge does."""
    if not value:
        return "none"
    out = []
    for ch in value.lower()[:TOPIC_SEGMENT_MAX]:
        out.append(ch if (ch.isascii() and (ch.isalnum() or ch in "_-")) else "_")
    return "".join(out)


def topic_of(env):
    """The topic the bridge published env under (replayed envelopes carry none)."""
    t, data = env.get("type") or "", env.get("data") or {}
    key = {"session.opened": "domain", "session.closed": "outcome",
           "contribution.received": "session_id"}.get(t)
    return t if key is None else "%s.%s" % (t, _segment(data.get(key)))


class Subscriber:
    """Events of the bridge with gap detection. events() yields (how, topic, envelope),
    how being "event" (live), "replayed" (a missed event, fetched with replay), "repeat"
    (an event already handled: the cached bridge.status re-sent to a new subscriber) or
    "gap" (topic None, envelope a dict describing the gap: from, to, filled, complete)."""

    def __init__(self, prefixes=(), endpoint=None, commands=None, after=None, zctx=None):
        self.zctx = zctx or zmq.Context.instance()
        self.sock = self.zctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint or default_endpoint("events"))
        self.prefixes = list(prefixes) or [""]
        for p in self.prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.commands = commands
        self.after = after  # the last seq handled before, in the bridge's current run
        self.run = None
        self.last_seq = 0

    def _matches(self, topic):
        return any(topic.startswith(p) for p in self.prefixes)

    def _fill(self, upto):
        """Replay what came after last_seq and before upto; yield the matching ones."""
        rep = self.commands.replay(self.last_seq, upto - self.last_seq - 1)
        if not rep.get("ok") or rep.get("run") != self.run:
            yield "gap", None, {"from": self.last_seq + 1, "to": upto - 1, "filled": 0,
                                "complete": False}
            return
        filled = 0
        for env in rep["events"]:
            if self.last_seq < env["seq"] < upto and self._matches(topic_of(env)):
                filled += 1
                yield "replayed", topic_of(env), env
        yield "gap", None, {"from": self.last_seq + 1, "to": upto - 1, "filled": filled,
                            "complete": rep.get("oldest_seq", 0) <= self.last_seq + 1}

    def events(self, timeout_ms=-1):
        """Yield events forever, or until timeout_ms passes without one."""
        while True:
            if not self.sock.poll(timeout_ms):
                return
            topic, text = self.sock.recv_multipart()
            env = json.loads(text)
            if env["run"] != self.run:
                first = self.run is None
                self.run = env["run"]
                # --after applies to the first run seen; else the first event is the start.
                self.last_seq = self.after if first and self.after is not None \
                    else env["seq"] - 1
            if env["seq"] <= self.last_seq:
                # bridge.status re-sent to a new subscriber with its old seq
                yield "repeat", topic.decode(), env
                continue
            if env["seq"] > self.last_seq + 1 and self.commands is not None:
                yield from self._fill(env["seq"])
            self.last_seq = env["seq"]
            yield "event", topic.decode(), env

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
