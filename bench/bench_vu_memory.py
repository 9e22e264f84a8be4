"""What one VU costs in memory, piece by piece: the floor under the 1,000-VU RSS figures.

    /tmp/venv/bin/python bench/bench_vu_memory.py [--vus 500] [--only bare,shared,raw,vu,ws,socket]

Every row is measured in a fresh child process: its RSS after making ``--vus`` of the thing,
minus its RSS before (after one warm-up of the same thing: imports, compiled modules, the
transport's threads), divided by the count.

(a) ``bare``   - ``JS_NewRuntime`` + ``JS_NewContext`` through dukpy's extension: one QuickJS
    runtime with a full context, what every jsrunner VU starts from;
(b) ``shared`` - ``JS_NewContext`` on one shared runtime: what a VU's context would cost if VUs
    could share a runtime (they cannot: a QuickJS runtime belongs to one thread at a time and
    each VU's event loop is a long eval on its own thread's stack);
    ``raw``    - ``JS_NewContextRaw`` on a shared runtime (no intrinsics at all): the context
    structure itself;
(c) ``vu``     - a jsrunner VU without sockets: ``VU.initialise()`` (runtime.js, k6/timers) and
    its thread running an iteration that waits on a timer, as in a run;
(d) ``ws``     - the same VU with ``k6/experimental/websockets`` imported (no socket);
(e) ``socket`` - the same VU with one open WebSocket to the bundled test server (one echo done).

For (c)-(e) the RSS is split into the QuickJS heap (``JS_ComputeMemoryUsage``'s ``malloc_size``
summed over the VUs' runtimes), the resident part of the VU threads' stacks (anonymous
mappings of the thread stack size in /proc/self/smaps) and the rest (Python objects,
malloc's own overhead, the transport). The closing lines are the floor: what of a VU is the
QuickJS runtime itself, what jsrunner's JS adds, what the thread and Python add.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Server  # noqa: E402

KINDS = ("bare", "shared", "raw", "vu", "ws", "socket")

_HOLD = "setTimeout(() => {}, 3600000);"
SCRIPTS = {
    "vu": "import { setTimeout } from 'k6/timers';\n"
          f"export default function () {{ console.log('up'); {_HOLD} }}\n",
    "ws": "import { setTimeout } from 'k6/timers';\nimport { WebSocket } from 'k6/experimental/websockets';\n"
          f"export default function () {{ console.log('up'); {_HOLD} }}\n",
    "socket": "import { WebSocket } from 'k6/experimental/websockets';\n"
              "export default function () {\n"
              "  const ws = new WebSocket(__ENV.URL + '/echo');\n"
              "  ws.onopen = () => ws.send('x');\n"
              "  ws.onmessage = () => console.log('up');\n"
              "  ws.onerror = (e) => console.log('error ' + e.error);\n"
              "}\n",
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def stack_rss_bytes() -> int:
    """Resident bytes of the anonymous mappings as large as a thread stack (pthread's
    default: the stack rlimit), i.e. of the threads' stacks."""
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    size = soft if soft > 0 else 8 << 20
    total = 0
    counting = False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not line.startswith(("Rss", "Size")):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                counting = hi - lo == size and len(head) == 5
            elif counting and head[0] == "Rss:":
                total += int(head[1]) * 1024
    return total


class _MemoryUsage(ctypes.Structure):
    """QuickJS's ``JSMemoryUsage`` (26 int64 counters; ``malloc_size`` first)."""

    _fields_ = [(name, ctypes.c_int64) for name in (
        "malloc_size malloc_limit memory_used_size malloc_count memory_used_count atom_count atom_size "
        "str_count str_size obj_count obj_size prop_count prop_size shape_count shape_size js_func_count "
        "js_func_size js_func_code_size js_func_pc2line_count js_func_pc2line_size c_func_count "
        "array_count fast_array_count fast_array_elements binary_object_count binary_object_size").split()]


# ---- (a), (b): the QuickJS C API alone -------------------------------------------------------
def _quickjs(kind: str, n: int) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    from jsrunner import engine
    lib = engine._lib
    lib.JS_NewRuntime.restype = ctypes.c_void_p
    lib.JS_NewRuntime.argtypes = []
    for name in ("JS_NewContext", "JS_NewContextRaw"):
        getattr(lib, name).restype = ctypes.c_void_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.JS_ComputeMemoryUsage.restype = None
    lib.JS_ComputeMemoryUsage.argtypes = [ctypes.c_void_p, ctypes.POINTER(_MemoryUsage)]
    keep: list[int] = []
    runtimes: list[int] = []
    shared = lib.JS_NewRuntime()
    keep.append(lib.JS_NewContext(shared))  # warm-up
    gc.collect()
    before = rss_bytes()
    for _ in range(n):
        if kind == "bare":
            runtimes.append(lib.JS_NewRuntime())
            keep.append(lib.JS_NewContext(runtimes[-1]))
        elif kind == "shared":
            keep.append(lib.JS_NewContext(shared))
        else:
            keep.append(lib.JS_NewContextRaw(shared))
    kb = (rss_bytes() - before) / n / 1024
    if not runtimes:
        return {"kb": kb}
    js = 0
    for rt in runtimes:
        usage = _MemoryUsage()
        lib.JS_ComputeMemoryUsage(rt, ctypes.byref(usage))
        js += usage.malloc_size
    return {"kb": kb, "js_kb": js / n / 1024}


# ---- (c)-(e): jsrunner VUs --------------------------------------------------------------------
class _Console:
    """The VUs' console: counts the ``up`` lines (a VU is in its iteration, holding)."""

    def __init__(self) -> None:
        self.up = threading.Semaphore(0)
        self.errors: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.endswith("up"):
                self.up.release()
            elif "error" in line:
                self.errors.append(line)
        return len(text)

    def flush(self) -> None:
        pass


class _OneIteration:
    """A VU host handing out one iteration; the iteration never ends (the process exits)."""

    def __init__(self) -> None:
        self.given = False

    def next_phase(self, vu: Any) -> Any:
        from jsrunner.vu import Phase
        if self.given:
            return None
        self.given = True
        return Phase("iter", iteration=0)

    def phase_done(self, vu: Any, phase: Any) -> None:
        pass


def _vus(kind: str, n: int, url: str) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    from jsrunner import engine
    from jsrunner.loader import ModuleLoader
    from jsrunner.log import Logger
    from jsrunner.vu import VU, RunContext
    lib = engine._lib
    lib.JS_ComputeMemoryUsage.restype = None
    lib.JS_ComputeMemoryUsage.argtypes = [ctypes.c_void_p, ctypes.POINTER(_MemoryUsage)]
    folder = tempfile.mkdtemp(prefix="bench-vu-memory-")
    path = os.path.join(folder, "script.js")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(SCRIPTS[kind])
    console = _Console()
    logger = Logger(open(os.devnull, "w"), fmt="raw", console_file=console)  # type: ignore[arg-type]
    ctx = RunContext(loader=ModuleLoader(path), logger=logger, env={"URL": url},
                     sample_sink=lambda vu, samples: None)

    def start(vu_id: int) -> VU:
        vu = VU(vu_id, ctx)
        vu.initialise()
        vu.start_thread(_OneIteration())
        return vu

    def wait_up(count: int) -> None:
        deadline = time.monotonic() + 120
        for _ in range(count):
            if not console.up.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise SystemExit(f"VUs did not reach their iteration: {console.errors[:3]}")

    start(0)
    wait_up(1)
    time.sleep(0.2)
    gc.collect()
    before, stacks_before = rss_bytes(), stack_rss_bytes()
    vus = [start(i + 1) for i in range(n)]
    wait_up(n)
    time.sleep(0.5)  # the last echo handlers and poll returns settle
    gc.collect()
    after, stacks_after = rss_bytes(), stack_rss_bytes()
    js = 0
    for vu in vus:
        usage = _MemoryUsage()
        assert vu.engine is not None
        lib.JS_ComputeMemoryUsage(vu.engine._rt, ctypes.byref(usage))
        js += usage.malloc_size
    kb = (after - before) / n / 1024
    js_kb = js / n / 1024
    stack_kb = (stacks_after - stacks_before) / n / 1024
    return {"kb": kb, "js_kb": js_kb, "stack_kb": stack_kb, "rest_kb": kb - js_kb - stack_kb}


def child(kind: str, n: int, url: str) -> None:
    result = _quickjs(kind, n) if kind in ("bare", "shared", "raw") else _vus(kind, n, url)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the VU threads hold their iterations for ever




LABELS = {
    "bare": "(a) QuickJS runtime + context (JS_NewRuntime + JS_NewContext)",
    "shared": "(b) context on a shared runtime (JS_NewContext)",
    "raw": "    bare context on a shared runtime (JS_NewContextRaw)",
    "vu": "(c) jsrunner VU, no socket (runtime.js, k6/timers, thread)",
    "ws": "(d) (c) + k6/experimental/websockets imported",
    "socket": "(e) (d) + one open WebSocket",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vus", type=int, default=500, help="VUs (runtimes, contexts) per row")
    ap.add_argument("--only", default=",".join(KINDS))
    ap.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.vus, args.url)
        return 0
    only = [k for k in KINDS if k in args.only.split(",")]
    server = Server() if "socket" in only else None
    rows: dict[str, dict[str, Any]] = {}
    print(f"KB per VU ({args.vus} per row, each row in a fresh process)", flush=True)
    print(f"  {'':62s} {'RSS':>6s} {'JS heap':>8s} {'stack':>6s} {'rest':>6s}")
    try:
        for kind in only:
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, "--vus",
                                  str(args.vus), "--url", server.url if server else ""],
                                 capture_output=True, text=True, env=env, timeout=600)
            if out.returncode != 0 or not out.stdout.strip():
                print(f"  {kind}: failed ({out.returncode}): {out.stderr.strip()[-800:]}", flush=True)
                continue
            row = rows[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            cells = [f"{row['kb']:6.1f}"] + [f"{row[k]:{w}.1f}" if k in row else " " * w
                                             for k, w in (("js_kb", 8), ("stack_kb", 6), ("rest_kb", 6))]
            print(f"  {LABELS[kind]:62s} " + " ".join(cells), flush=True)
    finally:
        if server is not None:
            server.close()
    if {"bare", "vu", "ws", "socket"} <= rows.keys():
        bare, vu, ws, sock = rows["bare"], rows["vu"], rows["ws"], rows["socket"]
        js_on_top = vu["js_kb"] - bare["js_kb"]
        rest = vu["kb"] - bare["kb"] - js_on_top - vu["stack_kb"]
        print("\nThe floor of one VU (KB; the lines add up):")
        print(f"  QuickJS runtime + context, unavoidable with a runtime per VU  {bare['kb']:6.1f}")
        print(f"  jsrunner's JS on top (runtime.js, k6/timers; JS heap)         {js_on_top:6.1f}")
        print(f"  the VU thread's stack (resident part)                         {vu['stack_kb']:6.1f}")
        print(f"  Python objects, thread state, malloc overhead (the rest)      {rest:6.1f}")
        print(f"  k6/experimental/websockets imported                           {ws['kb'] - vu['kb']:6.1f}")
        print(f"  one open WebSocket                                            {sock['kb'] - ws['kb']:6.1f}")
        print(f"  = one VU with one socket                                      {sock['kb']:6.1f}")
        if "shared" in rows:
            print(f"  (a shared runtime would save ~{bare['kb'] - rows['shared']['kb']:.0f} KB of (a) per VU;"
                  " not possible with one thread per VU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
