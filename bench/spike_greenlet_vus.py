"""The spike behind jsrunner/fibers.py: several VUs' QuickJS runtimes on one OS thread.

    python bench/spike_greenlet_vus.py [--vus 50] [--rounds 2000]

Kept as the smallest check of the one thing that design needs from the engine — a runtime
can be parked in the middle of an eval (inside a host call, below an async function and a
20-deep JS recursion) while other runtimes run on the same OS thread, and resumed later with
a value — and measures a park + resume, to set beside an OS thread wake-up
(``bench/bench_wakes.py`` prints that floor). Every VU's loop must end with the right sum,
or the script exits 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jsrunner import engine as js  # noqa: E402


class _NoModules:
    def resolve(self, base: str, specifier: str) -> str:
        return specifier

    def load(self, module_id: str) -> tuple[str, str]:
        raise ImportError(module_id)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vus", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    try:
        import greenlet
    except ImportError:
        print("greenlet is not installed: pip install greenlet")
        return 0
    hub = greenlet.getcurrent()
    parked: list[greenlet.greenlet] = []
    me: dict[int, greenlet.greenlet] = {}

    def vu(i: int) -> object:
        engine = js.Engine(_NoModules())

        def wait(acc: int) -> int:  # the event loop's poll: park until the hub has an event
            parked.append(me[i])
            return hub.switch()

        engine.export("wait", wait)
        engine.eval("""
          (async function loop() { let acc = 0;
            function deep(k) { return k ? deep(k - 1) : call_python('wait', acc); }
            for (let r = 0; r < %d; r++) { acc += deep(20); await null; }
            return acc; })().then((v) => { globalThis.out = v; });
          null""" % args.rounds)
        return engine.eval("globalThis.out")

    for i in range(args.vus):
        me[i] = greenlet.greenlet(vu)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for i in range(args.vus):
        me[i].switch(i)  # runs up to its first park
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    results = []
    while parked:
        batch, parked[:] = parked[:], []
        for g in batch:
            out = g.switch(1)
            if g.dead:
                results.append(out)
    r2 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    cpu = (r2.ru_utime - r1.ru_utime) + (r2.ru_stime - r1.ru_stime)
    ok = len(results) == args.vus and set(results) == {args.rounds}
    n = args.vus * args.rounds
    print(f"{args.vus} runtimes on one thread, {n} park+resume: {'correct' if ok else 'WRONG'} results; "
          f"{cpu / n * 1e6:.2f} µs CPU each (incl. the JS around it), wall {wall:.2f} s, "
          f"peak RSS {r2.ru_maxrss / 1024:.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
