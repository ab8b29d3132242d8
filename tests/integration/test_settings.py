#!/usr/bin/python3
"""test_settings.py: the daemon's settings (bridge-contract.md, "The daemon's settings"):
--help, clear refusals with exit status 2, key handling (never in argv, URLs or logs),
precedence flag > environment > config file > default, observed with --check-config."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

FLAGS = ["--url", "--api-key-file", "--events", "--commands", "--ca-file", "--rest-url",
         "--contribute-via", "--ws-budget", "--legacy-query-token", "--insecure",
         "--allow-insecure-remote", "--inbox-mark-read", "--no-backfill", "--log-level",
         "--replay-size", "--dedup-size", "--pub-hwm", "--pub-stall-ms", "--ping-interval-ms",
         "--auth-timeout-ms", "--backoff-base-ms", "--backoff-cap-ms", "--healthy-after-ms",
         "--rest-inflight",
         "--client-quota", "--max-frame", "--config", "--check-config", "--help"]
ENVS = ["PLURUM_PULSE_URL", "PLURUM_API_KEY", "PLURUM_PULSE_EVENTS", "PLURUM_PULSE_COMMANDS",
        "PLURUM_PULSE_CA_FILE", "PLURUM_REST_URL", "PLURUM_PULSE_CONTRIBUTE_VIA",
        "PLURUM_PULSE_WS_BUDGET"]

# (flags, the name the error line must contain)
BAD_FLAGS = [
    (["--ws-budget", "abc"], "ws-budget"),
    (["--ws-budget", "0"], "ws-budget"),
    (["--ws-budget", "61"], "ws-budget"),
    (["--ws-budget", "5x"], "ws-budget"),
    (["--ws-budget"], "ws-budget"),
    (["--contribute-via", "pigeon"], "contribute-via"),
    (["--log-level", "loud"], "log-level"),
    (["--url", "http://127.0.0.1:1/api/v1/pulse/ws"], "url"),
    (["--url", "not a url"], "url"),
    (["--ping-interval-ms", "50"], "ping-interval-ms"),
    (["--replay-size", "-1"], "replay-size"),
    (["--dedup-size", "0"], "dedup-size"),
    (["--pub-hwm", "0"], "pub-hwm"),
    (["--backoff-cap-ms", "99999999999999999999999"], "backoff-cap-ms"),
    (["--max-frame", "12"], "max-frame"),
    (["--no-such-flag"], "no-such-flag"),
    (["--config", "/nonexistent/pp.conf"], "/nonexistent/pp.conf"),
]


def key_env(key=None):
    return {"PLURUM_API_KEY": key or h.gen_key()}


def one_line(err):
    lines = [x for x in err.splitlines() if x.strip()]
    h.check(len(lines) == 1, "expected one error line, got %d: %r" % (len(lines), err[:2000]))
    return lines[0]


def check_refused(ctx, args, name, env=None):
    key = h.gen_key()
    e = key_env(key)
    if env:
        e.update(env)
    rc, out, err = h.run_bridge_once(ctx, args, env=e)
    h.check(rc == 2, "%r: exit %d (want 2): %r" % (args, rc, (out + err)[:500]))
    line = one_line(err)
    h.check(name in line, "%r: error line does not name %r: %r" % (args, name, line))
    h.assert_no_key(out + err, key, "refusal output")


def check_config(ctx, args, env=None):
    """The effective settings printed by --check-config, as a dict."""
    e = key_env()
    if env:
        e.update(env)
    rc, out, err = h.run_bridge_once(ctx, list(args) + ["--check-config"], env=e)
    h.check(rc == 0, "--check-config %r: exit %d: %r" % (args, rc, (out + err)[:500]))
    h.assert_no_key(out + err, e["PLURUM_API_KEY"], "--check-config output")
    settings = {}
    for line in out.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            settings[k.strip()] = v.strip()
    h.check("ws-budget" in settings, "--check-config printed no ws-budget: %r" % out[:800])
    return settings


def test_help_lists_every_setting(ctx):
    rc, out, err = h.run_bridge_once(ctx, ["--help"])
    h.check(rc == 0, "--help exit %d" % rc)
    for f in FLAGS:
        h.check(f in out, "--help does not mention %s" % f)
    for e in ENVS:
        h.check(e in out, "--help does not mention %s" % e)


def test_bad_values_exit_2_naming_the_setting(ctx):
    for args, name in BAD_FLAGS:
        check_refused(ctx, args, name)


def test_bad_environment_and_config_file_values_exit_2(ctx):
    key = h.gen_key()
    rc, out, err = h.run_bridge_once(ctx, [], env={"PLURUM_API_KEY": key,
                                                   "PLURUM_PULSE_WS_BUDGET": "lots"})
    h.check(rc == 2, "bad env value: exit %d" % rc)
    line = one_line(err)
    h.check("WS_BUDGET" in line or "ws-budget" in line, "env error line %r" % line)
    conf = ctx.path("bad.conf")
    with open(conf, "w") as f:
        f.write("# a comment\nws-budget = 0\n")
    check_refused(ctx, ["--config", conf], "ws-budget")
    with open(conf, "w") as f:
        f.write("wsbudget = 3\n")
    check_refused(ctx, ["--config", conf], "wsbudget")
    with open(conf, "w") as f:
        f.write("contribute-via = carrier\n")
    check_refused(ctx, ["--config", conf], "contribute-via")


def test_no_key_exits_2(ctx):
    rc, out, err = h.run_bridge_once(ctx, ["--url", "ws://127.0.0.1:9/api/v1/pulse/ws"])
    h.check(rc == 2, "no key: exit %d" % rc)
    line = one_line(err)
    h.check("PLURUM_API_KEY" in line or "key" in line.lower(), "no-key line %r" % line)
    empty = ctx.path("empty-key")
    h.write_key_file(empty, "  ")
    rc, out, err = h.run_bridge_once(ctx, ["--api-key-file", empty])
    h.check(rc == 2, "empty key file: exit %d" % rc)
    h.check(empty in one_line(err), "empty key file line %r" % err)
    rc, out, err = h.run_bridge_once(ctx, ["--api-key-file", ctx.path("missing")])
    h.check(rc == 2, "missing key file: exit %d" % rc)
    h.check(ctx.path("missing") in one_line(err), "missing key file line %r" % err)


def test_key_file_readable_by_others_is_refused(ctx):
    key = h.gen_key()
    for mode in (0o644, 0o640, 0o604, 0o660):
        path = ctx.path("key-%o" % mode)
        h.write_key_file(path, key, mode)
        rc, out, err = h.run_bridge_once(ctx, ["--api-key-file", path])
        h.check(rc == 2, "key file %o: exit %d" % (mode, rc))
        h.check(path in one_line(err), "key file %o: line does not name the file: %r" %
                (mode, err))
        h.assert_no_key(out + err, key, "key-file refusal")


def test_key_never_in_argv_nor_in_debug_logs(ctx):
    key_a, key_b = h.gen_key(), h.gen_key()
    dev = ctx.devserver({key_a: "agent-a", key_b: "agent-b"})
    ctx.secrets.add(key_b)
    for key_file in (True, False):
        b = ctx.bridge(dev.ws_url, key_a, key_file=key_file,
                       extra=["--log-level", "debug"], name="b-file" if key_file else "b-env")
        with open("/proc/%d/cmdline" % b.pid, "rb") as f:
            h.assert_no_key(f.read(), key_a, "/proc/pid/cmdline")
        s = b.sub([""])
        h.await_status(s, "connected", 10)
        sid, _ = dev.open_session("agent-a", "t", domain="d")
        dev.contribute(sid, "agent-b", {"text": "x"})
        h.await_topic(s, "contribution.received." + sid, 10)
        b.stop()
        err = b.stderr()
        h.check(len(err.splitlines()) > 3, "debug logging wrote almost nothing")
        h.assert_no_key(err, key_a, "debug log")


def test_legacy_query_token_is_redacted_from_logs(ctx):
    key = h.gen_key()
    dev = ctx.devserver({key: "agent-a"})
    b = ctx.bridge(dev.ws_url, key, key_file=True,
                   extra=["--legacy-query-token", "--log-level", "debug"])
    b.wait_state("connected", 10)
    conns = dev.connections("agent-a")
    h.check(len(conns) == 1 and conns[0].get("legacy_token") is True,
            "bridge did not use ?token=: %r" % conns)
    b.stop()
    h.assert_no_key(b.stderr(), key, "legacy-mode debug log")


def test_preferred_auth_does_not_put_key_in_url(ctx):
    key = h.gen_key()
    dev = ctx.devserver({key: "agent-a"})
    b = ctx.bridge(dev.ws_url, key)
    b.wait_state("connected", 10)
    conns = dev.connections("agent-a")
    h.check(len(conns) == 1 and conns[0].get("legacy_token") is False,
            "bridge used ?token= without being asked: %r" % conns)


def test_precedence_flag_over_env_over_config_file(ctx):
    conf = ctx.path("pp.conf")
    with open(conf, "w") as f:
        f.write("# settings\nws-budget = 10\nlog-level = warn\nreplay-size = 7\n"
                "contribute-via = ws\n")
    env = {"PLURUM_PULSE_WS_BUDGET": "20", "PLURUM_PULSE_CONTRIBUTE_VIA": "auto"}
    s = check_config(ctx, ["--config", conf, "--ws-budget", "30"], env)
    h.check(s["ws-budget"] == "30", "flag must win: %r" % s["ws-budget"])
    h.check(s["contribute-via"] == "auto", "env must beat the file: %r" % s["contribute-via"])
    h.check(s["replay-size"] == "7", "file must beat the default: %r" % s["replay-size"])
    h.check(s["log-level"] == "warn", "file log-level: %r" % s["log-level"])
    s = check_config(ctx, ["--config", conf], env)
    h.check(s["ws-budget"] == "20", "env must beat the file: %r" % s["ws-budget"])
    s = check_config(ctx, ["--config", conf])
    h.check(s["ws-budget"] == "10", "file must beat the default: %r" % s["ws-budget"])
    s = check_config(ctx, [])
    h.check(s["ws-budget"] == "55", "default ws-budget: %r" % s["ws-budget"])
    h.check(s["contribute-via"] == "rest", "default contribute-via: %r" % s["contribute-via"])
    h.check(s["url"] == "wss://api.plurum.ai/api/v1/pulse/ws", "default url %r" % s["url"])
    s = check_config(ctx, ["--url", "wss://h.example:8443/api/v1/pulse/ws"])
    h.check(s["rest-url"] == "https://h.example:8443/api/v1", "derived rest-url %r" %
            s["rest-url"])
    s = check_config(ctx, [], {"PLURUM_PULSE_URL": "ws://127.0.0.1:5/api/v1/pulse/ws"})
    h.check(s["rest-url"] == "http://127.0.0.1:5/api/v1", "derived rest-url %r" % s["rest-url"])


def test_check_config_never_prints_the_key(ctx):
    key = h.gen_key()
    path = ctx.path("k")
    h.write_key_file(path, key)
    rc, out, err = h.run_bridge_once(ctx, ["--api-key-file", path, "--check-config",
                                           "--log-level", "debug"])
    h.check(rc == 0, "--check-config with a key file: exit %d %r" % (rc, err[:300]))
    h.assert_no_key(out + err, key, "--check-config")


if __name__ == "__main__":
    h.main(globals())
