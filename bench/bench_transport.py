"""WebSocket transport benchmark (plain script): ``python bench/bench_transport.py [N]``.

1. N (default 1,000) sockets connecting at once to a local ``websockets`` echo server that
   runs in its own process: wall time until all are open, CPU seconds of this process,
   threads alive, RSS — for jsrunner's shared selector hub and, for comparison, for
   websocket-client's default model (``WebSocketApp.run_forever``, one thread per socket).
2. 20,000 sequential echo round trips on one socket (round trips/s): hub with direct
   writes from the sending thread, hub with every write handed to the loop thread, and a
   blocking websocket-client socket.

Every scenario runs in a fresh child process so CPU/RSS figures do not mix.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SERVER = r"""
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    try:
        async for m in ws:
            await ws.send(m)
    except Exception:
        pass
async def main():
    async with serve(echo, "127.0.0.1", 0, backlog=4096, ping_interval=None,
                     compression=None, max_queue=None) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def storm_hub(url: str, n: int) -> dict:
    from jsrunner.transport import TransportHub, WebSocketConnection
    hub = TransportHub()
    q: queue.SimpleQueue = queue.SimpleQueue()
    conns = []
    for i in range(n):
        c = WebSocketConnection(url, on_event=lambda k, p, i=i: q.put((i, k, p)),
                                on_sample=lambda s: None, hub=hub)
        conns.append(c)
    rss0, c0, t0 = rss_mb(), cpu(), time.perf_counter()
    for c in conns:
        c.start()
    opened = failed = 0
    while opened + failed < n:
        i, k, p = q.get()
        if conns[i].accept(k, p):
            if k == "open":
                opened += 1
            elif k == "error":
                failed += 1
    wall, used = time.perf_counter() - t0, cpu() - c0
    threads, rss = threading.active_count(), rss_mb()
    for c in conns:
        if c.ready_state == 1:
            c.close()
    closed = 0
    while closed < n:
        i, k, p = q.get()
        if conns[i].accept(k, p) and k == "close":
            closed += 1
    hub.shutdown()
    return {"model": "jsrunner hub (1 I/O thread)", "opened": opened, "failed": failed,
            "wall_s": round(wall, 3), "cpu_s": round(used, 3), "threads": threads,
            "rss_mb": round(rss, 1), "rss_delta_mb": round(rss - rss0, 1)}


def storm_wsclient(url: str, n: int) -> dict:
    import websocket
    opened = threading.Semaphore(0)
    apps = [websocket.WebSocketApp(url, on_open=lambda ws: opened.release(),
                                   on_error=lambda ws, e: opened.release()) for _ in range(n)]
    threads = [threading.Thread(target=a.run_forever, daemon=True) for a in apps]
    rss0, c0, t0 = rss_mb(), cpu(), time.perf_counter()
    for t in threads:
        t.start()
    for _ in range(n):
        opened.acquire()
    wall, used = time.perf_counter() - t0, cpu() - c0
    n_threads, rss = threading.active_count(), rss_mb()
    ok = sum(1 for a in apps if a.sock and a.sock.connected)
    for a in apps:
        a.close()
    for t in threads:
        t.join(10)
    return {"model": "websocket-client run_forever (thread per socket)", "opened": ok,
            "failed": n - ok, "wall_s": round(wall, 3), "cpu_s": round(used, 3),
            "threads": n_threads, "rss_mb": round(rss, 1), "rss_delta_mb": round(rss - rss0, 1)}


def echo_hub(url: str, n: int, direct: bool) -> dict:
    from jsrunner.transport import TransportHub, WebSocketConnection, client
    client.DIRECT_WRITE = direct
    hub = TransportHub()
    q: queue.SimpleQueue = queue.SimpleQueue()
    c = WebSocketConnection(url, on_event=lambda k, p: q.put((k, p)), on_sample=lambda s: None,
                            hub=hub)
    c.start()
    while True:
        k, p = q.get()
        if c.accept(k, p) and k == "open":
            break
    c0, t0 = cpu(), time.perf_counter()
    for i in range(n):
        c.send_text("ping %d" % i)
        while True:
            k, p = q.get()
            if c.accept(k, p) and k == "message":
                break
    wall, used = time.perf_counter() - t0, cpu() - c0
    c.close()
    hub.shutdown()
    return {"model": f"jsrunner hub, {'direct writes' if direct else 'writes via loop thread'}",
            "round_trips": n, "per_s": round(n / wall), "cpu_s": round(used, 2)}


def echo_wsclient(url: str, n: int) -> dict:
    import websocket
    ws = websocket.create_connection(url)
    c0, t0 = cpu(), time.perf_counter()
    for i in range(n):
        ws.send("ping %d" % i)
        ws.recv()
    wall, used = time.perf_counter() - t0, cpu() - c0
    ws.close()
    return {"model": "websocket-client blocking send/recv", "round_trips": n,
            "per_s": round(n / wall), "cpu_s": round(used, 2)}


def inproc_server() -> str:
    """The same echo server, in a thread of this process (competes for the GIL)."""
    import asyncio
    ready: queue.SimpleQueue = queue.SimpleQueue()
    ns: dict = {}
    exec(SERVER.replace("asyncio.run(main())", "").replace("print(s.sockets[0].getsockname()[1], flush=True)",
                                                           "ready.put(s.sockets[0].getsockname()[1])"), ns)
    ns["ready"] = ready
    threading.Thread(target=lambda: asyncio.run(ns["main"]()), daemon=True).start()
    return f"ws://127.0.0.1:{ready.get()}/"


def child(kind: str, url: str, n: int) -> None:
    if url == "inproc":
        url = inproc_server()
    fn = {"storm_hub": lambda: storm_hub(url, n), "storm_wsclient": lambda: storm_wsclient(url, n),
          "echo_direct": lambda: echo_hub(url, n, True), "echo_loop": lambda: echo_hub(url, n, False),
          "echo_wsclient": lambda: echo_wsclient(url, n)}[kind]
    print(json.dumps(fn()), flush=True)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n + 100), hard))
    srv = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"ws://127.0.0.1:{srv.stdout.readline().strip()}/"
        print(f"== {n} sockets connecting at once (server in its own process) ==")
        for kind in ("storm_hub", "storm_wsclient"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, url, str(n)],
                                 capture_output=True, text=True, timeout=300)
            print(out.stdout.strip() or out.stderr[-2000:])
        print(f"== {n} sockets connecting at once, server in the same process (GIL shared) ==")
        for kind in ("storm_hub", "storm_wsclient"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, "inproc", str(n)],
                                 capture_output=True, text=True, timeout=300)
            print(out.stdout.strip() or out.stderr[-2000:])
        print("== 20,000 sequential echo round trips on one socket ==")
        for kind in ("echo_direct", "echo_loop", "echo_wsclient"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, url, "20000"],
                                 capture_output=True, text=True, timeout=300)
            print(out.stdout.strip() or out.stderr[-2000:])
    finally:
        srv.terminate()
        srv.wait(10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
