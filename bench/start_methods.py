"""How a worker process can start: spawn vs fork vs forkserver (Linux).

    python bench/start_methods.py [--children 4]

For each method, the time from asking for a child to the child having jsrunner's worker
imports (``jsrunner.worker`` and the k6 module bindings) loaded, and the child's RSS and PSS
(proportional set size: pages shared copy-on-write with the parent count 1/n). ``fork``
children are copies of a parent that imported everything once (its one import is not in the
figure: the coordinator pays it anyway, since it imports the runner); ``forkserver`` needs a
server process (plus multiprocessing's resource tracker) that also stays resident.

Whether jsrunner's bytecode is cached matters to spawn (it imports everything again, and
with ``PYTHONDONTWRITEBYTECODE`` and no ``__pycache__`` compiles it from source).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

from _common import mem_kb


def mem_mb(pid: int) -> tuple[float, float]:
    rss, pss = mem_kb(pid)
    return rss / 1024, pss / 1024


def _child(conn) -> None:  # type: ignore[no-untyped-def]
    import jsrunner.bindings  # noqa: F401 - no-ops where inherited
    import jsrunner.worker
    jsrunner.worker.preload()
    conn.send(time.perf_counter())
    conn.recv()


def measure(method: str, children: int) -> dict:
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["jsrunner.worker", "jsrunner.bindings"])
    times, mems = [], []
    for _ in range(children):
        a, b = ctx.Pipe()
        t0 = time.perf_counter()
        p = ctx.Process(target=_child, args=(b,))
        p.start()
        times.append(1000 * (a.recv() - t0))
        mems.append(mem_mb(p.pid))
        a.send(1)
        p.join()
    extra = []
    if method == "forkserver":
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as fh:
            extra = [mem_mb(int(pid)) for pid in fh.read().split()]
    return {"ms": statistics.median(times), "rss": statistics.median(m[0] for m in mems),
            "pss": statistics.median(m[1] for m in mems), "extra": extra, "parent": mem_mb(os.getpid())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.method:  # one method per fresh interpreter (fork needs the parent's imports)
        if args.method == "fork":
            import jsrunner.bindings  # noqa: F401
            import jsrunner.worker
            jsrunner.worker.preload()
        r = measure(args.method, args.children)
        extra = "".join(f"; resident helper {rss:.0f}/{pss:.0f} MB" for rss, pss in r["extra"])
        print(f"{args.method:10s} child ready in {r['ms']:6.1f} ms; child RSS/PSS {r['rss']:.0f}/{r['pss']:.0f} MB; "
              f"parent {r['parent'][0]:.0f}/{r['parent'][1]:.0f} MB{extra}", flush=True)
        return 0
    print(f"median of {args.children} children each (RSS/PSS of a child while it is alive):")
    for method in ("spawn", "fork", "forkserver"):
        subprocess.run([sys.executable, __file__, "--method", method, "--children", str(args.children)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
