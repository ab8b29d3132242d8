#!/usr/bin/python3
"""test_deploy.py: what deploy/ ships is usable as shipped.

- The systemd units pass `systemd-analyze verify` (the template as an instance) with
  ExecStart pointed at the built daemon, and `systemd-analyze security --offline=yes`
  rates their exposure at 2.0 or better.
- The daemon speaks the notify protocol those units rely on (Type=notify, WatchdogSec=):
  READY=1 once connected, STATUS= lines, WATCHDOG=1 at half the interval, STOPPING=1 on
  SIGTERM, over a datagram socket named by $NOTIFY_SOCKET.
- deploy/Containerfile (which cannot be built here: no container engine) copies only files
  that exist, and its runtime stage installs exactly the Debian packages that provide the
  shared libraries the programs it ships link.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
UNITS = ("plurum-pulse-bridge.service", "plurum-pulse-bridge@.service")
MAX_EXPOSURE = 2.0
# Packages every Debian image already has; a runtime stage need not (and should not) list them.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Packages the runtime stage installs for something other than a linked library.
NON_LIBRARY_PACKAGES = {"ca-certificates"}


def systemd_analyze():
    exe = shutil.which("systemd-analyze")
    if exe is None:
        raise h.Skip("systemd-analyze is not installed")
    return exe


def unit_copies(ctx):
    """Copies of the units in a temp dir, ExecStart pointing at the built daemon."""
    bridge = h.find_binary(ctx.build_dir, h.BRIDGE)
    d = ctx.mkdir("units")
    for u in UNITS:
        with open(os.path.join(DEPLOY, u)) as f:
            text = f.read()
        h.check("ExecStart=/usr/bin/plurum-pulse-bridge " in text, "%s: ExecStart?" % u)
        text = text.replace("ExecStart=/usr/bin/plurum-pulse-bridge ",
                            "ExecStart=%s " % bridge)
        with open(os.path.join(d, u), "w") as f:
            f.write(text)
    return d


def unit_names():
    """The units as systemd-analyze is given them: the template as an instance."""
    return ["plurum-pulse-bridge.service", "plurum-pulse-bridge@agent1.service"]


def test_units_pass_systemd_analyze_verify(ctx):
    exe = systemd_analyze()
    d = unit_copies(ctx)
    for name in unit_names():
        p = subprocess.run([exe, "verify", "--man=no", "./" + name], cwd=d,
                           capture_output=True, text=True, timeout=60)
        # verify exits 0 even for some warnings: any output is a finding.
        h.check(p.returncode == 0 and not p.stderr.strip() and not p.stdout.strip(),
                "systemd-analyze verify %s: rc %d\n%s%s" % (name, p.returncode, p.stdout,
                                                           p.stderr))


def test_units_security_exposure_at_most_2(ctx):
    exe = systemd_analyze()
    d = unit_copies(ctx)
    for name in unit_names():
        p = subprocess.run([exe, "security", "--offline=yes", "--no-pager", "./" + name],
                           cwd=d, capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for (\S+): ([0-9.]+) (\S+)", p.stdout)
        h.check(m is not None, "no exposure level for %s: rc %d %s %s" % (
            name, p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        print("   %s" % m.group(0), flush=True)
        h.check(float(m.group(2)) <= MAX_EXPOSURE, "%s exposure %s > %.1f" % (
            name, m.group(2), MAX_EXPOSURE))


def recv_notifications(sock, until, timeout):
    """Datagrams (each split into its lines) until until(lines) or the timeout."""
    lines = []
    end = time.monotonic() + timeout
    while not until(lines):
        left = end - time.monotonic()
        if left <= 0:
            raise h.Timeout("notify: got %r" % lines[-20:])
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        lines += [(time.monotonic(), ln) for ln in data.decode().split("\n") if ln]
    return lines


def test_notify_ready_status_watchdog_stopping(ctx):
    key, agent = h.gen_key(), "agent-notify"
    dev = ctx.devserver({key: agent})
    path = ctx.path("notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        b = ctx.bridge(dev.ws_url, key, env={"NOTIFY_SOCKET": path,
                                             "WATCHDOG_USEC": "400000"})
        got = recv_notifications(sock, lambda ls: any(ln == "READY=1" for _, ln in ls), 15)
        h.check(dev.state()["auth_ok_total"] >= 1, "READY=1 before the server's auth_ok")
        status = [ln for _, ln in got if ln.startswith("STATUS=")]
        h.check(status and status[0] == "STATUS=upstream connecting",
                "first STATUS: %r" % status)
        # READY=1 comes with the state change to connected: the STATUS sent with it.
        more = recv_notifications(
            sock, lambda ls: any(ln.startswith("STATUS=") for _, ln in ls), 5)
        after = [ln for _, ln in got[[ln for _, ln in got].index("READY=1") + 1:] + more
                 if ln.startswith("STATUS=")]
        h.check(after[0] == "STATUS=upstream connected", "STATUS after READY: %r" % after)

        # WATCHDOG_USEC=400000: a WATCHDOG=1 every 200 ms; two within about a second.
        t0 = time.monotonic()
        recv_notifications(
            sock, lambda ls: sum(1 for _, ln in ls if ln == "WATCHDOG=1") >= 2, 1.5)
        h.check(time.monotonic() - t0 <= 1.2, "two WATCHDOG=1 took %.2fs" %
                (time.monotonic() - t0))

        b.stop()  # SIGTERM; exit 0 is checked by stop()
        tail = recv_notifications(sock, lambda ls: any(ln == "STOPPING=1" for _, ln in ls),
                                  5)
        h.check(any(ln == "STOPPING=1" for _, ln in tail), "no STOPPING=1: %r" % tail)
    finally:
        sock.close()


# ---- Containerfile --------------------------------------------------------------------


def containerfile():
    with open(os.path.join(DEPLOY, "Containerfile")) as f:
        text = f.read()
    # Join continued lines, drop comments.
    text = re.sub(r"\\\n", " ", text)
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def stages(lines):
    """[(base image, [instructions])] per FROM."""
    out = []
    for ln in lines:
        if ln.upper().startswith("FROM "):
            out.append((ln.split()[1], []))
        elif out:
            out[-1][1].append(ln)
    return out


def test_containerfile_copies_existing_files(ctx):
    lines = containerfile()
    copies = [ln.split()[1:] for ln in lines if ln.upper().startswith(("COPY ", "ADD "))]
    h.check(copies, "no COPY in the Containerfile")
    for args in copies:
        if any(a.startswith("--from=") for a in args):
            continue
        srcs = [a for a in args if not a.startswith("--")][:-1]
        for s in srcs:
            h.check(os.path.exists(os.path.join(REPO, s)), "COPY %s: not in the repo" % s)
    st = stages(lines)
    h.check([s[0] for s in st] == ["debian:bookworm", "debian:bookworm-slim"],
            "stages: %r" % [s[0] for s in st])
    run = st[1][1]
    h.check(any(re.match(r"USER\s+(?!0\b|root\b)\S+", ln) for ln in run),
            "the runtime stage must run as a non-root user")
    h.check(any("/run/secrets/plurum_api_key" in ln and "--api-key-file" in ln for ln in run),
            "the key must come from the secret file")
    h.check(not any("PLURUM_API_KEY" in ln for ln in lines), "no key in the environment")


def apt_packages(instructions):
    pkgs = set()
    for ln in instructions:
        for m in re.finditer(r"apt-get install ((?:\s*[-\w.+=]+)+)", ln):
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def needed_libs(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def provider(lib, ldd_map):
    """The Debian package (without :arch) that provides the library file."""
    path = os.path.realpath(ldd_map[lib])
    for cand in (path, path.replace("/usr/lib/", "/lib/", 1)):
        p = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.split(":")[0].strip()
    raise h.TestFailure("dpkg -S: no package provides %s (%s)" % (lib, path))


def test_containerfile_runtime_packages_match_linked_libraries(ctx):
    if shutil.which("dpkg") is None or shutil.which("readelf") is None:
        raise h.Skip("dpkg or readelf missing")
    runtime = stages(containerfile())[1][1]
    # What the runtime stage ships: the bridge, the two tools and the client library (the
    # build stage removes the devserver, headers and docs).
    shipped = [h.find_binary(ctx.build_dir, n) for n in (h.BRIDGE, h.SUB, h.CTL)]
    shipped.append(os.path.join(ctx.build_dir, "bridge", "client", "libplurum-pulse.so.0"))
    build_lines = stages(containerfile())[0][1]
    h.check(any("rm " in ln and "plurum-pulse-devserver" in ln for ln in build_lines),
            "the build stage should drop the devserver from the runtime image")
    want = set()
    for path in shipped:
        h.check(os.path.exists(path), "%s not built" % path)
        libs = [lib for lib in needed_libs(path) if not lib.startswith("libplurum-pulse.")]
        if any(lib.startswith(("libasan", "libubsan")) for lib in libs):
            raise h.Skip("a sanitizer build links extra runtime libraries")
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(shipped[-1]))
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True, env=env).stdout
        ldd_map = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
        want |= {provider(lib, ldd_map) for lib in libs}
    want -= BASE_PACKAGES
    have = apt_packages(runtime) - NON_LIBRARY_PACKAGES
    print("   runtime packages: %s" % " ".join(sorted(have)), flush=True)
    h.check(have == want, "runtime stage installs %s; the programs link %s" % (
        sorted(have), sorted(want)))


if __name__ == "__main__":
    h.main(globals())
