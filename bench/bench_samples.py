"""CPU µs per metric sample recorded from JS (issue 4 target: <= 2 µs), end to end:
`metric.add()` in JS, the crossing to Python, the metrics engine. Measured as the CPU
time of a run adding N samples minus the same run without the adds.

    python bench/bench_samples.py [N]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "scripts" / "metric_adds.js"


def cpu_of(n: int, add: bool) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "jsrunner", "run", "-q", "--workers", "1", "--no-summary",
                    "-e", f"N={n}", "-e", f"ADD={'1' if add else '0'}", str(SCRIPT)], check=True,
                   env=dict(os.environ))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    base = min(cpu_of(n, False) for _ in range(3))
    with_adds = min(cpu_of(n, True) for _ in range(3))
    print(f"samples: {n}; CPU without adds {base:.3f} s, with adds {with_adds:.3f} s; "
          f"{(with_adds - base) / n * 1e6:.2f} µs CPU per sample recorded from JS")


if __name__ == "__main__":
    main()
