"""CPU µs per metric sample recorded from JS (issue 4 target: <= 2 µs), end to end:
`metric.add()` in JS, the crossing to Python, the metrics engine. Measured as the CPU
time of a run adding N samples minus the same run without the adds (best of 3 each).
Also the peak RSS of a run adding a million samples to one Trend, minus the same run
without adds.

    python bench/bench_samples.py [N] [--out-json] [--mix] [--no-memory]

``--out-json`` adds ``--out json=/dev/null`` to both runs (every sample then keeps its
time and is written). ``--mix`` runs scripts/metric_mix.js instead: three metrics added
in turn (3 N samples), the interleaved case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"
SCRIPT = SCRIPTS / "metric_adds.js"


def run(n: int, add: bool, extra: list[str], script: Path = SCRIPT) -> tuple[float, int]:
    """(CPU seconds, peak RSS KiB) of one child run (wait4: this child's own rusage)."""
    proc = subprocess.Popen([sys.executable, "-m", "jsrunner", "run", "-q", "--workers", "1", "--no-summary",
                             *extra, "-e", f"N={n}", "-e", f"ADD={'1' if add else '0'}", str(script)],
                            env=dict(os.environ))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"jsrunner exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 200_000
    extra = ["--out", "json=/dev/null"] if "--out-json" in sys.argv else []
    mix = "--mix" in sys.argv
    script, samples = (SCRIPTS / "metric_mix.js", 3 * n) if mix else (SCRIPT, n)
    base = min(run(n, False, extra, script)[0] for _ in range(3))
    with_adds = min(run(n, True, extra, script)[0] for _ in range(3))
    print(f"samples: {samples}{' (--out json)' if extra else ''}{' (3 metrics in turn)' if mix else ''}; "
          f"CPU without adds {base:.3f} s, with adds {with_adds:.3f} s; "
          f"{(with_adds - base) / samples * 1e6:.2f} µs CPU per sample recorded from JS")
    if "--no-memory" not in sys.argv:
        m = 1_000_000
        rss0 = min(run(m, False, [])[1] for _ in range(2))
        rss1 = min(run(m, True, [])[1] for _ in range(2))
        print(f"peak RSS: {rss0 / 1024:.1f} MiB without adds, {rss1 / 1024:.1f} MiB with {m:,} Trend samples: "
              f"+{(rss1 - rss0) / 1024:.1f} MiB ({(rss1 - rss0) * 1024 / m:.1f} B per sample)")


if __name__ == "__main__":
    main()
