#!/usr/bin/python3
"""test_faults.py: the bridge survives faults (README "Behaviour you can rely on", issue 4.4):
devserver kill -9 and restart while events flow, a half-open (stalled) connection, refused
connections, every upstream close code, unparseable frames, and a flood of command requests.
After each fault the bridge is alive, answers status, reconnects, and every contribution the
server holds for the agent has been published exactly once (live or inbox)."""

import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import CmdClient, request  # noqa: E402
from test_recovery import Collector, check_once  # noqa: E402

MIB = 1 << 20


class FWorld:
    """A devserver with agents A (the bridge's) and B; a bridge connected as A with a
    collecting all-subscriber."""

    def __init__(self, ctx, bridge_extra=(), dev_extra=(), backoff=(50, 500)):
        self.ctx = ctx
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b}, extra=dev_extra)
        self.backoff = ["--backoff-base-ms", str(backoff[0]), "--backoff-cap-ms",
                        str(backoff[1])]
        self.bridge_extra = list(bridge_extra)
        self.start_bridge()

    def start_bridge(self, name="bridge"):
        self.bridge = self.ctx.bridge(self.dev.ws_url, self.key_a, name=name,
                                      extra=self.backoff + self.bridge_extra)
        self.col = Collector(self.bridge.sub([""]))
        self.col.wait_state("connected", 15)

    def status(self, timeout=5.0):
        h.check(self.bridge.alive(), "bridge exited %r: %s" % (
            self.bridge.proc.returncode, self.bridge.stderr()[-2000:]))
        r = request(self.ctx, self.bridge.commands, {"cmd": "status"}, timeout)
        h.check(r.get("ok") is True, "status reply %r" % r)
        return r

    def session(self):
        return self.dev.open_session(self.a, "faults", domain="testing")[0]

    def contribute(self, sid, n, tag):
        return [self.dev.contribute(sid, self.b, {"text": "%s %d" % (tag, i)})["id"]
                for i in range(n)]

    def wait_ids(self, ids, timeout=20, what="contributions"):
        want = {"contribution:" + i for i in ids}

        def seen():
            self.col.pump(0.05)
            return want <= set(self.col.contributions())
        try:
            h.wait_until(seen, timeout, what)
        except h.Timeout:
            missing = want - set(self.col.contributions())
            raise h.TestFailure("%d of %d %s never published, e.g. %r" % (
                len(missing), len(want), what, sorted(missing)[:3]))

    def marker(self, name, timeout=10):
        """A frame the bridge publishes as upstream.<name>: proves the stream still flows."""
        m = self.col.mark()
        self.dev.send(self.a, text=json.dumps({"type": name, "data": {}}))
        return self.col.wait(lambda t, e: t == "upstream." + name, timeout, name, m)[1]

    def reconnected(self, timeout=15):
        """Wait until the bridge is connected again (status command), then check a live
        event gets through."""
        def connected():
            st = self.status()
            return st if st["state"] == "connected" else None
        st = h.wait_until(connected, timeout, "bridge connected again")
        self.marker("alive_%s" % uuid.uuid4().hex[:6])
        return st


def test_survives_20_server_kill9_restarts_while_events_flow(ctx):
    w = FWorld(ctx)
    epochs = []  # per restart: the contributions the server held for A
    m0 = 0  # where the current restart began in the collected events
    for epoch in range(20):
        sid = w.session()
        # made before the bridge is back (inbox) on all but the first epoch, then live
        early = w.contribute(sid, 3, "epoch %d early" % epoch)
        m = w.col.mark()
        if epoch:
            w.col.wait_state("connected", 15, since=m0)
        late = w.contribute(sid, 3, "epoch %d late" % epoch)
        epochs.append(early + late)
        w.wait_ids(early + late, what="contributions of epoch %d" % epoch)
        # events flowing when the server dies
        w.dev.call("POST", "emit", {"agent_id": w.a, "count": 2000, "rate": 20000})
        w.col.wait(lambda t, e: t.startswith("contribution.received.") and
                   e["data"]["session_id"] != sid, 10, "emitted events", m)
        m0 = w.col.mark()
        w.dev.restart()
        h.check(w.status()["state"] in ("connecting", "backoff", "connected"),
                "status after restart %d" % epoch)
    w.col.wait_state("connected", 15, since=m0)
    st = w.reconnected()
    for i, ids in enumerate(epochs):
        check_once(w, ids)
    check_once(w, [])  # emitted ones too: no id twice
    c = st["counters"]
    print("    reconnects=%d dead=%d published=%d inbox=%r" % (
        c["reconnects"], c["dead_connections"], c["published"],
        c["events_in_inbox"]["contribution.received"]))
    h.check(c["reconnects"] >= 20, "reconnects %r" % c["reconnects"])
    h.check(c["published"] == st["last_seq"], "published %d != last_seq %d" % (
        c["published"], st["last_seq"]))


def test_half_open_connection_is_replaced_and_nothing_lost(ctx):
    w = FWorld(ctx, bridge_extra=["--ping-interval-ms", "300"],
               dev_extra=["--pong-timeout-ms", "300"])
    sid = w.session()
    before = w.dev.state()["connects_total"]
    m = w.col.mark()
    t0 = time.monotonic()
    w.dev.stall(w.a)
    during = w.contribute(sid, 4, "during stall")
    w.col.wait_not_connected(10, since=m)
    w.col.wait_state("connected", 15, since=m)
    dt = time.monotonic() - t0
    w.reconnected()
    after = w.contribute(sid, 2, "after stall")
    w.wait_ids(during + after)
    check_once(w, during + after)
    h.check(w.dev.state()["connects_total"] > before, "no new connection")
    st = w.status()
    h.check(st["counters"]["dead_connections"] >= 1, "dead_connections %r" %
            st["counters"]["dead_connections"])
    print("    stall detected and replaced in %.2fs" % dt)
    h.check(dt < h.scaled(2 * 0.3 + 3.0), "stall replaced after %.2fs" % dt)


def test_refused_connections_are_retried_with_backoff_within_the_cap(ctx):
    cap_ms = 1000
    w = FWorld(ctx, backoff=(100, cap_ms))
    sid = w.session()
    m = w.col.mark()
    refuse_ms = 3000
    w.dev.call("POST", "refuse", {"ms": refuse_ms})
    t0 = time.monotonic()
    w.dev.close_conn(1011, agent_id=w.a, reason="going away")
    during = w.contribute(sid, 3, "while refused")
    w.col.wait_state("connected", 3 + cap_ms / 1000.0 + 5, since=m)
    dt = time.monotonic() - t0
    seen = [e["data"] for t, e in w.col.events[m:] if t == "bridge.status"]
    backoffs = [d for d in seen if d["state"] == "backoff"]
    connecting = [d for d in seen if d["state"] == "connecting"]
    print("    connected %.2fs after a %d ms refusal; %d backoffs, %d attempts, delays %r" % (
        dt, refuse_ms, len(backoffs), len(connecting),
        [d["next_retry_ms"] for d in backoffs]))
    h.check(len(connecting) >= 3, "only %d connect attempts in %.1fs of refusal" %
            (len(connecting), refuse_ms / 1000.0))
    h.check(all(d["next_retry_ms"] is not None and 0 <= d["next_retry_ms"] <= cap_ms
                for d in backoffs), "a back-off outside [0, cap]: %r" % backoffs)
    attempts = [d["attempt"] for d in backoffs]
    h.check(attempts == sorted(attempts) and attempts[-1] > attempts[0],
            "attempt does not grow across retries: %r" % attempts)
    h.check(dt < refuse_ms / 1000.0 + h.scaled(cap_ms / 1000.0 + 1.5),
            "back after %.2fs: more than the refusal plus the cap" % dt)
    w.reconnected()
    w.wait_ids(during)
    check_once(w, during, source="inbox")


BACKOFF_CODES = [1000, 1003, 1009, 1011]
HELD_CODES = {4000: "superseded", 4001: "auth_failed", 4008: "rate_limited"}


def test_every_upstream_close_code_gives_the_right_state(ctx):
    cap_ms = 1000
    w = FWorld(ctx, backoff=(50, cap_ms))
    sid = w.session()
    ids = []
    for code in BACKOFF_CODES:
        m = w.col.mark()
        w.dev.close_conn(code, agent_id=w.a, reason="test %d" % code)
        d = w.col.wait(lambda t, e: t == "bridge.status" and e["data"]["state"] != "connected",
                       10, "a state after close %d" % code, m)[1]["data"]
        h.check(d["state"] == "backoff", "close %d: state %r" % (code, d))
        h.check(d["last_close_code"] == code, "close %d: last_close_code %r" % (code, d))
        ids += w.contribute(sid, 1, "after %d" % code)
        w.col.wait_state("connected", cap_ms / 1000.0 + 10, since=m)
        w.reconnected()
    w.wait_ids(ids)
    check_once(w, ids)
    n = 1
    for code, state in HELD_CODES.items():
        m = w.col.mark()
        w.dev.close_conn(code, agent_id=w.a, reason="test %d" % code)
        d = w.col.wait_state(state, 10, since=m)["data"]
        h.check(d["last_close_code"] == code, "close %d: %r" % (code, d))
        low = 60000 if code == 4008 else cap_ms
        h.check(d["next_retry_ms"] is not None and d["next_retry_ms"] >= low,
                "close %d: next_retry_ms %r < %d" % (code, d["next_retry_ms"], low))
        if code != 4008:
            h.check(d["next_retry_ms"] <= cap_ms * 1.25 + 1, "close %d: next_retry_ms %r > "
                    "cap + 25%%" % (code, d["next_retry_ms"]))
        st = w.status()
        h.check(st["state"] == state, "close %d: status says %r" % (code, st["state"]))
        w.bridge.stop()
        n += 1
        w.start_bridge(name="bridge%d" % n)


# (name, /_dev/send arguments) for frames that cannot be normalized
INVALID = [
    ("binary frame", {"binary_hex": "7b2274797065223a226d61726b6572227d"}),
    ("not JSON", {"text": "}{ not json at all"}),
    ("invalid UTF-8 in a binary frame", {"binary_hex": "7b2274797065223a22c328ff227d"}),
    ("1 MiB string", {"text": json.dumps({"type": "session_opened",
                                          "data": {"session_id": 1, "topic": "x" * MIB}})}),
    ("100k-deep nesting", {"text": '{"type":"x","data":' + "[" * 100000 + "]" * 100000 +
                           "}"}),
]


def test_invalid_frames_are_counted_skipped_and_the_stream_goes_on(ctx):
    w = FWorld(ctx)
    skipped = w.status()["counters"]["skipped_frames"]
    for i, (name, args) in enumerate(INVALID):
        w.dev.send(w.a, **args)
        env = w.marker("good_%d" % i, 15)
        h.check(env["source"] == "live", "marker after %s" % name)

        def grew():
            return w.status()["counters"]["skipped_frames"] > skipped
        h.wait_until(grew, 5, "skipped_frames to grow after %s" % name)
        skipped = w.status()["counters"]["skipped_frames"]
    published = [t for t, _ in w.col.events if not t.startswith("bridge.")]
    h.check(published == ["upstream.good_%d" % i for i in range(len(INVALID))],
            "published %r" % published)
    st = w.status()
    h.check(st["state"] == "connected" and st["counters"]["connects"] == 1,
            "the bridge reconnected: %r" % st["counters"]["connects"])
    print("    skipped_frames=%d" % skipped)


def test_command_flood_gets_one_reply_each_and_events_still_flow(ctx):
    w = FWorld(ctx, bridge_extra=["--no-backfill"])
    total, nclients = 10000, 4
    clients = [CmdClient(ctx, w.bridge.commands, "flood-%d" % i) for i in range(nclients)]
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": 3000, "rate": 0})
    sent = [dict() for _ in clients]  # id -> kind, per client
    anon = [0] * nclients  # requests without an id (garbage): counted replies
    got_ids = [[] for _ in clients]
    got_anon = [0] * nclients
    kinds = ["ping", "status", "badjson", "multiframe", "notobject", "unknown"]

    def send_one(ci, n):
        c, kind = clients[ci], kinds[n % len(kinds)]
        rid = "r%d" % n
        if kind == "ping":
            c.send({"cmd": "ping", "id": rid})
        elif kind == "status":
            c.send({"cmd": "status", "id": rid})
        elif kind == "unknown":
            c.send({"cmd": "explode", "id": rid})
        elif kind == "badjson":
            c.send(b'{"cmd":"ping","id":"' + rid.encode() + b'"')
            anon[ci] += 1
            return
        elif kind == "notobject":
            c.send(b"[1,2,3]")
            anon[ci] += 1
            return
        else:
            c.send_frames([b"", json.dumps({"cmd": "ping"}).encode(), b"second frame"])
            anon[ci] += 1
            return
        sent[ci][rid] = kind

    def drain(ci, timeout=0.0):
        c = clients[ci]
        while c.pending(timeout):
            frames = c.sock.recv_multipart()
            h.check(len(frames) == 2 and frames[0] == b"", "reply frames %r" % frames[:3])
            r = json.loads(frames[1])
            if "id" in r:
                got_ids[ci].append(r["id"])
                kind = sent[ci].get(r["id"])
                h.check(kind is not None, "reply to an id never sent: %r" % r)
                ok = kind in ("ping", "status")
                h.check(r.get("ok") is ok, "%s reply %r" % (kind, str(r)[:200]))
            else:
                h.check(r.get("ok") is False and r["error"]["code"] == "bad_request",
                        "garbage reply %r" % r)
                got_anon[ci] += 1
            timeout = 0.0

    t0 = time.monotonic()
    for n in range(total):
        send_one(n % nclients, n)
        if n % 200 == 199:
            for ci in range(nclients):
                drain(ci)
    expected = [len(sent[ci]) + anon[ci] for ci in range(nclients)]
    end = time.monotonic() + h.scaled(60)
    while time.monotonic() < end and any(
            len(got_ids[ci]) + got_anon[ci] < expected[ci] for ci in range(nclients)):
        for ci in range(nclients):
            drain(ci, 0.05)
    dt = time.monotonic() - t0
    for ci in range(nclients):
        drain(ci, 0.3)  # anything extra would be a second reply
        h.check(sorted(got_ids[ci]) == sorted(sent[ci]),
                "client %d: %d id replies for %d requests (dups %d)" % (
                    ci, len(got_ids[ci]), len(sent[ci]),
                    len(got_ids[ci]) - len(set(got_ids[ci]))))
        h.check(got_anon[ci] == anon[ci], "client %d: %d replies to %d garbage requests" %
                (ci, got_anon[ci], anon[ci]))
    print("    %d requests answered in %.2fs" % (total, dt))
    t1 = time.monotonic()
    st = w.status(timeout=2.0)
    h.check(time.monotonic() - t1 < h.scaled(1.0), "status slow after the flood")

    def emitted_all():
        w.col.pump(0.05)
        return len(w.col.contributions()) >= 3000
    h.wait_until(emitted_all, 30, "3000 emitted events during the flood")
    check_once(w, [])
    w.marker("after_flood")
    h.check(st["counters"]["replies_undeliverable"] == 0, "undeliverable replies %r" %
            st["counters"]["replies_undeliverable"])
    for c in clients:
        c.close()


if __name__ == "__main__":
    h.main(globals())
