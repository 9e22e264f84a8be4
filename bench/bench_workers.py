"""Multi-process runs (``--workers``), jsrunner side by side with real k6 in the same run.

    /tmp/venv/bin/python bench/bench_workers.py [--runs 1] [--only trivial,chat,rss]
        [--workers 2] [--seconds 10] [--chat-seconds 20] [--rss-vus 1000]

1. ``trivial`` - iterations/s of an empty default function:
   ``k6 run --vus 2 -d 10s`` vs ``jsrunner run --workers 2 --vus 2 -d 10s`` (target ≥ 1.0x k6);
2. ``chat``    - 50 VUs x 4 sockets in crocochat rooms (one room per VU, named after
   ``exec.vu.idInTest`` since ``__VU`` is per worker process; a SAY every 200 ms
   per socket, broadcast to the room, LEAVE after 5 s, again until 20 s are over): CPU
   seconds per received message (target ≤ 1.0x k6) and the share of the server's messages
   that arrived (target ≥ 99.9 %);
3. ``rss``     - 1,000 VUs with one socket each for 10 s: peak RSS summed over every process
   of the tool (target ≤ 0.7x k6). Shown beside it, not instead of it: the peak of the summed
   PSS (proportional set size: a page shared by n processes counts 1/n in each, so the
   copy-on-write pages of forked workers are not counted once per process; for a single
   process such as k6, PSS ≈ RSS), and each process's own peak RSS/PSS (``--rss-vus 1``
   gives the per-process baseline: Python, imports, no VUs).

The test server (``jsrunner.testserver``) runs in a child process of its own; this script asks
it for its counters over a pipe. CPU seconds are the tool's rusage (the tool's workers are
its waited-for children, so they are included); RSS and PSS are sampled from /proc every 50 ms
over the tool's whole process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from _common import MANY, ROOT, k6_binary, run_tool

EMPTY = "export default function () {}\n"

CHAT = """
import { WebSocket } from 'k6/experimental/websockets';
import { setTimeout, setInterval, clearInterval } from 'k6/timers';
import exec from 'k6/execution';
export const options = {
  scenarios: { chat: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DURATION,
                       gracefulStop: '15s' } },
};
function user(i) {
  // idInTest, not __VU: __VU is per process (as in k6 with execution segments)
  const vu = exec.vu.idInTest;
  const ws = new WebSocket(`${__ENV.URL}/ws/crocochat/room-${vu}/`);
  let iv = null;
  ws.onopen = () => {
    ws.send(JSON.stringify({ event: 'SET_NAME', new_name: `u${vu}-${i}` }));
    iv = setInterval(() => ws.send(JSON.stringify({ event: 'SAY', message: 'hello there' })), 200);
    setTimeout(() => { clearInterval(iv); iv = null; ws.send(JSON.stringify({ event: 'LEAVE' })); }, 5000);
  };
  ws.onmessage = () => {};
  ws.onclose = () => { if (iv !== null) clearInterval(iv); };
  ws.onerror = (e) => console.error(e.error);
}
export default function () { for (let i = 0; i < 4; i++) user(i); }
"""


# the test server in a child process, answering "stats" / "reset" on stdin
SERVER = """
import json, sys
from jsrunner.testserver import ServerThread
srv = ServerThread()
srv.__enter__()
print(srv.url, flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "stats":
        out = {p: {"sent": s.messages_sent, "received": s.messages, "connections": s.connections}
               for p, s in srv.stats().items()}
        print(json.dumps(out), flush=True)
    elif cmd == "reset":
        srv.reset()
        print("{}", flush=True)
srv.__exit__(None, None, None)
"""


class Server:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def _ask(self, cmd: str) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def metrics(path: str) -> dict:
    try:
        with open(path) as fh:
            return json.load(fh)["metrics"]
    except (OSError, ValueError, KeyError):
        return {}


def count(m: dict, name: str) -> float:
    return float(m.get(name, {}).get("count", 0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="runs per tool and benchmark (median shown)")
    ap.add_argument("--only", default="trivial,chat,rss")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10, help="trivial: test duration")
    ap.add_argument("--chat-seconds", type=int, default=20)
    ap.add_argument("--chat-vus", type=int, default=50)
    ap.add_argument("--rss-vus", type=int, default=1000)
    args = ap.parse_args()
    only = set(args.only.split(","))
    tmp = tempfile.mkdtemp(prefix="bench-workers-")
    scripts = {}
    for name, src in (("trivial", EMPTY), ("chat", CHAT), ("rss", MANY)):
        path = os.path.join(tmp, f"{name}.js")
        with open(path, "w") as fh:
            fh.write(src)
        scripts[name] = path
    k6 = k6_binary()
    tools = {"jsrunner": [sys.executable, "-m", "jsrunner", "run", "-q", "--workers", str(args.workers)]}
    if k6:
        tools["k6"] = [k6, "run", "--address=", "-q"]
    srv = Server()
    env = dict(os.environ, K6_NO_USAGE_REPORT="true", URL=srv.url)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    print(f"server {srv.url}; tools: {', '.join(tools)}; jsrunner --workers {args.workers}; "
          f"{args.runs} run(s) each, median", flush=True)
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for bench in ("trivial", "chat", "rss"):
            if bench not in only:
                continue
            for _ in range(args.runs):
                for tool, cmd in tools.items():  # interleaved: both see the same machine load
                    export = os.path.join(tmp, f"{tool}-{bench}.json")
                    if os.path.exists(export):
                        os.unlink(export)
                    extra = [f"--summary-export={export}"]
                    benv = dict(env)
                    if bench == "trivial":
                        extra += ["--vus", "2", "-d", f"{args.seconds}s"]
                    elif bench == "chat":
                        benv.update(VUS=str(args.chat_vus), DURATION=f"{args.chat_seconds}s")
                    else:
                        benv.update(VUS=str(args.rss_vus))
                    srv.reset()
                    r = run_tool(cmd + extra + [scripts[bench]], benv)
                    m = metrics(export)
                    if r["rc"] != 0:
                        print(f"{tool} {bench} failed ({r['rc']}):\n{r['stderr'][-1500:]}", file=sys.stderr)
                    line = f"  {bench:7s} {tool:8s} wall={r['wall']:.2f}s cpu={r['cpu']:.2f}s rss={r['rss_mb']:.0f}MB"
                    if bench == "trivial":
                        r["value"] = count(m, "iterations") / args.seconds
                        line += f" iterations/s={r['value']:,.0f}"
                    elif bench == "chat":
                        stats = srv.stats()
                        sent = sum(v["sent"] for p, v in stats.items() if "crocochat" in p)
                        got = count(m, "ws_msgs_received")
                        r["value"] = r["cpu"] / got if got else None
                        r["share"] = got / sent if sent else 0.0
                        line += (f" received={got:,.0f} server_sent={sent:,} ({100 * r['share']:.2f}%)"
                                 f" cpu_us/msg={1e6 * r['value'] if r['value'] else 0:.1f}")
                    else:
                        r["value"] = r["rss_mb"]
                        r["echoes"] = count(m, "ws_msgs_received")
                        line += (f" pss={r['pss_mb']:.0f}MB echoes={r['echoes']:,.0f}/{10 * args.rss_vus:,}"
                                 f"\n          per process (peak RSS/PSS MB): "
                                 + ", ".join(f"{p['label']} {p['rss'] / 1024:.0f}/{p['pss'] / 1024:.0f}"
                                             for p in r["procs"]))
                    results.setdefault((bench, tool), []).append(r)
                    print(line, flush=True)
    finally:
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(bench: str, tool: str, key: str = "value") -> float | None:
        vals = [r[key] for r in results.get((bench, tool), []) if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    rows = []
    for bench, label, f, target in (
            ("trivial", f"iterations/s, empty function, 2 VUs, {args.seconds}s", ",.0f", ">= 1.0x"),
            ("chat", f"CPU us per received message ({args.chat_vus} VUs x 4 sockets)", ".1f", "<= 1.0x"),
            ("rss", f"peak RSS MB, all processes ({args.rss_vus} VUs x 1 socket)", ".0f", "<= 0.7x")):
        if bench not in only:
            continue
        j, k = med(bench, "jsrunner"), med(bench, "k6")
        scale = 1e6 if bench == "chat" else 1.0
        rows.append((label, "-" if j is None else format(j * scale, f), "-" if k is None else format(k * scale, f),
                     f"{j / k:.2f}x" if j is not None and k else "-", target))
        if bench == "rss":
            jp, kp = med(bench, "jsrunner", "pss_mb"), med(bench, "k6", "pss_mb")
            rows.append(("  peak PSS MB, all processes (shared pages split)", "-" if jp is None else f"{jp:.0f}",
                         "-" if kp is None else f"{kp:.0f}", f"{jp / kp:.2f}x" if jp is not None and kp else "-",
                         "(beside RSS)"))
        if bench == "chat":
            js, ks = med(bench, "jsrunner", "share"), med(bench, "k6", "share")
            rows.append(("  share of the server's messages received", "-" if js is None else f"{100 * js:.2f}%",
                         "-" if ks is None else f"{100 * ks:.2f}%", "", ">= 99.9%"))
    w = max(len(r[0]) for r in rows) if rows else 10
    print()
    print(f"{'':{w}s}  {'jsrunner':>10s}  {'k6':>10s}  {'ratio':>7s}  target")
    for label, a, b, c, t in rows:
        print(f"{label:{w}s}  {a:>10s}  {b:>10s}  {c:>7s}  {t}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
