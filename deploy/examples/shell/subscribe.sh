#!/bin/bash
# subscribe.sh: follow plurum-pulse-bridge's events from a shell, noticing missed events
# (a jump in "seq") and fetching them with `plurum-pulse-ctl replay`.
#
# Usage: subscribe.sh [--after SEQ] [--count N] [PREFIX...]
#   --after SEQ  the last seq handled before (in the bridge's current run): what came after
#                it is replayed first.
# Endpoints: $PLURUM_PULSE_EVENTS / $PLURUM_PULSE_COMMANDS, else the bridge's defaults.
# Needs plurum-pulse-sub, plurum-pulse-ctl and jq (Debian package jq) on PATH.
# Output: "event seq=N type=T source=S topic=P", "replayed seq=...", "gap: ..." lines, as
# the C and Python examples print them.
set -u

after='' count=0 prefixes=()
while [ $# -gt 0 ]; do
	case $1 in
	--after) after=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	--*) echo "usage: subscribe.sh [--after SEQ] [--count N] [PREFIX...]" >&2; exit 2 ;;
	*) prefixes+=("$1"); shift ;;
	esac
done

# The topic of an envelope, rebuilt as the bridge makes it (replayed events carry none).
JQ_TOPIC='def seg: if . == null or . == "" then "none"
                   else ascii_downcase | gsub("[^a-z0-9_-]"; "_") | .[0:64] end;
          if .type == "session.opened" then "session.opened." + (.data.domain | seg)
          elif .type == "session.closed" then "session.closed." + (.data.outcome | seg)
          elif .type == "contribution.received" then
            "contribution.received." + (.data.session_id | seg)
          else .type end'

matches() { # matches TOPIC: does a prefix match it?
	[ ${#prefixes[@]} -eq 0 ] && return 0
	local p
	for p in "${prefixes[@]}"; do
		[[ $1 == "$p"* ]] && return 0
	done
	return 1
}

delivered=0
deliver() { # deliver HOW ENVELOPE TOPIC: a real script would act on the event here
	jq -r --arg how "$1" --arg topic "$3" \
		'"\($how) seq=\(.seq) type=\(.type) source=\(.source) topic=\($topic)"' <<<"$2"
	delivered=$((delivered + 1))
	if [ "$count" -gt 0 ] && [ "$delivered" -ge "$count" ]; then
		exit 0
	fi
}

fill_gap() { # fill_gap LAST UPTO RUN: replay the events after LAST and before UPTO
	local last=$1 upto=$2 run=$3 reply filled=0 env topic
	if ! reply=$(plurum-pulse-ctl replay --after "$last" --limit $((upto - last - 1))); then
		echo "gap: seq $((last + 1))..$((upto - 1)) missing, replay failed: $reply"
		return
	fi
	if [ "$(jq -r .run <<<"$reply")" != "$run" ]; then
		echo "gap: the bridge restarted: nothing to replay"
		return
	fi
	while IFS= read -r env; do
		topic=$(jq -r "$JQ_TOPIC" <<<"$env")
		if matches "$topic"; then
			filled=$((filled + 1))
			deliver replayed "$env" "$topic"
		fi
	done < <(jq -c --argjson a "$last" --argjson b "$upto" \
		'.events[] | select(.seq > $a and .seq < $b)' <<<"$reply")
	echo "gap: seq $((last + 1))..$((upto - 1)) missing, $filled matching event(s) replayed"
}

# plurum-pulse-sub in the background on fd 3, so this script can stop it when done.
exec 3< <(exec plurum-pulse-sub "${prefixes[@]}")
sub_pid=$!
trap 'kill "$sub_pid" 2>/dev/null' EXIT

run='' last=0
while IFS= read -r env <&3; do
	read -r erun seq type < <(jq -r '"\(.run) \(.seq) \(.type)"' <<<"$env")
	if [ "$erun" != "$run" ]; then
		[ -n "$run" ] && echo "new run $erun: the bridge restarted, seq starts again"
		if [ -z "$run" ] && [ -n "$after" ]; then last=$after; else last=$((seq - 1)); fi
		run=$erun
	fi
	if [ "$seq" -le "$last" ]; then
		echo "repeat seq=$seq type=$type" # bridge.status re-sent to a new subscriber
		continue
	fi
	[ "$seq" -gt $((last + 1)) ] && fill_gap "$last" "$seq" "$run"
	last=$seq
	deliver event "$env" "$(jq -r "$JQ_TOPIC" <<<"$env")"
done
echo "subscribe.sh: plurum-pulse-sub stopped" >&2
exit 1
