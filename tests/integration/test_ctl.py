#!/usr/bin/python3
"""test_ctl.py: plurum-pulse-ctl against a real bridge (README "Commands"; ctl --help):
the reply JSON on stdout, exit 0 on an ok reply, 1 on an error reply, 2 on bad usage,
3 with a clear message when no bridge answers; an idempotent retry with --id."""

import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_commands import World, check_contribution, check_error  # noqa: E402


def ctl(ctx, args, endpoint=None, timeout=20.0):
    """Run plurum-pulse-ctl; returns (rc, stdout, stderr). The endpoint goes first."""
    binary = h.find_binary(ctx.build_dir, h.CTL)
    argv = [binary]
    if endpoint:
        argv += ["--commands", endpoint]
    argv += list(args)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=h.clean_env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise h.TestFailure("plurum-pulse-ctl %r hung for %.0fs" % (args, timeout))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    ctx.outputs.append(out + err)
    ctx.last_ctl_seconds = time.monotonic() - t0
    return p.returncode, out, err


def reply_of(out, what):
    """The reply: stdout is one JSON object on one line."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    h.check(len(lines) == 1, "%s: stdout is not one line: %r" % (what, out[:500]))
    try:
        r = json.loads(lines[0])
    except ValueError:
        raise h.TestFailure("%s: stdout is not JSON: %r" % (what, out[:500]))
    h.check(isinstance(r, dict), "%s: reply is not an object: %r" % (what, r))
    return r


def test_ctl_ping_status_replay_exit_0_with_the_reply_json(ctx):
    w = World(ctx)
    rc, out, err = ctl(ctx, ["ping"], w.ep)
    h.check(rc == 0, "ping rc %d: %s" % (rc, err))
    r = reply_of(out, "ping")  # ctl adds its own request id
    h.check(r.get("ok") is True and set(r) <= {"ok", "id"}, "ping reply %r" % out)
    rc, out, err = ctl(ctx, ["status"], w.ep)
    h.check(rc == 0, "status rc %d: %s" % (rc, err))
    r = reply_of(out, "status")
    h.check(r.get("ok") is True and r.get("state") == "connected" and r.get("agent_id") == w.a,
            "status reply %r" % r)
    w.session("for replay")
    h.wait_until(lambda: w.call({"cmd": "status"})["last_seq"] >= 2, 10, "an event")
    rc, out, err = ctl(ctx, ["replay", "--after", "0", "--limit", "1"], w.ep)
    h.check(rc == 0, "replay rc %d: %s" % (rc, err))
    r = reply_of(out, "replay")
    h.check(r.get("ok") is True and len(r.get("events", [])) == 1 and
            r["events"][0]["seq"] >= 1 and r.get("run") == w.status["run"],
            "replay reply %r" % r)
    h.assert_no_key(out + err, w.key_a, "ctl output")


def test_ctl_contribute_ok_exit_0_and_idempotent_retry_with_id(ctx):
    w = World(ctx)
    sid = w.session()
    rc, out, err = ctl(ctx, ["contribute", sid, "--text", "from the command line",
                             "--type", "warning", "--id", "ctl-1"], w.ep)
    h.check(rc == 0, "contribute rc %d: %s %s" % (rc, out, err))
    r = reply_of(out, "contribute")
    h.check(r.get("ok") is True and r.get("id") == "ctl-1" and r.get("via") == "rest",
            "contribute reply %r" % r)
    check_contribution(r["contribution"], sid, w.a, {"text": "from the command line"},
                       "warning")
    # the retry: same reply, sent upstream once
    rc2, out2, err2 = ctl(ctx, ["contribute", sid, "--text", "from the command line",
                                "--type", "warning", "--id", "ctl-1"], w.ep)
    h.check(rc2 == 0, "retry rc %d: %s" % (rc2, err2))
    h.check(reply_of(out2, "retry") == r, "retry reply %r != %r" % (out2, out))
    recs = [c for c in w.recorded(sid) if c["content"] == {"text": "from the command line"}]
    h.check(len(recs) == 1, "recorded %d times" % len(recs))
    # --json content
    rc, out, err = ctl(ctx, ["contribute", sid, "--json", '{"steps":["a","b"],"n":2}'], w.ep)
    h.check(rc == 0, "--json rc %d: %s %s" % (rc, out, err))
    check_contribution(reply_of(out, "--json")["contribution"], sid, w.a,
                       {"steps": ["a", "b"], "n": 2})
    # outcome of the id
    rc, out, err = ctl(ctx, ["outcome", "ctl-1"], w.ep)
    h.check(rc == 0, "outcome rc %d: %s" % (rc, err))
    o = reply_of(out, "outcome")
    h.check(o.get("outcome") == "confirmed" and o.get("reply") == r, "outcome %r" % o)


def test_ctl_error_reply_exits_1_with_the_reply_json(ctx):
    w = World(ctx)
    rc, out, err = ctl(ctx, ["contribute", str(uuid.uuid4()), "--text", "nobody"], w.ep)
    h.check(rc == 1, "unknown session rc %d: %s %s" % (rc, out, err))
    check_error(reply_of(out, "unknown session"), "upstream_rejected", "unknown session")
    rc, out, err = ctl(ctx, ["outcome", "never-" + uuid.uuid4().hex], w.ep)
    h.check(rc == 1, "outcome rc %d" % rc)
    check_error(reply_of(out, "outcome"), "not_found", "ctl outcome")
    sid = w.session()
    rc, out, err = ctl(ctx, ["contribute", sid, "--text",
                             "postgres://admin:hunter2hunter2@10.0.0.5/db"], w.ep)
    h.check(rc == 1, "unsafe rc %d" % rc)
    r = reply_of(out, "unsafe")
    check_error(r, "unsafe_content", "ctl unsafe")
    h.check("hunter2hunter2" not in out + err, "the secret echoed by ctl")
    h.check(w.recorded(sid) == [], "unsafe content reached the server")


def test_ctl_bad_usage_exits_2(ctx):
    w = World(ctx, connect=False)
    cases = [[],
             ["contribute"],
             ["contribute", "some-session"],
             ["contribute", "some-session", "--json", "{not json"],
             ["contribute", "some-session", "--json", "[1, 2]"],
             ["contribute", "some-session", "--text", "x", "--json", "{}"],
             ["contribute", "some-session", "--text", "x", "--type", "rant"],
             ["outcome"],
             ["replay", "--after", "minus-one"],
             ["frobnicate"],
             ["--timeout", "soon", "ping"]]
    for args in cases:
        rc, out, err = ctl(ctx, args, w.ep)
        h.check(rc == 2, "%r: rc %d (out %r err %r)" % (args, rc, out[:200], err[:200]))
        h.check(err.strip(), "%r: no message on stderr" % (args,))
    # nothing bad reached the bridge: its counters saw no contribute
    st = w.call({"cmd": "status"})
    h.check(st["counters"]["commands"].get("bad_request", 0) == 0,
            "a usage error was sent to the bridge: %r" % st["counters"]["commands"])


def test_ctl_without_a_bridge_exits_3_with_a_clear_message(ctx):
    d = ctx.mkdir("nobody")
    ep = "ipc://%s/cmd.sock" % d
    rc, out, err = ctl(ctx, ["--timeout", "300", "ping"], ep, timeout=10)
    h.check(rc == 3, "rc %d with no bridge (out %r err %r)" % (rc, out, err))
    h.check(ctx.last_ctl_seconds < 5, "took %.1fs with --timeout 300" % ctx.last_ctl_seconds)
    low = err.lower()
    h.check(("no reply" in low or "not running" in low or "timed out" in low
             or "timeout" in low), "unclear message: %r" % err)
    h.check(out.strip() == "", "stdout without a reply: %r" % out)
    rc, out, err = ctl(ctx, ["--timeout", "300", "contribute", "s", "--text", "x",
                             "--timeout", "1000"], ep, timeout=15)
    h.check(rc == 3, "contribute rc %d with no bridge: %r" % (rc, err))


if __name__ == "__main__":
    h.main(globals())
