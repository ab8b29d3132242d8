#!/usr/bin/python3
"""test_recovery.py: gap recovery through the inbox (bridge-contract.md, "Gap recovery";
README "Behaviour you can rely on"): contributions made while the bridge is away are
published once with source "inbox", then a bridge.recovery event; contributions arriving
live while a recovery runs are neither lost nor doubled; --no-backfill, --inbox-mark-read,
the one-page limit ("partial"), and an unreachable REST base that must not block live events.
Real devserver, real bridge, real ZeroMQ sockets."""

import collections
import json
import os
import socket
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import request  # noqa: E402

FAST = ["--backoff-base-ms", "50", "--backoff-cap-ms", "500"]


class Collector:
    """Keeps everything an all-subscriber receives, so waits never lose what they skip."""

    def __init__(self, sub):
        self.sub = sub
        self.events = []  # (topic, envelope) in arrival order
        self.status_seqs = set()  # of bridge.status events kept

    def pump(self, timeout=0.05):
        m = self.sub.try_recv(timeout)
        while m is not None:
            self.take(*m)
            m = self.sub.try_recv(0)

    def take(self, topic, env):
        """Keeps an event, but not a last-value-cache copy of a bridge.status: whenever a
        subscription to it arrives, the bridge re-sends its cached status (same seq) to every
        subscriber of it, so a copy can come after the live status, even after a mark(),
        where an old "connected" would pass for a new one."""
        if topic == "bridge.status":
            if env["seq"] in self.status_seqs:
                return
            self.status_seqs.add(env["seq"])
        self.events.append((topic, env))

    def mark(self):
        """The index from which later waits look: what is already queued is taken in first,
        so an old status still in the socket cannot pass for one that follows the mark."""
        self.pump(0)
        return len(self.events)

    def wait(self, pred, timeout, what, since=0):
        """The first (topic, env) at or after index `since` with pred(topic, env)."""
        end = time.monotonic() + h.scaled(timeout)
        i = since
        while True:
            while i < len(self.events):
                if pred(*self.events[i]):
                    return self.events[i]
                i += 1
            if time.monotonic() >= end:
                raise h.Timeout("timed out after %.1fs waiting for %s (last topics %r)" % (
                    h.scaled(timeout), what, [t for t, _ in self.events[-10:]]))
            self.pump(0.05)

    def wait_state(self, state, timeout, since=0):
        return self.wait(lambda t, e: t == "bridge.status" and e["data"]["state"] == state,
                         timeout, "bridge.status %s" % state, since)[1]

    def wait_not_connected(self, timeout, since=0):
        return self.wait(lambda t, e: t == "bridge.status" and e["data"]["state"] !=
                         "connected", timeout, "bridge.status other than connected", since)[1]

    def contributions(self):
        """{envelope id: [source, ...]} over every contribution.received published."""
        out = collections.defaultdict(list)
        for t, e in self.events:
            if t.startswith("contribution.received."):
                out[e["id"]].append(e["source"])
        return out

    def recoveries(self, since=0):
        return [e for t, e in self.events[since:] if t == "bridge.recovery"]


class RWorld:
    """A devserver with the bridge's agent A and another agent B; a bridge (inbox backfill on
    unless told otherwise) connected as A with a collecting all-subscriber; a session owned
    by A that B contributes to."""

    def __init__(self, ctx, bridge_extra=(), dev_extra=()):
        self.ctx = ctx
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b}, extra=dev_extra)
        self.bridge = ctx.bridge(self.dev.ws_url, self.key_a, extra=FAST + list(bridge_extra))
        self.col = Collector(self.bridge.sub([""]))
        st = self.col.wait_state("connected", 15)
        self.run = st["run"]
        if "--no-backfill" not in bridge_extra and "--rest-url" not in bridge_extra:
            # the first connect's own (empty) recovery must be over before a scenario
            # starts, or a slow run (valgrind) takes it for the one the scenario causes;
            # asked through status: its bridge.recovery event may predate the subscriber
            h.wait_until(lambda: self.status().get("inbox", {}).get("recoveries", 0) >= 1,
                         15, "the first recovery")
        self.sid, _ = self.dev.open_session(self.a, "recovery", domain="testing")

    def status(self, timeout=5.0):
        return request(self.ctx, self.bridge.commands, {"cmd": "status"}, timeout)

    def go_away(self):
        """Refuse new connections and drop the bridge's: it is in back-off on return."""
        m = self.col.mark()
        self.dev.call("POST", "refuse", {"ms": 600000})
        self.dev.close_conn(1011, agent_id=self.a, reason="going away")
        self.col.wait_not_connected(10, since=m)

    def come_back(self, timeout=15):
        """Accept connections again; returns the index where the reconnect began."""
        m = self.col.mark()
        self.dev.call("POST", "refuse", {"ms": 0})
        self.col.wait_state("connected", timeout, since=m)
        return m

    def contribute_many(self, n, tag):
        return [self.dev.contribute(self.sid, self.b, {"text": "%s %d" % (tag, i)})["id"]
                for i in range(n)]

    def wait_recovery(self, since, timeout=20):
        return self.col.wait(lambda t, e: t == "bridge.recovery", timeout, "bridge.recovery",
                             since)[1]

    def wait_ids(self, ids, timeout=20):
        want = {"contribution:" + i for i in ids}

        def all_seen():
            self.col.pump(0.05)
            return want <= set(self.col.contributions())
        try:
            h.wait_until(all_seen, timeout, "%d contributions published" % len(want))
        except h.Timeout:
            missing = want - set(self.col.contributions())
            raise h.TestFailure("%d of %d contributions never published, e.g. %r" % (
                len(missing), len(want), sorted(missing)[:3]))

    def quiet(self, seconds=0.5):
        """Collect until `seconds` pass with nothing new (to see late duplicates)."""
        while True:
            n = self.col.mark()
            self.col.pump(seconds)
            if self.col.mark() == n:
                return

    def inbox(self):
        url = "http://127.0.0.1:%d/api/v1/pulse/inbox?limit=100" % self.dev.port
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.key_a})
        with urllib.request.urlopen(req, timeout=h.scaled(10)) as r:
            return json.loads(r.read())


def check_once(w, ids, source=None):
    """Each id was published exactly once (with this source when given)."""
    pub = w.col.contributions()
    for i in ids:
        got = pub.get("contribution:" + i, [])
        h.check(len(got) == 1, "contribution %s published %d times (%r)" % (i, len(got), got))
        if source:
            h.check(got[0] == source, "contribution %s source %r, expected %r" %
                    (i, got[0], source))
    doubled = {k: v for k, v in pub.items() if len(v) != 1}
    h.check(not doubled, "contributions published more than once: %r" %
            list(doubled.items())[:3])


def test_contributions_made_while_away_are_published_once_from_the_inbox(ctx):
    w = RWorld(ctx)
    w.go_away()
    ids = w.contribute_many(7, "while away")
    since = w.come_back()
    rec = w.wait_recovery(since)
    w.wait_ids(ids)
    d = rec["data"]
    h.check(rec["source"] == "bridge" and rec["id"] is None, "recovery envelope %r" % rec)
    h.check(d["result"] == "complete" and d["reason"] is None, "recovery %r" % d)
    h.check(d["contributions"] == 7, "recovery counted %r contributions, 7 made" % d)
    h.check(isinstance(d["sessions"], int), "recovery sessions %r" % d)
    w.quiet()
    check_once(w, ids, source="inbox")
    # recovered events precede the recovery event that counts them
    order = [e["id"] for t, e in w.col.events[since:] if t.startswith("contribution.")
             or t == "bridge.recovery"]
    h.check(order.index(None) == 7, "bridge.recovery came before its events: %r" % order)
    st = w.status()
    h.check(st["state"] == "connected", "status %r" % st["state"])
    h.check(st["counters"]["events_in_inbox"]["contribution.received"] >= 7,
            "inbox counter %r" % st["counters"]["events_in_inbox"])


def test_live_contributions_during_recovery_are_neither_lost_nor_doubled(ctx):
    w = RWorld(ctx)
    w.go_away()
    away = w.contribute_many(30, "away")
    live, errors = [], []

    def keep_contributing():
        try:
            for i in range(60):
                live.append(w.dev.contribute(w.sid, w.b, {"text": "racing %d" % i})["id"])
        except Exception as e:  # reported below: a thread cannot raise into the test
            errors.append(repr(e))
    t = threading.Thread(target=keep_contributing)
    t.start()
    since = w.come_back()
    # and a burst of emitted contributions on the new connection while recovery runs
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": 300, "rate": 0})
    t.join(h.scaled(60))
    h.check(not t.is_alive() and not errors, "contributing thread: %r" % errors)
    w.wait_recovery(since)
    w.wait_ids(away + live)

    def emitted_all():
        w.col.pump(0.05)
        return len([k for k in w.col.contributions()
                    if k[len("contribution:"):] not in set(away + live)]) >= 300
    h.wait_until(emitted_all, 30, "300 emitted contributions")
    w.quiet()
    check_once(w, away + live)
    check_once(w, [])  # the emitted ones too: no id twice
    others = [k for k in w.col.contributions() if k[len("contribution:"):] not in
              set(away + live)]
    h.check(len(others) == 300, "%d emitted contributions published, 300 emitted" %
            len(others))
    srcs = collections.Counter(v[0] for v in w.col.contributions().values())
    print("    sources: %r" % dict(srcs))
    h.check(all(w.col.contributions()["contribution:" + i] == ["inbox"] for i in away),
            "a contribution made while away was not published from the inbox")


def test_no_backfill_publishes_nothing_from_the_inbox(ctx):
    w = RWorld(ctx, bridge_extra=["--no-backfill"])
    w.go_away()
    ids = w.contribute_many(3, "away")
    w.come_back()
    # a live contribution and a marker after the reconnect: everything before them is in
    c = w.dev.contribute(w.sid, w.b, {"text": "live after"})["id"]
    w.wait_ids([c])
    w.dev.send(w.a, text=json.dumps({"type": "marker"}))
    w.col.wait(lambda t, e: t == "upstream.marker", 10, "marker")
    pub = w.col.contributions()
    h.check(not any("inbox" in v for v in pub.values()), "inbox events with --no-backfill")
    h.check(not w.col.recoveries(), "bridge.recovery with --no-backfill: %r" %
            w.col.recoveries())
    h.check(not any("contribution:" + i in pub for i in ids),
            "contributions made while away were published with --no-backfill")
    inbox = w.status().get("inbox")
    h.check(inbox is None or inbox.get("recoveries", 0) == 0, "status inbox %r" % inbox)
    # the server still holds them unread: nobody read the inbox for us
    h.check(w.inbox().get("unread_count", 0) >= 3, "inbox was touched: %r" % w.inbox())


def test_inbox_mark_read_leaves_no_unread_contributions(ctx):
    w = RWorld(ctx, bridge_extra=["--inbox-mark-read"])
    w.go_away()
    ids = w.contribute_many(12, "away")
    since = w.come_back()
    d = w.wait_recovery(since)["data"]
    w.wait_ids(ids)
    h.check(d["result"] == "complete" and d["contributions"] == 12, "recovery %r" % d)

    def unread_gone():
        box = w.inbox()
        unread = [e for e in box["events"] if e.get("event_type") == "contribution_received"
                  and not e.get("is_read")]
        return box.get("unread_count", 0) == 0 and not unread
    h.wait_until(unread_gone, 10, "no unread contribution in the inbox after mark-read")
    w.quiet()
    check_once(w, ids, source="inbox")


def test_more_than_a_page_without_mark_read_is_partial_with_a_reason(ctx):
    w = RWorld(ctx)
    w.go_away()
    ids = w.contribute_many(130, "away")
    since = w.come_back()
    d = w.wait_recovery(since, timeout=30)["data"]
    h.check(d["result"] == "partial", "recovery of 130 unread without mark-read: %r" % d)
    h.check(isinstance(d["reason"], str) and d["reason"], "partial without a reason: %r" % d)
    h.check(d["contributions"] == 100, "one page is 100, recovered %r" % d["contributions"])
    w.quiet()
    pub = w.col.contributions()
    got = [i for i in ids if "contribution:" + i in pub]
    h.check(got == ids[:100], "the recovered page is not the 100 oldest (%d recovered)" %
            len(got))
    check_once(w, got, source="inbox")
    h.check(w.status()["inbox"]["last_result"] == "partial", "status inbox %r" %
            w.status()["inbox"])


def test_mark_read_recovers_250_unread_completely(ctx):
    w = RWorld(ctx, bridge_extra=["--inbox-mark-read"])
    w.go_away()
    ids = w.contribute_many(250, "away")
    since = w.come_back()
    d = w.wait_recovery(since, timeout=60)["data"]
    w.wait_ids(ids, timeout=30)
    h.check(d["result"] == "complete" and d["reason"] is None, "recovery %r" % d)
    h.check(d["contributions"] == 250, "recovery counted %r, 250 made" % d["contributions"])
    w.quiet()
    check_once(w, ids, source="inbox")
    h.check(len(w.col.recoveries(since)) == 1, "recoveries %r" % w.col.recoveries(since))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_inbox_failure_does_not_block_live_events(ctx):
    rest = "http://127.0.0.1:%d/api/v1" % closed_port()
    w = RWorld(ctx, bridge_extra=["--rest-url", rest])
    c = w.dev.contribute(w.sid, w.b, {"text": "live while the inbox fails"})["id"]
    w.wait_ids([c])
    h.check(w.col.contributions()["contribution:" + c] == ["live"], "source")

    def failures():
        inbox = w.status().get("inbox") or {}
        return inbox if inbox.get("failures", 0) >= 1 else None
    inbox = h.wait_until(failures, 10, "status inbox.failures >= 1")
    h.check(inbox.get("last_error"), "no last_error in status inbox %r" % inbox)
    h.check(inbox.get("last_result") != "complete", "status inbox %r" % inbox)
    h.check(not [r for r in w.col.recoveries() if r["data"]["result"] == "complete"],
            "a complete recovery without an inbox: %r" % w.col.recoveries())
    # more live events keep flowing while the inbox retries
    more = w.contribute_many(20, "live")
    w.wait_ids(more)
    w.quiet(0.3)
    check_once(w, more + [c], source="live")
    h.check(w.status()["state"] == "connected", "not connected")


if __name__ == "__main__":
    h.main(globals())
