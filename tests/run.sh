#!/usr/bin/env bash
# run.sh: the project's one test command (the README points here; .ci/run execs it).
#
# 1. checks the Debian packages (installs them when run as root, else prints the command
#    and exits 2), 2. configures and builds build/ (RelWithDebInfo) and runs its ctest
#    suite, 3. the same in build-asan/ with -DPP_SANITIZE=ON (AddressSanitizer + UBSan),
#    4. the integration suite once more under valgrind memcheck (tests/valgrind.sh),
#    5. a short libFuzzer pass over the five fuzz targets (PP_FUZZ_SECONDS each, default 30).
# Runnable from any directory; re-running reuses the build dirs.
# Options: --no-asan, --no-plain, --no-valgrind, --no-fuzz (skip that stage),
# -L LABEL (ctest label filter, e.g. -L unit). Env: PP_JOBS (default 2).
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${PP_JOBS:-2}
do_plain=1
do_asan=1
do_fuzz=1
do_valgrind=1
ctest_filter=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-asan) do_asan=0 ;;
	--no-plain) do_plain=0 ;;
	--no-fuzz) do_fuzz=0 ;;
	--no-valgrind) do_valgrind=0 ;;
	-L) ctest_filter=(-L "$2"); shift ;;
	-h | --help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

# shellcheck source=../deploy/deps.sh
. "$repo/deploy/deps.sh"
pp_ensure_deps || exit $?

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONDONTWRITEBYTECODE=1

summary=()
failed=0
start_all=$(date +%s)

# A build dir configured from another checkout cannot be reused: start it afresh.
fresh_if_foreign() {
	local dir=$1 cache=$1/CMakeCache.txt home
	[ -f "$cache" ] || return 0
	home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
	if [ "$home" != "$repo" ]; then
		echo "run.sh: $dir was configured for $home: removing it"
		rm -rf "$dir"
	fi
}

# stage NAME DIR CMAKE-ARGS...: configure, build, ctest; records a summary line.
stage() {
	local name=$1 dir=$2 t0 rc
	shift 2
	t0=$(date +%s)
	echo "==== [$name] configure $dir"
	fresh_if_foreign "$dir"
	if ! cmake -S "$repo" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"; then
		summary+=("$name: configure FAILED")
		failed=1
		return
	fi
	echo "==== [$name] build"
	if ! cmake --build "$dir" -j "$jobs"; then
		summary+=("$name: build FAILED")
		failed=1
		return
	fi
	echo "==== [$name] ctest"
	(cd "$dir" && ctest --output-on-failure -j "$jobs" "${ctest_filter[@]}")
	rc=$?
	if [ $rc -ne 0 ]; then
		summary+=("$name: tests FAILED ($(($(date +%s) - t0)) s)")
		failed=1
	else
		summary+=("$name: ok ($(($(date +%s) - t0)) s)")
	fi
}

[ $do_plain -eq 1 ] && stage "RelWithDebInfo" "$repo/build"
[ $do_asan -eq 1 ] && stage "ASan+UBSan" "$repo/build-asan" -DPP_SANITIZE=ON

# valgrind_stage: memcheck under the integration suite (no definite/indirect leaks, no
# invalid reads or writes), in its own build dir without sanitizers.
valgrind_stage() {
	local t0
	t0=$(date +%s)
	echo "==== [valgrind] integration suite under memcheck"
	if "$repo/tests/valgrind.sh"; then
		summary+=("valgrind memcheck (integration): ok ($(($(date +%s) - t0)) s)")
	else
		summary+=("valgrind memcheck (integration): FAILED ($(($(date +%s) - t0)) s)")
		failed=1
	fi
}
[ $do_valgrind -eq 1 ] && [ ${#ctest_filter[@]} -eq 0 ] && valgrind_stage

# fuzz_stage: every target for PP_FUZZ_SECONDS on a copy of its seed corpus (clang, libFuzzer).
fuzz_stage() {
	local t0 secs=${PP_FUZZ_SECONDS:-30}
	t0=$(date +%s)
	echo "==== [fuzz] ${secs} s per target"
	if PP_FUZZ_PARALLEL=$jobs "$repo/tests/fuzz/run_fuzz.sh" "$secs" "$repo/build-fuzz"; then
		summary+=("fuzz: ok ($(($(date +%s) - t0)) s)")
	else
		summary+=("fuzz: FAILED ($(($(date +%s) - t0)) s)")
		failed=1
	fi
}
[ $do_fuzz -eq 1 ] && fuzz_stage

echo
echo "==== summary ($(($(date +%s) - start_all)) s)"
for line in "${summary[@]}"; do
	echo "  $line"
done
if [ $failed -ne 0 ]; then
	echo "run.sh: FAILED"
	exit 1
fi
echo "run.sh: all passed"
exit 0
