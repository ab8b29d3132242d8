"""test_tls.py: TLS verification of the upstream connection is really on.

wss:// with the dev server's own CA connects (test_events covers it); these tests show the
other side: an untrusted certificate and a certificate for another host name are refused,
and --insecure connects only with a warning on every connect."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def _world(ctx, cert_dir=None):
    key = h.gen_key()
    extra = ["--cert-dir", cert_dir] if cert_dir else []
    dev = h.DevServer(ctx, {key: "agent-tls"}, tls=True)
    if cert_dir:
        dev.stop()
        dev = h.DevServer(ctx, {key: "agent-tls"}, tls=True, extra=extra)
    return dev, key


def _refused(ctx, dev, bridge):
    """The bridge retries with back-off and the server never authenticates it."""
    s = bridge.sub(["bridge.status"], sync=False)
    env = h.await_status(s, "backoff", 10, pred=lambda e: e["data"]["attempt"] >= 2)
    h.check(env["data"]["last_error"], "no last_error for a refused certificate")
    h.check(dev.state()["auth_ok_total"] == 0, "the server authenticated a refused peer")
    return env


def test_untrusted_certificate_is_refused(ctx):
    dev, key = _world(ctx)
    bridge = h.Bridge(ctx, dev.wss_url, key, extra=["--backoff-cap-ms", "200"])
    _refused(ctx, dev, bridge)
    bridge.stop()


def test_certificate_for_another_host_name_is_refused(ctx):
    cert_dir = ctx.mkdir("othername")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=example.invalid", "-addext",
                    "subjectAltName=DNS:example.invalid",
                    "-keyout", os.path.join(cert_dir, "key.pem"),
                    "-out", os.path.join(cert_dir, "cert.pem")],
                   check=True, capture_output=True)
    dev, key = _world(ctx, cert_dir)
    h.check(dev.cert == os.path.join(cert_dir, "cert.pem"),
            "devserver did not use the given certificate: %r" % dev.cert)
    # the CA is trusted, but the name (localhost) is not the one in the certificate
    bridge = h.Bridge(ctx, dev.wss_url, key, ca_file=dev.cert,
                      extra=["--backoff-cap-ms", "200"])
    _refused(ctx, dev, bridge)
    bridge.stop()


def test_insecure_connects_and_warns_on_every_connect(ctx):
    dev, key = _world(ctx)
    bridge = h.Bridge(ctx, dev.wss_url, key,
                      extra=["--insecure", "--backoff-base-ms", "10", "--backoff-cap-ms", "50"])
    s = bridge.sub(["bridge.status"], sync=False)
    first = h.await_status(s, "connected", 10)
    dev.close_conn(1011)
    # a later seq: the repeat of the first status (same seq) may still be queued
    h.await_status(s, "connected", 10, pred=lambda e: e["seq"] > first["seq"])
    warnings = [ln for ln in bridge.stderr().splitlines() if "--insecure" in ln]
    h.check(len(warnings) >= 2, "expected a warning on each connect, got %r" % warnings)
    bridge.stop()


if __name__ == "__main__":
    h.main(globals())
