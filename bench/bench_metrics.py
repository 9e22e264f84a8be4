"""Benchmark of the metrics core: CPU µs per ingested sample, bytes per Trend value.

Run: ``python bench/bench_metrics.py`` (from the repository root). Prints one line per
figure. Target: ingest well under 1 µs/sample so the JS→Python path stays ≤ 2 µs.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jsrunner.metrics.engine import MetricsEngine  # noqa: E402
from jsrunner.metrics.sinks import TrendSink  # noqa: E402

BATCH = 1000
BATCHES = 500


def _engine(sub: bool, track_groups: bool = False) -> MetricsEngine:
    e = MetricsEngine(track_groups=track_groups)
    e.registry.define("my_counter", "counter")
    e.registry.define("my_trend", "trend", "time")
    if sub:
        e.configure_thresholds({"my_counter{tag:a}": ["count>0"], "my_trend{tag:a}": ["p(95)<100"]})
    return e


def _batches(name: str) -> list[list[tuple]]:
    out = []
    t = time.time_ns()
    for b in range(BATCHES):
        batch = []
        for i in range(BATCH):
            t += 1000
            tags = {"scenario": "default", "group": "::g", "tag": "a" if i % 2 else "b"}
            batch.append((name, t, float((b * BATCH + i) % 977), tags, None))
        out.append(batch)
    return out


def bench_ingest(name: str, sub: bool, track_groups: bool = False) -> float:
    """Best-of-5 CPU µs per sample for ``engine.ingest`` with batches of 1,000."""
    data = _batches(name)
    best = float("inf")
    for _ in range(5):
        e = _engine(sub, track_groups)
        gc.collect()
        t0 = time.process_time()
        for batch in data:
            e.ingest(batch)
        dt = time.process_time() - t0
        best = min(best, dt)
    return best / (BATCH * BATCHES) * 1e6


def bench_trend_memory(n: int = 1_000_000) -> tuple[int, int]:
    """(bytes held by one Trend with n values, peak bytes while computing a percentile)."""
    gc.collect()
    tracemalloc.start()
    sink = TrendSink()
    add = sink.values.append
    for i in range(n):
        add(float(i % 1000))
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    sink.percentile(0.95)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return held, peak


def main() -> None:
    print(f"python {sys.version.split()[0]}, batches of {BATCH}, {BATCH * BATCHES} samples per run")
    for name in ("my_counter", "my_trend"):
        for sub in (False, True):
            us = bench_ingest(name, sub)
            label = f"{name.split('_')[1]:7} 3 tags, {'1 sub-metric' if sub else 'no sub-metric'}"
            print(f"ingest {label:33}: {us:.3f} µs/sample")
    us = bench_ingest("my_trend", True, track_groups=True)
    print(f"ingest {'trend   3 tags, 1 sub, full mode':33}: {us:.3f} µs/sample")
    held, peak = bench_trend_memory()
    print(f"Trend with 1,000,000 values: {held:,} bytes held ({held / 1e6:.2f} B/value), "
          f"{peak:,} bytes peak while sorting for a percentile")


if __name__ == "__main__":
    main()
