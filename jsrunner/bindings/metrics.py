"""Host side of ``k6/metrics``: custom metric definitions go into the run's registry, and
whether the VU's samples need their own times (runtime.js asks once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MetricError

if TYPE_CHECKING:
    from ..vu import VU


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    registry = vu.ctx.metric_registry

    def define(name: str, mtype: str, is_time: bool) -> str | None:
        if registry is None:
            return None
        try:
            registry.define(name, mtype, "time" if is_time else "default")
        except MetricError as exc:
            return exc.message
        return None

    def times() -> bool:
        """Does the sample sink want the time of every sample? A sink that does not say
        (tests, tools) gets them; the run's hub wants them only for its ``--out`` writers."""
        sink = vu.ctx.sample_sink
        wants = getattr(getattr(sink, "__self__", None), "wants_sample_times", None)
        return True if wants is None else bool(wants())

    engine.export("metrics.define", define)
    engine.export("metrics.times", times)
