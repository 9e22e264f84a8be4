"""Run one execution segment of a test: the unit of work of a multi-process run.

:func:`run_segment` is the whole interface (so another engine - Dask, SSH - can run it
elsewhere): it initialises this segment's share of the VUs, waits for the start signal,
runs this segment's share of every scenario and reports through ``emit``:

- ``{"type": "ready", "vus": n}`` - VUs initialised, waiting for the start signal
- ``{"type": "update", "snapshot": engine snapshot delta, "progress": {...}}`` - every
  ``REPORT_INTERVAL`` s: aggregated metrics since the previous update (never raw samples)
  and the segment's absolute progress counters
- ``{"type": "log", "stream": "stderr"|"stdout", "text": "..."}`` - log/console lines
- ``{"type": "abort", "code": n, "message": "..."}`` - the script aborted the test
- ``{"type": "done", "code": n, ...}`` - the segment finished (``code`` != 0: it failed)

Shares are decided up front from the execution tuple (``schedule.py``): VUs and iterations
are striped exactly, so the segments of a sequence add up to the whole test, and every
global arrival-rate iteration start belongs to exactly one segment. Nothing is exchanged
between segments while they run.

A :class:`Control` lets the caller start (the barrier) and stop the segment; without one the
segment starts at once.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ExitCode
from .executors import EXECUTORS, Executor, RampingVUs, ScenarioSpec
from .loader import file_url
from .log import Logger
from .metrics_hub import MetricsHub
from .runner import RunConfig, Runner, start_scenarios
from .schedule import (ExecutionTuple, constant_arrival_offsets, ramping_arrival_offsets,
                       tuple_from_options)
from .vu import VU

REPORT_INTERVAL = 0.25  # s between two updates (the coordinator needs ≤ 1 s)
Emit = Callable[[dict[str, Any]], None]

#: RunConfig fields that cannot cross a process boundary
_LOCAL_FIELDS = ("stdout", "stderr", "install_signal_handlers")


# ---- run config <-> plain dict --------------------------------------------------------------
def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in _LOCAL_FIELDS}


def config_from_dict(data: dict[str, Any], **local: Any) -> RunConfig:
    names = {f.name for f in dataclasses.fields(RunConfig)}
    kw = {k: v for k, v in data.items() if k in names and k not in _LOCAL_FIELDS}
    kw.update(local)
    return RunConfig(**kw)


# ---- control ---------------------------------------------------------------------------------
class Control:
    """Start/stop signals for a segment (thread-safe; set by the caller)."""

    def __init__(self, started: bool = False) -> None:
        #: setup() data handed over with the start signal (when the segment was created
        #: before setup() ran); ``setup_given`` tells "null data" from "no data"
        self.setup_json: str | None = None
        self.setup_given = False
        self.started = threading.Event()
        self.stop = threading.Event()
        self.hard_stop = threading.Event()
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        if started:
            self.started.set()

    def listen(self, fn: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners.append(fn)
            stop, hard = self.stop.is_set(), self.hard_stop.is_set()
        if stop:
            fn("stop")
        if hard:
            fn("hard_stop")

    def _fire(self, what: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            fn(what)

    def start(self, setup_json: str | None = None, *, with_setup: bool = False) -> None:
        if with_setup:
            self.setup_json = setup_json
            self.setup_given = True
        self.started.set()

    def request_stop(self) -> None:
        self.stop.set()
        self._fire("stop")

    def request_hard_stop(self) -> None:
        self.stop.set()
        self.hard_stop.set()
        self._fire("hard_stop")

    def command(self, name: str, msg: dict[str, Any] | None = None) -> None:
        """Apply a command by name: ``start`` (``msg`` may carry ``setup_json``), ``stop``,
        ``hard_stop``."""
        if name == "start":
            if msg is not None and "setup_json" in msg:
                self.start(msg["setup_json"], with_setup=True)
            else:
                self.start()
        elif name == "stop":
            self.request_stop()
        elif name == "hard_stop":
            self.request_hard_stop()


# ---- log forwarding --------------------------------------------------------------------------
class ForwardStream(io.TextIOBase):
    """A text stream whose writes become ``log`` messages (one per write)."""

    def __init__(self, emit: Emit, name: str) -> None:
        super().__init__()
        self._emit = emit
        self._name = name

    def write(self, text: str) -> int:  # type: ignore[override]
        if text:
            self._emit({"type": "log", "stream": self._name, "text": text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def quiet_logger() -> Logger:
    return Logger(io.StringIO())


# ---- metrics: deltas of an engine -----------------------------------------------------------
def take_delta(hub: MetricsHub) -> dict[str, Any] | None:
    """Swap the hub's engine for an empty one and return the old one's snapshot: the
    aggregates since the previous call (None if nothing happened)."""
    from .metrics.engine import MetricsEngine
    hub.drain()
    with hub._lock:
        old = hub.engine
        if old is None:
            return None
        new = MetricsEngine(hub.registry, track_groups=old.track_groups)
        plan = hub.plan
        if plan is not None and plan.thresholds:
            new.configure_thresholds(plan.thresholds)  # the same sub-metrics
        hub.engine = new
    snap = old.snapshot()
    if not snap["metrics"] and not snap["submetrics"] and not snap["check_totals"] and not snap["groups"]["groups"]:
        return None
    return snap


class DeltaHub(MetricsHub):
    """A MetricsHub with :func:`take_delta` as a method."""

    def take_delta(self) -> dict[str, Any] | None:
        return take_delta(self)


# ---- configs and shares ----------------------------------------------------------------------
def scenario_configs(cfg: RunConfig, script_options: dict[str, Any], exports: list[str] | None) -> list[Any]:
    """The validated scenario configs of a run (the same ones ``planning.build_plan`` uses)."""
    from .options import consolidate, load_config_file
    from .planning import _cli_layer
    from .scenarios import build_scenarios, sorted_configs
    script = dict(script_options or {})
    if cfg.options:
        script.update(cfg.options)
    config_file = load_config_file(cfg.config_file) if cfg.config_file else None
    url = file_url(cfg.script)
    system_env = getattr(cfg, "system_env", None)
    environ = dict(os.environ if system_env is None else system_env)
    opts, _ = consolidate(config_file=config_file, script=script, env=environ,
                          cli=_cli_layer(cfg), script_file=cfg.script, script_url=url,
                          config_path=cfg.config_file or "")
    configs, _ = build_scenarios(opts, exports, script_file=cfg.script, script_url=url)
    return sorted_configs(configs)


def _nth_owned(et: ExecutionTuple | None) -> Callable[[int], int]:
    """Local index n → the n-th global index owned by ``et`` (identity without a tuple)."""
    if et is None:
        return lambda n: n
    seq = et.sequence
    owned = seq.owned_in_stripe(et.index)
    lcd = seq.lcd
    if not owned:
        return lambda n: n
    per = len(owned)

    def nth(n: int) -> int:
        q, r = divmod(n, per)
        return q * lcd + owned[r]
    return nth


class _Offsets:
    """Start offsets (s) of the global arrival-rate iterations this segment owns."""

    def __init__(self, spec: ScenarioSpec, cfg: Any, it: ExecutionTuple | None) -> None:
        self.spec = spec  # the global (unscaled) spec
        self.cfg = cfg
        self.it = it

    def __call__(self) -> Iterator[float]:
        if self.it is None:
            return iter(())
        from . import executors
        try:
            return iter(executors.arrival_offsets(self.spec, self.it))  # type: ignore[call-arg]
        except TypeError:  # an arrival_offsets without segments: the schedule math directly
            c = self.cfg
            if c.executor == "constant-arrival-rate":
                gen = constant_arrival_offsets(int(c.rate or 0), c.time_unit, c.duration or 0, self.it)
            else:
                gen = ramping_arrival_offsets(int(c.start_rate or 0), c.time_unit, c.stage_pairs(), self.it)
            return (t / 1e9 for t in gen)


def segment_specs(specs: list[ScenarioSpec], configs: list[Any], et: ExecutionTuple) -> list[tuple[ScenarioSpec, dict[str, Any]]]:
    """Each scenario's spec scaled to the segment, with what the executor needs besides."""
    from .schedule import shared_iterations_share
    by_name = {c.name: c for c in configs}
    out: list[tuple[ScenarioSpec, dict[str, Any]]] = []
    for spec in specs:
        c = by_name[spec.name]
        s = dataclasses.replace(spec)
        extra: dict[str, Any] = {"iteration_map": _nth_owned(et)}
        if hasattr(s, "requirements"):
            s.requirements = list(c.requirements(et))
        ex = spec.executor
        if ex == "shared-iterations":
            s.vus, s.iterations = shared_iterations_share(spec.vus, spec.iterations, et)
            extra["iteration_map"] = _nth_owned(et.derive(spec.vus) if spec.vus else None)
        elif ex in ("per-vu-iterations", "constant-vus"):
            s.vus = et.scale(spec.vus)
        elif ex == "ramping-vus":
            # the executor follows the global stages through the tuple (k6's striped steps)
            extra["tuple"] = et
            extra["global_spec"] = spec
            s.start_vus = et.scale(spec.start_vus)
            s.stages = [(d, float(et.scale(int(t)))) for d, t in spec.stages]
        elif ex in ("constant-arrival-rate", "ramping-arrival-rate"):
            s.pre_allocated_vus = et.scale(spec.pre_allocated_vus)
            s.max_vus = et.scale(max(spec.max_vus, spec.pre_allocated_vus))
            it = c.iteration_tuple(et)
            s.offsets = _Offsets(spec, c, it)
            extra["iteration_map"] = _nth_owned(it)
        out.append((s, extra))
    return out


# ---- the segment runner ----------------------------------------------------------------------
class SegmentRunner(Runner):
    """A Runner that runs one segment: no banner, setup, teardown or summary of its own.

    It reuses the Runner's flow (options pass, plan, VUs, executors) and changes it at the
    Runner's seams: the plan is scaled to the segment once it exists (``_setup_console``),
    the test starts at the caller's signal (``_run_scenarios``), no ``vus`` samples of its
    own (the coordinator sums the segments), and ``_finish`` reports instead of summarising.
    """

    def __init__(self, cfg: RunConfig, et: ExecutionTuple, setup_json: str | None, emit: Emit,
                 control: Control) -> None:
        super().__init__(cfg)
        self.et = et
        self.given_setup_json = setup_json
        self.emit = emit
        self.control = control
        self._vu_ids = _nth_owned(et)
        self._abort_sent = False
        self._extras: dict[str, dict[str, Any]] = {}
        self._scaled = False
        self._last_init_report = 0.0
        self.started = False
        self.workers_start = 0.0

    # ---- seams ---------------------------------------------------------------------------
    def _setup_console(self) -> None:
        """Called once the plan exists and before any VU: scale the plan to the segment."""
        from .scenarios import test_max_vus
        plan = self.plan
        configs = scenario_configs(self.cfg, plan.options, None)
        scaled = segment_specs(plan.scenarios, configs, self.et)
        plan.scenarios = [s for s, _ in scaled]
        self._extras = {s.name: extra for s, extra in scaled}
        plan.max_vus = test_max_vus(configs, self.et)
        plan.no_setup = True
        plan.no_teardown = True
        plan.outputs = []
        self._scaled = True
        self.control.listen(self._on_control)

    def _start_sampler(self) -> None:
        pass  # vus/vus_max are the coordinator's (sums over the segments)

    def _check_thresholds_abort(self) -> None:
        pass  # thresholds are the coordinator's

    def _install_signals(self):  # type: ignore[no-untyped-def]
        return None  # the caller forwards signals as commands

    # VU ids: __VU / idInInstance are local, idInTest is the global (striped) number
    def _new_vu(self) -> VU:
        lock = getattr(self, "_vu_lock", None)
        if lock is not None:
            with lock:
                local = len(self.vus) + 1
                vu = VU(local, self.ctx, id_in_test=self._vu_ids(local - 1) + 1)
                self.vus.append(vu)
        else:
            local = len(self.vus) + 1
            vu = VU(local, self.ctx, id_in_test=self._vu_ids(local - 1) + 1)
            self.vus.append(vu)
        self._start_vu(vu)
        if self.state is not None:
            now = time.monotonic()
            if not self.started and now - self._last_init_report >= REPORT_INTERVAL:
                self._last_init_report = now
                self.emit({"type": "init", "vus_initialised": self.state.vus_initialised})
        return vu

    def _on_control(self, what: str) -> None:
        if what in ("stop", "hard_stop"):
            st = self.state
            if what == "hard_stop" and st is not None:
                st.hard_stop.set()
            self.request_stop()
            if what == "hard_stop" and st is not None:
                for ex in list(st.executors):
                    ex.interrupt_running()

    def _run_scenarios(self, specs: list[ScenarioSpec]) -> None:
        if not self._scaled:
            raise RuntimeError("segment runner: the plan was not scaled to the segment (Runner seam moved?)")
        state = self.state
        assert state is not None
        self.emit({"type": "ready", "vus": len(self.vus)})
        while not self.control.started.wait(0.05):
            if self.control.stop.is_set():
                return
        if self.control.stop.is_set():
            return
        state.test_start = time.monotonic()
        self.workers_start = state.test_start
        self.hub.test_started()
        if self.control.setup_given:
            state.setup_json = self.control.setup_json
        elif self.given_setup_json is not None:
            state.setup_json = self.given_setup_json
        self.started = True
        executors: list[Executor] = []
        for spec in specs:
            extra = self._extras.get(spec.name, {})
            ex = EXECUTORS[spec.executor](spec, state, self.pool, self.hosts)
            if isinstance(ex, RampingVUs) and "tuple" in extra:
                ex.et = extra["tuple"]  # type: ignore[attr-defined]
                ex.global_spec = extra["global_spec"]  # type: ignore[attr-defined]
            ex.iteration_in_test = extra.get("iteration_map", ex.iteration_in_test)  # type: ignore[method-assign]
            ex.dropped_hook = self._dropped  # type: ignore[attr-defined]
            executors.append(ex)
        state.executors = executors
        threads, done = start_scenarios(executors, state.stopping)
        next_report = time.monotonic() + REPORT_INTERVAL
        while not done.wait(max(0.0, min(0.1, next_report - time.monotonic()))):
            control = getattr(self, "_control", None)
            if control is not None:
                control()
            if time.monotonic() >= next_report:
                self._report()
                next_report = time.monotonic() + REPORT_INTERVAL
        for t in threads:
            t.join()

    def _finish(self, exports: list[str]) -> int:
        self._report(final=True)
        if self.abort_code is not None:
            return self.abort_code
        if self.state is not None and getattr(self.state, "marked_failed", False):
            return ExitCode.MARKED_AS_FAILED
        return ExitCode.OK

    # ---- reporting -----------------------------------------------------------------------
    def _progress(self) -> dict[str, Any]:
        st = self.state
        assert st is not None
        scen: dict[str, Any] = {}
        t0 = self.workers_start
        for ex in st.executors:
            p = ex.progress
            scen[ex.spec.name] = {
                "completed": p.completed, "interrupted": p.interrupted, "dropped": p.dropped,
                "active": p.active, "running": len(ex.running), "started": p.iterations_started,
                "started_at": None if p.started_at is None else p.started_at - t0,
                "ended_at": None if p.ended_at is None else p.ended_at - t0,
                "finished": ex.finished.is_set(),
            }
        return {"completed": st.completed, "interrupted": st.interrupted, "vus_active": st.vus_active,
                "vus_initialised": st.vus_initialised, "marked_failed": bool(getattr(st, "marked_failed", False)),
                "scenarios": scen}

    def _report(self, final: bool = False) -> None:
        if self.abort_code is not None and not self._abort_sent:
            self._abort_sent = True
            self.emit({"type": "abort", "code": self.abort_code, "message": self.abort_message,
                       "fields": dict(getattr(self, "abort_fields", {}) or {})})
        try:
            snap = take_delta(self.hub)
        except Exception as exc:  # noqa: BLE001 - report, don't die
            self.logger.error(f"metrics snapshot failed: {exc}")
            snap = None
        msg: dict[str, Any] = {"type": "update", "snapshot": snap}
        if self.state is not None and self.started:
            msg["progress"] = self._progress()
        self.emit(msg)


def run_segment(script_path: str, run_config_dict: dict[str, Any], segment: str, segment_sequence: str,
                setup_json: str | None, emit: Emit, *, control: Control | None = None) -> None:
    """Run the ``segment`` (e.g. ``"1/2:1"``) of ``segment_sequence`` (``"0,1/2,1"``) of the test.

    ``run_config_dict`` holds :class:`~jsrunner.runner.RunConfig` fields (see
    :func:`config_to_dict`); ``setup_json`` is what ``setup()`` returned, as JSON (None: no
    setup ran). Messages go to ``emit`` (see the module doc); the last one is ``done``.
    """
    control = control if control is not None else Control(started=True)
    out = ForwardStream(emit, "stdout")
    err = ForwardStream(emit, "stderr")
    data = dict(run_config_dict)
    data["script"] = script_path
    cfg = config_from_dict(data, stdout=out, stderr=err)
    cfg.quiet = True
    cfg.out = []
    et = tuple_from_options(segment, segment_sequence)
    runner = SegmentRunner(cfg, et, setup_json, emit, control)
    code: int = ExitCode.FATAL
    try:
        result = runner.run()
        code = result.exit_code
    finally:
        st = runner.state
        emit({"type": "done", "code": code, "abort_code": runner.abort_code, "abort_message": runner.abort_message,
              "abort_fields": dict(getattr(runner, "abort_fields", {}) or {}),
              "marked_failed": bool(getattr(st, "marked_failed", False)) if st is not None else False,
              "started": runner.started})


__all__ = ["run_segment", "Control", "SegmentRunner", "DeltaHub", "take_delta", "ForwardStream", "config_to_dict",
           "config_from_dict", "scenario_configs", "segment_specs", "REPORT_INTERVAL"]
