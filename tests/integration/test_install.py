#!/usr/bin/python3
"""test_install.py: `cmake --install` lays out a usable installation.

- Every file is where GNUInstallDirs says (programs, header, shared library and its links,
  pkg-config file, man pages, example config, examples, systemd units), and the generated
  files name the prefix the install step really used (`--prefix` and DESTDIR staging).
- A C program built with `pkg-config --cflags --libs plurum-pulse` against the installed
  tree receives an event from a real bridge; the installed tools run.
- Each man page renders without a single groff warning, and documents every option its
  program's --help lists; the example config holds every setting of the daemon, commented,
  and is accepted by --check-config once uncommented.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROGRAMS = (h.BRIDGE, h.SUB, h.CTL, h.DEVSERVER)
MAN_PAGES = {h.BRIDGE: "man8/plurum-pulse-bridge.8", h.SUB: "man1/plurum-pulse-sub.1",
             h.CTL: "man1/plurum-pulse-ctl.1", h.DEVSERVER: "man1/plurum-pulse-devserver.1"}
_cache = {}


def cmake():
    exe = shutil.which("cmake")
    if exe is None:
        raise h.Skip("cmake not found")
    return exe


def configured_prefix(build_dir):
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        m = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M)
    return m.group(1)


def run_install(ctx, prefix=None, destdir=None):
    """cmake --install into a new temp dir; returns that dir."""
    for name in PROGRAMS:
        h.find_binary(ctx.build_dir, name)  # Skip when a program is not built
    root = tempfile.mkdtemp(prefix="ppinst.")
    argv = [cmake(), "--install", ctx.build_dir]
    env = dict(os.environ)
    if prefix is not None:
        argv += ["--prefix", os.path.join(root, prefix)]
    if destdir is not None:
        env["DESTDIR"] = root
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    h.check(p.returncode == 0, "cmake --install failed:\n%s%s" % (p.stdout[-3000:],
                                                                   p.stderr[-3000:]))
    return root


def installed(ctx):
    """One `cmake --install BUILD --prefix TMP/usr` shared by the tests: (prefix, libdir)."""
    if "prefix" not in _cache:
        root = run_install(ctx, prefix="usr")
        _cache["root"] = root
        _cache["prefix"] = os.path.join(root, "usr")
        pcs = glob.glob(os.path.join(_cache["prefix"], "lib*", "**", "plurum-pulse.pc"),
                        recursive=True)
        h.check(len(pcs) == 1, "plurum-pulse.pc: %r" % pcs)
        _cache["libdir"] = os.path.dirname(os.path.dirname(pcs[0]))
    return _cache["prefix"], _cache["libdir"]


def sanitizer_flags(lib):
    """-fsanitize flags when the library comes from a sanitizer build (PP_SANITIZE=ON)."""
    p = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True)
    return ["-fsanitize=address,undefined"] if "libasan" in p.stdout else []


def test_every_file_installed(ctx):
    prefix, libdir = installed(ctx)
    for name in PROGRAMS:
        p = os.path.join(prefix, "bin", name)
        h.check(os.path.isfile(p) and os.access(p, os.X_OK), "missing program %s" % p)
    h.check(os.path.isfile(os.path.join(prefix, "include", "plurum_pulse.h")), "header")
    so0 = os.path.join(libdir, "libplurum-pulse.so.0")
    h.check(os.path.islink(so0) and os.path.isfile(so0), "libplurum-pulse.so.0 link")
    h.check(os.path.islink(os.path.join(libdir, "libplurum-pulse.so")), "the dev link")
    for page in MAN_PAGES.values():
        h.check(os.path.isfile(os.path.join(prefix, "share", "man", page)), "man %s" % page)
    doc = os.path.join(prefix, "share", "doc", "plurum-pulse-bridge")
    for f in ("bridge.conf.example", "deploy.md", "examples/c/subscribe.c",
              "examples/c/contribute.c", "examples/c/Makefile",
              "examples/python/pulse_client.py", "examples/python/pulse_example.py",
              "examples/shell/subscribe.sh", "examples/shell/contribute.sh"):
        h.check(os.path.isfile(os.path.join(doc, f)), "missing doc %s" % f)
    with open(os.path.join(libdir, "pkgconfig", "plurum-pulse.pc")) as f:
        pc = f.read()
    h.check("prefix=%s\n" % prefix in pc, "pc prefix:\n%s" % pc)
    h.check(re.search(r"^Requires\.private:\s*libzmq\s*$", pc, re.M), "Requires.private")
    for unit in ("plurum-pulse-bridge.service", "plurum-pulse-bridge@.service"):
        path = os.path.join(prefix, "lib", "systemd", "system", unit)
        h.check(os.path.isfile(path), "missing unit %s" % path)
        with open(path) as f:
            text = f.read()
        h.check("ExecStart=%s/bin/plurum-pulse-bridge " % prefix in text,
                "%s ExecStart does not name the installed daemon" % unit)


def test_destdir_staging_names_the_configured_prefix(ctx):
    """DESTDIR=STAGE: files land under STAGE, but name the configured prefix (what a
    package build does)."""
    root = run_install(ctx, destdir=True)
    try:
        prefix = configured_prefix(ctx.build_dir)
        staged = root + prefix
        with open(os.path.join(staged, "lib", "systemd", "system",
                               "plurum-pulse-bridge.service")) as f:
            h.check("ExecStart=%s/bin/plurum-pulse-bridge " % prefix.rstrip("/") in f.read(),
                    "ExecStart under DESTDIR")
        pcs = glob.glob(os.path.join(staged, "lib*", "**", "plurum-pulse.pc"), recursive=True)
        with open(pcs[0]) as f:
            h.check("prefix=%s\n" % prefix in f.read(), "pc prefix under DESTDIR")
        h.check(os.path.isfile(os.path.join(staged, "bin", h.BRIDGE)), "staged daemon")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_pkg_config_program_receives_an_event(ctx):
    prefix, libdir = installed(ctx)
    if shutil.which("pkg-config") is None or shutil.which("make") is None:
        raise h.Skip("pkg-config or make missing")
    env = h.clean_env()
    env["PKG_CONFIG_PATH"] = os.path.join(libdir, "pkgconfig")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "plurum-pulse"], env=env,
                           capture_output=True, text=True, check=True).stdout
    h.check("-I%s/include" % prefix in flags and "-L%s" % libdir in flags,
            "pkg-config flags: %r" % flags)
    # The installed examples, built by their own Makefile (cc + pkg-config).
    src = ctx.path("c")
    shutil.copytree(os.path.join(prefix, "share", "doc", "plurum-pulse-bridge", "examples",
                                 "c"), src)
    lib = os.path.join(libdir, "libplurum-pulse.so")
    flags = " ".join(["-O1", "-Werror"] + sanitizer_flags(lib))
    p = subprocess.run(["make", "-C", src, "CFLAGS=" + flags], env=env,
                       capture_output=True, text=True, timeout=120)
    h.check(p.returncode == 0, "make: %s%s" % (p.stdout[-2000:], p.stderr[-3000:]))

    key = h.gen_key()
    dev = ctx.devserver({key: "agent-install"})
    b = ctx.bridge(dev.ws_url, key)
    b.wait_state("connected", 15)
    run_env = dict(env, LD_LIBRARY_PATH=libdir, PLURUM_PULSE_EVENTS=b.events,
                   PLURUM_PULSE_COMMANDS=b.commands)
    p = subprocess.run([os.path.join(src, "subscribe"), "--count", "1", "--timeout-ms",
                        str(int(h.scaled(10) * 1000)), "bridge.status"], env=run_env,
                       capture_output=True, text=True, timeout=h.scaled(30))
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 0 and re.search(r"^event seq=\d+ type=bridge.status ", p.stdout,
                                            re.M), "subscribe: rc %d %r %r" % (
        p.returncode, p.stdout, p.stderr))
    # The installed tools run from the installed library.
    p = subprocess.run([os.path.join(prefix, "bin", h.CTL), "--timeout",
                        str(int(h.scaled(5) * 1000)), "status"], env=run_env,
                       capture_output=True, text=True, timeout=h.scaled(30))
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 0 and '"connected"' in p.stdout, "installed ctl status: %r %r" %
            (p.stdout, p.stderr))


def test_man_pages_render_without_warnings(ctx):
    prefix, _ = installed(ctx)
    if shutil.which("groff") is None:
        raise h.Skip("groff missing")
    for page in MAN_PAGES.values():
        path = os.path.join(prefix, "share", "man", page)
        p = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True,
                           text=True)
        h.check(p.returncode == 0 and not p.stderr, "groff %s: %s" % (page, p.stderr))
        if shutil.which("man"):
            env = dict(os.environ, MANROFFSEQ="", MANWIDTH="80")
            p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True,
                               text=True, env=env)
            h.check(p.returncode == 0 and not p.stderr and "SYNOPSIS" in p.stdout,
                    "man -l %s: rc %d %s" % (page, p.returncode, p.stderr))


def help_options(ctx, name):
    binary = h.find_binary(ctx.build_dir, name)
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10,
                       env=h.clean_env())
    opts = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", p.stdout + p.stderr))
    h.check(opts, "%s --help lists no option" % name)
    return opts


def test_man_pages_document_every_option(ctx):
    for name, page in MAN_PAGES.items():
        with open(os.path.join(REPO, "docs", "man", os.path.basename(page))) as f:
            text = f.read().replace("\\-", "-")
        missing = sorted(o for o in help_options(ctx, name) if o not in text)
        h.check(not missing, "%s does not document %s" % (os.path.basename(page), missing))


def example_settings():
    with open(os.path.join(REPO, "deploy", "bridge.conf.example")) as f:
        text = f.read()
    return text, dict(re.findall(r"^# ([a-z][a-z0-9-]*) = (.*)$", text, re.M))


def test_config_example_has_every_setting(ctx):
    text, settings = example_settings()
    binary = h.find_binary(ctx.build_dir, h.BRIDGE)
    out = subprocess.run([binary, "--help"], capture_output=True, text=True,
                         env=h.clean_env()).stdout
    cli_only = {"help", "version", "config"}
    names = {o[2:] for o in help_options(ctx, h.BRIDGE)} - cli_only
    missing = sorted(names - set(settings))
    h.check(not missing, "bridge.conf.example lacks %s" % missing)
    for env in set(re.findall(r"env (PLURUM_[A-Z_]+)", out)):
        h.check(env in text, "bridge.conf.example does not name %s" % env)
    # Its values, uncommented, are a valid configuration.
    keyfile = ctx.path("api-key")
    h.write_key_file(keyfile, h.gen_key())
    settings["api-key-file"] = keyfile
    settings["check-config"] = "true"
    conf = ctx.path("bridge.conf")
    with open(conf, "w") as f:
        f.writelines("%s = %s\n" % kv for kv in settings.items())
    env = h.clean_env()
    env["XDG_RUNTIME_DIR"] = ctx.mkdir("xdg")
    p = subprocess.run([binary, "--config", conf], capture_output=True, text=True,
                       env=env, timeout=10)
    ctx.outputs.append(p.stdout + p.stderr)
    h.check(p.returncode == 0 and "configuration OK" in p.stdout,
            "--check-config of the example: rc %d %s%s" % (p.returncode, p.stdout,
                                                            p.stderr))


if __name__ == "__main__":
    try:
        h.main(globals())
    finally:
        if "root" in _cache:
            shutil.rmtree(_cache["root"], ignore_errors=True)
