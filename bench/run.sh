#!/bin/sh
# bench/run.sh: builds what the benchmark needs (Release, in build-bench/) and runs it.
#   ./bench/run.sh [--quick] [bench.py options...]   (./bench/run.sh --help lists them)
# BENCH_BUILD overrides the build directory; BENCH_NO_BUILD=1 skips the build step.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_BUILD:-$root/build-bench}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS= >/dev/null
	cmake --build "$build" -j2 --target plurum-pulse-bridge plurum-pulse-devserver \
		raw_client sub_meter contrib_bench zmq_floor wake_floor >/dev/null
fi
exec /usr/bin/python3 "$here/bench.py" --build "$build" "$@"
