#!/usr/bin/python3
"""Frame-level HTTP/2 client for handoff's tests (prior knowledge, plain TCP on loopback).

Each case prints what the proxy did, one fact per line, for the C++ test to check:
    h2_client.py CASE PORT [ARGS...]
Built on python3-h2 for the well-formed parts and on raw frames (hyperframe, hpack) where a
case must break the protocol on purpose.
"""
import socket
import subprocess
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Client:
    """A lenient h2 client: it sends what it is told, checked or not."""

    def __init__(self, port, settings=None, timeout=10.0):
        self.sock = connect(port, timeout)
        config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                           normalize_outbound_headers=False,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.responses = {}  # stream id -> dict(status, headers, body, reset, ended)
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), body=None, authority="app", end=True):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":authority", authority),
                  (":path", path)] + list(headers)
        self.conn.send_headers(sid, fields, end_stream=(body is None and end))
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        self.responses[sid] = {"status": None, "headers": [], "body": b"", "reset": None,
                               "ended": False}
        return sid

    def pump(self, until, deadline=10.0):
        """Reads and handles events until until() is true, the connection ends or time runs out."""
        end = time.monotonic() + deadline
        while not until():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return False
            if not data:
                return False
            for event in self.conn.receive_data(data):
                self.handle(event)
            self.flush()
        return True

    def handle(self, event):
        r = self.responses.get(getattr(event, "stream_id", None))
        if isinstance(event, h2.events.ResponseReceived):
            r["headers"] = [(k.decode(), v.decode()) for k, v in event.headers]
            r["status"] = dict(r["headers"]).get(":status")
        elif isinstance(event, h2.events.DataReceived):
            r["body"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            r["trailers"] = [(k.decode(), v.decode()) for k, v in event.headers]
        elif isinstance(event, h2.events.StreamEnded):
            r["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            if r is not None:
                r["reset"] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = (event.error_code, event.last_stream_id)

    def done(self, sid):
        r = self.responses[sid]
        return r["ended"] or r["reset"] is not None or self.goaway is not None

    def result(self, sid):
        r = self.responses[sid]
        if r["reset"] is not None:
            return "reset %d" % int(r["reset"])
        if r["status"] is None:
            return "no answer"
        return "%s %s" % (r["status"], r["body"].decode(errors="replace").strip())


def raw_frames(sock, deadline):
    """Reads frames until the peer closes or `deadline` passes; yields each frame."""
    buf = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return
        except (ConnectionResetError, BrokenPipeError):
            yield "closed"
            return
        if not data:
            yield "closed"
            return
        buf += data
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            yield frame


def raw_start(port, settings=None):
    s = connect(port)
    s.sendall(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())
    return s


def request_block(encoder, path="/", authority="app", extra=()):
    return encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", authority),
                           (":path", path)] + list(extra))


DECODERS = {}  # socket -> the HPACK decoder of what the proxy sends on it


def outcome_of(sock, sid, deadline=10.0, whole=False):
    """What came back on stream `sid`: "status S" at its response head (with `whole`: "S BODY"
    at its end), or "reset CODE", "goaway CODE", "closed" or "nothing" instead."""
    decoder = DECODERS.setdefault(id(sock), hpack.Decoder())
    status, body = None, b""
    for f in raw_frames(sock, deadline):
        if f == "closed":
            return "closed"
        if isinstance(f, GoAwayFrame):
            return "goaway %d" % f.error_code
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
        if f.stream_id != sid:
            continue
        if isinstance(f, RstStreamFrame):
            return "reset %d" % f.error_code
        if isinstance(f, HeadersFrame):
            status = dict(decoder.decode(f.data))[":status"]
            if not whole:
                return "status " + status
        if isinstance(f, DataFrame):
            body += f.data
        if "END_STREAM" in f.flags:
            return "%s %s" % (status, body.decode(errors="replace").strip())
    return "nothing"


# --- the cases ---

def case_get(port, path, count="1"):
    """Sends COUNT requests on one connection, all at once; prints each result."""
    c = Client(port)
    sids = [c.request(path) for _ in range(int(count))]
    c.pump(lambda: all(c.done(s) for s in sids))
    for s in sids:
        print(c.result(s))


def case_get_hosts(port, *hosts):
    """One request to each of HOSTS on one connection, all at once: each one's status, with
    the body when it is 200."""
    c = Client(port)
    sids = [c.request("/", authority=h) for h in hosts]
    c.pump(lambda: all(c.done(s) for s in sids))
    for s in sids:
        r = c.result(s)
        print(r if r.startswith("200") else r.split(" ")[0])


def case_swap(port, command):
    """A request, then COMMAND (a swap) run to its end, then another request on the same
    connection: each answer on a line, then whether the connection was kept."""
    c = Client(port)
    first = c.request("/")
    c.pump(lambda: c.done(first))
    print(c.result(first))
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)
    second = c.request("/")
    c.pump(lambda: c.done(second))
    print(c.result(second))
    print("same connection" if c.goaway is None else "goaway")


def case_slow_then_more(port, slow_path, fast_path, marker, command):
    """A slow request, then COMMAND (a swap) in the background once it is under way, then, as
    soon as the swap has switched (a probe on the same connection answers from the other
    upstream), fast requests on that connection while the slow one runs: prints each answer,
    fast ones first."""
    c = Client(port)
    probe = c.request(fast_path)
    c.pump(lambda: c.done(probe))
    before = c.result(probe)
    slow = c.request(slow_path)
    time.sleep(0.3)
    proc = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL)
    open(marker, "w").close()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        probe = c.request(fast_path)
        c.pump(lambda: c.done(probe))
        if c.result(probe) != before:
            break
        time.sleep(0.05)
    fast = [c.request(fast_path) for _ in range(3)]
    c.pump(lambda: all(c.done(s) for s in fast))
    for s in fast:
        print("fast " + c.result(s))
    c.pump(lambda: c.done(slow), 30)
    print("slow " + c.result(slow))
    print("command %d" % proc.wait())


def case_headers(port):
    """What the proxy makes of cookie crumbs, TE: trailers, host and :authority."""
    c = Client(port)
    sid = c.request("/fields", headers=[("cookie", "a=1"), ("cookie", "b=2"),
                                        ("te", "trailers"), ("user-agent", "h2-test")])
    c.pump(lambda: c.done(sid))
    print(c.result(sid))
    for k, v in c.responses[sid]["headers"]:
        print("response %s: %s" % (k, v))
    for k, v in c.responses[sid].get("trailers", []):
        print("trailer %s: %s" % (k, v))


def case_trailers(port):
    """A body without content-length, in three DATA frames, then trailers."""
    c = Client(port)
    sid = c.request("/upload", method="POST", body=b"hello ", end=False)
    c.conn.send_data(sid, b"big ", end_stream=False)
    c.conn.send_data(sid, b"world", end_stream=False)
    c.conn.send_headers(sid, [("x-checksum", "abc")], end_stream=True)
    c.flush()
    c.pump(lambda: c.done(sid))
    print(c.result(sid))


MALFORMED = {
    "connection": [("connection", "keep-alive")],
    "keep-alive": [("keep-alive", "5")],
    "transfer-encoding": [("transfer-encoding", "chunked")],
    "upgrade": [("upgrade", "websocket")],
    "te-gzip": [("te", "gzip")],
    "uppercase": [("X-Upper", "1")],
    "pseudo-after-regular": [("x-a", "1"), (":extra", "x")],
    "value-newline": [("x-a", "1\r\nx-b: 2")],
}


def case_malformed(port):
    """Each malformed request on its own stream of one connection: the stream is reset with
    PROTOCOL_ERROR (1), the connection lives on; then a good request on it."""
    s = raw_start(port)
    enc = hpack.Encoder()
    sid = 1
    for name, extra in MALFORMED.items():
        block = request_block(enc, "/" + name, extra=extra)
        s.sendall(HeadersFrame(sid, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
        print("%s: %s" % (name, outcome_of(s, sid, 5)))
        sid += 2
    no_path = enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", "app")])
    s.sendall(HeadersFrame(sid, no_path, flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("no-path: %s" % outcome_of(s, sid, 5))
    sid += 2
    s.sendall(HeadersFrame(sid, request_block(enc, "/good"),
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("good: %s" % outcome_of(s, sid, 5))


def case_split_everywhere(port):
    """One connection per cut: the preface, SETTINGS, a POST's HEADERS and its DATA sent as
    two writes cut at every byte boundary (the second after a pause, so the proxy reads them
    apart). Prints each cut whose answer was not "200 got 5", then how many were."""
    enc = hpack.Encoder()
    block = enc.encode([(":method", "POST"), (":scheme", "http"), (":authority", "app"),
                        (":path", "/split"), ("content-length", "5")])
    message = (PREFACE + SettingsFrame(0).serialize() +
               HeadersFrame(1, block, flags=["END_HEADERS"]).serialize() +
               DataFrame(1, b"hello", flags=["END_STREAM"]).serialize())
    bad = 0
    for cut in range(1, len(message)):
        s = connect(port)
        s.sendall(message[:cut])
        time.sleep(0.005)
        s.sendall(message[cut:])
        got = outcome_of(s, 1, 5, whole=True)
        s.close()
        if got != "200 got 5":
            print("cut %d: %s" % (cut, got))
            bad += 1
    print("%d cuts, %d failed" % (len(message) - 1, bad))


def case_rapid_reset(port, count):
    """COUNT streams opened and reset at once (CVE-2023-44487), as fast as they go: prints how
    the connection ended."""
    s = raw_start(port)
    enc = hpack.Encoder()
    sid = 1
    batch = []
    try:
        for _ in range(int(count)):
            batch.append(HeadersFrame(sid, request_block(enc, "/reset"),
                                      flags=["END_HEADERS", "END_STREAM"]).serialize())
            batch.append(RstStreamFrame(sid, error_code=8).serialize())
            sid += 2
            if len(batch) >= 200:
                s.sendall(b"".join(batch))
                batch = []
        s.sendall(b"".join(batch))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(ending(s))


def ending(sock, deadline=10.0):
    """How a connection the test misbehaved on ended: its GOAWAY code, or a close."""
    for f in raw_frames(sock, deadline):
        if f == "closed":
            return "closed"
        if isinstance(f, GoAwayFrame):
            return "goaway %d" % f.error_code
    return "still open"


def case_continuation_flood(port, count):
    """A header block that never ends: HEADERS then COUNT CONTINUATION frames."""
    s = raw_start(port)
    enc = hpack.Encoder()
    s.sendall(HeadersFrame(1, request_block(enc, "/cont"), flags=[]).serialize())
    chunk = ContinuationFrame(1, enc.encode([("x-filler", "y" * 100)]), flags=[]).serialize()
    try:
        for _ in range(int(count) // 100):
            s.sendall(chunk * 100)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(ending(s))


def case_partial_head(port):
    """A header block begun and never finished (slowloris over HTTP/2): prints how the
    connection ended and after how long."""
    s = raw_start(port)
    s.sendall(HeadersFrame(1, request_block(hpack.Encoder(), "/slow"), flags=[]).serialize())
    start = time.monotonic()
    print(ending(s, 20))
    print("after %.0f s" % (time.monotonic() - start))


def case_hpack_bomb(port):
    """A 4 KB field put in the dynamic table once, then referenced 16,000 times in one header
    block (64 MB decoded from 16 KB): the stream must be refused, and the connection survives."""
    s = raw_start(port)
    value = "b" * 4000
    # Literal with incremental indexing, new name (RFC 7541 §6.2.1): 0x40, name, value.
    first = bytes([0x40]) + hpack_string("x-bomb") + hpack_string(value)
    s.sendall(HeadersFrame(1, request_block(hpack.Encoder(), "/seed") + first,
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("seed: %s" % outcome_of(s, 1, 5))
    # The request block is re-encoded without indexing so the table holds only the bomb (62).
    plain = b"".join(bytes([0x00]) + hpack_string(k) + hpack_string(v) for k, v in
                     [(":method", "GET"), (":scheme", "http"), (":authority", "app"),
                      (":path", "/bomb")])
    bomb = plain + bytes([0x80 | 62]) * 16000
    s.sendall(HeadersFrame(3, bomb, flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("bomb: %s" % outcome_of(s, 3, 10))
    s.sendall(HeadersFrame(5, plain.replace(b"/bomb", b"/good"),
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("after: %s" % outcome_of(s, 5, 5))


def case_oversized_heads(port, count):
    """COUNT requests in a row whose header blocks are over the limit (a 4 KB field indexed once,
    then referenced 64 times a block): prints each stream's fate until the connection ends, and
    how it ended."""
    s = raw_start(port)
    enc = hpack.Encoder()
    first = bytes([0x40]) + hpack_string("x-big") + hpack_string("b" * 4000)
    s.sendall(HeadersFrame(1, request_block(enc, "/seed") + first,
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("seed: %s" % outcome_of(s, 1, 5))
    plain = b"".join(bytes([0x00]) + hpack_string(k) + hpack_string(v) for k, v in
                     [(":method", "GET"), (":scheme", "http"), (":authority", "app"),
                      (":path", "/big")])
    for i in range(int(count)):
        sid = 3 + 2 * i
        try:
            s.sendall(HeadersFrame(sid, plain + bytes([0x80 | 62]) * 64,
                                   flags=["END_HEADERS", "END_STREAM"]).serialize())
        except (BrokenPipeError, ConnectionResetError):
            print("closed")
            return
        outcome = outcome_of(s, sid, 5)
        print("big %d: %s" % (i + 1, outcome))
        if not outcome.startswith("status"):
            return


def hpack_string(text):
    data = text.encode()
    if len(data) < 127:
        return bytes([len(data)]) + data
    rest = len(data) - 127
    out = bytearray([127])
    while rest >= 128:
        out.append((rest % 128) + 128)
        rest //= 128
    out.append(rest)
    return bytes(out) + data


def case_flood(port, kind, count):
    """COUNT SETTINGS or PING frames sent without reading a byte of the answers."""
    s = raw_start(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if kind == "settings":
        frame = SettingsFrame(0, settings={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100})
    else:
        frame = PingFrame(0, opaque_data=b"12345678")
    data = frame.serialize() * 1000
    sent = 0
    try:
        s.settimeout(5)
        for _ in range(int(count) // 1000):
            s.sendall(data)
            sent += 1000
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    print("sent %s" % ("all" if sent >= int(count) else "part"))
    print(ending(s))


def case_zero_window(port, path):
    """A client whose windows are zero asks for a large body and never opens them: the
    stream must be reset (the proxy's client I/O timeout), the connection still answers PING."""
    s = raw_start(port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    enc = hpack.Encoder()
    s.sendall(HeadersFrame(1, request_block(enc, path),
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    start = time.monotonic()
    print("stream: %s" % outcome_of(s, 1, 30, whole=True))
    print("after %.0f s" % (time.monotonic() - start))
    s.sendall(PingFrame(0, opaque_data=b"abcdefgh").serialize())
    for f in raw_frames(s, 5):
        if isinstance(f, PingFrame) and "ACK" in f.flags:
            print("ping answered")
            return
    print("ping unanswered")


def case_goaway(port, path, command):
    """A request under way, then COMMAND (a shutdown): prints the GOAWAY frames received, the
    request's answer, then a new stream's fate."""
    s = raw_start(port)
    enc = hpack.Encoder()
    s.sendall(HeadersFrame(1, request_block(enc, path),
                           flags=["END_HEADERS", "END_STREAM"]).serialize())
    time.sleep(0.3)
    subprocess.Popen(command, shell=True)
    decoder = hpack.Decoder()
    body = b""
    for f in raw_frames(s, 20):
        if f == "closed":
            print("closed")
            break
        if isinstance(f, GoAwayFrame):
            print("goaway last_stream_id=%d code=%d" % (f.last_stream_id, f.error_code))
        elif isinstance(f, HeadersFrame) and f.stream_id == 1:
            print("status " + dict(decoder.decode(f.data))[":status"])
        elif isinstance(f, DataFrame) and f.stream_id == 1:
            body += f.data
            s.sendall(WindowUpdateFrame(0, window_increment=max(1, len(f.data))).serialize())
            if "END_STREAM" in f.flags:
                print("body %d bytes, ended" % len(body))
        elif isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            s.sendall(SettingsFrame(0, flags=["ACK"]).serialize())


CASES = {
    "get": case_get,
    "get-hosts": case_get_hosts,
    "swap": case_swap,
    "slow-then-more": case_slow_then_more,
    "headers": case_headers,
    "trailers": case_trailers,
    "malformed": case_malformed,
    "split-everywhere": case_split_everywhere,
    "rapid-reset": case_rapid_reset,
    "continuation-flood": case_continuation_flood,
    "partial-head": case_partial_head,
    "hpack-bomb": case_hpack_bomb,
    "oversized-heads": case_oversized_heads,
    "flood": case_flood,
    "zero-window": case_zero_window,
    "goaway": case_goaway,
}

if __name__ == "__main__":
    CASES[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])
    sys.stdout.flush()
