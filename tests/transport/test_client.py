"""The I/O driver against real local ``websockets`` servers (no mocked sockets)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from jsrunner.transport import CLOSED, CLOSING, OPEN, InvalidStateError, TransportHub
from jsrunner.transport.client import WebSocketConnection
from jsrunner.transport.deflate import OFFER

from .conftest import Recorder, ServerThread


def is_kind(kind):
    return lambda k, p: k == kind


def test_echo_text_and_binary(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    assert conn.ready_state == OPEN and conn.protocol == "" and conn.extensions == []
    conn.send_text("text é")
    assert conn.buffered_amount == 7  # until the VU loop sees the write
    conn.send_binary(b"\x00\x01\xff")
    _, p1 = rec.pump(is_kind("message"))
    _, p2 = rec.pump(is_kind("message"))
    assert p1["text"] == "text é"
    assert base64.b64decode(p2["binary_b64"]) == b"\x00\x01\xff"
    assert isinstance(p1["time_ns"], int)
    assert conn.buffered_amount == 0
    conn.close()
    assert conn.ready_state == CLOSING
    _, close = rec.pump()
    assert close == {"code": 1000, "reason": ""}
    assert rec.kinds() == ["open", "message", "message", "close"]
    assert len(rec.metric("ws_msgs_sent")) == 3  # text, binary, Close
    assert len(rec.metric("ws_msgs_received")) == 2
    assert len(rec.metric("ws_session_duration")) == 1
    tags = rec.metric("ws_sessions")[0]["tags"]
    assert tags == {"url": plain_server.url("/echo"), "name": plain_server.url("/echo"),
                    "status": "101", "subproto": ""}
    assert conn.join(5)
    sent, received = conn.take_data_counts()
    assert sent > 200 and received > 100
    assert conn.take_data_counts() == (0, 0)


def test_large_message_and_many_in_a_row(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    big = "x" * 300_000 + "é"
    conn.send_text(big)
    for i in range(50):
        conn.send_text(str(i))
    _, p = rec.pump(is_kind("message"))
    assert p["text"] == big
    got = [rec.pump(is_kind("message"))[1]["text"] for _ in range(50)]
    assert got == [str(i) for i in range(50)]
    conn.close()
    rec.pump()


@pytest.mark.parametrize("code,reason,error", [
    (1000, "", None), (1001, "", None),
    (4000, "custom", "websocket: close 4000: custom"),
    (1011, "", "websocket: close 1011 (internal server error)"),
])
def test_server_close_codes(connect, plain_server, code, reason, error):
    path = f"/close/{code}" + (f"/{reason}" if reason else "")
    conn, rec = connect(plain_server.url(path))
    _, close = rec.pump()
    assert close == {"code": code, "reason": reason}
    expected = ["open", "close"] if error is None else ["open", "error", "close"]
    assert rec.kinds() == expected
    if error:
        assert rec.events[1][1]["error"] == error
        assert rec.events[1][2] == CLOSED
    assert rec.events[-1][2] == CLOSED
    assert not rec.metric("ws_msgs_sent")  # the echo is not counted
    assert conn.join(5)


def test_client_close_3001_echo_error(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    conn.close(3001, "bye")
    rec.pump()
    assert [(k, p) for k, p, _ in rec.events[1:]] == [
        ("error", {"error": "websocket: close 3001: bye"}), ("close", {"code": 3001, "reason": "bye"})]


def test_server_close_after_messages(connect, plain_server):
    conn, rec = connect(plain_server.url("/send-then-close"))
    rec.pump()
    assert rec.kinds() == ["open", "message", "message", "close"]
    assert rec.events[-1][1] == {"code": 1000, "reason": "bye"}
    assert rec.events[1][2] == OPEN  # readyState still 1 while messages are dispatched


def test_connection_refused(connect):
    conn, rec = connect("ws://127.0.0.1:1/x")
    rec.pump()
    assert [(k, p) for k, p, _ in rec.events] == [
        ("error", {"error": "dial tcp 127.0.0.1:1: connect: connection refused"}),
        ("close", {"code": None, "reason": ""})]
    assert [s["name"] for s in rec.samples] == ["ws_sessions", "ws_connecting"]
    assert "status" not in rec.samples[0]["tags"]
    assert conn.join(5)


def test_dns_failure(connect):
    conn, rec = connect("ws://nonexistent.invalid/x", handshake_timeout=10)
    rec.pump(timeout=20)  # "no such host", or "i/o timeout" where DNS does not answer
    assert rec.events[0][1]["error"].startswith("dial tcp: lookup nonexistent.invalid")


def test_forbidden_is_bad_handshake_with_response(connect, plain_server):
    conn, rec = connect(plain_server.url("/forbidden"))
    rec.pump()
    (k1, err, rs1), (k2, close, rs2) = rec.events
    assert (k1, k2, rs1, rs2) == ("error", "close", CLOSED, CLOSED)
    assert err["error"] == "websocket: bad handshake"
    assert err["status"] == 403 and err["body"] == "go away\n"
    assert err["headers"]["Content-Type"].startswith("text/plain")
    assert close == {"code": None, "reason": ""}
    tags = rec.metric("ws_sessions")[0]["tags"]
    assert tags["status"] == "403" and tags["subproto"] == ""


def test_handshake_timeout(connect, silent_tcp):
    t0 = time.monotonic()
    conn, rec = connect(f"ws://127.0.0.1:{silent_tcp}/", handshake_timeout=0.3)
    rec.pump()
    assert 0.25 < time.monotonic() - t0 < 3
    assert re.fullmatch(rf"read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:{silent_tcp}: i/o timeout",
                        rec.events[0][1]["error"])
    assert rec.kinds() == ["error", "close"]


def test_tcp_abort(connect, plain_server):
    conn, rec = connect(plain_server.url("/abort"))
    rec.pump()
    assert [(k, p) for k, p, _ in rec.events[1:]] == [
        ("error", {"error": "websocket: close 1006 (abnormal closure): unexpected EOF"}),
        ("close", {"code": 1006, "reason": "unexpected EOF"})]


def test_server_ping_is_answered(connect, plain_server):
    plain_server.pings_answered.clear()
    conn, rec = connect(plain_server.url("/ping"))
    rec.pump(is_kind("ping"))
    assert plain_server.pings_answered.wait(5)
    assert conn.ready_state == OPEN
    assert not rec.metric("ws_msgs_sent")  # the Pong is not counted
    conn.close()
    rec.pump()


def test_our_ping_gets_pong_with_rtt(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    assert conn.ping() == "0"
    assert conn.ping() == "1"
    _, p = rec.pump(is_kind("pong"))
    assert p["id"] == "0" and p["rtt_ms"] > 0
    rec.pump(is_kind("pong"))
    assert len(rec.metric("ws_ping")) == 2
    assert len(rec.metric("ws_msgs_sent")) == 2  # Ping frames count
    conn.close()
    rec.pump()


def test_send_and_ping_need_open(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    with pytest.raises(InvalidStateError):
        conn.send_text("too early")
    with pytest.raises(InvalidStateError):
        conn.ping()
    rec.pump(is_kind("open"))
    conn.close()
    with pytest.raises(InvalidStateError):
        conn.send_binary(b"late")
    rec.pump()


def test_compression_negotiated_and_round_trips(connect, server):
    conn, rec = connect(server.url("/echo"), compression="deflate")
    _, opened = rec.pump(is_kind("open"))
    assert conn.extensions == [
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=12"]
    assert opened["extensions"] == conn.extensions
    conn.take_data_counts()
    text = "compress me " * 20_000  # 240 kB, very compressible
    conn.send_text(text)
    conn.send_binary(bytes(range(256)) * 4)
    conn.send_text("")
    assert rec.pump(is_kind("message"))[1]["text"] == text
    assert base64.b64decode(rec.pump(is_kind("message"))[1]["binary_b64"]) == bytes(range(256)) * 4
    assert rec.pump(is_kind("message"))[1]["text"] == ""
    sent, received = conn.take_data_counts()
    assert sent < 20_000 and received < 20_000  # compressed both ways
    conn.close()
    rec.pump()
    assert server.requests["/echo"][-1].count(("Sec-WebSocket-Extensions", OFFER)) == 1


def test_compression_not_negotiated_when_server_refuses(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"), compression="deflate")
    rec.pump(is_kind("open"))
    assert conn.extensions == []
    conn.take_data_counts()
    conn.send_text("y" * 10_000)
    assert rec.pump(is_kind("message"))[1]["text"] == "y" * 10_000
    assert conn.take_data_counts()[0] > 10_000
    conn.close()
    rec.pump()


def test_no_offer_without_compression(connect, server):
    conn, rec = connect(server.url("/headers"))
    _, p = rec.pump(is_kind("message"))
    names = [k.lower() for k, _ in json.loads(p["text"])]
    assert "sec-websocket-extensions" not in names
    assert conn.extensions == []
    conn.close()
    rec.pump()


def test_headers_and_cookies_reach_the_server(connect, plain_server):
    conn, rec = connect(plain_server.url("/headers?a=1"),
                        headers={"x-foo": "bar", "X_bar": "null", "user-agent": "custom/1"},
                        cookies=[("session", "abc"), ("n", "1")], protocols=["p1", "p2"])
    _, p = rec.pump(is_kind("message"))
    hdrs = json.loads(p["text"])
    assert ["X-Foo", "bar"] in hdrs and ["X_bar", "null"] in hdrs
    assert ["User-Agent", "custom/1"] in hdrs
    assert ["Cookie", "session=abc; n=1"] in hdrs
    assert ["Sec-WebSocket-Protocol", "p1, p2"] in hdrs
    assert ["Host", f"127.0.0.1:{plain_server.port}"] in hdrs
    assert not any(k == "Origin" for k, _ in hdrs)
    conn.close()
    rec.pump()


def test_default_user_agent(connect, plain_server):
    conn, rec = connect(plain_server.url("/headers"))
    _, p = rec.pump(is_kind("message"))
    assert any(k == "User-Agent" and v.startswith("jsrunner/") for k, v in json.loads(p["text"]))
    conn.close()
    rec.pump()


def test_duplicate_handshake_header_rejected(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"), headers={"sec-websocket-key": "x"})
    rec.pump()
    assert rec.events[0][1]["error"] == "websocket: duplicate header not allowed: Sec-Websocket-Key"


def test_subprotocol_chosen(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"), protocols=["chat", "x"])
    _, p = rec.pump(is_kind("open"))
    assert p["protocol"] == "chat" and conn.protocol == "chat"
    assert rec.metric("ws_sessions")[0]["tags"]["subproto"] == "chat"
    conn.close()
    rec.pump()


def test_close_while_connecting(connect, plain_server):
    before = len(plain_server.closes)
    conn, rec = connect(plain_server.url("/echo"))
    conn.close()  # never blocks
    assert conn.ready_state == CLOSING
    _, close = rec.pump()
    assert rec.kinds() == ["close"]  # no `open`
    assert close["code"] == 1000 and conn.buffered_amount == 0
    assert len(rec.metric("ws_msgs_sent")) == 1
    deadline = time.monotonic() + 5
    while len(plain_server.closes) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plain_server.closes[-1][1] == 1000


def test_close_while_connecting_refused_does_not_hang(connect):
    conn, rec = connect("ws://127.0.0.1:1/")
    conn.close(3000, "x")
    rec.pump(timeout=5)
    assert rec.kinds() == ["error", "close"]
    assert rec.events[1][1] == {"code": 3000, "reason": ""}


def test_messages_after_close_are_dropped(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    conn.send_text("a")
    conn.send_text("b")
    time.sleep(0.2)  # the echoes are queued for the VU, not dispatched yet
    conn.close()
    rec.pump()
    assert rec.kinds() == ["open", "close"]
    assert rec.metric("ws_msgs_received") == []


def test_cancel_dial(connect, silent_tcp):
    conn, rec = connect(f"ws://127.0.0.1:{silent_tcp}/")
    time.sleep(0.1)
    conn.cancel()
    rec.pump()
    assert rec.events[0][1]["error"] == f"dial tcp 127.0.0.1:{silent_tcp}: operation was canceled"


def test_cancel_open_closes_with_1000(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    conn.cancel()
    _, close = rec.pump()
    assert close["code"] == 1000


def test_abort_is_silent_and_sends_close(connect, plain_server):
    before = len(plain_server.closes)
    conn, rec = connect(plain_server.url("/echo"))
    rec.pump(is_kind("open"))
    conn.abort()
    conn.abort()  # idempotent
    assert conn.join(5)
    conn.close()  # no-op afterwards... (readyState stays as the VU saw it)
    time.sleep(0.2)
    assert rec.q.empty() or all(k in ("metric",) for k, _ in list(rec.q.queue))
    deadline = time.monotonic() + 5
    while len(plain_server.closes) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert plain_server.closes[-1][1] == 1000


def test_legacy_close_tears_down_at_once(connect, plain_server):
    conn, rec = connect(plain_server.url("/echo"), legacy=True)
    rec.pump(is_kind("open"))
    conn.ping()
    conn.close(None, validate=False)
    _, close = rec.pump()
    assert close == {"code": 1001, "reason": ""}
    assert rec.metric("ws_msgs_sent") == []  # k6/ws counts only send/sendBinary
    assert "name" not in rec.metric("ws_sessions")[0]["tags"]


# ---------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl not available")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    s = ServerThread(ssl=ctx, compression=None)
    s.cafile = str(d / "cert.pem")
    yield s
    s.stop()


def test_tls_unknown_authority(connect, tls_server):
    conn, rec = connect(f"wss://localhost:{tls_server.port}/echo")
    rec.pump()
    assert rec.events[0][1]["error"] == (
        "tls: failed to verify certificate: x509: certificate signed by unknown authority")


def test_tls_echo_without_verification(connect, tls_server):
    conn, rec = connect(f"wss://localhost:{tls_server.port}/echo", tls_verify=False)
    rec.pump(is_kind("open"))
    conn.send_text("secure")
    conn.send_binary(b"\x01" * 100_000)
    assert rec.pump(is_kind("message"))[1]["text"] == "secure"
    assert len(base64.b64decode(rec.pump(is_kind("message"))[1]["binary_b64"])) == 100_000
    conn.close()
    assert rec.pump()[1]["code"] == 1000


def test_tls_with_custom_context(connect, tls_server):
    ctx = ssl.create_default_context(cafile=tls_server.cafile)
    conn, rec = connect(f"wss://localhost:{tls_server.port}/echo", ssl_context=ctx)
    rec.pump(is_kind("open"))
    conn.close()
    rec.pump()


# ---------------------------------------------------------------- proxy
def test_http_connect_proxy_from_environment(connect, plain_server, monkeypatch):
    seen = []

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        r2, w2 = await asyncio.open_connection("127.0.0.1", plain_server.port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except Exception:
                pass
            finally:
                w.close()
        await asyncio.gather(pipe(reader, w2), pipe(r2, writer))

    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()

    async def stop():
        srv.close()
        tasks = [x for x in asyncio.all_tasks() if x is not asyncio.current_task()]
        for x in tasks:
            x.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # a non-loopback address: loopback is never proxied (Go's rule)
        conn, rec = connect(f"ws://192.0.2.1:{plain_server.port}/echo")
        rec.pump(is_kind("open"))
        assert seen == [f"CONNECT 192.0.2.1:{plain_server.port} HTTP/1.1"]
        conn.send_text("via proxy")
        assert rec.pump(is_kind("message"))[1]["text"] == "via proxy"
        conn.close()
        rec.pump()
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
        loop.close()


# ---------------------------------------------------------------- threads and storms
def test_shutdown_joins_all_threads(plain_server):
    hub = TransportHub(loops=2)
    recs = []
    for i in range(10):
        rec = Recorder()
        conn = WebSocketConnection(plain_server.url("/echo") if i % 2 else "ws://localhost:1/",
                                   on_event=rec.on_event, hub=hub)
        rec.conn = conn
        conn.start()
        recs.append(rec)
    for rec in recs[1::2]:
        rec.pump(is_kind("open"))
    names = {t.name for t in hub.threads()}
    assert names and all(t.is_alive() for t in hub.threads())
    hub.shutdown(5)
    hub.shutdown(5)  # idempotent
    alive = {t.name for t in threading.enumerate()}
    assert not names & alive
    assert all(r.conn.done for r in recs)
    with pytest.raises(RuntimeError):
        hub.loop()


def test_module_shutdown_and_restart(plain_server):
    from jsrunner.transport import hub as hubmod
    rec = Recorder()
    conn = WebSocketConnection(plain_server.url("/echo"), on_event=rec.on_event)
    rec.conn = conn
    conn.start()
    rec.pump(is_kind("open"))
    threads = hubmod.get_hub().threads()
    hubmod.shutdown()
    assert conn.join(0) and not any(t.is_alive() for t in threads)
    # a new run gets a fresh hub
    rec2 = Recorder()
    conn2 = WebSocketConnection(plain_server.url("/echo"), on_event=rec2.on_event)
    rec2.conn = conn2
    conn2.start()
    rec2.pump(is_kind("open"))
    conn2.close()
    rec2.pump()


def test_200_simultaneous_connections(plain_server):
    hub = TransportHub()
    n = 200
    recs = []
    before = threading.active_count()
    for i in range(n):
        rec = Recorder()
        conn = WebSocketConnection(plain_server.url("/echo"), on_event=rec.on_event, hub=hub)
        rec.conn = conn
        recs.append(rec)
    for rec in recs:
        rec.conn.start()
    for rec in recs:
        rec.pump(is_kind("open"), timeout=20)
    assert threading.active_count() - before <= 2
    for i, rec in enumerate(recs):
        rec.conn.send_text(f"m{i}")
    for i, rec in enumerate(recs):
        assert rec.pump(is_kind("message"), timeout=20)[1]["text"] == f"m{i}"
    for rec in recs:
        rec.conn.close()
    for rec in recs:
        assert rec.pump(timeout=20)[1]["code"] == 1000
    hub.shutdown(5)
