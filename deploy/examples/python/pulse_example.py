#!/usr/bin/python3
"""pulse_example.py: subscribe (with gap filling) and contribute through plurum-pulse-bridge.

    pulse_example.py subscribe [--events EP] [--commands EP] [--after SEQ] [--count N]
                               [--timeout-ms MS] [PREFIX...]
    pulse_example.py contribute [--commands EP] [--type T] [--id ID] [--timeout-ms MS]
                               SESSION_ID (--text TEXT | --json OBJECT)

Output lines and exit statuses are those of the C examples (../c/): "event seq=...",
"replayed seq=...", "gap: ...", "ok via=... contribution=...", "error code=C: ...";
exit 0 ok, 1 error reply or timeout, 2 bad usage, 3 no reply.
Runs with Debian's python3 and python3-zmq; pulse_client.py sits next to this file.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_client import Commands, NoReply, Subscriber  # noqa: E402

# error code -> (retry?, what it means); "ask" asks the bridge for the outcome.
ERRORS = {
    "bad_request": ("no", "the request is malformed; fix the field the message names"),
    "unknown_command": ("no", "this bridge does not know the command (too old?)"),
    "not_found": ("no", "no such id in this run of the bridge"),
    "too_large": ("no", "the content is over 256 KiB once sent upstream; shorten it"),
    "unsafe_content": ("no", "the content looks like it holds a secret or a private "
                             "address; remove it"),
    "rate_limited": ("retry", "the upstream budget is spent; retrying after the wait"),
    "not_connected": ("retry", "the bridge cannot reach Plurum now; retrying later"),
    "upstream_rejected": ("no", "Plurum refused it (closed, private or own session, or a "
                                "bad session id)"),
    "outcome_unknown": ("ask", "the link died after sending: it may have been applied; "
                               "asking the bridge"),
    "shutting_down": ("no", "the bridge is stopping; try again once it is back"),
}


def cmd_subscribe(a):
    with Commands(a.commands) as cmd, \
            Subscriber(a.prefixes, a.events, cmd, after=a.after) as sub:
        n = 0
        for how, topic, env in sub.events(a.timeout_ms):
            if how == "gap":
                print("gap: seq %d..%d missing, %d matching event(s) replayed%s" % (
                    env["from"], env["to"], env["filled"],
                    "" if env["complete"] else " (replay incomplete)"), flush=True)
                continue
            if how == "repeat":
                print("repeat seq=%d type=%s" % (env["seq"], env["type"]), flush=True)
                continue
            print("%s seq=%d type=%s source=%s topic=%s" % (
                how, env["seq"], env["type"], env["source"], topic), flush=True)
            n += 1
            if a.count and n >= a.count:
                return 0
    print("no event within %d ms" % a.timeout_ms, file=sys.stderr)
    return 1


def cmd_contribute(a):
    content = {"text": a.text} if a.text is not None else json.loads(a.json)
    req_id = a.id or "example-%d-%d" % (os.getpid(), int(time.time()))
    with Commands(a.commands) as cmd:
        for attempt in range(2):
            try:
                rep = cmd.contribute(a.session_id, content, a.type, req_id,
                                     a.timeout_ms)
            except NoReply:
                print("no reply: is the bridge running?")
                return 3
            if rep.get("ok"):
                print("ok via=%s contribution=%s" % (
                    rep["via"], rep["contribution"]["contribution_id"]))
                return 0
            err = rep.get("error", {})
            code = err.get("code", "?")
            action, meaning = ERRORS.get(code, ("no", "an error this program does not know"))
            extra = ", HTTP %d" % err["status"] if err.get("status") else ""
            print("error code=%s: %s (%s%s)" % (code, meaning, err.get("message", ""), extra))
            if action == "ask":
                print("outcome: %s" % json.dumps(cmd.outcome(req_id)))
                return 1
            if action != "retry" or attempt == 1:
                return 1
            time.sleep(err.get("retry_after_ms", 1000) / 1000.0)  # same id: never twice
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sp = ap.add_subparsers(dest="what", required=True)
    s = sp.add_parser("subscribe")
    s.add_argument("--events")
    s.add_argument("--commands")
    s.add_argument("--after", type=int)
    s.add_argument("--count", type=int, default=0)
    s.add_argument("--timeout-ms", type=int, default=-1)
    s.add_argument("prefixes", nargs="*")
    c = sp.add_parser("contribute")
    c.add_argument("--commands")
    c.add_argument("--type")
    c.add_argument("--id")
    c.add_argument("--timeout-ms", type=int, default=10000)
    c.add_argument("session_id")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--text")
    g.add_argument("--json")
    a = ap.parse_args()
    return cmd_subscribe(a) if a.what == "subscribe" else cmd_contribute(a)


if __name__ == "__main__":
    sys.exit(main())
