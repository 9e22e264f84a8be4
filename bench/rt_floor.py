"""The floor of bench_websockets' round-trip figure: what the bundled server allows a client.

    python bench/rt_floor.py [N]

A raw Python client — one socket, a fixed pre-masked one-byte text frame, no frame parsing,
no JS — does N sequential echo round trips against ``python -m jsrunner.testserver`` (the
server bench_websockets.py uses), twice each way, interleaved:

* ``block``: waits for each echo in a blocking ``recv`` (the thread sleeps);
* ``poll``: polls with ``recv(MSG_DONTWAIT)`` until the echo is there (the thread never sleeps).

Compare with k6's and jsrunner's figures in ``bench_websockets.py --only rt``: what they add
over this floor is their client. The gap between the two modes is the cost of a thread
wake-up on this machine (why jsrunner's scheduler polls briefly before it sleeps:
``jsrunner/spinwait.py``).
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import time
from urllib.parse import urlparse

from bench_websockets import Server


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /echo HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                 .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    return sock


def _round_trips(sock: socket.socket, n: int, poll: bool) -> tuple[float, float]:
    """Wall and CPU seconds for ``n`` sequential round trips."""
    mask = b"\x01\x02\x03\x04"
    frame = bytes([0x81, 0x81]) + mask + bytes([ord("x") ^ mask[0]])
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        sock.send(frame)
        if not poll:
            sock.recv(64)  # the 3-byte echo frame
            continue
        while True:
            try:
                sock.recv(64, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                pass
    return time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    srv = Server()
    try:
        url = urlparse(srv.url)
        assert url.hostname is not None and url.port is not None
        for mode in ("block", "poll", "block", "poll"):
            sock = _connect(url.hostname, url.port)
            wall, cpu = _round_trips(sock, n, mode == "poll")
            sock.close()
            print(f"raw client, {mode:5}: {n / wall:,.0f} round trips/s ({wall / n * 1e6:.1f} µs each, "
                  f"client CPU {cpu / n * 1e6:.1f} µs each)")
    finally:
        srv.close()


if __name__ == "__main__":
    main()
