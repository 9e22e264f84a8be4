"""Soak test: the chat workload for minutes, watching jsrunner's memory, threads and fds.

    /tmp/venv/bin/python bench/soak.py [--minutes 10] [--vus 20] [--say-ms 300]
        [--session-s 5] [--rooms 5] [--every 10] [--warmup 60] [--workers 1]

Not part of the test suite. The bundled test server runs in a child process of its own;
jsrunner runs ``constant-vus`` for ``--minutes``: every VU opens 4 sockets to a crocochat
room (``/chat/room-<n>``), each says ``SAY`` every ``--say-ms`` and ``LEAVE``\\ s after
about ``--session-s`` (the server then closes it), and the iteration starts over, so
sockets, timers and iterations churn all the time. Every ``--every`` seconds the RSS,
thread count and open file descriptors of the jsrunner process (its whole process tree
with ``--workers`` > 1) and the server's RSS are sampled; at the end the series is printed
with the least-squares slope of each after ``--warmup`` seconds, and the message counts
of both sides are compared. A leak shows as a slope that does not flatten with longer runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from _common import child_pids

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';
const sent = new Counter('chat_sent');
const received = new Counter('chat_received');
const clean = new Counter('chat_clean_closes');
const SAY_MS = Number(__ENV.SAY_MS), SESSION_MS = Number(__ENV.SESSION_S) * 1000;
export const options = {
  scenarios: { chat: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DURATION,
                       gracefulStop: '30s' } },
  thresholds: { chat_clean_closes: ['count>0'] },
};
function user(room, i) {
  const ws = new WebSocket(`${__ENV.URL}/chat/${room}`);
  let iv = null, n = 0;
  ws.onopen = () => {
    ws.send(JSON.stringify({ event: 'SET_NAME', new_name: `u${exec.vu.idInTest}-${i}` })); n++;
    iv = setInterval(() => { ws.send(JSON.stringify({ event: 'SAY', message: 'hello ' + n })); n++; },
                     SAY_MS * (0.8 + 0.4 * Math.random()));
    setTimeout(() => {
      clearInterval(iv); iv = null;
      ws.send(JSON.stringify({ event: 'LEAVE' })); n++;
    }, SESSION_MS * (0.8 + 0.4 * Math.random()));
  };
  ws.onmessage = () => { received.add(1); };
  ws.onclose = (e) => {
    if (iv !== null) clearInterval(iv);
    sent.add(n);
    if (e.code === 1000) clean.add(1);
  };
  ws.onerror = (e) => console.error('socket error: ' + e.error);
}
export default function () {
  const room = 'room-' + (exec.vu.idInTest % Number(__ENV.ROOMS));
  for (let i = 0; i < 4; i++) user(room, i);
}
"""

# the test server in a child process, answering "stats" on stdin
SERVER = """
import json, sys
from jsrunner.testserver import ServerThread
srv = ServerThread()
srv.__enter__()
print(srv.url, flush=True)
for line in sys.stdin:
    if line.strip() == "stats":
        out = {p: {"sent": s.messages_sent, "received": s.messages, "connections": s.connections,
                   "open": s.open} for p, s in srv.stats().items()}
        print(json.dumps(out), flush=True)
srv.__exit__(None, None, None)
"""


def _proc_sample(pid: int) -> tuple[float, int, int]:
    """(RSS MB, threads, open fds) of one process."""
    rss = 0.0
    threads = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0.0, 0, 0
    return rss, threads, fds


def tree_sample(pid: int) -> tuple[float, int, int]:
    """Summed over ``pid`` and its descendants (worker processes)."""
    total = [0.0, 0, 0]
    todo = [pid]
    while todo:
        p = todo.pop()
        for i, v in enumerate(_proc_sample(p)):
            total[i] += v
        todo.extend(child_pids(p))
    return total[0], int(total[1]), int(total[2])


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in points) / den


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--vus", type=int, default=20)
    ap.add_argument("--say-ms", type=int, default=300)
    ap.add_argument("--session-s", type=float, default=5.0)
    ap.add_argument("--rooms", type=int, default=5)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds left out of the slopes")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               K6_NO_USAGE_REPORT="true")
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    assert server.stdout is not None and server.stdin is not None
    url = server.stdout.readline().strip()
    tmp = tempfile.mkdtemp(prefix="jsrunner-soak-")
    script = os.path.join(tmp, "soak.js")
    with open(script, "w") as fh:
        fh.write(SCRIPT)
    export = os.path.join(tmp, "export.json")
    duration = f"{int(args.minutes * 60)}s"
    cmd = [sys.executable, "-m", "jsrunner", "run", "-q", "--workers", str(args.workers),
           "--summary-export", export, "-e", f"URL={url}", "-e", f"VUS={args.vus}", "-e", f"DURATION={duration}",
           "-e", f"SAY_MS={args.say_ms}", "-e", f"SESSION_S={args.session_s}", "-e", f"ROOMS={args.rooms}",
           script]
    print(f"soak: {args.vus} VUs x 4 sockets, SAY every {args.say_ms} ms, sessions ~{args.session_s} s, "
          f"{args.rooms} rooms, {duration}, --workers {args.workers}; server {url}", flush=True)
    err_path = os.path.join(tmp, "stderr.txt")
    with open(err_path, "w") as err_fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_fh, env=env, cwd=tmp)
        t0 = time.monotonic()
        series: list[tuple[float, float, int, int, float]] = []
        print(f"{'t (s)':>7} {'RSS MB':>8} {'threads':>8} {'fds':>6} {'server MB':>10}", flush=True)
        next_at = t0 + args.every
        while proc.poll() is None:
            time.sleep(max(0.0, min(1.0, next_at - time.monotonic())))
            if time.monotonic() < next_at or proc.poll() is not None:
                continue
            next_at += args.every
            t = time.monotonic() - t0
            rss, threads, fds = tree_sample(proc.pid)
            srv_rss = _proc_sample(server.pid)[0]
            series.append((t, rss, threads, fds, srv_rss))
            print(f"{t:7.0f} {rss:8.1f} {threads:8d} {fds:6d} {srv_rss:10.1f}", flush=True)
        rc = proc.wait()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = cpu.ru_utime + cpu.ru_stime  # jsrunner (and its workers); the server is still running
    server.stdin.write("stats\n")
    server.stdin.flush()
    stats = json.loads(server.stdout.readline())
    server.stdin.close()
    server.wait(10)

    after = [p for p in series if p[0] >= args.warmup]
    if len(after) < 2:
        after = series[len(series) // 2:]
    print(f"\nslopes after {after[0][0] if after else 0:.0f} s ({len(after)} samples):")
    for i, (name, unit) in enumerate([("RSS", "MB"), ("threads", ""), ("fds", ""), ("server RSS", "MB")], start=1):
        s = slope([(p[0], p[i]) for p in after]) * 60
        print(f"  {name:<11} {s:+8.3f} {unit}/min")
    print(f"\njsrunner exit code {rc}, CPU {cpu_s:.1f} s ({100 * cpu_s / max(1e-9, time.monotonic() - t0):.0f} % of one core)")
    with open(err_path) as fh:
        errors = [ln for ln in fh if "level=error" in ln]
    print(f"error lines: {len(errors)}" + (f" (first: {errors[0].strip()[:200]})" if errors else ""))
    try:
        with open(export) as fh:
            metrics = json.load(fh)["metrics"]
    except (OSError, ValueError):
        metrics = {}

    def count(name: str) -> float:
        return metrics.get(name, {}).get("count", 0)

    chat = {p: s for p, s in stats.items() if p.startswith("/chat/")}
    srv_received = sum(s["received"] for s in chat.values())
    srv_sent = sum(s["sent"] for s in chat.values())
    print(f"iterations {count('iterations'):.0f}, sockets {count('ws_sessions'):.0f} "
          f"(server: {sum(s['connections'] for s in chat.values())}, clean closes {count('chat_clean_closes'):.0f})")
    print(f"messages sent by the scripts {count('chat_sent'):.0f}, received by the server {srv_received} "
          f"({'equal' if count('chat_sent') == srv_received else 'DIFFERENT'})")
    print(f"messages sent by the server {srv_sent}, received by the scripts {count('chat_received'):.0f} "
          f"({100.0 * count('chat_received') / max(1, srv_sent):.3f} %)")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
