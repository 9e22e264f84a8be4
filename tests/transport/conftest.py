"""Real local WebSocket servers (the ``websockets`` library) for the transport tests."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import time
from http import HTTPStatus

import pytest
from websockets.asyncio.server import serve

from jsrunner.transport import hub as hubmod
from jsrunner.transport.client import WebSocketConnection


class ServerThread:
    """An asyncio ``websockets`` server in a background thread.

    Paths: ``/echo`` echoes; ``/close/<code>[/<reason>]`` closes after open; ``/abort`` drops
    TCP; ``/ping`` sends a Ping then echoes; ``/headers`` sends the request headers as JSON;
    ``/forbidden`` answers 403 with a body; ``/silent`` never answers frames;
    ``/send-then-close`` sends two messages then closes 1000.
    """

    def __init__(self, **serve_kw) -> None:
        self.serve_kw = serve_kw
        self.requests: dict[str, list] = {}
        self.closes: list[tuple] = []
        self.pings_answered = threading.Event()
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.loop.run_forever()

    async def _start(self) -> None:
        self.server = await serve(self._handler, "127.0.0.1", 0, ping_interval=None,
                                  process_request=self._process_request, backlog=2048,
                                  **self.serve_kw)
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()

    def url(self, path: str = "/echo") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def _process_request(self, connection, request):
        self.requests.setdefault(request.path.split("?")[0], []).append(list(request.headers.raw_items()))
        if request.path == "/forbidden":
            return connection.respond(HTTPStatus.FORBIDDEN, "go away\n")
        return None

    async def _handler(self, ws) -> None:
        path = ws.request.path.split("?")[0]
        try:
            if path.startswith("/close/"):
                parts = path.split("/")
                reason = parts[3] if len(parts) > 3 else ""
                await ws.close(int(parts[2]), reason)
            elif path == "/abort":
                ws.transport.abort()
            elif path == "/ping":
                waiter = await ws.ping(b"srv")
                await waiter
                self.pings_answered.set()
                async for msg in ws:
                    await ws.send(msg)
            elif path == "/headers":
                await ws.send(json.dumps(list(ws.request.headers.raw_items())))
                async for _ in ws:
                    pass
            elif path == "/send-then-close":
                await ws.send("one")
                await ws.send(b"two")
                await ws.close(1000, "bye")
            elif path == "/silent":
                await asyncio.sleep(3600)
            else:
                async for msg in ws:
                    if msg == "close-me":
                        await ws.close(4000, "custom")
                        break
                    await ws.send(msg)
        except Exception:
            pass
        finally:
            self.closes.append((path, ws.close_code, ws.close_reason))

    def stop(self) -> None:
        async def _stop():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="session")
def server():
    s = ServerThread()  # websockets' default: permessage-deflate enabled
    yield s
    s.stop()


@pytest.fixture(scope="session")
def plain_server():
    def pick(connection, offered):  # first offered one we know, none otherwise
        return next((p for p in offered if p in ("chat", "superchat")), None)
    s = ServerThread(compression=None, select_subprotocol=pick)
    yield s
    s.stop()


@pytest.fixture
def silent_tcp():
    """Accepts TCP connections but never answers the HTTP upgrade."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    conns = []
    stop = threading.Event()

    def run():
        ls.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = ls.accept()
                conns.append(c)
            except OSError:
                pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield ls.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    ls.close()


class Recorder:
    """Plays the VU: queues events, then dispatches them through ``conn.accept``."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()
        self.samples: list[dict] = []
        self.events: list[tuple[str, dict, int]] = []  # (kind, payload, readyState at dispatch)
        self.logs: list[dict] = []
        self.conn: WebSocketConnection | None = None

    def on_event(self, kind, payload):
        self.q.put((kind, payload))

    def on_sample(self, sample):
        self.samples.append(sample)

    def pump(self, until=None, timeout=5.0, on_dispatch=None):
        """Dispatch events until ``until(kind, payload)`` is true (or a close event)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event; got {self.events}")
            try:
                kind, payload = self.q.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "metric":
                self.samples.append(payload)
                continue
            if kind == "log":
                self.logs.append(payload)
                continue
            if not self.conn.accept(kind, payload):
                continue
            self.events.append((kind, payload, self.conn.ready_state))
            if on_dispatch:
                on_dispatch(kind, payload)
            if (until and until(kind, payload)) or (until is None and kind == "close"):
                return kind, payload

    def kinds(self):
        return [e[0] for e in self.events]

    def metric(self, name):
        return [s for s in self.samples if s["name"] == name]


@pytest.fixture
def connect():
    made = []

    def _connect(url, **kw):
        rec = Recorder()
        kw.setdefault("on_sample", rec.on_sample)
        conn = WebSocketConnection(url, on_event=rec.on_event, **kw)
        rec.conn = conn
        made.append(conn)
        conn.start()
        return conn, rec
    yield _connect
    for c in made:
        c.abort()
    for c in made:
        assert c.join(5)


@pytest.fixture(scope="session", autouse=True)
def _shutdown_hub():
    yield
    hubmod.shutdown()
