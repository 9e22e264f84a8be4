"""Snapshots of the live run for the progress formatter (progress_format)."""

from __future__ import annotations

import time
from typing import Any

from .durations import from_seconds
from .progress_format import (DONE, INTERRUPTED, RUNNING, WAITING, RunSnapshot, ScenarioSnapshot,
                              final_status, render_lines, scenario_progress)


def run_snapshot(runner: Any) -> RunSnapshot:
    st = runner.state
    return RunSnapshot(elapsed=from_seconds(time.monotonic() - st.test_start),
                       max_duration=from_seconds(runner.plan.max_duration), max_vus=runner.plan.max_vus,
                       active_vus=st.vus_active, initialized_vus=st.vus_initialised or runner.plan.max_vus,
                       complete=st.completed, interrupted=st.interrupted)


def scenario_snapshot(ex: Any, aborted: bool) -> ScenarioSnapshot:
    spec, p = ex.spec, ex.progress
    now = time.monotonic()
    snap = ScenarioSnapshot(name=spec.name, executor=spec.executor)
    if p.started_at is None:
        snap.status = WAITING
        snap.start_time = from_seconds(spec.start_time)
        waited = now - ex.state.test_start
        snap.wait_remaining = from_seconds(max(0.0, spec.start_time - waited))
        return snap
    end = p.ended_at if p.ended_at is not None else now
    snap.elapsed = from_seconds(end - p.started_at)
    snap.vus = spec.vus
    done = p.completed + p.interrupted
    if spec.executor == "shared-iterations":
        snap.iterations_done, snap.iterations_total = done, spec.iterations
        snap.duration = from_seconds(spec.max_duration)
    elif spec.executor == "per-vu-iterations":
        snap.iterations_done, snap.iterations_total = done, spec.iterations * spec.vus
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
            snap.rate = spec.rate / spec.time_unit
        else:
            snap.duration = from_seconds(sum(d for d, _ in spec.stages))
            snap.max_rate = max([spec.start_rate] + [t for _, t in spec.stages]) / spec.time_unit
            snap.rate = ex.current_rate() if hasattr(ex, "current_rate") else 0.0
    if ex.finished.is_set():
        prog, _ = scenario_progress(snap)
        snap.status = final_status(prog, aborted)
    else:
        snap.status = RUNNING
    return snap


def render_progress(runner: Any, executors: list[Any]) -> list[str]:
    aborted = runner.abort_code is not None
    return render_lines(run_snapshot(runner), [scenario_snapshot(ex, aborted) for ex in executors])


__all__ = ["render_progress", "DONE", "INTERRUPTED"]
