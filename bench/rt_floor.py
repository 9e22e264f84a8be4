"""The floor of bench_websockets' round-trip figure: what the bundled server allows a client.

    python bench/rt_floor.py [N]

A raw Python client — one blocking socket, a fixed pre-masked one-byte text frame, no frame
parsing, no JS — does N sequential echo round trips against ``python -m jsrunner.testserver``
(the server bench_websockets.py uses). Compare its round trips/s with k6's and jsrunner's in
``bench_websockets.py --only rt``: what k6 and jsrunner add over this floor is their client.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import time
from urllib.parse import urlparse

from bench_websockets import Server


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    srv = Server()
    try:
        url = urlparse(srv.url)
        sock = socket.create_connection((url.hostname, url.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /echo HTTP/1.1\r\nHost: {url.hostname}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                     .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        mask = b"\x01\x02\x03\x04"
        frame = bytes([0x81, 0x81]) + mask + bytes([ord("x") ^ mask[0]])
        in_send = 0.0
        t0 = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            sock.send(frame)
            in_send += time.perf_counter() - t
            sock.recv(64)  # the 3-byte echo frame
        wall = time.perf_counter() - t0
        sock.close()
        print(f"raw client: {n / wall:,.0f} round trips/s ({wall / n * 1e6:.1f} µs each, "
              f"send syscall {in_send / n * 1e6:.1f} µs)")
    finally:
        srv.close()


if __name__ == "__main__":
    main()
