# deps.sh: the Debian 12 packages this project needs, checked and (as root) installed.
# Sourced by tests/run.sh and deploy/demo.sh (POSIX sh and bash). Defines pp_ensure_deps:
# returns 0 when everything is installed (installing as root when needed), else prints the
# exact install command and returns 2.

# Build: compilers, CMake and the four libraries. Tests: cmocka, Python with ZeroMQ and
# websockets, clang + its runtime for the fuzz pass, systemd-analyze for the unit checks,
# groff/man for the man pages, jq for the shell examples, valgrind for the memcheck stage,
# strace for the idle-loop test, openssl (the command) for the tests' certificates,
# ca-certificates for the system trust store a wss:// bridge verifies the server with.
PP_DEB_PACKAGES="build-essential cmake pkg-config libwebsockets-dev libjansson-dev \
libzmq3-dev libssl-dev libcmocka-dev python3 python3-zmq python3-websockets clang-format \
clang libclang-rt-14-dev systemd groff-base man-db jq valgrind procps strace openssl ca-certificates"

pp_missing_packages() {
	missing=""
	for pkg in $PP_DEB_PACKAGES; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		case "$status" in
		*"install ok installed"*) ;;
		*) missing="$missing $pkg" ;;
		esac
	done
	echo "${missing# }"
}

pp_ensure_deps() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: dpkg-query not found: this script expects Debian 12" >&2
		return 2
	fi
	missing=$(pp_missing_packages)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "deps: installing:$missing"
		# shellcheck disable=SC2086
		if ! (apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $missing); then
			echo "deps: apt-get install failed" >&2
			return 2
		fi
		missing=$(pp_missing_packages)
		[ -z "$missing" ] && return 0
		echo "deps: still missing after install: $missing" >&2
		return 2
	fi
	echo "Missing Debian packages. Install them with:" >&2
	echo "  sudo apt-get install -y $missing" >&2
	return 2
}
