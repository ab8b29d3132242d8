#!/usr/bin/python3
"""bench.py: the orchestration of the benchmark suite (issue 5); run through bench/run.sh.

First, --reps times, one thread hand-off between vCPUs alone (bench/wake_floor: eventfd and
poll, no sockets) at each of --rates, the floor of every hop on the bridge's path; then
ZeroMQ alone (bench/zmq_floor -> sub_meter, bridge-sized messages, no WebSocket):
throughput and latency at each of --rates, the floor under the bridge's numbers.
Then starts one plurum-pulse-devserver, and for each transport (ws, wss) and repetition:
  - throughput: --events events of --size bytes emitted at the maximum rate, counted by
    raw_client (the reference), by sub_meter on a fresh bridge's PUB socket, and by two raw
    clients at once (to show the emitter is not the bottleneck);
  - latency at each of --rates for --lat-seconds: raw_client and bridge+sub_meter, in
    --lat-slices alternating slices;
  - memory: the bridge's VmHWM after the throughput run vs raw_client's; its VmRSS after a
    further --events events and --reconnects forced reconnects (flatness);
then once per transport: contribute round trips (contrib_bench: paced at --contrib-rate per
minute and a burst), and the idle phase (both bridges idle for --idle-seconds: CPU time,
wakeups per second, RSS).

Readiness is awaited by events (ready lines, bridge.status "connected" on the PUB socket),
never by sleeps. Prints one table and writes bench/results/<timestamp>.json and latest.json.
"""
import argparse
import array
import datetime
import json
import os
import secrets
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PCTS = (50, 90, 99)
# The bridge's envelope around an event of --size bytes is this much longer (671 bytes for
# 450: run, seq, id, received_at, agent_id and the normalized data's member names).
ENVELOPE_OVERHEAD = 221


class BenchError(Exception):
    pass


# ---- small helpers -----------------------------------------------------------------------


def child_env(**extra):
    """The environment of the programs measured: this one's without SSL_CERT_FILE or
    SSL_CERT_DIR, as under the systemd unit, so that every TLS client (the bridge, and lws
    in the raw client) uses the system trust store the way a deployed one does; an
    SSL_CERT_FILE makes the bridge parse that whole bundle at start (tlsmem.c)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(extra)
    return env


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def new_key():
    return "plrm_live_" + secrets.token_hex(16)


def read_line(proc, timeout, what):
    """The next stdout line of proc (a bufsize=0 pipe) within timeout seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"{what}: no line within {timeout}s")
        r, _, _ = select.select([proc.stdout], [], [], left)
        if not r:
            continue
        ch = proc.stdout.read(1)
        if not ch:
            raise BenchError(f"{what}: exited (status {proc.poll()}) before its line")
        if ch == b"\n":
            return json.loads(buf.decode())
        buf += ch


def finish(proc, timeout, what):
    """Waits for proc to exit and returns its last stdout line as JSON."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{what}: did not finish within {timeout}s")
    lines = [ln for ln in out.decode().splitlines() if ln.strip()]
    if not lines:
        raise BenchError(f"{what}: no summary line (status {proc.returncode})")
    return json.loads(lines[-1])


def proc_status(pid, key):
    """A 'Key: N kB' (or plain number) field of /proc/pid/status as int."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def stat_ticks(path):
    """(comm, utime+stime in clock ticks) of a /proc/.../stat file."""
    with open(path) as f:
        head, rest = f.read().rsplit(")", 1)
    fields = rest.split()
    return head.split("(", 1)[1], int(fields[11]) + int(fields[12])


def proc_cpu_ticks(pid):
    """utime+stime of the whole process (all threads), in clock ticks."""
    return stat_ticks(f"/proc/{pid}/stat")[1]


def thread_ticks(pid):
    """utime+stime in clock ticks per thread of pid: 'main' for the main thread, 'zmq_io'
    summed over ZeroMQ's I/O threads, 'other' for the rest."""
    out = {"main": 0, "zmq_io": 0, "other": 0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name, ticks = stat_ticks(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue
        key = "main" if tid == str(pid) else "zmq_io" if name.startswith("ZMQbg/IO") else "other"
        out[key] += ticks
    return out


def host_cpu():
    """(steal, wanted) jiffies summed over this guest's CPUs (/proc/stat): steal is the time
    the hypervisor ran something else while a vCPU of ours had work; wanted is that plus the
    time spent running. Their ratio says how much of what this guest asked for it did not get,
    the host noise every latency tail here sits on."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = \
            (int(x) for x in f.readline().split()[1:9])
    return steal, user + nice + system + irq + softirq + steal


class StealMeter:
    """with StealMeter() as m: ...; then m.pct is the host steal over the block, in % of the
    CPU time this guest wanted (None if it wanted none)."""

    def __enter__(self):
        self.start = host_cpu()
        self.pct = None
        return self

    def __exit__(self, *exc):
        steal, wanted = (b - a for a, b in zip(self.start, host_cpu()))
        self.pct = steal * 100.0 / wanted if wanted else None
        return False


def ticks_us(ticks):
    return ticks / CLK_TCK * 1e6


def per_event(us, events):
    return us / events if events else None


def proc_ctxt(pid):
    """Voluntary context switches summed over all threads."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += proc_status(f"{pid}/task/{tid}", "voluntary_ctxt_switches")
        except OSError:
            pass
    return total


def percentiles(vals):
    """p50/p90/p99/max in microseconds of a sorted list of ns."""
    if not vals:
        return None
    out = {}
    for p in PCTS:
        idx = min(len(vals) - 1, max(0, int(round(p / 100.0 * len(vals) + 0.5)) - 1))
        out[f"p{p}"] = vals[idx] / 1000.0
    out["max"] = vals[-1] / 1000.0
    out["n"] = len(vals)
    return out


def cdf_points(vals, points=200):
    """(latency_us, fraction) pairs of a sorted list, for the plot."""
    if not vals:
        return []
    n = len(vals)
    res = []
    for i in range(points + 1):
        q = i / points
        idx = min(n - 1, int(q * (n - 1)))
        res.append([round(vals[idx] / 1000.0, 2), round(q, 4)])
    return res


def load_lat(path):
    a = array.array("q")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return sorted(a)


def summary(vals):
    """median and spread of a list of numbers (None ignored)."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}


# ---- processes ---------------------------------------------------------------------------


class Devserver:
    def __init__(self, exe, workdir):
        os.makedirs(os.path.join(workdir, "cert"), exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--port", "0", "--tls-port", "0", "--cert-dir", os.path.join(workdir, "cert")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "devserver.log"), "wb"),
            bufsize=0)
        ready = read_line(self.proc, 30, "devserver")
        self.port, self.tls_port, self.cert = ready["port"], ready["tls_port"], ready["cert"]
        self.base = f"http://127.0.0.1:{self.port}/_dev/"

    def call(self, path, body=None):
        data = json.dumps(body or {}).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise BenchError(f"devserver {path}: {e.code} {e.read()[:200]!r}")

    def agent(self, prefix):
        key = new_key()
        aid = f"{prefix}-{secrets.token_hex(4)}"
        self.call("agents", {"api_key": key, "agent_id": aid})
        return key, aid

    def emit(self, agent, count, rate, size):
        self.call("emit", {"agent_id": agent, "count": count, "rate": rate, "size": size})

    def url(self, transport):
        if transport == "ws":
            return f"ws://127.0.0.1:{self.port}/api/v1/pulse/ws"
        return f"wss://localhost:{self.tls_port}/api/v1/pulse/ws"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Bridge:
    """One plurum-pulse-bridge with a fresh agent, and a SUB watching bridge.status."""

    def __init__(self, cfg, ds, transport, workdir, prefix=(), ready_timeout=30):
        self.key, self.agent = ds.agent("bridge")
        self.dir = tempfile.mkdtemp(prefix="br.", dir=workdir)
        self.events = f"ipc://{self.dir}/ev.sock"
        self.commands = f"ipc://{self.dir}/cmd.sock"
        args = [cfg.exe["bridge"], "--url", ds.url(transport), "--events", self.events,
                "--commands", self.commands, "--log-level", cfg.bridge_log_level]
        args += cfg.bridge_args
        if transport == "wss":
            args += ["--ca-file", ds.cert]
        env = child_env(PLURUM_API_KEY=self.key)
        self.proc = subprocess.Popen(list(prefix) + args, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "bridge.log"), "wb"))
        self.pid = self.proc.pid
        self.zctx = zmq.Context()
        self.status = self.zctx.socket(zmq.SUB)
        self.status.setsockopt(zmq.SUBSCRIBE, b"bridge.status")
        self.status.connect(self.events)
        self.last_seq = 0
        self.wait_connected(ready_timeout)
        self.rss_start = proc_status(self.pid, "VmRSS")

    def wait_connected(self, timeout, after_seq=0):
        """Waits for a bridge.status 'connected' with seq > after_seq."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"bridge exited with {self.proc.returncode} (log {self.dir})")
            if self.status.poll(100):
                _, env = self.status.recv_multipart()
                e = json.loads(env)
                self.last_seq = max(self.last_seq, e["seq"])
                if e["data"]["state"] == "connected" and e["seq"] > after_seq:
                    return
        raise BenchError(f"bridge not connected within {timeout}s (log {self.dir})")

    def reconnect(self, ds):
        before = self.last_seq
        ds.call("close", {"agent_id": self.agent, "code": 1001, "reason": "bench"})
        self.wait_connected(60, after_seq=before)

    def stop(self, timeout=15):
        self.status.close(0)
        self.zctx.term()
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_raw(cfg, ds, transport, count, out=None):
    key, aid = ds.agent("raw")
    args = [cfg.exe["raw_client"], "--url", ds.url(transport), "--count", str(count),
            "--idle-ms", str(cfg.idle_ms), "--timeout-ms", str(cfg.timeout_s * 1000)]
    if transport == "wss":
        args += ["--ca-file", ds.cert]
    if out:
        args += ["--out", out]
    p = subprocess.Popen(args, env=child_env(BENCH_API_KEY=key), stdout=subprocess.PIPE,
                         bufsize=0)
    read_line(p, 30, "raw_client")
    return p, aid


def start_meter(cfg, endpoint, count, out=None):
    args = [cfg.exe["sub_meter"], "--endpoint", endpoint, "--count", str(count),
            "--idle-ms", str(cfg.idle_ms), "--timeout-ms", str(cfg.timeout_s * 1000)]
    if out:
        args += ["--out", out]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, bufsize=0)
    read_line(p, 30, "sub_meter")
    return p


def rate_of(res):
    """events per second from first send to last receipt."""
    span = (res["last_recv_ns"] - res["first_sent_ns"]) / 1e9
    return res["received"] / span if res["received"] and span > 0 else 0.0


# ---- the measurements --------------------------------------------------------------------


def run_raw_throughput(cfg, ds, transport):
    p, aid = start_raw(cfg, ds, transport, cfg.events)
    ds0 = proc_cpu_ticks(ds.proc.pid)
    ds.emit(aid, cfg.events, 0, cfg.size)
    res = finish(p, cfg.timeout_s, "raw_client")
    n = res["received"]
    return {"rate": rate_of(res), "received": n, "vmhwm_kb": res["vmhwm_kb"],
            "cpu_us_per_event": {
                "raw client": per_event(res["cpu_us"], n),
                "devserver": per_event(ticks_us(proc_cpu_ticks(ds.proc.pid) - ds0), n)}}


def run_dual_raw(cfg, ds, transport):
    p1, a1 = start_raw(cfg, ds, transport, cfg.events)
    p2, a2 = start_raw(cfg, ds, transport, cfg.events)
    ds.emit(a1, cfg.events, 0, cfg.size)
    ds.emit(a2, cfg.events, 0, cfg.size)
    r1 = finish(p1, cfg.timeout_s, "raw_client 1")
    r2 = finish(p2, cfg.timeout_s, "raw_client 2")
    span = (max(r1["last_recv_ns"], r2["last_recv_ns"])
            - min(r1["first_sent_ns"], r2["first_sent_ns"])) / 1e9
    got = r1["received"] + r2["received"]
    return {"rate": got / span if span > 0 else 0.0, "received": got,
            "each": [rate_of(r1), rate_of(r2)]}


def run_bridge_throughput(cfg, ds, br):
    m = start_meter(cfg, br.events, cfg.events)
    cpu0 = proc_cpu_ticks(br.pid)
    th0, ds0 = thread_ticks(br.pid), proc_cpu_ticks(ds.proc.pid)
    ds.emit(br.agent, cfg.events, 0, cfg.size)
    res = finish(m, cfg.timeout_s, "sub_meter")
    th1, n = thread_ticks(br.pid), res["received"]
    cpu = {"bridge main thread": per_event(ticks_us(th1["main"] - th0["main"]), n),
           "bridge ZMQ I/O thread": per_event(ticks_us(th1["zmq_io"] - th0["zmq_io"]), n),
           "SUB main thread": per_event(res["cpu_main_us"], n),
           "SUB ZMQ I/O thread": per_event(res["cpu_us"] - res["cpu_main_us"], n),
           "devserver": per_event(ticks_us(proc_cpu_ticks(ds.proc.pid) - ds0), n)}
    return {"rate": rate_of(res), "received": res["received"], "seq_gaps": res["seq_gaps"],
            "cpu_us_per_event": cpu,
            "cpu_s": (proc_cpu_ticks(br.pid) - cpu0) / CLK_TCK,
            "vmhwm_kb": proc_status(br.pid, "VmHWM"), "vmrss_kb": proc_status(br.pid, "VmRSS"),
            "rss_start_kb": br.rss_start}


def run_latency_slice(cfg, ds, transport, br, who, n, rate, path):
    """n events at rate to the raw client or through the bridge; (result, sorted ns)."""
    if who == "raw":
        p, aid = start_raw(cfg, ds, transport, n, path)
        ds.emit(aid, n, rate, cfg.size)
        res = finish(p, cfg.timeout_s + n / rate, "raw_client")
    else:
        m = start_meter(cfg, br.events, n, path)
        ds.emit(br.agent, n, rate, cfg.size)
        res = finish(m, cfg.timeout_s + n / rate, "sub_meter")
    return res, load_lat(path)


def run_latency(cfg, ds, transport, br, rate, workdir):
    """--lat-seconds of events at rate for each of raw client and bridge, in --lat-slices
    alternating slices (raw first, then bridge first, ...): this machine's host load changes
    from one second to the next, and two back-to-back windows of several seconds would
    each catch a different part of it. Both pool the samples of their slices."""
    n = max(1, int(rate * cfg.lat_seconds / cfg.lat_slices))
    expected = n * cfg.lat_slices
    out = {"raw": [{"received": 0, "expected": expected}, []],
           "bridge": [{"received": 0, "expected": expected}, []]}
    for i in range(cfg.lat_slices):
        for who in (("raw", "bridge") if i % 2 == 0 else ("bridge", "raw")):
            path = os.path.join(workdir, f"lat-{who}-{transport}-{rate}.bin")
            res, vals = run_latency_slice(cfg, ds, transport, br, who, n, rate, path)
            out[who][0]["received"] += res["received"]
            out[who][1].extend(vals)
    return {who: (res, sorted(vals)) for who, (res, vals) in out.items()}


def run_flatness(cfg, ds, br, rss_before):
    for _ in range(cfg.reconnects):
        br.reconnect(ds)
    m = start_meter(cfg, br.events, cfg.events)
    ds.emit(br.agent, cfg.events, 0, cfg.size)
    res = finish(m, cfg.timeout_s, "sub_meter")
    rss_after = proc_status(br.pid, "VmRSS")
    return {"rss_before_kb": rss_before, "rss_after_kb": rss_after,
            "growth": (rss_after - rss_before) / rss_before if rss_before > 0 else None,
            "received": res["received"], "reconnects": cfg.reconnects}


def run_contribute(cfg, ds, br):
    _, owner = ds.agent("owner")
    sid = ds.call("sessions", {"owner": owner, "topic": "bench", "visibility": "public"})[
        "session_id"]
    res = {}
    shapes = {"paced": ["--count", str(cfg.contrib_paced),
                        "--interval-ms", str(int(60000 / cfg.contrib_rate))],
              "burst": ["--count", str(cfg.contrib_burst),
                        "--concurrency", str(cfg.contrib_concurrency)]}
    for name, extra in shapes.items():
        p = subprocess.Popen([cfg.exe["contrib_bench"], "--commands", br.commands,
                              "--session", sid] + extra, stdout=subprocess.PIPE)
        r = finish(p, cfg.timeout_s + 120, "contrib_bench")
        vals = sorted(r["rtt_us"])
        pc = percentiles([int(v * 1000) for v in vals]) or {}
        res[name] = {"ok": r["ok"], "failed": r["failed"], "first_error": r["first_error"],
                     "wall_ms": r["wall_ms"], "p50_us": pc.get("p50"), "p99_us": pc.get("p99"),
                     "max_us": pc.get("max")}
    return res


def perf_works():
    if not shutil.which("perf"):
        return False
    p = subprocess.run(["perf", "stat", "-e", "syscalls:sys_enter_epoll_wait", "-x,", "--",
                        "true"], capture_output=True)
    return p.returncode == 0


def run_idle(cfg, bridges):
    """Both bridges idle at once for cfg.idle_s seconds."""
    use_perf = perf_works()
    t0 = time.monotonic()
    start = {t: (proc_cpu_ticks(b.pid), proc_ctxt(b.pid)) for t, b in bridges.items()}
    perfs = {}
    if use_perf:
        for t, b in bridges.items():
            perfs[t] = subprocess.Popen(
                ["perf", "stat", "-x,", "-e", "syscalls:sys_enter_epoll_wait",
                 "-e", "syscalls:sys_enter_poll", "-e", "syscalls:sys_enter_ppoll",
                 "-p", str(b.pid), "--", "sleep", str(cfg.idle_s)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for t in perfs:
            perfs[t].wait()
    else:
        # nothing to await: the measurement *is* a span of idle time
        time.sleep(cfg.idle_s)
    dt = time.monotonic() - t0
    res = {}
    for t, b in bridges.items():
        cpu0, cs0 = start[t]
        r = {"seconds": round(dt, 1),
             "cpu_pct": 100.0 * (proc_cpu_ticks(b.pid) - cpu0) / CLK_TCK / dt,
             "ctxt_per_s": (proc_ctxt(b.pid) - cs0) / dt,
             "rss_kb": proc_status(b.pid, "VmRSS")}
        if t in perfs:
            total = 0
            for line in perfs[t].stderr.read().decode().splitlines():
                f = line.split(",")
                if len(f) > 2 and f[2].startswith("syscalls:") and f[0].isdigit():
                    total += int(f[0])
            r["wakeups_per_s"] = total / cfg.idle_s
            r["wakeups_source"] = "perf"
        else:
            r["wakeups_per_s"] = r["ctxt_per_s"]
            r["wakeups_source"] = "voluntary_ctxt_switches"
        res[t] = r
    return res


# ---- the whole run -----------------------------------------------------------------------


def run_floor_one(cfg, workdir, count, rate, out=None):
    """zmq_floor -> sub_meter over ipc: one PUB -> SUB hop of bridge-sized messages."""
    ep = f"ipc://{workdir}/floor.sock"
    f = subprocess.Popen([cfg.exe["zmq_floor"], "--endpoint", ep, "--count", str(count),
                          "--rate", str(rate), "--size", str(cfg.size + ENVELOPE_OVERHEAD)],
                         stdout=subprocess.PIPE, bufsize=0)
    try:
        read_line(f, 30, "zmq_floor")
        m = start_meter(cfg, ep, count, out)
        res = finish(m, cfg.timeout_s + count / max(rate, 1), "sub_meter")
        if f.wait(30) != 0:
            raise BenchError(f"zmq_floor exited with {f.returncode}")
        return res
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()


def run_zmq_floor(cfg, workdir, results):
    """ZeroMQ alone, no WebSocket and no bridge: the floor under the bridge's numbers."""
    reps = []
    samples = {rate: [] for rate in cfg.rates}
    for rep in range(cfg.reps):
        log(f"ZeroMQ alone rep {rep + 1}/{cfg.reps}: throughput and latency")
        res = run_floor_one(cfg, workdir, cfg.events, 0)
        r = {"rate": rate_of(res), "received": res["received"], "latency": {}}
        for rate in cfg.rates:
            path = os.path.join(workdir, f"lat-floor-{rate}.bin")
            with StealMeter() as st:
                run_floor_one(cfg, workdir, int(rate * cfg.lat_seconds), rate, path)
            vals = load_lat(path)
            r["latency"][str(rate)] = {"pct_us": percentiles(vals), "steal_pct": st.pct}
            samples[rate].extend(vals)
        reps.append(r)
    results["zmq_floor"] = {"reps": reps, "envelope_bytes": cfg.size + ENVELOPE_OVERHEAD,
                            "cdf": {str(k): cdf_points(sorted(v)) for k, v in samples.items()}}


def run_wake_floor(cfg, workdir, results):
    """One thread hand-off between vCPUs (bench/wake_floor), at each of --rates: the floor
    of every hop the bridge's path takes. Skipped, with a note, on a one-CPU machine."""
    reps = []
    for rep in range(cfg.reps):
        log(f"thread hand-off alone rep {rep + 1}/{cfg.reps}")
        r = {"latency": {}}
        for rate in cfg.rates:
            path = os.path.join(workdir, f"lat-wake-{rate}.bin")
            n = max(1, int(rate * cfg.lat_seconds))
            try:
                with StealMeter() as st:
                    p = subprocess.run([cfg.exe["wake_floor"], "--count", str(n), "--rate",
                                        str(rate), "--out", path], capture_output=True,
                                       text=True, timeout=cfg.timeout_s + n / rate)
            except subprocess.TimeoutExpired:
                raise BenchError("wake_floor did not finish in time") from None
            if p.returncode == 2 and "two CPUs" in p.stderr:
                log("thread hand-off alone: skipped (one CPU)")
                return
            if p.returncode != 0:
                raise BenchError(f"wake_floor exited with {p.returncode}: {p.stderr.strip()}")
            r["latency"][str(rate)] = {"pct_us": percentiles(load_lat(path)),
                                       "steal_pct": st.pct}
        reps.append(r)
    results["wake_floor"] = {"reps": reps}


def one_transport(cfg, ds, transport, workdir, results):
    reps = []
    keep = None
    samples = {rate: {"raw": [], "bridge": []} for rate in cfg.rates}
    for rep in range(cfg.reps):
        log(f"{transport} rep {rep + 1}/{cfg.reps}: throughput")
        r = {"raw": run_raw_throughput(cfg, ds, transport)}
        br = Bridge(cfg, ds, transport, workdir)
        r["bridge"] = run_bridge_throughput(cfg, ds, br)
        r["dual_raw"] = run_dual_raw(cfg, ds, transport)
        r["latency"] = {}
        for rate in cfg.rates:
            log(f"{transport} rep {rep + 1}: latency at {rate}/s")
            with StealMeter() as st:
                lat = run_latency(cfg, ds, transport, br, rate, workdir)
            r["latency"][str(rate)] = {"steal_pct": st.pct}
            for who, (res, vals) in lat.items():
                pc = percentiles(vals)
                r["latency"][str(rate)][who] = {"pct_us": pc, "received": res["received"],
                                               "expected": res["expected"]}
                samples[rate][who].extend(vals)
        log(f"{transport} rep {rep + 1}: memory flatness ({cfg.reconnects} reconnects)")
        r["flat"] = run_flatness(cfg, ds, br, r["bridge"]["vmrss_kb"])
        reps.append(r)
        if rep == cfg.reps - 1:
            keep = br
        else:
            br.stop()
    log(f"{transport}: contribute round trips")
    contrib = run_contribute(cfg, ds, keep)
    cdf = {str(rate): {who: cdf_points(sorted(v)) for who, v in s.items()}
           for rate, s in samples.items()}
    results["transports"][transport] = {"reps": reps, "contribute": contrib, "cdf": cdf}
    return keep


def pct_summary(reps, rate, p):
    """Median and spread over repetitions of one percentile (p50...) at one rate."""
    return summary([(r["latency"][str(rate)]["pct_us"] or {}).get(p) for r in reps])


def floor_rows(cfg, results):
    """The ZeroMQ-alone rows: what one PUB -> SUB hop costs on this machine."""
    fl = results.get("zmq_floor")
    if not fl:
        return []
    reps = fl["reps"]
    rows = [("zmq", "ZeroMQ alone PUB->SUB throughput (ev/s)",
             summary([r["rate"] for r in reps]), None, None)]
    for rate in cfg.rates:
        for p in ("p50", "p90", "p99", "max"):
            rows.append(("zmq", f"latency {rate}/s ZeroMQ alone {p} (us)",
                         pct_summary(reps, rate, p), None, None))
        rows.append(("zmq", f"latency {rate}/s host steal (% of CPU wanted)",
                     summary([r["latency"][str(rate)].get("steal_pct") for r in reps]),
                     None, None))
    return rows


def wake_rows(cfg, results):
    """The thread hand-off rows: what waking a thread on the other vCPU costs here."""
    wf = results.get("wake_floor")
    if not wf:
        return []
    rows = []
    for rate in cfg.rates:
        for p in ("p50", "p99", "max"):
            rows.append(("cpu", f"{rate}/s thread hand-off to the other vCPU {p} (us)",
                         pct_summary(wf["reps"], rate, p), None, None))
    return rows


def aggregate(cfg, results):
    """Median and spread per metric, and the PASS/FAIL rows."""
    rows = wake_rows(cfg, results) + floor_rows(cfg, results)
    for t, tr in results["transports"].items():
        reps = tr["reps"]

        def s(fn):
            return summary([fn(r) for r in reps])

        raw_t = s(lambda r: r["raw"]["rate"])
        br_t = s(lambda r: r["bridge"]["rate"])
        ratio = s(lambda r: r["bridge"]["rate"] / r["raw"]["rate"] if r["raw"]["rate"] else None)
        dual = s(lambda r: r["dual_raw"]["rate"])
        rows.append((t, "throughput raw client (ev/s)", raw_t, None, None))
        rows.append((t, "throughput bridge at SUB (ev/s)", br_t, None, None))
        rows.append((t, "bridge / raw throughput", ratio, ">= 0.70",
                     ratio and ratio["median"] >= 0.7))
        rows.append((t, "2 raw clients together (ev/s)", dual, "> bridge",
                     dual and br_t and dual["median"] > br_t["median"]))
        # where the CPU goes at full rate, per event: the raw path is 2 threads, the
        # bridge's 5 (its own 2, the subscriber's 2, the devserver), on the same cores
        for who in ("raw", "bridge"):
            for key in reps[0][who]["cpu_us_per_event"]:
                rows.append((t, f"CPU us/event at full rate, {who}: {key}",
                             s(lambda r, w=who, k=key: r[w]["cpu_us_per_event"][k]), None, None))
            rows.append((t, f"CPU us/event at full rate, {who}: all",
                         s(lambda r, w=who: sum(v for v in r[w]["cpu_us_per_event"].values()
                                                if v is not None)), None, None))
        rows.append((t, "bridge events lost (seq gaps + missing)",
                     s(lambda r: r["bridge"]["seq_gaps"] + cfg.events - r["bridge"]["received"]),
                     None, None))
        for rate in cfg.rates:
            k = str(rate)
            for who in ("raw", "bridge"):
                for p in ("p50", "p90", "p99", "max"):
                    rows.append((t, f"latency {rate}/s {who} {p} (us)",
                                 s(lambda r, w=who, pp=p: (r["latency"][k][w]["pct_us"] or {})
                                   .get(pp)), None, None))
            added = s(lambda r: r["latency"][k]["bridge"]["pct_us"]["p99"]
                      - r["latency"][k]["raw"]["pct_us"]["p99"]
                      if r["latency"][k]["bridge"]["pct_us"] and r["latency"][k]["raw"]["pct_us"]
                      else None)
            rows.append((t, f"latency {rate}/s host steal (% of CPU wanted)",
                         s(lambda r: r["latency"][k].get("steal_pct")), None, None))
            target = rate in (5000, 10000)
            rows.append((t, f"latency {rate}/s added p99 bridge-raw (us)", added,
                         "< 300" if target else None,
                         (added is not None and added["median"] < 300) if target else None))
        hwm = s(lambda r: r["bridge"]["vmhwm_kb"])
        rhwm = s(lambda r: r["raw"]["vmhwm_kb"])
        mr = s(lambda r: r["bridge"]["vmhwm_kb"] / r["raw"]["vmhwm_kb"])
        rows.append((t, "RSS bridge connected, before events (kB)",
                     s(lambda r: r["bridge"]["rss_start_kb"]), None, None))
        rows.append((t, f"peak RSS bridge at {cfg.events} ev (kB)", hwm, None, None))
        rows.append((t, "peak RSS raw client (kB)", rhwm, None, None))
        rows.append((t, "peak RSS bridge / raw", mr, "< 2", mr and mr["median"] < 2))
        fl = s(lambda r: r["flat"]["growth"] * 100.0)
        rows.append((t, f"RSS growth: +{cfg.events} ev, {cfg.reconnects} reconnects (%)", fl,
                     "< 10", fl is not None and fl["max"] < 10))
        for shape in ("paced", "burst"):
            c = tr["contribute"][shape]
            for p in ("p50", "p99"):
                v = c.get(f"{p}_us")
                rows.append((t, f"contribute {shape} {p} (ms) ok={c['ok']} failed={c['failed']}",
                             summary([v / 1000.0 if v is not None else None]), None,
                             None if c["failed"] == 0 else False))
        idle = results["idle"].get(t)
        if idle:
            rows.append((t, f"idle CPU over {idle['seconds']} s (%)",
                         summary([idle["cpu_pct"]]), "< 0.1", idle["cpu_pct"] < 0.1))
            rows.append((t, f"idle wakeups/s ({idle['wakeups_source']})",
                         summary([idle["wakeups_per_s"]]), "<= 2", idle["wakeups_per_s"] <= 2))
            rows.append((t, "idle voluntary ctxt switches/s (all threads)",
                         summary([idle["ctxt_per_s"]]), None, None))
            rows.append((t, "RSS after idle (kB)", summary([idle["rss_kb"]]), None, None))
    return rows


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def print_table(rows, cfg):
    print(f"\nplurum-pulse-bridge benchmark: {cfg.reps} reps, {cfg.events} events of ~{cfg.size} B"
          f", latency {cfg.lat_seconds} s per rate in {cfg.lat_slices} slices, idle {cfg.idle_s} s"
          f"{' (quick)' if cfg.quick else ''}")
    hdr = f"{'tr':4} {'metric':52} {'median':>10} {'min..max':>23} {'target':>9} {'result':>6}"
    print(hdr)
    print("-" * len(hdr))
    for t, name, s, target, ok in rows:
        med = fmt(s["median"]) if s else "-"
        spread = f"{fmt(s['min'])}..{fmt(s['max'])}" if s and len(s["runs"]) > 1 else ""
        res = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{t:4} {name:52} {med:>10} {spread:>23} {target or '':>9} {res:>6}")
    print()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--quick", action="store_true", help="short CI run")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--events", type=int, help="throughput events (default 200000)")
    ap.add_argument("--size", type=int, default=450, help="event size in bytes")
    ap.add_argument("--rates", default="1000,5000,10000")
    ap.add_argument("--lat-seconds", type=float, help="seconds of events per latency rate")
    ap.add_argument("--lat-slices", type=int,
                    help="alternating raw/bridge slices the seconds of a rate are cut into")
    ap.add_argument("--idle-seconds", type=int, dest="idle_s")
    ap.add_argument("--reconnects", type=int)
    ap.add_argument("--contrib-rate", type=float, default=50.0, help="paced contributes/min")
    ap.add_argument("--contrib-paced", type=int, help="paced contribute count")
    ap.add_argument("--contrib-burst", type=int, help="burst contribute count")
    ap.add_argument("--contrib-concurrency", type=int, default=8)
    ap.add_argument("--transports", default="ws,wss")
    ap.add_argument("--bridge-arg", action="append", default=[], dest="bridge_args",
                    help="one more argument for every bridge (repeatable), e.g. --pub-hwm=1000")
    ap.add_argument("--timeout", type=int, default=300, dest="timeout_s",
                    help="per-step timeout in seconds")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--profile", type=int, help="only run the bridge under callgrind for N events")
    ap.add_argument("--callgrind-out", default="callgrind.out.bridge")
    cfg = ap.parse_args(argv)
    quick = {"reps": 3, "events": 50000, "lat_seconds": 2.0, "lat_slices": 2, "idle_s": 30,
             "reconnects": 3,
             "contrib_paced": 5, "contrib_burst": 40}
    full = {"reps": 3, "events": 200000, "lat_seconds": 10.0, "lat_slices": 5, "idle_s": 600,
            "reconnects": 5,
            "contrib_paced": 25, "contrib_burst": 200}
    for k, v in (quick if cfg.quick else full).items():
        if getattr(cfg, k) is None:
            setattr(cfg, k, v)
    cfg.rates = [int(x) for x in cfg.rates.split(",") if x]
    cfg.transports = [t for t in cfg.transports.split(",") if t]
    cfg.idle_ms = 3000
    cfg.bridge_log_level = "info" if cfg.profile else "warn"
    b = cfg.build
    cfg.exe = {"bridge": f"{b}/bridge/daemon/plurum-pulse-bridge",
               "devserver": f"{b}/bridge/devserver/plurum-pulse-devserver",
               "raw_client": f"{b}/bench/raw_client", "sub_meter": f"{b}/bench/sub_meter",
               "contrib_bench": f"{b}/bench/contrib_bench", "zmq_floor": f"{b}/bench/zmq_floor",
               "wake_floor": f"{b}/bench/wake_floor"}
    for name, path in cfg.exe.items():
        if not os.access(path, os.X_OK):
            ap.error(f"{name} not built: {path} (run bench/run.sh, which builds)")
    return cfg


def run_profile(cfg):
    """The bridge under callgrind for cfg.profile events at the maximum rate."""
    workdir = tempfile.mkdtemp(prefix="ppprof.")
    out = os.path.abspath(cfg.callgrind_out)
    ds = Devserver(cfg.exe["devserver"], workdir)
    br = None
    try:
        t = cfg.transports[0]
        log(f"bridge under callgrind ({t}), {cfg.profile} events")
        br = Bridge(cfg, ds, t, workdir, prefix=["valgrind", "--tool=callgrind",
                                                 f"--callgrind-out-file={out}"],
                    ready_timeout=180)
        cfg.idle_ms = 30000
        m = start_meter(cfg, br.events, cfg.profile)
        ds.emit(br.agent, cfg.profile, 0, cfg.size)
        res = finish(m, cfg.timeout_s * 4, "sub_meter")
        log(f"received {res['received']} events; stopping the bridge")
    except BenchError as e:
        log(f"FAILED: {e}")
        if br:
            with open(os.path.join(br.dir, "bridge.log"), "rb") as f:
                sys.stderr.write(f.read()[-3000:].decode(errors="replace"))
        res = {"received": -1}
    finally:
        if br:
            br.stop(timeout=120)
        ds.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if res["received"] == cfg.profile else 1


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def read_first(path, default=None):
    """The first line of a file, stripped, or default when it cannot be read."""
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return default


def machine_info():
    """What a reader needs to compare runs across machines. On a guest whose idle vCPUs halt
    at once (cpuidle haltpoll with guest_halt_poll_ns 0), every wakeup of a thread on the
    other vCPU waits for the host: the latency rows depend on it (docs/performance.md)."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), None)
    except OSError:
        pass
    poll = read_first("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    return {"cpu": model, "kernel": os.uname().release,
            "cpuidle": read_first("/sys/devices/system/cpu/cpuidle/current_driver"),
            "guest_halt_poll_ns": int(poll) if poll and poll.isdigit() else None}


def main(argv):
    cfg = parse_args(argv)
    if cfg.profile:
        return run_profile(cfg)
    workdir = tempfile.mkdtemp(prefix="ppbench.")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = {"timestamp": stamp, "git": git_rev(), "host": os.uname().nodename,
               "cpus": os.cpu_count(), "machine": machine_info(),
               "config": {k: getattr(cfg, k) for k in
                          ("quick", "reps", "events", "size", "rates", "lat_seconds",
                           "lat_slices", "idle_s", "reconnects", "contrib_rate", "contrib_paced", "contrib_burst",
                           "contrib_concurrency", "transports")},
               "transports": {}, "idle": {}}
    ds = Devserver(cfg.exe["devserver"], workdir)
    keep = {}
    rc = 0
    try:
        run_wake_floor(cfg, workdir, results)
        run_zmq_floor(cfg, workdir, results)
        for t in cfg.transports:
            keep[t] = one_transport(cfg, ds, t, workdir, results)
        log(f"idle phase: {cfg.idle_s} s with {len(keep)} bridge(s)")
        results["idle"] = run_idle(cfg, keep)
    except BenchError as e:
        log(f"FAILED: {e}")
        rc = 1
    finally:
        for b in keep.values():
            if b:
                b.stop()
        ds.stop()
    if rc:
        print(f"benchmark failed; work files in {workdir}", file=sys.stderr)
        return rc
    rows = aggregate(cfg, results)
    results["table"] = [{"transport": t, "metric": n, "summary": s, "target": tg,
                         "pass": ok} for t, n, s, tg, ok in rows]
    print_table(rows, cfg)
    m = results["machine"]
    print(f"machine: {results['cpus']} CPUs, {m['cpu']}, Linux {m['kernel']}, cpuidle "
          f"{m['cpuidle']}, guest_halt_poll_ns {m['guest_halt_poll_ns']}")
    os.makedirs(cfg.results, exist_ok=True)
    path = os.path.join(cfg.results, f"{stamp}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    shutil.copyfile(path, os.path.join(cfg.results, "latest.json"))
    print(f"results: {path} (and latest.json)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
