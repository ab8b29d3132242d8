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
    # four at once: at most two wait in the queue (one more may already be on the wire if
    # the bridge read the first before the others arrived), the rest are refused at once
    for i in range(4):
        greedy.send(w.contribute(sid, {"text": "greedy %d" % i}, id="g-%d" % i))
    # the refusals come at once, long before the 1.5 s the server takes per contribute
    refused = greedy.recv(1)
    h.check(refused["error"]["code"] == "rate_limited" and refused["id"] in ("g-2", "g-3"),
            "the request over the quota is refused at once: %r" % refused)
    h.check(refused["error"].get("retry_after_ms", 0) > 0, "retry_after_ms %r" % refused)
    other.send(w.contribute(sid, {"text": "someone else"}, id="o-0"))
    o = other.recv(15)
    h.check(o.get("id") == "o-0" and o.get("ok") is True, "the other client: %r" % o)
    replies = {r["id"]: r for r in [refused] + [greedy.recv(15) for _ in range(3)]}
    for rid in ("g-0", "g-1"):
        h.check(replies[rid].get("ok") is True, "%s: %r" % (rid, replies[rid]))
    h.check(replies["g-3"]["error"]["code"] == "rate_limited", "g-3: %r" % replies["g-3"])
    g2 = replies["g-2"]
    h.check(g2.get("ok") is True or g2["error"]["code"] == "rate_limited", "g-2: %r" % g2)
    oks = 3 + (1 if g2.get("ok") is True else 0)
    h.check(len(w.recorded(sid)) == oks, "recorded %d, ok %d" % (len(w.recorded(sid)), oks))


if __name__ == "__main__":
    h.main(globals())
