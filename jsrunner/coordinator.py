"""A test run split over worker processes (``jsrunner run --workers N``).

The coordinator runs no VU code itself, so a stuck script can never freeze it:

1. the first child, the *host*, does the options pass (and later ``setup()``,
   ``teardown()`` and ``handleSummary()``, each once, as in a single-process run);
2. the coordinator plans the test from what that child found, prints the banner of the
   whole test, and splits it into N equal execution segments (``schedule.split_tuples``),
   N at most the test's max VUs, so no process is started that the plan cannot use;
3. one *segment* worker per segment (``segment_runner.run_segment`` in
   ``python -m jsrunner.worker``) initialises its share of the VUs; the host runs the first
   segment itself (no process of its own for the code that runs once: one Python, one set
   of imports less), the others are started then; when all are ready they get ``start``
   together (the barrier) and run with no chatter between them;
4. the workers send engine snapshot deltas and progress every 0.25 s; the coordinator
   merges them into its own engine, draws the progress, evaluates ``abortOnFail``
   thresholds, forwards log lines to stderr, and ends with one summary and exit code.

Children run in their own sessions (a terminal's Ctrl-C reaches only the coordinator, which
forwards a graceful stop, then a hard stop), and are killed with their process group when
the coordinator exits, whatever the reason. A child that dies is reported as
``worker N exited with code X`` and the run ends with exit code 255.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from .child import Child, exit_text, start_method
from .errors import ExitCode, JsRunnerError
from .executors import ScenarioProgress
from .metrics_hub import UNSET, MetricsHub
from .runner import _NO_HANDLE_SUMMARY, RunConfig, Runner, check_script, fmt_seconds, run_env
from .schedule import split_tuples
from .segment_runner import config_to_dict, scenario_configs

WORKER_DIED = ExitCode.FATAL


def default_workers() -> int:
    """Worker processes when ``--workers`` is not given: the cores this process may run on
    (its CPU affinity, e.g. under ``taskset`` or a container's cpuset), else all cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

# ---- the progress model: sums over the workers ---------------------------------------------
class _Finished:
    def __init__(self) -> None:
        self.value = False

    def is_set(self) -> bool:
        return self.value


class _Running:
    def __init__(self) -> None:
        self.n = 0

    def __len__(self) -> int:
        return self.n


class ScenarioView:
    """What progress_view reads from an executor, summed over the workers."""

    def __init__(self, spec: Any, state: "CoordState") -> None:
        self.spec = spec
        self.state = state
        self.progress = ScenarioProgress()
        self.running = _Running()
        self.finished = _Finished()

    def current_rate(self) -> float:
        s = self.spec
        if s.executor != "ramping-arrival-rate" or self.progress.started_at is None:
            return s.rate / s.time_unit if s.time_unit else 0.0
        t = time.monotonic() - self.progress.started_at
        prev, acc = s.start_rate, 0.0
        for dur, target in s.stages:
            if t < acc + dur:
                frac = (t - acc) / dur if dur > 0 else 1.0
                return (prev + (target - prev) * frac) / s.time_unit
            acc += dur
            prev = target
        return prev / s.time_unit


class CoordState:
    """The run state the progress display and the summary read (sums over workers)."""

    def __init__(self, global_tags: dict[str, str]) -> None:
        self.lock = threading.Lock()
        self.global_tags = global_tags
        self.test_start = time.monotonic()
        self.stopping = threading.Event()
        self.hard_stop = threading.Event()
        self.executors: list[ScenarioView] = []
        self.setup_json: str | None = None
        self.marked_failed = False
        self.worker_progress: dict[int, dict[str, Any]] = {}
        #: when the workers got ``start`` (their progress offsets count from there)
        self.workers_start: float | None = None

    def _sum(self, key: str) -> int:
        return sum(int(p.get(key, 0)) for p in self.worker_progress.values())

    @property
    def completed(self) -> int:
        return self._sum("completed")

    @property
    def interrupted(self) -> int:
        return self._sum("interrupted")

    @property
    def vus_active(self) -> int:
        return self._sum("vus_active")

    @property
    def vus_initialised(self) -> int:
        return self._sum("vus_initialised")

    def update(self, worker: int, progress: dict[str, Any], n_workers: int) -> None:
        self.worker_progress[worker] = progress
        t0 = self.workers_start if self.workers_start is not None else self.test_start
        if progress.get("marked_failed"):
            self.marked_failed = True
        for view in self.executors:
            name = view.spec.name
            rows = [p["scenarios"][name] for p in self.worker_progress.values() if name in p.get("scenarios", {})]
            if not rows:
                continue
            pr = view.progress
            pr.completed = sum(r["completed"] for r in rows)
            pr.interrupted = sum(r["interrupted"] for r in rows)
            pr.dropped = sum(r["dropped"] for r in rows)
            pr.active = sum(r["active"] for r in rows)
            pr.iterations_started = sum(r["started"] for r in rows)
            view.running.n = sum(r["running"] for r in rows)
            starts = [r["started_at"] for r in rows if r["started_at"] is not None]
            if starts and pr.started_at is None:
                pr.started_at = t0 + min(starts)
            done = len(rows) == n_workers and all(r["finished"] for r in rows)
            if done and not view.finished.value:
                ends = [r["ended_at"] for r in rows if r["ended_at"] is not None]
                pr.ended_at = t0 + max(ends) if ends else time.monotonic()
                view.finished.value = True


# ---- the coordinator -------------------------------------------------------------------------
class Coordinator(Runner):
    """Runs a test over N worker processes; prints what a single-process run prints."""

    #: segments are local child processes and the first child (the host) runs one of them;
    #: a subclass running them elsewhere (``jsrunner.dask_runner``) sets this False (its
    #: first child only runs the code that runs once) and overrides :meth:`_new_segment`
    spare_processes = True

    def __init__(self, cfg: RunConfig, workers: int | None = None, first_child: Child | None = None) -> None:
        """``first_child``: a ``host`` child started before this object (the command line
        starts it before importing the runner); it gets its job in :meth:`_run`."""
        super().__init__(cfg)
        self.requested_workers = workers
        self.inbox: "queue.SimpleQueue[tuple[Child, dict[str, Any] | None]]" = (
            first_child.inbox if first_child is not None else queue.SimpleQueue())
        self._first_child = first_child
        #: how local children start (``fork``: copies of this process, see jsrunner.child);
        #: a subclass with segments elsewhere has threads of its own (a Dask client) by the
        #: time its one local child starts: that one is spawned
        self.start_method = start_method() if self._local_segments() else "spawn"
        self._preloaded = False
        self.life: Child | None = None
        self.workers: list[Child] = []
        self.worker_index: dict[Child, int] = {}
        self.worker_failed = False
        self._stop_sent = False
        self._hard_sent = False
        self.stderr = cfg.stderr or sys.stderr
        self._err_out: Any = self.stderr

    # ---- plumbing ------------------------------------------------------------------------
    def _drop(self, children: list[Child]) -> None:
        """End children that never got a job."""
        for child in children:
            child.killed = True
            child.close_input()  # EOF before a job: the process exits at once
            child.kill()

    def _job(self) -> dict[str, Any]:
        return {"script": self.cfg.script, "config": config_to_dict(self.cfg)}

    def _new_child(self, name: str, job: dict[str, Any], method: str | None = None) -> Child:
        """Start a local child (forked from this process, or a new Python)."""
        method = method or self.start_method
        if method == "fork" and threading.current_thread() is not threading.main_thread():
            method = "spawn"  # a fork's only thread is the caller: it must be the main one
        if method == "fork":
            if not self._preloaded:
                from .worker import preload
                preload()
                self._preloaded = True
            # what exists now is shared with the child: keep this process's collector off
            # it too (a collection writes to every object it visits: copy-on-write copies)
            gc.freeze()
        return Child(name, job, self.inbox, method=method)

    def _local_segments(self) -> bool:
        """Segments run in local child processes (not overridden by a subclass)."""
        return type(self)._run_workers is Coordinator._run_workers and self.spare_processes

    def _spawn_lifecycle(self, host: bool = False, method: str | None = None) -> Child:
        """The child that does the options pass and runs setup/teardown/handleSummary;
        ``host``: it runs the first segment too (a pre-started child is used if there is one)."""
        job = dict(self._job(), mode="host" if host else "lifecycle")
        child, self._first_child = self._first_child, None
        if child is not None and host and child.alive():
            child.name = "lifecycle"
            child.send(job)
        else:
            if child is not None:
                child.killed = True
                child.close_input()
                child.kill()
            child = self._new_child("lifecycle", job, method)
        self.life = child
        return child

    def _forward_log(self, msg: dict[str, Any]) -> None:
        text = msg.get("text", "")
        stream = self.stdout if msg.get("stream") == "stdout" else self._err_out
        with self.logger._lock:
            for line in text.splitlines():
                if line:
                    self.logger.recent.append(line)
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass

    def _merge(self, snap: dict[str, Any] | None) -> None:
        if not snap:
            return
        hub = self.hub
        with hub._lock:
            hub.engine.merge(snap)

    def _wait_for(self, child: Child, kinds: tuple[str, ...], timeout: float | None) -> dict[str, Any] | None:
        """Handle messages until ``child`` sends one of ``kinds``; None on death/timeout.
        Messages of segment workers (the host is one) are handled as during the run, so a
        worker that dies meanwhile is reported and counted."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:
                src, msg = self.inbox.get(timeout=0.1 if remaining is None else min(0.1, remaining))
            except queue.Empty:
                if self._hard_sent and child is self.life:
                    return None
                continue
            if src in self.worker_index:
                self._handle(src, msg, len(self.workers))
                if src is child and (msg is None or msg.get("type") in kinds):
                    return msg
                continue
            if msg is None:
                if src is child:
                    src.eof = True
                    return None
                continue
            kind = msg.get("type")
            if kind == "log":
                self._forward_log(msg)
            elif kind == "update":
                self._merge(msg.get("snapshot"))
            if src is child and kind in kinds:
                return msg

    # ---- entry ---------------------------------------------------------------------------
    def run(self):  # type: ignore[no-untyped-def]
        try:
            return super().run()
        finally:
            if self._first_child is not None:  # never used (the run ended before)
                self._drop([self._first_child])
                self._first_child = None
            children = [c for c in dict.fromkeys([self.life, *self.workers]) if c is not None]
            for child in children:
                child.close_input()
            deadline = time.monotonic() + 2.0
            for child in children:
                if child is not None:
                    try:
                        child.proc.wait(max(0.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
                    child.kill()

    def _run(self) -> int:
        from .plan import plan_run
        from .runner import planned_vus
        from .scenarios import test_max_vus
        cfg = self.cfg
        script = cfg.script
        check_script(script)
        _, env = run_env(cfg)
        self.env = env
        self.hub = MetricsHub()
        self.hub.stdout = self.stdout
        self.setup_data: Any = UNSET

        # 1. options pass (in the first child); the other workers are started once the plan
        # says how many it can use
        local_processes = self._local_segments()
        life = self._spawn_lifecycle(host=local_processes)
        init = self._wait_for(life, ("init", "fatal"), None)
        if init is None:
            if self.abort_code is not None:
                return self.abort_code
            raise JsRunnerError(f"worker 0 (setup/teardown) exited with code {exit_text(life.proc.wait())}",
                                exit_code=WORKER_DIED)
        if init["type"] == "fatal":
            return int(init["code"])
        exports: list[str] = list(init["exports"])
        self.hub.registry.merge(init["registry"])
        plan = plan_run(cfg, init["options"] or {}, exports, env, self.logger)
        self.plan = plan
        self.hub.configure(plan)
        configs = scenario_configs(cfg, init["options"] or {}, exports)
        n = self.requested_workers or default_workers()
        n = max(1, min(n, plan.max_vus))
        tuples = [et for et in split_tuples(n) if test_max_vus(configs, et) > 0]
        if local_processes and tuples:
            self._start_workers(tuples)  # they initialise while the banner is printed
        state = CoordState(plan.global_tags)
        state.executors = [ScenarioView(spec, state) for spec in plan.scenarios]
        self.state = state  # type: ignore[assignment]

        setup_console = getattr(self, "_setup_console", None)
        if setup_console is not None:
            setup_console()
            if self.progress is not None:
                self._err_out = self.progress.wrap(self.stderr) or self.stderr
        if not cfg.quiet:
            self.stdout.write(plan.banner(script, cfg))
            self.stdout.flush()
            if self.progress is not None:
                self.progress.start()
        self.vus_to_init = planned_vus(plan)

        # 2. the workers initialise their VUs (k6: VUs first, then the test starts)
        local_workers = type(self)._run_workers is Coordinator._run_workers
        if local_workers and tuples:
            self.phase = "init"
            self._spawn_workers(tuples)
        # 3. the test clock runs from here (k6 MarkStarted); setup in the lifecycle child
        state.test_start = time.monotonic()
        self.hub.test_started()
        start_sampler = getattr(self, "_start_sampler", None)
        if start_sampler is not None:
            start_sampler()
        setup_ok = self.abort_code is None
        if setup_ok and not plan.no_setup and "setup" in exports and self.abort_code is None:
            self.phase = "setup"
            setup_ok = self._remote_lifecycle("setup", plan.setup_timeout)
        # 4. the scenarios, over the workers
        if setup_ok and self.abort_code is None:
            if not local_workers:
                self.phase = "init"
            self._run_workers(tuples, state.setup_json)
        else:
            self._stop_workers()
            self._wait_workers_gone(10.0)
        # 5. teardown
        if setup_ok and not plan.no_teardown and "teardown" in exports and not self._hard_sent:
            self.phase = "teardown"
            self._remote_lifecycle("teardown", plan.teardown_timeout)
        self.test_end = time.monotonic()
        self.test_duration = self.test_end - state.test_start
        self.hub.test_ended(self.test_duration)
        self.phase = "done"
        stop_helpers = getattr(self, "_stop_helpers", None)
        if stop_helpers is not None:
            stop_helpers()
        self.hub.stop()
        # 6. summary and thresholds
        code = self._finish(exports)
        if self.worker_failed and code in (ExitCode.OK, ExitCode.THRESHOLDS_FAILED, ExitCode.MARKED_AS_FAILED):
            code = WORKER_DIED
        return code

    def _wait_workers_gone(self, timeout: float) -> None:
        """After a stop before the start: let the workers finish (they never ran)."""
        deadline = time.monotonic() + timeout
        n = len(self.workers)
        while any(not self._finished(c) for c in self.workers) and time.monotonic() < deadline:
            try:
                src, msg = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            self._handle(src, msg, n)
        for c in self.workers:
            if not self._finished(c):
                c.killed = True
                c.kill()

    @staticmethod
    def _finished(child: Child) -> bool:
        """The segment is over: its process is gone or it sent ``done`` (the host stays for
        teardown and handleSummary)."""
        return child.eof or child.done is not None

    # ---- setup / teardown / handleSummary in the lifecycle child -------------------------
    def _life(self) -> Child | None:
        if self.life is not None and self.life.alive():
            return self.life
        if self._hard_sent:
            return None
        # the host died: a new child for the rest, spawned (this process runs the progress
        # display and the readers by now, and this is no hot path)
        child = self._spawn_lifecycle(host=False, method="spawn")
        msg = self._wait_for(child, ("init", "fatal"), 120)
        if msg is None or msg["type"] != "init":
            return None
        return child

    def _abort(self, code: int, message: str | None, **fields: str) -> bool:
        set_abort = getattr(self, "_set_abort", None)
        if set_abort is not None:
            return bool(set_abort(code, message, **fields))
        if self.abort_code is not None:
            return False
        self.abort_code, self.abort_message = code, message
        self.abort_fields = dict(fields)
        return True

    def _remote_lifecycle(self, kind: str, timeout: float) -> bool:
        life = self._life()
        if life is None:
            return False
        state = self.state
        life.send({"cmd": kind, "setup_json": state.setup_json})
        # the child enforces the timeout itself; this one is for a child stuck in JS
        msg = self._wait_for(life, (kind, "fatal"), timeout + 10.0)
        if msg is None:
            alive = life.alive()
            life.killed = True
            life.kill()
            if self._hard_sent:
                return False
            if life in self.worker_index and not alive:
                return False  # reported as the worker's death
            if alive:
                self._abort(ExitCode.SETUP_TIMEOUT if kind == "setup" else ExitCode.TEARDOWN_TIMEOUT,
                            f"{kind}() execution timed out after {fmt_seconds(timeout)} seconds",
                            hint=f"You can increase the time limit via the {kind}Timeout option")
            else:
                self.logger.error(f"worker 0 ({kind}) exited with code {exit_text(life.returncode)}")
                self.worker_failed = True
                self._abort(WORKER_DIED, None)
            return False
        if msg["type"] == "fatal":
            self._abort(int(msg["code"]), None)
            return False
        if msg.get("marked_failed"):
            state.marked_failed = True
        if msg.get("abort_code") is not None:
            self._abort(int(msg["abort_code"]), msg.get("abort_message"), **(msg.get("abort_fields") or {}))
        if kind == "setup" and msg["ok"]:
            state.setup_json = msg.get("setup_json")
            if state.setup_json is not None and state.setup_json != "null":
                self.setup_data = json.loads(state.setup_json)
        return bool(msg["ok"])

    def _handle_summary(self, data: dict[str, Any], exported: bool) -> Any:
        life = self._life()
        if life is None:
            return _NO_HANDLE_SUMMARY
        life.send({"cmd": "summary", "data": data, "exported": exported})
        msg = self._wait_for(life, ("summary", "fatal"), 130.0)
        if msg is None or msg["type"] != "summary" or msg.get("none"):
            return _NO_HANDLE_SUMMARY
        return msg.get("result")

    # ---- the scenarios -------------------------------------------------------------------
    def _spawn_workers(self, tuples: list[Any]) -> None:
        """Start one worker per segment and wait until each has initialised its VUs (the
        first half of the barrier; ``start`` is the second)."""
        if not self.workers:
            self._start_workers(tuples)
        self._await_ready()

    def _start_workers(self, tuples: list[Any]) -> None:
        """Start one worker per segment (the host takes the first) and send their jobs.
        Called before the progress display starts: forking while another thread writes to
        the terminal is avoided where it costs nothing."""
        base = self._job()
        host = self.life if self._local_segments() and self.life is not None and self.life.mode == "host" else None
        if host is not None and not host.alive():
            host = None
        placed: list[tuple[int, Child, dict[str, Any]]] = []
        for k, et in enumerate(tuples):
            seg = {"segment": str(et.segment), "sequence": str(et.sequence), "setup_json": None}
            if k == 0 and host is not None:
                placed.append((k, host, dict(seg, cmd="segment")))
                continue
            # new processes first: their Python start-up is the longest way to ``ready``
            placed.append((k, self._new_segment(f"worker-{k + 1}", dict(base, mode="segment", **seg)), {}))
        for k, child, cmd in sorted(placed, key=lambda p: p[0]):
            if cmd:
                child.name = f"worker-{k + 1}"
                child.send(cmd)
            self.worker_index[child] = k + 1
            self.workers.append(child)

    def _await_ready(self) -> None:
        n = len(self.workers)
        self._ready: set[Child] = set()
        while len(self._ready) < n and not self.worker_failed and self.abort_code is None:
            try:
                src, msg = self.inbox.get(timeout=0.1)
            except queue.Empty:
                control = getattr(self, "_control", None)
                if control is not None:
                    control()
                continue
            self._handle(src, msg, n)
            if msg is not None and msg.get("type") == "ready":
                self._ready.add(src)
                p = self.state.worker_progress.setdefault(self.worker_index[src], {})
                p["vus_initialised"] = int(msg.get("vus", 0))
        if self.worker_failed or self.abort_code is not None:
            self._stop_workers()

    def _new_segment(self, name: str, job: dict[str, Any]) -> Child:
        """Start the segment ``job`` (a Child-like object: ``send``, ``alive``, ``kill``, ...)."""
        return self._new_child(name, job)

    def _run_workers(self, tuples: list[Any], setup_json: str | None) -> None:
        state = self.state
        plan = self.plan
        if not tuples:
            return
        if not self.workers:
            self._spawn_workers(tuples)
        n = len(self.workers)
        state.workers_start = time.monotonic()
        self.phase = "run"
        for child in self.workers:
            child.send({"cmd": "start", "setup_json": setup_json})
        # a worker that is still running long after the planned end is stuck: stop it
        watchdog = plan.max_duration + 5.0
        stop_deadline: float | None = None
        while any(not self._finished(c) for c in self.workers):
            try:
                src, msg = self.inbox.get(timeout=0.1)
                self._handle(src, msg, n)
            except queue.Empty:
                pass
            self._check_thresholds_abort()
            control = getattr(self, "_control", None)
            if control is not None:
                control()
            now = time.monotonic()
            if not self._stop_sent and now - state.workers_start > watchdog:
                self._stop_workers()
            if self._stop_sent and stop_deadline is None:
                grace = max((s.graceful_stop for s in plan.scenarios), default=30.0)
                stop_deadline = now + grace + 5.0
            if stop_deadline is not None and now > stop_deadline and not self._hard_sent:
                self._hard_stop_workers()
                stop_deadline = now + 3.0
            elif stop_deadline is not None and self._hard_sent and now > stop_deadline:
                for c in self.workers:
                    if not self._finished(c) and c.alive():
                        self.logger.error(f"worker {self.worker_index[c]} did not stop in time; killing it")
                        c.kill()
                stop_deadline = now + 5.0
        # drain whatever the readers still hold
        while True:
            try:
                src, msg = self.inbox.get_nowait()
            except queue.Empty:
                break
            self._handle(src, msg, n)

    def _handle(self, src: Child, msg: dict[str, Any] | None, n: int) -> None:
        if msg is None:
            src.eof = True
            if src in self.worker_index and src.done is None and not getattr(src, "killed", False):
                code = src.proc.wait()
                if not self._hard_sent or code not in (-signal.SIGKILL,):
                    self.logger.error(f"worker {self.worker_index[src]} exited with code {exit_text(code)}")
                self.worker_failed = True
                self._abort(WORKER_DIED, None)
                self._stop_workers()
            return
        kind = msg.get("type")
        if kind == "log":
            self._forward_log(msg)
        elif kind == "update":
            self._merge(msg.get("snapshot"))
            if "progress" in msg and src in self.worker_index:
                self.state.update(self.worker_index[src], msg["progress"], n)
        elif kind == "init":
            if src in self.worker_index:
                p = self.state.worker_progress.setdefault(self.worker_index[src], {})
                p["vus_initialised"] = int(msg.get("vus_initialised", 0))
        elif kind == "abort":
            self._abort(int(msg["code"]), msg.get("message"), **(msg.get("fields") or {}))
            self._stop_workers()
        elif kind == "done":
            src.done = msg
            if msg.get("marked_failed"):
                self.state.marked_failed = True
            code = int(msg.get("code") or 0)
            if msg.get("abort_code") is not None:
                self._abort(int(msg["abort_code"]), msg.get("abort_message"), **(msg.get("abort_fields") or {}))
                self._stop_workers()
            elif code not in (0, ExitCode.SCRIPT_ABORTED, ExitCode.MARKED_AS_FAILED) and not msg.get("started"):
                # a worker could not initialise (the error was logged by the worker)
                self._abort(code, None)
                self._stop_workers()

    # ---- stopping ------------------------------------------------------------------------
    def _stop_workers(self) -> None:
        if self._stop_sent:
            return
        self._stop_sent = True
        if self.state is not None:
            self.state.stopping.set()
        for c in self.workers:
            c.send({"cmd": "stop"})

    def _hard_stop_workers(self) -> None:
        self._stop_workers()
        self._hard_sent = True
        self.state.hard_stop.set()
        for c in self.workers:
            c.send({"cmd": "hard_stop"})

    def request_stop(self) -> None:
        """Stop the test (signal, abortOnFail, an aborting worker): a running setup() is
        interrupted, the workers stop gracefully."""
        state = self.state
        if state is None:
            return
        state.stopping.set()
        if self.phase == "setup" and self.life is not None:
            self.life.send({"cmd": "interrupt"})
        self._stop_workers()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signal_count >= 1:
            # the second signal: nothing graceful any more - the children go first
            self._hard_sent = True
            for child in [*self.workers, self.life]:
                if child is not None:
                    try:
                        os.killpg(child.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError, OSError):
                        pass
        super()._on_signal(signum, frame)

    def _shutdown_vus(self, timeout: float = 10.0) -> None:  # no VUs here
        pass


def run_with_workers(cfg: RunConfig, workers: int | None, first_child: Child | None = None) -> int:
    return Coordinator(cfg, workers, first_child).run().exit_code


__all__ = ["Coordinator", "run_with_workers", "default_workers", "WORKER_DIED"]
