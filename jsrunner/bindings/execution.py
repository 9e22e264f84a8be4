"""Host side of ``k6/execution``: live counters from the run state and test control."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..vu import VU


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    ctx = vu.ctx

    def vu_info() -> list[int]:
        phase = vu.phase
        it = phase.iteration if phase is not None and phase.kind == "iter" else 0
        in_scn = getattr(phase, "vu_scenario_iteration", 0) if phase is not None else 0
        return [vu.id, vu.id_in_test, it, in_scn]

    def scenario_info() -> list[Any]:
        phase = vu.phase
        ex = phase.scenario if phase is not None else None
        if ex is None:
            return ["", "", 0, 0, 0, 0]
        start_ms = int((time.time() - (time.monotonic() - ex.start_mono)) * 1000)
        n = getattr(phase, "scenario_iteration", 0)
        return [ex.spec.name, ex.spec.executor, start_ms, ex.progress_fraction(), n, ex.iteration_in_test(n)]

    def instance_info() -> list[Any]:
        st = ctx.state
        if st is None:
            return [0, 0, 0, 0, 0.0]
        return [st.completed, st.interrupted, st.vus_active, st.vus_initialised,
                (time.monotonic() - st.test_start) * 1000.0]

    def abort(text: str) -> None:
        st = ctx.state
        if st is not None and st.on_abort is not None:
            st.on_abort(text, vu)

    def fail(msg: str) -> None:
        vu.logger.error(f"test marked as failed: {msg}")
        if ctx.state is not None:
            ctx.state.marked_failed = True

    def options() -> Any:
        return ctx.options

    engine.export("exec.vu", vu_info)
    engine.export("exec.scenario", scenario_info)
    engine.export("exec.instance", instance_info)
    engine.export("exec.abort", abort)
    engine.export("exec.fail", fail)
    engine.export("exec.options", options)
