#!/usr/bin/python3
"""selftest.py: a smoke check of plurum-pulse-devserver against docs/devserver.md.

Usage: /usr/bin/python3 bridge/devserver/selftest.py PATH/TO/plurum-pulse-devserver [-k NAME]

Starts the devserver (ephemeral ports, temp cert dir) once per scenario group, drives it with
python3-websockets (asyncio API, Debian 12's 10.4) and urllib, and prints one line per
scenario. Exit status 0 when all pass. Others may import DevProc / ws_connect from it.
"""

import asyncio
import base64
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets
import websockets.client
import websockets.exceptions

KEY_A, KEY_B, KEY_C = ("plrm_live_" + c * 32 for c in "abc")
AG_A, AG_B, AG_C = "agent-a", "agent-b", "agent-c"


class DevProc:
    """A running devserver; .port, .tls_port, .cert; .call(method, path, body)."""

    def __init__(self, binary, extra=(), tls=False):
        self.dir = tempfile.mkdtemp(prefix="ppdev-selftest.")
        self.binary = binary
        argv = [binary, "--port", "0", "--tls-port", "0" if tls else "-1", "--cert-dir",
                self.dir, "--agent", KEY_A + "=" + AG_A, "--agent", KEY_B + "=" + AG_B,
                "--agent", KEY_C + "=" + AG_C] + list(extra)
        self.stderr = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        assert r, "no ready line"
        ready = json.loads(self.proc.stdout.readline())
        assert ready["ready"] is True
        self.port, self.tls_port, self.cert = ready["port"], ready["tls_port"], ready["cert"]
        self.url = "ws://127.0.0.1:%d/api/v1/pulse/ws" % self.port

    def http(self, method, path, body=None, key=None, raw=None, tls=False):
        base = ("https://localhost:%d" % self.tls_port) if tls else (
            "http://127.0.0.1:%d" % self.port)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(base + path, data=data, method=method)
        if key:
            req.add_header("Authorization", "Bearer " + key)
        ctx = ssl.create_default_context(cafile=self.cert) if tls else None
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def call(self, method, path, body=None):
        st, ans = self.http(method, "/_dev/" + path, body)
        assert st == 200 and ans["ok"] is True, (path, st, ans)
        return ans

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(10)
        self.stderr.close()
        err = open(os.path.join(self.dir, "stderr"), "rb").read().decode("utf-8", "replace")
        assert rc == 0, "exit %d: %s" % (rc, err[-2000:])
        for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert mark not in err, err[-4000:]


async def ws_connect(url, **kw):
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", None)
    return await websockets.client.connect(url, **kw)


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def auth(ws, key):
    await ws.send(json.dumps({"type": "auth", "api_key": key}))
    m = await recv_json(ws)
    assert m == {"type": "auth_ok", "agent_id": {KEY_A: AG_A, KEY_B: AG_B, KEY_C: AG_C}[key]}, m
    return m


async def expect_close(ws, code, timeout=5):
    msgs = []
    try:
        while True:
            msgs.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.exceptions.ConnectionClosed as e:
        assert e.code == code, "closed %s, wanted %s (msgs %r)" % (e.code, code, msgs)
    return msgs


def ok(d, s):
    """Polls s until it is truthy (d: description)."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        v = s()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out: " + d)


# --- scenarios: each takes a DevProc -----------------------------------------------------

async def t_auth_message(dev):
    ws = await ws_connect(dev.url)
    await auth(ws, KEY_A)
    await ws.send('{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}
    await ws.send('{"type":"whatever"}')  # ignored
    await ws.send('{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}
    st = dev.call("GET", "state")
    assert st["connections"][0]["authed"] and not st["connections"][0]["legacy_token"], st
    await ws.close()


async def t_auth_token(dev):
    ws = await ws_connect(dev.url + "?token=" + KEY_B)
    assert await recv_json(ws) == {"type": "auth_ok", "agent_id": AG_B}
    assert dev.call("GET", "state")["connections"][0]["legacy_token"] is True
    await ws.close()
    ws = await ws_connect(dev.url + "?token=plrm_live_bad")  # bad token: still waits
    await auth(ws, KEY_A)
    await ws.close()


async def t_auth_failed(dev):
    for first in ('{"type":"auth","api_key":"plrm_live_nope"}', '{"type":"ping"}',
                  '{"type":"auth","api_key":"sk-123"}'):
        ws = await ws_connect(dev.url)
        await ws.send(first)
        msgs = await expect_close(ws, 4001)
        assert msgs == [{"type": "error", "message": "Authentication failed"}], msgs
    ws = await ws_connect(dev.url)
    await ws.send("not json")
    msgs = await expect_close(ws, 1003)
    assert msgs == [{"type": "error", "message": "Invalid message"}], msgs


async def t_auth_timeout(dev):  # --auth-timeout-ms 300
    ws = await ws_connect(dev.url)
    t0 = time.monotonic()
    msgs = await expect_close(ws, 4001)
    assert msgs == [{"type": "error", "message": "Authentication timed out"}], msgs
    assert 0.2 < time.monotonic() - t0 < 3


async def t_origin_refused(dev):
    try:
        await ws_connect(dev.url, origin="https://evil.example")
        raise AssertionError("connected with an Origin")
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == 403, e


async def t_supersede(dev):
    ws1 = await ws_connect(dev.url)
    await auth(ws1, KEY_A)
    ws2 = await ws_connect(dev.url)
    await auth(ws2, KEY_A)
    await expect_close(ws1, 4000)
    closes = dev.call("GET", "state")["closes"]
    assert closes == [{"agent_id": AG_A, "code": 4000}], closes
    await ws2.close()


async def t_rate_limit(dev):  # --rate-limit 5
    ws = await ws_connect(dev.url)
    await auth(ws, KEY_A)
    for _ in range(5):
        await ws.send('{"type":"ping"}')
        assert await recv_json(ws) == {"type": "pong"}
    await ws.send('{"type":"ping"}')
    msgs = await expect_close(ws, 4008)
    assert msgs == [{"type": "error", "message": "Message rate limit exceeded"}], msgs


async def t_limits(dev):
    ws = await ws_connect(dev.url)
    await auth(ws, KEY_A)
    await ws.send("x" * 262145)
    await expect_close(ws, 1009)
    for bad in (b"\x01\x02", "[1,2]", "nope"):
        ws = await ws_connect(dev.url)
        await auth(ws, KEY_A)
        await ws.send(bad)
        msgs = await expect_close(ws, 1003)
        assert msgs == [{"type": "error", "message": "Invalid message"}], msgs
    ws = await ws_connect(dev.url)  # exactly 262144 bytes is fine
    await auth(ws, KEY_A)
    big = '{"type":"x","p":"' + "y" * (262144 - 19) + '"}'
    assert len(big) == 262144
    await ws.send(big)
    await ws.send('{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()


async def t_contribute_ws(dev):
    sid = dev.call("POST", "sessions", {"owner": AG_A, "topic": "t", "domain": "d"})["session_id"]
    priv = dev.call("POST", "sessions", {"owner": AG_A, "topic": "p",
                                         "visibility": "private"})["session_id"]
    wa, wb = await ws_connect(dev.url), await ws_connect(dev.url)
    await auth(wa, KEY_A)
    await auth(wb, KEY_B)
    await wb.send(json.dumps({"type": "contribute", "session_id": sid,
                              "content": {"text": "hi"}}))
    m = await recv_json(wb)
    assert m["type"] == "contribute_ok" and m["data"]["session_id"] == sid, m
    assert m["data"]["contribution_type"] == "suggestion" and m["data"]["content"] == {"text": "hi"}
    for bad, msg in (({"session_id": sid}, "Missing session_id or content"),
                     ({"content": {"a": 1}}, "Missing session_id or content"),
                     ({"session_id": priv, "content": {"a": 1}}, "Contribution failed"),
                     ({"session_id": "nope", "content": {"a": 1}}, "Contribution failed")):
        bad["type"] = "contribute"
        await wb.send(json.dumps(bad))
        assert await recv_json(wb) == {"type": "error", "message": msg}
    await wa.send(json.dumps({"type": "contribute", "session_id": sid, "content": {"a": 1}}))
    assert await recv_json(wa) == {"type": "error", "message": "Contribution failed"}  # own
    # the owner got no push: its next message is the pong
    await wa.send('{"type":"ping"}')
    assert await recv_json(wa) == {"type": "pong"}
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?event_type=contribution_received", key=KEY_A)
    assert st == 200 and inbox["events"] == [], inbox
    contribs = dev.call("GET", "state")["contributions"]
    assert len(contribs) == 1 and contribs[0]["via"] == "ws", contribs
    dev.call("POST", "sessions/%s/close" % sid, {"outcome": "success"})
    assert (await recv_json(wb))["type"] == "session_closed"
    await wb.send(json.dumps({"type": "contribute", "session_id": sid, "content": {"a": 1}}))
    assert await recv_json(wb) == {"type": "error", "message": "Contribution failed"}  # closed
    await wa.close()
    await wb.close()


async def t_sessions_push_and_inbox(dev):
    wa, wb = await ws_connect(dev.url), await ws_connect(dev.url)
    await auth(wa, KEY_A)
    await auth(wb, KEY_B)
    dev.http("GET", "/api/v1/pulse/inbox", key=KEY_C)  # C's check starts now
    ans = dev.call("POST", "sessions", {"owner": AG_A, "topic": "T", "domain": None,
                                        "tools_used": ["gdb"]})
    m = await recv_json(wb)
    assert m == {"type": "session_opened", "data": {
        "session_id": ans["session_id"], "short_id": ans["short_id"], "agent_id": AG_A,
        "topic": "T", "domain": None, "tools_used": ["gdb"]}}, m
    dev.call("POST", "sessions/%s/close" % ans["session_id"], {"outcome": "partial",
                                                               "experience": True})
    m = await recv_json(wb)
    assert m["type"] == "session_closed" and m["data"]["outcome"] == "partial", m
    assert len(m["data"]["experience_id"]) == 36 and len(m["data"]["experience_short_id"]) == 8
    await wa.send('{"type":"ping"}')  # the owner got neither
    assert await recv_json(wa) == {"type": "pong"}
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=10", key=KEY_C)
    types = [(e["id"], e["event_type"]) for e in inbox["events"]]
    assert types == [(None, "session_opened"), (None, "session_closed")], inbox
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=10", key=KEY_C)
    assert inbox["events"] == [] and inbox["has_activity"] is False, inbox
    await wa.close()
    await wb.close()


async def t_rest(dev):
    sid = dev.call("POST", "sessions", {"owner": AG_A, "topic": "t"})["session_id"]
    wa = await ws_connect(dev.url)
    await auth(wa, KEY_A)
    st, c = dev.http("POST", "/api/v1/sessions/%s/contribute" % sid,
                     {"content": {"k": "v"}, "contribution_type": "warning"}, key=KEY_B)
    assert st == 201 and c["contributor_agent_id"] == AG_B and c["contribution_type"] == "warning"
    m = await recv_json(wa)
    assert m == {"type": "contribution_received", "data": c}, m
    assert dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, {"content": {}},
                    key=KEY_A)[0] == 403
    assert dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, {"content": {"a": 1}},
                    key="plrm_live_x")[0] == 401
    assert dev.http("POST", "/api/v1/sessions/00000000-0000-4000-8000-000000000000/contribute",
                    {"content": {"a": 1}}, key=KEY_B)[0] == 404
    assert dev.http("POST", "/api/v1/sessions/xyz/contribute", {"content": {"a": 1}},
                    key=KEY_B)[0] == 500
    for i in range(3):
        dev.call("POST", "sessions/%s/contribute" % sid, {"contributor": AG_C,
                                                          "content": {"i": i}})
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=2&event_type=contribution_received",
                         key=KEY_A)
    assert st == 200 and len(inbox["events"]) == 2 and inbox["unread_count"] == 4, inbox
    assert inbox["events"][0]["event_data"] == c and inbox["events"][0]["id"] != c["id"]
    st, r = dev.http("POST", "/api/v1/pulse/inbox/mark-read",
                     {"event_ids": [e["id"] for e in inbox["events"]]}, key=KEY_A)
    assert r == {"marked_read": 2}, r
    st, r = dev.http("POST", "/api/v1/pulse/inbox/mark-read", {"mark_all": True}, key=KEY_A)
    assert r == {"marked_read": 2}, r
    st, me = dev.http("GET", "/api/v1/agents/me", key=KEY_B)
    assert st == 200 and me["id"] == AG_B
    st, status = dev.http("GET", "/api/v1/pulse/status")
    assert status["connected_agents"] == 1 and status["total_agents"] == 3, status
    st, r = dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, raw=b"x" * (5 * 1024 * 1024 + 1),
                     key=KEY_B)
    assert st == 413, (st, r)
    await wa.close()


async def t_contribute_modes(dev):
    sid = dev.call("POST", "sessions", {"owner": AG_A, "topic": "t"})["session_id"]
    wb = await ws_connect(dev.url)
    await auth(wb, KEY_B)
    dev.call("POST", "contribute-mode", {"mode": "error"})
    await wb.send(json.dumps({"type": "contribute", "session_id": sid, "content": {"a": 1}}))
    assert await recv_json(wb) == {"type": "error", "message": "Contribution failed"}
    assert dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, {"content": {"a": 1}},
                    key=KEY_B)[0] == 500
    dev.call("POST", "contribute-mode", {"mode": "delay", "delay_ms": 300})
    t0 = time.monotonic()
    await wb.send(json.dumps({"type": "contribute", "session_id": sid, "content": {"a": 1}}))
    await wb.send('{"type":"ping"}')
    assert (await recv_json(wb))["type"] == "contribute_ok"
    assert await recv_json(wb) == {"type": "pong"}  # replies stay in order
    assert time.monotonic() - t0 >= 0.28
    t0 = time.monotonic()
    assert dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, {"content": {"a": 1}},
                    key=KEY_B)[0] == 201
    assert time.monotonic() - t0 >= 0.28
    dev.call("POST", "contribute-mode", {"mode": "drop"})
    try:
        dev.http("POST", "/api/v1/sessions/%s/contribute" % sid, {"content": {"a": 1}}, key=KEY_B)
        raise AssertionError("REST drop answered")
    except (urllib.error.URLError, ConnectionError, http_client_errors()):
        pass
    await wb.send(json.dumps({"type": "contribute", "session_id": sid, "content": {"a": 1}}))
    try:
        await asyncio.wait_for(wb.recv(), 5)
        raise AssertionError("WS drop answered")
    except websockets.exceptions.ConnectionClosed as e:
        assert e.code in (1006, 1011), e.code
    dev.call("POST", "contribute-mode", {"mode": "ok"})


def http_client_errors():
    import http.client
    return http.client.HTTPException


async def t_control_faults(dev):
    wa = await ws_connect(dev.url)
    await auth(wa, KEY_A)
    dev.call("POST", "send", {"agent_id": AG_A, "text": '{"type":"custom","data":{}}'})
    assert await recv_json(wa) == {"type": "custom", "data": {}}
    dev.call("POST", "send", {"agent_id": AG_A, "binary_hex": "00ff10"})
    assert await asyncio.wait_for(wa.recv(), 5) == b"\x00\xff\x10"
    # raw_hex: bytes as they are, in queue order: a text message in two fragments, the
    # second in a later call, with a PING (payload "abcd") and a framed message queued
    # between: the ping is answered (pongs in the state), the message comes whole
    dev.call("POST", "send", {"agent_id": AG_A, "raw_hex": "0103" + b"hel".hex()})
    dev.call("POST", "send", {"agent_id": AG_A, "raw_hex": "8904" + b"abcd".hex()})
    dev.call("POST", "send", {"agent_id": AG_A, "raw_hex": "8002" + b"lo".hex()})
    assert await asyncio.wait_for(wa.recv(), 5) == "hello"
    dev.call("POST", "send", {"agent_id": AG_A, "raw_hex": "8105" + b"after".hex().upper()})
    assert await asyncio.wait_for(wa.recv(), 5) == "after"
    st = ok("the raw PING's pong", lambda: (lambda s: s if any(
        p["payload_hex"] == b"abcd".hex() for p in s["pongs"]) else None)(
            dev.call("GET", "state")))
    assert st["pongs_received"] >= 1 and all(p["agent_id"] == AG_A for p in st["pongs"]), st
    for body, says in (({"raw_hex": "810"}, "even number"), ({"raw_hex": "81zz"}, "non-hex"),
                       ({"raw_hex": ""}, "at least one byte"), ({"raw_hex": 81}, "string"),
                       ({"raw_hex": "8100", "text": "x"}, "exactly one"), ({}, "exactly one")):
        body["agent_id"] = AG_A
        code, r = dev.http("POST", "/_dev/send", body)
        assert code == 400 and r["ok"] is False and says in r["error"], (body, code, r)
    dev.call("POST", "send", {"agent_id": AG_A, "size": 300000})
    m = await asyncio.wait_for(wa.recv(), 5)
    assert len(m) == 300000 and json.loads(m)["type"] == "filler"
    dev.call("POST", "close", {"agent_id": AG_A, "code": 4321, "reason": "test"})
    await expect_close(wa, 4321)
    # refuse: 503 while on, fine after
    dev.call("POST", "refuse", {"ms": 60000})
    try:
        await ws_connect(dev.url)
        raise AssertionError("connected while refusing")
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == 503
    dev.call("POST", "refuse", {"ms": 0})
    wa = await ws_connect(dev.url)
    await auth(wa, KEY_A)
    dev.call("POST", "stall", {"agent_id": AG_A})
    await wa.send('{"type":"ping"}')
    try:
        await asyncio.wait_for(wa.recv(), 0.5)
        raise AssertionError("a stalled connection answered")
    except asyncio.TimeoutError:
        pass
    st = dev.call("GET", "state")
    assert st["connections"][0]["stalled"] is True, st
    # a new connection of A waits for the stalled one to time out (--pong-timeout-ms 500)
    t0 = time.monotonic()
    wa2 = await ws_connect(dev.url)
    await auth(wa2, KEY_A)
    assert time.monotonic() - t0 >= 0.4
    wa.transport.abort()
    await wa2.close()
    st, r = dev.http("POST", "/_dev/close", {"code": 5})
    assert st == 400 and r["ok"] is False


async def t_keepalive(dev):  # --ping-interval-ms 200 --pong-timeout-ms 300
    ws = await ws_connect(dev.url)  # the library answers PINGs
    await auth(ws, KEY_A)
    await asyncio.sleep(1.0)  # several ping rounds must pass without a close
    await ws.send('{"type":"ping"}')
    assert await recv_json(ws) == {"type": "pong"}
    await ws.close()
    # a raw client that never answers: close 1011 after interval + timeout
    s = socket.create_connection(("127.0.0.1", dev.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /api/v1/pulse/ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (KEY_B, key)).encode())
    s.settimeout(5)
    buf = b""
    t0 = time.monotonic()
    while b"\x88" not in buf.split(b"\r\n\r\n", 1)[-1] and time.monotonic() - t0 < 5:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    body = buf.split(b"\r\n\r\n", 1)[1]
    assert b"\x89\x08" in body, body  # a PING came
    i = body.index(b"\x88")
    assert int.from_bytes(body[i + 2:i + 4], "big") == 1011, body
    s.close()


async def t_emit(dev):
    wa = await ws_connect(dev.url)
    await auth(wa, KEY_A)
    n = 200000
    t0 = time.monotonic()
    dev.call("POST", "emit", {"agent_id": AG_A, "count": n, "rate": 0, "size": 200})
    seen = set()
    for i in range(n):
        m = json.loads(await asyncio.wait_for(wa.recv(), 10))
        seen.add(m["data"]["id"])
        assert m["data"]["seq"] == i
    dt = time.monotonic() - t0
    assert len(seen) == n
    st = dev.call("GET", "state")
    assert st["emitted"] == n and st["emitting"] is False, st["emitted"]
    assert st["inbox_dropped"] == n - 100000, st["inbox_dropped"]  # the default cap
    print("    emit: %d events of ~200 B in %.2fs = %.0f/s (python client bound)" % (n, dt, n / dt))
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=3", key=KEY_A)
    assert inbox["unread_count"] == 100000 - 0 or inbox["unread_count"] <= n, inbox["unread_count"]
    e = inbox["events"][0]
    assert e["event_type"] == "contribution_received" and e["event_data"]["id"] in seen
    st, r = dev.http("POST", "/api/v1/pulse/inbox/mark-read", {"event_ids": [e["id"]]}, key=KEY_A)
    assert r == {"marked_read": 1}, r
    # paced
    t0 = time.monotonic()
    dev.call("POST", "emit", {"agent_id": AG_A, "count": 50, "rate": 100,
                              "type": "session_opened"})
    for _ in range(50):
        m = await recv_json(wa)
        assert m["type"] == "session_opened" and m["data"]["sent_at_ns"] > 0
    dt = time.monotonic() - t0
    assert 0.4 < dt < 1.5, dt
    await wa.close()


async def t_inbox_cap(dev):  # --inbox-cap 5
    sid = dev.call("POST", "sessions", {"owner": AG_A, "topic": "t"})["session_id"]
    for i in range(7):
        dev.call("POST", "sessions/%s/contribute" % sid, {"contributor": AG_B,
                                                          "content": {"i": i}})
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=10", key=KEY_A)
    got = [e["event_data"]["content"]["i"] for e in inbox["events"]]
    assert st == 200 and got == [2, 3, 4, 5, 6] and inbox["unread_count"] == 5, inbox
    assert dev.call("GET", "state")["inbox_dropped"] == 2
    # marking one from the middle keeps the order of the rest (the scan stops at its id)
    mid = inbox["events"][2]["id"]
    st, r = dev.http("POST", "/api/v1/pulse/inbox/mark-read", {"event_ids": [mid, mid, "nope"]},
                     key=KEY_A)
    assert r == {"marked_read": 1}, r
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=10", key=KEY_A)
    got = [e["event_data"]["content"]["i"] for e in inbox["events"]]
    assert got == [2, 3, 5, 6] and inbox["unread_count"] == 4, inbox
    st, r = dev.http("POST", "/api/v1/pulse/inbox/mark-read",
                     {"event_ids": [e["id"] for e in inbox["events"][:2]]}, key=KEY_A)
    assert r == {"marked_read": 2}, r
    st, inbox = dev.http("GET", "/api/v1/pulse/inbox?limit=10", key=KEY_A)
    assert [e["event_data"]["content"]["i"] for e in inbox["events"]] == [5, 6], inbox
    for bad in ("0", "x", "100000001"):
        p = subprocess.run([dev.binary, "--inbox-cap", bad], capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 2 and "--inbox-cap wants an integer" in p.stderr, (bad, p)


async def t_wss(dev):
    ctx = ssl.create_default_context(cafile=dev.cert)
    for host in ("localhost", "127.0.0.1"):
        ws = await ws_connect("wss://%s:%d/api/v1/pulse/ws" % (host, dev.tls_port), ssl=ctx)
        await auth(ws, KEY_A)
        await ws.send('{"type":"ping"}')
        assert await recv_json(ws) == {"type": "pong"}
        await ws.close()
    st, r = dev.http("GET", "/_dev/state", tls=True)
    assert st == 200 and r["ok"]


async def t_signals(dev):
    # SIGINT in the middle of a paced emit (the loop busy with its pacing timer) ends the
    # devserver promptly with 0; DevProc.stop() checks SIGTERM the same way.
    wa = await ws_connect(dev.url)
    await auth(wa, KEY_A)
    dev.call("POST", "emit", {"agent_id": AG_A, "count": 1000000, "rate": 1000})
    await recv_json(wa)
    t0 = time.monotonic()
    dev.proc.send_signal(signal.SIGINT)
    rc = dev.proc.wait(5)
    assert rc == 0, "SIGINT exit %d" % rc
    print("    SIGINT during a paced emit: exit 0 in %.0f ms" % ((time.monotonic() - t0) * 1000))
    await wa.close()


GROUPS = [
    ([], False, [t_auth_message, t_auth_token, t_auth_failed, t_origin_refused, t_supersede,
                 t_limits, t_contribute_ws, t_sessions_push_and_inbox, t_rest,
                 t_contribute_modes, t_emit, t_signals]),
    (["--auth-timeout-ms", "300"], False, [t_auth_timeout]),
    (["--rate-limit", "5"], False, [t_rate_limit]),
    (["--inbox-cap", "5"], False, [t_inbox_cap]),
    (["--pong-timeout-ms", "500"], False, [t_control_faults]),
    (["--ping-interval-ms", "200", "--pong-timeout-ms", "300"], False, [t_keepalive]),
    ([], True, [t_wss]),
]


def main():
    binary = sys.argv[1]
    only = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "-k" else None
    failed = 0
    for extra, tls, tests in GROUPS:
        for t in tests:
            if only and only not in t.__name__:
                continue
            dev = DevProc(binary, extra, tls)
            try:
                asyncio.run(asyncio.wait_for(t(dev), 60))
                dev.stop()
                print("PASS", t.__name__)
            except Exception as e:  # report and go on
                failed += 1
                import traceback
                traceback.print_exc()
                print("FAIL", t.__name__, repr(e))
                dev.proc.kill()
    print("%s" % ("ALL PASS" if not failed else "%d FAILED" % failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
