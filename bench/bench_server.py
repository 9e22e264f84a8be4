"""Benchmark of jsrunner's local test server (plain script, prints figures).

    /tmp/venv/bin/python bench/bench_server.py [--seconds 5] [--subprocess]

Measures, against a ServerThread in this process (server CPU is the server thread's own
CPU clock, so the websocket-client side is not counted) or, with --subprocess, against
``python -m jsrunner.testserver`` in its own process (CPU of that process, no GIL
sharing with the client):
  1. echo round trips/s with one websocket-client connection (send, wait, repeat);
  2. server CPU seconds per 10,000 echoed messages in that loop;
  3. pipelined echo: one connection, a writer and a reader thread (server msgs/s, CPU);
  4. 1,000 concurrent connections: open all, one echo each, close all;
  5. /flood: 100,000 messages pushed to one client.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import websocket  # noqa: E402

from jsrunner.testserver import ServerThread  # noqa: E402


class External:
    """``python -m jsrunner.testserver`` in a child process (only ``url`` is needed)."""

    def __init__(self) -> None:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jsrunner.testserver", "--port", "0", "-q"],
            stdout=subprocess.PIPE, text=True, env=env,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def __enter__(self) -> "External":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def server_cpu(srv) -> float:
    """CPU seconds used so far by the server's event-loop thread (or process)."""
    if isinstance(srv, External):
        with open(f"/proc/{srv.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    thread = srv._thread
    assert thread is not None and thread.ident is not None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux fallback
        with open(f"/proc/self/task/{thread.native_id}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_rtt(srv: ServerThread, seconds: float) -> None:
    ws = websocket.create_connection(srv.url + "/echo/bench-rtt", timeout=10)
    msg = "x" * 32
    for _ in range(200):  # warm-up
        ws.send(msg)
        ws.recv()
    n = 0
    cpu0 = server_cpu(srv)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            ws.send(msg)
            ws.recv()
        n += 100
    elapsed = time.perf_counter() - t0
    cpu = server_cpu(srv) - cpu0
    ws.close()
    print(f"1. echo round trips (1 websocket-client conn, 32 B text): "
          f"{n / elapsed:,.0f}/s ({n:,} in {elapsed:.1f} s)")
    print(f"2. server CPU per 10,000 echoed msgs in that loop: {cpu / n * 10_000:.3f} s "
          f"(server thread busy {cpu / elapsed:.0%} of wall time)")


def bench_pipelined(srv: ServerThread, count: int = 100_000) -> None:
    ws = websocket.create_connection(srv.url + "/echo/bench-pipe", timeout=30)
    msg = "y" * 32
    window = threading.Semaphore(2000)  # keep at most 2,000 messages in flight

    def writer() -> None:
        for _ in range(count):
            window.acquire()
            ws.send(msg)

    cpu0 = server_cpu(srv)
    t0 = time.perf_counter()
    thread = threading.Thread(target=writer)
    thread.start()
    for _ in range(count):
        ws.recv()
        window.release()
    elapsed = time.perf_counter() - t0
    cpu = server_cpu(srv) - cpu0
    thread.join()
    ws.close()
    print(f"3. pipelined echo (1 conn, writer+reader threads): {count / elapsed:,.0f} msgs/s; "
          f"server CPU {cpu / count * 10_000:.3f} s per 10,000 "
          f"(= server capacity ~{count / cpu:,.0f} msgs/s)")


def bench_connections(srv: ServerThread, n: int = 1000) -> None:
    cpu0 = server_cpu(srv)
    t0 = time.perf_counter()
    conns = [websocket.create_connection(srv.url + "/echo/bench-conns", timeout=30)
             for _ in range(n)]
    t_open = time.perf_counter() - t0
    for i, ws in enumerate(conns):
        ws.send(str(i))
    ok = sum(ws.recv() == str(i) for i, ws in enumerate(conns))
    if isinstance(srv, ServerThread):
        assert srv.stats("/echo/bench-conns").open == n
    for ws in conns:
        ws.close()
    elapsed = time.perf_counter() - t0
    cpu = server_cpu(srv) - cpu0
    if isinstance(srv, ServerThread):
        srv.wait_stats("/echo/bench-conns", lambda s: s.open == 0, timeout=30)
    print(f"4. {n:,} concurrent connections: opened in {t_open:.2f} s "
          f"({n / t_open:,.0f} handshakes/s), {ok:,} echoes ok, all closed after "
          f"{elapsed:.2f} s; server CPU {cpu:.2f} s ({cpu / n * 1000:.2f} ms/connection)")


def bench_flood(srv: ServerThread, count: int = 100_000) -> None:
    ws = websocket.create_connection(
        srv.url + f"/flood?count={count}&size=32", timeout=30)
    cpu0 = server_cpu(srv)
    t0 = time.perf_counter()
    for _ in range(count):
        ws.recv()
    elapsed = time.perf_counter() - t0
    cpu = server_cpu(srv) - cpu0
    ws.close()
    print(f"5. /flood {count:,} x 32 B to one client: received at {count / elapsed:,.0f} "
          f"msgs/s; server CPU {cpu / count * 10_000:.3f} s per 10,000 sent")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--subprocess", action="store_true",
                        help="run the server in its own process")
    args = parser.parse_args()
    where = "own process" if args.subprocess else "in-process thread"
    print(f"python {sys.version.split()[0]}, websockets "
          f"{__import__('websockets').__version__}, websocket-client {websocket.__version__}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; server: {where}")
    with (External() if args.subprocess else ServerThread()) as srv:
        bench_rtt(srv, args.seconds)
        bench_pipelined(srv)
        bench_connections(srv)
        bench_flood(srv)


if __name__ == "__main__":
    main()
