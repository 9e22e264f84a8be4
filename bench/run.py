"""Benchmarks side by side with real k6 (when `k6` is on PATH): run `python bench/run.py`.

Each figure is measured for jsrunner and k6 in the same run, so ratios are meaningful on a
noisy 2-core machine; absolute numbers are not.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"
ENV = dict(os.environ, K6_NO_USAGE_REPORT="true")


def tools() -> dict[str, list[str]]:
    found = {"jsrunner": [sys.executable, "-m", "jsrunner", "run", "--workers", "1"],
             "jsrunner-default": [sys.executable, "-m", "jsrunner", "run"]}
    k6 = shutil.which("k6") or (os.path.exists("/tmp/k6venv/bin/k6") and "/tmp/k6venv/bin/k6")
    if k6:
        found["k6"] = [k6, "run", "--address="]
    return found


def run(cmd: list[str], *args: str, env: dict[str, str] | None = None) -> tuple[float, str, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env or ENV, timeout=600)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout, proc.stderr


def startup(cmd: list[str], repeat: int) -> float:
    times = [run(cmd, "-q", "--no-summary", str(SCRIPTS / "empty.js"))[0] for _ in range(repeat)]
    return statistics.median(times)


def iterations_per_s(cmd: list[str], seconds: int) -> float:
    _, out, _ = run(cmd, "-q", "--summary-export=/tmp/_bench_iter.json", "-e", f"DURATION={seconds}s",
                    str(SCRIPTS / "trivial_loop.js"))
    import json
    data = json.load(open("/tmp/_bench_iter.json"))
    return data["metrics"]["iterations"]["count"] / seconds


def timer_hop_us(cmd: list[str], hops: int) -> float:
    _, _, err = run(cmd, "-q", "--no-summary", "-e", f"HOPS={hops}", str(SCRIPTS / "timer_hops.js"))
    m = re.search(r"HOPS (\d+) ms (\d+)", err)
    assert m, err
    return int(m.group(2)) * 1000 / int(m.group(1))


def interval_drift(cmd: list[str]) -> tuple[int, int]:
    _, _, err = run(cmd, "-q", "--no-summary", str(SCRIPTS / "interval_drift.js"))
    m = re.search(r"DRIFT (-?\d+) MAXLATE (-?\d+)", err)
    assert m, err
    return int(m.group(1)), int(m.group(2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--hops", type=int, default=10000)
    args = ap.parse_args()
    found = tools()
    rows: dict[str, dict[str, object]] = {}
    for name, cmd in found.items():
        rows[name] = {
            "startup_s": round(startup(cmd, args.repeat), 3),
            "iterations_per_s": round(iterations_per_s(cmd, args.seconds)),
            "timer_hop_us": round(timer_hop_us(cmd, args.hops), 2),
            "interval_drift_ms_at_5s": interval_drift(cmd)[0],
        }
    keys = list(next(iter(rows.values())).keys())
    names = list(rows)
    mine = [n for n in names if n != "k6"]
    header = f"{'metric':26}" + "".join(f"{n:>18}" for n in names)
    if "k6" in rows:
        header += "".join(f"{n + '/k6':>22}" for n in mine)
    print(header)
    for key in keys:
        line = f"{key:26}" + "".join(f"{rows[n][key]!s:>18}" for n in names)
        if "k6" in rows and rows["k6"][key]:
            line += "".join(f"{float(rows[n][key]) / float(rows['k6'][key]):>21.2f}x" for n in mine)
        print(line)
    print("(jsrunner = in-process, --workers 1; jsrunner-default = the CLI default, one worker process per core "
          "up to the test's max VUs, with a coordinator and a lifecycle child)")


if __name__ == "__main__":
    main()
