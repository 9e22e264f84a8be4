"""What the progress output shows at a given moment, as text lines (runner.md §9).

k6 draws one bar per scenario plus its "init" bar on top. That first line is
``Init [..] NN/N VUs initialized`` while VUs are initialised, ``Run [ 100% ] setup()``
while ``setup()`` runs, and the ``running (...)`` line from then on. Scenario bars are
blank until the scenarios start, then show the executor's own columns (frozen once the
scenario stops; see :meth:`jsrunner.executors.Executor.snapshot`).
"""

from __future__ import annotations

import time
from typing import Any

from .durations import from_seconds
from .progress_format import (DONE, INIT_LEFT, INTERRUPTED, MAX_LEFT_LENGTH, MIN_WIDTH, RUNNING,
                              WAITING, RunSnapshot, ScenarioSnapshot, fixed_length_int, render_bar,
                              running_line, scenario_progress)


def run_snapshot(runner: Any) -> RunSnapshot:
    st = runner.state
    end = getattr(runner, "test_end", None)
    now = end if end is not None else time.monotonic()
    return RunSnapshot(elapsed=from_seconds(max(0.0, now - st.test_start)),
                       max_duration=from_seconds(runner.plan.max_duration), max_vus=runner.plan.max_vus,
                       active_vus=st.vus_active, initialized_vus=st.vus_initialised,
                       complete=st.completed, interrupted=st.interrupted)


def _bars(runner: Any, executors: list[Any]) -> tuple[Any, list[tuple[str, str, float, list[str]]]]:
    """(first line: a string or a bar tuple, scenario bars as (name, status, progress, right))."""
    phase = getattr(runner, "phase", None) or "run"
    first: Any
    if phase == "init":
        total = max(1, getattr(runner, "vus_to_init", 0) or 1)
        done = min(runner.state.vus_initialised, total)
        first = (INIT_LEFT, RUNNING, done / total, [f"{fixed_length_int(done, total)}/{total} VUs initialized"])
    elif phase == "setup":
        first = ("Run", RUNNING, 1.0, ["setup()"])
    else:
        first = running_line(run_snapshot(runner))
    bars: list[tuple[str, str, float, list[str]]] = []
    if phase in ("init", "setup") or not executors:
        for spec in runner.plan.scenarios:
            bars.append((spec.name, RUNNING, 0.0, []))
        return first, bars
    aborted = getattr(runner, "abort_code", None) is not None
    for ex in executors:
        if not hasattr(ex, "snapshot"):  # a stand-in that only has spec/progress/running
            snap = _snapshot_from_counters(ex, aborted)
        elif ex.bar_status is None:
            bars.append((ex.spec.name, RUNNING, 0.0, []))
            continue
        else:
            snap = ex.snapshot()
        prog, right = scenario_progress(snap)
        bars.append((snap.name, snap.status, prog, right))
    return first, bars


def _snapshot_from_counters(ex: Any, aborted: bool) -> ScenarioSnapshot:
    """A snapshot from an executor-like object with only ``spec``, ``progress``, ``running``
    and ``finished`` (e.g. counters summed over worker processes)."""
    spec, p = ex.spec, ex.progress
    now = time.monotonic()
    snap = ScenarioSnapshot(name=spec.name, executor=spec.executor)
    if p.started_at is None:
        snap.status = WAITING
        snap.start_time = from_seconds(spec.start_time)
        snap.wait_remaining = from_seconds(max(0.0, spec.start_time - (now - ex.state.test_start)))
        return snap
    end = p.ended_at if p.ended_at is not None else now
    snap.elapsed = from_seconds(end - p.started_at)
    snap.vus = spec.vus
    if spec.executor == "shared-iterations":
        snap.iterations_done, snap.iterations_total = p.completed, spec.iterations
        snap.duration = from_seconds(spec.max_duration)
    elif spec.executor == "per-vu-iterations":
        snap.iterations_done, snap.iterations_total = p.completed, spec.iterations * spec.vus
        snap.iterations_per_vu = spec.iterations
        snap.duration = from_seconds(spec.max_duration)
    elif spec.executor == "constant-vus":
        snap.duration = from_seconds(spec.duration)
    elif spec.executor == "ramping-vus":
        snap.vus = max([spec.start_vus] + [int(t) for _, t in spec.stages])
        snap.active_vus = p.active
        snap.duration = from_seconds(sum(d for d, _ in spec.stages))
    else:
        snap.vus = max(spec.max_vus, spec.pre_allocated_vus)
        snap.active_vus = p.active
        snap.running_vus = len(ex.running)
        if spec.executor == "constant-arrival-rate":
            snap.duration = from_seconds(spec.duration)
            snap.rate = spec.rate / spec.time_unit if spec.time_unit else 0.0
        else:
            snap.duration = from_seconds(sum(d for d, _ in spec.stages))
            snap.max_rate = max([spec.start_rate] + [t for _, t in spec.stages]) / spec.time_unit
            snap.rate = ex.current_rate() if hasattr(ex, "current_rate") else 0.0
    snap.status = RUNNING
    if ex.finished.is_set():
        prog, _ = scenario_progress(snap)
        snap.status = INTERRUPTED if aborted or prog < 1 else DONE
    return snap


def render_progress(runner: Any, executors: list[Any], *, width: int = MIN_WIDTH,
                    color: bool = False) -> list[str]:
    """The lines of one progress update (no leading empty line, no line ends)."""
    first, bars = _bars(runner, executors)
    all_bars = ([first] if isinstance(first, tuple) else []) + bars
    col_widths = [0, 0]
    for _, _, _, right in all_bars:
        for i, col in enumerate(right[:-1][:2]):
            col_widths[i] = max(col_widths[i], len(col))
    names = [INIT_LEFT if isinstance(first, str) else first[0]] + [b[0] for b in bars]
    max_left = min(max(len(n) for n in names + [INIT_LEFT]), MAX_LEFT_LENGTH)

    def bar(b: tuple[str, str, float, list[str]]) -> str:
        return render_bar(b[0], b[1], b[2], b[3], max_left=max_left, column_widths=col_widths,
                          width=width, color=color)

    lines = [first if isinstance(first, str) else bar(first)]
    lines += [bar(b) for b in bars]
    return lines


__all__ = ["render_progress", "run_snapshot", "DONE", "INTERRUPTED"]
