#!/usr/bin/python3
"""test_idle.py: an idle bridge sleeps between its timers (issue 5: "no polling loops: timers
only when needed"). With a 100 ms keep-alive it has one ping and one pong to handle per
interval: a handful of poll() returns. A loop that spins towards a deadline (lws 4.1.6 rounds
its poll timeout down to whole ms, then polls without waiting until the timer is due) shows
as tens of polls per interval. The polls are counted by strace attached to the running
bridge, over a span of idle time: that span is the measurement, not a wait for an event."""

import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PING_MS = 100
WINDOW_S = 3.0
MAX_POLLS_PER_PING = 10  # ping timer + write + pong, with room for the devserver's own


def s_attach_strace(ctx, pid):
    """strace -f on pid, writing poll calls with wall-clock stamps; returns (proc, path)
    once strace says it is attached (to the process and its threads)."""
    out = ctx.path("strace.out")
    err = open(ctx.path("strace.err"), "w+b")
    proc = subprocess.Popen(["strace", "-f", "-ttt", "-e", "trace=poll,ppoll", "-o", out,
                             "-p", str(pid)], stderr=err, stdin=subprocess.DEVNULL)

    def attached():
        err.seek(0)
        return b"attached" in err.read() or proc.poll() is not None

    h.wait_until(attached, 10, "strace attached")
    h.check(proc.poll() is None, "strace exited: %s" % h.read_file(ctx.path("strace.err")))
    return proc, out


def s_polls_between(path, t0, t1):
    n = 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and "poll(" in parts[2] and t0 <= float(parts[1]) < t1:
                n += 1
    return n


def test_an_idle_bridge_polls_once_per_event_not_in_a_loop(ctx):
    if h.VALGRIND:
        raise h.Skip("strace cannot attach to a process under valgrind")
    if not shutil.which("strace"):
        raise h.Skip("strace is not installed (tests/run.sh installs it)")
    key = h.gen_key()
    dev = ctx.devserver({key: "agent-idle-" + uuid.uuid4().hex[:8]})
    br = ctx.bridge(dev.ws_url, key, extra=["--no-backfill", "--ping-interval-ms", str(PING_MS)])
    br.wait_state("connected")
    proc, out = s_attach_strace(ctx, br.pid)
    t0 = time.time()
    time.sleep(WINDOW_S)  # the idle span being measured
    t1 = time.time()
    proc.terminate()
    proc.wait(10)
    polls = s_polls_between(out, t0, t1)
    pings = WINDOW_S * 1000 / PING_MS
    print("   %d polls in %.1f s: %.1f per %d ms keep-alive interval" %
          (polls, WINDOW_S, polls / pings, PING_MS))
    h.check(polls >= pings / 2, "too few polls (%d) for %d keep-alive pings: is strace "
            "seeing the loop?" % (polls, pings))
    h.check(polls <= MAX_POLLS_PER_PING * pings,
            "%d polls in %.1f s idle: the loop spins (at most %d per ping interval expected)"
            % (polls, WINDOW_S, MAX_POLLS_PER_PING))
    h.check(br.alive(), "bridge died")


if __name__ == "__main__":
    h.main(globals())
