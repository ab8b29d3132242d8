#!/usr/bin/env bash
# demo.sh: a complete, non-interactive tour of plurum-pulse-bridge on one machine.
#
# Builds into build/, starts plurum-pulse-devserver (a local Pulse server, TLS with its own
# self-signed certificate), starts the bridge against it over wss:// (the key in a 0600
# file), prints every event with plurum-pulse-sub --pretty, makes the server produce each
# event kind, sends a contribution through the bridge with plurum-pulse-ctl, prints the
# bridge's status, and stops everything cleanly. Runnable from any directory.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
PY=/usr/bin/python3

# shellcheck source=deps.sh
. "$repo/deploy/deps.sh"
pp_ensure_deps || exit $?

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building into $build"
buildlog=$(mktemp /tmp/pp-demo-build.XXXXXX)
if ! { cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
	cmake --build "$build" -j 2 --target plurum-pulse-devserver plurum-pulse-bridge \
		plurum-pulse-sub plurum-pulse-ctl; } >"$buildlog" 2>&1; then
	tail -n 40 "$buildlog"
	echo "demo: build failed (full log: $buildlog)" >&2
	exit 1
fi
rm -f "$buildlog"
bin() { find "$build" -type f -name "$1" -perm -u+x | head -n 1; }
DEVSERVER=$(bin plurum-pulse-devserver)
BRIDGE=$(bin plurum-pulse-bridge)
SUB=$(bin plurum-pulse-sub)
CTL=$(bin plurum-pulse-ctl)

tmp=$(mktemp -d /tmp/pp-demo.XXXXXX)
chmod 700 "$tmp"
dev_pid= bridge_pid= sub_pid=
cleanup() {
	local rc=$?
	[ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
	if [ -n "$bridge_pid" ] && kill -0 "$bridge_pid" 2>/dev/null; then
		kill -TERM "$bridge_pid"
		wait "$bridge_pid"
		echo "demo: bridge exited with status $?"
	fi
	[ -n "$dev_pid" ] && kill -TERM "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null
	[ -n "$sub_pid" ] && wait "$sub_pid" 2>/dev/null
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "demo: timed out waiting for $what" >&2
			return 1
		fi
		sleep 0.1
	done
}

# devcall METHOD PATH [JSON]: one /_dev/ control call; prints the JSON answer.
devcall() {
	"$PY" - "$dev_port" "$1" "$2" "${3:-}" <<'PYEOF'
import json, sys, urllib.request, urllib.error
port, method, path, body = sys.argv[1:5]
req = urllib.request.Request("http://127.0.0.1:%s/_dev/%s" % (port, path),
                             data=body.encode() if body else None, method=method,
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.read().decode()); sys.exit(1)
PYEOF
}
# jget JSON FIELD: one top-level string field of a JSON object.
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
newkey() { printf 'plrm_live_%s' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"; }

say "starting plurum-pulse-devserver (ws + wss on ephemeral ports)"
"$DEVSERVER" --port 0 --tls-port 0 --cert-dir "$tmp" >"$tmp/dev.out" 2>"$tmp/dev.log" &
dev_pid=$!
wait_for 10 "the devserver's ready line" grep -q '"ready"' "$tmp/dev.out" || exit 1
ready=$(head -n 1 "$tmp/dev.out")
echo "$ready"
dev_port=$(jget "$ready" port)
tls_port=$(jget "$ready" tls_port)
cert=$(jget "$ready" cert)

# Two agents: Alice runs the bridge, Bob is someone else on the network. Keys are made up
# here and go to the server through the control API (never on a command line).
key_alice=$(newkey)
key_bob=$(newkey)
alice=$(jget "$(devcall POST agents "{\"api_key\":\"$key_alice\",\"agent_id\":\"agent-alice\"}")" agent_id)
bob=$(jget "$(devcall POST agents "{\"api_key\":\"$key_bob\",\"agent_id\":\"agent-bob\"}")" agent_id)
echo "agents: $alice (the bridge's), $bob"

(umask 077 && printf '%s\n' "$key_alice" >"$tmp/alice.key")
export PLURUM_PULSE_EVENTS="ipc://$tmp/events.sock"
export PLURUM_PULSE_COMMANDS="ipc://$tmp/commands.sock"

say "starting plurum-pulse-bridge over wss:// (log: bridge.log, shown at the end)"
"$BRIDGE" --url "wss://localhost:$tls_port/api/v1/pulse/ws" --ca-file "$cert" \
	--api-key-file "$tmp/alice.key" 2>"$tmp/bridge.log" &
bridge_pid=$!
wait_for 15 "the bridge to connect" sh -c "\"$CTL\" status | grep -q '\"connected\"'" || {
	tail -n 20 "$tmp/bridge.log"
	exit 1
}

say "plurum-pulse-sub --pretty (every event the bridge publishes)"
"$SUB" --pretty > >(tee "$tmp/sub.out") 2>&1 &
sub_pid=$!
# The bridge re-sends its status to each new subscriber: once it shows, we are subscribed.
wait_for 10 "the subscriber" grep -q 'bridge.status' "$tmp/sub.out" ||
	echo "demo: (the subscriber has printed nothing yet; going on)"

say "Bob opens a session (domain \"Web Dev\") -> session.opened.web_dev"
s_bob=$(jget "$(devcall POST sessions "{\"owner\":\"$bob\",\"topic\":\"Flaky CSS grid in Safari\",\"domain\":\"Web Dev\",\"tools_used\":[\"safari\",\"css\"]}")" session_id)
s_bob2=$(jget "$(devcall POST sessions "{\"owner\":\"$bob\",\"topic\":\"Tuning PostgreSQL autovacuum\",\"domain\":\"databases\"}")" session_id)
wait_for 5 "session.opened" grep -q 'session.opened' "$tmp/sub.out"

say "Alice has a session; Bob contributes to it -> contribution.received.<session>"
s_alice=$(jget "$(devcall POST sessions "{\"owner\":\"$alice\",\"topic\":\"Rust borrow checker puzzle\",\"domain\":\"rust\"}")" session_id)
devcall POST "sessions/$s_alice/contribute" \
	"{\"contributor\":\"$bob\",\"content\":{\"text\":\"Try splitting the borrow into two scopes.\"},\"contribution_type\":\"suggestion\"}" >/dev/null
wait_for 5 "contribution.received" grep -q 'contribution.received' "$tmp/sub.out"

say "Bob closes his first session -> session.closed.success"
devcall POST "sessions/$s_bob/close" '{"outcome":"success","experience":true}' >/dev/null
wait_for 5 "session.closed" grep -q 'session.closed' "$tmp/sub.out"

say "Alice contributes to Bob's open session through the bridge: plurum-pulse-ctl contribute"
if ! "$CTL" contribute "$s_bob2" --text "Lower autovacuum_vacuum_scale_factor on the hot table."; then
	echo "demo: plurum-pulse-ctl contribute failed (see its message above); going on"
fi

say "plurum-pulse-ctl status"
"$CTL" status || echo "demo: plurum-pulse-ctl status failed; going on"

say "the bridge's log"
cat "$tmp/bridge.log"

say "stopping (SIGTERM to the bridge, then the server)"
exit 0
