#!/usr/bin/env bash
# valgrind.sh: the integration suite once more with every bridge under valgrind memcheck.
#
# Configures and builds build-valgrind/ (RelWithDebInfo, no sanitizers: memcheck and ASan
# do not mix), then runs `PP_VALGRIND=1 ctest -L integration` there. With PP_VALGRIND set,
# tests/integration/harness.py wraps each bridge it starts in valgrind (log per process),
# stretches its deadlines x10 and fails a test whose log shows an error (invalid read or
# write, use of uninitialised memory, bad free...) or a definite/indirect leak.
# Options: --devserver (also run the devserver under memcheck: PP_VALGRIND=all; slower),
# -R REGEX (ctest name filter). Env: PP_JOBS (default 2). Exit 0 only when all pass.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$repo/build-valgrind
jobs=${PP_JOBS:-2}
mode=1
filter=()
while [ $# -gt 0 ]; do
	case "$1" in
	--devserver) mode=all ;;
	-R) filter=(-R "$2"); shift ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "valgrind.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 2
fi

t0=$(date +%s)
echo "==== [valgrind] configure $dir"
# Why explicit OFF: a reused cache must not keep a sanitizer setting.
cmake -S "$repo" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPP_SANITIZE=OFF || {
	echo "valgrind.sh: configure FAILED"
	exit 1
}
echo "==== [valgrind] build"
cmake --build "$dir" -j "$jobs" || {
	echo "valgrind.sh: build FAILED"
	exit 1
}
t1=$(date +%s)
echo "==== [valgrind] ctest -L integration (PP_VALGRIND=$mode)"
# The ctest TIMEOUT property (240 s per file) stays as it is; harness deadlines scale x10.
(cd "$dir" && PP_VALGRIND=$mode PYTHONDONTWRITEBYTECODE=1 \
	ctest --output-on-failure -j "$jobs" -L integration "${filter[@]}")
rc=$?
t2=$(date +%s)

echo
echo "==== valgrind summary"
echo "  build: $((t1 - t0)) s, integration under memcheck: $((t2 - t1)) s"
if [ $rc -ne 0 ]; then
	echo "  result: FAILED (ctest exit $rc; see the valgrind reports above)"
	echo "valgrind.sh: FAILED"
	exit 1
fi
echo "  result: no memcheck errors, no definite or indirect leaks"
echo "valgrind.sh: all passed"
exit 0
