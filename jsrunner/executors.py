"""Executors: decide which VU runs which iteration, and when.

Each VU thread asks its :class:`VUHost` for the next phase; the host hands the question to
the executor the VU is currently lent to. Executors are therefore pull-based and
thread-safe, and a scenario's end is enforced in two steps like k6: at ``end`` no new
iteration starts; at ``end + gracefulStop`` running iterations are interrupted.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .vu import VU, Phase


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
    #: iteration start offsets for arrival-rate executors (s from scenario start), if
    #: precomputed by the schedule module; otherwise derived here
    offsets: Callable[[], Any] | None = None


@dataclass
class ScenarioProgress:
    completed: int = 0
    interrupted: int = 0
    dropped: int = 0
    active: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    iterations_started: int = 0


class RunState:
    """Shared, thread-safe state of a running test (what k6/execution reads)."""

    def __init__(self, global_env: dict[str, str], global_tags: dict[str, str]) -> None:
        self.global_env = global_env
        self.global_tags = global_tags
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.test_start = time.monotonic()
        self.completed = 0
        self.interrupted = 0
        self.vus_active = 0
        self.vus_initialised = 0
        self.progress: dict[str, ScenarioProgress] = {}
        self.iteration_hook: Callable[[VU, Phase], None] | None = None
        self.setup_json: str | None = None
        #: a second Ctrl-C (or the end of gracefulStop after the first): stop waiting
        self.hard_stop = threading.Event()
        self.warn: Callable[..., None] = lambda msg, **fields: None
        self.executors: list[Any] = []
        self.on_abort: Callable[[str, VU], None] | None = None
        self.marked_failed = False


class VUHost:
    """The controller a VU thread talks to; forwards to the executor it is lent to."""

    def __init__(self, vu: VU) -> None:
        self.vu = vu
        self.assignments: queue.SimpleQueue[Executor | None] = queue.SimpleQueue()
        self.current: Executor | None = None

    def next_phase(self, vu: VU) -> Phase | None:
        while True:
            if self.current is None:
                ex = self.assignments.get()
                if ex is None:
                    return None
                self.current = ex
            phase = self.current.next_phase(vu)
            if phase is not None:
                return phase
            ex, self.current = self.current, None
            ex.released(vu)

    def phase_done(self, vu: VU, phase: Phase) -> None:
        if self.current is not None:
            self.current.phase_done(vu, phase)


class VUPool:
    """Initialised VUs not lent to any executor."""

    def __init__(self, factory: Callable[[], VU]) -> None:
        self._free: list[VU] = []
        self._lock = threading.Lock()
        self.factory = factory
        self.all: list[VU] = []

    def add(self, vu: VU) -> None:
        with self._lock:
            self._free.append(vu)
            self.all.append(vu)

    def take(self) -> VU | None:
        with self._lock:
            if self._free:
                return self._free.pop(0)
        return None

    def give_back(self, vu: VU) -> None:
        with self._lock:
            self._free.append(vu)

    def take_or_create(self) -> VU:
        vu = self.take()
        if vu is not None:
            return vu
        vu = self.factory()
        with self._lock:
            self.all.append(vu)
        return vu


class Executor:
    """Common part: VU lending, phase building, the two-step stop, progress counters."""

    kind = ""

    def __init__(self, spec: ScenarioSpec, state: RunState, pool: VUPool, hosts: dict[int, VUHost]) -> None:
        self.spec = spec
        self.state = state
        self.pool = pool
        self.hosts = hosts
        self.progress = ScenarioProgress()
        state.progress[spec.name] = self.progress
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stopping = False
        self.running: dict[int, VU] = {}  # VU id -> VU currently inside an iteration
        self.lent: set[int] = set()
        self.finished = threading.Event()
        self.start_mono = 0.0
        self.scenario_iter = 0
        self.tags = {**state.global_tags, **spec.tags, "scenario": spec.name}
        self.env = {**state.global_env, **spec.env}
        self.sent_tags: set[int] = set()

    # ---- timeline ----------------------------------------------------------------------
    def planned_end(self) -> float:
        """Seconds after the scenario start at which no new iteration may start."""
        raise NotImplementedError

    def run(self) -> None:
        """Run the scenario to its end (blocking; call in a thread per scenario)."""
        if self.spec.start_time > 0 and self.state.stopping.wait(self.spec.start_time):
            self.finished.set()
            return
        self.start_mono = time.monotonic()
        self.progress.started_at = self.start_mono
        self.start()
        end = self.planned_end()
        self._wait_until(end, lambda: self.all_released())
        self.stop_starting()
        self._wait_until(end + self.spec.graceful_stop, lambda: self.all_released(), from_now=False)
        self.interrupt_running()
        with self.cond:
            while self.lent:
                self.cond.wait(0.2)
        self.progress.ended_at = time.monotonic()
        self.finished.set()

    def _wait_until(self, offset: float, done: Callable[[], bool], from_now: bool = False) -> None:
        deadline = self.start_mono + offset
        with self.cond:
            while not done() and not self.state.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.cond.wait(min(remaining, 0.1))
        if self.state.stopping.is_set() and not done():
            # stop requested (Ctrl-C / abort): behave as if the scenario ended now
            self.stop_starting()
            grace_deadline = time.monotonic() + self.spec.graceful_stop
            with self.cond:
                while not done() and time.monotonic() < grace_deadline and not self.state.hard_stop.is_set():
                    self.cond.wait(0.1)

    def start(self) -> None:
        raise NotImplementedError

    def all_released(self) -> bool:
        return not self.lent

    def stop_starting(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.on_stop()

    def on_stop(self) -> None:
        pass

    def interrupt_running(self) -> None:
        with self.lock:
            vus = list(self.running.values())
        for vu in vus:
            vu.interrupt.set()
            vu.wake()

    # ---- VU lending --------------------------------------------------------------------
    def lend(self, vu: VU) -> None:
        with self.cond:
            self.lent.add(vu.id)
        with self.state.lock:
            self.state.vus_active += 1
        self.progress.active += 1
        self.hosts[vu.id].assignments.put(self)

    def released(self, vu: VU) -> None:
        with self.cond:
            self.lent.discard(vu.id)
            self.cond.notify_all()
        with self.state.lock:
            self.state.vus_active -= 1
        self.progress.active -= 1
        self.pool.give_back(vu)

    # ---- phases ------------------------------------------------------------------------
    def make_phase(self, vu: VU) -> Phase:
        with self.lock:
            n = self.scenario_iter
            self.scenario_iter += 1
            self.running[vu.id] = vu
            self.progress.iterations_started += 1
        tags = None
        if vu.binding_state.get("scenario") != self.spec.name:
            vu.binding_state["scenario"] = self.spec.name
            tags = dict(self.tags, group="")
        in_scenario = vu.scenario_iterations.get(self.spec.name, 0)
        vu.scenario_iterations[self.spec.name] = in_scenario + 1
        phase = Phase("iter", fn=self.spec.exec_fn, iteration=vu.iteration_count,
                      data_json=self.state.setup_json, env=self.env if tags is not None else None,
                      tags=tags, scenario=self)
        phase.scenario_iteration = n  # type: ignore[attr-defined]
        phase.vu_scenario_iteration = in_scenario  # type: ignore[attr-defined]
        return phase

    def phase_done(self, vu: VU, phase: Phase) -> None:
        with self.cond:
            self.running.pop(vu.id, None)
            if phase.interrupted:
                self.progress.interrupted += 1
            else:
                self.progress.completed += 1
            self.cond.notify_all()
        with self.state.lock:
            if phase.interrupted:
                self.state.interrupted += 1
            else:
                self.state.completed += 1
        hook = self.state.iteration_hook
        if hook is not None:
            hook(vu, phase)

    def next_phase(self, vu: VU) -> Phase | None:
        raise NotImplementedError

    def elapsed(self) -> float:
        return time.monotonic() - self.start_mono if self.start_mono else 0.0

    def progress_fraction(self) -> float:
        """``exec.scenario.progress``: share of the planned time (or iterations) done."""
        if self.spec.executor in ("shared-iterations",):
            total = max(1, self.spec.iterations)
            return min(1.0, self.progress.completed / total)
        if self.spec.executor == "per-vu-iterations":
            total = max(1, self.spec.iterations * self.spec.vus)
            return min(1.0, self.progress.completed / total)
        end = self.planned_end()
        return min(1.0, self.elapsed() / end) if end > 0 else 1.0

    def iteration_in_test(self, n: int) -> int:
        return n


class SharedIterations(Executor):
    kind = "shared-iterations"

    def planned_end(self) -> float:
        return self.spec.max_duration

    def start(self) -> None:
        self.taken = 0
        for _ in range(self.spec.vus):
            self.lend(self.pool.take_or_create())

    def next_phase(self, vu: VU) -> Phase | None:
        with self.lock:
            if self.stopping or self.state.stopping.is_set() or self.taken >= self.spec.iterations:
                return None
            self.taken += 1
        return self.make_phase(vu)


class PerVUIterations(Executor):
    kind = "per-vu-iterations"

    def planned_end(self) -> float:
        return self.spec.max_duration

    def start(self) -> None:
        self.counts: dict[int, int] = {}
        for _ in range(self.spec.vus):
            self.lend(self.pool.take_or_create())

    def next_phase(self, vu: VU) -> Phase | None:
        with self.lock:
            done = self.counts.get(vu.id, 0)
            if self.stopping or self.state.stopping.is_set() or done >= self.spec.iterations:
                return None
            self.counts[vu.id] = done + 1
        return self.make_phase(vu)


class ConstantVUs(Executor):
    kind = "constant-vus"

    def planned_end(self) -> float:
        return self.spec.duration

    def start(self) -> None:
        for _ in range(self.spec.vus):
            self.lend(self.pool.take_or_create())

    def next_phase(self, vu: VU) -> Phase | None:
        if self.stopping or self.state.stopping.is_set() or self.elapsed() >= self.spec.duration:
            return None
        return self.make_phase(vu)


class RampingVUs(Executor):
    """VU count follows the stages; VUs above the target finish within gracefulRampDown."""

    kind = "ramping-vus"

    def planned_end(self) -> float:
        return sum(d for d, _ in self.spec.stages)

    def target_at(self, t: float) -> int:
        prev = float(self.spec.start_vus)
        acc = 0.0
        for dur, target in self.spec.stages:
            if t < acc + dur:
                frac = (t - acc) / dur if dur > 0 else 1.0
                return int(math.floor(prev + (target - prev) * frac))
            acc += dur
            prev = float(target)
        return int(prev)

    def start(self) -> None:
        peak = max([self.spec.start_vus] + [int(t) for _, t in self.spec.stages])
        self.order: list[VU] = [self.pool.take_or_create() for _ in range(peak)]
        self.index = {vu.id: i for i, vu in enumerate(self.order)}
        self.target = self.target_at(0)
        self.rampdown_deadline: dict[int, float] = {}
        for vu in self.order:
            self.lend(vu)
        threading.Thread(target=self._track, name=f"ramp-{self.spec.name}", daemon=True).start()

    def _track(self) -> None:
        end = self.planned_end()
        while not self.stopping and not self.state.stopping.is_set():
            t = self.elapsed()
            if t >= end:
                break
            new = self.target_at(t)
            with self.cond:
                if new != self.target:
                    if new < self.target:
                        for vu_id, vu in self.running.items():
                            if self.index[vu_id] >= new:
                                self.rampdown_deadline.setdefault(vu_id, time.monotonic() + self.spec.graceful_ramp_down)
                    self.target = new
                    self.cond.notify_all()
                now = time.monotonic()
                for vu_id, deadline in list(self.rampdown_deadline.items()):
                    if now >= deadline and vu_id in self.running:
                        vu = self.running[vu_id]
                        vu.interrupt.set()
                        vu.wake()
                        del self.rampdown_deadline[vu_id]
            time.sleep(0.01)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.cond:
            self.rampdown_deadline.pop(vu.id, None)
            while True:
                if self.stopping or self.state.stopping.is_set() or self.elapsed() >= self.planned_end():
                    return None
                if self.index[vu.id] < self.target:
                    break
                self.cond.wait(0.05)
        return self.make_phase(vu)

    def on_stop(self) -> None:
        with self.cond:
            self.cond.notify_all()


class ArrivalRate(Executor):
    """constant-arrival-rate and ramping-arrival-rate: iterations start on a clock."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.work: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self.idle = 0
        self.allocated = 0
        self.warned = False
        self.dropped_hook: Callable[[Executor], None] | None = None

    def planned_end(self) -> float:
        if self.spec.executor == "constant-arrival-rate":
            return self.spec.duration
        return sum(d for d, _ in self.spec.stages)

    def start_offsets(self) -> Any:
        if self.spec.offsets is not None:
            return self.spec.offsets()
        return arrival_offsets(self.spec)

    def start(self) -> None:
        for _ in range(self.spec.pre_allocated_vus):
            self._add_vu(self.pool.take_or_create())
        threading.Thread(target=self._clock, name=f"arrivals-{self.spec.name}", daemon=True).start()

    def _add_vu(self, vu: VU) -> None:
        with self.lock:
            self.allocated += 1
        self.lend(vu)

    def _clock(self) -> None:
        end = self.planned_end()
        for offset in self.start_offsets():
            if offset >= end:
                break
            delay = self.start_mono + offset - time.monotonic()
            if delay > 0 and self.state.stopping.wait(delay):
                break
            if self.stopping or self.state.stopping.is_set():
                break
            with self.lock:
                free = self.idle > 0
                if free:
                    self.idle -= 1
            if free:
                self.work.put(True)
                continue
            self.progress.dropped += 1
            if self.dropped_hook is not None:
                self.dropped_hook(self)
            with self.lock:
                can_grow = self.allocated < max(self.spec.max_vus, self.spec.pre_allocated_vus)
                if can_grow:
                    self.allocated += 1
            if can_grow:
                threading.Thread(target=self._grow, daemon=True).start()
            elif not self.warned:
                self.warned = True
                self.state.warn(f"Insufficient VUs, reached {self.allocated} active VUs and cannot initialize more",
                                executor=self.spec.executor, scenario=self.spec.name)

    def _grow(self) -> None:
        vu = self.pool.take_or_create()
        with self.lock:
            self.allocated -= 1
        self._add_vu(vu)

    def next_phase(self, vu: VU) -> Phase | None:
        with self.lock:
            self.idle += 1
        while True:
            try:
                item = self.work.get(timeout=0.05)
            except queue.Empty:
                if self.stopping or self.state.stopping.is_set():
                    with self.lock:
                        self.idle -= 1
                    return None
                continue
            if not item:
                with self.lock:
                    self.idle -= 1
                return None
            return self.make_phase(vu)

    def on_stop(self) -> None:
        for _ in range(self.allocated + 1):
            self.work.put(False)


def arrival_offsets(spec: ScenarioSpec) -> Any:
    """Start offsets (s) of a constant or linearly ramping arrival rate."""
    if spec.executor == "constant-arrival-rate":
        per_sec = spec.rate / spec.time_unit
        i = 0
        while True:
            yield i / per_sec
            i += 1
    prev = spec.start_rate / spec.time_unit
    t0 = 0.0
    n = 0.0  # iterations due so far (integral of the rate)
    k = 1
    for dur, target in spec.stages:
        rate1 = target / spec.time_unit
        # iterations in this stage: integral of a linear rate
        total = (prev + rate1) / 2 * dur
        while k - 1 < n + total - 1e-9:
            need = (k - 1) - n  # iterations into this stage
            if abs(rate1 - prev) < 1e-12:
                t = need / prev if prev > 0 else dur
            else:
                a = (rate1 - prev) / (2 * dur)
                disc = prev * prev + 4 * a * need
                t = (-prev + math.sqrt(max(disc, 0.0))) / (2 * a)
            yield t0 + t
            k += 1
        n += total
        t0 += dur
        prev = rate1


EXECUTORS: dict[str, type[Executor]] = {
    "shared-iterations": SharedIterations,
    "per-vu-iterations": PerVUIterations,
    "constant-vus": ConstantVUs,
    "ramping-vus": RampingVUs,
    "constant-arrival-rate": ArrivalRate,
    "ramping-arrival-rate": ArrivalRate,
}
