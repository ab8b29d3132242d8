#!/usr/bin/python3
"""test_curve.py: remote subscribers and command clients through CurveZMQ (docs/curve.md;
bridge-contract.md: "Binding a command or event endpoint to anything but loopback or ipc
needs CurveZMQ keys (or an explicit --allow-insecure-remote)").

A bridge binds both sockets on tcp://0.0.0.0:* with a server key and an allow-list; the
real ports are read from its "bound on" log lines. An authorized client (its public key
listed) gets events and command replies through plurum-pulse-sub / -ctl; an unauthorized
key pair and a plain (non-CURVE) client get nothing. Keys come from plurum-pulse-keygen."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

import zmq  # noqa: E402

KEYGEN = "plurum-pulse-keygen"
BOUND_RE = r"%s: bound on (tcp://[^ ]+:(\d+)) \(CurveZMQ\)"


def keygen(ctx, base):
    """A key pair from plurum-pulse-keygen: (secret path, public path, public key)."""
    binary = h.find_binary(ctx.build_dir, KEYGEN)
    p = subprocess.run([binary, base], capture_output=True, timeout=20)
    out = p.stdout.decode()
    ctx.outputs.append(out + p.stderr.decode())
    h.check(p.returncode == 0, "keygen %s: rc %d %r" % (base, p.returncode, p.stderr))
    pub = h.read_file(base + ".pub").strip()
    h.check(len(pub) == 40 and out.strip() == pub, "keygen printed %r, .pub %r" % (out, pub))
    return base + ".key", base + ".pub", pub


def write_allow(path, lines, mode=0o644):
    with open(path, "w") as f:
        f.write("# clients allowed to reach the bridge\n\n")
        for ln in lines:
            f.write(ln + "\n")
    os.chmod(path, mode)


def bound_port(bridge, setting, timeout=10.0):
    """The port the bridge actually bound for setting ("--events"), from its log."""
    m = h.wait_until(lambda: re.search(BOUND_RE % re.escape(setting), bridge.stderr()),
                     timeout, "%s bound line in the bridge's log" % setting)
    return int(m.group(2))


def tool(ctx, name, args, timeout=20.0, env=None):
    """Run plurum-pulse-sub or -ctl to completion; (rc, stdout, stderr)."""
    e = h.clean_env()
    if env:
        e.update(env)
    p = subprocess.run([h.find_binary(ctx.build_dir, name)] + list(args), env=e,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    ctx.outputs.append(out + err)
    return p.returncode, out, err


class Lines:
    """A running program whose stdout is read line by line with deadlines."""

    def __init__(self, ctx, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=h.clean_env())
        self.buf = b""
        self.ctx = ctx

    def line(self, timeout):
        end = time.monotonic() + h.scaled(timeout)
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(0.0, left))
            if not r:
                raise h.Timeout("no line within %.1fs" % h.scaled(timeout))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise h.TestFailure("the program exited: %r" % self.proc.stderr.read())
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        text = ln.decode("utf-8", "replace")
        self.ctx.outputs.append(text)
        return text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(h.scaled(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.buf + self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.ctx.outputs.append((rest + err).decode("utf-8", "replace"))
        return rest.decode("utf-8", "replace"), self.proc.returncode


class World:
    """A devserver; key pairs for the server, client A (allowed) and client B (not); a
    bridge serving events and commands on tcp://0.0.0.0:* with CurveZMQ."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.keys = ctx.mkdir("keys")
        self.srv_key, self.srv_pub, self.srv_pub_text = keygen(ctx, self.path("server"))
        self.a_key, self.a_pub, self.a_pub_text = keygen(ctx, self.path("client-a"))
        self.b_key, self.b_pub, self.b_pub_text = keygen(ctx, self.path("client-b"))
        self.allow = self.path("clients.allow")
        write_allow(self.allow, [self.a_pub_text + " client-a"])
        self.api_key = h.gen_key()
        self.agent = "agent-" + uuid.uuid4().hex[:8]
        # sessions are opened by another agent: the server pushes them to everyone else
        self.other = "agent-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.api_key: self.agent, h.gen_key(): self.other})
        self.bridge = ctx.bridge(self.dev.ws_url, self.api_key, extra=[
            "--no-backfill", "--events", "tcp://0.0.0.0:*", "--commands", "tcp://0.0.0.0:*",
            "--curve-secret-file", self.srv_key, "--curve-clients", self.allow])
        self.ev_port = bound_port(self.bridge, "--events")
        self.cmd_port = bound_port(self.bridge, "--commands")
        self.events = "tcp://127.0.0.1:%d" % self.ev_port
        self.commands = "tcp://127.0.0.1:%d" % self.cmd_port

    def path(self, name):
        return os.path.join(self.keys, name)

    def client_flags(self, which):
        key = self.a_key if which == "a" else self.b_key
        return ["--curve-server-key", self.srv_pub, "--curve-client-key", key]

    def sub_argv(self, which, prefixes, extra=()):
        argv = [h.find_binary(self.ctx.build_dir, h.SUB), "--events", self.events]
        if which:
            argv += self.client_flags(which)
        return argv + list(extra) + list(prefixes)

    def ctl(self, which, args, wait_ms=5000):
        flags = ["--commands", self.commands, "--timeout", str(wait_ms)]
        if which:
            flags += self.client_flags(which)
        return tool(self.ctx, h.CTL, flags + list(args))

    def await_refusal(self, pub_text):
        h.wait_until(lambda: re.search(r"curve: refused client key %s" % re.escape(pub_text),
                                       self.bridge.stderr()),
                     10, "the bridge's refusal of key %s" % pub_text)


# ---- settings ------------------------------------------------------------------------


def test_remote_endpoint_without_curve_keys_is_refused_with_exit_2(ctx):
    for setting in ("--events", "--commands"):
        rc, out, err = h.run_bridge_once(ctx, [setting, "tcp://0.0.0.0:*", "--check-config"],
                                         env={"PLURUM_API_KEY": h.gen_key()})
        lines = [ln for ln in err.splitlines() if ln.strip()]
        h.check(rc == 2, "%s remote without keys: rc %d %r" % (setting, rc, err))
        h.check(len(lines) == 1 and setting in lines[0] and "CurveZMQ" in lines[0]
                and "--curve-secret-file" in lines[0], "the error line: %r" % err)
    # loopback needs no keys
    rc, out, err = h.run_bridge_once(ctx, ["--events", "tcp://127.0.0.1:*", "--check-config"],
                                     env={"PLURUM_API_KEY": h.gen_key()})
    h.check(rc == 0, "loopback tcp without keys: rc %d %r" % (rc, err))


def test_curve_secret_file_others_can_read_is_refused_with_exit_2(ctx):
    d = ctx.mkdir("keys")
    key, _pub, pub_text = keygen(ctx, os.path.join(d, "server"))
    allow = os.path.join(d, "clients")
    write_allow(allow, [pub_text])
    os.chmod(key, 0o644)
    rc, out, err = h.run_bridge_once(ctx, [
        "--url", "ws://127.0.0.1:9/api/v1/pulse/ws", "--events", "tcp://0.0.0.0:*",
        "--commands", "ipc://%s/cmd.sock" % d, "--curve-secret-file", key,
        "--curve-clients", allow], env={"PLURUM_API_KEY": h.gen_key()})
    h.check(rc == 2, "world-readable secret key: rc %d %r" % (rc, err))
    h.check(key in err and "chmod 600" in err, "the error names the file: %r" % err)
    h.check(h.read_file(key).strip() not in err, "the secret key is in the error")


def test_allow_list_others_can_write_or_with_a_bad_line_is_refused(ctx):
    d = ctx.mkdir("keys")
    key, _pub, pub_text = keygen(ctx, os.path.join(d, "server"))
    allow = os.path.join(d, "clients")
    base = ["--url", "ws://127.0.0.1:9/api/v1/pulse/ws", "--events", "tcp://0.0.0.0:*",
            "--commands", "ipc://%s/cmd.sock" % d, "--curve-secret-file", key,
            "--curve-clients", allow]
    write_allow(allow, [pub_text], mode=0o666)
    rc, out, err = h.run_bridge_once(ctx, base, env={"PLURUM_API_KEY": h.gen_key()})
    h.check(rc == 2 and allow in err and "writable" in err, "writable list: %d %r" % (rc, err))
    write_allow(allow, [pub_text, "not-a-key"])
    rc, out, err = h.run_bridge_once(ctx, base, env={"PLURUM_API_KEY": h.gen_key()})
    h.check(rc == 2 and "%s:4" % allow in err, "bad line: rc %d %r" % (rc, err))


def test_keygen_writes_a_private_secret_and_never_overwrites(ctx):
    d = ctx.mkdir("keys")
    key, pub, pub_text = keygen(ctx, os.path.join(d, "me"))
    h.check(os.stat(key).st_mode & 0o777 == 0o600, "secret mode %o" % os.stat(key).st_mode)
    secret = h.read_file(key).strip()
    h.check(len(secret) == 40 and secret != pub_text, "secret %d chars" % len(secret))
    h.check(zmq.curve_public(secret.encode()).decode() == pub_text, "pub does not match")
    p = subprocess.run([h.find_binary(ctx.build_dir, KEYGEN), os.path.join(d, "me")],
                       capture_output=True, timeout=20)
    h.check(p.returncode == 1 and b"exists" in p.stderr, "overwrite: %r" % p.stderr)
    h.check(h.read_file(key).strip() == secret, "the old secret was overwritten")


# ---- clients ---------------------------------------------------------------------------


def test_authorized_client_gets_events_and_command_replies(ctx):
    w = World(ctx)
    sub = Lines(ctx, w.sub_argv("a", ["session.", "bridge.status"]))
    try:
        # the cached bridge.status arrives once its subscription is in; subscriptions
        # travel in order, so "session." is in too
        first = json.loads(sub.line(15))
        h.check(first["type"] == "bridge.status", "first event %r" % first)
        h.wait_until(lambda: w.dev.connections(w.agent), 15, "the bridge's upstream")
        sid, _ = w.dev.open_session(w.other, "over curve", domain="net")
        while True:
            env = json.loads(sub.line(10))
            if env["type"] != "bridge.status":
                break
        h.check(env["type"] == "session.opened" and env["data"]["session_id"] == sid,
                "event %r" % env)
    finally:
        sub.stop()
    rc, out, err = w.ctl("a", ["status"])
    h.check(rc == 0, "ctl status with an allowed key: rc %d %r %r" % (rc, out, err))
    reply = json.loads(out)
    h.check(reply.get("ok") is True and reply.get("agent_id") == w.agent, "reply %r" % reply)


def test_unauthorized_key_pair_gets_nothing(ctx):
    w = World(ctx)
    sub = Lines(ctx, w.sub_argv("b", [""]))
    try:
        w.await_refusal(w.b_pub_text)
        # the cached bridge.status would come at once to a subscriber that got in
        h.check(sub.proc.poll() is None, "sub exited early")
    finally:
        out, _rc = sub.stop()
    h.check(out.strip() == "", "an unauthorized subscriber received %r" % out[:300])
    rc, out, err = w.ctl("b", ["status"], wait_ms=1500)
    h.check(rc == 3 and out == "", "ctl with a refused key: rc %d %r %r" % (rc, out, err))
    h.check(w.bridge.alive(), "the bridge died")


def test_plain_client_without_curve_gets_nothing(ctx):
    w = World(ctx)
    s = ctx.zctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(w.events)
    try:
        # an authorized subscriber connected at the same time gets the cached status:
        # by then the plain one has had the same chance
        rc, out, err = tool(ctx, h.SUB, w.sub_argv("a", ["bridge.status"], ["--count", "1"])[1:])
        h.check(rc == 0 and "bridge.status" in out, "authorized sub: %d %r" % (rc, err))
        h.check(not s.poll(500, zmq.POLLIN), "a plain subscriber received an event")
    finally:
        s.close(0)
    rc, out, err = w.ctl(None, ["status"], wait_ms=1500)
    h.check(rc == 3 and out == "", "ctl without curve: rc %d %r %r" % (rc, out, err))


def test_sighup_reloads_the_allow_list(ctx):
    w = World(ctx)
    rc, out, err = w.ctl("b", ["ping"], wait_ms=1000)
    h.check(rc == 3, "b before the reload: rc %d" % rc)
    write_allow(w.allow, [w.a_pub_text + " client-a", w.b_pub_text + " client-b"])
    w.bridge.proc.send_signal(signal.SIGHUP)
    h.wait_until(lambda: "SIGHUP: 2 CurveZMQ client keys allowed" in w.bridge.stderr(), 10,
                 "the reload")
    rc, out, err = w.ctl("b", ["ping"])
    h.check(rc == 0, "b after the reload: rc %d %r %r" % (rc, out, err))


def test_ipc_endpoints_stay_plain_when_curve_is_on(ctx):
    """docs/curve.md: CURVE applies to tcp:// only; local ipc clients need no keys."""
    d = ctx.mkdir("keys")
    key, _pub, _t = keygen(ctx, os.path.join(d, "server"))
    _ck, _cp, client_pub = keygen(ctx, os.path.join(d, "client"))
    allow = os.path.join(d, "clients")
    write_allow(allow, [client_pub])
    api_key = h.gen_key()
    dev = ctx.devserver({api_key: "agent-" + uuid.uuid4().hex[:8]})
    b = ctx.bridge(dev.ws_url, api_key, extra=["--no-backfill", "--events", "tcp://0.0.0.0:*",
                                                "--curve-secret-file", key,
                                                "--curve-clients", allow])
    bound_port(b, "--events")
    rc, out, err = tool(ctx, h.CTL, ["--commands", b.commands, "ping"])
    h.check(rc == 0, "plain ctl on ipc with curve on: rc %d %r" % (rc, err))


def test_fan_out_through_zeromq_proxy_as_documented(ctx):
    """docs/curve.md: XSUB (a CURVE client of the bridge) -> zmq_proxy -> XPUB on ipc;
    a plain local subscriber behind it gets the cached status and live events."""
    from zmq.devices import ThreadProxy
    w = World(ctx)
    _k, _p, proxy_pub = keygen(ctx, w.path("proxy"))
    write_allow(w.allow, [w.a_pub_text + " client-a", proxy_pub + " site-proxy"])
    w.bridge.proc.send_signal(signal.SIGHUP)
    h.wait_until(lambda: "SIGHUP: 2 CurveZMQ client keys allowed" in w.bridge.stderr(), 10,
                 "the reload")
    site = "ipc://%s/site-events.sock" % ctx.mkdir("site")
    secret = h.read_file(w.path("proxy.key")).strip().encode()
    px = ThreadProxy(zmq.XSUB, zmq.XPUB)
    px.setsockopt_in(zmq.CURVE_SERVERKEY, w.srv_pub_text.encode())
    px.setsockopt_in(zmq.CURVE_PUBLICKEY, zmq.curve_public(secret))
    px.setsockopt_in(zmq.CURVE_SECRETKEY, secret)
    px.connect_in(w.events)
    px.bind_out(site)
    px.start()
    s = ctx.sub(site, ["session."], sync=True, timeout=15)  # via the cached bridge.status
    h.wait_until(lambda: w.dev.connections(w.agent), 15, "the bridge's upstream")
    sid, _ = w.dev.open_session(w.other, "through the proxy", domain="fan")
    env, _ = h.await_topic(s, "session.opened.fan")
    h.check(env["data"]["session_id"] == sid, "event %r" % env)


def test_client_secret_key_others_can_read_is_a_usage_error(ctx):
    d = ctx.mkdir("keys")
    _k, spub, _t = keygen(ctx, os.path.join(d, "server"))
    ckey, _p, _t = keygen(ctx, os.path.join(d, "client"))
    os.chmod(ckey, 0o640)
    for name in (h.SUB, h.CTL):
        args = ["--curve-server-key", spub, "--curve-client-key", ckey]
        args += ["--events", "tcp://127.0.0.1:1"] if name == h.SUB else [
            "--commands", "tcp://127.0.0.1:1", "ping"]
        rc, out, err = tool(ctx, name, args)
        h.check(rc == 2 and ckey in err and "chmod 600" in err, "%s: %d %r" % (name, rc, err))
    # only one of the two keys
    rc, out, err = tool(ctx, h.CTL, ["--curve-server-key", spub, "--commands",
                                     "tcp://127.0.0.1:1", "ping"])
    h.check(rc == 2 and "secret key" in err, "half the keys: %d %r" % (rc, err))


if __name__ == "__main__":
    h.main(globals())
