"""k6/websockets benchmark, jsrunner side by side with real k6 (plain script, prints a table).

    /tmp/venv/bin/python bench/bench_websockets.py [--runs 3] [--vus 1000] [--only rt,flood,vus]

The bundled test server (``python -m jsrunner.testserver``) runs in its own process, so it
is never part of what is measured. Each tool runs as a child process; CPU seconds are the
child's (and its workers') rusage, RSS the peak of the *sum* over the child's process tree
(sampled from /proc every 50 ms, so multi-process runs are not under-reported).

1. ``rt``    — 1 VU, 1 socket, 20,000 sequential echo round trips (round trips/s);
2. ``flood`` — 1 VU sends 50,000 messages back to back and counts the echoes (echoes/s);
3. ``vus``   — N VUs (default 1,000) each keep a socket open 10 s sending one message a
   second: do all echoes arrive, peak RSS, CPU seconds;
4. ``base``  — the same N VUs with the same 10 one-second timer ticks but no socket: the cost
   of the VU runtime itself, for context (what ``vus`` adds on top is the WebSocket part).

k6 is /tmp/k6venv/bin/k6 or ``k6`` on PATH; without it only jsrunner's column is shown.
Targets (ratios to k6 in the same run): rt ≥ 1.0×, echoes/s ≥ 1.0×, RSS ≤ 0.7×, CPU ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile

from _common import MANY, ROOT, Server, k6_binary, run_tool as _run_tool

RT = """
import { WebSocket } from 'k6/experimental/websockets';
export const options = { iterations: 1, vus: 1 };
export default function () {
  const N = 20000; let n = 0; let t0;
  const ws = new WebSocket(__ENV.URL + '/echo');
  ws.onopen = () => { t0 = Date.now(); ws.send('x'); };
  ws.onmessage = () => {
    if (++n === N) { console.log('RESULT ' + (N / ((Date.now() - t0) / 1000))); ws.close(); }
    else ws.send('x');
  };
}
"""

FLOOD = """
import { WebSocket } from 'k6/experimental/websockets';
export const options = { iterations: 1, vus: 1 };
export default function () {
  const N = 50000; let n = 0; let t0;
  const ws = new WebSocket(__ENV.URL + '/echo');
  ws.onopen = () => { t0 = Date.now(); for (let i = 0; i < N; i++) ws.send('hello'); };
  ws.onmessage = () => {
    if (++n === N) { console.log('RESULT ' + (N / ((Date.now() - t0) / 1000))); ws.close(); }
  };
}
"""


# the same 1000-VU shape without any socket: what the VU runtime itself costs (context)
BASE = """
import { setInterval, clearInterval } from 'k6/timers';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS),
                                           iterations: 1, maxDuration: '90s' } } };
export default function () {
  let n = 0;
  const id = setInterval(() => { if (++n === 10) clearInterval(id); }, 1000);
}
"""




def run_tool(cmd: list[str], env: dict[str, str], timeout: float = 300) -> dict:
    r = _run_tool(cmd, env, timeout)
    m = re.search(r"RESULT ([0-9.]+)", r["stderr"] + r["stdout"])
    r["result"] = float(m.group(1)) if m else None
    return r


def tools() -> dict[str, list[str]]:
    found = {"jsrunner": [sys.executable, "-m", "jsrunner", "run", "-q"]}
    k6 = k6_binary()
    if k6:
        found["k6"] = [k6, "run", "--address=", "-q"]
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and scenario (median shown)")
    ap.add_argument("--vus", type=int, default=1000)
    ap.add_argument("--only", default="rt,flood,vus,base")
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to jsrunner")
    args = ap.parse_args()
    only = set(args.only.split(","))
    tmp = tempfile.mkdtemp(prefix="bench-ws-")
    scripts = {}
    for name, src in (("rt", RT), ("flood", FLOOD), ("vus", MANY), ("base", BASE)):
        path = os.path.join(tmp, f"{name}.js")
        with open(path, "w") as fh:
            fh.write(src)
        scripts[name] = path
    srv = Server()
    env = dict(os.environ, K6_NO_USAGE_REPORT="true", URL=srv.url, VUS=str(args.vus))
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    rows: list[tuple[str, str, str, str]] = []
    found = tools()
    if args.workers is not None:
        found["jsrunner"] = found["jsrunner"] + [f"--workers={args.workers}"]
    print(f"server {srv.url}; tools: {', '.join(found)}; {args.runs} run(s) each, median", flush=True)
    try:
        results: dict[tuple[str, str], list[dict]] = {}
        for scen in ("rt", "flood", "vus", "base"):
            if scen not in only:
                continue
            for _ in range(args.runs):
                for tool, cmd in found.items():  # interleaved: both see the same machine load
                    extra = []
                    if scen == "vus":
                        extra = [f"--summary-export={os.path.join(tmp, f'{tool}-vus.json')}"]
                    r = run_tool(cmd + extra + [scripts[scen]], env)
                    if r["rc"] != 0:
                        print(f"{tool} {scen} failed ({r['rc']}):\n{r['stderr'][-1500:]}", file=sys.stderr)
                    if scen == "vus":
                        try:
                            with open(os.path.join(tmp, f"{tool}-vus.json")) as fh:
                                m = json.load(fh)["metrics"]
                            r["echoes"] = int(m.get("ws_msgs_received", {}).get("count", 0))
                        except (OSError, ValueError):
                            r["echoes"] = 0
                    results.setdefault((scen, tool), []).append(r)
                    print(f"  {scen:5s} {tool:8s} result={r['result']} wall={r['wall']:.2f}s "
                          f"cpu={r['cpu']:.2f}s rss={r['rss_mb']:.0f}MB"
                          + (f" echoes={r['echoes']}" if scen == "vus" else ""), flush=True)

        def med(scen: str, tool: str, key: str) -> float | None:
            vals = [r[key] for r in results.get((scen, tool), []) if r.get(key) is not None]
            return statistics.median(vals) if vals else None

        def ratio(a: float | None, b: float | None) -> str:
            return f"{a / b:.2f}x" if a is not None and b else "-"

        def fmt(v: float | None, f: str) -> str:
            return "-" if v is None else format(v, f)

        for scen, key, label, f in (("rt", "result", "round trips/s (1 VU, 20k sequential)", ",.0f"),
                                    ("flood", "result", "echoes/s (1 VU, 50k back to back)", ",.0f"),
                                    ("vus", "rss_mb", f"peak RSS MB ({args.vus} VUs x 1 socket, 10 s)", ".0f"),
                                    ("vus", "cpu", f"CPU s ({args.vus} VUs x 1 socket, 10 s)", ".2f"),
                                    ("base", "rss_mb", f"  context: peak RSS MB, same {args.vus} VUs, no socket", ".0f"),
                                    ("base", "cpu", f"  context: CPU s, same {args.vus} VUs, no socket", ".2f")):
            if scen not in only:
                continue
            j, k = med(scen, "jsrunner", key), med(scen, "k6", key)
            rows.append((label, fmt(j, f), fmt(k, f), ratio(j, k)))
        if "vus" in only:
            exp = args.vus * 10
            j = [r["echoes"] for r in results.get(("vus", "jsrunner"), [])]
            k = [r["echoes"] for r in results.get(("vus", "k6"), [])]
            rows.append((f"all {exp} echoes arrived", str(all(e == exp for e in j)) if j else "-",
                         str(all(e == exp for e in k)) if k else "-", ""))
    finally:
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)
    w = max(len(r[0]) for r in rows) if rows else 10
    print()
    print(f"{'':{w}s}  {'jsrunner':>10s}  {'k6':>10s}  {'ratio':>7s}")
    for label, a, b, c in rows:
        print(f"{label:{w}s}  {a:>10s}  {b:>10s}  {c:>7s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
