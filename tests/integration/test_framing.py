#!/usr/bin/python3
"""test_framing.py: the bridge's own RFC 6455 client (bridge/common/wsframe.c) against
hand-made server frames on a real socket, over ws:// and wss://.

The devserver's /_dev/send raw_hex writes the bytes as they are (docs/devserver.md), in queue
order, so each scenario lays out its frames itself: unusual but valid framing (fragments with
a PING between them, frames split across reads, every length encoding) is published intact;
a message over --max-frame is skipped on the same connection; a protocol violation fails the
connection with 1002 and the bridge reconnects; a server close 4000 is "superseded"; a close
reason that is not UTF-8 leaves bridge.status whole."""

import calendar
import json
import os
import secrets
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_events import World  # noqa: E402

OP_CONT, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA
RSV1 = 0x4
MAX_FRAME = 4096
MAX_LOG_LINE = 8192
# Neither the devserver's keep-alive PING nor its PONG to the bridge's PING may fall inside a
# frame that a scenario splits across two sends: both ping intervals far beyond a test.
NO_PINGS_DEV = ["--ping-interval-ms", "3600000"]
NO_PINGS_BRIDGE = ["--ping-interval-ms", "600000"]
# Quick reconnects for the protocol-violation scenarios.
FAST_BACKOFF = ["--backoff-base-ms", "20", "--backoff-cap-ms", "100"]


def frame(op, payload=b"", fin=True, rsv=0, mask=None):
    """One server frame: FIN, RSV bits, opcode, the shortest length encoding, unmasked
    unless `mask` (4 bytes) is given."""
    n = len(payload)
    b1 = 0x80 if mask else 0
    if n < 126:
        head = bytes([b1 | n])
    elif n <= 0xFFFF:
        head = bytes([b1 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b1 | 127]) + n.to_bytes(8, "big")
    head = bytes([(0x80 if fin else 0) | rsv << 4 | op]) + head
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def send_raw(w, data):
    """Hands the bytes to the devserver for the bridge's connection, unframed."""
    w.dev.call("POST", "send", {"agent_id": w.a, "raw_hex": data.hex()})


def ping_payload():
    return b"pp-" + secrets.token_hex(8).encode()


def wait_pong(w, payload, timeout=10):
    """The bridge's PONG carrying payload reached the devserver."""
    want = payload.hex()
    return h.wait_until(lambda: any(p["payload_hex"] == want and p["agent_id"] == w.a
                                    for p in w.dev.state()["pongs"]),
                        timeout, "the bridge's PONG for %r" % payload)


def contribution(w, text):
    """A valid contribution_received frame (text) and its session id and contribution id."""
    sid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"type": "contribution_received",
            "data": {"id": cid, "session_id": sid, "contributor_agent_id": w.b,
                     "content": {"text": text}, "contribution_type": "warning",
                     "created_at": "2026-01-01T00:00:00Z"}}
    return json.dumps(body, ensure_ascii=False).encode(), sid, cid


def contribution_of_size(w, size):
    """A contribution_received frame of exactly size bytes (ASCII padding)."""
    base, _, _ = contribution(w, "")
    text = "x" * (size - len(base))
    raw, sid, cid = contribution(w, text)
    assert len(raw) == size
    return raw, sid, cid, text


def marker_of_size(name, size):
    """{"type":name,"data":{"pad":"xx..."}} of exactly size bytes (topic upstream.<name>),
    and its pad."""
    pad = "x" * (size - len(json.dumps({"type": name, "data": {"pad": ""}})))
    raw = json.dumps({"type": name, "data": {"pad": pad}}).encode()
    assert len(raw) == size
    return raw, pad


def marker(w, name):
    """A small valid event, framed by the devserver as usual; returns its envelope."""
    w.dev.send(w.a, text=json.dumps({"type": name, "data": {"n": name}}))
    return next_published(w, "upstream." + name)


def next_published(w, topic, timeout=15):
    """The next event on the all-subscriber that is not bridge.status; it must be topic."""
    (t, env), _ = w.all.recv_until(lambda t, e: t != "bridge.status", timeout, topic)
    h.check(t == topic, "published %r, expected %r" % (t, topic))
    return env


def iso_ms(text):
    """Milliseconds since the epoch of an envelope time (2026-12-01T22:03:07.564Z)."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(
        text[20:23])


def check_contribution(env, sid, cid, text):
    h.check(env["id"] == "contribution:" + cid, "id %r" % env["id"])
    h.check(env["data"]["session_id"] == sid, "session_id %r" % env["data"]["session_id"])
    got = env["data"]["content"]["text"]
    h.check(got == text, "content changed: %d chars, expected %d" % (len(got), len(text)))


STATUS_KEYS = ["state", "agent_id", "since", "attempt", "next_retry_ms", "last_close_code",
               "last_error"]


def check_status_keys(env):
    """bridge.status data has every member the contract names (bridge-contract.md)."""
    keys = list(env["data"].keys())
    h.check(keys == STATUS_KEYS, "bridge.status data keys %r, the contract's are %r" %
            (keys, STATUS_KEYS))


def check_same_connection(w):
    st = w.dev.state()
    h.check(st["connects_total"] == 1, "the bridge reconnected: connects_total %r" %
            st["connects_total"])
    h.check(len(w.dev.connections(w.a)) == 1, "the bridge's connection is gone")
    h.check(w.bridge.alive(), "the bridge died")


def check_no_skips(w):
    err = w.bridge.stderr()
    h.check("skipped a frame" not in err and "protocol error" not in err,
            "the bridge refused valid framing: %s" % err[-2000:])


# ---- unusual but valid framing ---------------------------------------------------------


def fragmented_with_ping_scenario(ctx, tls):
    w = World(ctx, tls=tls)
    # 2-byte and 3-byte UTF-8 characters: the fragment boundaries fall inside them (RFC 6455
    # 5.6: only the whole message must be valid UTF-8).
    text = "fragmented \u00e9\u20ac " * 40
    raw, sid, cid = contribution(w, text)
    cut1 = raw.index("\u20ac".encode()) + 1
    cut2 = raw.rindex("\u00e9".encode()) + 1
    ping = ping_payload()
    send_raw(w, frame(OP_TEXT, raw[:cut1], fin=False))
    send_raw(w, frame(OP_PING, ping))  # a control frame between fragments (5.4)
    send_raw(w, frame(OP_CONT, raw[cut1:cut2], fin=False))
    send_raw(w, frame(OP_CONT, raw[cut2:], fin=True))
    env = next_published(w, "contribution.received." + sid)
    check_contribution(env, sid, cid, text)
    wait_pong(w, ping)  # answered with the PING's own payload (5.5.3)
    check_same_connection(w)
    check_no_skips(w)


def test_fragments_with_a_ping_between_are_joined_and_the_ping_answered_over_ws(ctx):
    fragmented_with_ping_scenario(ctx, tls=False)


def test_fragments_with_a_ping_between_are_joined_and_the_ping_answered_over_wss(ctx):
    fragmented_with_ping_scenario(ctx, tls=True)


def odd_fragments_scenario(ctx, tls):
    """Empty first and last fragments, one-byte fragments, an unsolicited PONG and a
    125-byte PING (the largest control frame) between fragments."""
    w = World(ctx, tls=tls)
    text = "tiny pieces \u00e9"
    raw, sid, cid = contribution(w, text)
    ping = b"P" * 125
    parts = [frame(OP_TEXT, b"", fin=False)]
    parts += [frame(OP_CONT, raw[i:i + 1], fin=False) for i in range(len(raw))]
    parts.insert(5, frame(OP_PONG, b"unsolicited"))
    parts.insert(9, frame(OP_PING, ping))
    parts.append(frame(OP_CONT, b"", fin=True))
    send_raw(w, b"".join(parts))
    env = next_published(w, "contribution.received." + sid)
    check_contribution(env, sid, cid, text)
    wait_pong(w, ping)
    # an empty message is refused like any non-JSON one: skipped, the connection kept
    send_raw(w, frame(OP_TEXT, b"", fin=False) + frame(OP_CONT, b"", fin=True))
    m = marker(w, "after_empty")
    h.check(m["data"] == {"n": "after_empty"}, "marker data %r" % m["data"])
    check_same_connection(w)


def test_empty_and_one_byte_fragments_around_control_frames_are_joined_over_ws(ctx):
    odd_fragments_scenario(ctx, tls=False)


def test_empty_and_one_byte_fragments_around_control_frames_are_joined_over_wss(ctx):
    odd_fragments_scenario(ctx, tls=True)


def split_frames_scenario(ctx, tls):
    """Each frame in two sends, the second only after the bridge has read the first: a PING
    goes just before the first part and its PONG is awaited (the bridge answers a PING once
    it has parsed the read that held it, and the first part came in the same write)."""
    w = World(ctx, tls=tls, dev_extra=NO_PINGS_DEV, bridge_extra=NO_PINGS_BRIDGE)
    cases = [
        # (what, frame size, where the first send ends: bytes of the frame)
        ("16-bit length, split in the payload", 40000, 4 + 1000),
        ("64-bit length, split in the payload", 70000, 10 + 30000),
        ("64-bit length, split inside the 8-byte length", 70000, 5),
        ("16-bit length, split after the first header byte", 3000, 1),
    ]
    for what, size, cut in cases:
        raw, sid, cid, text = contribution_of_size(w, size)
        whole = frame(OP_TEXT, raw)
        h.check((whole[1] & 0x7F) == (126 if size <= 0xFFFF else 127), "length encoding")
        ping = ping_payload()
        send_raw(w, frame(OP_PING, ping) + whole[:cut])
        wait_pong(w, ping)
        send_raw(w, whole[cut:])
        env = next_published(w, "contribution.received." + sid, 20)
        try:
            check_contribution(env, sid, cid, text)
        except h.TestFailure as e:
            raise h.TestFailure("%s: %s" % (what, e))
    check_same_connection(w)
    check_no_skips(w)


def test_16_and_64_bit_length_frames_split_across_reads_are_published_intact_over_ws(ctx):
    split_frames_scenario(ctx, tls=False)


def test_16_and_64_bit_length_frames_split_across_reads_are_published_intact_over_wss(ctx):
    split_frames_scenario(ctx, tls=True)


def length_boundaries_scenario(ctx, tls):
    """Payloads of 125 (the largest 7-bit length), 126 (the smallest 16-bit), 65535 (the
    largest 16-bit) and 65536 (the smallest 64-bit) bytes, several in one write."""
    w = World(ctx, tls=tls)
    sizes = [125, 126, 65535, 65536]
    msgs = [marker_of_size("len_%d" % n, n) for n in sizes]
    send_raw(w, b"".join(frame(OP_TEXT, raw) for raw, _ in msgs))
    last = None
    for n, (_, pad) in zip(sizes, msgs):
        env = next_published(w, "upstream.len_%d" % n)
        h.check(env["data"] == {"pad": pad}, "len_%d: data changed" % n)
        if last is not None:
            h.check(env["seq"] == last + 1, "seq %d after %d" % (env["seq"], last))
        last = env["seq"]
    check_same_connection(w)
    check_no_skips(w)


def test_every_length_encoding_at_its_boundaries_is_published_intact_over_ws(ctx):
    length_boundaries_scenario(ctx, tls=False)


def test_every_length_encoding_at_its_boundaries_is_published_intact_over_wss(ctx):
    length_boundaries_scenario(ctx, tls=True)


# ---- --max-frame ----------------------------------------------------------------------


def max_frame_scenario(ctx, tls):
    w = World(ctx, tls=tls, bridge_extra=["--max-frame", str(MAX_FRAME)])
    last = marker(w, "before")["seq"]
    # exactly --max-frame is allowed
    raw, sid, cid, text = contribution_of_size(w, MAX_FRAME)
    send_raw(w, frame(OP_TEXT, raw))
    env = next_published(w, "contribution.received." + sid)
    check_contribution(env, sid, cid, text)
    h.check(env["seq"] == last + 1, "seq %d after %d" % (env["seq"], last))
    last = env["seq"]
    big, _, _, _ = contribution_of_size(w, 10000)
    over, _, _, _ = contribution_of_size(w, MAX_FRAME + 1)
    cases = [
        ("one byte over, one frame", frame(OP_TEXT, over)),
        ("10,000 bytes in one frame", frame(OP_TEXT, big)),
        ("10,000 bytes in three fragments, a PING among them",
         frame(OP_TEXT, big[:3000], fin=False) + frame(OP_PING, b"mid") +
         frame(OP_CONT, big[3000:6000], fin=False) + frame(OP_CONT, big[6000:], fin=True)),
        ("10,000 bytes, the first fragment alone over",
         frame(OP_TEXT, big[:5000], fin=False) + frame(OP_CONT, big[5000:], fin=True)),
    ]
    for i, (what, data) in enumerate(cases):
        send_raw(w, data)
        name = "after_over_%d" % i
        env = marker(w, name)
        h.check(env["seq"] == last + 1, "after %s: seq %d follows %d (something else was "
                "published)" % (what, env["seq"], last))
        last = env["seq"]
    wait_pong(w, b"mid")
    err = w.bridge.stderr()
    skips = [ln for ln in err.splitlines() if "frame over --max-frame" in ln]
    h.check(len(skips) == len(cases), "%d 'frame over --max-frame' lines for %d oversize "
            "messages: %s" % (len(skips), len(cases), err[-3000:]))
    h.check(sum("%d bytes" % (MAX_FRAME + 1) in ln for ln in skips) == 1,
            "the log names the size: %r" % skips)
    longest = max(len(ln) for ln in err.splitlines())
    h.check(longest < MAX_LOG_LINE, "a log line of %d bytes" % longest)
    h.check("x" * 1000 not in err, "an oversize frame was logged whole")
    check_same_connection(w)


def test_message_over_max_frame_is_skipped_on_the_same_connection_over_ws(ctx):
    max_frame_scenario(ctx, tls=False)


def test_message_over_max_frame_is_skipped_on_the_same_connection_over_wss(ctx):
    max_frame_scenario(ctx, tls=True)


# ---- protocol violations -------------------------------------------------------------

EV = json.dumps({"type": "must_not_be_published", "data": {}}).encode()
PROTOCOL_ERROR = "WebSocket protocol error"

# (what, bytes, what the bridge's log says). Each frame's payload, if accepted, would be
# published as upstream.must_not_be_published.
VIOLATIONS = [
    ("a masked server frame", frame(OP_TEXT, EV, mask=b"\x11\x22\x33\x44"), PROTOCOL_ERROR),
    ("RSV1 set without an extension", frame(OP_TEXT, EV, rsv=RSV1), PROTOCOL_ERROR),
    ("unknown data opcode 0x3", frame(0x3, EV), PROTOCOL_ERROR),
    ("a continuation with no message started", frame(OP_CONT, EV), PROTOCOL_ERROR),
    ("a control frame over 125 bytes", frame(OP_PING, b"p" * 126), PROTOCOL_ERROR),
    ("unknown control opcode 0xB", frame(0xB, b"x"), PROTOCOL_ERROR),
    ("a fragmented control frame", frame(OP_PING, b"x", fin=False), PROTOCOL_ERROR),
    ("a new text message inside a fragmented one",
     frame(OP_TEXT, EV[:5], fin=False) + frame(OP_TEXT, EV), PROTOCOL_ERROR),
    ("a 64-bit length with the top bit set",
     bytes([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]) + b"x", PROTOCOL_ERROR),
    ("a close frame with a one-byte payload", frame(OP_CLOSE, b"\x03"),
     "malformed close frame"),
    ("a close frame with code 1005 (never sent on the wire)",
     frame(OP_CLOSE, (1005).to_bytes(2, "big")), "malformed close frame"),
]


def violations_scenario(ctx, tls):
    """Each violation in one write between two valid frames: the one before is published,
    nothing after the violation is processed (RFC 6455 7.1.7: fail the connection)."""
    w = World(ctx, tls=tls, bridge_extra=FAST_BACKOFF)
    for i, (what, data, says) in enumerate(VIOLATIONS):
        before = w.dev.state()
        n_closes = len(before["closes"])
        n_logged = w.bridge.stderr().count(says)
        first = json.dumps({"type": "before_violation_%d" % i, "data": {}}).encode()
        send_raw(w, frame(OP_TEXT, first) + data + frame(OP_TEXT, EV))
        try:
            next_published(w, "upstream.before_violation_%d" % i)
            check_status_keys(h.await_status(
                w.all, "backoff", 10, pred=lambda e: says in (e["data"]["last_error"] or "")))
            check_status_keys(h.await_status(w.all, "connected", 10))
            # the bridge's close frame reached the server with 1002 (RFC 6455 7.1.7)
            closes = h.wait_until(
                lambda: w.dev.state()["closes"][n_closes:] or None, 10, "the close record")
            h.check(closes == [{"agent_id": w.a, "code": 1002}], "closes %r" % closes)
            st = w.dev.state()
            h.check(st["connects_total"] == before["connects_total"] + 1,
                    "connects_total %r after %r" % (st["connects_total"],
                                                   before["connects_total"]))
            h.check(w.bridge.stderr().count(says) > n_logged, "not logged: %r" % says)
            # events sent after the reconnect are published, and nothing of the bad frame
            marker(w, "after_violation_%d" % i)
        except h.TestFailure as e:
            raise h.TestFailure("%s: %s" % (what, e))


def test_protocol_violation_closes_1002_and_reconnects_over_ws(ctx):
    violations_scenario(ctx, tls=False)


def test_protocol_violation_closes_1002_and_reconnects_over_wss(ctx):
    violations_scenario(ctx, tls=True)


# ---- the server's close --------------------------------------------------------------


def close_4000_scenario(ctx, tls):
    cap = 1000
    w = World(ctx, tls=tls, bridge_extra=["--backoff-base-ms", "20", "--backoff-cap-ms",
                                          str(cap)])
    send_raw(w, frame(OP_CLOSE, (4000).to_bytes(2, "big") + b"Connection replaced"))
    st = h.await_status(w.all, "superseded", 10)
    check_status_keys(st)
    d = st["data"]
    h.check(d["last_close_code"] == 4000, "last_close_code %r" % d["last_close_code"])
    h.check("Connection replaced" in (d["last_error"] or ""), "the close reason is not "
            "reported: last_error %r" % d["last_error"])
    # superseded waits the full cap; jitter may add up to a quarter, never subtract
    h.check(cap <= d["next_retry_ms"] <= cap * 5 // 4, "next_retry_ms %r" % d["next_retry_ms"])
    # the bridge answered the close with its code (RFC 6455 5.5.1)
    closes = h.wait_until(lambda: w.dev.state()["closes"] or None, 10, "the close record")
    h.check(closes == [{"agent_id": w.a, "code": 4000}], "closes %r" % closes)
    h.check("SUPERSEDED" in w.bridge.stderr(), "not said loudly")
    # and it did wait that long, by the states' own times (not this test's clock; the
    # slack covers the instants between scheduling the retry and stamping the state)
    again = h.await_status(w.all, "connecting", 10)
    waited = iso_ms(again["data"]["since"]) - iso_ms(d["since"])
    h.check(waited >= d["next_retry_ms"] - h.scaled(50), "reconnected after %d ms, not %d" %
            (waited, d["next_retry_ms"]))
    h.await_status(w.all, "connected", 10)
    marker(w, "after_superseded")


def test_server_close_4000_reports_superseded_over_ws(ctx):
    close_4000_scenario(ctx, tls=False)


def test_server_close_4000_reports_superseded_over_wss(ctx):
    close_4000_scenario(ctx, tls=True)


def test_close_reason_that_is_not_utf8_still_gives_status_a_last_error(ctx):
    # RFC 6455 5.5.1: a close reason is UTF-8, but a server may send anything; whatever the
    # bridge makes of it, bridge.status keeps the contract's members (transport-independent:
    # ws only).
    w = World(ctx, bridge_extra=FAST_BACKOFF)
    send_raw(w, frame(OP_CLOSE, (1001).to_bytes(2, "big") + b"bad \xff\xfe reason"))
    st = h.await_status(w.all, "backoff", 10)
    check_status_keys(st)
    h.check(st["data"]["last_close_code"] == 1001, "last_close_code %r" %
            st["data"]["last_close_code"])
    h.await_status(w.all, "connected", 10)
    marker(w, "after_bad_reason")


if __name__ == "__main__":
    h.main(globals())
