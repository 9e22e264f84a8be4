"""Helpers shared by the benchmarks that run jsrunner and k6 as child processes.

Imported as ``from _common import ...`` by scripts run as ``python bench/<name>.py`` (their
folder is then first on ``sys.path``); not a public module.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _precompile() -> None:
    """Write jsrunner's bytecode once, as a regular ``pip install`` does.

    From an editable install in an environment with ``PYTHONDONTWRITEBYTECODE=1`` (this
    workplace sets it) every jsrunner process compiled every module again at start-up:
    ~0.1 s of CPU a run that a user's installation does not pay, charged to jsrunner in
    every CPU-per-work ratio.
    """
    import compileall
    compileall.compile_dir(os.path.join(ROOT, "jsrunner"), quiet=1)


_precompile()


#: 1,000-VU shape of bench_websockets (vus) and bench_workers (rss): every VU keeps one socket
#: open, sending one message a second for 10 s
MANY = """
import { WebSocket } from 'k6/experimental/websockets';
import { setInterval, clearInterval } from 'k6/timers';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS),
                                           iterations: 1, maxDuration: '120s' } } };
export default function () {
  const ws = new WebSocket(__ENV.URL + '/echo');
  let sent = 0, got = 0, id;
  ws.onopen = () => { id = setInterval(() => { if (sent < 10) { ws.send('ping ' + sent); sent++; } }, 1000); };
  ws.onmessage = () => { if (++got === 10) { clearInterval(id); ws.close(); } };
  ws.onerror = (e) => console.error(e.error);
}
"""


class Server:
    """The bundled test server (``python -m jsrunner.testserver``) in a child process, so
    that it is never part of what a benchmark measures."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "jsrunner.testserver", "--port", "0", "-q"],
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def k6_binary() -> str | None:
    if os.path.exists("/tmp/k6venv/bin/k6"):
        return "/tmp/k6venv/bin/k6"
    return shutil.which("k6")


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB, from /proc/<pid>/smaps_rollup ((0, 0) if it is gone)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _label(pid: int, root: int) -> str:
    """What a process of the tool is: coordinator (the tool's own process when it has
    children), or the worker kind (forked workers name themselves jsr-<kind> in comm)."""
    if pid == root:
        return "main"
    try:
        with open(f"/proc/{pid}/comm") as fh:
            comm = fh.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return "?"
    if comm.startswith("jsr-"):
        return comm[4:]
    if b"jsrunner.worker" in argv:
        i = argv.index(b"jsrunner.worker")
        return argv[i + 1].decode() if i + 1 < len(argv) else "worker"
    return comm


def run_tool(cmd: list[str], env: dict[str, str], timeout: float = 600) -> dict:
    """Run ``cmd`` to the end: return code, wall and CPU seconds (children's rusage, so its
    waited-for workers count), the peaks of the RSS and of the PSS summed over its process
    tree, and each process's peak RSS/PSS (all sampled every 50 ms), stdout, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = {"rss": 0, "pss": 0}
    per: dict[int, dict] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            rss = pss = 0
            todo = [proc.pid]
            while todo:
                pid = todo.pop()
                r, p = mem_kb(pid)
                rss, pss = rss + r, pss + p
                row = per.get(pid)
                if row is None and r:
                    row = per[pid] = {"label": _label(pid, proc.pid), "rss": 0, "pss": 0}
                if row is not None:
                    row["rss"], row["pss"] = max(row["rss"], r), max(row["pss"], p)
                todo.extend(child_pids(pid))
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)

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
    if len(per) > 1 and proc.pid in per:
        per[proc.pid]["label"] = "coordinator"
    procs = sorted(per.values(), key=lambda r: (r["label"] != "coordinator", r["label"]))
    return {"rc": proc.returncode, "wall": wall, "cpu": cpu, "rss_mb": peak["rss"] / 1024,
            "pss_mb": peak["pss"] / 1024, "procs": procs, "stderr": err, "stdout": out}
