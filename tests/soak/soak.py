#!/usr/bin/python3
"""soak.py: a long fault-injection run of the bridge (not a unit test: minutes, not seconds).

Starts plurum-pulse-devserver and plurum-pulse-bridge (--inbox-mark-read, short keep-alive),
subscribes to everything the bridge publishes, and drives the devserver's emitter
(POST /_dev/emit, contribution_received events, each with data.seq and data.sent_at_ns,
stored in the agent's inbox like real ones) in batches until --events events were sent,
while a fault thread injects random faults at random intervals: closes with codes that
do not park the bridge (1000/1001/1011/1012/1013), half-open stalls, refused reconnects,
and kill -9 + restart of the devserver. At the end it waits for quiescence and prints the
table docs/soak.md shows; exit 1 when a contribution the server held was never published,
when one was published twice, or when the bridge's file descriptors at the end differ
from those at the start.

Accounting. Every emit call ("job") has a random id prefix and numbers its events 0..k-1;
k comes from the devserver's `emitted` counter around the job (jobs run one at a time).
A job's events belong to the server's inbox until the server dies, so the bridge must
publish all k of them (live or recovered). The exception is the job running when the
devserver is killed: its tail after the last event the bridge published died with the
server's memory; it is reported as "in flight at kill -9", not as lost. Kill faults are
therefore run by the driver at a job start after waiting for the previous jobs to be fully
published, so only that one job is ever in flight at a kill.

Usage: /usr/bin/python3 tests/soak/soak.py [--build-dir DIR] [--events N | --quick]
       [--rate R] [--batch B] [--seed S] [--output FILE]
"""

import argparse
import json
import os
import platform
import random
import re
import signal
import sys
import threading
import time
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

import zmq  # noqa: E402

CLOSE_CODES = (1000, 1001, 1011, 1012, 1013)  # never 4000/4001/4008: they park the bridge
HEAD_RE = re.compile(rb'^\{"v":1,"run":"([^"]*)","seq":(\d+),"id":(null|"[^"]*")')
SOURCE_RE = re.compile(rb'"source":"([a-z]+)"')
CONTRIB_PREFIX = "contribution:"


def log(msg):
    sys.stderr.write("[soak %7.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


T0 = time.monotonic()


# ---------------------------------------------------------------------------------------
# The subscriber: counts every contribution by (id prefix, seq) and source.


class Tally:
    """Per emit-job prefix: how often each seq was published, and by which source."""

    def __init__(self):
        self.lock = threading.Lock()
        self.prefixes = {}  # prefix -> {"count": bytearray, "first_ns": int, "max": int}
        self.live = 0
        self.inbox = 0
        self.other = {}  # topic kind -> count
        self.recoveries = []  # (monotonic, data)
        self.statuses = []  # (monotonic, state)
        self.gaps = 0  # missing (run, seq): ZeroMQ drops toward this subscriber
        self.gap_examples = []
        self.last = {}  # run -> last seq
        self.total = 0
        self.dup_examples = []

    def published(self, prefix):
        with self.lock:
            p = self.prefixes.get(prefix)
            return 0 if p is None else sum(1 for c in p["count"] if c)


def sub_thread(zctx, endpoint, tally, stop, ready):
    s = zctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, 0)  # unlimited: the soak itself must not drop
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    while not stop.is_set():
        if not poller.poll(100):
            continue
        while True:
            try:
                topic, body = s.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            on_message(tally, topic, body, ready)
    s.close(0)


def on_message(tally, topic, body, ready):
    m = HEAD_RE.match(body)
    if not m:
        log("unparsable envelope head: %r" % body[:120])
        return
    run, seq = m.group(1), int(m.group(2))
    with tally.lock:
        tally.total += 1
        last = tally.last.get(run)
        if topic == b"bridge.status":
            if last is not None and seq <= last:
                seq = last  # the cached copy re-sent to a new subscriber
            env = json.loads(body)
            tally.statuses.append((time.monotonic(), env["data"]["state"]))
            if env["data"]["state"] == "connected":
                ready.set()
        if last is not None and seq > last + 1:
            tally.gaps += seq - last - 1
            if len(tally.gap_examples) < 10:
                tally.gap_examples.append("after seq %d came %d (%s) at %.1fs" % (
                    last, seq, topic.decode(), time.monotonic() - T0))
        tally.last[run] = max(seq, last or 0)
        if topic == b"bridge.recovery":
            tally.recoveries.append((time.monotonic(), json.loads(body)["data"]))
            return
        if not topic.startswith(b"contribution.received"):
            kind = topic.split(b".")[0].decode() + "." + topic.split(b".")[1].decode() \
                if b"." in topic else topic.decode()
            tally.other[kind] = tally.other.get(kind, 0) + 1
            return
        cid = m.group(3).decode().strip('"')
        if not cid.startswith(CONTRIB_PREFIX):
            log("contribution without a contribution id: %r" % body[:200])
            return
        cid = cid[len(CONTRIB_PREFIX):]
        prefix, cseq = cid[:24], int(cid[24:], 16)
        src = SOURCE_RE.search(body, 0, 400)
        src = src.group(1) if src else b"?"
        if src == b"live":
            tally.live += 1
        elif src == b"inbox":
            tally.inbox += 1
        p = tally.prefixes.get(prefix)
        if p is None:
            p = tally.prefixes[prefix] = {"count": bytearray(), "src": bytearray(),
                                          "first_ns": sent_at_ns(body)}
        cnt, srcs = p["count"], p["src"]
        if cseq >= len(cnt):
            grow = cseq + 1 - len(cnt) + 4096
            cnt.extend(bytes(grow))
            srcs.extend(bytes(grow))
        if cnt[cseq] and len(tally.dup_examples) < 20:
            tally.dup_examples.append((CONTRIB_PREFIX + cid, SOURCES[srcs[cseq]],
                                       src.decode(), time.monotonic() - T0))
        if not cnt[cseq]:
            srcs[cseq] = 1 if src == b"live" else 2 if src == b"inbox" else 3
        cnt[cseq] = min(255, cnt[cseq] + 1)


SOURCES = ("-", "live", "inbox", "?")


def sent_at_ns(body):
    """data.sent_at_ns of an emitted event (kept under data.extra by the normalizer)."""
    data = json.loads(body)["data"]
    v = data.get("sent_at_ns", (data.get("extra") or {}).get("sent_at_ns"))
    return v if isinstance(v, int) else 0


# ---------------------------------------------------------------------------------------
# Bridge commands and /proc


def bridge_status(zctx, endpoint, timeout=5.0):
    s = zctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    try:
        s.send_multipart([b"", b'{"cmd":"status"}'])
        if not s.poll(int(timeout * 1000)):
            return None
        frames = s.recv_multipart()
        return json.loads(frames[-1])
    finally:
        s.close(0)


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_fd_kinds(pid):
    """{kind: count} of the open fds: socket, anon_inode:[eventfd], a path..."""
    d = "/proc/%d/fd" % pid
    kinds = {}
    for n in os.listdir(d):
        try:
            k = re.sub(r":\[\d+\]$", "", os.readlink(os.path.join(d, n)))
        except OSError:
            continue
        kinds[k] = kinds.get(k, 0) + 1
    return kinds


def stable_fds(pid, hold=2.0, timeout=30.0):
    """The fd count once it has not changed for `hold` seconds (transient sockets, such as
    a REST request's or a just-closed command client's, come and go)."""
    end = time.monotonic() + timeout
    n, since = proc_fds(pid), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        m = proc_fds(pid)
        if m != n:
            n, since = m, time.monotonic()
        elif time.monotonic() - since >= hold:
            break
    return n


def proc_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck  # utime, stime


# ---------------------------------------------------------------------------------------
# The run


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.ctx = harness.Ctx(os.path.abspath(args.build_dir), "soak")
        self.server_lock = threading.Lock()  # held around kill -9 + restart and state calls
        self.epoch = 1
        self.jobs = []
        self.faults = {}
        self.fault_log = []
        self.kill_wanted = threading.Event()
        self.inbox_dropped = 0  # unread events the devservers forgot at their inbox cap
        self.inbox_dropped_unknown = False
        self.stop = threading.Event()
        self.tally = Tally()
        self.ready = threading.Event()

    # -- devserver calls that survive a restart
    def dev(self, method, path, body=None):
        """(epoch, answer) or (epoch, None) when the devserver is not answering."""
        with self.server_lock:
            return self.epoch, self.dev_locked(method, path, body)

    def dev_locked(self, method, path, body=None):
        """The answer, or None when the devserver is not answering (caller holds
        server_lock)."""
        try:
            return self.ds.call(method, path, body, expect_ok=False)
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            return None

    def note_fault(self, name):
        self.faults[name] = self.faults.get(name, 0) + 1
        self.fault_log.append((time.monotonic() - T0, name))

    def start(self):
        a = self.args
        self.key = harness.gen_key()
        self.agent = "50a50a50-0000-4000-8000-000000000001"
        # The inbox holds every event the bridge got live too (their inbox ids never reach
        # it, so it cannot mark them read): the cap must exceed all one server can emit, or
        # the server forgets unread events and the run measures the devserver, not us.
        self.ds = self.ctx.devserver({self.key: self.agent}, extra=[
            "--ping-interval-ms", "1000", "--pong-timeout-ms", "3000", "--log-level", "3",
            "--inbox-cap", str(a.events + 2 * a.batch)])
        self.br = self.ctx.bridge(self.ds.ws_url, self.key, extra=[
            "--inbox-mark-read", "--ping-interval-ms", str(a.ping_ms), "--backoff-cap-ms", "3000",
            "--log-level", "warn"])
        self.sub = threading.Thread(target=sub_thread, args=(
            self.ctx.zctx, self.br.events, self.tally, self.stop, self.ready), daemon=True)
        self.sub.start()
        if not self.ready.wait(30):
            raise harness.TestFailure("the bridge did not connect: %s" % self.br.stderr()[-2000:])
        self.wait_idle(30)
        st = bridge_status(self.ctx.zctx, self.br.commands)
        with self.tally.lock:
            # What was published before our subscription took effect is not a gap.
            self.tally.last[st["run"].encode()] = st["last_seq"]
            self.tally.gaps = 0
            self.tally.gap_examples = []
        self.fds_start = stable_fds(self.br.pid)
        self.fd_kinds_start = proc_fd_kinds(self.br.pid)
        self.cpu_start = proc_cpu_s(self.br.pid)
        log("bridge %d connected; fds at start %d; rate %d/s, batches of %d, %d events" % (
            self.br.pid, self.fds_start, a.rate, a.batch, a.events))

    def wait_idle(self, timeout):
        """Connected, no recovery running. True when reached within timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = bridge_status(self.ctx.zctx, self.br.commands)
            if st and st.get("state") == "connected" and not st["inbox"]["running"]:
                return True
            time.sleep(0.1)
        return False

    # -- faults (the thread) --------------------------------------------------------------
    def fault_thread(self):
        lo, hi = self.args.fault_interval
        while not self.stop.wait(self.rng.uniform(lo, hi)):
            r = self.rng.random()
            if r < 0.35:
                code = self.rng.choice(CLOSE_CODES)
                _, ans = self.dev("POST", "close", {"code": code, "agent_id": self.agent})
                self.note_fault("close %d" % code)
            elif r < 0.50:
                self.dev("POST", "stall", {"agent_id": self.agent})
                self.note_fault("stall")
            elif r < 0.65:
                ms = self.rng.randint(200, 1500)
                self.dev("POST", "refuse", {"ms": ms})
                self.dev("POST", "close", {"code": 1001, "agent_id": self.agent})
                self.note_fault("refuse+close")
            elif r < 0.85:
                # Why: the devserver's own faults close politely (frames already written
                # still arrive), so nothing the server stored goes missing. A paused bridge
                # (SIGSTOP: a swapped-out or suspended host) stops reading: the server
                # times the link out (no PONG) and drops it with events still unread in
                # the bridge's buffers; those are what the inbox recovery must bring back.
                self.br.proc.send_signal(signal.SIGSTOP)
                self.stop.wait(self.rng.uniform(1.0, 8.0))
                self.br.proc.send_signal(signal.SIGCONT)
                self.note_fault("pause bridge (SIGSTOP)")
            else:
                self.kill_wanted.set()  # the driver runs it at its next job start

    def note_inbox_dropped(self):
        """Adds what this server dropped at its inbox cap (caller holds server_lock)."""
        st = self.dev_locked("GET", "state")
        if st and "inbox_dropped" in st:
            self.inbox_dropped += st["inbox_dropped"]
        else:
            self.inbox_dropped_unknown = True

    def kill_and_restart(self):
        with self.server_lock:
            self.note_inbox_dropped()
            self.ds.kill9()
            self.epoch += 1
            self.ds._start(timeout=30)  # same port, same agents, empty state
        self.note_fault("kill -9 + restart")

    # -- the driver -----------------------------------------------------------------------
    def wait_published(self, jobs, timeout):
        """Until every finished job's events were all published (or timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(self.job_published(j) >= j["k"] for j in jobs if j["k"] is not None):
                return True
            time.sleep(0.2)
        return False

    def job_prefix(self, j):
        if j.get("prefix"):
            return j["prefix"]
        with self.tally.lock:
            for p, v in self.tally.prefixes.items():
                if j["t0_ns"] <= v["first_ns"] <= j["t1_ns"]:
                    j["prefix"] = p
                    return p
        return None

    def job_published(self, j):
        p = self.job_prefix(j)
        return self.tally.published(p) if p else 0

    def run_job(self, count):
        """One emit call, to its end (done, its connection gone, or the server killed)."""
        kill_at = None
        if self.kill_wanted.is_set():
            self.kill_wanted.clear()
            # Earlier jobs of this epoch must be complete first: their events die with it.
            epoch_jobs = [j for j in self.jobs if j["epoch"] == self.epoch]
            if not self.wait_published(epoch_jobs, 120):
                log("before kill -9: earlier jobs not fully published after 120 s")
            kill_at = time.monotonic() + self.rng.uniform(0.05, 1.0)
        while True:
            epoch, st = self.dev("GET", "state")
            if st and st.get("ok") and any(c.get("authed") and c.get("agent_id") == self.agent
                                           for c in st["connections"]):
                before = st["emitted"]
                t0_ns = time.time_ns()
                epoch2, ans = self.dev("POST", "emit", {"agent_id": self.agent, "count": count,
                                                        "rate": self.args.rate})
                if ans and ans.get("ok") and epoch2 == epoch:
                    break
            time.sleep(0.05)
        j = {"epoch": epoch, "t0_ns": t0_ns, "t1_ns": None, "k": None, "count": count,
             "killed": False, "emitted_seen": 0}
        self.jobs.append(j)
        while True:
            if kill_at is not None and time.monotonic() >= kill_at:
                j["t1_ns"] = time.time_ns()
                self.kill_and_restart()
                j["killed"] = True
                return j
            time.sleep(0.05)
            e, st = self.dev("GET", "state")
            if e != epoch:
                j["t1_ns"] = time.time_ns()
                j["killed"] = True
                return j
            if not st or not st.get("ok"):
                continue
            j["emitted_seen"] = st["emitted"] - before
            if not st["emitting"]:
                j["t1_ns"] = time.time_ns()
                j["k"] = st["emitted"] - before
                if kill_at is not None:  # ended before its kill: kill now, nothing in flight
                    self.kill_and_restart()
                return j

    def drive(self):
        left = self.args.events
        last_report = time.monotonic()
        while left > 0:
            j = self.run_job(min(self.args.batch, left))
            done = j["k"] if j["k"] is not None else j["emitted_seen"]
            left -= done
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                log("%d events left; published live %d, inbox %d; faults %s" % (
                    left, self.tally.live, self.tally.inbox, self.faults))

    # -- the report -----------------------------------------------------------------------
    def account(self):
        sent = lost = in_flight = dups = dup_extra = unmapped = 0
        lost_examples = []
        for j in self.jobs:
            p = self.job_prefix(j)
            cnt = bytearray()
            if p:
                with self.tally.lock:
                    cnt = bytes(self.tally.prefixes[p]["count"])
            got = [i for i, c in enumerate(cnt) if c]
            top = got[-1] if got else -1
            if j["k"] is not None:
                k = j["k"]
            else:  # killed mid-job: the server sent at least this many
                k = max(top + 1, j["emitted_seen"])
            sent += k
            expect = k if not j["killed"] else top + 1
            in_flight += k - expect
            for i in range(expect):
                if i >= len(cnt) or not cnt[i]:
                    lost += 1
                    if len(lost_examples) < 20:
                        lost_examples.append("%s%s%012x (job of epoch %d, seq %d of %d, "
                                             "emitted %.3f-%.3f)" % (
                                                 CONTRIB_PREFIX, p or "<prefix never seen>",
                                                 i, j["epoch"], i, k, j["t0_ns"] / 1e9,
                                                 j["t1_ns"] / 1e9))
            for c in cnt:
                if c > 1:
                    dups += 1
                    dup_extra += c - 1
            if p is None and k:
                unmapped += 1
        return {"sent": sent, "lost": lost, "in_flight": in_flight, "dups": dups,
                "dup_extra": dup_extra, "lost_examples": lost_examples, "unmapped": unmapped}

    def report(self, elapsed):
        st = bridge_status(self.ctx.zctx, self.br.commands) or {}
        c = st.get("counters", {})
        # Transient REST connections (a mark-read still closing) settle within a few seconds.
        fds_end = stable_fds(self.br.pid)
        fd_kinds_end = proc_fd_kinds(self.br.pid)
        cpu = proc_cpu_s(self.br.pid)
        hwm = proc_hwm_kb(self.br.pid)
        acc = self.account()
        with self.server_lock:
            self.note_inbox_dropped()
        rec = self.tally.recoveries
        partial = [d for _, d in rec if d.get("result") != "complete"]
        rows = [
            ("events requested", self.args.events),
            ("sent by the server (emitted)", acc["sent"]),
            ("published live", self.tally.live),
            ("recovered from the inbox", self.tally.inbox),
            ("duplicates (ids published twice)", "%d (%d extra copies)" % (
                acc["dups"], acc["dup_extra"])),
            ("lost (server-held, never published)", acc["lost"]),
            ("in flight at kill -9 (died with the server)", acc["in_flight"]),
            ("dropped at the devserver's inbox cap", "%d%s" % (
                self.inbox_dropped, " (some server did not answer)"
                if self.inbox_dropped_unknown else "")),
            ("reconnects (bridge counters)", "%s (connects %s, dead links %s)" % (
                c.get("reconnects"), c.get("connects"), c.get("dead_connections"))),
            ("recoveries", "%d (%d partial%s)" % (len(rec), len(partial), (
                ": " + "; ".join(sorted({str(d.get("reason")) for d in partial}))
            ) if partial else "")),
            ("faults injected", ", ".join("%s x%d" % (k, v) for k, v in
                                          sorted(self.faults.items()))),
            ("emit jobs", len(self.jobs)),
            ("subscriber seq gaps (ZeroMQ drops)", self.tally.gaps),
            ("bridge published / dedup skips", "%s / %s" % (c.get("published"),
                                                            c.get("duplicates"))),
            ("peak RSS (VmHWM)", "%.1f MiB" % (hwm / 1024.0)),
            ("fds at start / end", "%d / %d" % (self.fds_start, fds_end)),
            ("bridge CPU time (user+sys)", "%.1f s" % cpu),
            ("devserver CPU time (last epoch)", "%.1f s" % proc_cpu_s(self.ds.proc.pid)),
            ("wall time", "%.0f s" % elapsed),
        ]
        w = max(len(r[0]) for r in rows)
        out = ["plurum-pulse-bridge soak: %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "machine: %s %s, nproc %d, %s" % (platform.system(), platform.machine(),
                                                 os.cpu_count(), cpu_model()),
               "seed %d, rate %d/s, batch %d, fault interval %.1f-%.1f s" % (
                   self.args.seed, self.args.rate, self.args.batch, *self.args.fault_interval),
               ""]
        out += ["  %-*s  %s" % (w, k, v) for k, v in rows]
        if acc["lost_examples"]:
            out += ["", "lost ids (first 20):"] + ["  " + x for x in acc["lost_examples"]]
        if self.tally.dup_examples:
            out += ["", "duplicates (first 20): id, first source, second source, at"]
            out += ["  %s %s %s %.1fs" % d for d in self.tally.dup_examples]
        if fds_end != self.fds_start:
            out += ["", "fds by kind at start: %s" % sorted(self.fd_kinds_start.items()),
                    "fds by kind at end:   %s" % sorted(fd_kinds_end.items())]
        if self.tally.gap_examples:
            out += ["", "subscriber seq gaps (first 10):"]
            out += ["  " + g for g in self.tally.gap_examples]
        if acc["unmapped"]:
            out += ["", "%d emit jobs had no published event at all" % acc["unmapped"]]
        if self.inbox_dropped:
            out += ["", "the devserver dropped unread events at its inbox cap: this run cannot "
                    "tell what the bridge lost from what the server forgot"]
        failed = (acc["lost"] > 0 or acc["dups"] > 0 or fds_end != self.fds_start
                  or self.inbox_dropped > 0)
        out += ["", "RESULT: %s" % ("FAIL" if failed else "PASS")]
        text = "\n".join(out) + "\n"
        sys.stdout.write(text)
        if self.args.output:
            with open(self.args.output, "w") as f:
                f.write(text)
        return 1 if failed else 0

    def run(self):
        try:
            return self._run()
        except BaseException:
            if getattr(self, "br", None):
                self.br.proc.send_signal(signal.SIGCONT)
            self.stop.set()
            self.ctx.finish(False)
            raise

    def _run(self):
        t0 = time.monotonic()
        self.start()
        ft = threading.Thread(target=self.fault_thread, daemon=True)
        ft.start()
        try:
            self.drive()
        finally:
            self.stop.set()
            ft.join()
            self.br.proc.send_signal(signal.SIGCONT)  # never leave it stopped
        log("all emitted; waiting for quiescence")
        self.stop.clear()
        jobs = [j for j in self.jobs if j["epoch"] == self.epoch]
        if not self.wait_published(jobs, 180):
            log("not everything published after 180 s")
        self.wait_idle(60)
        time.sleep(1.0)  # let the subscriber drain what is already queued
        rc = self.report(time.monotonic() - t0)
        self.stop.set()
        self.sub.join()
        errors = self.ctx.finish(True)
        for e in errors:
            log("cleanup: " + e)
        return rc if not errors else 1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--quick", action="store_true", help="50,000 events")
    ap.add_argument("--rate", type=int, default=8000, help="events per second while emitting")
    ap.add_argument("--batch", type=int, default=20000, help="events per emit call")
    ap.add_argument("--ping-ms", type=int, default=2000,
                    help="the bridge's --ping-interval-ms (a dead link is seen after ~2)")
    ap.add_argument("--fault-interval", type=float, nargs=2, default=(0.5, 5.0),
                    metavar=("MIN", "MAX"), help="seconds between faults (uniform)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--output", help="also write the table to this file")
    args = ap.parse_args()
    if args.quick:  # smaller, slower batches so that every kind of fault still happens
        args.events, args.batch, args.rate = 50000, 5000, 5000
        args.fault_interval = (0.5, 2.0)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return Soak(args).run()
    except harness.Skip as e:
        print("SKIP: %s" % e)
        return 77


if __name__ == "__main__":
    sys.exit(main())
