"""Drive every endpoint of jsrunner.testserver with websocket-client (jsrunner's client)."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websocket

from jsrunner.testserver import ServerThread
from jsrunner.testserver.fixtures import fresh_ws_server, ws_server  # noqa: F401

OP_TEXT = websocket.ABNF.OPCODE_TEXT
OP_BINARY = websocket.ABNF.OPCODE_BINARY
OP_CLOSE = websocket.ABNF.OPCODE_CLOSE
OP_PING = websocket.ABNF.OPCODE_PING


_OPEN_CLIENTS: list = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().shutdown()  # closes the socket, no-op if already closed


def connect(srv, path, **kw):
    kw.setdefault("timeout", 5)
    ws = websocket.create_connection(srv.url + path, **kw)
    _OPEN_CLIENTS.append(ws)
    return ws


def close_frame(ws):
    """Read frames until the server's Close frame; return (code, reason)."""
    while True:
        op, frame = ws.recv_data_frame(control_frame=True)
        if op == OP_CLOSE:
            data = frame.data
            if len(data) < 2:
                return None, ""
            return struct.unpack("!H", data[:2])[0], data[2:].decode()


def room() -> str:
    return "room-" + uuid.uuid4().hex[:8]


def uniq(path: str) -> str:
    """``/echo`` → ``/echo/t-<hex>``: same endpoint, counters of its own.

    The session server is shared, and a connection of an earlier test may still be
    closing; a private path keeps its close code out of this test's statistics.
    """
    return f"{path}/t-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------ echo / lifecycle


@pytest.mark.parametrize("path", ["/echo", "/ws/echo"])
def test_echo_text_and_binary(ws_server, path):
    srv = ws_server
    path = uniq(path)
    ws = connect(srv, path)
    ws.send("hello é")
    assert ws.recv() == "hello é"
    ws.send_binary(b"\x00\x01\xff")
    op, data = ws.recv_data()
    assert (op, data) == (OP_BINARY, b"\x00\x01\xff")
    ws.send("")
    assert ws.recv() == ""
    ws.close()
    s = srv.wait_stats(path, lambda s: s.close_codes)
    assert (s.connections, s.text_messages, s.binary_messages) == (1, 2, 1)
    assert s.messages == 3 and s.messages_sent == 3 and s.open == 0
    assert s.close_codes == (1000,)
    assert srv.received(path) == ["hello é", b"\x00\x01\xff", ""]


def test_big_client_message_echoed(ws_server):
    ws = connect(ws_server, "/echo")
    payload = os.urandom(3 * 1024 * 1024)
    ws.send_binary(payload)
    assert ws.recv_data()[1] == payload
    ws.close()


def test_echo_fragmented_message(ws_server):
    path = uniq("/echo")
    ws = connect(ws_server, path)
    ws.send_frame(websocket.ABNF.create_frame("hel", OP_TEXT, fin=0))
    ws.send_frame(websocket.ABNF.create_frame("lo é".encode(), websocket.ABNF.OPCODE_CONT, fin=1))
    assert ws.recv() == "hello é"
    ws.close()
    assert ws_server.received(path) == ["hello é"]


def test_echo_invalid_utf8_from_client_closes_1007(ws_server):
    ws = connect(ws_server, uniq("/echo"))
    ws.send_frame(websocket.ABNF.create_frame(b"\xff\xfe", OP_TEXT))
    assert close_frame(ws) == (1007, "invalid UTF-8")


def test_echo_backpressure_large_volume(ws_server):
    ws = connect(ws_server, uniq("/echo"), timeout=20)
    chunk = os.urandom(100_000)
    n = 200  # 20 MB: far more than the socket buffers, so the server must pause reading

    def writer():
        for _ in range(n):
            ws.send_binary(chunk)

    t = threading.Thread(target=writer)
    t.start()
    for _ in range(n):
        assert ws.recv_data()[1] == chunk
    t.join()
    ws.close()


def test_many_concurrent_connections(ws_server):
    path = "/echo/many"  # own path: counters not shared with other tests
    conns = [connect(ws_server, path) for _ in range(300)]
    for i, ws in enumerate(conns):
        ws.send(f"m{i}")
    assert [ws.recv() for ws in conns] == [f"m{i}" for i in range(300)]
    assert ws_server.stats(path).open == 300
    for ws in conns:
        ws.close()
    s = ws_server.wait_stats(path, lambda s: len(s.close_codes) == 300)
    assert s.connections == 300 and s.open == 0 and set(s.close_codes) == {1000}


@pytest.mark.parametrize("path", ["/echo/x", "/ws/echo/y", "/close/z?code=4001"])
def test_suffixed_paths_are_the_same_endpoints(ws_server, path):
    ws = connect(ws_server, path)
    if "close" in path:
        assert close_frame(ws) == (4001, "")
    else:
        ws.send("tagged")
        assert ws.recv() == "tagged"
        ws.close()
    s = ws_server.wait_stats(path, lambda s: s.close_codes)
    assert s.path == path.partition("?")[0] and s.connections == 1


def test_server_thread_stop_closes_everything():
    srv = ServerThread()
    with srv:
        ws = connect(srv, "/echo")
        url = srv.url
        assert url.startswith("ws://127.0.0.1:") and srv.http_url == "http" + url[2:]
        # a handshake stuck in /slow must not delay the shutdown
        slow = socket.create_connection((srv.host, srv.port))
        slow.sendall(
            b"GET /slow?delay=60000 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        time.sleep(0.05)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 3.5
    assert not srv._thread.is_alive()
    assert close_frame(ws)[0] == 1001  # going away
    slow.close()
    ws.shutdown()
    with pytest.raises(OSError):
        websocket.create_connection(url + "/echo", timeout=1)


def test_port_in_use_raises():
    with ServerThread() as srv:
        with pytest.raises(OSError):
            ServerThread(port=srv.port).start()


# ------------------------------------------------------------------ crocochat


def recv_json(ws):
    return json.loads(ws.recv())


@pytest.mark.parametrize("prefix", ["/ws/crocochat/{}/", "/chat/{}"])
def test_chat_broadcast_join_say_leave(fresh_ws_server, prefix):
    srv = fresh_ws_server
    name = room()
    path = prefix.format(name)
    a, b = connect(srv, path), connect(srv, path)
    a.send(json.dumps({"event": "SET_NAME", "new_name": "Croc 1:0"}))
    for ws in (a, b):
        msg = recv_json(ws)
        assert msg["event"] == "USER_JOINED" and msg["user"] == "Croc 1:0"
    b.send(json.dumps({"event": "SET_NAME", "new_name": "Croc 2:0"}))
    assert recv_json(a)["user"] == recv_json(b)["user"] == "Croc 2:0"

    a.send(json.dumps({"event": "SAY", "message": "I'm saying hello"}))
    expected = {"event": "CHAT_MSG", "user": "Croc 1:0", "message": "I'm saying hello"}
    assert recv_json(a) == expected  # the sender gets its own message too
    assert recv_json(b) == expected

    # errors go to the sender only
    b.send("{not json")
    err = recv_json(b)
    assert err["event"] == "ERROR" and "invalid JSON" in err["message"]
    b.send(json.dumps({"event": "DANCE"}))
    err = recv_json(b)
    assert err == {"event": "ERROR", "message": "unknown event: 'DANCE'"}
    b.send(json.dumps({"event": "SAY"}))
    assert recv_json(b)["event"] == "ERROR"
    b.send_binary(b"\x01")
    assert recv_json(b)["event"] == "ERROR"

    a.send(json.dumps({"event": "LEAVE"}))
    left = recv_json(a)
    assert left["event"] == "USER_LEFT" and left["user"] == "Croc 1:0"
    assert close_frame(a) == (1000, "")
    left = recv_json(b)  # first thing b sees after its own errors: a left
    assert left["event"] == "USER_LEFT" and left["user"] == "Croc 1:0"
    b.close()
    s = srv.wait_stats(path, lambda s: len(s.close_codes) == 2)
    assert s.connections == 2 and s.text_messages == 7 and s.binary_messages == 1


def test_chat_rooms_are_independent_and_aliases_share(ws_server):
    r1, r2 = room(), room()
    a = connect(ws_server, f"/ws/crocochat/{r1}/")
    b = connect(ws_server, f"/chat/{r1}")  # same room via the short path
    c = connect(ws_server, f"/ws/crocochat/{r2}/")
    a.send(json.dumps({"event": "SET_NAME", "new_name": "a"}))
    assert recv_json(a)["event"] == recv_json(b)["event"] == "USER_JOINED"
    c.settimeout(0.2)
    with pytest.raises(websocket.WebSocketTimeoutException):
        c.recv()
    # a disconnects without LEAVE: the others are told
    a.close()
    assert recv_json(b) == {"event": "USER_LEFT", "user": "a", "message": "a left the room"}
    b.close()
    c.close()


def test_chat_seed_flow_four_sockets(ws_server):
    """The seed's VU: 4 sockets, SET_NAME, SAY, LEAVE; everyone sees everything."""
    path = f"/ws/crocochat/{room()}/"
    socks = [connect(ws_server, path) for _ in range(4)]
    for i, ws in enumerate(socks):
        ws.send(json.dumps({"event": "SET_NAME", "new_name": f"Croc 1:{i}"}))
    for ws in socks:
        ws.send(json.dumps({"event": "SAY", "message": "I'm saying abcde"}))
    for i, ws in enumerate(socks):
        events = []
        while len([e for e in events if e["event"] == "CHAT_MSG"]) < 4:
            events.append(recv_json(ws))
        assert {e["user"] for e in events if e["event"] == "USER_JOINED"} >= {f"Croc 1:{i}"}
    for ws in socks:
        ws.send(json.dumps({"event": "LEAVE"}))
        while recv_json(ws) != {"event": "USER_LEFT", "user": ws_user(socks, ws),
                                "message": f"{ws_user(socks, ws)} left the room"}:
            pass
        assert close_frame(ws)[0] == 1000


def ws_user(socks, ws):
    return f"Croc 1:{socks.index(ws)}"


# ------------------------------------------------------------------ handshake-related


def test_headers_and_cookies(ws_server):
    ws = connect(
        ws_server, "/headers?x=1",
        header={"X-Foo": "bar", "User-Agent": "jsrunner/test"},
        cookie="session=abc123; theme=\"dark\"",
    )
    info = json.loads(ws.recv())
    assert info["headers"]["x-foo"] == "bar"
    assert info["headers"]["user-agent"] == "jsrunner/test"
    assert info["headers"]["upgrade"].lower() == "websocket"
    assert info["cookies"] == {"session": "abc123", "theme": "dark"}
    assert info["path"] == "/headers" and info["query"] == {"x": "1"}
    ws.send("then echo")
    assert ws.recv() == "then echo"
    ws.close()


def test_subprotocol_first_offered(ws_server):
    ws = connect(ws_server, "/subprotocol", subprotocols=["chat", "x"])
    assert ws.getsubprotocol() == "chat"
    assert ws.recv() == "chat"
    ws.close()
    ws = connect(ws_server, "/subprotocol")
    assert ws.getsubprotocol() is None and ws.recv() == ""
    ws.close()


def test_slow_handshake(ws_server):
    t0 = time.monotonic()
    ws = connect(ws_server, "/slow?delay=300")
    elapsed = time.monotonic() - t0
    assert 0.29 <= elapsed < 2
    ws.send("x")
    assert ws.recv() == "x"
    ws.close()


@pytest.mark.parametrize("code", [403, 500, 401])
def test_status_refuses_upgrade(ws_server, code):
    path = uniq("/status")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(ws_server, f"{path}?code={code}")
    assert info.value.status_code == code
    s = ws_server.stats(path)
    assert s.requests == 1 and s.connections == 0


def test_unknown_path_and_bad_query(ws_server):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(ws_server, "/nope")
    assert info.value.status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        connect(ws_server, "/close?code=abc")
    assert info.value.status_code == 400


def test_http_index_page(ws_server):
    with urllib.request.urlopen(ws_server.http_url + "/", timeout=5) as resp:
        body = resp.read().decode()
    assert resp.status == 200 and "/ws/crocochat/<room>/" in body and "/flood" in body
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(ws_server.http_url + "/echo", timeout=5)
    info.value.close()
    assert info.value.code == 426


# ------------------------------------------------------------------ server actions


def test_server_pings_arrive(ws_server):
    path = uniq("/ping")
    ws = connect(ws_server, path + "?interval=20&count=3")
    pings = []
    while len(pings) < 3:
        op, frame = ws.recv_data_frame(control_frame=True)
        if op == OP_PING:
            pings.append(frame.data)  # websocket-client answers with a Pong itself
    assert pings == [b"srv-0", b"srv-1", b"srv-2"]
    ws.send("still echoing")
    assert ws.recv() == "still echoing"
    ws.close()
    s = ws_server.wait_stats(path, lambda s: s.close_codes)
    assert s.pongs == 3


@pytest.mark.parametrize(
    "query,expected",
    [
        ("code=4000&reason=custom", (4000, "custom")),
        ("code=1000", (1000, "")),
        ("code=1001&reason=bye", (1001, "bye")),
        ("code=1011&reason=oops", (1011, "oops")),
        ("code=3000", (3000, "")),
        ("code=4999&reason=max", (4999, "max")),
        ("code=none", (None, "")),
    ],
)
def test_close_codes(ws_server, query, expected):
    ws = connect(ws_server, f"/close?{query}")
    assert close_frame(ws) == expected


@pytest.mark.parametrize("code", [1006, 1005, 2000, 999, 5000])
def test_close_codes_forbidden_on_the_wire_are_sent_raw(ws_server, code):
    ws = connect(ws_server, f"/close?code={code}&reason=raw")
    with pytest.raises(websocket.WebSocketProtocolException, match=f"close opcode {code}"):
        close_frame(ws)  # websocket-client rejects them, as a client should


def test_close_after_delay_echoes_meanwhile(ws_server):
    srv = ws_server
    path = uniq("/close")
    t0 = time.monotonic()
    ws = connect(srv, path + "?code=4000&reason=custom&after=200")
    ws.send("before")
    assert ws.recv() == "before"
    assert close_frame(ws) == (4000, "custom")
    assert 0.19 <= time.monotonic() - t0 < 2
    # the client echoed the close code (websocket-client replies with 1000)
    assert srv.wait_stats(path, lambda s: s.close_codes).close_codes == (1000,)


def test_abort_drops_without_close_frame(ws_server):
    ws = connect(ws_server, "/abort?after=100")
    ws.send("x")
    assert ws.recv() == "x"
    t0 = time.monotonic()
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:  # no Close frame ever arrives: the TCP connection just ends
            op, _ = ws.recv_data_frame(control_frame=True)
            assert op != OP_CLOSE
    assert time.monotonic() - t0 < 2
    s = ws_server.wait_stats("/abort", lambda s: s.close_codes)
    assert 1006 in s.close_codes  # shared path: other tests may add more


def test_abort_during_handshake(ws_server):
    with pytest.raises((websocket.WebSocketException, ConnectionError)):
        connect(ws_server, "/abort?when=handshake")


def test_flood_count(ws_server):
    n = 5000
    path = uniq("/flood")
    ws = connect(ws_server, f"{path}?count={n}&size=32")
    got = [ws.recv() for _ in range(n)]
    assert len(got) == n and all(m == "x" * 32 for m in got)
    ws.send("end")
    assert ws.recv() == "end"
    ws.close()
    ws = connect(ws_server, f"{path}?count=10&size=4&type=binary")
    assert [ws.recv_data() for _ in range(10)] == [(OP_BINARY, b"xxxx")] * 10
    ws.close()
    s = ws_server.wait_stats(path, lambda s: len(s.close_codes) == 2)
    assert s.messages_sent == n + 1 + 10


def test_bad_utf8(ws_server):
    ws = connect(ws_server, "/badutf8", skip_utf8_validation=True)
    op, data = ws.recv_data()
    assert op == OP_TEXT
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    ws.close()
    ws = connect(ws_server, "/badutf8")
    with pytest.raises(websocket.WebSocketPayloadException):
        ws.recv()
    ws.shutdown()


@pytest.mark.parametrize("kind,op,fill", [("binary", OP_BINARY, b"\x00"), ("text", OP_TEXT, b"a")])
def test_big_frame(ws_server, kind, op, fill):
    size = 2 * 1024 * 1024 + 3
    ws = connect(ws_server, f"/big?size={size}&type={kind}")
    got_op, data = ws.recv_data()
    assert got_op == op and len(data) == size and data == fill * size
    ws.close()


# ------------------------------------------------------------------ statistics


def test_stats_counters_and_reset(fresh_ws_server):
    srv = fresh_ws_server
    path = uniq("/echo")
    ws = connect(srv, path)
    ws.ping("p1")
    ws.ping("p2")
    ws.send("t")
    assert ws.recv() == "t"
    ws.close(status=3001, reason=b"bye")
    ws2 = connect(srv, path)
    ws2.send_binary(b"b")
    assert ws2.recv_data()[1] == b"b"
    ws2.shutdown()  # no Close frame: recorded as 1006
    s = srv.wait_stats(path, lambda s: len(s.close_codes) == 2)
    assert s.pings == 2 and s.text_messages == 1 and s.binary_messages == 1
    assert sorted(s.close_codes) == [1006, 3001] and "bye" in s.close_reasons
    assert s.connections == 2 and s.requests == 2 and s.open == 0
    assert srv.received(path) == ["t", b"b"]
    assert path in srv.stats()
    srv.reset()
    s = srv.stats(path)
    assert (s.connections, s.messages, s.pings, s.close_codes) == (0, 0, 0, ())
    assert srv.received(path) == [] and srv.stats("/never").connections == 0
    assert srv.stats(path + "?x=1").path == path


def test_stats_readable_from_many_threads(ws_server):
    srv = ws_server
    path = uniq("/echo")
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                srv.stats()
                srv.received(path)
            except Exception as exc:  # pragma: no cover
                errors.append(exc)
            time.sleep(0.0005)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    ws = connect(srv, path)
    for i in range(1000):
        ws.send(str(i))
        ws.recv()
    ws.close()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert srv.stats(path).text_messages == 1000


# ------------------------------------------------------------------ CLI entry point


def test_python_m_testserver_prints_url_and_stops_on_sigterm():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    with subprocess.Popen(
        [sys.executable, "-m", "jsrunner.testserver", "--port", "0", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("ws://127.0.0.1:")
            ws = websocket.create_connection(url + "/echo", timeout=5)
            _OPEN_CLIENTS.append(ws)
            ws.send("cli")
            assert ws.recv() == "cli"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert close_frame(ws)[0] == 1001
        finally:
            if proc.poll() is None:
                proc.kill()
