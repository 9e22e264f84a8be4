"""Where samples from every VU meet the metrics engine and the outputs.

VUs hand over whole batches (one per event-loop poll) with a single ``list.append``
— atomic under the GIL, so no lock serialises VUs per sample. A collector thread swaps
the pending list out a few times a second, converts JS monotonic times to wall clock
nanoseconds and feeds the engine and the ``--out`` writers.

A batch is a list of rows ``[name, value, tags, monoMs, metadata]`` (Python-side
samples, bindings), a compact iteration record (a tuple), or the :class:`SampleRuns` of
a VU's JS (``metrics.batches``): runs of samples sharing metric, tags and metadata, fed
to the engine a run at a time, with per-sample times converted only when an output
writes them.
"""

from __future__ import annotations

import threading
import time
from typing import IO, TYPE_CHECKING, Any

from .metrics.batches import SampleRuns
from .metrics.registry import Registry

if TYPE_CHECKING:
    from .log import Logger
    from .plan import Plan
    from .vu import VU

Sample = tuple[str, int, float, dict[str, str], Any]


class _IterationBatch:
    """``MetricsHub.iteration_batch``'s record in the pending list."""

    __slots__ = ("tags", "marks")

    def __init__(self, tags: dict[str, str], marks: list[float]) -> None:
        self.tags = tags
        self.marks = marks


class MetricsHub:
    def __init__(self) -> None:
        self.registry = Registry()
        self._pending: list[Any] = []
        self._lock = threading.Lock()  # held only by the collector, never by VUs
        self.mono0_ms = time.monotonic() * 1000.0
        self.wall0_ns = time.time_ns()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.engine: Any = None
        self.outputs: list[Any] = []
        self.plan: Plan | None = None
        self.test_start_mono = time.monotonic()
        self.test_duration = 0.0
        self.stdout: Any = None
        self.output_error: BaseException | None = None

    # ---- intake ------------------------------------------------------------------------
    def sink(self, vu: "VU", samples: list[Any]) -> None:
        self._pending.append(samples)

    def wants_sample_times(self) -> bool:
        """Only the ``--out`` writers need the time of every sample; without them a VU's
        JS records times for Gauges only (the engine uses no other sample's time). Asked
        once by each VU, after ``configure``."""
        return bool(self.outputs)

    def emit_now(self, name: str, value: float, tags: dict[str, str], mono_ms: float | None = None) -> None:
        t = time.monotonic() * 1000.0 if mono_ms is None else mono_ms
        self._pending.append([[name, value, tags, t, None]])

    def iteration_samples(self, tags: dict[str, str], start_ms: float, end_ms: float,
                          sent: int, received: int) -> None:
        """The four per-iteration samples, in k6's order, sharing one tag set and time."""
        self._pending.append((None, tags, start_ms, end_ms, sent, received))

    def iteration_batch(self, tags: dict[str, str], marks: list[float]) -> None:
        """The samples of iterations a VU ran back to back in JS (iteration j from
        ``marks[j]`` to ``marks[j + 1]``, monotonic ms), nothing sent or received: taken
        as runs, one per metric, instead of four rows per iteration."""
        self._pending.append(_IterationBatch(tags, marks))

    def to_ns(self, mono_ms: float) -> int:
        return self.wall0_ns + int((mono_ms - self.mono0_ms) * 1_000_000)

    def drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            mono0, wall0 = self.mono0_ms, self.wall0_ns
            off_ns = wall0 - round(mono0 * 1_000_000)  # ns of a JS time in µs: us * 1000 + off_ns
            engine, outputs = self.engine, self.outputs
            rows: list[Sample] = []  # in order, for the engine (until the next runs) and outputs
            fed = 0  # rows[:fed] are in the engine
            for batch in pending:
                kind = type(batch)
                if kind is SampleRuns:
                    if fed < len(rows):
                        engine.ingest(rows[fed:])
                        fed = len(rows)
                    runs = batch.runs
                    engine.ingest_runs([(name, tags, values, 0 if times is None else times[-1] * 1000 + off_ns)
                                        for name, tags, _meta, values, times in runs])
                    if outputs:
                        for name, tags, meta, values, times in runs:
                            if times is None:  # recorded before the writers existed: never, but not fatal
                                now = time.time_ns()
                                rows.extend([(name, now, float(v), tags, meta) for v in values])
                                continue
                            rows.extend([(name, us * 1000 + off_ns, float(v), tags, meta)
                                         for v, us in zip(values, times)])
                        fed = len(rows)
                elif kind is _IterationBatch:
                    if fed < len(rows):
                        engine.ingest(rows[fed:])
                        fed = len(rows)
                    tags, marks = batch.tags, batch.marks
                    n = len(marks) - 1
                    durations = [marks[i + 1] - marks[i] for i in range(n)]
                    t = wall0 + int((marks[-1] - mono0) * 1_000_000)
                    zeros = [0.0] * n
                    engine.ingest_runs([("data_sent", tags, zeros, t), ("data_received", tags, zeros, t),
                                        ("iteration_duration", tags, durations, t),
                                        ("iterations", tags, [1.0] * n, t)])
                    if outputs:
                        for i in range(n):
                            ti = wall0 + int((marks[i + 1] - mono0) * 1_000_000)
                            rows.append(("data_sent", ti, 0.0, tags, None))
                            rows.append(("data_received", ti, 0.0, tags, None))
                            rows.append(("iteration_duration", ti, durations[i], tags, None))
                            rows.append(("iterations", ti, 1.0, tags, None))
                        fed = len(rows)
                elif kind is tuple:  # compact iteration record
                    _, tags, start, end, sent, received = batch
                    t = wall0 + int((end - mono0) * 1_000_000)
                    rows.append(("data_sent", t, float(sent), tags, None))
                    rows.append(("data_received", t, float(received), tags, None))
                    rows.append(("iteration_duration", t, end - start, tags, None))
                    rows.append(("iterations", t, 1.0, tags, None))
                else:
                    for name, value, tags, t, meta in batch:
                        rows.append((name, wall0 + int((t - mono0) * 1_000_000), float(value), tags, meta))
            if fed < len(rows):
                engine.ingest(rows[fed:])
            for writer in outputs:
                writer.write(rows)

    # ---- lifecycle ---------------------------------------------------------------------
    def configure(self, plan: "Plan") -> None:
        """Attach thresholds and outputs; raises ConfigError (exit 104) on bad thresholds."""
        from .metrics.engine import MetricsEngine
        from .metrics.json_output import JsonOutput
        self.plan = plan
        self.engine = MetricsEngine(self.registry, track_groups=plan.summary_mode == "full")
        if plan.thresholds and not plan.no_thresholds:
            self.engine.configure_thresholds(plan.thresholds)
        for spec in plan.outputs:
            kind, _, target = spec.partition("=")
            if kind != "json":
                from .errors import CommandLineError
                raise CommandLineError(f"invalid output type '{kind}', available types are: json")
            self.outputs.append(JsonOutput(target or "-", self.engine, stdout=self.stdout))
        self._thread = threading.Thread(target=self._collect, name="metrics", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.drain()
            except Exception as exc:  # noqa: BLE001 - an output failing must not kill the run
                self.output_error = exc
                self.outputs.clear()

    def test_started(self) -> None:
        self.test_start_mono = time.monotonic()

    def test_ended(self, duration: float) -> None:
        self.test_duration = duration

    def start_vus_sampler(self, state: Any, max_vus: int) -> None:
        def loop() -> None:
            while not self._stop.wait(1.0):
                now = time.monotonic() * 1000.0
                self._pending.append([["vus", state.vus_active, {}, now, None],
                                      ["vus_max", max_vus, {}, now, None]])
        threading.Thread(target=loop, name="vus-sampler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.drain()
        except Exception as exc:  # noqa: BLE001
            self.output_error = exc
            self.outputs.clear()
        for writer in self.outputs:
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001
                self.output_error = exc

    # ---- thresholds and summary --------------------------------------------------------
    def abort_check(self) -> list[str] | None:
        """Periodic threshold evaluation; names that crossed an abortOnFail threshold."""
        if self.plan is None or not self.plan.thresholds or self.plan.no_thresholds:
            return None
        self.drain()
        elapsed_ms = (time.monotonic() - self.test_start_mono) * 1000.0
        res = self.engine.evaluate_thresholds(elapsed_ms, periodic=True, time_spent_ms=elapsed_ms)
        return res.aborting if res.abort else None

    def evaluate_thresholds(self, duration: float) -> Any:
        return self.engine.evaluate_thresholds(duration * 1000.0)

    def summary_data(self, duration: float, setup_data: Any, stdout: IO[str]) -> dict[str, Any]:
        from .metrics.export import UNDEFINED, build_summary_data
        assert self.plan is not None
        tty = hasattr(stdout, "isatty") and stdout.isatty()
        return build_summary_data(self.engine, duration * 1000.0, trend_stats=self.plan.summary_trend_stats,
                                  time_unit=self.plan.summary_time_unit or "", no_color=self.plan.no_color,
                                  is_stdout_tty=tty, is_stderr_tty=False,
                                  setup_data=UNDEFINED if setup_data is UNSET else setup_data)

    def render_summary(self, duration: float, data: dict[str, Any] | None, stdout: IO[str]) -> str:
        from .metrics.summary import SummaryOptions, render_summary
        assert self.plan is not None
        tty = hasattr(stdout, "isatty") and stdout.isatty()
        opts = SummaryOptions(trend_stats=self.plan.summary_trend_stats, time_unit=self.plan.summary_time_unit or "",
                              mode=self.plan.summary_mode, no_thresholds=self.plan.no_thresholds,
                              colors=tty and not self.plan.no_color)
        return render_summary(self.engine, duration * 1000.0, opts, summary_data=data)

    def export_text(self, data: dict[str, Any]) -> str:
        from .metrics.export import summary_export_json
        return summary_export_json(data)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: setup() was not run or returned undefined
UNSET: Any = _Unset()
