#!/usr/bin/python3
"""test_contribute_limits.py: the two limits a contribute can meet besides the WebSocket
budget: a REST 429 from upstream (rate_limited with the server's Retry-After), and the
bridge's own per-client quota (--client-quota), which keeps one client from filling the queue
the others share."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import World  # noqa: E402


def test_rest_429_is_rate_limited_with_retry_after_and_may_be_retried(ctx):
    w = World(ctx)
    sid = w.session()
    w.mode("ratelimit")
    r = w.call(w.contribute(sid, {"text": "too soon"}, id="rl-1"))
    h.check(r.get("ok") is False and r["error"]["code"] == "rate_limited", "reply %r" % r)
    h.check(r["error"].get("retry_after_ms") == 7000,
            "retry_after_ms from Retry-After: 7 -> %r" % r["error"].get("retry_after_ms"))
    h.check(r.get("id") == "rl-1", "id echo %r" % r)
    h.check(w.recorded(sid) == [], "a refused contribute was recorded upstream")
    # nothing was applied, so the id is free: the same id goes through once allowed
    w.mode("ok")
    r = w.call(w.contribute(sid, {"text": "now"}, id="rl-1"))
    h.check(r.get("ok") is True and r.get("via") == "rest", "retry after 429: %r" % r)
    h.check(len(w.recorded(sid)) == 1, "recorded %r" % w.recorded(sid))


def test_client_quota_refuses_the_excess_of_one_client_only(ctx):
    w = World(ctx, bridge_extra=["--client-quota", "2", "--rest-inflight", "1"])
    sid = w.session()
    w.mode("delay", 1500)
    greedy, other = w.client("greedy"), w.client("other")
    for i in range(4):  # one goes on the wire, two wait in the queue, the fourth is refused
        greedy.send(w.contribute(sid, {"text": "greedy %d" % i}, id="g-%d" % i))
    first = greedy.recv(5)
    h.check(first.get("id") == "g-3" and first["error"]["code"] == "rate_limited",
            "the client over its quota: %r" % first)
    h.check(first["error"].get("retry_after_ms", 0) > 0, "retry_after_ms %r" % first)
    other.send(w.contribute(sid, {"text": "someone else"}, id="o-0"))
    replies = {r["id"]: r for r in [greedy.recv(15) for _ in range(3)] + [other.recv(15)]}
    for rid in ("g-0", "g-1", "g-2", "o-0"):
        h.check(replies[rid].get("ok") is True, "%s: %r" % (rid, replies[rid]))
    h.check(len(w.recorded(sid)) == 4, "recorded %d" % len(w.recorded(sid)))


if __name__ == "__main__":
    h.main(globals())
