"""What an event costs when it wakes a sleeping VU: 1 VU against many, jsrunner beside k6.

    PATH=/tmp/k6venv/bin:$PATH python bench/bench_wakes.py [--runs 3] [--vus 1,50] [--total 10000]

Each VU opens one socket to the bundled echo server and sends a message every ``--interval``
ms (setInterval) until its share of ``--total`` messages was sent, then closes when the last echo is back: every
message wakes the VU twice (its timer, its echo) and nothing else happens. The same total work
is run with 1 VU and with many VUs. Reported per message: CPU µs (the tool's rusage minus a
run of the same script that sends nothing — start-up, connects and shutdown) and context
switches (voluntary + involuntary, from rusage).

Why: the chat and 1,000-VU targets of issues 3 and 7 are dominated by wake-ups, not by
per-message work. One VU per OS thread pays one thread wake-up (a futex or poll return: ~15 µs
of CPU for a bare C ``poll`` on this VM, see ``--floor``) per event, however many VUs are
active; k6 runs its VUs as goroutines on a few OS threads, so one wake-up serves the events of
many VUs when they are busy.
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import statistics
import sys
import tempfile

from _common import ROOT, Server, k6_binary
from _common import run_tool as _run_tool

WAKE = """
import { WebSocket } from 'k6/experimental/websockets';
import { setInterval, clearInterval } from 'k6/timers';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS),
                                           iterations: 1, maxDuration: '300s' } } };
export default function () {
  const total = Number(__ENV.MESSAGES), every = Number(__ENV.INTERVAL);
  const ws = new WebSocket(__ENV.URL + '/echo');
  let sent = 0, got = 0;
  ws.onopen = () => {
    if (total === 0) { ws.close(); return; }
    const id = setInterval(() => { ws.send('hello there'); if (++sent >= total) clearInterval(id); }, every);
  };
  ws.onmessage = () => { if (++got >= total) ws.close(); };
  ws.onerror = (e) => console.error(e.error);
}
"""




def run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(CPU seconds, context switches) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = _run_tool(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r["rc"] != 0:
        raise SystemExit(f"{cmd[0]} failed ({r['rc']}): {r['stderr'][-2000:]}")
    switches = (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw)
    return r["cpu"], switches


def floor(n: int = 5000) -> float:
    """CPU µs of one 1-ms ``poll`` wake-up of this (Python) thread: the per-wake floor."""
    p = select.poll()
    a = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(n):
        p.poll(1)
    b = resource.getrusage(resource.RUSAGE_SELF)
    return ((b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vus", default="1,50", help="VU counts to compare (same total messages)")
    ap.add_argument("--total", type=int, default=10_000, help="messages in all, split over the VUs")
    ap.add_argument("--interval", type=int, default=10, help="ms between one VU's sends (many VUs)")
    ap.add_argument("--interval-one", type=int, default=1, help="the same with 1 VU")
    ap.add_argument("--workers", type=int, default=1, help="jsrunner --workers")
    args = ap.parse_args()
    script = os.path.join(tempfile.mkdtemp(prefix="bench-wakes-"), "wake.js")
    with open(script, "w") as fh:
        fh.write(WAKE)
    tools = {"jsrunner": [sys.executable, "-m", "jsrunner", "run", "-q", f"--workers={args.workers}"]}
    k6 = k6_binary()
    if k6:
        tools["k6"] = [k6, "run", "--address=", "-q"]
    srv = Server()
    print(f"server {srv.url}; per-wake floor of this VM (Python poll 1 ms): {floor():.1f} µs CPU", flush=True)
    rows = []
    try:
        for vus in [int(v) for v in args.vus.split(",")]:
            per_vu = max(1, args.total // vus)
            # 1 VU sends faster so that both shapes take seconds, not minutes (the cadence
            # differs, the number of wake-ups per message does not)
            interval = args.interval_one if vus == 1 else args.interval
            base_env = dict(os.environ, K6_NO_USAGE_REPORT="true", URL=srv.url, VUS=str(vus),
                            INTERVAL=str(interval))
            base_env["PYTHONPATH"] = ROOT + os.pathsep + base_env.get("PYTHONPATH", "")
            got: dict[str, list[tuple[float, float]]] = {t: [] for t in tools}
            for _ in range(args.runs):
                for tool, cmd in tools.items():  # interleaved: both see the same machine load
                    cmd = cmd + [script]
                    cpu0, sw0 = run(cmd, dict(base_env, MESSAGES="0"))
                    cpu, sw = run(cmd, dict(base_env, MESSAGES=str(per_vu)))
                    n = per_vu * vus
                    got[tool].append(((cpu - cpu0) / n * 1e6, (sw - sw0) / n))
            for tool, vals in got.items():
                us = statistics.median(v[0] for v in vals)
                cs = statistics.median(v[1] for v in vals)
                rows.append((vus, tool, us, cs))
                print(f"  {vus:4d} VU(s) x {per_vu} msgs every {interval} ms  {tool:9s} "
                      f"{us:7.1f} µs CPU/msg  {cs:5.2f} switches/msg", flush=True)
    finally:
        srv.close()
    print()
    print(f"{'VUs':>5} {'tool':10} {'CPU µs/msg':>11} {'switches/msg':>13} {'vs k6':>7}")
    k6_of = {vus: us for vus, tool, us, _ in rows if tool == "k6"}
    for vus, tool, us, cs in rows:
        ratio = f"{us / k6_of[vus]:.2f}x" if tool != "k6" and k6_of.get(vus) else ""
        print(f"{vus:5d} {tool:10} {us:11.1f} {cs:13.2f} {ratio:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
