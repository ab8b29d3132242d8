#!/usr/bin/python3
"""test_events.py: upstream events reach ZeroMQ subscribers with the contract's topics and
envelopes (bridge-contract.md, "Events"), over ws:// and wss://."""

import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OPENED_KEYS = ["session_id", "short_id", "agent_id", "topic", "domain", "tools_used"]
CLOSED_KEYS = ["session_id", "short_id", "agent_id", "topic", "outcome", "experience_id",
               "experience_short_id"]
CONTRIB_KEYS = ["contribution_id", "session_id", "contributor_agent_id", "contribution_type",
                "content", "created_at"]


def check_data_keys(env, expected):
    keys = h.data_keys(env)
    h.check(keys[:len(expected)] == expected, "data keys/order: %r" % keys)
    h.check(set(keys[len(expected):]) <= {"extra"}, "unexpected data keys: %r" % keys)


class World:
    """A devserver with two agents, A (the bridge's) and B (someone else), and a bridge
    connected as A, with a subscriber to everything. Inbox backfill is off by default so
    every event is a live one (a backfill racing a live push could publish it as "inbox")."""

    def __init__(self, ctx, tls=False, bridge_extra=(), backfill=False, dev_extra=()):
        bridge_extra = list(bridge_extra) + ([] if backfill else ["--no-backfill"])
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b}, tls=tls,
                                  extra=dev_extra)
        if tls:
            self.bridge = ctx.bridge(self.dev.wss_url, self.key_a, key_file=True,
                                     ca_file=self.dev.cert, extra=bridge_extra)
        else:
            self.bridge = ctx.bridge(self.dev.ws_url, self.key_a, extra=bridge_extra)
        self.all = self.bridge.sub([""])
        st = h.await_status(self.all, "connected", 15)
        h.check(st["data"]["agent_id"] == self.a, "status agent_id %r" % st["data"])
        self.run = st["run"]
        self.status_seq = st["seq"]  # a later bridge.status of this seq is the repeat

    def next_event(self, topic, timeout=10):
        """The next non-bridge event on the all-subscriber; it must have this topic."""
        (t, env), _ = self.all.recv_until(lambda t, e: not t.startswith("bridge."),
                                          timeout, topic)
        h.check(t == topic, "topic %r, expected %r" % (t, topic))
        return env


def events_scenario(ctx, tls):
    w = World(ctx, tls=tls)
    dev = w.dev
    sessions_sub = w.bridge.sub(["session."])
    s_a1, _ = dev.open_session(w.a, "my first", domain="rust")
    s_a2, _ = dev.open_session(w.a, "my second", domain="go")
    contrib1_sub = w.bridge.sub(["contribution.received." + s_a1])

    # 1. a contribution to A's other session (only the all-subscriber wants it)
    c2 = dev.contribute(s_a2, w.b, {"text": "for session two"}, "warning")
    env = w.next_event("contribution.received." + s_a2)
    h.check_envelope(env, "contribution.received", run=w.run, agent_id=w.a)
    h.check(env["id"] == "contribution:" + c2["id"], "id %r" % env["id"])
    check_data_keys(env, CONTRIB_KEYS)
    d = env["data"]
    h.check(d["contribution_id"] == c2["id"] and d["session_id"] == s_a2
            and d["contributor_agent_id"] == w.b and d["contribution_type"] == "warning"
            and d["content"] == {"text": "for session two"}
            and d["created_at"] == c2["created_at"], "contribution data %r" % d)
    first_seq = env["seq"]

    # 2. an upstream type the bridge does not know, passed through
    dev.send(w.a, text=json.dumps({"type": "shiny_new", "data": {"x": 1, "y": [True]}}))
    env = w.next_event("upstream.shiny_new")
    h.check_envelope(env, "upstream.shiny_new", run=w.run, agent_id=w.a)
    h.check(env["id"] is None, "upstream id must be null: %r" % env["id"])
    h.check(env["data"] == {"x": 1, "y": [True]}, "upstream data %r" % env["data"])
    dev.send(w.a, text=json.dumps({"type": "Odd Type!", "alpha": "a", "n": 2}))
    env = w.next_event("upstream.odd_type_")
    h.check(env["type"] == "upstream.odd_type_", "type %r" % env["type"])
    h.check(env["data"] == {"alpha": "a", "n": 2}, "upstream data w/o data %r" % env["data"])

    # 3. B opens a session with a domain that needs cleaning
    s_b, short_b = dev.open_session(w.b, "Fixing CSS", domain="Web Dev!",
                                    tools_used=["vim", "curl"])
    env = w.next_event("session.opened.web_dev_")
    h.check_envelope(env, "session.opened", run=w.run, agent_id=w.a)
    h.check(env["id"] == "session.opened:" + s_b, "id %r" % env["id"])
    check_data_keys(env, OPENED_KEYS)
    d = env["data"]
    h.check(d["session_id"] == s_b and d["short_id"] == short_b and d["agent_id"] == w.b
            and d["topic"] == "Fixing CSS" and d["domain"] == "Web Dev!"
            and d["tools_used"] == ["vim", "curl"], "opened data %r" % d)

    # 4. B opens a session with a null domain
    s_b2, _ = dev.open_session(w.b, "no domain", domain=None)
    env = w.next_event("session.opened.none")
    h.check(env["data"]["domain"] is None and env["data"]["tools_used"] == [],
            "opened(null domain) data %r" % env["data"])

    # 5. a contribution to A's first session
    c1 = dev.contribute(s_a1, w.b, {"text": "hello", "steps": [1, 2]})
    env = w.next_event("contribution.received." + s_a1)
    h.check(env["data"]["content"] == {"text": "hello", "steps": [1, 2]}, "content")
    h.check(env["data"]["contribution_type"] == "suggestion", "default type")

    # 6. B closes its sessions: with an outcome and an experience, then without an outcome
    dev.close_session(s_b, outcome="success", experience=True)
    env = w.next_event("session.closed.success")
    h.check_envelope(env, "session.closed", run=w.run, agent_id=w.a)
    h.check(env["id"] == "session.closed:" + s_b, "id %r" % env["id"])
    check_data_keys(env, CLOSED_KEYS)
    d = env["data"]
    h.check(d["session_id"] == s_b and d["outcome"] == "success" and d["agent_id"] == w.b
            and isinstance(d["experience_id"], str)
            and isinstance(d["experience_short_id"], str), "closed data %r" % d)
    dev.close_session(s_b2)
    env = w.next_event("session.closed.none")
    h.check(env["data"]["outcome"] is None and env["data"]["experience_id"] is None,
            "closed(null) data %r" % env["data"])
    last_seq = env["seq"]
    h.check(last_seq - first_seq == 7, "8 events must take 8 seqs: %d..%d" %
            (first_seq, last_seq))

    # prefix filtering: "session." saw exactly the four session events, in order
    got = []
    while len(got) < 4:
        (t, env), _ = sessions_sub.recv_until(lambda t, e: t != "bridge.status", 5, "session")
        got.append(t)
    h.check(got == ["session.opened.web_dev_", "session.opened.none", "session.closed.success",
                    "session.closed.none"], "session. subscriber got %r" % got)
    rest = [t for t, _ in sessions_sub.drain(0.3) if t != "bridge.status"]
    h.check(rest == [], "session. subscriber got extra %r" % rest)
    # "contribution.received.<S1>" saw only S1's contribution
    (t, env), skipped = contrib1_sub.recv_until(lambda t, e: t != "bridge.status", 5, "contrib")
    h.check(t == "contribution.received." + s_a1, "contribution sub got %r" % t)
    h.check(env["data"]["contribution_id"] == c1["id"], "contribution sub data")
    rest = [t for t, _ in contrib1_sub.drain(0.3) if t != "bridge.status"]
    h.check(rest == [], "contribution sub got extra %r" % rest)


def test_events_over_ws(ctx):
    events_scenario(ctx, tls=False)


def test_events_over_wss(ctx):
    events_scenario(ctx, tls=True)


def test_seq_has_no_gaps_and_run_is_constant(ctx):
    w = World(ctx)
    dev = w.dev
    sid, _ = dev.open_session(w.a, "mine", domain="x")
    seen = []
    for i in range(10):
        dev.contribute(sid, w.b, {"text": "n%d" % i})
        if i % 3 == 0:
            s, _ = dev.open_session(w.b, "s%d" % i, domain="d%d" % i)
            dev.close_session(s, outcome="partial")
        if i % 4 == 0:
            dev.send(w.a, text=json.dumps({"type": "tick", "data": {"i": i}}))
    expected = 10 + 4 * 2 + 3
    last = None
    while len(seen) < expected:
        t, env = w.all.recv(10)
        if t == "bridge.status" and last is not None and env["seq"] <= last:
            continue  # a cached status re-sent to another subscriber
        if last is not None:
            h.check(env["seq"] == last + 1, "seq gap: %d after %d (%s)" % (env["seq"], last, t))
        h.check(env["run"] == w.run, "run changed")
        last = env["seq"]
        if not t.startswith("bridge."):
            seen.append(t)
    h.check(seen.count("contribution.received." + sid) == 10, "contributions %r" % seen)


def test_same_id_is_published_once(ctx):
    w = World(ctx)
    dev = w.dev
    sid, _ = dev.open_session(w.a, "dedup", domain="x")
    c = dev.contribute(sid, w.b, {"text": "original"})
    env = w.next_event("contribution.received." + sid)
    h.check(env["id"] == "contribution:" + c["id"], "id")
    # The same contribution again as raw frames (twice), then a fresh one as a marker.
    frame = json.dumps({"type": "contribution_received", "data": c})
    dev.send(w.a, text=frame)
    dev.send(w.a, text=frame)
    fresh = dict(c, id=str(uuid.uuid4()))
    dev.send(w.a, text=json.dumps({"type": "contribution_received", "data": fresh}))
    dev.send(w.a, text=json.dumps({"type": "contribution_received", "data": fresh}))
    dev.send(w.a, text=json.dumps({"type": "marker"}))
    (_, _), skipped = w.all.recv_until(lambda t, e: t == "upstream.marker", 10, "marker")
    ids = [e["id"] for t, e in skipped if not t.startswith("bridge.")]
    h.check(ids == ["contribution:" + fresh["id"]], "published ids %r" % ids)
    # The same session event twice is one event too.
    s, _ = dev.open_session(w.b, "twice", domain="y")
    env = w.next_event("session.opened.y")
    dev.send(w.a, text=json.dumps({"type": "session_opened", "data": env["data"]}))
    dev.send(w.a, text=json.dumps({"type": "marker"}))
    (_, _), skipped = w.all.recv_until(lambda t, e: t == "upstream.marker", 10, "marker")
    h.check([t for t, e in skipped if not t.startswith("bridge.")] == [],
            "repeated session_opened published: %r" % skipped)


def test_status_envelope_shape(ctx):
    w = World(ctx)
    s = w.bridge.sub(["bridge.status"], sync=False)
    env = h.await_status(s, "connected", 5)
    h.check_envelope(env, "bridge.status", run=w.run, agent_id=w.a, source="bridge")
    h.check(env["id"] is None, "status id %r" % env["id"])
    for k in ("state", "agent_id", "since", "attempt", "next_retry_ms", "last_close_code",
              "last_error"):
        h.check(k in env["data"], "bridge.status data lacks %s: %r" % (k, env["data"]))
    h.check(env["data"]["agent_id"] == w.a, "status agent_id")


if __name__ == "__main__":
    h.main(globals())
