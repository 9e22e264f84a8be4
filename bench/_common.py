"""Helpers shared by the benchmarks that run jsrunner and k6 as child processes.

Imported as ``from _common import ...`` by scripts run as ``python bench/<name>.py`` (their
folder is then first on ``sys.path``); not a public module.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def k6_binary() -> str | None:
    if os.path.exists("/tmp/k6venv/bin/k6"):
        return "/tmp/k6venv/bin/k6"
    return shutil.which("k6")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    """RSS summed over ``pid`` and all its descendants (from /proc), in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss_kb(p)
        todo.extend(_children(p))
    return total


def run_tool(cmd: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run ``cmd`` to the end: return code, wall seconds, CPU seconds (children's rusage, so
    its waited-for workers count), peak RSS MB of its process tree (sampled every 50 ms),
    stdout and stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        done.set()
        th.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": proc.returncode, "wall": wall, "cpu": cpu, "rss_mb": peak[0] / 1024, "stderr": err,
            "stdout": out}
