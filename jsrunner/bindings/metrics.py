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

    engine.export("metrics.define", define)
