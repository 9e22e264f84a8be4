"""A virtual user: one QuickJS runtime on its own thread, driven by an executor.

The VU's JS runs inside one long eval of ``__k6.runLoop()`` (see bindings/js/runtime.js),
which polls :meth:`VU._poll` for its next command. This class is the Python half of that
loop: it owns the timer queue, the inbox that socket threads post events to, the count
of things that keep an iteration alive, and the phase (iteration, setup, teardown,
handleSummary) being run. Evals happen only at VU start and after an unhandled promise
rejection (which must end an eval for dukpy to report it), never per event.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import bindings, fibers
from .engine import Engine, JSRuntimeError, to_json
from .errors import ScriptError
from .loader import ENTRY_ID, RUNTIME_ID, ModuleLoader, bundled_source  # noqa: F401 - re-exported
from .log import Logger
from .metrics.batches import SampleDecoder, SampleRuns
from .timers import TimerQueue
from .transport.inbox import Inbox

#: how long JS may keep running after its phase was interrupted (duration + gracefulStop
#: over, a signal, a setup timeout) before it is stopped where it is (an endless loop)
STUCK_GRACE = 0.25


def mono_ms() -> float:
    return time.monotonic() * 1000.0


@dataclass
class Phase:
    """One unit of work for a VU: an iteration or a lifecycle function."""

    kind: str  # "init" | "iter" | "setup" | "teardown" | "summary"
    fn: str = "default"
    iteration: int = 0
    data_json: str | None = None  # setup data (JSON text); None = unchanged for this VU
    env: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    scenario: Any = None
    # outcome
    fn_done: bool = False
    error: str | None = None
    error_in_promise: bool = False
    interrupted: bool = False
    result: Any = None
    started: float = 0.0
    ended: float = 0.0


class Controller(Protocol):
    """What drives a VU: executors (iterations) and the runner (lifecycle functions)."""

    def next_phase(self, vu: "VU") -> Phase | None: ...

    def phase_done(self, vu: "VU", phase: Phase) -> None: ...


@dataclass
class RunContext:
    """What every VU of a run shares."""

    loader: ModuleLoader
    logger: Logger
    env: dict[str, str]
    sample_sink: Callable[["VU", list[Any]], None]
    metric_registry: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    state: Any = None  # the runner's shared state (k6/execution needs it)
    throw: bool = False
    #: the scheduler threads VUs run on as fibers (None: a thread per VU)
    fibers: Any = None


_WAKE = object()


class InterruptEvent(fibers.Event):
    """The VU's interrupt request, mirrored into the engine's flag word for JS.

    JS checks the flag between the iterations of a batch without a host call (see
    ``busy`` in runtime.js), so setting and clearing must reach it wherever they happen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mirror: Callable[[bool], None] | None = None

    def set(self) -> None:
        super().set()
        if self.mirror is not None:
            self.mirror(True)

    def clear(self) -> None:
        if self.mirror is not None:
            self.mirror(False)
        super().clear()


class VU:
    def __init__(self, vu_id: int, ctx: RunContext, *, id_in_test: int | None = None) -> None:
        self.id = vu_id
        self.id_in_test = vu_id if id_in_test is None else id_in_test
        self.ctx = ctx
        self.logger = ctx.logger
        self.controller: Controller | None = None
        self.engine: Engine | None = None
        self.timers = TimerQueue()
        #: events and calls posted by other threads; also reads this VU's sockets while
        #: it waits (transport/inbox.py)
        self.inbox = Inbox()
        self.refs = 0
        self.phase: Phase | None = None
        self.exports: list[str] = []
        self.script_options: dict[str, Any] | None = None
        self.interrupt = InterruptEvent()
        self.stop_all = threading.Event()
        self.iteration_count = 0  # __ITER of the next iteration (all scenarios)
        self.scenario_iterations: dict[str, int] = {}
        self.data_sent = 0
        self.data_received = 0
        self._sent_data_json: str | None = None
        self._exit = False
        #: callbacks run when the current phase fails (bindings close sockets here)
        self.on_fail: list[Callable[[], None]] = []
        #: callbacks run when the current phase is interrupted from outside
        self.on_interrupt: list[Callable[[], None]] = []
        #: callbacks run when the VU shuts down
        self.on_close: list[Callable[[], None]] = []
        self.binding_state: dict[str, Any] = {}
        self._samples_in = SampleDecoder()  # tag sets and contexts of the JS's samples
        #: what runs the VU: its thread, or its fiber (which has ``join``/``is_alive`` too)
        self.thread: threading.Thread | fibers.Fiber | None = None
        #: the fiber the VU runs in now (None: an OS thread of its own)
        self.fiber: fibers.Fiber | None = None

    # ---- set-up ------------------------------------------------------------------------
    def create_runtime(self) -> None:
        engine = Engine(self.ctx.loader)
        self.engine = engine
        engine.export("L", self._poll)
        engine.export("F", self._flush)
        engine.export("B", self._batch_done)
        engine.export("J", self._jobs_before_next)
        engine.set_interrupt_check(self._stuck)
        self.interrupt.mirror = engine.set_flag
        engine.set_flag(self.interrupt.is_set())
        self._stuck_mark: tuple[Any, float] | None = None
        #: the phase whose JS the interrupt hook stopped (see _stuck)
        self.stopped_in_js: Phase | None = None
        bindings.install(self)
        engine.on_load(self._module_loaded)

    def _module_loaded(self, module_id: str) -> None:
        bindings.install_for(self, module_id)

    def initialise(self) -> None:
        """Create the runtime and run the init context to completion (timers included).

        One eval does it all (each eval costs two full GCs): the entry module imports the
        VU runtime (runtime.js, which then sets ``__VU``/``__ENV`` from the eval's values)
        before the main module, hands the main module's namespace over and starts the init
        event loop, which runs until the init context is done.
        """
        self.create_runtime()
        assert self.engine is not None
        self.phase = Phase("init", started=mono_ms())
        engine = self.engine
        # ``dukpy.initLoop`` is only set in this eval: a main module still awaiting a timer
        # at its end (top-level await) finishes inside the init loop's eval below instead,
        # and must not start a second loop there.
        entry = (f"import {to_json(RUNTIME_ID)}; import * as m from {to_json(self.ctx.loader.main_id)}; "
                 "__k6.setMain(m); if (dukpy.initLoop === 1) __k6.runLoop();")
        self._until_init = True
        self._exit = False
        self._init_settled = False
        engine.export("L", self._init_poll)
        try:
            engine.eval_module(entry, ENTRY_ID, id=self.id, env=self.ctx.env, throw=bool(self.ctx.throw),
                               initLoop=1)
        except JSRuntimeError as exc:
            engine.export("L", self._poll)
            if not self._init_settled:
                raise self._init_error(exc) from None
            # a rejection left unhandled by the init loop's timers or events (as in _run_loop)
            self._fail("Uncaught (in promise) " + js_error_text(str(exc)), in_promise=True)
        else:
            engine.export("L", self._poll)
            if not self._exit:  # the loop never started (see above)
                self._run_loop(until_init=True)
        phase = self.phase
        if phase is not None and phase.error is not None:
            raise ScriptError(phase.error.rstrip("\n") + "\n")
        self.phase = None

    def _init_poll(self, ops: list[Any] | None, samples: list[Any] | None) -> Any:
        """``_poll`` for the init loop started inside the entry eval.

        The modules' own promise jobs have all run once the job queue is first empty: a
        rejection still unhandled then is the module evaluation's (reported as an init
        error, as when the entry eval ended there); later ones come from the init loop's
        callbacks ("Uncaught (in promise)").
        """
        engine = self.engine
        assert engine is not None
        if not self._init_settled and not engine.jobs_pending():
            self._init_settled = not engine.rejection_pending()
        return self._poll(ops, samples)

    def _init_error(self, exc: BaseException) -> ScriptError:
        assert self.engine is not None
        load_error = self.engine.take_load_error()
        if load_error is not None:
            msg = getattr(load_error, "message", str(load_error))
            return ScriptError(f"GoError: {msg}\n")
        return ScriptError(js_error_text(str(exc)))

    # ---- the loop ----------------------------------------------------------------------
    def _run_loop(self, until_init: bool = False) -> None:
        """Evaluate ``__k6.runLoop()`` until it exits; re-enter after unhandled rejections."""
        assert self.engine is not None
        self._until_init = until_init
        self._exit = False
        while not self._exit:
            try:
                self.engine.eval("__k6.runLoop(); null")
            except JSRuntimeError as exc:
                if self.engine.take_interrupted():
                    self.stopped_in_js = self.phase  # bindings: it stopped mid-callback
                    self._report_stuck()
                    continue  # the next poll ends the interrupted phase
                text = "Uncaught (in promise) " + js_error_text(str(exc))
                if self.phase is None:
                    self.logger.error(text.rstrip("\n"))
                    continue
                self._fail(text, in_promise=True)
                if until_init:
                    self._exit = True

    def _stuck(self) -> bool:
        """Asked by the engine while JS runs: stop JS that ignores its interrupt?

        An interrupted phase normally ends at the VU's next poll, within milliseconds.
        JS that is still running ``STUCK_GRACE`` after the interrupt never polls (an endless
        loop): it is stopped where it is, like k6 interrupting its runtime.
        """
        if not self.interrupt.is_set():
            fiber = self.fiber
            if fiber is not None:
                fiber.maybe_yield()  # JS busy for long: let the thread's other VUs run
            return False
        phase = self.phase
        if phase is None or phase.kind == "init" or phase.interrupted:
            return False
        now = time.monotonic()
        mark = self._stuck_mark
        if mark is None or mark[0] is not phase:
            self._stuck_mark = (phase, now)
            return False
        if now - mark[1] < STUCK_GRACE:
            return False
        self._stuck_mark = None
        return True

    def _report_stuck(self) -> None:
        phase = self.phase
        if phase is None or phase.kind != "iter":
            return  # setup()/teardown() timeouts have their own error
        fields: dict[str, Any] = {}
        scenario = getattr(phase, "scenario", None)
        spec = getattr(scenario, "spec", None)
        if spec is not None:
            fields = {"executor": spec.executor, "scenario": spec.name}
        self.logger.error(f"VU stuck: VU {self.id_in_test} did not return to its event loop within "
                          f"{int(STUCK_GRACE * 1000)}ms of its iteration being interrupted (a long or endless "
                          "loop); its JavaScript was stopped there", **fields)

    def run_forever(self, controller: Controller) -> None:
        """Run phases handed out by ``controller`` until it returns None."""
        self.controller = controller
        self.fiber = fibers.current()
        try:
            self._run_loop()
        finally:
            self.fiber = None
            self.close()

    def start_thread(self, controller: Controller) -> threading.Thread | fibers.Fiber:
        """Run :meth:`run_forever` on the run's scheduler threads, else on a thread of its own."""
        pool = self.ctx.fibers
        if pool is not None:
            fiber = pool.spawn(self.run_forever, (controller,), f"vu-{self.id}")
            self.thread = fiber
            return fiber
        t = threading.Thread(target=self.run_forever, args=(controller,), name=f"vu-{self.id}", daemon=True)
        self.thread = t
        t.start()
        return t

    def close(self) -> None:
        for cb in self.on_close:
            try:
                cb()
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
        self.on_close.clear()

    # ---- host functions ----------------------------------------------------------------
    def _expand(self, samples: list[Any]) -> SampleRuns:
        """Runs of samples with their tags restored, from a batch that runtime.js's
        sample buffer handed over (format: ``jsrunner.metrics.batches``)."""
        return self._samples_in.decode(samples)

    def _flush(self, ops: list[Any] | None, samples: list[Any] | None) -> None:
        if samples:
            self.ctx.sample_sink(self, self._expand(samples))
        if ops:
            self._apply(ops)

    def _poll(self, ops: list[Any] | None, samples: list[Any] | None) -> Any:
        if samples:
            self.ctx.sample_sink(self, self._expand(samples))
        if ops:
            self._apply(ops)
        engine = self.engine
        assert engine is not None
        if engine.jobs_pending():
            return 0
        if engine.rejection_pending():
            return [4]
        return self._next()

    def _jobs_before_next(self, offset: int) -> int | None:
        """Asked before each extra iteration of a batch when JS cannot read the job queue
        itself (the engine found no job list to expose: see ``busy`` in runtime.js)."""
        engine = self.engine
        assert engine is not None
        if engine.jobs_pending() or engine.rejection_pending() or self.interrupt.is_set():
            return 1
        return None

    def _batch_done(self, samples: list[Any] | None, marks: list[float],
                    ongoing: float | None) -> Any:
        """Simple synchronous iterations finished inside JS (see runIterations in runtime.js).

        Iteration ``j`` ran from ``marks[j]`` to ``marks[j + 1]`` (monotonic ms), the first
        being the current phase; ``ongoing`` is the start of one that did schedule
        something and now continues on the ordinary loop. The last finished one is not
        over if promise jobs (or events) are still pending: it then continues on the loop
        too. Anything unusual answers 0 and the JS side falls back to the ordinary loop,
        which handles it exactly.
        """
        if samples:
            self.ctx.sample_sink(self, self._expand(samples))
        engine = self.engine
        assert engine is not None
        phase = self.phase
        assert phase is not None
        converted: float | None = None
        if ongoing is None and (engine.jobs_pending() or engine.rejection_pending() or len(self.timers)
                                or self.refs > 0 or not self.inbox.empty() or self.interrupt.is_set()
                                or phase.error is not None):
            converted = marks[-2]
            marks.pop()
        continuing: float | None = ongoing if ongoing is not None else converted
        finish = getattr(self.controller, "finish_batch", None)
        if len(marks) < 2:
            # the first iteration itself is still running (only promise jobs/events left)
            phase.fn_done = True
            return 0
        phase.started, phase.ended = marks[0], marks[1]
        extra = marks[1:]  # the marks of the extra iterations (one more than their count)
        claimed = getattr(phase, "batch_claim", 0)
        phase.batch_claim = 0  # type: ignore[attr-defined]  # held across, handed to finish_batch
        self._end_phase(keep_times=True)
        self.iteration_count = phase.iteration + 1
        nxt = finish(self, phase, extra, continuing, claimed) if finish is not None else None
        if continuing is not None and nxt is not None:
            nxt.started = continuing
            if converted is not None:
                nxt.fn_done = True
            self.phase = nxt
            self.iteration_count = nxt.iteration + 1
            return 0
        self.iteration_count = phase.iteration + len(marks) - 1
        return self._next()

    def _apply(self, ops: list[Any]) -> None:
        phase = self.phase
        for op in ops:
            kind = op[0]
            if kind == "T":
                if phase is not None and phase.error is None and not phase.interrupted:
                    self.timers.add(op[1], op[2], op[3], bool(op[4]))
            elif kind == "C":
                self.timers.cancel(op[1])
            elif kind == "R":
                self.refs += op[1]
            elif kind == "D":
                if phase is not None:
                    phase.fn_done = True
                    phase.result = op[1]
            elif kind == "E":
                self._fail(op[1], in_promise=bool(op[2]))
            elif kind == "M":
                self.exports = list(op[1])
                self.script_options = op[2]
                if phase is not None and phase.kind == "init":
                    phase.fn_done = True

    def post(self, key: Any, payload: Any) -> None:
        """Deliver an event to the JS handler registered under ``key`` (any thread)."""
        self.inbox.put((key, payload))

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the VU thread between two JS callbacks (any thread)."""
        self.inbox.put((_WAKE, fn))

    def wake(self) -> None:
        self.inbox.put((_WAKE, None))

    def _next(self) -> Any:
        fiber = self.fiber
        if fiber is not None:
            fiber.maybe_yield()
        while True:
            phase = self.phase
            if phase is None:
                if self._until_init or self.controller is None:
                    self._exit = True
                    return [6]
                phase = self.controller.next_phase(self)
                if phase is None:
                    self._exit = True
                    return [6]
                return self._begin(phase)
            if self.interrupt.is_set() and not phase.interrupted and phase.kind != "init":
                self._interrupt_phase(phase)
                return self._end_phase()
            failing = phase.error is not None
            now = mono_ms()
            if not failing:
                tid = self.timers.pop_due(now)
                if tid is not None:
                    return [1, tid, 1 if self.timers.is_interval(tid) else 0]
            item = None if self.inbox.empty() else self.inbox.get_nowait()
            if item is not None:
                cmd = self._handle(item)
                if cmd is not None:
                    return cmd
                continue
            if (phase.fn_done or failing) and len(self.timers) == 0 and self.refs <= 0:
                if self._until_init and phase.kind == "init":
                    self._exit = True
                    return [6]
                return self._end_phase()
            due = None if failing else self.timers.next_due()
            timeout = None if due is None else max(0.0, (due - now) / 1000.0)
            try:
                item = self.inbox.wait(timeout)
            except queue.Empty:
                continue
            cmd = self._handle(item)
            if cmd is not None:
                return cmd

    def _handle(self, item: tuple[Any, Any]) -> Any:
        key, payload = item
        if key is _WAKE:
            if payload is not None:
                return payload()
            return None
        return [2, key, payload]

    def _begin(self, phase: Phase) -> list[Any]:
        self.phase = phase
        phase.started = mono_ms()
        self.data_sent = 0
        self.data_received = 0
        data = None
        if phase.data_json is not None and phase.data_json != self._sent_data_json:
            data = phase.data_json
            self._sent_data_json = phase.data_json
        if phase.kind == "summary":
            data = phase.data_json
        extra, deadline = 0, 0.0
        if phase.kind == "iter":
            self.iteration_count = phase.iteration + 1
            grant = getattr(self.controller, "grant_batch", None)
            if grant is not None:
                extra, deadline = grant(self, phase)
        return [3, phase.kind, phase.fn, phase.iteration, data, phase.env, phase.tags, extra, deadline]

    def _fail(self, text: str, in_promise: bool = False) -> None:
        phase = self.phase
        if phase is None or phase.error is not None:
            return
        phase.error = text
        phase.error_in_promise = in_promise
        self._drop_timers()
        for cb in list(self.on_fail):
            try:
                cb()
            except Exception as exc:  # noqa: BLE001
                self.logger.debug(f"binding cleanup failed: {exc}")

    def _drop_timers(self) -> None:
        for tid, is_interval in self.timers.drain():
            name = "setInterval" if is_interval else "setTimeout"
            self.logger.warning(f"{name} {tid} was stopped because the VU iteration was interrupted")

    def _interrupt_phase(self, phase: Phase) -> None:
        phase.interrupted = True
        self._drop_timers()
        for cb in list(self.on_interrupt):
            try:
                cb()
            except Exception as exc:  # noqa: BLE001
                self.logger.debug(f"binding interrupt failed: {exc}")
        self.refs = 0

    def _end_phase(self, keep_times: bool = False) -> list[Any]:
        phase = self.phase
        assert phase is not None
        if not keep_times:
            phase.ended = mono_ms()
        self.phase = None
        self.refs = 0
        self.interrupt.clear()
        if self.controller is not None:
            self.controller.phase_done(self, phase)
        return [5]

    # ---- lifecycle helpers -------------------------------------------------------------
    def run_phase(self, phase: Phase) -> Phase:
        """Run one phase on the calling thread (setup, teardown, handleSummary)."""
        ctl = _OnePhase(phase)
        self.controller = ctl
        self._run_loop()
        return phase


class _OnePhase:
    def __init__(self, phase: Phase) -> None:
        self.phase: Phase | None = phase

    def next_phase(self, vu: VU) -> Phase | None:
        phase, self.phase = self.phase, None
        return phase

    def phase_done(self, vu: VU, phase: Phase) -> None:
        pass


def js_error_text(raw: str) -> str:
    """Turn a dukpy/QuickJS error text into k6's shape: message, then ``\\tat`` frames."""
    lines = raw.rstrip("\n").split("\n")
    head: list[str] = []
    frames: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("at ") and line.startswith((" ", "\t")):
            if "://" not in stripped or "jsrunner:" in stripped:
                continue  # our shims and built-in modules (k6 shows no frames for its Go code)
            body = stripped[3:]
            for prefix in ("<anonymous> (", "<eval> ("):
                if body.startswith(prefix) and body.endswith(")"):
                    body = body[len(prefix):-1]
            frames.append("\tat " + body)
        elif not frames:
            head.append(line)
    return "\n".join(head) + "\n" + "".join(f + "\n" for f in frames)


def parse_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
