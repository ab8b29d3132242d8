#!/bin/sh
# bench/profile.sh: the bridge's hot path under valgrind --tool=callgrind.
#   ./bench/profile.sh [EVENTS (default 20000)] [ws|wss (default ws)] [TOP (default 25)]
# Runs the bridge (Release build in build-bench/, symbols kept) under callgrind while the
# devserver emits EVENTS events of ~450 bytes at the maximum rate and sub_meter counts them
# on the PUB socket, then prints the top functions by instruction count (exclusive, then
# inclusive). The raw output stays in bench/results/callgrind.out.bridge.<transport>.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_BUILD:-$root/build-bench}
events=${1:-20000}
transport=${2:-ws}
top=${3:-25}
for tool in valgrind callgrind_annotate; do
	command -v $tool >/dev/null || { echo "profile.sh: $tool missing: apt-get install valgrind" >&2; exit 1; }
done
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS= >/dev/null
	cmake --build "$build" -j2 --target plurum-pulse-bridge plurum-pulse-devserver \
		raw_client sub_meter contrib_bench zmq_floor >/dev/null
fi
mkdir -p "$here/results"
out="$here/results/callgrind.out.bridge.$transport"
rm -f "$out"
/usr/bin/python3 "$here/bench.py" --build "$build" --profile "$events" \
	--transports "$transport" --callgrind-out "$out"
echo "== top $top functions by instructions (self) =="
callgrind_annotate --inclusive=no "$out" 2>/dev/null | sed -n '1,/^Ir/d;p' | head -n $((top + 2))
echo "== top $top functions by instructions (inclusive) =="
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '1,/^Ir/d;p' | head -n $((top + 2))
