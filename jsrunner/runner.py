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

from . import __version__
from .errors import ExitCode, JsRunnerError, ScriptError
from .executors import EXECUTORS, Executor, RunState, ScenarioSpec, VUHost, VUPool
from .loader import ModuleLoader, file_url
from .log import Logger
from .metrics_hub import UNSET, MetricsHub
from .vu import VU, Phase, RunContext, mono_ms


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


@dataclass
class RunResult:
    exit_code: int
    summary_data: dict[str, Any] | None = None
    error: str | None = None
    log_lines: list[str] = field(default_factory=list)


class Runner:
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.stdout = cfg.stdout or sys.stdout
        self.logger = make_logger(cfg, cfg.stderr or sys.stderr, self.stdout)
        self.state: RunState | None = None
        self.vus: list[VU] = []
        self.signal_count = 0
        self.abort_code: int | None = None
        self.abort_message: str | None = None

    # ---- entry -------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            code = self._run()
        except JsRunnerError as exc:
            self.logger.error(exc.message, **exc.fields)
            code = exc.exit_code
        return RunResult(code, getattr(self, "summary_data", None), None, list(self.logger.recent))

    def _run(self) -> int:
        cfg = self.cfg
        script = cfg.script
        if not os.path.isfile(script):
            raise JsRunnerError(
                f"The moduleSpecifier \"{script}\" couldn't be found on local disk. Make sure that you've "
                "specified the right path to the file. If you're running k6 using the Docker image make sure "
                "you have mounted the local directory (-v /local/path/:/inside/docker/path) containing your "
                "script and modules so that they're accessible by k6 from inside of the container, see "
                "https://grafana.com/docs/k6/latest/using-k6/modules/#use-modules-with-docker.",
                exit_code=ExitCode.FATAL)
        env = dict(os.environ) if cfg.include_system_env else {}
        env.update(cfg.env)
        self.env = env
        loader = ModuleLoader(script)
        self.loader = loader
        self.hub = MetricsHub()
        self.hub.stdout = self.stdout
        self.setup_data: Any = UNSET
        ctx = RunContext(loader=loader, logger=self.logger, env=env, sample_sink=self.hub.sink,
                         metric_registry=self.hub.registry, throw=cfg.throw)
        self.ctx = ctx

        # 1. options pass
        probe = VU(0, ctx)
        probe.initialise()
        probe.close()
        exports = probe.exports
        if not exports:
            raise JsRunnerError(
                f"could not initialize '{script}': could not load JS test '{loader.main_id}': no exported functions in script",
                exit_code=ExitCode.FATAL)
        from .plan import plan_run
        plan = plan_run(cfg, probe.script_options or {}, exports, env, self.logger)
        self.plan = plan
        ctx.options = plan.options_view
        self.hub.configure(plan)
        state = RunState(env, plan.global_tags)
        state.warn = lambda msg, **fields: self.logger.warning(msg, **fields)
        state.iteration_hook = self._iteration_done
        self.state = state
        ctx.state = state

        if not cfg.quiet:
            self.stdout.write(plan.banner(script, cfg))
            self.stdout.flush()

        # 2. VUs
        pool = VUPool(self._new_vu)
        self.pool = pool
        hosts: dict[int, VUHost] = {}
        self.hosts = hosts
        for _ in range(plan.max_vus):
            pool.add(self._new_vu())
        self._install_signals()

        # 3. setup
        setup_ok = True
        if "setup" in exports and not plan.no_setup:
            setup_ok = self._lifecycle("setup", plan.setup_timeout)
        # 4. scenarios
        if setup_ok and self.abort_code is None:
            self._run_scenarios(plan.scenarios)
        # 5. teardown
        if setup_ok and "teardown" in exports and not plan.no_teardown and self.abort_code in (None, ExitCode.SCRIPT_ABORTED, ExitCode.EXTERNAL_ABORT, ExitCode.THRESHOLDS_FAILED):
            if not (self.abort_code == ExitCode.SCRIPT_ABORTED and getattr(self, "abort_in_setup", False)):
                self._lifecycle("teardown", plan.teardown_timeout)
        self._shutdown_vus()
        self.hub.stop()
        # 6. summary and thresholds
        code = self._finish(exports)
        return code

    def _new_vu(self) -> VU:
        vu_id = len(self.vus) + 1
        vu = VU(vu_id, self.ctx)
        self.vus.append(vu)
        vu.initialise()
        host = VUHost(vu)
        self.hosts[vu.id] = host
        vu.start_thread(host)
        if self.state is not None:
            with self.state.lock:
                self.state.vus_initialised += 1
        return vu

    # ---- lifecycle functions -----------------------------------------------------------
    def _lifecycle(self, kind: str, timeout: float) -> bool:
        vu = VU(0, self.ctx)
        vu.initialise()
        tags = dict(self.plan.global_tags, group=f"::{kind}")
        phase = Phase(kind, fn=kind, data_json=self.state.setup_json if kind == "teardown" else None,
                      env=self.env, tags=tags)
        t = threading.Thread(target=vu.run_phase, args=(phase,), name=kind, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            vu.interrupt.set()
            vu.wake()
            t.join(5)
            name = "setup" if kind == "setup" else "teardown"
            self.abort_code = ExitCode.SETUP_TIMEOUT if kind == "setup" else ExitCode.TEARDOWN_TIMEOUT
            self.logger.error(f"{name}() execution timed out after {fmt_seconds(timeout)} seconds",
                              hint=f"You can increase the time limit via the {name}Timeout option")
            vu.close()
            return False
        vu.close()
        if phase.error is not None:
            if phase.error.startswith("\0abort"):
                self.abort_in_setup = kind == "setup"
                return False
            if phase.error.startswith("\0fatal:"):
                self.abort_code = ExitCode.FATAL
                self.logger.error(phase.error[len("\0fatal:"):])
                return False
            self.abort_code = ExitCode.SCRIPT_EXCEPTION
            self.logger.error(phase.error, hint="script exception")
            return False
        if kind == "setup":
            self.state.setup_json = phase.result if phase.result is not None else "null"
            if phase.result is not None:
                self.setup_data = json.loads(phase.result)
        return True

    # ---- scenarios ---------------------------------------------------------------------
    def _run_scenarios(self, specs: list[ScenarioSpec]) -> None:
        state = self.state
        assert state is not None
        state.test_start = time.monotonic()
        self.hub.test_started()
        executors: list[Executor] = []
        for spec in specs:
            cls = EXECUTORS[spec.executor]
            ex = cls(spec, state, self.pool, self.hosts)
            if hasattr(ex, "dropped_hook"):
                ex.dropped_hook = self._dropped  # type: ignore[attr-defined]
            executors.append(ex)
        state.executors = executors
        threads = [threading.Thread(target=ex.run, name=f"scenario-{ex.spec.name}", daemon=True) for ex in executors]
        progress = None
        if not self.cfg.quiet:
            from .progress import ProgressPrinter
            progress = ProgressPrinter(self, executors, self.stdout)
            progress.start()
        self.hub.start_vus_sampler(state, self.plan.max_vus)
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.1)
                self._check_thresholds_abort()
        self.test_duration = time.monotonic() - state.test_start
        self.hub.test_ended(self.test_duration)
        if progress is not None:
            progress.stop()
            self.progress = progress

    def _dropped(self, ex: Executor) -> None:
        self.hub.emit_now("dropped_iterations", 1, dict(ex.tags))

    def _iteration_done(self, vu: VU, phase: Phase) -> None:
        err = phase.error
        if err is not None and not err.startswith("\0"):
            fields = {"executor": phase.scenario.spec.executor, "scenario": phase.scenario.spec.name}
            if not phase.error_in_promise:
                fields["source"] = "stacktrace"
            self.logger.error(err, **fields)
        if phase.interrupted:
            return
        tags = dict(phase.scenario.tags, group="")
        self.hub.iteration_samples(tags, phase.started, phase.ended, vu.data_sent, vu.data_received)

    def _check_thresholds_abort(self) -> None:
        if self.plan.no_thresholds or self.abort_code is not None:
            return
        if time.monotonic() - getattr(self, "_last_abort_check", 0.0) < 2.0:
            return
        self._last_abort_check = time.monotonic()
        crossed = self.hub.abort_check()
        if crossed:
            self.abort_code = ExitCode.THRESHOLDS_FAILED
            self.abort_message = (f"thresholds on metrics '{', '.join(crossed)}' were crossed; at least one has "
                                  "abortOnFail enabled, stopping test prematurely")
            self.request_stop()

    def request_stop(self) -> None:
        if self.state is not None:
            self.state.stopping.set()
            for ex in self.state.executors:
                ex.stop_starting()

    # ---- signals -----------------------------------------------------------------------
    def _install_signals(self) -> None:
        if not self.cfg.install_signal_handlers or threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            self.signal_count += 1
            name = "interrupt" if signum == signal.SIGINT else "terminated"
            if self.signal_count == 1:
                if self.abort_code is None:
                    self.abort_code = ExitCode.EXTERNAL_ABORT
                    self.abort_message = f"test run was aborted because k6 received a '{name}' signal"
                self.logger.info("Stopping k6 in response to signal...", sig=name) if False else None
                self.request_stop()
            else:
                self.logger.error("Aborting k6 in response to signal")
                if self.state is not None:
                    self.state.hard_stop.set()
                    for ex in self.state.executors:
                        ex.interrupt_running()
                self._shutdown_vus(timeout=2.0)
                os._exit(ExitCode.EXTERNAL_ABORT)

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def _shutdown_vus(self, timeout: float = 10.0) -> None:
        for vu in self.vus:
            host = self.hosts.get(vu.id)
            if host is not None:
                host.assignments.put(None)
            vu.stop_all.set()
            vu.wake()
        deadline = time.monotonic() + timeout
        for vu in self.vus:
            if vu.thread is not None:
                vu.thread.join(max(0.0, deadline - time.monotonic()))

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
        progress = getattr(self, "progress", None)
        if progress is not None:
            progress.final()
        code = ExitCode.OK
        if self.abort_code is not None:
            code = self.abort_code
            if self.abort_message:
                self.logger.error(self.abort_message)
        if results is not None and results.crossed and code in (ExitCode.OK, ExitCode.THRESHOLDS_FAILED):
            if self.abort_code != ExitCode.THRESHOLDS_FAILED:
                self.logger.error(f"thresholds on metrics '{', '.join(results.crossed)}' have been crossed")
            code = ExitCode.THRESHOLDS_FAILED
        if code == ExitCode.OK and self.state is not None and getattr(self.state, "marked_failed", False):
            self.logger.error("test run was marked as failed")
            code = ExitCode.MARKED_AS_FAILED
        return code

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
        stream = open(out[5:], "a", encoding="utf-8")  # noqa: SIM115 - lives for the run
    console = open(cfg.console_output, "a", encoding="utf-8") if cfg.console_output else None  # noqa: SIM115
    return Logger(stream, level="debug" if cfg.verbose else "info", fmt=cfg.log_format or "text",
                  console_file=console)
