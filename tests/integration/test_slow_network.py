"""test_slow_network.py: a slow TLS handshake and a long refusal (issue 4's fault list).

A small TCP relay between the bridge and the dev server holds back the server's first bytes
(its TLS ServerHello) for a while: the handshake is slow, not broken. Within the auth timeout
the bridge waits for it; past it, the bridge gives up and retries instead of hanging. A
30-second refusal (the dev server answers every upgrade with 503) is waited out with back-off,
and what was contributed meanwhile comes from the inbox."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class SlowRelay:
    """Forwards 127.0.0.1:<port> to the dev server; the first bytes from the server on each
    connection are held back by `delay` seconds (changeable while running)."""

    def __init__(self, target_port, delay):
        self.target = ("127.0.0.1", target_port)
        self.delay = delay
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, server, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, self.delay),
                             daemon=True).start()

    @staticmethod
    def _pipe(src, dst, first_delay):
        first = True
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if first and first_delay:
                    time.sleep(first_delay)  # the fault itself: a slow peer, not a wait
                first = False
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stopping = True
        self.sock.close()


def _world(ctx, delay, extra=()):
    key = h.gen_key()
    dev = h.DevServer(ctx, {key: "agent-slow"}, tls=True)
    relay = SlowRelay(dev.tls_port, delay)
    url = "wss://localhost:%d/api/v1/pulse/ws" % relay.port
    bridge = h.Bridge(ctx, url, key, ca_file=dev.cert, extra=list(extra))
    return dev, relay, bridge


def test_slow_tls_handshake_is_waited_for_within_the_auth_timeout(ctx):
    dev, relay, bridge = _world(ctx, 3.0)
    t0 = time.monotonic()
    s = bridge.sub(["bridge.status"], sync=False)
    h.await_status(s, "connected", 15)
    took = time.monotonic() - t0
    h.check(took >= 2.5, "connected after %.1f s: the relay holds the handshake 3 s" % took)
    tries = bridge.stderr().count("upstream: connecting")
    h.check(tries == 1, "%d connection attempts: it should have waited, not retried" % tries)
    bridge.stop()
    relay.close()


def test_handshake_slower_than_the_auth_timeout_is_dropped_and_retried(ctx):
    dev, relay, bridge = _world(ctx, 6.0, ["--auth-timeout-ms", "1500", "--backoff-cap-ms",
                                           "300"])
    s = bridge.sub(["bridge.status"], sync=False)
    env = h.await_status(s, "backoff", 10)
    h.check("auth" in (env["data"]["last_error"] or "") or env["data"]["last_error"],
            "why: %r" % env["data"])
    relay.delay = 0  # the network recovers
    h.await_status(s, "connected", 15)
    tries = bridge.stderr().count("upstream: connecting")
    h.check(tries >= 2, "only %d connection attempts" % tries)
    bridge.stop()
    relay.close()


def test_thirty_seconds_of_refusal_are_waited_out_and_the_gap_recovered(ctx):
    key, other = h.gen_key(), h.gen_key()
    dev = h.DevServer(ctx, {key: "agent-r", other: "agent-o"})
    bridge = h.Bridge(ctx, dev.ws_url, key, extra=["--backoff-cap-ms", "2000"])
    s = bridge.sub(["contribution.received.", "bridge.status"], sync=False)
    h.await_status(s, "connected", 10)
    sid, _ = dev.open_session("agent-r", "refused for a while")
    dev.call("POST", "refuse", {"ms": 30000})
    dev.close_conn(1011, agent_id="agent-r")
    h.await_status(s, "backoff", 5)
    c = dev.contribute(sid, "agent-o", {"text": "made while the bridge was refused"})
    before = bridge.stderr().count("upstream: connecting")
    t0 = time.monotonic()
    env = h.await_status(s, "connected", 40)
    took = time.monotonic() - t0
    h.check(took >= 25, "connected after %.1f s of a 30 s refusal" % took)
    tries = bridge.stderr().count("upstream: connecting") - before
    h.check(tries >= 10, "only %d attempts in 30 s with a 2 s cap: not retrying" % tries)
    (_, ev), _ = s.recv_until(lambda t, e: t.startswith("contribution.received."), 10,
                              "the contribution made during the refusal")
    h.check(ev["source"] == "inbox" and ev["id"] == "contribution:" + c["id"],
            "recovered %r" % ev)
    bridge.stop()


if __name__ == "__main__":
    h.main(globals())
