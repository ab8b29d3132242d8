#!/usr/bin/python3
"""test_reconnect.py: the bridge's connection life (bridge-contract.md, "Behaviour users rely
on"): reconnect after a server crash, dead-connection detection, and the close codes that
must not be fought (4001, 4000, 4008); bridge.status as a last-value cache."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_events import World  # noqa: E402


def status_states(sub, until_state, timeout):
    """Receive bridge.status until state == until_state; returns the list of envelopes."""
    seen = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise h.Timeout("no %s status within %.1fs; saw %r" % (
                until_state, timeout, [e["data"]["state"] for e in seen]))
        m = sub.try_recv(left)
        if m is None:
            continue
        t, env = m
        if t != "bridge.status":
            continue
        seen.append(env)
        if env["data"]["state"] == until_state:
            return seen


def test_reconnects_after_server_kill9_and_restart(ctx):
    w = World(ctx, bridge_extra=["--backoff-cap-ms", "2000"])
    status = w.bridge.sub(["bridge.status"], sync=False)
    h.await_status(status, "connected", 5)
    w.dev.kill9()
    seen = status_states(status, "backoff", 10)
    h.check(seen[-1]["data"]["next_retry_ms"] is not None, "backoff without next_retry_ms")
    w.dev.restart()
    seen = status_states(status, "connected", 15)
    states = [e["data"]["state"] for e in seen]
    h.check(set(states) <= {"backoff", "connecting", "connected"}, "states %r" % states)
    h.check("connecting" in states, "no connecting state before connected: %r" % states)
    # New events flow on the new connection.
    sid, _ = w.dev.open_session(w.a, "after restart", domain="x")
    c = w.dev.contribute(sid, w.b, {"text": "still there"})
    (t, env), _ = w.all.recv_until(
        lambda t, e: t == "contribution.received." + sid, 10, "contribution after restart")
    h.check(env["data"]["contribution_id"] == c["id"], "contribution after restart")
    h.check(env["run"] == w.run, "run changed across a reconnect")


def test_stalled_connection_is_detected_and_replaced(ctx):
    interval = 0.5
    # The server, like upstream, answers the new connection only once the half-open old one
    # has timed out (--pong-timeout-ms): short here so the bound below is the bridge's.
    w = World(ctx, bridge_extra=["--ping-interval-ms", str(int(interval * 1000))],
              dev_extra=["--pong-timeout-ms", "500"])
    status = w.bridge.sub(["bridge.status"], sync=False)
    h.await_status(status, "connected", 5)
    before = w.dev.state()["connects_total"]
    t0 = time.monotonic()
    w.dev.stall(w.a)
    bound = 2 * interval + 2.0
    seen = status_states(status, "connected", bound + 5)
    dt = time.monotonic() - t0
    h.check(len(seen) >= 2, "no state change before reconnecting: %r" %
            [e["data"]["state"] for e in seen])
    h.check(dt < bound, "stall detected and replaced after %.2fs (bound %.1fs)" % (dt, bound))
    h.check(w.dev.state()["connects_total"] > before, "no new connection")
    sid, _ = w.dev.open_session(w.a, "after stall", domain="x")
    w.dev.contribute(sid, w.b, {"text": "ok"})
    h.await_topic(w.all, "contribution.received." + sid, 10)


def test_unknown_key_is_auth_failed_and_waits_the_cap(ctx):
    key_a = h.gen_key()
    dev = ctx.devserver({key_a: "agent-a"})
    bad = h.gen_key()
    t0 = time.monotonic()
    b = ctx.bridge(dev.ws_url, bad, key_file=True,
                   extra=["--backoff-cap-ms", "3000", "--backoff-base-ms", "100"])
    status = b.sub(["bridge.status"], sync=False)
    env = h.await_status(status, "auth_failed", 10)
    h.check(env["data"]["last_close_code"] == 4001, "last_close_code %r" % env["data"])
    h.check(env["data"]["next_retry_ms"] >= 3000, "next_retry_ms %r" % env["data"])
    # watch the first 5 s of wall time (not stretched under valgrind: the cap is a rate)
    while time.monotonic() - t0 < 5.0:
        n = dev.state()["auth_failed_total"]
        h.check(n <= 2, "%d auth attempts within 5 s" % n)
        time.sleep(0.1)  # an observation window: the point is that nothing happens
    h.check(b.alive(), "bridge exited on auth failure")
    h.assert_no_key(b.stderr(), bad, "bridge stderr")


def test_second_bridge_with_same_key_supersedes_without_fighting(ctx):
    key = h.gen_key()
    dev = ctx.devserver({key: "agent-shared"})
    cap = ["--backoff-cap-ms", "5000"]
    b1 = ctx.bridge(dev.ws_url, key, extra=cap, name="b1")
    s1 = b1.sub(["bridge.status"], sync=False)
    h.await_status(s1, "connected", 10)
    b2 = ctx.bridge(dev.ws_url, key, extra=cap, name="b2")
    s2 = b2.sub(["bridge.status"], sync=False)
    h.await_status(s2, "connected", 10)
    env = h.await_status(s1, "superseded", 10)
    t_sup = time.monotonic()
    h.check(env["data"]["last_close_code"] == 4000, "last_close_code %r" % env["data"])
    h.check(env["data"]["next_retry_ms"] >= 5000, "next_retry_ms %r" % env["data"])
    base = dev.state()["connects_total"]
    # b2 keeps the connection at least until b1's full cap has passed; and over a 6 s
    # window the server sees at most 2 new connections.
    while time.monotonic() - t_sup < 6.0:
        m = s2.try_recv(0.1)
        if m is not None and m[0] == "bridge.status":
            st = m[1]["data"]["state"]
            h.check(st == "connected" or time.monotonic() - t_sup >= 4.8,
                    "second bridge left connected (%s) after %.1fs" %
                    (st, time.monotonic() - t_sup))
        n = dev.state()["connects_total"] - base
        h.check(n <= 2, "%d new connections within 6 s: the bridges fight" % n)


def test_close_4008_is_rate_limited_for_a_minute(ctx):
    w = World(ctx)
    status = w.bridge.sub(["bridge.status"], sync=False)
    h.await_status(status, "connected", 5)
    w.dev.close_conn(4008, agent_id=w.a, reason="Message rate limit exceeded")
    env = h.await_status(status, "rate_limited", 10)
    h.check(env["data"]["last_close_code"] == 4008, "last_close_code %r" % env["data"])
    h.check(env["data"]["next_retry_ms"] >= 60000, "next_retry_ms %r" % env["data"])


def test_events_missed_while_disconnected_come_from_the_inbox(ctx):
    w = World(ctx, backfill=True, bridge_extra=["--backoff-cap-ms", "1000"])
    sid, _ = w.dev.open_session(w.a, "gap", domain="x")
    status = w.bridge.sub(["bridge.status"], sync=False)
    h.await_status(status, "connected", 5)
    w.dev.call("POST", "refuse", {"ms": 60000})
    w.dev.close_conn(1011, agent_id=w.a, reason="going away")
    h.await_status(status, "backoff", 10)
    c = w.dev.contribute(sid, w.b, {"text": "sent while the bridge was away"})
    w.dev.call("POST", "refuse", {"ms": 0})
    h.await_status(status, "connected", 15)
    got = {}
    want = ("contribution.received." + sid, "bridge.recovery")
    while len(got) < 2:  # in either order
        # (the first connect's own, empty recovery may still be on its way: skip it)
        (t, env), _ = w.all.recv_until(
            lambda t, e: t in want and t not in got and (
                t != "bridge.recovery" or e["data"]["contributions"] >= 1), 10,
            "recovered contribution and bridge.recovery")
        got[t] = env
    env = got[want[0]]
    h.check(env["source"] == "inbox", "source %r" % env["source"])
    h.check(env["id"] == "contribution:" + c["id"], "id %r" % env["id"])
    d = got["bridge.recovery"]["data"]
    h.check(d["contributions"] >= 1 and d["result"] == "complete", "recovery %r" % d)
    # Published once: the same contribution pushed live now is a duplicate.
    w.dev.send(w.a, text=json.dumps({"type": "contribution_received", "data": c}))
    w.dev.send(w.a, text=json.dumps({"type": "marker"}))
    (_, _), skipped = w.all.recv_until(lambda t, e: t == "upstream.marker", 10, "marker")
    h.check(not any(t.startswith("contribution.") for t, _ in skipped),
            "recovered contribution published again")


def test_late_subscriber_gets_current_status_at_once(ctx):
    w = World(ctx)
    t0 = time.monotonic()
    late = w.bridge.sub(["bridge.status"], sync=False)
    env = h.await_status(late, "connected", 1.0)
    h.check(time.monotonic() - t0 < 1.0, "late status took too long")
    # A second late subscriber with a broader prefix gets the same envelope (same seq).
    late2 = w.bridge.sub(["bridge."], sync=False)
    env2 = h.await_status(late2, "connected", 1.0)
    h.check(env2["seq"] == env["seq"], "re-sent status has a new seq: %d != %d" %
            (env2["seq"], env["seq"]))


def test_sigterm_exits_0_and_removes_ipc_files(ctx):
    w = World(ctx)
    ev = w.bridge.events[len("ipc://"):]
    cmd = w.bridge.commands[len("ipc://"):]
    h.check(os.path.exists(ev) and os.path.exists(cmd), "ipc socket files missing")
    w.bridge.stop()
    h.check(not os.path.exists(ev) and not os.path.exists(cmd), "ipc files left behind")
    st = w.dev.state()
    codes = [c["code"] for c in st["closes"] if c.get("agent_id") == w.a]
    h.check(1000 in codes, "no close 1000 seen by the server: %r" % st["closes"])


if __name__ == "__main__":
    h.main(globals())
