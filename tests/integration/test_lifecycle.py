#!/usr/bin/python3
"""test_lifecycle.py: the bridge's process life (README "Behaviour you can rely on":
Signals, endpoints; issue 4.2 and the reconnect-cycle part of 4.7): SIGINT/SIGTERM answer
pending commands, close the WebSocket with 1000, remove the ipc files and exit 0 within 2 s;
SIGHUP re-reads the key file and reconnects only when it changed; a second bridge on the same
endpoints exits 2 naming them; a stale socket file from a crash does not stop a new bridge;
1,000 reconnect cycles leave memory and file descriptors flat."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import CmdClient, request  # noqa: E402
from test_recovery import Collector  # noqa: E402

CYCLES = int(os.environ.get("PP_RECONNECT_CYCLES", "1000"))
RSS_BOUND_KIB = 2048


class BridgeAt(h.Bridge):
    """A bridge on given ipc endpoints (h.Bridge derives them from its own new dir)."""

    def __init__(self, ctx, url, key, events, commands, extra=(), name="bridge"):
        self.ctx = ctx
        self.binary = h.find_binary(ctx.build_dir, h.BRIDGE)
        self.key = key
        self.dir = ctx.mkdir(name)
        self.events, self.commands = events, commands
        argv = [self.binary, "--url", url, "--events", events, "--commands", commands]
        if h.VALGRIND:
            argv = h.valgrind_argv(self.dir) + argv
        argv += list(extra)
        e = h.clean_env()
        e["PLURUM_API_KEY"] = key
        self.argv = argv
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.stdout_path = os.path.join(self.dir, "stdout")
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=e,
                                         stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        ctx.note_process(self)
        ctx.secrets.add(key)


class LWorld:
    def __init__(self, ctx, bridge_extra=(), key_file=False, backfill=False):
        self.ctx = ctx
        self.key_a, self.key_b = h.gen_key(), h.gen_key()
        ctx.secrets.add(self.key_b)
        self.a, self.b = "agent-a-" + uuid.uuid4().hex[:8], "agent-b-" + uuid.uuid4().hex[:8]
        self.dev = ctx.devserver({self.key_a: self.a, self.key_b: self.b})
        extra = list(bridge_extra) + ([] if backfill else ["--no-backfill"])
        self.bridge = ctx.bridge(self.dev.ws_url, self.key_a, key_file=key_file, extra=extra)
        self.col = Collector(self.bridge.sub([""]))
        self.col.wait_state("connected", 15)

    def status(self, bridge=None, timeout=5.0):
        b = bridge or self.bridge
        h.check(b.alive(), "bridge exited %r: %s" % (b.proc.returncode, b.stderr()[-2000:]))
        return request(self.ctx, b.commands, {"cmd": "status"}, timeout)

    def marker(self, col=None, agent=None):
        col = col or self.col
        name = "marker_" + uuid.uuid4().hex[:8]
        m = col.mark()
        self.dev.send(agent or self.a, text=json.dumps({"type": name}))
        return col.wait(lambda t, e: t == "upstream." + name, 10, name, m)[1]


def ipc_path(endpoint):
    return endpoint[len("ipc://"):]


def signal_scenario(ctx, sig):
    w = LWorld(ctx)
    sid, _ = w.dev.open_session(w.b, "owned by b", domain="x")
    w.dev.call("POST", "contribute-mode", {"mode": "delay", "delay_ms": 20000})
    c = CmdClient(ctx, w.bridge.commands)
    c.send({"cmd": "contribute", "id": "pending-1", "session_id": sid,
            "content": {"text": "answered at shutdown"}, "timeout_ms": 30000})
    # in flight: the server has stored it and holds its answer back
    h.wait_until(lambda: w.dev.state()["contributions"], 10, "the contribute to reach the server")
    h.check(not c.pending(0.0), "the delayed contribute was answered early")
    ev, cmd = ipc_path(w.bridge.events), ipc_path(w.bridge.commands)
    h.check(os.path.exists(ev) and os.path.exists(cmd), "ipc socket files missing")
    t0 = time.monotonic()
    w.bridge.proc.send_signal(sig)
    r = c.recv(h.scaled(2.0))
    h.check(r.get("id") == "pending-1", "reply id %r" % r)
    h.check(r.get("ok") is True or r.get("error", {}).get("code") in (
        "shutting_down", "outcome_unknown"), "pending contribute answered %r" % r)
    try:
        rc = w.bridge.proc.wait(h.scaled(2.0) - (time.monotonic() - t0))
    except (subprocess.TimeoutExpired, ValueError):
        raise h.TestFailure("bridge still running %.1fs after %s" % (
            time.monotonic() - t0, signal.Signals(sig).name))
    dt = time.monotonic() - t0
    h.check(rc == 0, "exit status %d after %s: %s" % (rc, signal.Signals(sig).name,
                                                       w.bridge.stderr()[-1500:]))
    h.check(not os.path.exists(ev) and not os.path.exists(cmd), "ipc files left behind")

    def closed_1000():
        return [x for x in w.dev.state()["closes"] if x.get("agent_id") == w.a]
    closes = h.wait_until(closed_1000, 5, "the server to record the bridge's close")
    h.check([x["code"] for x in closes] == [1000], "close codes seen by the server: %r" %
            closes)
    print("    %s: exit 0 in %.2fs, reply %s" % (signal.Signals(sig).name, dt,
                                                 r.get("error", {}).get("code", "ok")))
    c.close()


def test_sigterm_answers_pending_closes_1000_removes_sockets_exits_0(ctx):
    signal_scenario(ctx, signal.SIGTERM)


def test_sigint_answers_pending_closes_1000_removes_sockets_exits_0(ctx):
    signal_scenario(ctx, signal.SIGINT)


def wait_log(bridge, offset, needle, timeout=5):
    return h.wait_until(lambda: needle in bridge.stderr()[offset:], timeout,
                        "%r in the bridge's log" % needle)


def test_sighup_with_an_unchanged_key_does_not_reconnect(ctx):
    w = LWorld(ctx, key_file=True)
    before = w.dev.state()["connects_total"]
    counters = w.status()["counters"]
    off = len(w.bridge.stderr())
    m = w.col.mark()  # only what follows the signal counts (a slow start may show more)
    w.bridge.proc.send_signal(signal.SIGHUP)
    wait_log(w.bridge, off, "SIGHUP")
    # nothing may follow: watch a while for a new connection or a state change
    for _ in h.deadline_loop(1.5, 0.1):
        h.check(w.dev.state()["connects_total"] == before, "the bridge reconnected")
    w.marker()
    st = w.status()
    h.check(st["state"] == "connected" and st["agent_id"] == w.a, "status %r" % st["state"])
    h.check(st["counters"]["connects"] == counters["connects"], "connects %r -> %r" % (
        counters["connects"], st["counters"]["connects"]))
    h.check(not [e for t, e in w.col.events[m:] if t == "bridge.status"
                 and e["data"]["state"] != "connected"], "state changed on SIGHUP")


def test_sighup_after_a_key_change_reconnects_as_the_new_agent(ctx):
    w = LWorld(ctx, key_file=True)
    m = w.col.mark()
    h.write_key_file(w.bridge.key_path, w.key_b)
    w.bridge.proc.send_signal(signal.SIGHUP)
    env = w.col.wait(lambda t, e: t == "bridge.status" and e["data"]["state"] == "connected"
                     and e["data"]["agent_id"] == w.b, 15, "connected as agent B", m)[1]
    h.check(env["agent_id"] == w.b, "envelope agent_id %r" % env["agent_id"])
    st = w.status()
    h.check(st["agent_id"] == w.b, "status agent_id %r" % st["agent_id"])
    h.check(w.dev.connections(w.b) and not w.dev.connections(w.a),
            "server connections %r" % w.dev.state()["connections"])
    env = w.marker(agent=w.b)
    h.check(env["agent_id"] == w.b, "events carry agent_id %r" % env["agent_id"])


def test_second_bridge_on_the_same_endpoints_exits_2_and_the_first_keeps_working(ctx):
    w = LWorld(ctx)
    rc, out, err = h.run_bridge_once(ctx, ["--url", w.dev.ws_url, "--events",
                                           w.bridge.events, "--commands", w.bridge.commands],
                                     env={"PLURUM_API_KEY": w.key_a})
    h.check(rc == 2, "second bridge exit status %d: %s" % (rc, err[-1000:]))
    h.check(ipc_path(w.bridge.events) in err or ipc_path(w.bridge.commands) in err,
            "the message does not name the endpoint: %r" % err[-1000:])
    h.check(os.path.exists(ipc_path(w.bridge.events)) and
            os.path.exists(ipc_path(w.bridge.commands)), "the first bridge's files removed")
    st = w.status()
    h.check(st["state"] == "connected", "first bridge state %r" % st["state"])
    w.marker()
    h.check(w.dev.state()["connects_total"] == 1, "the second bridge connected upstream")


def test_stale_socket_files_from_a_kill9_do_not_stop_a_new_bridge(ctx):
    w = LWorld(ctx)
    ev, cmd = w.bridge.events, w.bridge.commands
    w.bridge.kill()
    ctx.procs.remove(w.bridge)  # its -9 exit is this test's doing, not a failure
    h.check(os.path.exists(ipc_path(ev)) and os.path.exists(ipc_path(cmd)),
            "kill -9 left no socket files: nothing to test")
    b2 = BridgeAt(ctx, w.dev.ws_url, w.key_a, ev, cmd, extra=["--no-backfill"], name="b2")
    col = Collector(b2.sub([""]))
    col.wait_state("connected", 15)
    st = w.status(bridge=b2)
    h.check(st["state"] == "connected", "new bridge state %r" % st["state"])
    w.marker(col=col)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise h.TestFailure("no VmRSS for %d" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(w):
    """The bridge's fd count once no inbox recovery runs, the least seen over 0.3 s (a REST
    socket of the last recovery may still be closing)."""
    h.wait_until(lambda: not w.status()["inbox"]["running"], 10, "the recovery to end")
    counts = [fd_count(w.bridge.pid) for _ in h.deadline_loop(0.3, 0.02)]
    return min(counts)


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    return "libasan" in maps or "asan" in os.path.basename(os.readlink(
        "/proc/%d/exe" % pid)) or h.VALGRIND


def test_1000_reconnect_cycles_keep_rss_and_fds_flat(ctx):
    # Each cycle publishes ~4 bridge.* events; the default replay ring (1,000 events)
    # would still be filling at cycle 250 and its growth would hide or fake a leak: a
    # small ring is full before the first measurement.
    w = LWorld(ctx, bridge_extra=["--backoff-base-ms", "1", "--backoff-cap-ms", "10",
                                  "--replay-size", "100"], backfill=True)
    pid = w.bridge.pid
    h.wait_until(lambda: w.status()["inbox"]["recoveries"] >= 1, 10, "the first recovery")
    fds0 = settled_fds(w)
    # take in the first connection's statuses now: left queued, they would sit after the
    # first cycle's mark and pass for its reconnect
    w.col.wait_state("connected", 10)
    rss = {}
    t0 = time.monotonic()
    for i in range(1, CYCLES + 1):
        m = w.col.mark()
        n = w.dev.close_conn(1000, agent_id=w.a)["count"]
        h.check(n == 1, "cycle %d: %d connections closed" % (i, n))
        w.col.wait_not_connected(10, since=m)
        w.col.wait_state("connected", 10, since=m)
        if i == 100 or i % 250 == 0 or i == CYCLES:
            rss[i] = rss_kib(pid)
        if i % 100 == 0:
            w.col.events = w.col.events[-50:]  # bounded memory on our side
    dt = time.monotonic() - t0
    st = w.status()
    h.check(st["state"] == "connected", "state %r" % st["state"])
    h.check(st["counters"]["connects"] >= CYCLES + 1, "connects %r" % st["counters"]["connects"])
    fds1 = settled_fds(w)
    w.marker()
    first, last = rss.get(100, rss[CYCLES]), rss[CYCLES]
    print("    %d cycles in %.1fs; VmRSS after 100: %d KiB, after %d: %d KiB (%+d KiB); "
          "fds start %d end %d" % (CYCLES, dt, first, CYCLES, last, last - first, fds0, fds1))
    print("    VmRSS KiB by cycle: %s" % ", ".join("%d:%d" % kv for kv in sorted(rss.items())))
    h.check(fds1 == fds0, "open fds %d at the start, %d after %d cycles" % (fds0, fds1, CYCLES))
    if sanitized(pid):
        print("    (sanitizer/valgrind run: RSS bound not checked)")
    else:
        h.check(last - first <= RSS_BOUND_KIB, "VmRSS grew %d KiB between cycle 100 and %d" % (
            last - first, CYCLES))


if __name__ == "__main__":
    h.main(globals())
