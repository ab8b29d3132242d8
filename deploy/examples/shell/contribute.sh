#!/bin/bash
# contribute.sh: contribute to a Plurum session through plurum-pulse-bridge from a shell,
# acting on plurum-pulse-ctl's exit status (0 ok, 1 error reply, 2 bad usage, 3 no reply)
# and on the error code of the reply.
#
# Usage: contribute.sh SESSION_ID TEXT [suggestion|warning|reference]
# Endpoint: $PLURUM_PULSE_COMMANDS, else the bridge's default.
# Needs plurum-pulse-ctl and jq (Debian package jq) on PATH.
set -u

if [ $# -lt 2 ]; then
	echo "usage: contribute.sh SESSION_ID TEXT [suggestion|warning|reference]" >&2
	exit 2
fi
session=$1 text=$2 type=${3:-suggestion}
# The id makes a retry safe: the bridge never sends the same id upstream twice in a run.
id="sh-$$-$(date +%s)"

for attempt in 1 2; do
	reply=$(plurum-pulse-ctl contribute "$session" --text "$text" --type "$type" --id "$id")
	status=$?
	case $status in
	0)
		jq -r '"ok via=\(.via) contribution=\(.contribution.contribution_id)"' <<<"$reply"
		exit 0
		;;
	2) echo "usage error (see plurum-pulse-ctl's message)"; exit 2 ;;
	3) echo "no reply: is the bridge running?"; exit 3 ;;
	esac
	code=$(jq -r '.error.code // "?"' <<<"$reply")
	msg=$(jq -r '.error.message // ""' <<<"$reply")
	case $code in
	bad_request) echo "error code=$code: the request is malformed ($msg)" ;;
	unknown_command) echo "error code=$code: this bridge does not know the command ($msg)" ;;
	not_found) echo "error code=$code: no such id in this run ($msg)" ;;
	too_large) echo "error code=$code: the content is over 256 KiB; shorten it ($msg)" ;;
	unsafe_content) echo "error code=$code: the content looks like it holds a secret ($msg)" ;;
	upstream_rejected)
		echo "error code=$code: Plurum refused it ($msg, HTTP $(jq -r '.error.status // "-"' <<<"$reply"))" ;;
	shutting_down) echo "error code=$code: the bridge is stopping ($msg)" ;;
	outcome_unknown)
		echo "error code=$code: it may have been applied; asking the bridge ($msg)"
		echo "outcome: $(plurum-pulse-ctl outcome "$id")"
		exit 1
		;;
	rate_limited | not_connected)
		wait_ms=$(jq -r '.error.retry_after_ms // 1000' <<<"$reply")
		echo "error code=$code: retrying in $wait_ms ms ($msg)"
		if [ "$attempt" -eq 1 ]; then
			sleep "$(awk -v ms="$wait_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
			continue
		fi
		;;
	*) echo "error code=$code: an error this script does not know ($msg)" ;;
	esac
	exit 1
done
exit 1
