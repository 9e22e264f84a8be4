"""Benchmarks side by side with real k6 (when `k6` is on PATH): run `python bench/run.py`.

Each figure is measured for jsrunner and k6 in the same run, so ratios are meaningful on a
noisy 2-core machine; absolute numbers are not.

    python bench/run.py [--only startup,iterations,timer,drift] [--repeat 5] [--spawn]

``--only startup`` measures start-up alone (an empty 1-VU script, ``-q --no-summary``; the
median of ``--repeat`` runs, the tools interleaved). ``--spawn`` adds the CLI default with
``JSRUNNER_WORKER_START=spawn`` (workers as new Python processes instead of forks of the
coordinator). Start-up depends on whether jsrunner's bytecode is cached: with
``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__`` every process compiles jsrunner from
source (an installed package has its bytecode); the first line of the output says which.
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


SPAWN_ENV = dict(ENV, JSRUNNER_WORKER_START="spawn")
METRICS = ("startup", "iterations", "timer", "drift")


def tools(spawn: bool = False) -> dict[str, list[str]]:
    found = {"jsrunner": [sys.executable, "-m", "jsrunner", "run", "--workers", "1"],
             "jsrunner-default": [sys.executable, "-m", "jsrunner", "run"]}
    if spawn:
        found["jsrunner-spawn"] = [sys.executable, "-m", "jsrunner", "run"]
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


def env_for(name: str) -> dict[str, str]:
    return SPAWN_ENV if name == "jsrunner-spawn" else ENV


def startup_all(found: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median start-up of every tool, the tools interleaved (same machine load for all)."""
    times: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(repeat):
        for name, cmd in found.items():
            times[name].append(run(cmd, "-q", "--no-summary", str(SCRIPTS / "empty.js"), env=env_for(name))[0])
    return {name: statistics.median(t) for name, t in times.items()}


def bytecode_note() -> str:
    pkg = HERE.parent / "jsrunner"
    cached = (pkg / "__pycache__").is_dir()
    if cached:
        return "jsrunner bytecode: cached (__pycache__ present)"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("jsrunner bytecode: NOT cached (PYTHONDONTWRITEBYTECODE set, no __pycache__): every "
                "process compiles jsrunner from source; `python -m compileall -q jsrunner` caches it")
    return "jsrunner bytecode: written on first import"


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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="start-up runs per tool (median)")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--hops", type=int, default=10000)
    ap.add_argument("--only", default=",".join(METRICS), help=f"comma-separated subset of {', '.join(METRICS)}")
    ap.add_argument("--spawn", action="store_true", help="add the CLI default with spawned (not forked) workers")
    args = ap.parse_args()
    only = set(args.only.split(","))
    found = tools(args.spawn)
    print(bytecode_note())
    rows: dict[str, dict[str, object]] = {name: {} for name in found}
    if "startup" in only:
        for name, value in startup_all(found, args.repeat).items():
            rows[name]["startup_s"] = round(value, 3)
    for name, cmd in found.items():
        if name == "jsrunner-spawn":
            continue  # start-up only
        if "iterations" in only:
            rows[name]["iterations_per_s"] = round(iterations_per_s(cmd, args.seconds))
        if "timer" in only:
            rows[name]["timer_hop_us"] = round(timer_hop_us(cmd, args.hops), 2)
        if "drift" in only:
            rows[name]["interval_drift_ms_at_5s"] = interval_drift(cmd)[0]
    keys = list(next(iter(rows.values())).keys())
    for row in rows.values():
        for key in keys:
            row.setdefault(key, "-")
    names = list(rows)
    mine = [n for n in names if n != "k6"]
    header = f"{'metric':26}" + "".join(f"{n:>18}" for n in names)
    if "k6" in rows:
        header += "".join(f"{n + '/k6':>22}" for n in mine)
    print(header)
    for key in keys:
        line = f"{key:26}" + "".join(f"{rows[n][key]!s:>18}" for n in names)
        if "k6" in rows and rows["k6"][key] not in (0, "-"):
            line += "".join(f"{float(rows[n][key]) / float(rows['k6'][key]):>21.2f}x" if rows[n][key] != "-"
                            else f"{'-':>22}" for n in mine)
        print(line)
    print("(jsrunner = in-process, --workers 1; jsrunner-default = the CLI default: a coordinator and one worker "
          "process per core, at most the test's max VUs, forked from the coordinator on Linux; the first worker "
          "also runs setup/teardown/handleSummary; jsrunner-spawn = the default with JSRUNNER_WORKER_START=spawn)")


if __name__ == "__main__":
    main()
