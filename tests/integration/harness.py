"""harness.py: the integration tests' toolkit (real processes, real sockets, no mocks).

Owns: finding the built programs, starting/stopping plurum-pulse-devserver and
plurum-pulse-bridge, a ZeroMQ SUB client for the bridge's events, the /_dev/ control calls
(docs/devserver.md), key-leak checks, and a tiny runner that runs every test_* function of
a test file with a fresh Ctx and reports.

Rules the tests follow: ephemeral ports, temp dirs, and deadlines on awaited events
instead of sleeps. Runs under Debian's /usr/bin/python3 with python3-zmq.
"""

import argparse
import calendar
import json
import os
import re
import secrets
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import zmq

BRIDGE = "plurum-pulse-bridge"
DEVSERVER = "plurum-pulse-devserver"
SUB = "plurum-pulse-sub"
CTL = "plurum-pulse-ctl"

EXPECTED_PATHS = {
    BRIDGE: "bridge/daemon",
    DEVSERVER: "bridge/devserver",
    SUB: "bridge/tools",
    CTL: "bridge/tools",
}

ISO_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")

# --- valgrind mode (tests/valgrind.sh) -------------------------------------------------
# PP_VALGRIND=1 runs every bridge the harness starts (Bridge, run_bridge_once) under
# memcheck; PP_VALGRIND=all runs the devserver under it too. Each run writes
# <its dir>/vg.<pid>.log; Ctx.finish fails the test when a log reports errors (invalid
# reads/writes, uninitialised use...) or definite/indirect leaks. Why a log file rather
# than stderr: tests read the bridge's stderr. Deadlines scale by TIME_SCALE because memcheck
# runs the program ~20-50x slower. Without PP_VALGRIND nothing here changes behaviour.
VALGRIND = os.environ.get("PP_VALGRIND", "") in ("1", "all")
VALGRIND_DEVSERVER = os.environ.get("PP_VALGRIND", "") == "all"
TIME_SCALE = float(os.environ.get("PP_TIME_SCALE", "10" if VALGRIND else "1"))
VG_ERRORS_RE = re.compile(r"ERROR SUMMARY: (\d+) errors")
VG_LOST_RE = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes")


def scaled(timeout):
    """A deadline in seconds, stretched when the programs run under valgrind."""
    return timeout * TIME_SCALE


def valgrind_argv(log_dir):
    """The memcheck command prefix; its log goes to log_dir/vg.<pid>.log.
    --fair-sched=yes: valgrind runs one thread at a time, and its default lock lets a thread
    that keeps making syscalls take it back at once. Under a command flood the bridge's
    thread did so for over a second, ZeroMQ's I/O thread did not get to run, and the
    subscriber overflowed (--pub-stall-ms) although it was reading: a stall of valgrind's,
    not of the bridge's, whose threads run side by side without it."""
    return ["valgrind", "--tool=memcheck", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-fds=no",
            "--num-callers=30", "--fair-sched=yes", "--log-file=%s/vg.%%p.log" % log_dir]


def valgrind_problems(log_dir):
    """Error texts for every vg.*.log in log_dir that reports errors or leaks."""
    out = []
    try:
        names = sorted(n for n in os.listdir(log_dir)
                       if n.startswith("vg.") and n.endswith(".log"))
    except FileNotFoundError:
        return out
    for n in names:
        text = read_file(os.path.join(log_dir, n))
        errs = sum(int(m) for m in VG_ERRORS_RE.findall(text))
        lost = sum(int(b.replace(",", "")) for _k, b in VG_LOST_RE.findall(text))
        if errs or lost:
            out.append("valgrind: %d errors, %d bytes definitely/indirectly lost in %s:\n%s"
                       % (errs, lost, n, text[-6000:]))
    return out


class TestFailure(AssertionError):
    pass


class Timeout(TestFailure):
    pass


class Skip(Exception):
    """Raised when a program the test needs is not built."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def gen_key():
    """A test API key: plrm_live_ + 32 random hex characters."""
    return "plrm_live_" + secrets.token_hex(16)


def key_tail(key):
    return key[-12:]


def assert_no_key(text, key, where="output"):
    """The key, and its distinctive random tail, appear nowhere in text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    check(key not in text, "API key leaked in %s" % where)
    check(key_tail(key) not in text, "API key tail leaked in %s" % where)


def sanitized(build_dir):
    """True when build_dir was configured with PP_SANITIZE (ASan's allocator keeps freed
    memory in quarantine, so RSS there says nothing about the program's own)."""
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            return any(line.startswith("PP_SANITIZE:BOOL=ON") for line in f)
    except OSError:
        return False


def find_binary(build_dir, name, required=True):
    """The program's path in the build dir (expected layout first, else a search)."""
    p = os.path.join(build_dir, EXPECTED_PATHS.get(name, ""), name)
    if os.path.isfile(p) and os.access(p, os.X_OK):
        return p
    for root, _dirs, files in os.walk(build_dir):
        if name in files:
            q = os.path.join(root, name)
            if os.access(q, os.X_OK):
                return q
    if required:
        raise Skip("%s not built in %s" % (name, build_dir))
    return None


def deadline_loop(timeout, step=0.02):
    """Yields until timeout seconds (scaled under valgrind) have passed, pausing `step`
    between polls."""
    end = time.monotonic() + scaled(timeout)
    while True:
        yield
        if time.monotonic() >= end:
            return
        time.sleep(step)


def wait_until(pred, timeout, what):
    """Poll pred() until it returns a truthy value; that value is returned."""
    for _ in deadline_loop(timeout):
        v = pred()
        if v:
            return v
    raise Timeout("timed out after %.1fs waiting for %s" % (scaled(timeout), what))


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------------------
# plurum-pulse-devserver


class DevServer:
    """A running devserver. agents: {key: agent_id}."""

    def __init__(self, ctx, agents, tls=False, extra=()):
        self.ctx = ctx
        self.binary = find_binary(ctx.build_dir, DEVSERVER)
        self.agents = dict(agents)
        self.tls = tls
        self.extra = list(extra)
        self.port = 0
        self.tls_port = 0 if tls else -1
        self.cert_dir = ctx.mkdir("devcert")
        self.cert = None
        self.proc = None
        self.generation = 0
        self.stderr_path = None
        self._start()

    def _argv(self):
        argv = [self.binary, "--port", str(self.port), "--tls-port", str(self.tls_port),
                "--cert-dir", self.cert_dir]
        if VALGRIND_DEVSERVER:
            argv = valgrind_argv(self.ctx.tmp) + argv
        for k, a in self.agents.items():
            argv += ["--agent", "%s=%s" % (k, a)]
        return argv + self.extra

    def _start(self, timeout=10.0):
        """Start and wait for the ready line; retries while the port is still taken."""
        end = time.monotonic() + scaled(timeout)
        last = ""
        while True:
            self.generation += 1
            self.stderr_path = self.ctx.path("devserver.%d.stderr" % self.generation)
            err = open(self.stderr_path, "wb")
            self.proc = subprocess.Popen(self._argv(), stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL)
            err.close()
            ready = self._read_ready(max(0.5, end - time.monotonic()))
            if ready is not None:
                break
            last = read_file(self.stderr_path)[-2000:]
            self._reap()
            if time.monotonic() >= end:
                raise TestFailure("devserver did not become ready: %s" % last)
            time.sleep(0.1)  # the old listener's port is not free yet: retry
        self.port = ready["port"]
        if self.tls:
            self.tls_port = ready["tls_port"]
            self.cert = ready["cert"]
        self.ctx.note_process(self)

    def _read_ready(self, timeout):
        end = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                return None  # exited
            buf += chunk
            if b"\n" in buf:
                line = buf.split(b"\n", 1)[0]
                try:
                    ready = json.loads(line)
                except ValueError:
                    raise TestFailure("devserver ready line is not JSON: %r" % line[:200])
                check(ready.get("ready") is True, "bad ready line %r" % ready)
                return ready
        return None

    def _reap(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/api/v1/pulse/ws" % self.port

    @property
    def wss_url(self):
        return "wss://localhost:%d/api/v1/pulse/ws" % self.tls_port

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()

    def restart(self):
        """kill -9 and start again on the same port(s), same agents, same cert dir."""
        if self.proc.poll() is None:
            self.kill9()
        self._start()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(scaled(5))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    # -- control interface (/_dev/ over the plain listener)
    def call(self, method, path, body=None, expect_ok=True):
        url = "http://127.0.0.1:%d/_dev/%s" % (self.port, path.lstrip("/"))
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=scaled(10)) as r:
                ans = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                ans = json.loads(raw)
            except ValueError:
                ans = {"ok": False, "error": "HTTP %d %r" % (e.code, raw[:200])}
        if expect_ok:
            check(ans.get("ok") is True, "/_dev/%s failed: %r" % (path, ans))
        return ans

    def state(self):
        return self.call("GET", "state")

    def add_agent(self, key, agent_id=None):
        body = {"api_key": key}
        if agent_id:
            body["agent_id"] = agent_id
        ans = self.call("POST", "agents", body)
        self.agents[key] = ans["agent_id"]
        return ans["agent_id"]

    def open_session(self, owner, topic, domain=None, tools_used=None, visibility=None,
                     with_domain=True):
        body = {"owner": owner, "topic": topic}
        if with_domain:
            body["domain"] = domain
        if tools_used is not None:
            body["tools_used"] = tools_used
        if visibility:
            body["visibility"] = visibility
        ans = self.call("POST", "sessions", body)
        return ans["session_id"], ans.get("short_id")

    def close_session(self, sid, outcome=None, experience=None):
        body = {}
        if outcome is not None:
            body["outcome"] = outcome
        if experience is not None:
            body["experience"] = experience
        return self.call("POST", "sessions/%s/close" % sid, body)

    def contribute(self, sid, contributor, content, ctype=None):
        body = {"contributor": contributor, "content": content}
        if ctype:
            body["contribution_type"] = ctype
        return self.call("POST", "sessions/%s/contribute" % sid, body)["contribution"]

    def send(self, agent_id=None, text=None, binary_hex=None, size=None):
        body = {}
        if agent_id:
            body["agent_id"] = agent_id
        if text is not None:
            body["text"] = text
        if binary_hex is not None:
            body["binary_hex"] = binary_hex
        if size is not None:
            body["size"] = size
        return self.call("POST", "send", body)

    def close_conn(self, code, agent_id=None, reason=None):
        body = {"code": code}
        if agent_id:
            body["agent_id"] = agent_id
        if reason:
            body["reason"] = reason
        return self.call("POST", "close", body)

    def stall(self, agent_id=None):
        return self.call("POST", "stall", {"agent_id": agent_id} if agent_id else {})

    def connections(self, agent_id=None, authed=True):
        return [c for c in self.state()["connections"]
                if (agent_id is None or c.get("agent_id") == agent_id)
                and (not authed or c.get("authed"))]


# ---------------------------------------------------------------------------------------
# plurum-pulse-bridge


class Bridge:
    """A running bridge. key: given through PLURUM_API_KEY, or through a 0600 key file when
    key_file=True. Endpoints are ipc sockets in the test's temp dir."""

    def __init__(self, ctx, url, key, key_file=False, ca_file=None, extra=(), env=None,
                 name="bridge"):
        self.ctx = ctx
        self.binary = find_binary(ctx.build_dir, BRIDGE)
        self.key = key
        self.dir = ctx.mkdir(name)
        self.events = "ipc://%s/ev.sock" % self.dir
        self.commands = "ipc://%s/cmd.sock" % self.dir
        argv = [self.binary, "--url", url, "--events", self.events, "--commands",
                self.commands]
        if VALGRIND:
            argv = valgrind_argv(self.dir) + argv  # same pid: valgrind runs in-process
        e = clean_env()
        if env:
            e.update(env)
        if key is not None:
            if key_file:
                self.key_path = os.path.join(self.dir, "api-key")
                write_key_file(self.key_path, key)
                argv += ["--api-key-file", self.key_path]
            else:
                e["PLURUM_API_KEY"] = key
        if ca_file:
            argv += ["--ca-file", ca_file]
        argv += list(extra)
        self.argv = argv
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.stdout_path = os.path.join(self.dir, "stdout")
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=e,
                                         stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        ctx.note_process(self)
        if key is not None:
            ctx.secrets.add(key)

    def stderr(self):
        return read_file(self.stderr_path)

    def alive(self):
        return self.proc.poll() is None

    def sub(self, prefixes, sync=True):
        return self.ctx.sub(self.events, prefixes, sync=sync)

    def wait_state(self, state, timeout=10.0):
        """A fresh bridge.status subscriber; returns the first status with this state."""
        s = self.sub(["bridge.status"], sync=False)
        try:
            return await_status(s, state, timeout)
        finally:
            s.close()

    def stop(self, timeout=5.0):
        """SIGTERM; the bridge must exit 0 within timeout (scaled under valgrind)."""
        timeout = scaled(timeout)
        if self.proc.poll() is not None:
            check(self.proc.returncode == 0, "bridge had exited with %d: %s" %
                  (self.proc.returncode, self.stderr()[-2000:]))
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("bridge did not exit within %.0fs of SIGTERM" % timeout)
        check(rc == 0, "bridge exited %d after SIGTERM: %s" % (rc, self.stderr()[-2000:]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def clean_env():
    """The environment for child programs, without any PLURUM_* leftovers."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PLURUM_")}
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return e


def write_key_file(path, key, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.chmod(path, mode)


def run_bridge_once(ctx, args, env=None, timeout=10.0):
    """Run the bridge to completion (--help, --check-config, bad settings).
    Returns (rc, stdout, stderr)."""
    binary = find_binary(ctx.build_dir, BRIDGE)
    e = clean_env()
    if env:
        e.update(env)
    prefix = valgrind_argv(ctx.tmp) if VALGRIND else []
    p = subprocess.run(prefix + [binary] + list(args), env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=scaled(timeout))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    ctx.outputs.append(out + err)
    return p.returncode, out, err


# ---------------------------------------------------------------------------------------
# ZeroMQ subscriber


class Sub:
    """A SUB socket on the bridge's event endpoint. recv() returns (topic, envelope)."""

    def __init__(self, zctx, endpoint, prefixes):
        self.sock = zctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        self.sock.connect(endpoint)
        self.prefixes = list(prefixes)
        for p in self.prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.synced = False
        self.pending = []  # messages received while syncing, for the user's prefixes
        self.raw = []  # every (topic, envelope text) received, for leak checks

    def sync(self, timeout=10.0):
        """Wait until the bridge has our subscriptions: subscribe bridge.status too and
        wait for the cached status the bridge re-sends to a new subscriber. Subscriptions
        travel in order, so the earlier prefixes are active once it arrives."""
        extra = not any("bridge.status".startswith(p) for p in self.prefixes)
        if extra:
            self.sock.setsockopt(zmq.SUBSCRIBE, b"bridge.status")
        match, skipped = self.recv_until(lambda t, e: t == "bridge.status", timeout,
                                         "bridge.status")
        if extra:
            self.sock.setsockopt(zmq.UNSUBSCRIBE, b"bridge.status")
            self.synced = True
        # What we received meanwhile is still the user's (the status too when the user's
        # prefixes cover it): recv() returns it first.
        for t, e in skipped + [match]:
            if any(t.startswith(p) for p in self.prefixes):
                self.pending.append((t, e))

    def recv(self, timeout):
        """The next message within timeout seconds (scaled under valgrind), else Timeout."""
        return self._recv(scaled(timeout))

    def _recv(self, timeout):
        if self.pending:
            return self.pending.pop(0)
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            raise Timeout("no event within %.1fs on %r" % (timeout, self.prefixes))
        frames = self.sock.recv_multipart()
        check(len(frames) == 2, "expected 2 frames, got %d" % len(frames))
        topic = frames[0].decode("utf-8")
        text = frames[1].decode("utf-8")
        self.raw.append((topic, text))
        env = json.loads(text)
        return topic, env

    def try_recv(self, timeout):
        try:
            return self.recv(timeout)
        except Timeout:
            return None

    def recv_until(self, pred, timeout, what="event"):
        """Receive until pred(topic, env); returns (match, skipped list)."""
        end = time.monotonic() + scaled(timeout)
        skipped = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout("timed out after %.1fs waiting for %s (got %s)" %
                              (scaled(timeout), what, [t for t, _ in skipped][-20:]))
            try:
                t, e = self._recv(left)
            except Timeout:
                continue
            if pred(t, e):
                return (t, e), skipped
            skipped.append((t, e))

    def drain(self, quiet=0.2):
        """Everything that arrives until `quiet` seconds pass with nothing."""
        out = []
        while True:
            m = self.try_recv(quiet)
            if m is None:
                return out
            out.append(m)

    def close(self):
        self.sock.close(0)


def await_status(sub, state, timeout=10.0, pred=None):
    """The next bridge.status envelope with data.state == state (and pred(env) if given)."""
    def match(t, e):
        return (t == "bridge.status" and e["data"].get("state") == state
                and (pred is None or pred(e)))
    (_, env), _ = sub.recv_until(match, timeout, "bridge.status %s" % state)
    return env


def await_topic(sub, topic, timeout=10.0):
    (_, env), skipped = sub.recv_until(lambda t, e: t == topic, timeout, topic)
    return env, skipped


def data_keys(env):
    return list(env["data"].keys())


def check_envelope(env, typ, run=None, agent_id=None, source="live"):
    """The common envelope fields, in the contract's order."""
    keys = list(env.keys())
    check(keys == ["v", "run", "seq", "id", "type", "source", "received_at", "agent_id",
                   "data"], "envelope keys/order: %r" % keys)
    check(env["v"] == 1, "v: %r" % env["v"])
    check(isinstance(env["run"], str) and env["run"], "run: %r" % env["run"])
    if run is not None:
        check(env["run"] == run, "run changed: %r != %r" % (env["run"], run))
    check(isinstance(env["seq"], int) and env["seq"] >= 1, "seq: %r" % env["seq"])
    check(env["type"] == typ, "type: %r != %r" % (env["type"], typ))
    check(env["source"] == source, "source: %r != %r" % (env["source"], source))
    check(ISO_MS_RE.match(env["received_at"] or ""), "received_at: %r" % env["received_at"])
    got = calendar.timegm(time.strptime(env["received_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    check(abs(got - time.time()) < 120, "received_at not now: %r" % env["received_at"])
    if agent_id is not None:
        check(env["agent_id"] == agent_id, "agent_id: %r != %r" % (env["agent_id"], agent_id))
    check(isinstance(env["data"], dict), "data: %r" % type(env["data"]))


# ---------------------------------------------------------------------------------------
# Per-test context and runner


class Ctx:
    """Owns one test's temp dir, processes and sockets; cleaned up after the test."""

    def __init__(self, build_dir, name):
        self.build_dir = build_dir
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="ppit.")
        self.zctx = zmq.Context()
        self.procs = []
        self.subs = []
        self.secrets = set()
        self.outputs = []

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def mkdir(self, name):
        p = os.path.join(self.tmp, name)
        n = 1
        while os.path.exists(p):
            n += 1
            p = os.path.join(self.tmp, "%s%d" % (name, n))
        os.mkdir(p, 0o700)
        return p

    def note_process(self, p):
        if p not in self.procs:
            self.procs.append(p)

    def devserver(self, agents, tls=False, extra=()):
        return DevServer(self, agents, tls=tls, extra=extra)

    def bridge(self, url, key, **kw):
        return Bridge(self, url, key, **kw)

    def sub(self, endpoint, prefixes, sync=True, timeout=10.0):
        s = Sub(self.zctx, endpoint, prefixes)
        self.subs.append(s)
        if sync:
            s.sync(timeout)
        return s

    def finish(self, ok):
        """Stop everything. On success, bridges must exit 0 on SIGTERM; sanitizer reports
        and key leaks in any captured output fail the test."""
        errors = []
        for p in reversed(self.procs):
            if isinstance(p, Bridge):
                try:
                    if ok:
                        p.stop()
                    else:
                        p.kill()
                except TestFailure as e:
                    errors.append(str(e))
                    p.kill()
        for p in self.procs:
            if isinstance(p, DevServer):
                p.stop()
        for s in self.subs:
            s.close()
        self.zctx.term()
        texts = list(self.outputs)
        for p in self.procs:
            if isinstance(p, Bridge):
                texts.append(p.stderr())
                texts.append(read_file(p.stdout_path))
        for s in self.subs:
            texts.extend(t for _, t in s.raw)
        if VALGRIND:  # every process has exited by now: its log is complete
            errors += valgrind_problems(self.tmp)
            for p in self.procs:
                if isinstance(p, Bridge):
                    errors += valgrind_problems(p.dir)
        for t in texts:
            for mark in SANITIZER_MARKS:
                if mark in t:
                    errors.append("sanitizer report: %s" % t[t.index(mark):][:3000])
            for k in self.secrets:
                try:
                    assert_no_key(t, k, "captured output")
                except TestFailure as e:
                    errors.append(str(e))
        if ok or os.environ.get("PP_IT_KEEP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return errors

    def dump_logs(self):
        for p in self.procs:
            path = getattr(p, "stderr_path", None)
            if path:
                text = read_file(path)
                for k in self.secrets:
                    text = text.replace(k, "plrm_live_[TEST-REDACTED]")
                lines = text.splitlines()[-40:]
                sys.stdout.write("---- %s (last %d lines)\n" % (os.path.basename(
                    os.path.dirname(path)) + "/" + os.path.basename(path), len(lines)))
                for ln in lines:
                    sys.stdout.write("   " + ln[:400] + "\n")


def main(module_globals):
    """Run the file's test_* functions (each gets a fresh Ctx) and report.
    Usage: test_x.py --build-dir DIR [-k SUBSTRING]. Exit 0 only if all pass."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f) and args.k in n]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    failed, skipped = [], []
    t_all = time.monotonic()
    for name, fn in tests:
        t0 = time.monotonic()
        ctx = Ctx(build_dir, name)
        ok, errors = False, []
        try:
            fn(ctx)
            ok = True
        except Skip as e:
            skipped.append(name)
            print("SKIP %s: %s" % (name, e), flush=True)
            ctx.finish(False)
            continue
        except Exception:
            errors.append(traceback.format_exc())
        if not ok:
            ctx.dump_logs()
        errors += ctx.finish(ok)
        dt = time.monotonic() - t0
        if errors:
            failed.append(name)
            print("FAIL %s (%.1fs)" % (name, dt), flush=True)
            for e in errors:
                print("   " + e.replace("\n", "\n   "), flush=True)
        else:
            print("PASS %s (%.1fs)" % (name, dt), flush=True)
    print("%d passed, %d failed, %d skipped in %.1fs" % (
        len(tests) - len(failed) - len(skipped), len(failed), len(skipped),
        time.monotonic() - t_all), flush=True)
    if failed:
        print("failed: " + " ".join(failed))
        sys.exit(1)
    if skipped and len(skipped) == len(tests):
        sys.exit(77)  # ctest SKIP_RETURN_CODE: nothing could run
    sys.exit(0)
