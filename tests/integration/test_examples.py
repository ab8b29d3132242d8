#!/usr/bin/python3
"""test_examples.py: the client examples of deploy/examples/ (C, Python, shell) work against
a real plurum-pulse-devserver + plurum-pulse-bridge: a subscriber receives live events and
fills a gap in seq with the replay command, and a contribution is answered ok, refused with
an error code the example names, or not answered at all (no bridge)."""

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EXAMPLES = os.path.join(REPO, "deploy", "examples")
PY = "/usr/bin/python3"
UNSAFE_TEXT = "connect with postgresql://admin:hunter2@10.0.0.5/prod"

_built = {}


def sanitizer_flags(lib):
    """-fsanitize flags when the library comes from a sanitizer build (PP_SANITIZE=ON):
    the ASan runtime must then be linked into the program too."""
    p = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True)
    if "libasan" in p.stdout:
        return ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    return []


def c_examples(ctx):
    """The C examples compiled against THIS build tree's header and library (once)."""
    if "dir" in _built:
        return _built["dir"]
    lib = os.path.join(ctx.build_dir, "bridge", "client")
    if not os.path.exists(os.path.join(lib, "libplurum-pulse.so")):
        raise h.Skip("libplurum-pulse not built in %s" % lib)
    out = tempfile.mkdtemp(prefix="ppex.")
    for name in ("subscribe", "contribute"):
        cmd = ["cc"] + sanitizer_flags(os.path.join(lib, "libplurum-pulse.so"))
        cmd += ["-std=c17", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                "-I" + os.path.join(REPO, "include"),
                os.path.join(EXAMPLES, "c", name + ".c"), "-o", os.path.join(out, name),
                "-L" + lib, "-lplurum-pulse", "-ljansson"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        h.check(p.returncode == 0, "compiling %s.c: %s" % (name, p.stderr[-3000:]))
    _built["dir"] = out
    _built["lib"] = lib
    return out


def program(ctx, lang, what):
    """argv prefix of an example: lang c|python|shell, what subscribe|contribute."""
    if lang == "c":
        return [os.path.join(c_examples(ctx), what)]
    if lang == "python":
        return [PY, os.path.join(EXAMPLES, "python", "pulse_example.py"), what]
    if shutil.which("jq") is None:
        raise h.Skip("jq is not installed (the shell examples need it)")
    return ["bash", os.path.join(EXAMPLES, "shell", what + ".sh")]


def example_env(ctx, bridge=None, commands=None):
    """Environment of an example: endpoints, the build's tools first on PATH, the build's
    client library for the C programs."""
    e = h.clean_env()
    tools = os.path.dirname(h.find_binary(ctx.build_dir, h.SUB))
    e["PATH"] = tools + os.pathsep + e.get("PATH", "")
    e["LD_LIBRARY_PATH"] = os.path.join(ctx.build_dir, "bridge", "client")
    if bridge is not None:
        e["PLURUM_PULSE_EVENTS"] = bridge.events
        e["PLURUM_PULSE_COMMANDS"] = bridge.commands
    if commands is not None:
        e["PLURUM_PULSE_COMMANDS"] = commands
    return e


class Running:
    """An example running in the background; lines of its stdout are awaited."""

    def __init__(self, ctx, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.lines = []
        self._buf = b""
        self.ctx = ctx

    def await_line(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            for ln in self.lines:
                if pred(ln):
                    return ln
            left = end - time.monotonic()
            if left <= 0 or self.proc.stdout.closed:
                break
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                break
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self._buf += chunk
            while b"\n" in self._buf:
                ln, self._buf = self._buf.split(b"\n", 1)
                self.lines.append(ln.decode("utf-8", "replace"))
        raise h.Timeout("example: no %s within %.0fs; output so far: %r" %
                        (what, timeout, self.lines[-20:]))

    def finish(self, timeout):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise h.TestFailure("example did not exit: %r %r" % (self.lines, err[-2000:]))
        text = (self._buf + out).decode("utf-8", "replace")
        self.lines += [ln for ln in text.split("\n") if ln]
        self.ctx.outputs.append("\n".join(self.lines) + err.decode("utf-8", "replace"))
        return self.proc.returncode, err.decode("utf-8", "replace")


class World:
    """A devserver with agents A (the bridge's) and B, a bridge connected as A (no inbox
    backfill, so every event is live), and a subscriber to everything."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b})
        self.bridge = ctx.bridge(self.dev.ws_url, self.key_a, extra=["--no-backfill"])
        self.all = self.bridge.sub([""])
        h.await_status(self.all, "connected", 15)

    def published(self, topic_prefix, timeout=10):
        (t, env), _ = self.all.recv_until(lambda t, e: t.startswith(topic_prefix), timeout,
                                          topic_prefix)
        return t, env


def subscribe_fills_gap(ctx, lang):
    """Events published before the example subscribed are missed; the example sees the
    jump in seq on the next live event and fetches the matching ones with replay."""
    w = World(ctx)
    s_alice, _ = w.dev.open_session(w.a, "my session", domain="rust")
    w.dev.open_session(w.b, "bob's", domain="Web Dev")  # outside the example's prefixes
    _, opened = w.published("session.opened.web_dev")
    w.dev.contribute(s_alice, w.b, {"text": "missed one"})
    _, missed = w.published("contribution.received.")
    after = opened["seq"] - 1  # "handled everything before bob's session opened"

    ex = Running(ctx, program(ctx, lang, "subscribe") +
                 ["--after", str(after), "--count", "2", "contribution.received.",
                  "bridge.status"], example_env(ctx, w.bridge))
    # The cached bridge.status comes first, with its old seq: the example says "repeat",
    # which also tells us its subscription is in place.
    ex.await_line(lambda ln: ln.startswith("repeat seq="), 15, "repeat of bridge.status")
    w.dev.contribute(s_alice, w.b, {"text": "live one"})
    _, live = w.published("contribution.received.")
    rc, err = ex.finish(20)
    h.check(rc == 0, "%s subscribe exited %d: %s %r" % (lang, rc, err[-2000:], ex.lines))
    topic = "contribution.received." + s_alice
    want_replayed = "replayed seq=%d type=contribution.received source=live topic=%s" % (
        missed["seq"], topic)
    want_live = "event seq=%d type=contribution.received source=live topic=%s" % (
        live["seq"], topic)
    want_gap = "gap: seq %d..%d missing, 1 matching event(s) replayed" % (
        after + 1, live["seq"] - 1)
    for want in (want_replayed, want_gap, want_live):
        h.check(any(ln.startswith(want) for ln in ex.lines),
                "%s: no line %r in %r" % (lang, want, ex.lines))
    h.check(not any("session.opened" in ln for ln in ex.lines),
            "%s: an event outside the prefixes was delivered: %r" % (lang, ex.lines))
    order = [i for i, ln in enumerate(ex.lines)
             if ln.startswith(want_replayed) or ln.startswith(want_live)]
    h.check(len(order) == 2 and order[0] < order[1], "replayed before live: %r" % ex.lines)


def contribute_cases(ctx, lang):
    """ok, unsafe_content (refused by the bridge), upstream_rejected (refused by the
    server, with the HTTP status), each printed and mapped to the exit status."""
    w = World(ctx)
    s_bob, _ = w.dev.open_session(w.b, "bob's open session", domain="databases")
    env = example_env(ctx, w.bridge)
    argv = program(ctx, lang, "contribute")
    text_args = (lambda t: [t]) if lang == "shell" else (lambda t: ["--text", t])

    p = subprocess.run(argv + [s_bob] + text_args("Lower the scale factor."), env=env,
                       capture_output=True, text=True, timeout=30)
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 0, "%s ok case: rc %d %r %r" % (lang, p.returncode, p.stdout,
                                                           p.stderr))
    h.check(p.stdout.startswith("ok via=rest contribution="), "ok line: %r" % p.stdout)
    stored = w.dev.state()["contributions"]
    h.check(any(c["session_id"] == s_bob for c in stored), "not stored upstream: %r" % stored)

    p = subprocess.run(argv + [s_bob] + text_args(UNSAFE_TEXT), env=env,
                       capture_output=True, text=True, timeout=30)
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 1, "%s unsafe case: rc %d %r" % (lang, p.returncode, p.stdout))
    h.check(p.stdout.startswith("error code=unsafe_content: "), "unsafe line: %r" % p.stdout)
    h.check("hunter2" not in p.stdout, "the secret was echoed: %r" % p.stdout)

    unknown = str(uuid.uuid4())
    p = subprocess.run(argv + [unknown] + text_args("to nowhere"), env=env,
                       capture_output=True, text=True, timeout=30)
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 1, "%s rejected case: rc %d %r" % (lang, p.returncode, p.stdout))
    h.check(p.stdout.startswith("error code=upstream_rejected: "), "line: %r" % p.stdout)
    h.check("HTTP 404" in p.stdout, "the HTTP status is not shown: %r" % p.stdout)


def no_bridge(ctx, lang):
    """No bridge behind the endpoint: the example says so and exits 3."""
    endpoint = "ipc://%s/nobody.sock" % ctx.mkdir("nobridge")
    extra = ["--timeout-ms", "500"] if lang in ("c", "python") else []
    p = subprocess.run(program(ctx, lang, "contribute") + extra +
                       (["s1", "hello"] if lang == "shell" else ["s1", "--text", "hello"]),
                       env=example_env(ctx, commands=endpoint), capture_output=True,
                       text=True, timeout=60)
    h.check(p.returncode == 3, "%s: rc %d %r %r" % (lang, p.returncode, p.stdout, p.stderr))
    h.check("no reply" in p.stdout, "%s: %r" % (lang, p.stdout))


def test_c_subscribe_fills_gap(ctx):
    subscribe_fills_gap(ctx, "c")


def test_c_contribute_ok_and_errors(ctx):
    contribute_cases(ctx, "c")


def test_c_no_bridge(ctx):
    no_bridge(ctx, "c")


def test_python_subscribe_fills_gap(ctx):
    subscribe_fills_gap(ctx, "python")


def test_python_contribute_ok_and_errors(ctx):
    contribute_cases(ctx, "python")


def test_python_no_bridge(ctx):
    no_bridge(ctx, "python")


def test_shell_subscribe_fills_gap(ctx):
    subscribe_fills_gap(ctx, "shell")


def test_shell_contribute_ok_and_errors(ctx):
    contribute_cases(ctx, "shell")


def test_forwarder_fans_out_with_zmq_proxy(ctx):
    """deploy/examples/python/pulse_forwarder.py (zmq.proxy XSUB/XPUB): two subscribers
    to the same prefix on its TCP port each get the cached bridge.status (XPUB_VERBOSE
    passes every subscription upstream) and then the same live event."""
    w = World(ctx)
    fwd = Running(ctx, [PY, os.path.join(EXAMPLES, "python", "pulse_forwarder.py"),
                        "--events", w.bridge.events, "--bind", "tcp://127.0.0.1:*"],
                  example_env(ctx))
    try:
        endpoint = fwd.await_line(lambda ln: ln.startswith("tcp://"), 10, "bound endpoint")
        # Same prefix twice: without XPUB_VERBOSE the second subscription would stop at
        # the proxy and the second subscriber would never get the cached status (sync).
        subs = [ctx.sub(endpoint, [""], sync=True, timeout=5) for _ in range(2)]
        s_bob, _ = w.dev.open_session(w.b, "seen far away", domain="rust")
        for s in subs:
            env, _ = h.await_topic(s, "session.opened.rust", 10)
            h.check(env["data"]["session_id"] == s_bob, "forwarded event: %r" % env)
    finally:
        fwd.proc.kill()
        fwd.finish(10)


if __name__ == "__main__":
    try:
        h.main(globals())
    finally:
        if "dir" in _built:
            shutil.rmtree(_built["dir"], ignore_errors=True)
