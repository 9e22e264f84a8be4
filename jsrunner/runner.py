"""One test run in this process: options, VUs, scenarios, lifecycle, metrics, summary.

The order of events follows k6 (runtime.md §1): an options-pass init, one init per VU,
``setup()`` in its own runtime, the scenarios, ``teardown()`` in a fresh runtime, then
the summary runtime (``handleSummary``) unless ``--no-summary``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from . import fibers
from .errors import ExitCode, JsRunnerError, ScriptError
from .executors import EXECUTORS, Executor, RunState, ScenarioSpec, VUHost, VUPool
from .loader import _MISSING_FILE, ModuleLoader
from .log import Logger, open_log_file
from .metrics_hub import UNSET, MetricsHub
from .vu import VU, Phase, RunContext, mono_ms

#: VU threads woken together at the end of a run (see Runner._shutdown_vus)
SHUTDOWN_WAVE = 8


@dataclass
class RunConfig:
    """Everything the command line (or the Python API) can set for a run."""

    script: str
    vus: int | None = None
    iterations: int | None = None
    duration: str | None = None
    stages: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    include_system_env: bool = True
    config_file: str | None = None
    quiet: bool = False
    verbose: bool = False
    no_summary: bool = False
    no_thresholds: bool = False
    no_setup: bool = False
    no_teardown: bool = False
    no_color: bool = False
    summary_export: str | None = None
    summary_trend_stats: str | None = None
    summary_time_unit: str | None = None
    summary_mode: str | None = None
    out: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    system_tags: str | None = None
    log_output: str | None = None
    log_format: str | None = None
    console_output: str | None = None
    throw: bool = False
    options: dict[str, Any] | None = None  # Python API: options layered above the script's
    stdout: IO[str] | None = None
    stderr: IO[str] | None = None
    install_signal_handlers: bool = False
    #: the process environment (``K6_*`` options, ``__ENV`` system variables); None = os.environ
    system_env: dict[str, str] | None = None


@dataclass
class RunResult:
    exit_code: int
    summary_data: dict[str, Any] | None = None
    error: str | None = None
    log_lines: list[str] = field(default_factory=list)


class Runner:
    """One run: options pass → plan → VUs → setup → scenarios → teardown → summary.

    ``run()`` never raises for problems of the script or its options: they become the
    exit code of the returned :class:`RunResult` (and a log line), like k6.
    """

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.stdout = cfg.stdout or sys.stdout
        self.logger = make_logger(cfg, cfg.stderr or sys.stderr, self.stdout)
        self.state: RunState | None = None
        self.vus: list[VU] = []
        self.hosts: dict[int, VUHost] = {}
        self.signal_count = 0
        self.abort_code: int | None = None
        self.abort_message: str | None = None
        self.abort_fields: dict[str, str] = {}
        #: where the run is (the progress output shows it): init, setup, run, teardown, done
        self.phase = "run"
        self.vus_to_init = 0
        self.test_end: float | None = None
        self.progress: Any = None
        self.summary_data: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._vu_lock = threading.Lock()
        self._pending_signal: str | None = None
        self._lifecycle_vu: VU | None = None
        self._sampler_stop = threading.Event()
        self._last_abort_check = 0.0
        self._vus_shut_down = False

    # ---- entry -------------------------------------------------------------------------
    def run(self) -> RunResult:
        # The handlers stay installed after the run, as in k6: a second signal while the
        # summary is being written still ends the process at once.
        self._install_signals()
        try:
            code = self._run()
        except JsRunnerError as exc:
            self.logger.error(exc.message, **exc.fields)
            code = exc.exit_code
        finally:
            self._stop_helpers()
            if not self._vus_shut_down:
                self._shutdown_vus(timeout=2.0)
        return RunResult(code, self.summary_data, None, list(self.logger.recent))

    def _options_pass(self, env: dict[str, str]) -> VU:
        """Load the script once in a probe VU (sets ``loader``, ``hub``, ``setup_data`` and
        ``ctx``); the closed probe, with its exports and options. Errors as k6's: an
        exec.test.abort() in the init code, a script that exports no function."""
        cfg = self.cfg
        loader = ModuleLoader(cfg.script)
        self.loader = loader
        self.hub = MetricsHub()
        self.hub.stdout = self.stdout
        self.setup_data: Any = UNSET
        ctx = RunContext(loader=loader, logger=self.logger, env=env, sample_sink=self.hub.sink,
                         metric_registry=self.hub.registry, throw=cfg.throw)
        self.ctx = ctx
        probe = VU(0, ctx)
        aborted: list[str] = []
        ctx.state = _ProbeState(lambda text, vu: aborted.append(text))
        try:
            probe.initialise()
        except ScriptError:
            if aborted:  # exec.test.abort() in the options pass
                raise JsRunnerError(f"could not initialize '{cfg.script}': could not load JS test "
                                    f"'{loader.main_id}': {aborted[0]}", exit_code=ExitCode.SCRIPT_ABORTED) from None
            raise
        finally:
            ctx.state = None
        probe.close()
        if not probe.exports:
            raise JsRunnerError(
                f"could not initialize '{cfg.script}': could not load JS test '{loader.main_id}': "
                "no exported functions in script", exit_code=ExitCode.FATAL)
        return probe

    def _run(self) -> int:
        cfg = self.cfg
        script = cfg.script
        check_script(script)
        system_env, env = run_env(cfg)
        self.env = env

        # 1. options pass: exported names and options, then the plan (all config errors here)
        probe = self._options_pass(env)
        ctx = self.ctx
        exports = probe.exports
        from .planning import build_plan
        plan = build_plan(cfg, probe.script_options or {}, exports, env, self.logger, environ=system_env)
        self.plan = plan
        ctx.options = plan.options_view
        self.hub.configure(plan)
        state = RunState(env, plan.global_tags)
        state.warn = lambda msg, **fields: self.logger.warning(msg, **fields)
        state.error = lambda msg, **fields: self.logger.error(msg, **fields)
        state.iteration_hook = self._iteration_done
        state.batch_hook = self._batch_done
        state.on_abort = self._script_abort
        self.state = state
        ctx.state = state
        if fibers.enabled:
            ctx.fibers = fibers.SchedulerPool()

        self._setup_console()
        if not cfg.quiet:
            self.stdout.write(plan.banner(script, cfg))
            self.stdout.flush()
            self.progress.start()

        # 2. VUs: the most the plan ever needs at once (arrival rates add theirs on demand)
        self.phase = "init"
        self.pool = VUPool(self._new_vu, unplanned_new=True)
        self.vus_to_init = planned_vus(plan)
        for _ in range(self.vus_to_init):
            if self._control():
                break
            try:
                self.pool.add(self._new_vu())
            except ScriptError as exc:
                if not exc.message.startswith("\0abort") and self.abort_code != ExitCode.SCRIPT_ABORTED:
                    raise
                # exec.test.abort() in a VU's init code: recorded by the abort hook (k6 then
                # still prints the summary and exits 108)
                self.abort_fields = {"hint": f"error while initializing VU #{len(self.vus)}"}
                break

        # 3. setup → scenarios → teardown; the test clock runs from here (k6 MarkStarted)
        state.test_start = time.monotonic()
        self.hub.test_started()
        self._start_sampler()
        setup_ok = self.abort_code is None
        if setup_ok and not plan.no_setup:
            self.phase = "setup"
            if "setup" in exports:
                setup_ok = self._lifecycle("setup", plan.setup_timeout)
        if setup_ok and self.abort_code is None:
            self.phase = "run"
            self._run_scenarios(plan.scenarios)
        if setup_ok and not plan.no_teardown:
            self.phase = "teardown"
            if "teardown" in exports:
                self._lifecycle("teardown", plan.teardown_timeout)
        self.test_end = time.monotonic()
        self.test_duration = self.test_end - state.test_start
        self.hub.test_ended(self.test_duration)
        self.phase = "done"
        self._stop_helpers()
        self._shutdown_vus()
        self.hub.stop()
        # 4. summary and thresholds
        return self._finish(exports)

    def _new_vu(self) -> VU:
        with self._vu_lock:
            vu_id = len(self.vus) + 1
            vu = VU(vu_id, self.ctx)
            self.vus.append(vu)
        self._start_vu(vu)
        return vu

    def _start_vu(self, vu: VU) -> None:
        """Initialise a new VU, give it a host and its thread, count it as initialised."""
        vu.initialise()
        host = VUHost(vu)
        self.hosts[vu.id] = host
        vu.start_thread(host)
        if self.state is not None:
            with self.state.lock:
                self.state.vus_initialised += 1

    # ---- helpers running beside the test -----------------------------------------------
    def _setup_console(self) -> None:
        """stdout/stderr writers like k6's: on a terminal each line ends with an erase code
        and, with the progress block shown, the block is drawn again after other output."""
        from .progress import ProgressPrinter, console_stream
        if self.cfg.quiet:
            self.stdout = console_stream(self.stdout)  # type: ignore[assignment]
            self.logger.stream = console_stream(self.logger.stream)  # type: ignore[assignment]
        else:
            printer = ProgressPrinter(self, self.stdout, no_color=self.cfg.no_color)
            self.progress = printer
            self.stdout = printer.wrap(self.stdout)  # type: ignore[assignment]
            self.logger.stream = printer.wrap(self.logger.stream)  # type: ignore[assignment]
        self.hub.stdout = self.stdout

    def _start_sampler(self) -> None:
        """``vus`` and ``vus_max`` every second, from the test start (k6 emitVUsAndVUsMax)."""
        state, hub, tags = self.state, self.hub, dict(self.plan.global_tags)
        assert state is not None

        def loop() -> None:
            while not self._sampler_stop.wait(1.0):
                now = mono_ms()
                hub.emit_now("vus", state.vus_active, tags, now)
                hub.emit_now("vus_max", state.vus_initialised, tags, now)

        threading.Thread(target=loop, name="vus-sampler", daemon=True).start()

    def _stop_helpers(self) -> None:
        self._sampler_stop.set()
        if self.progress is not None:
            self.progress.stop()

    # ---- lifecycle functions -----------------------------------------------------------
    def _lifecycle(self, kind: str, timeout: float) -> bool:
        """Run ``setup()`` or ``teardown()`` in a fresh runtime; False if the run must stop."""
        assert self.state is not None
        vu = VU(0, self.ctx)
        vu.initialise()
        tags = dict(self.plan.global_tags, group=f"::{kind}")
        phase = Phase(kind, fn=kind, data_json=self.state.setup_json if kind == "teardown" else None,
                      env=self.env, tags=tags)
        t = threading.Thread(target=vu.run_phase, args=(phase,), name=kind, daemon=True)
        self._lifecycle_vu = vu
        deadline = time.monotonic() + timeout
        t.start()
        timed_out = False
        while t.is_alive():
            t.join(min(0.1, max(0.0, deadline - time.monotonic())))
            # a signal interrupts setup() (k6 runs it with the run context), not teardown()
            if self._control() and kind == "setup":
                vu.interrupt.set()
                vu.wake()
            if t.is_alive() and time.monotonic() >= deadline:
                timed_out = True
                break
        if timed_out:
            vu.interrupt.set()  # pending timers are dropped with their warnings
            vu.wake()
            t.join(2.0)
        self._lifecycle_vu = None
        vu.close()
        self._emit_trail(tags, phase.ended or mono_ms(), vu.data_sent, vu.data_received)
        if timed_out:
            code = ExitCode.SETUP_TIMEOUT if kind == "setup" else ExitCode.TEARDOWN_TIMEOUT
            self._set_abort(code, f"{kind}() execution timed out after {fmt_seconds(timeout)} seconds",
                            hint=f"You can increase the time limit via the {kind}Timeout option")
            return False
        if phase.error is not None:
            if phase.error.startswith("\0abort"):
                return False  # the message was recorded by exec.test.abort()
            if phase.error.startswith("\0fatal:"):
                self._set_abort(ExitCode.FATAL, phase.error[len("\0fatal:"):])
                return False
            # the run error: logged at the very end, after the summary (k6)
            if not self._set_abort(ExitCode.SCRIPT_EXCEPTION, phase.error, hint="script exception"):
                self.logger.error(phase.error, hint="script exception")
            return False
        if phase.interrupted:
            return False  # stopped by a signal
        if kind == "setup":
            self.state.setup_json = phase.result if phase.result is not None else "null"
            if phase.result is not None:
                self.setup_data = json.loads(phase.result)
        return True

    # ---- scenarios ---------------------------------------------------------------------
    def _run_scenarios(self, specs: list[ScenarioSpec]) -> None:
        """Run every scenario (each executor in its own thread) until all are done."""
        state = self.state
        assert state is not None
        executors: list[Executor] = []
        for spec in specs:
            ex = EXECUTORS[spec.executor](spec, state, self.pool, self.hosts)
            ex.dropped_hook = self._dropped
            executors.append(ex)
        state.executors = executors
        threads, all_done = start_scenarios(executors, state.stopping)
        while not all_done.wait(0.1):
            self._control()
            self._check_thresholds_abort()
        for t in threads:
            t.join()

    def _dropped(self, ex: Executor) -> None:
        self.hub.emit_now("dropped_iterations", 1, dict(ex.tags))

    def _iteration_done(self, vu: VU, phase: Phase) -> None:
        err = phase.error
        if err is not None and not err.startswith("\0"):
            fields = {"executor": phase.scenario.spec.executor, "scenario": phase.scenario.spec.name}
            if not phase.error_in_promise:
                fields["source"] = "stacktrace"
            self.logger.error(err, **fields)
        tags = dict(phase.scenario.tags, group="")
        if phase.interrupted and not (err or "").startswith("\0abort"):
            # cut off: only the network trail (the aborting iteration still counts in full)
            self._emit_trail(tags, phase.ended, vu.data_sent, vu.data_received)
            return
        self.hub.iteration_samples(tags, phase.started, phase.ended, vu.data_sent, vu.data_received)

    def _batch_done(self, vu: VU, executor: Any, marks: list[float]) -> None:
        if len(marks) > 1:
            self.hub.iteration_batch(dict(executor.tags, group=""), marks)

    def _emit_trail(self, tags: dict[str, str], end_ms: float, sent: int, received: int) -> None:
        """``data_sent``/``data_received`` of a run of JS code that is not a full iteration
        (k6 emits them for interrupted iterations and for setup/teardown too)."""
        self.hub.sink(None, [["data_sent", sent, tags, end_ms, None],  # type: ignore[arg-type]
                             ["data_received", received, tags, end_ms, None]])

    def _check_thresholds_abort(self) -> None:
        if self.plan.no_thresholds or self.abort_code is not None:
            return
        if time.monotonic() - self._last_abort_check < 2.0:
            return
        self._last_abort_check = time.monotonic()
        crossed = self.hub.abort_check()
        if crossed:
            self._set_abort(ExitCode.THRESHOLDS_FAILED,
                            f"thresholds on metrics '{', '.join(crossed)}' were crossed; at least one has "
                            "abortOnFail enabled, stopping test prematurely")
            self.request_stop()

    # ---- stopping ----------------------------------------------------------------------
    def _set_abort(self, code: int, message: str | None, **fields: str) -> bool:
        """Record why the run stops (the first reason wins, like k6); True if it was the first."""
        with self._lock:
            if self.abort_code is not None:
                return False
            self.abort_code = code
            self.abort_message = message
            self.abort_fields = dict(fields)
            return True

    def _script_abort(self, text: str, vu: VU) -> None:
        """``exec.test.abort()`` (any thread): stop the test, interrupt the other VUs."""
        self._set_abort(ExitCode.SCRIPT_ABORTED, text)
        self.request_stop()

    def request_stop(self) -> None:
        """Stop the test: no new iterations, running ones interrupted (k6 cancels the run
        context on abort, on a signal and on an abortOnFail threshold)."""
        state = self.state
        if state is None:
            return
        state.stopping.set()
        for ex in list(state.executors):
            abort = getattr(ex, "abort", None)
            if abort is not None:
                abort()
        vu = self._lifecycle_vu
        if vu is not None and self.phase == "setup":
            vu.interrupt.set()
            vu.wake()

    def _control(self) -> bool:
        """Act on a pending signal (on the main thread); True if the test is stopping."""
        with self._lock:
            name, self._pending_signal = self._pending_signal, None
        if name is not None:
            self._set_abort(ExitCode.EXTERNAL_ABORT,
                            f"test run was aborted because k6 received a '{name}' signal")
            self.request_stop()
        return self.abort_code is not None or (self.state is not None and self.state.stopping.is_set())

    # ---- signals -----------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Any] | None:
        if not self.cfg.install_signal_handlers or threading.current_thread() is not threading.main_thread():
            return None
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return old

    def _on_signal(self, signum: int, frame: Any) -> None:
        """First SIGINT/SIGTERM: stop gracefully (teardown and summary still run, exit 105).
        Second: exit at once."""
        name = "interrupt" if signum == signal.SIGINT else "terminated"
        self.signal_count += 1
        if self.signal_count == 1:
            # acted on outside the handler (it may have interrupted code holding a lock)
            self._pending_signal = name
            threading.Thread(target=self._control, name="signal", daemon=True).start()
            return
        # Not through the logger: its lock may be held by the code this handler interrupted.
        try:
            line = self.logger.format("error", "Aborting k6 in response to signal", {"sig": name})
            stream = self.logger.stream
            if stream is not None:
                stream.write(line + "\n")
                stream.flush()
            self.stdout.flush()
        except Exception:  # noqa: BLE001 - we are leaving anyway
            pass
        os._exit(ExitCode.EXTERNAL_ABORT)

    def _shutdown_vus(self, timeout: float = 10.0) -> None:
        """End every VU thread (each closes its sockets on the way out) and wait for them.

        Woken a few at a time: 1,000 threads woken in one loop all queued for the GIL at
        once, each waking every switch interval to ask for it (most of what ending 1,000
        VUs cost). The flags go up for all first, so none starts anything new meanwhile.
        """
        vus = list(self.vus)
        for vu in vus:
            vu.stop_all.set()
            vu.interrupt.set()
        self._vus_shut_down = True
        deadline = time.monotonic() + timeout
        i, wave = 0, SHUTDOWN_WAVE
        while i < len(vus):
            batch, i = vus[i:i + wave], i + wave
            for vu in batch:
                host = self.hosts.get(vu.id)
                if host is not None:
                    host.assignments.put(None)
                vu.wake()
            for vu in batch:
                if vu.thread is not None:
                    vu.thread.join(max(0.0, deadline - time.monotonic()))
                    if vu.thread.is_alive():
                        wave = len(vus)  # one is stuck: wake all the others now, as before
        pool = getattr(getattr(self, "ctx", None), "fibers", None)
        if pool is not None:
            pool.join(max(0.0, deadline - time.monotonic()))

    # ---- the end -----------------------------------------------------------------------
    def _finish(self, exports: list[str]) -> int:
        plan = self.plan
        duration = getattr(self, "test_duration", 0.0)
        if self.state is not None and self.state.completed == 0 and self.abort_code is None:
            self.logger.warning("No script iterations fully finished, consider making the test duration longer")
        results = self.hub.evaluate_thresholds(duration) if not plan.no_thresholds else None
        self.summary_data = None
        if not plan.no_summary:
            data = self.hub.summary_data(duration, self.setup_data, self.stdout)
            self.summary_data = data
            # k6 creates the summary runtime whenever the summary is enabled (scripts that
            # count their init runs see it), even without handleSummary.
            result = self._handle_summary(data, "handleSummary" in exports)
            self._write_summary(data, duration, result)
        if self.hub.output_error is not None:
            err = self.hub.output_error
            self.logger.error(getattr(err, "message", str(err)))
        if self.progress is not None:
            self.progress.final()
        if self.abort_code is not None:
            if self.abort_message:
                self.logger.error(self.abort_message, **self.abort_fields)
            return self.abort_code
        if self.state is not None and self.state.marked_failed:
            self.logger.error("test run was marked as failed")
            return ExitCode.MARKED_AS_FAILED
        if results is not None and results.crossed:
            self.logger.error(f"thresholds on metrics '{', '.join(results.crossed)}' have been crossed")
            return ExitCode.THRESHOLDS_FAILED
        return ExitCode.OK

    def _write_summary(self, data: dict[str, Any], duration: float, result: Any) -> None:
        from .metrics.export import FAILED_SUMMARY_MSG, apply_handle_summary_result
        plan = self.plan
        default_text = None
        if result is None or result is _NO_HANDLE_SUMMARY or not result:
            default_text = self.hub.render_summary(duration, data, self.stdout)
        if result is _NO_HANDLE_SUMMARY:
            result = None
        export_text = self.hub.export_text(data) if plan.summary_export else None

        def write_out(b: bytes) -> None:
            self.stdout.write(b.decode("utf-8", errors="replace"))
            self.stdout.flush()

        def write_err(b: bytes) -> None:
            stream = self.cfg.stderr or sys.stderr
            stream.write(b.decode("utf-8", errors="replace"))
            stream.flush()

        outcome = apply_handle_summary_result(result, write_stdout=write_out, write_stderr=write_err,
                                              default_stdout=default_text, export_path=plan.summary_export,
                                              export_text=export_text)
        for err in outcome.errors:
            self.logger.error(FAILED_SUMMARY_MSG, error=err)
        if outcome.errors and not outcome.used_default and "should return a map" not in outcome.errors[0]:
            pass

    def _handle_summary(self, data: dict[str, Any], exported: bool) -> Any:
        vu = VU(0, self.ctx)
        try:
            vu.initialise()
        except ScriptError as exc:
            self.logger.error(exc.message, **exc.fields)
            return _NO_HANDLE_SUMMARY
        if not exported:
            vu.close()
            return _NO_HANDLE_SUMMARY
        phase = Phase("summary", fn="handleSummary", data_json=json.dumps(data), env=self.env,
                      tags=dict(self.plan.global_tags, group=""))
        t = threading.Thread(target=vu.run_phase, args=(phase,), name="summary", daemon=True)
        t.start()
        t.join(120)
        vu.close()
        if t.is_alive() or phase.error is not None:
            if phase.error:
                self.logger.error(phase.error, hint="script exception")
            return _NO_HANDLE_SUMMARY
        return phase.result


_NO_HANDLE_SUMMARY = object()


class _ProbeState:
    """What k6/execution sees during the options pass: only the abort hook matters."""

    def __init__(self, on_abort: Callable[[str, VU], None]) -> None:
        self.on_abort = on_abort
        self.completed = self.interrupted = self.vus_active = self.vus_initialised = 0
        self.test_start = time.monotonic()
        self.marked_failed = False
        self.setup_json = None


def start_scenarios(executors: list[Executor],
                    stopping: threading.Event) -> tuple[list[threading.Thread], threading.Event]:
    """Each executor's ``run()`` in a daemon thread of its own (``scenario-<name>``), started;
    the threads and an event set once every one has returned. If ``stopping`` is already set
    (stopped while the executors were being created) they are aborted at once."""
    all_done = threading.Event()
    left = [len(executors)]
    left_lock = threading.Lock()

    def run(ex: Executor) -> None:
        try:
            ex.run()
        finally:
            with left_lock:
                left[0] -= 1
                if left[0] <= 0:
                    all_done.set()

    threads = [threading.Thread(target=run, args=(ex,), name=f"scenario-{ex.spec.name}", daemon=True)
               for ex in executors]
    if not threads:
        all_done.set()
    for t in threads:
        t.start()
    if stopping.is_set():
        for ex in executors:
            ex.abort()
    return threads, all_done


def check_script(script: str) -> None:
    """k6's error (exit code FATAL) for a main script that is not a file on disk."""
    if not os.path.isfile(script):
        raise JsRunnerError(_MISSING_FILE.format(spec=script), exit_code=ExitCode.FATAL)


def run_env(cfg: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The system environment (``cfg.system_env`` or os.environ) and the script's ``__ENV``:
    the system environment if ``include_system_env``, then ``cfg.env`` (``-e``) over it."""
    system_env = getattr(cfg, "system_env", None)
    system_env = dict(os.environ if system_env is None else system_env)
    env = dict(system_env) if cfg.include_system_env else {}
    env.update(cfg.env)
    return system_env, env


def planned_vus(plan: Any) -> int:
    """VUs to initialise before the test: the most the scenarios plan to use at once (k6
    GetMaxPlannedVUs); arrival-rate VUs beyond ``preAllocatedVUs`` come later, on demand."""
    from .schedule import combine_plans, max_planned_vus
    from .durations import from_seconds
    steps = combine_plans([(from_seconds(s.start_time), s.requirements) for s in plan.scenarios
                           if s.requirements])
    if not steps:
        return plan.max_vus
    return max_planned_vus(steps)


def fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def make_logger(cfg: RunConfig, stderr: IO[str], stdout: IO[str]) -> Logger:
    stream: IO[str] | None = stderr
    out = cfg.log_output or "stderr"
    if out == "stdout":
        stream = stdout
    elif out == "none":
        stream = None
    elif out.startswith("file="):
        stream = open_log_file(out[5:])
    console = open_log_file(cfg.console_output, console=True) if cfg.console_output else None
    return Logger(stream, level="debug" if cfg.verbose else "info", fmt=cfg.log_format or "text",
                  console_file=console)
