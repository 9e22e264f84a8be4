"""Executors: decide which VU runs which iteration, and when (runner.md §2, k6 semantics).

Each VU thread asks its :class:`VUHost` for the next phase; the host hands the question to
the executor the VU is currently lent to, and gives the VU back to the :class:`VUPool` when
the executor answers None. Executors are therefore pull-based and thread-safe. The thread
that calls :meth:`Executor.run` drives the scenario's timeline like k6:

- ``startTime``: the scenario waits (``waiting`` in the progress output);
- the *regular* duration (``duration``, ``maxDuration``, the sum of the stages): at its end no
  new iteration starts;
- ``gracefulStop`` after that: iterations still running are interrupted (not counted in
  ``iterations``, counted as interrupted); ramping-vus also interrupts the iterations of VUs
  ramped down more than ``gracefulRampDown`` ago;
- :meth:`Executor.abort` (``exec.test.abort()``, a signal, an ``abortOnFail`` threshold):
  nothing new starts and running iterations are interrupted at once, as in k6.

Timing math (ramping VU steps with graceful ramp-down, arrival offsets) comes from
:mod:`jsrunner.schedule`; "active VUs" follow k6 v1.1: VUs of the iteration-based and
ramping executors count from activation to return, arrival-rate VUs only while they run an
iteration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import fibers
from .progress_format import (DONE, INTERRUPTED, RUNNING, STOPPING, WAITING, ScenarioSnapshot,
                              scenario_progress)
from .schedule import (ExecutionStep, ExecutionTuple, constant_arrival_offsets, max_planned_vus,
                       ramping_arrival_offsets, ramping_vus_graceful_steps, ramping_vus_raw_steps)
from .vu import VU, Phase

_NS = 1_000_000_000
#: how long a VU thread may take to come back after being interrupted before we give up on it
#: (a busy loop in JS cannot be interrupted; its daemon thread is abandoned)
INTERRUPT_GRACE = 5.0


def _ns(seconds: float) -> int:
    return int(round(seconds * _NS))


@dataclass
class ScenarioSpec:
    """What an executor needs to know about its scenario (times in seconds)."""

    name: str
    executor: str
    exec_fn: str = "default"
    env: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    start_time: float = 0.0
    graceful_stop: float = 30.0
    vus: int = 1
    iterations: int = 1
    duration: float = 0.0
    max_duration: float = 600.0
    start_vus: int = 1
    stages: list[tuple[float, float]] = field(default_factory=list)  # (duration s, target)
    graceful_ramp_down: float = 30.0
    rate: float = 0.0
    start_rate: float = 0.0
    time_unit: float = 1.0
    pre_allocated_vus: int = 0
    max_vus: int = 0
    #: iteration start offsets (s from the scenario start) for arrival-rate executors; None =
    #: derived from the fields above with jsrunner.schedule (ns math, like k6)
    offsets: Callable[[], Any] | None = None
    #: the VUs this scenario needs over time (offsets in ns from its start), for the run's
    #: VU plan; filled by planning from the validated config
    requirements: list[ExecutionStep] = field(default_factory=list)


@dataclass
class ScenarioProgress:
    completed: int = 0
    interrupted: int = 0
    dropped: int = 0
    active: int = 0  # VUs lent to the scenario right now
    started_at: float | None = None
    ended_at: float | None = None
    iterations_started: int = 0


class RunState:
    """Shared, thread-safe state of a running test (what k6/execution reads)."""

    def __init__(self, global_env: dict[str, str], global_tags: dict[str, str]) -> None:
        self.global_env = global_env
        self.global_tags = global_tags
        self.lock = threading.Lock()
        #: the test is being stopped (abort, signal, abortOnFail): no new iteration anywhere
        self.stopping = threading.Event()
        self.test_start = time.monotonic()
        self.completed = 0
        self.interrupted = 0
        self.vus_active = 0
        self.vus_initialised = 0
        self.progress: dict[str, ScenarioProgress] = {}
        self.iteration_hook: Callable[[VU, Phase], None] | None = None
        #: iterations a VU finished back to back in JS: (vu, executor, marks), iteration j
        #: running from marks[j] to marks[j + 1]
        self.batch_hook: Callable[[VU, Any, list[float]], None] | None = None
        self.setup_json: str | None = None
        #: a second Ctrl-C: stop waiting for anything
        self.hard_stop = threading.Event()
        self.warn: Callable[..., None] = lambda msg, **fields: None
        self.error: Callable[..., None] = lambda msg, **fields: None
        self.executors: list[Any] = []
        self.on_abort: Callable[[str, VU], None] | None = None
        self.marked_failed = False

    def mod_active(self, delta: int) -> None:
        with self.lock:
            self.vus_active += delta


class VUHost:
    """The controller a VU thread talks to; forwards to the executor it is lent to."""

    def __init__(self, vu: VU) -> None:
        self.vu = vu
        self.assignments: fibers.SimpleQueue = fibers.SimpleQueue()
        self.current: Executor | None = None

    def next_phase(self, vu: VU) -> Phase | None:
        while True:
            if self.current is None:
                ex = self.assignments.get()
                if ex is None:
                    return None
                self.current = ex
                gate = ex.start_gate
                if gate is not None:
                    gate.release()
            phase = self.current.next_phase(vu)
            if phase is not None:
                return phase
            ex, self.current = self.current, None
            ex.released(vu)

    def phase_done(self, vu: VU, phase: Phase) -> None:
        if self.current is not None:
            self.current.phase_done(vu, phase)

    def grant_batch(self, vu: VU, phase: Phase) -> tuple[int, float]:
        if self.current is None or not batching_allowed(vu):
            return 0, 0.0
        return self.current.grant_batch(vu, phase)

    def finish_batch(self, vu: VU, first: Phase, extra: list[float],
                     continuing: float | None, claimed: int) -> Phase | None:
        if self.current is None:
            return None
        return self.current.finish_batch(vu, first, extra, continuing, claimed)


#: most iterations a VU may run back to back in JS before it reports to Python, and the
#: longest such a batch may last: short enough that progress, stop requests and fairness
#: between VUs (shared-iterations) are unaffected
BATCH_MAX = 512
#: longest a scenario start waits for a VU to pick up its assignment (see _lend_planned)
START_PACE_S = 0.005
BATCH_BUDGET_MS = 5.0


def batching_allowed(vu: VU) -> bool:
    """Batches are exact only while no script code reads per-iteration state from Python.

    ``k6/execution`` exposes scenario-wide iteration numbers that are assigned when an
    iteration is booked; with it imported every iteration goes through the executor.
    """
    return not vu.ctx.loader.is_loaded("k6/execution")


class VUPool:
    """Initialised VUs not lent to any executor (FIFO, like k6's VU buffer).

    ``unplanned_new``: unplanned VUs (arrival-rate executors above ``preAllocatedVUs``) are
    always freshly initialised, as in k6; otherwise a free pooled VU is used first (for
    runners that initialise every possible VU up front).
    """

    #: how long a planned VU may be waited for (another scenario returning it) before a new
    #: one is initialised instead
    PLANNED_WAIT = 1.0

    def __init__(self, factory: Callable[[], VU], *, unplanned_new: bool = False) -> None:
        self._free: list[VU] = []
        self._cond = fibers.Condition()
        self.factory = factory
        self.unplanned_new = unplanned_new
        self.all: list[VU] = []

    def add(self, vu: VU) -> None:
        with self._cond:
            self._free.append(vu)
            self.all.append(vu)
            self._cond.notify()

    def take(self) -> VU | None:
        with self._cond:
            if self._free:
                return self._free.pop(0)
        return None

    def give_back(self, vu: VU) -> None:
        with self._cond:
            self._free.append(vu)
            self._cond.notify()

    def create(self) -> VU:
        vu = self.factory()
        with self._cond:
            self.all.append(vu)
        return vu

    def take_or_create(self) -> VU:
        vu = self.take()
        return vu if vu is not None else self.create()

    def take_planned(self, timeout: float | None = None) -> VU:
        """A VU the plan reserved: from the pool, waiting a little for one to come back."""
        deadline = time.monotonic() + (self.PLANNED_WAIT if timeout is None else timeout)
        with self._cond:
            while not self._free:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._free:
                return self._free.pop(0)
        return self.create()

    def take_unplanned(self) -> VU:
        if self.unplanned_new:
            return self.create()
        return self.take_or_create()

    def free_count(self) -> int:
        with self._cond:
            return len(self._free)


class Executor:
    """Common part: VU lending, phase building, the two-step stop, progress counters."""

    kind = ""
    #: VUs count as active (k6 ``vus``) from lending to return; False: only inside iterations
    activate_on_lend = True
    #: wake ``cond``'s waiters at every iteration end and VU return; False where they only
    #: ever wait for every VU to be returned (a notify then, not 2,000 wake-ups of the
    #: driver thread when 1,000 VUs finish together)
    notify_each = True

    def __init__(self, spec: ScenarioSpec, state: RunState, pool: VUPool, hosts: dict[int, VUHost]) -> None:
        self.spec = spec
        self.state = state
        self.pool = pool
        self.hosts = hosts
        self.progress = ScenarioProgress()
        state.progress[spec.name] = self.progress
        self.lock = threading.RLock()
        self.cond = fibers.Condition(self.lock)
        self.stopping = False  # no new iteration (regular end reached, or aborted)
        self.aborted = False   # the whole test is being stopped: interrupt, don't wait
        self.running: dict[int, VU] = {}  # VU id -> VU currently inside an iteration
        self.lent: set[int] = set()
        self._fresh: set[int] = set()  # VUs activated but not yet given their first phase
        self.finished = threading.Event()
        self.start_mono = 0.0
        self.start_wall = 0.0
        self.scenario_iter = 0
        self.tags = {**state.global_tags, **spec.tags, "scenario": spec.name}
        self.env = {**state.global_env, **spec.env}
        self.dropped_hook: Callable[[Executor], None] | None = None
        # progress bar (k6 trackProgress): None = not started (blank bar)
        self.bar_status: str | None = None
        self.frozen: ScenarioSnapshot | None = None
        self.wait_started = 0.0
        #: while ``_lend_planned`` starts the scenario's VUs: released by each VU's host as
        #: it picks up its assignment
        self.start_gate: threading.Semaphore | None = None

    # ---- timeline ----------------------------------------------------------------------
    def regular_duration(self) -> float:
        """Seconds after the scenario start at which no new iteration may start."""
        raise NotImplementedError

    def planned_end(self) -> float:  # kept for callers of the first version
        return self.regular_duration()

    def max_duration(self) -> float:
        """Seconds after the scenario start at which running iterations are interrupted."""
        return self.regular_duration() + self.spec.graceful_stop

    def run(self) -> None:
        """Run the scenario to its end (blocking; call in a thread per scenario)."""
        try:
            if self.spec.start_time > 0:
                self.bar_status = WAITING
                self.wait_started = time.monotonic()
                if self._wait(self.wait_started + self.spec.start_time, lambda: False):
                    return
            if self.aborted or self.state.stopping.is_set():
                return
            self.start_mono = time.monotonic()
            self.start_wall = time.time()
            self.progress.started_at = self.start_mono
            self.bar_status = RUNNING
            self.start()
            self.drive()
            self._regular_end()
            self.drain()
        finally:
            self._finish()

    def start(self) -> None:
        """Activate the scenario's initial VUs."""
        raise NotImplementedError

    def drive(self) -> None:
        """Run until the regular end (or until every VU is done, or the test stops)."""
        self._wait(self.start_mono + self.regular_duration(), self.all_released)

    def drain(self) -> None:
        """After the regular end: wait up to gracefulStop, then interrupt what still runs."""
        self._wait(self.start_mono + self.max_duration(), self.all_released)
        self.interrupt_running()
        self._wait_released()

    def _wait(self, deadline: float, done: Callable[[], bool]) -> bool:
        """Wait until ``deadline`` (monotonic) or ``done()``; True if the test was aborted."""
        with self.cond:
            while not self.aborted and not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(min(remaining, 0.1))
                if self.state.stopping.is_set() and not self.aborted:
                    break  # an abort we were not told about directly
            return self.aborted or self.state.stopping.is_set()

    def _wait_released(self) -> None:
        give_up = time.monotonic() + INTERRUPT_GRACE
        with self.cond:
            while self.lent:
                if time.monotonic() > give_up:
                    return  # a VU stuck in JS that cannot be interrupted
                if self.state.hard_stop.is_set():
                    return
                self.cond.wait(0.1)
                if self.running and self.aborted:
                    self._interrupt_locked()

    def _regular_end(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.on_stop()
        if not self.aborted and not self.state.stopping.is_set() and self.spec.graceful_stop > 0:
            snap = self.snapshot(live=True)
            snap.status = STOPPING
            self.bar_status = STOPPING
            self.frozen = snap

    def _finish(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.on_stop()
        self.release_idle()
        self.progress.ended_at = time.monotonic()
        aborted = self.aborted or self.state.stopping.is_set()
        if self.bar_status is not None and self.bar_status != WAITING:
            snap = self.snapshot(live=True)
            prog, _ = scenario_progress(snap)
            snap.status = INTERRUPTED if aborted or prog < 1 else DONE
            self.frozen = snap
            self.bar_status = snap.status
        self.finished.set()

    def release_idle(self) -> None:
        """Give back VUs still lent but idle once the scenario is over (arrival rates)."""

    def all_released(self) -> bool:
        return not self.lent

    def stop_starting(self) -> None:
        """No new iterations from now on (the regular end, or part of an abort)."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.on_stop()

    def abort(self) -> None:
        """The test is being stopped: nothing new starts, running iterations are interrupted."""
        with self.cond:
            self.aborted = True
            self.stopping = True
            self.cond.notify_all()
            self._interrupt_locked()
        self.on_stop()

    def on_stop(self) -> None:
        pass

    def interrupt_running(self) -> None:
        with self.cond:
            self._interrupt_locked()

    def _interrupt_locked(self) -> None:
        for vu in self.running.values():
            vu.interrupt.set()
            vu.wake()

    # ---- VU lending --------------------------------------------------------------------
    def lend(self, vu: VU) -> None:
        self._book_lent(vu)
        self.hosts[vu.id].assignments.put(self)

    def _book_lent(self, vu: VU) -> None:
        with self.cond:
            self.lent.add(vu.id)
            self._fresh.add(vu.id)
            self.progress.active += 1
        if self.activate_on_lend:
            self.state.mod_active(+1)

    def _lend_planned(self, count: int) -> None:
        """Lend ``count`` planned VUs, each once the previous one has picked up its assignment.

        Lending them all in one loop woke every VU thread at once: 1,000 threads then
        queued for the GIL together, each waking every switch interval (5 ms) to ask for
        it — most of the CPU a 1,000-VU start cost went to those futex wake-ups. Paced, at
        most the VU just lent and this thread want the GIL. A VU that does not pick up its
        assignment within ``START_PACE_S`` (busy elsewhere) ends the pacing: the rest are
        lent at once, as before. VUs not in the pool yet (another scenario still has them)
        are waited for and lent one by one afterwards, as before.
        """
        vus: list[VU] = []
        while len(vus) < count:  # those free now; the others as they come back, below
            vu = self.pool.take()
            if vu is None:
                break
            vus.append(vu)
        for vu in vus:  # all active before the first starts (exec.instance.vusActive)
            self._book_lent(vu)
        gate = threading.Semaphore(0)
        self.start_gate = gate
        paced = True
        try:
            for vu in vus:
                self.hosts[vu.id].assignments.put(self)
                if paced and not gate.acquire(timeout=START_PACE_S):
                    paced = False
        finally:
            self.start_gate = None
        for _ in range(count - len(vus)):
            self.lend(self.pool.take_planned())

    def released(self, vu: VU) -> None:
        with self.cond:
            self.lent.discard(vu.id)
            self._fresh.discard(vu.id)
            self.progress.active -= 1
            if self.notify_each or not self.lent:
                self.cond.notify_all()
        if self.activate_on_lend:
            self.state.mod_active(-1)
        self.pool.give_back(vu)

    # ---- phases ------------------------------------------------------------------------
    def _new_phase_locked(self, vu: VU) -> Phase:
        """Start an iteration on ``vu`` (the caller holds ``self.lock``)."""
        n = self.scenario_iter
        self.scenario_iter += 1
        self.running[vu.id] = vu
        self.progress.iterations_started += 1
        vu.interrupt.clear()  # a stale interrupt aimed at the VU's previous iteration
        tags = env = None
        if vu.id in self._fresh:  # activation: the scenario's env and tags (k6 VU.Activate)
            self._fresh.discard(vu.id)
            tags = dict(self.tags, group="")
            env = self.env
        if not self.activate_on_lend:
            self.state.mod_active(+1)
        in_scenario = vu.scenario_iterations.get(self.spec.name, 0)
        vu.scenario_iterations[self.spec.name] = in_scenario + 1
        phase = Phase("iter", fn=self.spec.exec_fn, iteration=vu.iteration_count,
                      data_json=self.state.setup_json, env=env, tags=tags, scenario=self)
        phase.scenario_iteration = n  # type: ignore[attr-defined]
        phase.vu_scenario_iteration = in_scenario  # type: ignore[attr-defined]
        return phase

    def make_phase(self, vu: VU) -> Phase:
        with self.cond:
            return self._new_phase_locked(vu)

    def phase_done(self, vu: VU, phase: Phase) -> None:
        claim = getattr(phase, "batch_claim", 0)
        if claim:  # the iteration did not stay simple: its batch never ran
            phase.batch_claim = 0  # type: ignore[attr-defined]
            self._return_claims(vu, claim)
        # An iteration that called exec.test.abort() counts in `iterations` (its samples are
        # emitted) but as interrupted in the progress line and exec.instance, as in k6.
        interrupted = phase.interrupted or (phase.error or "").startswith("\0abort")
        with self.cond:
            self.running.pop(vu.id, None)
            if interrupted:
                self.progress.interrupted += 1
            else:
                self.progress.completed += 1
            if self.notify_each:
                self.cond.notify_all()
        with self.state.lock:
            if interrupted:
                self.state.interrupted += 1
            else:
                self.state.completed += 1
            if not self.activate_on_lend:
                self.state.vus_active -= 1
        hook = self.state.iteration_hook
        if hook is not None:
            hook(vu, phase)

    def next_phase(self, vu: VU) -> Phase | None:
        raise NotImplementedError

    # ---- batches of simple iterations (see VU._batch_done) -----------------------------
    def grant_batch(self, vu: VU, phase: Phase) -> tuple[int, float]:
        """Claim extra iterations ``vu`` may run back to back; (count, mono-ms deadline)."""
        return 0, 0.0

    def _return_claims(self, vu: VU, unused: int) -> None:
        """Give back claimed iterations a batch did not use."""

    def _budget(self, end_s: float) -> float:
        return min(self.start_mono * 1000.0 + end_s * 1000.0, time.monotonic() * 1000.0 + BATCH_BUDGET_MS)

    def finish_batch(self, vu: VU, first: Phase, extra: list[float],
                     continuing: float | None, claimed: int) -> Phase | None:
        """Book the batch's extra iterations (``extra``: their clock marks, one more than
        their count); return the phase of one still running."""
        n = max(0, len(extra) - 1)
        used = n + (1 if continuing is not None else 0)
        if claimed > used:
            self._return_claims(vu, claimed - used)
        if n:
            # booked in bulk: these iterations finished, without errors, inside JS
            with self.cond:
                self.scenario_iter += n
                self.progress.iterations_started += n
                self.progress.completed += n
                if self.notify_each:
                    self.cond.notify_all()
            name = self.spec.name
            vu.scenario_iterations[name] = vu.scenario_iterations.get(name, 0) + n
            vu.iteration_count += n
            with self.state.lock:
                self.state.completed += n
            hook = self.state.batch_hook
            if hook is not None:
                hook(vu, self, extra)
        if continuing is None:
            return None
        phase = self.make_phase(vu)
        return phase

    def _may_start(self) -> bool:
        return not self.stopping and not self.aborted and not self.state.stopping.is_set()

    def elapsed(self) -> float:
        return time.monotonic() - self.start_mono if self.start_mono else 0.0

    def progress_fraction(self) -> float:
        """``exec.scenario.progress``: the value of the scenario's progress bar."""
        snap = self.frozen if self.frozen is not None else self.snapshot(live=True)
        try:
            prog, _ = scenario_progress(snap)
        except ValueError:
            return 0.0
        return min(1.0, max(0.0, prog))

    def iteration_in_test(self, n: int) -> int:
        return n

    # ---- progress ----------------------------------------------------------------------
    def snapshot(self, live: bool = False) -> ScenarioSnapshot:
        """The progress-bar state (frozen once the scenario stops, like k6)."""
        if not live and self.frozen is not None:
            return self.frozen
        spec = self.spec
        snap = ScenarioSnapshot(name=spec.name, executor=spec.executor)
        if self.bar_status == WAITING:
            snap.status = WAITING
            snap.start_time = _ns(spec.start_time)
            waited = time.monotonic() - self.wait_started if self.wait_started else 0.0
            snap.wait_remaining = _ns(max(0.0, spec.start_time - waited))
            return snap
        snap.status = self.bar_status or RUNNING
        snap.elapsed = _ns(self.elapsed())
        self.fill_snapshot(snap)
        return snap

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        raise NotImplementedError


class SharedIterations(Executor):
    kind = "shared-iterations"
    notify_each = False  # waiters: drive/drain/_wait_released (all returned)

    def regular_duration(self) -> float:
        return self.spec.max_duration

    def start(self) -> None:
        self.taken = 0
        self._lend_planned(self.spec.vus)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            if not self._may_start() or self.taken >= self.spec.iterations:
                return None
            self.taken += 1
            return self._new_phase_locked(vu)

    def grant_batch(self, vu: VU, phase: Phase) -> tuple[int, float]:
        with self.cond:
            if not self._may_start():
                return 0, 0.0
            # a fair share only, so the other VUs keep getting iterations
            k = min(BATCH_MAX, (self.spec.iterations - self.taken) // max(1, self.spec.vus))
            self.taken += k
        phase.batch_claim = k  # type: ignore[attr-defined]
        return k, self._budget(self.spec.max_duration)

    def _return_claims(self, vu: VU, unused: int) -> None:
        with self.cond:
            self.taken -= unused

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        snap.vus = self.spec.vus
        snap.iterations_done = self.progress.completed
        snap.iterations_total = self.spec.iterations
        snap.duration = _ns(self.spec.max_duration)


class PerVUIterations(Executor):
    kind = "per-vu-iterations"
    notify_each = False  # waiters: drive/drain/_wait_released (all returned)

    def regular_duration(self) -> float:
        return self.spec.max_duration

    def start(self) -> None:
        self.counts: dict[int, int] = {}
        self._lend_planned(self.spec.vus)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            done = self.counts.get(vu.id, 0)
            if not self._may_start() or done >= self.spec.iterations:
                return None
            self.counts[vu.id] = done + 1
            return self._new_phase_locked(vu)

    def grant_batch(self, vu: VU, phase: Phase) -> tuple[int, float]:
        with self.cond:
            if not self._may_start():
                return 0, 0.0
            k = min(BATCH_MAX, self.spec.iterations - self.counts.get(vu.id, 0))
            self.counts[vu.id] = self.counts.get(vu.id, 0) + k
        phase.batch_claim = k  # type: ignore[attr-defined]
        return k, self._budget(self.spec.max_duration)

    def _return_claims(self, vu: VU, unused: int) -> None:
        with self.cond:
            self.counts[vu.id] -= unused

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        snap.vus = self.spec.vus
        snap.iterations_done = self.progress.completed
        snap.iterations_total = self.spec.iterations * self.spec.vus
        snap.iterations_per_vu = self.spec.iterations
        snap.duration = _ns(self.spec.max_duration)


class ConstantVUs(Executor):
    kind = "constant-vus"
    notify_each = False  # waiters: drive/drain/_wait_released (all returned)

    def regular_duration(self) -> float:
        return self.spec.duration

    def start(self) -> None:
        self._lend_planned(self.spec.vus)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            if not self._may_start() or self.elapsed() >= self.spec.duration:
                return None
            return self._new_phase_locked(vu)

    def grant_batch(self, vu: VU, phase: Phase) -> tuple[int, float]:
        if not self._may_start():
            return 0, 0.0
        phase.batch_claim = BATCH_MAX  # type: ignore[attr-defined]
        return BATCH_MAX, self._budget(self.spec.duration)

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        snap.vus = self.spec.vus
        snap.duration = _ns(self.spec.duration)


class _Handle:
    """One VU slot of a ramping-vus scenario (k6 vuHandle): stopped, running or graceful
    (the VU finishes its iteration, then goes back to the pool)."""

    __slots__ = ("index", "state", "vu")

    def __init__(self, index: int) -> None:
        self.index = index
        self.state = "stopped"
        self.vu: VU | None = None


class RampingVUs(Executor):
    """VU count follows k6's execution steps; ramped-down VUs finish their iteration, and are
    interrupted when ``gracefulRampDown`` (the graceful steps) runs out."""

    kind = "ramping-vus"
    #: set by a segment runner: the execution tuple, and the spec with the global stages
    et: ExecutionTuple | None = None
    global_spec: ScenarioSpec | None = None

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._steps: tuple[list[ExecutionStep], list[ExecutionStep]] | None = None
        self.handles: list[_Handle] = []
        self.by_vu: dict[int, _Handle] = {}
        self.scheduled = 0
        self.grace_index = 0

    # computed on first use: a segment runner sets ``et``/``global_spec`` after construction
    @property
    def raw_steps(self) -> list[ExecutionStep]:
        if self._steps is None:
            self._steps = self.steps()
        return self._steps[0]

    @property
    def graceful_steps(self) -> list[ExecutionStep]:
        if self._steps is None:
            self._steps = self.steps()
        return self._steps[1]

    @property
    def max_vus(self) -> int:
        return max_planned_vus(self.graceful_steps)

    def steps(self) -> tuple[list[ExecutionStep], list[ExecutionStep]]:
        g = self.global_spec or self.spec
        stages = [(_ns(d), int(t)) for d, t in g.stages]
        start = int(g.start_vus)
        raw = ramping_vus_raw_steps(start, stages, self.et, zero_end=True)
        graceful = ramping_vus_graceful_steps(start, stages, _ns(self.spec.graceful_ramp_down),
                                              _ns(self.spec.graceful_stop), self.et)
        return raw, graceful

    def regular_duration(self) -> float:
        return self.raw_steps[-1].offset / _NS if self.raw_steps else 0.0

    def max_duration(self) -> float:
        return self.graceful_steps[-1].offset / _NS if self.graceful_steps else self.regular_duration()

    def target_at(self, t: float) -> int:
        """Scheduled VUs ``t`` seconds into the scenario."""
        value = 0
        for s in self.raw_steps:
            if s.offset > _ns(t):
                break
            value = s.planned
        return value

    def start(self) -> None:
        self.handles = [_Handle(i) for i in range(self.max_vus)]  # the steps start them

    def drive(self) -> None:
        raw, grace = self.raw_steps, self.graceful_steps
        i = j = 0
        while i < len(raw):
            r = raw[i]
            g = grace[j] if j < len(grace) else None
            if g is not None and g.offset < r.offset:
                if self._wait_offset(g.offset):
                    break
                self._max_allowed(g.planned)
                j += 1
            else:
                if self._wait_offset(r.offset):
                    break
                self._schedule(r.planned)
                i += 1
        self.grace_index = j

    def drain(self) -> None:
        for g in self.graceful_steps[self.grace_index:]:
            if self._wait(self.start_mono + g.offset / _NS, self.all_released):
                break
            if self.all_released():
                break
            self._max_allowed(g.planned)
        self._max_allowed(0)
        self._wait_released()

    def _wait_offset(self, offset_ns: int) -> bool:
        return self._wait(self.start_mono + offset_ns / _NS, lambda: False)

    def _schedule(self, planned: int) -> None:
        while self.scheduled < planned:
            self._start_handle(self.handles[self.scheduled])
            self.scheduled += 1
        with self.cond:
            while planned < self.scheduled:
                h = self.handles[self.scheduled - 1]
                if h.state == "running":
                    h.state = "graceful"
                self.scheduled -= 1

    def _start_handle(self, h: _Handle) -> None:
        with self.cond:
            if h.state == "running":
                return
            if h.state == "graceful":  # raced with its own stop: just keep going
                h.state = "running"
                return
        vu = self.pool.take_planned()
        with self.cond:
            if not self._may_start():
                self.pool.give_back(vu)
                return
            h.state = "running"
            h.vu = vu
            self.by_vu[vu.id] = h
        self.lend(vu)

    def _max_allowed(self, allowed: int) -> None:
        with self.cond:
            for h in self.handles[allowed:]:
                if h.state == "stopped" or h.vu is None:
                    continue
                vu = h.vu
                h.state = "stopped"
                h.vu = None
                self.by_vu.pop(vu.id, None)
                if vu.id in self.running:
                    vu.interrupt.set()
                    vu.wake()

    def on_stop(self) -> None:
        if self.aborted:
            self._max_allowed(0)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            h = self.by_vu.get(vu.id)
            if h is None or h.vu is not vu or h.state != "running" or self.aborted or self.state.stopping.is_set():
                if h is not None and h.vu is vu:
                    h.state = "stopped"
                    h.vu = None
                self.by_vu.pop(vu.id, None)
                return None
            return self._new_phase_locked(vu)

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        snap.vus = self.max_vus
        snap.active_vus = self.progress.active
        snap.duration = _ns(self.regular_duration())


class ArrivalRate(Executor):
    """constant-arrival-rate and ramping-arrival-rate: iterations start on a clock; when no
    VU is free the iteration is dropped (``dropped_iterations``) and, while ``maxVUs``
    allows, one more VU is initialised in the background."""

    activate_on_lend = False

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.idle = 0          # VUs waiting for an iteration
        self.tickets = 0       # iterations handed out but not yet picked up
        self.allocated = 0     # VUs activated for this scenario (k6 never lowers it)
        self.warned = False
        self.allocating = False
        self.remaining_unplanned = 0
        self.period: float | None = None  # s between the last two iteration starts

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.spec.executor

    def regular_duration(self) -> float:
        if self.spec.executor == "constant-arrival-rate":
            return self.spec.duration
        return sum(d for d, _ in self.spec.stages)

    def start_offsets(self) -> Iterator[float]:
        if self.spec.offsets is not None:
            return iter(self.spec.offsets())
        return arrival_offsets(self.spec)

    def start(self) -> None:
        pre = self.spec.pre_allocated_vus
        for _ in range(pre):
            vu = self.pool.take_planned()
            with self.cond:
                self.allocated += 1
            self.lend(vu)
        self.remaining_unplanned = max(0, max(self.spec.max_vus, pre) - pre)
        # like k6's vusPool.AddVU: the VUs are waiting for work before the clock starts
        deadline = time.monotonic() + 2.0
        with self.cond:
            while self.idle < pre and not self.aborted and time.monotonic() < deadline:
                self.cond.wait(0.01)

    def drive(self) -> None:
        end = self.regular_duration()
        prev = 0.0
        for offset in self.start_offsets():
            self.period = offset - prev  # k6 stores it before checking the end
            prev = offset
            if offset >= end:
                break
            if self._wait(self.start_mono + offset, lambda: False):
                return
            with self.cond:
                if self.idle - self.tickets > 0:
                    self.tickets += 1
                    self.cond.notify()
                    continue
            self.progress.dropped += 1
            if self.dropped_hook is not None:
                self.dropped_hook(self)
            if self.remaining_unplanned <= 0:
                if not self.warned:
                    self.warned = True
                    mx = max(self.spec.max_vus, self.spec.pre_allocated_vus)
                    self.state.warn(f"Insufficient VUs, reached {mx} active VUs and cannot initialize more",
                                    executor=self.spec.executor, scenario=self.spec.name)
                continue
            if not self.allocating:
                self.allocating = True
                self.remaining_unplanned -= 1
                self._allocator = threading.Thread(target=self._allocate, name=f"unplanned-{self.spec.name}",
                                                   daemon=True)
                self._allocator.start()
        self._wait(self.start_mono + end, lambda: False)

    def _allocate(self) -> None:
        try:
            vu = self.pool.take_unplanned()
        except Exception as exc:  # noqa: BLE001 - k6 logs it and carries on
            self.state.error("Error while allocating unplanned VU", error=getattr(exc, "message", str(exc)))
            self.allocating = False
            return
        with self.cond:
            if self.stopping or self.aborted:
                self.allocating = False
                self.pool.give_back(vu)
                return
            self.allocated += 1
        self.lend(vu)
        self.allocating = False

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            self.idle += 1
            self.cond.notify_all()
            try:
                while True:
                    if self.aborted or self.state.stopping.is_set():
                        return None
                    if self.tickets > 0:
                        self.tickets -= 1
                        return self._new_phase_locked(vu)
                    if self.stopping:
                        return None
                    self.cond.wait(0.2)
            finally:
                self.idle -= 1

    def on_stop(self) -> None:
        with self.cond:
            if self.aborted:
                self.tickets = 0
            self.cond.notify_all()

    def release_idle(self) -> None:
        allocator = getattr(self, "_allocator", None)
        if allocator is not None:
            allocator.join(10.0)  # a VU being initialised: let it go back to the pool

    def current_rate(self) -> float:
        if self.spec.executor == "constant-arrival-rate":
            return self.spec.rate / self.spec.time_unit if self.spec.time_unit else 0.0
        p = self.period
        if p is None:
            return self.spec.start_rate / self.spec.time_unit if self.spec.time_unit else 0.0
        return 1.0 / p if p > 0 else 0.0

    def fill_snapshot(self, snap: ScenarioSnapshot) -> None:
        spec = self.spec
        snap.vus = max(spec.max_vus, spec.pre_allocated_vus)
        snap.active_vus = self.allocated
        snap.running_vus = len(self.running)
        snap.duration = _ns(self.regular_duration())
        if spec.executor == "constant-arrival-rate":
            snap.rate = spec.rate / spec.time_unit if spec.time_unit else 0.0
        else:
            snap.max_rate = max([spec.start_rate] + [t for _, t in spec.stages]) / spec.time_unit if spec.time_unit else 0.0
            snap.rate = self.current_rate()


def arrival_offsets(spec: ScenarioSpec, et: ExecutionTuple | None = None) -> Iterator[float]:
    """Start offsets (s) of a constant or ramping arrival rate (k6's ns math, schedule.py)."""
    unit = _ns(spec.time_unit)
    if spec.executor == "constant-arrival-rate":
        gen = constant_arrival_offsets(int(round(spec.rate)), unit, _ns(spec.duration), et)
    else:
        gen = ramping_arrival_offsets(int(round(spec.start_rate)), unit,
                                      [(_ns(d), int(round(t))) for d, t in spec.stages], et)
    return (t / _NS for t in gen)


EXECUTORS: dict[str, type[Executor]] = {
    "shared-iterations": SharedIterations,
    "per-vu-iterations": PerVUIterations,
    "constant-vus": ConstantVUs,
    "ramping-vus": RampingVUs,
    "constant-arrival-rate": ArrivalRate,
    "ramping-arrival-rate": ArrivalRate,
}
