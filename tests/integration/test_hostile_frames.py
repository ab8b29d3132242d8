#!/usr/bin/python3
"""test_hostile_frames.py: upstream frames that cannot be normalized are logged (shortened)
and skipped; the bridge stays up and connected, and its seq stays continuous."""

import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_events import World  # noqa: E402

MIB = 1 << 20
MAX_LOG_LINE = 8192

# (name, /_dev/send arguments) for frames the bridge must refuse.
HOSTILE = [
    ("not JSON", {"text": "this is {not json"}),
    ("empty text", {"text": ""}),
    ("binary frame", {"binary_hex": "00ff7b2274797065223a2278227d"}),
    ("invalid UTF-8 (binary)", {"binary_hex": "7b2274797065223a22c3282fff227d"}),
    ("lone surrogate escape", {"text": r'{"type":"session_opened","data":{"session_id":"\udc80"}}'}),
    ("JSON array", {"text": "[1,2,3]"}),
    ("JSON string", {"text": '"session_opened"'}),
    ("missing type", {"text": '{"data":{"session_id":"s"}}'}),
    ("type is a number", {"text": '{"type":42,"data":{}}'}),
    ("number where string belongs", {"text": json.dumps(
        {"type": "session_opened", "data": {"session_id": 12345, "topic": "t"}})}),
    ("session without session_id", {"text": json.dumps(
        {"type": "session_closed", "data": {"topic": "t"}})}),
    ("contribution content not an object", {"text": json.dumps(
        {"type": "contribution_received", "data": {"id": "c1", "content": 7}})}),
    ("1 MiB string in a refused frame", {"text": json.dumps(
        {"type": "session_opened", "data": {"session_id": 5, "topic": "A" * MIB}})}),
    ("100k-deep nesting", {"text": "[" * 100000 + "]" * 100000}),
    ("100k-deep nesting in data", {"text": '{"type":"session_opened","data":' +
                                   '{"a":' * 100000 + "1" + "}" * 100000 + "}"}),
    ("trailing garbage", {"text": '{"type":"session_opened","data":{"session_id":"s"}} x'}),
]


def good_marker(w, i):
    w.dev.send(w.a, text=json.dumps({"type": "marker_%d" % i, "data": {"i": i}}))
    return "upstream.marker_%d" % i


def test_hostile_frames_are_skipped_and_bridge_stays_up(ctx):
    w = World(ctx)
    last = None
    for i, (name, args) in enumerate(HOSTILE):
        w.dev.send(w.a, **args)
        topic = good_marker(w, i)
        (t, env), skipped = w.all.recv_until(lambda t, e: t.startswith("upstream.marker_"),
                                             15, "marker after %s" % name)
        h.check(t == topic, "after %s: got %r, expected %r" % (name, t, topic))
        # the all-subscriber's own bridge.status repeat (same seq, contract) may come late
        skipped = [(x, e) for x, e in skipped
                   if not (x == "bridge.status" and e["seq"] == w.status_seq)]
        h.check(skipped == [], "after %s: published %r" % (name, [x for x, _ in skipped]))
        if last is not None:
            h.check(env["seq"] == last + 1, "after %s: seq %d follows %d" %
                    (name, env["seq"], last))
        last = env["seq"]
        h.check(w.bridge.alive(), "bridge died on %s" % name)
    # Still the same single connection: no reconnect was needed.
    st = w.dev.state()
    h.check(st["connects_total"] == 1, "bridge reconnected: %r" % st["connects_total"])
    h.check(len(w.dev.connections(w.a)) == 1, "bridge connection gone")
    # Each refusal was logged, shortened: stderr stays small, no line is huge.
    err = w.bridge.stderr()
    longest = max((len(x) for x in err.splitlines()), default=0)
    h.check(longest < MAX_LOG_LINE, "a log line of %d bytes" % longest)
    h.check(len(err) < 256 * 1024, "stderr grew to %d bytes" % len(err))
    h.check("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" * 100
            not in err, "the 1 MiB field was logged")


def test_big_valid_contribution_is_delivered_intact(ctx):
    w = World(ctx)
    sid, _ = w.dev.open_session(w.a, "big", domain="x")
    cid = str(uuid.uuid4())
    text = "\u00e9" * (MIB // 2)  # 1 MiB of UTF-8
    frame = {"type": "contribution_received",
             "data": {"id": cid, "session_id": sid, "contributor_agent_id": w.b,
                      "content": {"text": text}, "contribution_type": "reference",
                      "created_at": "2026-01-01T00:00:00Z"}}
    w.dev.send(w.a, text=json.dumps(frame))
    env = w.next_event("contribution.received." + sid, 20)
    h.check(env["data"]["content"]["text"] == text, "content changed")
    h.check(env["id"] == "contribution:" + cid, "id")
    err = w.bridge.stderr()
    longest = max((len(x) for x in err.splitlines()), default=0)
    h.check(longest < MAX_LOG_LINE, "a log line of %d bytes" % longest)


def test_unknown_fields_are_kept_under_extra(ctx):
    w = World(ctx)
    frame = {"type": "session_opened", "hint": "h",
             "data": {"session_id": "sess-extra-1", "short_id": "abcd1234", "agent_id": w.b,
                      "topic": "t", "domain": "Dom", "tools_used": [], "mood": "happy"}}
    w.dev.send(w.a, text=json.dumps(frame))
    env = w.next_event("session.opened.dom")
    d = env["data"]
    h.check(d.get("extra", {}).get("mood") == "happy", "data.extra %r" % d)
    h.check(d["extra"].get("frame", {}).get("hint") == "h", "data.extra.frame %r" % d)


if __name__ == "__main__":
    h.main(globals())
