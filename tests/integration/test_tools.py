"""test_tools.py: plurum-pulse-sub, plurum-pulse-ctl and libplurum-pulse against fake peers.

Usage: /usr/bin/python3 tests/integration/test_tools.py BUILD_DIR [TEST_NAME...]

No bridge is started: an XPUB socket stands in for the bridge's event socket (XPUB rather
than PUB so the test can await the tool's subscription instead of sleeping), and a ROUTER
socket in a thread stands in for its command socket, answering with scripted replies. The
tests assert the tools' exact output bytes and exit statuses (0/1/2/3), the request texts
they send, and the library's discarding of stale replies (through ctypes).
Exits 0 when every test passes, 1 otherwise, 77 when the programs are not built.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import zmq

DEADLINE_S = 15

BUILD = None
SUB = None
CTL = None
LIB = None


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# ---- fake peers ------------------------------------------------------------------------

class FakePub:
    """An XPUB bound on an ephemeral port: the bridge's event socket, as far as sub knows."""

    def __init__(self, ctx, sndhwm=None):
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if sndhwm is not None:
            self.sock.setsockopt(zmq.SNDHWM, sndhwm)  # before bind: the listener copies it
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def await_subscription(self, prefix=b""):
        """Block (bounded) until a subscriber subscribes to prefix."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.sock.poll(100):
                msg = self.sock.recv()
                if msg == b"\x01" + prefix:
                    return
        raise Failure("no subscription to %r arrived" % prefix)

    def send(self, *frames):
        self.sock.send_multipart(list(frames))

    def close(self):
        self.sock.close()


class FakeRouter:
    """A ROUTER on an ephemeral port answering each request with answer(request_dict),
    which returns a list of (delay_s, reply_bytes) to send back, in order."""

    def __init__(self, ctx, answer):
        self.ctx = ctx
        self.answer = answer
        self.requests = []      # (frames, parsed request or None)
        self.stop = threading.Event()
        self.bound = threading.Event()
        self.endpoint = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        check(self.bound.wait(DEADLINE_S), "fake router did not start")

    def _run(self):
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind("tcp://127.0.0.1:*")
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.bound.set()
        pending = []  # (due_time, frames)
        while not self.stop.is_set():
            timeout = 50
            if pending:
                timeout = max(0, min(50, int((pending[0][0] - time.monotonic()) * 1000)))
            if sock.poll(timeout):
                frames = sock.recv_multipart()
                try:
                    req = json.loads(frames[-1])
                except ValueError:
                    req = None
                self.requests.append((frames, req))
                now = time.monotonic()
                for delay, reply in self.answer(req):
                    pending.append((now + delay, [frames[0], b"", reply]))
                pending.sort(key=lambda p: p[0])
            while pending and pending[0][0] <= time.monotonic():
                sock.send_multipart(pending.pop(0)[1])
        sock.close()

    def close(self):
        self.stop.set()
        self.thread.join(DEADLINE_S)


def echo_ok(extra=None):
    """An answer function: {"ok":true,"id":<the request's id>, ...extra}."""
    def answer(req):
        rep = {"ok": True, "id": req.get("id")}
        rep.update(extra or {})
        return [(0, json.dumps(rep, separators=(",", ":")).encode())]
    return answer


def run(args, timeout=DEADLINE_S, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def no_sanitizer_reports(p):
    err = p.stderr.decode(errors="replace")
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        check(mark not in err, "sanitizer report:\n" + err)


# ---- plurum-pulse-sub -------------------------------------------------------------------

def test_sub_prints_each_envelope_exactly_and_skips_malformed(ctx):
    pub = FakePub(ctx)
    try:
        env1 = b'{"v":1,"seq":1,"type":"session.opened","data":{"t":"caf\xc3\xa9 \\"q\\""}}'
        env2 = b'{"v":1,"seq":2}'
        p = subprocess.Popen([SUB, "--events", pub.endpoint, "--count", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pub.await_subscription(b"")
        pub.send(b"session.opened.x", env1)
        pub.send(b"one-frame-only")
        pub.send(b"a", b"b", b"three frames")
        pub.send(b"bridge.status", env2)
        out, err = p.communicate(timeout=DEADLINE_S)
        check(p.returncode == 0, "exit %d, stderr %r" % (p.returncode, err))
        check(out == env1 + b"\n" + env2 + b"\n", "output %r" % out)
    finally:
        pub.close()


def test_sub_reads_a_burst_in_order_and_stops_at_its_count(ctx):
    """A burst is drained without a wait per event; --count still ends it exactly."""
    n = 5000
    for count in (n, 3):
        pub = FakePub(ctx, sndhwm=0)  # unbounded: the burst must not be dropped here
        try:
            p = subprocess.Popen([SUB, "--events", pub.endpoint, "--count", str(count)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            pub.await_subscription(b"")
            for i in range(1, n + 1):
                pub.send(b"contribution.received.s", b'{"v":1,"seq":%d}' % i)
            out, err = p.communicate(timeout=DEADLINE_S)
            check(p.returncode == 0, "exit %d, stderr %r" % (p.returncode, err))
            want = b"".join(b'{"v":1,"seq":%d}\n' % i for i in range(1, count + 1))
            check(out == want, "--count %d: %d lines, first %r" % (
                count, out.count(b"\n"), out[:60]))
        finally:
            pub.close()

def test_sub_filters_by_prefix(ctx):
    pub = FakePub(ctx)
    try:
        p = subprocess.Popen([SUB, "--events=" + pub.endpoint, "--count", "1", "session."],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pub.await_subscription(b"session.")
        pub.send(b"bridge.status", b'{"skip":1}')
        pub.send(b"session.closed.none", b'{"keep":1}')
        out, _ = p.communicate(timeout=DEADLINE_S)
        check(p.returncode == 0 and out == b'{"keep":1}\n', "got %d %r" % (p.returncode, out))
    finally:
        pub.close()


def test_sub_flushes_every_line_to_a_pipe_and_exits_0_on_sigterm(ctx):
    pub = FakePub(ctx)
    try:
        p = subprocess.Popen([SUB, "--events", pub.endpoint], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        pub.await_subscription(b"")
        pub.send(b"t", b'{"first":true}')
        line = p.stdout.readline()  # arrives while sub still runs: flushed per line
        check(line == b'{"first":true}\n', "line %r" % line)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=DEADLINE_S)
        check(rc == 0, "SIGTERM exit %d" % rc)
    finally:
        pub.close()


def test_sub_exits_0_on_sigint(ctx):
    pub = FakePub(ctx)
    try:
        p = subprocess.Popen([SUB, "--events", pub.endpoint], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        pub.await_subscription(b"")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=DEADLINE_S)
        check(p.returncode == 0, "SIGINT exit %d %r" % (p.returncode, err))
        check(out == b"", "output %r" % out)
    finally:
        pub.close()


def test_sub_pretty_prints_topic_then_indented_json(ctx):
    pub = FakePub(ctx)
    try:
        p = subprocess.Popen([SUB, "--events", pub.endpoint, "--pretty", "--count", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pub.await_subscription(b"")
        pub.send(b"bridge.status", b'{"v":1,"data":{"state":"connected"}}')
        out, _ = p.communicate(timeout=DEADLINE_S)
        lines = out.decode().split("\n")
        check(p.returncode == 0, "exit %d" % p.returncode)
        check(lines[0] == "bridge.status", "topic line %r" % lines[0])
        check(json.loads("\n".join(lines[1:])) == {"v": 1, "data": {"state": "connected"}},
              "json %r" % out)
        check(lines[1] == "{" and lines[2].startswith("  "), "not indented: %r" % out)
    finally:
        pub.close()


def test_sub_timeout_without_events_exits_1(ctx):
    pub = FakePub(ctx)
    try:
        p = run([SUB, "--events", pub.endpoint, "--timeout-ms", "300"])
        check(p.returncode == 1, "exit %d" % p.returncode)
        check(p.stdout == b"", "output %r" % p.stdout)
        no_sanitizer_reports(p)
    finally:
        pub.close()


def test_sub_bad_flags_exit_2_with_one_line(ctx):
    for args in (["--count", "0"], ["--count", "x"], ["--bogus"], ["--timeout-ms"],
                 ["--events", ""], ["--events", "nonsense://x", "--timeout-ms", "10"]):
        p = run([SUB] + args)
        err = p.stderr.decode()
        check(p.returncode == 2, "%s: exit %d" % (args, p.returncode))
        check(err.count("\n") == 1 and err.startswith("plurum-pulse-sub: "),
              "%s: stderr %r" % (args, err))
    p = run([SUB, "--help"])
    check(p.returncode == 0 and b"--timeout-ms" in p.stdout, "--help")


# ---- plurum-pulse-ctl -------------------------------------------------------------------

def test_ctl_ping_ok_exits_0_and_prints_the_reply_line(ctx):
    r = FakeRouter(ctx, echo_ok())
    try:
        p = run([CTL, "--commands", r.endpoint, "ping"])
        check(p.returncode == 0, "exit %d %r" % (p.returncode, p.stderr))
        frames, req = r.requests[0]
        check(len(frames) == 3 and frames[1] == b"", "envelope %r" % frames)
        check(req["cmd"] == "ping" and req["id"].startswith("ppc-"), "request %r" % req)
        want = json.dumps({"ok": True, "id": req["id"]}, separators=(",", ":")) + "\n"
        check(p.stdout.decode() == want, "stdout %r" % p.stdout)
        no_sanitizer_reports(p)
    finally:
        r.close()


def test_ctl_error_reply_exits_1(ctx):
    def answer(req):
        return [(0, json.dumps({"ok": False, "id": req["id"],
                                "error": {"code": "bad_request", "message": "m"}}).encode())]
    r = FakeRouter(ctx, answer)
    try:
        p = run([CTL, "--commands", r.endpoint, "status"])
        check(p.returncode == 1, "exit %d" % p.returncode)
        check(json.loads(p.stdout)["error"]["code"] == "bad_request", "stdout %r" % p.stdout)
    finally:
        r.close()


def test_ctl_no_reply_exits_3_with_one_clear_line(ctx):
    r = FakeRouter(ctx, lambda req: [])
    try:
        p = run([CTL, "--commands", r.endpoint, "--timeout", "300", "status"])
        want = ("plurum-pulse-ctl: no reply from the bridge at %s within 300 ms "
                "(is plurum-pulse-bridge running?)\n" % r.endpoint)
        check(p.returncode == 3, "exit %d" % p.returncode)
        check(p.stderr.decode() == want, "stderr %r" % p.stderr)
    finally:
        r.close()
    # Nobody listening at all: same answer, no hang.
    p = run([CTL, "--commands", "ipc:///nonexistent-dir/x.sock", "--timeout", "200", "ping"])
    check(p.returncode == 3, "no listener: exit %d" % p.returncode)


def test_ctl_discards_replies_with_another_id(ctx):
    def answer(req):
        stale = {"ok": False, "id": "ppc-1-00000000-7", "error": {"code": "x", "message": ""}}
        other = {"ok": False, "id": req["id"] + "x", "error": {"code": "x", "message": ""}}
        return [(0, json.dumps(stale).encode()), (0, json.dumps(other).encode()),
                (0, json.dumps({"ok": True, "id": req["id"], "state": "connected"}).encode())]
    r = FakeRouter(ctx, answer)
    try:
        p = run([CTL, "--commands", r.endpoint, "status"])
        check(p.returncode == 0, "exit %d %r" % (p.returncode, p.stdout))
        check(json.loads(p.stdout)["state"] == "connected", "stdout %r" % p.stdout)
    finally:
        r.close()


def test_ctl_contribute_builds_the_request_and_matches_the_callers_id(ctx):
    text = 'say "hi"\\ \n\ttab caf\u00e9'

    def answer(req):
        wrong = {"ok": True, "id": "not-mine"}
        return [(0, json.dumps(wrong).encode()),
                (0, json.dumps({"ok": True, "id": req["id"], "via": "rest"}).encode())]
    r = FakeRouter(ctx, answer)
    try:
        p = run([CTL, "--commands", r.endpoint, "contribute", "sess-1", "--text", text,
                 "--type", "warning", "--id", "my-id-1", "--timeout", "1500"])
        check(p.returncode == 0, "exit %d %r" % (p.returncode, p.stderr))
        check(json.loads(p.stdout) == {"ok": True, "id": "my-id-1", "via": "rest"},
              "stdout %r" % p.stdout)
        req = r.requests[0][1]
        check(req == {"cmd": "contribute", "id": "my-id-1", "session_id": "sess-1",
                      "content": {"text": text}, "contribution_type": "warning",
                      "timeout_ms": 1500}, "request %r" % req)
    finally:
        r.close()


def test_ctl_contribute_json_content_is_passed_as_written(ctx):
    r = FakeRouter(ctx, echo_ok())
    try:
        obj = '{"steps":[{"text":"a"}],"n":0.1}'
        p = run([CTL, "--commands", r.endpoint, "contribute", "S", "--json", obj])
        check(p.returncode == 0, "exit %d" % p.returncode)
        raw = r.requests[0][0][-1].decode()
        check('"content":' + obj in raw, "raw %r" % raw)
        req = r.requests[0][1]
        check(req["contribution_type"] == "suggestion" and req["timeout_ms"] == 10000,
              "defaults %r" % req)
    finally:
        r.close()


def test_ctl_contribute_waits_past_its_own_timeout(ctx):
    # The bridge answers after 1.2 s; the global wait is 300 ms, but contribute waits for
    # at least its timeout_ms (1000) + 2000 ms so the bridge's own answer is seen.
    def answer(req):
        return [(1.2, json.dumps({"ok": False, "id": req["id"], "error": {
            "code": "not_connected", "message": "m"}}).encode())]
    r = FakeRouter(ctx, answer)
    try:
        p = run([CTL, "--commands", r.endpoint, "--timeout", "300", "contribute", "S",
                 "--text", "t", "--timeout", "1000"])
        check(p.returncode == 1, "exit %d %r" % (p.returncode, p.stderr))
        check(json.loads(p.stdout)["error"]["code"] == "not_connected", "stdout")
    finally:
        r.close()


def test_ctl_replay_outcome_status_requests(ctx):
    r = FakeRouter(ctx, echo_ok())
    try:
        for args, want in ((["replay", "--after", "5", "--limit", "10"],
                            {"cmd": "replay", "after_seq": 5, "limit": 10}),
                           (["replay"], {"cmd": "replay", "after_seq": 0}),
                           (["outcome", "abc"], {"cmd": "outcome", "id": "abc"}),
                           (["status"], {"cmd": "status"})):
            n = len(r.requests)
            p = run([CTL, "--commands", r.endpoint] + args)
            check(p.returncode == 0, "%s: exit %d" % (args, p.returncode))
            req = dict(r.requests[n][1])
            if args[0] != "outcome":
                check(req.pop("id").startswith("ppc-"), "%s: id" % args)
            check(req == want, "%s: request %r" % (args, req))
        p = run([CTL, "--commands", r.endpoint, "--pretty", "ping"])
        check(p.returncode == 0 and p.stdout.startswith(b"{\n  "), "pretty %r" % p.stdout)
    finally:
        r.close()


def test_ctl_reply_without_id_is_accepted(ctx):
    r = FakeRouter(ctx, lambda req: [(0, b'{"ok":false,"error":{"code":"bad_request",'
                                         b'"message":"not JSON"}}')])
    try:
        p = run([CTL, "--commands", r.endpoint, "--timeout", "3000", "ping"])
        check(p.returncode == 1, "exit %d" % p.returncode)
    finally:
        r.close()


def test_ctl_usage_errors_exit_2_with_one_line(ctx):
    cases = ([], ["frobnicate"], ["--bogus", "ping"], ["ping", "extra"],
             ["contribute"], ["contribute", "S"], ["contribute", "S", "--text", "a",
                                                   "--json", "{}"],
             ["contribute", "S", "--json", "[1,2]"], ["contribute", "S", "--json", "42"],
             ["contribute", "S", "--json", "{nope"], ["contribute", "S", "--text", "t",
                                                      "--type", "rant"],
             ["contribute", "S", "--text", "t", "--timeout", "0"],
             ["replay", "--after", "-1"], ["replay", "--limit", "x"], ["outcome"],
             ["--timeout"], ["--commands", "bogus://x", "ping"])
    for args in cases:
        p = run([CTL, "--commands", "tcp://127.0.0.1:1", "--timeout", "100"] + args)
        err = p.stderr.decode()
        check(p.returncode == 2, "%s: exit %d, stderr %r" % (args, p.returncode, err))
        check(err.count("\n") == 1 and err.startswith("plurum-pulse-ctl: "),
              "%s: stderr %r" % (args, err))
    p = run([CTL, "--help"])
    check(p.returncode == 0 and b"contribute SESSION_ID" in p.stdout, "--help")


# ---- libplurum-pulse through ctypes -------------------------------------------------------

def load_lib():
    lib = ctypes.CDLL(LIB)
    lib.ppulse_ctl_new.restype = ctypes.c_void_p
    lib.ppulse_ctl_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.ppulse_ctl_request.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    lib.ppulse_ctl_destroy.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.ppulse_default_events_endpoint.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.ppulse_default_commands_endpoint.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib


def lib_request(lib, ctl, text, timeout_ms):
    reply = ctypes.c_void_p()
    rc = lib.ppulse_ctl_request(ctl, text, ctypes.byref(reply), timeout_ms)
    out = None
    if reply.value:
        out = ctypes.string_at(reply.value)
        libc = ctypes.CDLL(None)
        libc.free.argtypes = [ctypes.c_void_p]
        libc.free(reply.value)
    return rc, out


def test_lib_late_reply_of_a_timed_out_request_is_discarded(ctx):
    # The first request is answered only after the client gave up (and after the second
    # request arrived); the second request must get its own reply, not the late one.
    state = {"first": None}

    def answer(req):
        if state["first"] is None:
            state["first"] = req
            return []
        late = {"ok": True, "id": state["first"]["id"], "which": "first"}
        mine = {"ok": True, "id": req.get("id"), "which": "second"}
        return [(0, json.dumps(late).encode()), (0.05, json.dumps(mine).encode())]
    r = FakeRouter(ctx, answer)
    lib = load_lib()
    ctl = ctypes.c_void_p(lib.ppulse_ctl_new(r.endpoint.encode(), None, 0))
    try:
        check(ctl.value, "ppulse_ctl_new failed")
        rc, _ = lib_request(lib, ctl, b'{"cmd":"status"}', 300)
        check(rc == -1, "first request: rc %d, want PPULSE_ETIMEOUT" % rc)
        rc, out = lib_request(lib, ctl, b' { } ', 5000)
        check(rc == 0 and json.loads(out)["which"] == "second", "second: %d %r" % (rc, out))
        check(r.requests[1][0][-1].startswith(b' {"id":"ppc-') and
              r.requests[1][0][-1].endswith(b'" } '), "inserted id %r" % r.requests[1][0][-1])
        rc, _ = lib_request(lib, ctl, b'[1]', 100)
        check(rc == -2, "non-object request: rc %d, want PPULSE_EINVAL" % rc)
    finally:
        lib.ppulse_ctl_destroy(ctypes.byref(ctl))
        r.close()


def test_lib_default_endpoints_follow_the_daemons_rule(ctx):
    code = ("import ctypes,sys\n"
            "lib=ctypes.CDLL(sys.argv[1])\n"
            "b=ctypes.create_string_buffer(512)\n"
            "lib.ppulse_default_events_endpoint(b,512);print(b.value.decode())\n"
            "lib.ppulse_default_commands_endpoint(b,512);print(b.value.decode())\n"
            "print(lib.ppulse_default_events_endpoint(b,8))\n")
    base = {k: v for k, v in os.environ.items()
            if k not in ("XDG_RUNTIME_DIR", "PLURUM_PULSE_EVENTS", "PLURUM_PULSE_COMMANDS")}
    cases = (({"XDG_RUNTIME_DIR": "/run/user/7"},
              ["ipc:///run/user/7/plurum-pulse/events.sock",
               "ipc:///run/user/7/plurum-pulse/commands.sock", "-2"]),
             ({"XDG_RUNTIME_DIR": "relative"},
              ["ipc:///tmp/plurum-pulse-%d/events.sock" % os.geteuid(),
               "ipc:///tmp/plurum-pulse-%d/commands.sock" % os.geteuid(), "-2"]),
             ({"XDG_RUNTIME_DIR": "/x", "PLURUM_PULSE_EVENTS": "tcp://127.0.0.1:5",
               "PLURUM_PULSE_COMMANDS": "tcp://127.0.0.1:6"},
              ["tcp://127.0.0.1:5", "tcp://127.0.0.1:6", "-2"]))
    for env, want in cases:
        p = run([sys.executable, "-c", code, LIB], env=dict(base, **env))
        check(p.returncode == 0, "child failed %r" % p.stderr)
        check(p.stdout.decode().split() == want, "%s: %r" % (env, p.stdout))


# ---- runner -----------------------------------------------------------------------------

def lib_is_sanitized():
    p = run(["ldd", LIB])
    return b"libasan" in p.stdout or b"libubsan" in p.stdout


def main():
    global BUILD, SUB, CTL, LIB
    if len(sys.argv) < 2:
        print("usage: test_tools.py BUILD_DIR [TEST...]", file=sys.stderr)
        return 2
    BUILD = sys.argv[1]
    SUB = os.path.join(BUILD, "bridge/tools/plurum-pulse-sub")
    CTL = os.path.join(BUILD, "bridge/tools/plurum-pulse-ctl")
    LIB = os.path.join(BUILD, "bridge/client/libplurum-pulse.so.0")
    for path in (SUB, CTL, LIB):
        if not os.path.exists(path):
            print("SKIP: %s is not built" % path)
            return 77
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    if len(sys.argv) > 2:
        tests = [(n, f) for n, f in tests if n in sys.argv[2:]]
    failed = 0
    ctx = zmq.Context()
    for name, fn in tests:
        if name.startswith("test_lib_") and lib_is_sanitized():
            # ctypes cannot load an ASan library into an uninstrumented python.
            print("skip %s (sanitizer build)" % name)
            continue
        t0 = time.monotonic()
        try:
            fn(ctx)
            print("ok   %s (%.2fs)" % (name, time.monotonic() - t0))
        except Exception:  # report every failure, then go on
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
        sys.stdout.flush()
    ctx.destroy(linger=0)
    print("%d test(s), %d failed" % (len(tests), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
