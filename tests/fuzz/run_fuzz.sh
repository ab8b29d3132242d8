#!/usr/bin/env bash
# run_fuzz.sh: build the fuzz targets with clang + libFuzzer and run each for a while.
#
# Usage: tests/fuzz/run_fuzz.sh [SECONDS_EACH [BUILD_DIR [TARGET...]]]
#   SECONDS_EACH  time per target (default 30); BUILD_DIR default <repo>/build-fuzz;
#   TARGET        normalize command scanner config wsframe (default: all five).
# Env: PP_FUZZ_PARALLEL  targets run at once (default 1; each target is one process),
#      PP_FUZZ_ARGS      extra libFuzzer flags,
#      PP_FUZZ_CFLAGS    extra compiler flags for the targets (e.g. -DPP_FUZZ_KNOWN_BUGS to
#                        fuzz on past the open bugs listed in README.md).
# Builds BUILD_DIR/fuzz_NAME (-fsanitize=fuzzer,address,undefined), runs it on a copy
# of tests/fuzz/corpus/NAME in BUILD_DIR/corpus/NAME (new inputs land there, never in the
# repo) plus tests/fuzz/regressions/NAME (read only), then prints per target the run
# count, coverage and any crash file (BUILD_DIR/artifacts/NAME/). Exit status: 0 all
# clean, 1 a crash/leak/timeout was found or a build failed, 2 clang or libFuzzer missing.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
secs=${1:-30}
build=${2:-$repo/build-fuzz}
mkdir -p "$build" && build=$(cd "$build" && pwd) # the runs cd elsewhere: make it absolute
shift $(($# < 2 ? $# : 2))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(normalize command scanner config wsframe)
parallel=${PP_FUZZ_PARALLEL:-1}
cc=${CC_FUZZ:-clang}

case "$secs" in '' | *[!0-9]*) echo "run_fuzz.sh: SECONDS_EACH must be a number" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
	[ -f "$here/fuzz_$t.c" ] || { echo "run_fuzz.sh: unknown target '$t'" >&2; exit 2; }
done

# max_len per target: frames and requests get room for nesting, argv/config stay short;
# wsframe needs a few KiB to reach its 4096-byte max_message.
max_len_of() {
	case "$1" in
	normalize | command) echo 65536 ;;
	scanner | wsframe) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

need_pkgs="apt-get install -y clang libclang-rt-14-dev"
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run_fuzz.sh: $cc not found; install it with: $need_pkgs" >&2
	exit 2
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
	echo "run_fuzz.sh: $cc cannot link libFuzzer ($(head -1 "$probe/err"))" >&2
	echo "run_fuzz.sh: install it with: $need_pkgs" >&2
	exit 2
fi
if ! pkg-config --exists jansson openssl; then
	echo "run_fuzz.sh: jansson or openssl not found (apt-get install -y libjansson-dev libssl-dev)" >&2
	exit 2
fi

# ---- Build: the library sources once (instrumented, no main), then one link per target.
mkdir -p "$build/obj" "$build/logs"
# shellcheck disable=SC2207 # pkg-config output is meant to be split into words
cflags=(-std=c17 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
	-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
	-I"$repo/bridge/common" -I"$repo/include" -I"$here" $(pkg-config --cflags jansson openssl))
# shellcheck disable=SC2054 # the commas belong to the flag
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
objs=()
for src in "$repo"/bridge/common/*.c; do
	obj="$build/obj/$(basename "${src%.c}").o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$repo/bridge/common" "$repo/include" -name '*.h' -newer "$obj" 2>/dev/null)" ]; then
		"$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" ||
			{ echo "run_fuzz.sh: building $src failed" >&2; exit 1; }
	fi
	objs+=("$obj")
done
for t in "${targets[@]}"; do
	# shellcheck disable=SC2086,SC2046 # flag lists: word splitting wanted
	"$cc" "${cflags[@]}" "${san[@]}" ${PP_FUZZ_CFLAGS:-} -fsanitize=fuzzer "$here/fuzz_$t.c" "${objs[@]}" \
		$(pkg-config --libs jansson openssl) -o "$build/fuzz_$t" ||
		{ echo "run_fuzz.sh: building fuzz_$t failed" >&2; exit 1; }
done
echo "run_fuzz.sh: built ${targets[*]} in $build"

# ---- Run one target; its output goes to logs/NAME.log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_one() {
	local t=$1 corpus=$build/corpus/$1 art=$build/artifacts/$1
	mkdir -p "$corpus" "$art"
	cp -n "$here/corpus/$t"/* "$corpus"/ 2>/dev/null # keeps what earlier runs found
	local dict=()
	[ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
	# shellcheck disable=SC2086
	"$build/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
		-max_len="$(max_len_of "$t")" -print_final_stats=1 \
		-artifact_prefix="$art/" "${dict[@]}" ${PP_FUZZ_ARGS:-} \
		"$corpus" "$here/regressions/$t" >"$build/logs/$t.log" 2>&1
	echo $? >"$build/logs/$t.rc"
}

# One in-process libFuzzer run per target (no -jobs: that would fork workers that log elsewhere).
cd "$build/logs" || exit 1
running=0
for t in "${targets[@]}"; do
	rm -f "$build/logs/$t.rc"
	echo "run_fuzz.sh: fuzzing $t for ${secs}s (log: $build/logs/$t.log)"
	if [ "$parallel" -gt 1 ]; then
		run_one "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$parallel" ]; then
			wait -n
			running=$((running - 1))
		fi
	else
		run_one "$t"
	fi
done
wait

# ---- Report.
status=0
printf '\n%-10s %8s %12s %8s %8s %s\n' target seconds executions cov ft result
for t in "${targets[@]}"; do
	log=$build/logs/$t.log
	rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	tsec=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	crash=$(find "$build/artifacts/$t" -type f -newer "$build/fuzz_$t" 2>/dev/null | head -5)
	result=clean
	if [ "$rc" != 0 ] || [ -n "$crash" ]; then
		result="FAILED (exit $rc)"
		status=1
	fi
	printf '%-10s %8s %12s %8s %8s %s\n' "$t" "${tsec:-?}" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$result"
	for f in $crash; do
		echo "           crash file: $f"
		echo "           reproduce:  $build/fuzz_$t $f"
	done
	if [ "$result" != clean ]; then
		grep -m3 -E 'ERROR: |runtime error|invariant failed|SUMMARY' "$log" | sed 's/^/           /'
	fi
done
exit $status
