#!/usr/bin/python3
"""test_contribute_paths.py: the three contribute paths of the bridge (README "Contribute
paths"): REST (default), the shared WebSocket (--contribute-via ws) and auto (the WebSocket
only while REST cannot be reached), each against the devserver's contribute modes
(ok/error/drop/delay), plus round-robin fairness between clients on the REST queue."""

import os
import socket
import sys
import time
import uuid

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import World, check_contribution, check_error  # noqa: E402


def recorded_once(w, sid, content, via):
    recs = [c for c in w.recorded(sid) if c.get("content") == content]
    h.check(len(recs) == 1, "the server recorded %d contributions of %r" % (len(recs),
                                                                              content))
    h.check(recs[0]["via"] == via, "recorded via %r, expected %r" % (recs[0]["via"], via))
    return recs[0]


def closed_port():
    """A local TCP port with nothing listening (bound, read back, closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------
# 3. REST (the default)


def test_rest_path_ok_error_unknown_session_and_drop(ctx):
    w = World(ctx)
    sid = w.session()

    # ok: normalized contribution, via rest, recorded once with via "rest"
    content = {"text": "use exponential back-off", "n": 3}
    r = w.call(w.contribute(sid, content, contribution_type="warning", id="r-ok"))
    h.check(r.get("ok") is True, "REST contribute: %r" % r)
    h.check(r.get("via") == "rest", "via %r" % r.get("via"))
    check_contribution(r["contribution"], sid, w.a, content, "warning")
    rec = recorded_once(w, sid, content, "rest")
    h.check(rec["id"] == r["contribution"]["contribution_id"],
            "recorded id %r != reply's %r" % (rec["id"], r["contribution"]["contribution_id"]))
    h.check(w.call({"cmd": "outcome", "id": "r-ok"}).get("outcome") == "confirmed",
            "outcome of r-ok")

    # the server fails it: upstream_rejected with the HTTP status
    w.mode("error")
    r = w.call(w.contribute(sid, {"text": "rejected please"}, id="r-err"))
    err = check_error(r, "upstream_rejected", "contribute-mode error")
    h.check(isinstance(err.get("status"), int) and err["status"] >= 400,
            "status %r" % err.get("status"))
    h.check(str(err["status"]) in err["message"], "message %r" % err["message"])
    o = w.call({"cmd": "outcome", "id": "r-err"})
    h.check(o.get("outcome") == "rejected" and o.get("reply") == r, "outcome r-err: %r" % o)
    w.mode("ok")

    # an unknown session and a closed one: 4xx
    r = w.call(w.contribute(str(uuid.uuid4()), {"text": "nobody home"}))
    err = check_error(r, "upstream_rejected", "unknown session")
    h.check(400 <= err.get("status", 0) < 500, "unknown session status %r" % err)
    closed = w.session("to close")
    w.dev.close_session(closed, outcome="success")
    r = w.call(w.contribute(closed, {"text": "too late"}))
    err = check_error(r, "upstream_rejected", "closed session")
    h.check(400 <= err.get("status", 0) < 500, "closed session status %r" % err)

    # the server resets the request after reading it: outcome_unknown
    w.mode("drop")
    r = w.call(w.contribute(sid, {"text": "into the void"}, id="r-drop"), timeout=15)
    check_error(r, "outcome_unknown", "contribute-mode drop")
    h.check(r.get("id") == "r-drop", "id %r" % r)
    o = w.call({"cmd": "outcome", "id": "r-drop"})
    h.check(o.get("outcome") == "unknown", "outcome r-drop: %r" % o)
    w.mode("ok")
    h.check(w.call(w.contribute(sid, {"text": "back to normal"})).get("ok") is True,
            "ok after drop")


# ---------------------------------------------------------------------------------------
# 4. the WebSocket path


def test_ws_path_ok_error_and_drop_gives_outcome_unknown(ctx):
    w = World(ctx, bridge_extra=["--contribute-via", "ws", "--backoff-base-ms", "50",
                                 "--backoff-cap-ms", "200"])
    sid = w.session()
    content = {"text": "over the websocket"}
    r = w.call(w.contribute(sid, content, contribution_type="reference", id="w-ok"))
    h.check(r.get("ok") is True and r.get("via") == "ws", "WS contribute: %r" % r)
    check_contribution(r["contribution"], sid, w.a, content, "reference")
    recorded_once(w, sid, content, "ws")

    w.mode("error")
    r = w.call(w.contribute(sid, {"text": "fail me"}, id="w-err"))
    err = check_error(r, "upstream_rejected", "WS contribute-mode error")
    h.check("Contribution failed" in err["message"],
            "the server's message is not in %r" % err["message"])
    h.check(w.call({"cmd": "outcome", "id": "w-err"}).get("outcome") == "rejected",
            "outcome w-err")
    # unknown session over the WebSocket: the server's error
    w.mode("ok")
    r = w.call(w.contribute(str(uuid.uuid4()), {"text": "nobody"}))
    check_error(r, "upstream_rejected", "WS unknown session")
    h.check(w.call({"cmd": "status"})["state"] == "connected", "an error reply is not a drop")

    w.mode("drop")
    r = w.call(w.contribute(sid, {"text": "dropped"}, id="w-drop"), timeout=15)
    check_error(r, "outcome_unknown", "WS drop")
    h.check(r.get("id") == "w-drop", "id %r" % r)
    o = w.call({"cmd": "outcome", "id": "w-drop"})
    h.check(o.get("ok") is True and o.get("outcome") == "unknown", "outcome w-drop: %r" % o)
    h.check(o.get("reply") == r, "outcome reply %r != %r" % (o.get("reply"), r))
    # the bridge comes back and the path works again
    w.mode("ok")
    w.wait_connected(10)
    r = w.call(w.contribute(sid, {"text": "after the drop"}))
    h.check(r.get("ok") is True and r.get("via") == "ws", "after reconnect: %r" % r)


def test_ws_replies_match_requests_in_order_while_events_interleave(ctx):
    w = World(ctx, bridge_extra=["--contribute-via", "ws"])
    sid = w.session()
    sessions = w.bridge.sub(["session."])
    w.mode("delay", 800)  # long enough to open sessions while all six are in flight
    c = w.client("order")
    n = 6
    for i in range(n):
        c.send(w.contribute(sid, {"text": "ordered %d" % i, "i": i}, id="o-%d" % i,
                            contribution_type=["suggestion", "warning", "reference"][i % 3]))
    # while they are in flight, the server pushes events on the same connection
    h.wait_until(lambda: len(w.recorded(sid)) >= 1, 5, "the first contribute to arrive")
    h.check(not c.pending(0), "a reply before the delay passed")
    opened = [w.session("interleaved %d" % k) for k in range(3)]
    h.check(not c.pending(0), "replies came before the interleaved events were pushed")
    replies = [c.recv(10) for _ in range(n)]
    by_id = {r.get("id"): r for r in replies}
    h.check(sorted(by_id) == sorted("o-%d" % i for i in range(n)), "ids %r" % sorted(by_id))
    for i in range(n):
        r = by_id["o-%d" % i]
        h.check(r.get("ok") is True and r.get("via") == "ws", "o-%d: %r" % (i, r))
        check_contribution(r["contribution"], sid, w.a, {"text": "ordered %d" % i, "i": i},
                           ["suggestion", "warning", "reference"][i % 3])
    # (the push of the first session, sid, may reach this subscriber too: it subscribed
    # while that push was on its way, so only the interleaved sessions are counted)
    got = []
    for _ in opened:
        (_, env), _ = sessions.recv_until(
            lambda t, e: t.startswith("session.opened") and e["data"]["session_id"] in opened,
            10, "session.opened")
        got.append(env["data"]["session_id"])
    h.check(sorted(got) == sorted(opened), "interleaved events %r != %r" % (got, opened))
    recs = w.recorded(sid)
    h.check(len(recs) == n and all(x["via"] == "ws" for x in recs), "recorded %r" % recs)


# ---------------------------------------------------------------------------------------
# 5. auto


def test_auto_uses_the_websocket_when_rest_is_unreachable(ctx):
    port = closed_port()
    w = World(ctx, bridge_extra=["--contribute-via", "auto", "--rest-url",
                                 "http://127.0.0.1:%d/api/v1" % port])
    sid = w.session()
    content = {"text": "rest is down, websocket is up"}
    # timeout_ms 5000: whatever happens, the bridge owes a reply within it
    r = w.call(w.contribute(sid, content, id="auto-1", timeout_ms=5000), timeout=8)
    h.check(r.get("ok") is True, "auto contribute: %r" % r)
    h.check(r.get("via") == "ws", "via %r with REST unreachable" % r.get("via"))
    check_contribution(r["contribution"], sid, w.a, content)
    recorded_once(w, sid, content, "ws")
    # and the next one too (REST is preferred again only later)
    r = w.call(w.contribute(sid, {"text": "second"}, timeout_ms=5000), timeout=8)
    h.check(r.get("ok") is True and r.get("via") == "ws", "second auto: %r" % r)


def test_auto_prefers_rest_when_it_is_reachable(ctx):
    w = World(ctx, bridge_extra=["--contribute-via", "auto"])
    sid = w.session()
    r = w.call(w.contribute(sid, {"text": "rest is fine"}))
    h.check(r.get("ok") is True and r.get("via") == "rest", "auto with REST up: %r" % r)
    recorded_once(w, sid, {"text": "rest is fine"}, "rest")


# ---------------------------------------------------------------------------------------
# 8. fairness between clients on the REST queue


def test_rest_queue_serves_clients_round_robin(ctx):
    w = World(ctx, bridge_extra=["--rest-inflight", "1"])
    sid = w.session()
    w.mode("delay", 200)
    a, b = w.client("fair-a"), w.client("fair-b")
    for i in range(10):
        a.send(w.contribute(sid, {"text": "a %d" % i}, id="a-%d" % i, timeout_ms=30000))
    # A's ten are all read by the bridge once its ping (sent after them) is answered
    h.check(a.call({"cmd": "ping", "id": "a-ping"}, 5) == {"ok": True, "id": "a-ping"},
            "A's ping")
    for i in range(2):
        b.send(w.contribute(sid, {"text": "b %d" % i}, id="b-%d" % i, timeout_ms=30000))
    order = []
    poller = zmq.Poller()
    poller.register(a.sock, zmq.POLLIN)
    poller.register(b.sock, zmq.POLLIN)
    end = time.monotonic() + 20
    while len(order) < 12 and time.monotonic() < end:
        for sock, _ in poller.poll(200):
            cl = a if sock is a.sock else b
            r = cl.recv(1)
            h.check(r.get("ok") is True, "reply %r" % r)
            order.append(r["id"])
    h.check(len(order) == 12, "%d of 12 replies: %r" % (len(order), order))
    h.check([x for x in order if x.startswith("a-")] == ["a-%d" % i for i in range(10)],
            "A's replies out of order: %r" % order)
    last_b = max(order.index("b-0"), order.index("b-1"))
    a_before = sum(1 for x in order[:last_b] if x.startswith("a-"))
    # round-robin: a-0 on the wire, then a-1 and b-0 alternate... B waits for at most a
    # few of A's; first-come-first-served would make it wait for all ten
    h.check(a_before <= 4, "B's replies came after %d of A's: %r" % (a_before, order))


if __name__ == "__main__":
    h.main(globals())
