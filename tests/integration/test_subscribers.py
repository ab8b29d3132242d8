#!/usr/bin/python3
"""test_subscribers.py: slow and late subscribers (bridge-contract.md "Events", README
"Guarantees"; issue 4.3): a subscriber that stops reading slows neither the upstream nor
another subscriber, the status command keeps answering during a flood, what a full
subscriber misses is counted in status, and a late or overrun subscriber fills its seq gap
with the replay command."""

import json
import os
import re
import sys
import threading
import time
import uuid

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import CmdClient, request  # noqa: E402

FLOOD = int(os.environ.get("PP_FLOOD_EVENTS", "200000"))
# Under valgrind, which runs one thread at a time, the bridge's main thread can read and
# publish a whole upstream burst while ZeroMQ's I/O thread waits its turn, so the reading
# subscriber falls behind by thousands too and overflows as well (seen: 2 overflows, the
# reader short). There the flood is paced and sized down, with the stuck subscriber's
# queue, so that it still overflows exactly once while the reader keeps up.
VALGRIND_FLOOD, VALGRIND_RATE, VALGRIND_HWM = 20000, 1000, 5000
SEQ_RE = re.compile(rb'"seq":(\d+)')


class SWorld:
    def __init__(self, ctx, bridge_extra=()):
        self.ctx = ctx
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b})
        self.bridge = ctx.bridge(self.dev.ws_url, self.key_a,
                                 extra=["--no-backfill"] + list(bridge_extra))
        s = self.bridge.sub(["bridge.status"], sync=False)
        h.await_status(s, "connected", 15)
        s.close()

    def status(self, timeout=5.0):
        return request(self.ctx, self.bridge.commands, {"cmd": "status"}, timeout)


def stuck_subscriber(ctx, endpoint):
    """A SUB with tiny buffers that reads the one cached bridge.status (so its subscription
    is known to be active) and then never reads again."""
    s = ctx.zctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 10)
    s.setsockopt(zmq.RCVBUF, 4096)
    s.connect(endpoint)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    h.check(s.poll(int(h.scaled(10) * 1000), zmq.POLLIN), "stuck subscriber never subscribed")
    s.recv_multipart()
    return s


def reading_subscriber(ctx, endpoint):
    """A SUB reading everything as fast as it can; synced on the cached bridge.status."""
    s = ctx.zctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.RCVBUF, 4 << 20)
    s.connect(endpoint)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    h.check(s.poll(int(h.scaled(10) * 1000), zmq.POLLIN), "reader never subscribed")
    topic, body = s.recv_multipart()
    h.check(topic == b"bridge.status", "first message %r" % topic)
    return s, json.loads(body)["seq"]


def test_stuck_subscriber_holds_the_bridge_once_and_then_misses_alone(ctx):
    flood, rate, extra = (VALGRIND_FLOOD, VALGRIND_RATE, ["--pub-hwm", str(VALGRIND_HWM)]
                          ) if h.VALGRIND else (FLOOD, 0, [])
    w = SWorld(ctx, bridge_extra=extra)
    stuck = stuck_subscriber(ctx, w.bridge.events)
    reader, _ = reading_subscriber(ctx, w.bridge.events)
    latencies, errors, done = [], [], threading.Event()

    def ask_status():
        """Its own thread and socket, so the reader's work does not delay the timing."""
        c = CmdClient(ctx, w.bridge.commands)
        try:
            while not done.is_set():
                t = time.monotonic()
                r = c.call({"cmd": "status"}, timeout=10)
                latencies.append(time.monotonic() - t)
                if r.get("ok") is not True:
                    errors.append(r)
                done.wait(0.05)  # a request every ~50 ms, not a busy loop
        except Exception as e:  # reported by the test: a thread cannot raise into it
            errors.append(repr(e))
        finally:
            c.close()

    w.dev.call("POST", "emit", {"agent_id": w.a, "count": flood, "rate": rate})
    t0 = time.monotonic()
    asker = threading.Thread(target=ask_status)
    asker.start()
    got, gaps, last_seq, repeats = 0, 0, None, 0
    end = t0 + h.scaled(120)
    t_last = None
    try:
        while got < flood and time.monotonic() < end:
            if not reader.poll(200, zmq.POLLIN):
                continue
            for _ in range(2000):
                try:
                    topic, body = reader.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                seq = int(SEQ_RE.search(body).group(1))
                if last_seq is not None and seq != last_seq + 1:
                    if seq == last_seq and topic == b"bridge.status":
                        repeats += 1
                    else:
                        gaps += 1
                last_seq = max(seq, last_seq or 0)
                if topic.startswith(b"contribution.received."):
                    got += 1
                    t_last = time.monotonic()
    finally:
        done.set()
        asker.join(h.scaled(15))
    dt = (t_last or time.monotonic()) - t0
    st = w.dev.state()
    bst = w.status()
    print("    reader got %d/%d events in %.2fs (%.0f/s), seq gaps %d; status answered %d "
          "times during the flood, max %.1f ms, median %.1f ms; devserver emitted %d" % (
              got, flood, dt, got / max(dt, 1e-9), gaps, len(latencies),
              1000 * max(latencies or [0]), 1000 * sorted(latencies or [0])[len(latencies) // 2],
              st["emitted"]))
    h.check(got == flood, "the reading subscriber got %d of %d events" % (got, flood))
    h.check(gaps == 0, "%d seq gaps at the reading subscriber" % gaps)
    h.check(not errors, "status during the flood: %r" % errors[:3])
    h.check(len(latencies) >= 5, "only %d status replies during the flood" % len(latencies))
    median = sorted(latencies)[len(latencies) // 2]
    # generous bounds: the machine is shared and the reader competes for the same cores
    h.check(median < h.scaled(0.25) and max(latencies) < h.scaled(2.0),
            "status during the flood: median %.0f ms, max %.0f ms" % (
                1000 * median, 1000 * max(latencies)))
    h.check(st["connects_total"] == 1 and bst["state"] == "connected",
            "the upstream connection did not survive the flood")
    h.check(bst["counters"]["events_in_live"]["contribution.received"] == flood,
            "the bridge read %r of %d upstream events" % (
                bst["counters"]["events_in_live"]["contribution.received"], flood))
    h.check(stuck.poll(0, zmq.POLLIN), "the stuck subscriber got nothing at all")
    # it never reads again: it held the bridge for --pub-stall-ms, then its queue overflowed,
    # exactly once (the reader had no gap)
    h.check(bst["counters"]["subscriber_holds"] >= 1, "no hold counted for a full queue")
    h.check(bst["counters"]["subscriber_overflows"] == 1, "status counts %r overflows for one "
            "stuck subscriber" % bst["counters"]["subscriber_overflows"])
    stuck.close(0)
    reader.close(0)


def test_a_hold_ends_inside_a_short_keepalive(ctx):
    # A held bridge reads nothing upstream, so its keep-alive hears nothing either: a hold
    # as long as two ping intervals would make the bridge declare its own healthy
    # connection dead and reconnect. The 5 s stall asked for here is cut to half the ping
    # interval (300 ms), so the stuck subscriber overflows and the connection stays up.
    flood, rate, extra = (8000, VALGRIND_RATE, ["--pub-hwm", str(VALGRIND_HWM)]
                          ) if h.VALGRIND else (5000, 0, [])
    w = SWorld(ctx, bridge_extra=["--ping-interval-ms", "600", "--pub-stall-ms", "5000"] + extra)
    stuck = stuck_subscriber(ctx, w.bridge.events)
    reader, _ = reading_subscriber(ctx, w.bridge.events)
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": flood, "rate": rate})
    got, end = 0, time.monotonic() + h.scaled(60)
    while got < flood and time.monotonic() < end:
        if not reader.poll(200, zmq.POLLIN):
            continue
        topic, _ = reader.recv_multipart()
        got += topic.startswith(b"contribution.received.")
    bst, st = w.status(), w.dev.state()
    print("    reader got %d/%d; holds %d, overflows %d; upstream connects %d" % (
        got, flood, bst["counters"]["subscriber_holds"], bst["counters"]["subscriber_overflows"],
        st["connects_total"]))
    h.check(st["connects_total"] == 1 and bst["state"] == "connected",
            "the bridge dropped its upstream connection while a subscriber held it")
    h.check(got == flood, "the reading subscriber got %d of %d events" % (got, flood))
    h.check(bst["counters"]["subscriber_holds"] >= 1, "no hold counted for a full queue")
    h.check(bst["counters"]["subscriber_overflows"] >= 1, "the stuck subscriber never overflowed")
    stuck.close(0)
    reader.close(0)


def slow_subscriber(ctx, endpoint):
    """A SUB whose own queues are small (RCVHWM 100, a 64 KiB socket buffer), so that when
    its application reads slowly, its ZeroMQ I/O thread stops reading too and the bridge's
    queue for it fills; synced on the cached bridge.status."""
    s = ctx.zctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 100)
    s.setsockopt(zmq.RCVBUF, 65536)
    s.connect(endpoint)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    h.check(s.poll(int(h.scaled(10) * 1000), zmq.POLLIN), "slow reader never subscribed")
    _, body = s.recv_multipart()
    return s, json.loads(body)["seq"]


def vm_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise h.TestFailure("no %s for pid %d" % (field, pid))


def test_slow_subscriber_gets_every_event_and_the_bridge_stays_small(ctx):
    # A reader that takes at most ~20,000 envelopes a second (1,000 under valgrind) from a
    # flood the bridge publishes faster. Without holding, the difference (tens of thousands
    # of ~0.8 KB envelopes) would queue in the bridge's memory, or be dropped at --pub-hwm.
    flood, pause = (3000, 0.1) if h.VALGRIND else (40000, 0.005)
    w = SWorld(ctx)
    reader, first_seq = slow_subscriber(ctx, w.bridge.events)
    rss0 = vm_kb(w.bridge.pid, "VmRSS")
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": flood, "rate": 0})
    got, last_seq, gaps, end = 0, first_seq, 0, time.monotonic() + h.scaled(120)
    while got < flood and time.monotonic() < end:
        if not reader.poll(200, zmq.POLLIN):
            continue
        for _ in range(100):
            try:
                topic, body = reader.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            seq = int(SEQ_RE.search(body).group(1))
            gaps += seq != last_seq + 1 and not (seq == last_seq and topic == b"bridge.status")
            last_seq = max(seq, last_seq)
            got += topic.startswith(b"contribution.received.")
        time.sleep(pause)  # the slowness under test: at most 100 envelopes a pause
    bst = w.status()
    grew = vm_kb(w.bridge.pid, "VmHWM") - rss0
    print("    slow reader got %d/%d events, seq gaps %d; holds %d, overflows %d; bridge peak "
          "RSS %d kB over its start" % (got, flood, gaps, bst["counters"]["subscriber_holds"],
                                        bst["counters"]["subscriber_overflows"], grew))
    h.check(got == flood and gaps == 0, "the slow reader got %d of %d events, %d seq gaps"
            % (got, flood, gaps))
    h.check(bst["counters"]["subscriber_overflows"] == 0, "a subscriber that keeps reading "
            "overflowed %d times" % bst["counters"]["subscriber_overflows"])
    h.check(bst["counters"]["subscriber_holds"] >= 1, "the flood never filled the queue: "
            "the test did not slow the reader enough")
    h.check(bst["state"] == "connected" and w.dev.state()["connects_total"] == 1,
            "the upstream connection did not survive the holds")
    if not h.VALGRIND and not h.sanitized(ctx.build_dir):  # their heaps blur the number
        # 40,000 queued envelopes would be ~32 MB; the default queue is 1,000 (~0.8 MB)
        h.check(grew < 12 * 1024, "the bridge grew by %d kB while the reader lagged" % grew)
    reader.close(0)


def drain_until_marker(w, sub, timeout):
    """Reads sub until an upstream marker event arrives, sending a new marker upstream
    whenever the last one has not come within a second (a full queue drops markers too).
    Returns ({seq: topic} of everything read, the marker's seq, markers sent)."""
    got, sent, deadline = {}, 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        w.dev.send(w.a, text=json.dumps({"type": "drain_marker", "data": {"n": sent}}))
        sent += 1
        wait_until = time.monotonic() + h.scaled(1.0)
        while time.monotonic() < wait_until:
            if not sub.poll(100, zmq.POLLIN):
                continue
            topic, body = sub.recv_multipart()
            seq = int(SEQ_RE.search(body).group(1))
            got[seq] = topic
            if topic.startswith(b"upstream.drain_marker"):
                return got, seq, sent
    raise h.TestFailure("no marker reached the subscriber within %.0fs" % timeout)


def gap_runs(missing):
    """The number of contiguous runs in a sorted list of seqs."""
    return sum(1 for i, m in enumerate(missing) if i == 0 or missing[i - 1] != m - 1)


def test_a_full_subscriber_is_counted_and_replay_fills_its_gap(ctx):
    # --pub-hwm applies to every subscriber: paced at 5,000/s, the reader (with the
    # bridge's socket buffer behind its 200) can fall ~90 ms behind before it would miss any.
    # Valgrind runs the bridge's threads one at a time: a busy publishing thread there can
    # starve ZeroMQ's I/O thread, so events come slower and the queue is larger.
    events, hwm, rate = (3000, 1000, 500) if h.VALGRIND else (5000, 200, 5000)
    w = SWorld(ctx, bridge_extra=["--pub-hwm", str(hwm), "--replay-size", str(2 * events)])
    stuck = stuck_subscriber(ctx, w.bridge.events)
    reader, first_seq = reading_subscriber(ctx, w.bridge.events)
    h.check(w.status()["counters"]["subscriber_overflows"] == 0, "overflows before any event")
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": events, "rate": rate})
    h.wait_until(lambda: w.status()["counters"]["events_in_live"]["contribution.received"]
                 == events, 60, "%d events through the bridge" % events)
    # the stuck subscriber now reads what it kept, then the marker that ends the story
    seen, marker_seq, markers = drain_until_marker(w, stuck, h.scaled(60))
    # the reader, which never fell behind, has every seq up to the marker
    reader_seqs = set()
    while not reader_seqs or max(reader_seqs) < marker_seq:
        h.check(reader.poll(int(h.scaled(10) * 1000), zmq.POLLIN), "the reader stalled")
        _, body = reader.recv_multipart()
        reader_seqs.add(int(SEQ_RE.search(body).group(1)))
    want = set(range(first_seq + 1, marker_seq + 1))
    h.check(want <= reader_seqs, "the reading subscriber missed %d envelopes"
            % len(want - reader_seqs))
    missed = sorted(want - set(seen))
    overflows = w.status()["counters"]["subscriber_overflows"]
    print("    %d events, %d markers: the stuck subscriber (pub-hwm %d) read %d envelopes, "
          "missed %d in %d gap(s); status counts %d overflow(s)" % (
              events, markers, hwm, len(seen), len(missed), gap_runs(missed), overflows))
    h.check(len(missed) > 0, "the stuck subscriber missed nothing: the test did not fill it")
    h.check(overflows == gap_runs(missed), "status counts %d overflows, the stuck subscriber "
            "has %d gaps" % (overflows, gap_runs(missed)))
    # the gap is in the replay ring (sized for the whole run here): the subscriber can make
    # itself whole
    r = replay_all(w, missed[0] - 1)
    replayed = {e["seq"]: e for e in r["events"]}
    h.check(all(m in replayed for m in missed), "replay lacks %d of the missed envelopes"
            % len([m for m in missed if m not in replayed]))
    whole = {s: seen[s] for s in want if s in seen}
    whole.update({s: replayed[s]["type"].encode() for s in missed})
    contribs = sum(1 for t in whole.values() if t.startswith(b"contribution.received"))
    h.check(set(whole) == want and contribs == events, "after replay the stuck subscriber "
            "has %d of %d envelopes, %d of %d contributions" % (len(whole), len(want),
                                                               contribs, events))
    stuck.close(0)
    reader.close(0)

def replay_all(w, after, limit=100000):
    r = request(w.ctx, w.bridge.commands, {"cmd": "replay", "after_seq": after,
                                           "limit": limit}, 15)
    h.check(r.get("ok") is True, "replay reply %r" % str(r)[:300])
    h.check(isinstance(r.get("oldest_seq"), int), "oldest_seq %r" % r.get("oldest_seq"))
    return r


def late_gap_scenario(ctx, ring, events):
    w = SWorld(ctx, bridge_extra=["--replay-size", str(ring)])
    run = w.status()["run"]
    w.dev.call("POST", "emit", {"agent_id": w.a, "count": events, "rate": 0})
    h.wait_until(lambda: w.status()["counters"]["events_in_live"]["contribution.received"]
                 == events, 30, "%d events through the bridge" % events)
    # subscribe late: the first new event shows the gap
    s = w.bridge.sub(["upstream."])
    w.dev.send(w.a, text=json.dumps({"type": "late_marker"}))
    _, env = s.recv(10)
    n = env["seq"]
    h.check(n > events, "seq %d after %d events" % (n, events))
    r = replay_all(w, 0)
    h.check(r["run"] == run, "replay run %r != %r" % (r["run"], run))
    seqs = [e["seq"] for e in r["events"]]
    oldest = r["oldest_seq"]
    want_oldest = 1 if ring >= n else n - ring + 1
    h.check(oldest == want_oldest, "oldest_seq %d, expected %d (ring %d, last seq %d)" %
            (oldest, want_oldest, ring, n))
    h.check(seqs == list(range(oldest, n + 1)), "replayed seqs %r...%r (%d), expected "
            "%d..%d in order" % (seqs[:3], seqs[-3:], len(seqs), oldest, n))
    h.check(r["events"][-1] == env, "the replayed copy of seq %d differs" % n)
    h.check(all(e["run"] == run for e in r["events"]), "a replayed event of another run")
    # paging from inside the gap
    mid = (oldest + n) // 2
    page = replay_all(w, mid, 50)["events"]
    h.check([e["seq"] for e in page] == list(range(mid + 1, min(mid + 51, n + 1))),
            "page after %d: %r" % (mid, [e["seq"] for e in page][:5]))
    print("    ring %d: late subscriber at seq %d, replay gave %d..%d" % (ring, n, oldest,
                                                                         seqs[-1]))


def test_replay_fills_a_late_subscribers_seq_gap(ctx):
    late_gap_scenario(ctx, 10000, 500)


def test_replay_of_an_overrun_ring_starts_at_its_oldest_event(ctx):
    late_gap_scenario(ctx, 100, 500)


if __name__ == "__main__":
    h.main(globals())
