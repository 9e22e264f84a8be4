"""Scenario configs: parsing, shortcut derivation, validation, execution plan, banner (runner.md §1.1, §2).

Durations are int nanoseconds (see jsrunner.durations).  Every config dataclass holds the
*effective* values (defaults applied; ``None`` only for required fields that were not given)
plus ``explicit``, the set of JSON keys the user actually set; :meth:`ScenarioConfig.view`
uses it to print ``null`` for unset fields like ``exec.test.options`` does.

Typical use::

    opts, warnings = options.consolidate(...)
    configs, more_warnings = build_scenarios(opts, exported_functions)   # raises on errors
    for line in banner_lines(configs): print(line)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Sequence

from .durations import (MILLISECOND, MINUTE, SECOND, DurationError, format_duration,
                        parse_json_duration, round_duration)
from .errors import CommandLineError, ConfigError
from .schedule import (ExecutionStep, ExecutionTuple, combine_plans, end_offset, full_tuple,
                       max_planned_vus, max_possible_vus, ramping_vus_graceful_steps)

if TYPE_CHECKING:  # pragma: no cover
    from .options import Options, OptionWarning

__all__ = [
    "Stage", "ScenarioConfig", "SharedIterationsConfig", "PerVUIterationsConfig",
    "ConstantVUsConfig", "RampingVUsConfig", "ConstantArrivalRateConfig",
    "RampingArrivalRateConfig", "ExternallyControlledConfig", "EXECUTOR_TYPES",
    "ScenarioParseError", "parse_scenario", "parse_scenarios", "parse_stages",
    "derive_scenarios", "validate_scenarios", "check_exports", "build_scenarios",
    "sorted_configs", "execution_plan", "test_max_vus", "test_max_duration",
    "banner_header", "banner_lines", "DEFAULT_SCENARIO_NAME",
]

DEFAULT_SCENARIO_NAME = "default"
DEFAULT_GRACEFUL_STOP = 30 * SECOND
MIN_DURATION = SECOND
MAX_CONCURRENT_VUS = 100_000_000
_NAME_RE = re.compile(r"^[0-9a-zA-Z_-]+$")


class ScenarioParseError(ValueError):
    """A scenario (or stages) value has the wrong JSON shape; message as in k6."""


# ---------------------------------------------------------------------------------------------
# JSON coercion helpers (Go encoding/json + guregu/null semantics)
# ---------------------------------------------------------------------------------------------

def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "array"
    return "object"


def _go_num(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def coerce_int(v: Any, where: str) -> int | None:
    """null.Int from JSON: numbers (integral), numeric strings; None = unset."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ScenarioParseError("json: cannot unmarshal bool into Go value of type null.Int")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise ScenarioParseError(
            f"json: cannot unmarshal number {_go_num(v)} into Go struct field {where} of type int64")
    if isinstance(v, str):
        if re.fullmatch(r"[+-]?\d+", v):
            n = int(v)
            if -(1 << 63) <= n < (1 << 63):
                return n
            raise ScenarioParseError(f'strconv.ParseInt: parsing "{v}": value out of range')
        raise ScenarioParseError(f'strconv.ParseInt: parsing "{v}": invalid syntax')
    raise ScenarioParseError(f"json: cannot unmarshal {_json_type(v)} into Go value of type null.Int")


def coerce_duration(v: Any) -> int | None:
    if v is None:
        return None
    try:
        return parse_json_duration(v)
    except DurationError as e:
        raise ScenarioParseError(str(e)) from None


def coerce_str(v: Any, where: str) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    raise ScenarioParseError(
        f"json: cannot unmarshal {_json_type(v)} into Go struct field {where} of type string")


def coerce_strmap(v: Any, where: str) -> dict[str, str] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise ScenarioParseError(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field {where} of type "
            "map[string]string")
    out = {}
    for k, val in v.items():
        if val is None:
            out[str(k)] = ""
            continue
        if not isinstance(val, str):
            raise ScenarioParseError(
                f"json: cannot unmarshal {_json_type(val)} into Go struct field {where} of type string")
        out[str(k)] = val
    return out


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """A ramping stage; ``None`` = not given (reported by validation)."""

    duration: int | None = None  # ns
    target: int | None = None

    def view(self) -> dict[str, Any]:
        return {"duration": None if self.duration is None else format_duration(self.duration),
                "target": self.target}


def parse_stages(v: Any, where: str = "Options.stages") -> list[Stage] | None:
    """JSON ``[{duration, target}, ...]`` → stages (unknown keys ignored, as in k6)."""
    if v is None:
        return None
    if not isinstance(v, (list, tuple)):
        raise ScenarioParseError(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field {where} of type "
            + ("[]lib.Stage" if where == "Options.stages" else "[]executor.Stage"))
    out = []
    for item in v:
        if item is None:
            out.append(Stage())
            continue
        if not isinstance(item, Mapping):
            raise ScenarioParseError(
                f"json: cannot unmarshal {_json_type(item)} into Go struct field {where} of type "
                + ("lib.Stage" if where == "Options.stages" else "executor.Stage"))
        d = t = None
        for k, val in item.items():
            lk = str(k).lower()
            if lk == "duration":
                d = coerce_duration(val)
            elif lk == "target":
                t = coerce_int(val, where + ".target")
        out.append(Stage(d, t))
    return out


# ---------------------------------------------------------------------------------------------
# Config classes
# ---------------------------------------------------------------------------------------------

# field spec: json key -> (attribute, kind)
_BASE_FIELDS: list[tuple[str, str, str]] = [
    ("startTime", "start_time", "duration"),
    ("gracefulStop", "graceful_stop", "duration"),
    ("env", "env", "strmap"),
    ("exec", "exec", "str"),
    ("tags", "tags", "strmap"),
    ("options", "options", "json"),
]


@dataclass
class ScenarioConfig:
    """Common part of all executors (effective values)."""

    executor: ClassVar[str] = ""
    FIELDS: ClassVar[list[tuple[str, str, str]]] = []

    name: str = DEFAULT_SCENARIO_NAME
    start_time: int = 0
    graceful_stop: int = DEFAULT_GRACEFUL_STOP
    env: dict[str, str] = field(default_factory=dict)
    exec: str | None = None  # None = "default"
    tags: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] | None = None
    explicit: frozenset[str] = frozenset()

    # -- accessors -------------------------------------------------------------------------
    @property
    def exec_name(self) -> str:
        """The exported function this scenario runs (``default`` unless ``exec`` is set)."""
        return self.exec or "default"

    def _all_fields(self) -> list[tuple[str, str, str]]:
        return _BASE_FIELDS + self.FIELDS

    # -- validation --------------------------------------------------------------------------
    def _base_errors(self) -> list[str]:
        errs = []
        if self.name == "":
            errs.append("scenario name can't be empty")
        if not _NAME_RE.match(self.name):
            errs.append("the scenario name should contain only numbers, latin letters, "
                        "underscores, and dashes")
        if "exec" in self.explicit and self.exec == "":
            errs.append("exec value cannot be empty")
        if self.start_time < 0:
            errs.append("the startTime can't be negative")
        if self.graceful_stop < 0:
            errs.append("the gracefulStop timeout can't be negative")
        return errs

    def validate(self) -> list[str]:
        """k6's per-executor validation messages, in k6's order."""
        return self._base_errors()

    # -- execution plan ----------------------------------------------------------------------
    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        """VUs needed over time (k6 GetExecutionRequirements), offsets from the scenario start."""
        raise NotImplementedError

    def max_vus(self, et: ExecutionTuple | None = None) -> int:
        """Most VUs this scenario can use (planned + unplanned)."""
        return max_possible_vus(self.requirements(et))

    def max_duration(self, et: ExecutionTuple | None = None) -> int:
        """Scenario end incl. graceful stop / ramp-down, from the scenario start (ns)."""
        return end_offset(self.requirements(et))

    # -- text ---------------------------------------------------------------------------------
    def _base_info(self, *facts: str) -> str:
        lst = list(facts)
        if "exec" in self.explicit and self.exec is not None:
            lst.append(f"exec: {self.exec}")
        if self.start_time > 0:
            lst.append(f"startTime: {format_duration(self.start_time)}")
        if self.graceful_stop > 0:
            lst.append(f"gracefulStop: {format_duration(self.graceful_stop)}")
        return f" ({', '.join(lst)})" if lst else ""

    def description(self, et: ExecutionTuple | None = None) -> str:
        """The banner text after ``* name: ``."""
        raise NotImplementedError

    def view(self) -> dict[str, Any]:
        """``exec.test.options.scenarios[name]`` (unset fields are ``null``)."""
        out: dict[str, Any] = {"executor": self.executor}
        for key, attr, kind in self._all_fields():
            if key == "options":
                if self.options:
                    out["options"] = self.options
                continue
            if key not in self.explicit:
                out[key] = None
                continue
            val = getattr(self, attr)
            if kind == "duration":
                val = None if val is None else format_duration(val)
            elif kind == "stages":
                val = [s.view() for s in val]
            out[key] = val
        return out


def _dur(ns: int | None) -> str:
    return format_duration(ns or 0)


@dataclass
class SharedIterationsConfig(ScenarioConfig):
    executor: ClassVar[str] = "shared-iterations"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("vus", "vus", "int"), ("iterations", "iterations", "int"),
        ("maxDuration", "max_duration_", "duration")]

    vus: int = 1
    iterations: int = 1
    max_duration_: int = 10 * MINUTE

    def scaled_vus(self, et: ExecutionTuple | None = None) -> int:
        return et.scale(self.vus) if et else self.vus

    def scaled_iterations(self, et: ExecutionTuple | None = None) -> int:
        if et is None:
            return self.iterations
        sub = et.derive(self.vus)
        return sub.scale(self.iterations) if sub is not None else 0

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.vus <= 0:
            errs.append("the number of VUs must be more than 0")
        if self.iterations < self.vus:
            errs.append(f"the number of iterations ({self.iterations}) can't be less than the "
                        f"number of VUs ({self.vus})")
        if self.max_duration_ < MIN_DURATION:
            errs.append(f"the maxDuration must be at least 1s, but is {_dur(self.max_duration_)}")
        return errs

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        vus = self.scaled_vus(et)
        if vus == 0:
            return [ExecutionStep(0, 0)]
        return [ExecutionStep(0, vus), ExecutionStep(self.max_duration_ + self.graceful_stop, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        return (f"{self.scaled_iterations(et)} iterations shared among {self.scaled_vus(et)} VUs"
                + self._base_info(f"maxDuration: {_dur(self.max_duration_)}"))


@dataclass
class PerVUIterationsConfig(ScenarioConfig):
    executor: ClassVar[str] = "per-vu-iterations"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("vus", "vus", "int"), ("iterations", "iterations", "int"),
        ("maxDuration", "max_duration_", "duration")]

    vus: int = 1
    iterations: int = 1  # per VU (never scaled by segments)
    max_duration_: int = 10 * MINUTE

    def scaled_vus(self, et: ExecutionTuple | None = None) -> int:
        return et.scale(self.vus) if et else self.vus

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.vus <= 0:
            errs.append("the number of VUs must be more than 0")
        if self.iterations <= 0:
            errs.append("the number of iterations must be more than 0")
        if self.max_duration_ < MIN_DURATION:
            errs.append(f"the maxDuration must be at least 1s, but is {_dur(self.max_duration_)}")
        return errs

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        return [ExecutionStep(0, self.scaled_vus(et)),
                ExecutionStep(self.max_duration_ + self.graceful_stop, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        return (f"{self.iterations} iterations for each of {self.scaled_vus(et)} VUs"
                + self._base_info(f"maxDuration: {_dur(self.max_duration_)}"))


@dataclass
class ConstantVUsConfig(ScenarioConfig):
    executor: ClassVar[str] = "constant-vus"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("vus", "vus", "int"), ("duration", "duration", "duration")]

    vus: int = 1
    duration: int | None = None

    def scaled_vus(self, et: ExecutionTuple | None = None) -> int:
        return et.scale(self.vus) if et else self.vus

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.vus <= 0:
            errs.append("the number of VUs must be more than 0")
        if self.duration is None:
            errs.append("the duration is unspecified")
        elif self.duration < MIN_DURATION:
            errs.append(f"the duration must be at least 1s, but is {_dur(self.duration)}")
        return errs

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        return [ExecutionStep(0, self.scaled_vus(et)),
                ExecutionStep((self.duration or 0) + self.graceful_stop, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        return (f"{self.scaled_vus(et)} looping VUs for {_dur(self.duration)}"
                + self._base_info())


def _stage_pairs(stages: Sequence[Stage]) -> list[tuple[int, int]]:
    return [(s.duration or 0, s.target or 0) for s in stages]


def _stages_errors(stages: Sequence[Stage]) -> list[str]:
    if not stages:
        return ["at least one stage has to be specified"]
    errs = []
    for i, s in enumerate(stages, 1):
        if s.duration is None:
            errs.append(f"stage {i} doesn't have a duration")
        elif s.duration < 0:
            errs.append(f"the duration for stage {i} can't be negative")
        if s.target is None:
            errs.append(f"stage {i} doesn't have a target")
        elif s.target < 0:
            errs.append(f"the target for stage {i} can't be negative")
    return errs


def _max_target(start: int, stages: Sequence[Stage]) -> int:
    m = start
    for s in stages:
        if (s.target or 0) > m:
            m = s.target or 0
    return m


@dataclass
class RampingVUsConfig(ScenarioConfig):
    executor: ClassVar[str] = "ramping-vus"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("startVUs", "start_vus", "int"), ("stages", "stages", "stages"),
        ("gracefulRampDown", "graceful_ramp_down", "duration")]

    start_vus: int = 1
    stages: list[Stage] = field(default_factory=list)
    graceful_ramp_down: int = 30 * SECOND

    @property
    def stage_pairs(self) -> list[tuple[int, int]]:
        """``(duration_ns, target)`` pairs for jsrunner.schedule."""
        return _stage_pairs(self.stages)

    @property
    def total_duration(self) -> int:
        return sum(s.duration or 0 for s in self.stages)

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.start_vus < 0:
            errs.append("the number of start VUs can't be negative")
        if _max_target(self.start_vus, self.stages) <= 0:
            errs.append("either startVUs or one of the stages' target values must be greater than 0")
        errs += _stages_errors(self.stages)
        if self.start_vus > MAX_CONCURRENT_VUS:
            errs.append(f"the startVUs exceed max limit of {MAX_CONCURRENT_VUS}")
        for i, s in enumerate(self.stages, 1):
            if (s.target or 0) > MAX_CONCURRENT_VUS:
                errs.append(f"target for stage {i} exceeds max limit of {MAX_CONCURRENT_VUS}")
        return errs

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        return ramping_vus_graceful_steps(self.start_vus, self.stage_pairs,
                                          self.graceful_ramp_down, self.graceful_stop, et)

    def description(self, et: ExecutionTuple | None = None) -> str:
        mx = _max_target(self.start_vus, self.stages)
        mx = et.scale(mx) if et else mx
        return (f"Up to {mx} looping VUs for {_dur(self.total_duration)} over "
                f"{len(self.stages)} stages"
                + self._base_info(f"gracefulRampDown: {_dur(self.graceful_ramp_down)}"))


def _arrival_vus_errors(pre: int | None, mx: int | None) -> list[str]:
    errs = []
    if pre is None:
        errs.append("the number of preAllocatedVUs isn't specified")
    elif pre < 0:
        errs.append("the number of preAllocatedVUs can't be negative")
    if mx is not None and mx < (pre or 0):
        errs.append("maxVUs can't be less than preAllocatedVUs")
    return errs


def _rate_per_sec(rate: int | Fraction, time_unit: int) -> Fraction:
    return Fraction(rate) * SECOND / time_unit if time_unit > 0 else Fraction(0)


@dataclass
class _ArrivalRateBase(ScenarioConfig):
    time_unit: int = SECOND
    pre_allocated_vus: int | None = None
    max_vus_: int | None = None  # None = same as preAllocatedVUs

    @property
    def effective_max_vus(self) -> int:
        return self.max_vus_ if self.max_vus_ is not None else (self.pre_allocated_vus or 0)

    def scaled_pre_allocated(self, et: ExecutionTuple | None = None) -> int:
        pre = self.pre_allocated_vus or 0
        return et.scale(pre) if et else pre

    def scaled_max_vus(self, et: ExecutionTuple | None = None) -> int:
        return et.scale(self.effective_max_vus) if et else self.effective_max_vus

    def iteration_tuple(self, et: ExecutionTuple | None = None) -> ExecutionTuple | None:
        """The tuple whose owned global indices are this segment's iterations (k6 stripes
        arrival-rate iterations relative to maxVUs); None = this segment has none."""
        if et is None:
            return full_tuple()
        return et.derive(self.effective_max_vus)

    def _vus_fact(self, et: ExecutionTuple | None, compare_unscaled: bool) -> str:
        pre, mx = self.scaled_pre_allocated(et), self.scaled_max_vus(et)
        fact = f"maxVUs: {pre}"
        if compare_unscaled:  # ramping-arrival-rate compares the unscaled values (as k6)
            show_range = self.effective_max_vus > (self.pre_allocated_vus or 0)
        else:
            show_range = mx > pre
        if show_range:
            fact += f"-{mx}"
        return fact


@dataclass
class ConstantArrivalRateConfig(_ArrivalRateBase):
    executor: ClassVar[str] = "constant-arrival-rate"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("rate", "rate", "int"), ("timeUnit", "time_unit", "duration"),
        ("duration", "duration", "duration"), ("preAllocatedVUs", "pre_allocated_vus", "int"),
        ("maxVUs", "max_vus_", "int")]

    rate: int | None = None
    duration: int | None = None

    def rate_per_second(self, et: ExecutionTuple | None = None) -> float:
        """Iterations per second (scaled like k6 does for the banner)."""
        mx = self.scaled_max_vus(et)
        if mx == 0 or self.rate is None:
            return 0.0
        r = _rate_per_sec(self.rate, self.time_unit) * Fraction(mx, self.effective_max_vus)
        return float(r)

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.rate is None:
            errs.append("the iteration rate isn't specified")
        elif self.rate <= 0:
            errs.append("the iteration rate must be more than 0")
        if self.time_unit <= 0:
            errs.append("the timeUnit must be more than 0")
        if self.duration is None:
            errs.append("the duration is unspecified")
        elif self.duration < MIN_DURATION:
            errs.append(f"the duration must be at least 1s, but is {_dur(self.duration)}")
        return errs + _arrival_vus_errors(self.pre_allocated_vus, self.max_vus_)

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        pre, mx = self.scaled_pre_allocated(et), self.scaled_max_vus(et)
        return [ExecutionStep(0, pre, mx - pre),
                ExecutionStep((self.duration or 0) + self.graceful_stop, 0, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        return (f"{self.rate_per_second(et):.2f} iterations/s for {_dur(self.duration)}"
                + self._base_info(self._vus_fact(et, compare_unscaled=False)))


@dataclass
class RampingArrivalRateConfig(_ArrivalRateBase):
    executor: ClassVar[str] = "ramping-arrival-rate"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("startRate", "start_rate", "int"), ("timeUnit", "time_unit", "duration"),
        ("stages", "stages", "stages"), ("preAllocatedVUs", "pre_allocated_vus", "int"),
        ("maxVUs", "max_vus_", "int")]

    start_rate: int = 0
    stages: list[Stage] = field(default_factory=list)

    @property
    def stage_pairs(self) -> list[tuple[int, int]]:
        return _stage_pairs(self.stages)

    @property
    def total_duration(self) -> int:
        return sum(s.duration or 0 for s in self.stages)

    def max_rate_per_second(self, et: ExecutionTuple | None = None) -> float:
        r = _rate_per_sec(_max_target(self.start_rate, self.stages), self.time_unit)
        if et is not None:
            r *= et.segment.length
        return float(r)

    def validate(self) -> list[str]:
        errs = self._base_errors()
        if self.start_rate < 0:
            errs.append("the startRate value can't be negative")
        if self.time_unit <= 0:
            errs.append("the timeUnit must be more than 0")
        errs += _stages_errors(self.stages)
        return errs + _arrival_vus_errors(self.pre_allocated_vus, self.max_vus_)

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        pre = self.scaled_pre_allocated(et)
        extra = self.effective_max_vus - (self.pre_allocated_vus or 0)
        return [ExecutionStep(0, pre, et.scale(extra) if et else extra),
                ExecutionStep(self.total_duration + self.graceful_stop, 0, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        return (f"Up to {self.max_rate_per_second(et):.2f} iterations/s for "
                f"{_dur(self.total_duration)} over {len(self.stages)} stages"
                + self._base_info(self._vus_fact(et, compare_unscaled=True)))


@dataclass
class ExternallyControlledConfig(ScenarioConfig):
    """Parsed so the error can name it; jsrunner rejects it at validation (exit 104)."""

    executor: ClassVar[str] = "externally-controlled"
    FIELDS: ClassVar[list[tuple[str, str, str]]] = [
        ("vus", "vus", "int"), ("duration", "duration", "duration"), ("maxVUs", "max_vus_", "int")]

    vus: int = 0
    duration: int | None = None
    max_vus_: int = 0

    def validate(self) -> list[str]:
        return self._base_errors() + [
            "the externally-controlled executor is not supported by jsrunner"]

    def requirements(self, et: ExecutionTuple | None = None) -> list[ExecutionStep]:
        vus = et.scale(self.vus) if et else self.vus
        mx = et.scale(self.max_vus_) if et else self.max_vus_
        return [ExecutionStep(0, vus, mx - vus), ExecutionStep(self.duration or 0, 0, 0)]

    def description(self, et: ExecutionTuple | None = None) -> str:
        d = "infinite" if not self.duration else format_duration(self.duration)
        return (f"Externally controlled execution with {self.vus} VUs, {self.max_vus_} max VUs, "
                f"{d} duration")


EXECUTOR_TYPES: dict[str, type[ScenarioConfig]] = {
    c.executor: c for c in (SharedIterationsConfig, PerVUIterationsConfig, ConstantVUsConfig,
                            RampingVUsConfig, ConstantArrivalRateConfig,
                            RampingArrivalRateConfig, ExternallyControlledConfig)}


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def _lookup_key(fieldmap: Mapping[str, tuple[str, str]], key: str) -> str | None:
    if key in fieldmap:
        return key
    lk = key.lower()
    for k in fieldmap:
        if k.lower() == lk:  # Go's encoding/json matches field names case-insensitively
            return k
    return None


def parse_scenario(name: str, raw: Any) -> ScenarioConfig:
    """One ``scenarios`` entry (strict like k6: unknown fields are errors)."""
    if not isinstance(raw, Mapping):
        raise ScenarioParseError(
            f"json: cannot unmarshal {_json_type(raw)} into Go struct field Options.scenarios "
            'of type struct { ExecutorType string "json:\\"executor\\"" }')
    executor = None
    for k, v in raw.items():
        if str(k).lower() == "executor":
            executor = v
    if executor is not None and not isinstance(executor, str):
        raise ScenarioParseError(f"json: cannot unmarshal {_json_type(executor)} into Go struct "
                                 "field Options.scenarios.executor of type string")
    if not executor:
        raise ScenarioParseError(f"scenario '{name}' doesn't have a specified executor type")
    cls = EXECUTOR_TYPES.get(executor)
    if cls is None:
        raise ScenarioParseError(f"unknown executor type '{executor}'")
    specs = {key: (attr, kind) for key, attr, kind in _BASE_FIELDS + cls.FIELDS}
    specs["executor"] = ("", "executor")
    values: dict[str, Any] = {"name": name}
    explicit = set()
    for key in sorted(raw, key=str):
        val = raw[key]
        fk = _lookup_key(specs, str(key))
        if fk is None:
            raise ScenarioParseError(f'json: unknown field "{key}"')
        attr, kind = specs[fk]
        if kind == "executor":
            continue
        where = f"Options.scenarios.{fk}"
        if kind == "int":
            parsed: Any = coerce_int(val, where)
        elif kind == "duration":
            parsed = coerce_duration(val)
        elif kind == "str":
            parsed = coerce_str(val, where)
        elif kind == "strmap":
            parsed = coerce_strmap(val, f"Options.scenarios.BaseConfig.{fk}")
        elif kind == "stages":
            parsed = parse_stages(val, "Options.scenarios.stages")
        else:
            parsed = val
        if parsed is None:
            values.pop(attr, None)
            explicit.discard(fk)
            continue
        values[attr] = parsed
        explicit.add(fk)
    cfg = cls(**values)
    cfg.explicit = frozenset(explicit)
    return cfg


def parse_scenarios(raw: Any) -> dict[str, ScenarioConfig] | None:
    """The whole ``scenarios`` object → configs (None when unset / null)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ScenarioParseError(
            f"json: cannot unmarshal {_json_type(raw)} into Go struct field Options.scenarios "
            "of type map[string]lib.protoExecutorConfig")
    return {str(name): parse_scenario(str(name), raw[name]) for name in raw}


# ---------------------------------------------------------------------------------------------
# Shortcuts → scenarios (§1.1)
# ---------------------------------------------------------------------------------------------

def _warning(message: str) -> "OptionWarning":
    from .options import OptionWarning
    return OptionWarning(message, {})


def derive_scenarios(opts: "Options") -> tuple[dict[str, ScenarioConfig], list["OptionWarning"]]:
    """k6's DeriveScenariosFromShortcuts: the scenarios the test runs (ConfigError on
    conflicting shortcuts) and the warnings to log."""
    warnings: list[OptionWarning] = []
    vus = opts.vus
    stages = opts.stages
    if opts.iterations is not None:
        if stages:
            raise ConfigError("using `iterations` and `stages` options simultaneously is not allowed")
        if opts.scenarios is not None:
            raise ConfigError("using `iterations` and `scenarios` options simultaneously is not allowed")
        cfg: ScenarioConfig = SharedIterationsConfig(
            name=DEFAULT_SCENARIO_NAME, vus=1 if vus is None else vus, iterations=opts.iterations)
        explicit = {"iterations"} | ({"vus"} if vus is not None else set())
        if opts.duration is not None:
            cfg.max_duration_ = opts.duration  # type: ignore[attr-defined]
            explicit.add("maxDuration")
        cfg.explicit = frozenset(explicit)
        return {DEFAULT_SCENARIO_NAME: cfg}, warnings
    if opts.duration is not None:
        if stages:
            raise ConfigError("using `duration` and `stages` options simultaneously is not allowed")
        if opts.scenarios is not None:
            raise ConfigError("using `duration` and `scenarios` options simultaneously is not allowed")
        if opts.duration <= 0:
            raise ConfigError("`duration` option should be more than 0, for infinite duration "
                              "use the externally-controlled executor")
        cfg = ConstantVUsConfig(name=DEFAULT_SCENARIO_NAME, vus=1 if vus is None else vus,
                                duration=opts.duration)
        cfg.explicit = frozenset({"duration"} | ({"vus"} if vus is not None else set()))
        return {DEFAULT_SCENARIO_NAME: cfg}, warnings
    if stages:
        if opts.scenarios is not None:
            raise ConfigError("using `stages` and `scenarios` options simultaneously is not allowed")
        cfg = RampingVUsConfig(name=DEFAULT_SCENARIO_NAME, start_vus=1 if vus is None else vus,
                               stages=[s for s in stages if s.duration is not None])
        cfg.explicit = frozenset({"stages"} | ({"startVUs"} if vus is not None else set()))
        return {DEFAULT_SCENARIO_NAME: cfg}, warnings
    if opts.scenarios:
        return dict(opts.scenarios), warnings
    if vus is not None and vus != 1:
        warnings.append(_warning(f"`vus={vus}` option will be ignored, it only works in "
                                 "conjunction with `iterations`, `duration`, or `stages`"))
    if stages is not None and len(stages) == 0:
        warnings.append(_warning("`stages` was explicitly set to an empty value, running the "
                                 "script with 1 iteration in 1 VU"))
    if opts.scenarios is not None and len(opts.scenarios) == 0:
        warnings.append(_warning("`scenarios` was explicitly set to an empty value, running the "
                                 "script with 1 iteration in 1 VU"))
    return {DEFAULT_SCENARIO_NAME: PerVUIterationsConfig(name=DEFAULT_SCENARIO_NAME)}, warnings


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

PROBLEMS_TITLE = "There were problems with the specified script configuration:"


def problems_message(problems: Sequence[str]) -> str:
    return "\n".join([PROBLEMS_TITLE] + [f"\t- {p}" for p in problems])


def check_exports(exported_functions: Iterable[str] | None, script_file: str = "",
                  script_url: str = "") -> None:
    """``no exported functions in script`` (exit 255) when the script exports no function."""
    if exported_functions is not None and not list(exported_functions):
        msg = "no exported functions in script"
        if script_file or script_url:
            msg = f"could not initialize '{script_file}': could not load JS test '{script_url}': {msg}"
        raise CommandLineError(msg)


def validate_scenarios(configs: Mapping[str, ScenarioConfig],
                       exported_functions: Iterable[str] | None = None,
                       extra_problems: Sequence[str] = ()) -> None:
    """Collect every problem into one ConfigError (exit 104): per-scenario config errors
    (scenarios in name order), then missing ``exec`` functions.  ``exported_functions`` =
    names of the functions the script exports (None skips the exec check)."""
    problems = list(extra_problems)
    for name in sorted(configs):
        errs = configs[name].validate()
        if errs:
            problems.append(f"scenario {name} has configuration errors: {', '.join(errs)}")
    if exported_functions is not None:
        exported = set(exported_functions)
        for name in sorted(configs):
            fn = configs[name].exec_name
            if fn not in exported:
                problems.append(f"executor {name}: function '{fn}' not found in exports")
    if problems:
        raise ConfigError(problems_message(problems))


def build_scenarios(opts: "Options", exported_functions: Iterable[str] | None = None,
                    script_file: str = "", script_url: str = "",
                    ) -> tuple[list[ScenarioConfig], list["OptionWarning"]]:
    """Derive + validate: the validated configs in banner order, plus warnings to log."""
    if exported_functions is not None:
        exported_functions = list(exported_functions)
        check_exports(exported_functions, script_file, script_url)
    configs, warnings = derive_scenarios(opts)
    extra = []
    if opts.execution_segment_sequence:
        from .schedule import ExecutionSegment, SegmentSequence
        seg = ExecutionSegment.parse(opts.execution_segment) if opts.execution_segment else None
        seq = SegmentSequence.parse(opts.execution_segment_sequence)
        if not any(s == (seg or ExecutionSegment()) for s in seq.segments):
            extra.append(f"provided segment {seg or ExecutionSegment()} can't be found in "
                         f"sequence {opts.execution_segment_sequence}")
    validate_scenarios(configs, exported_functions, extra)
    return sorted_configs(configs), warnings


def sorted_configs(configs: Mapping[str, ScenarioConfig] | Iterable[ScenarioConfig]
                   ) -> list[ScenarioConfig]:
    """Banner / plan order: by (startTime, name)."""
    items = list(configs.values()) if isinstance(configs, Mapping) else list(configs)
    return sorted(items, key=lambda c: (c.start_time, c.name))


# ---------------------------------------------------------------------------------------------
# Execution plan and banner
# ---------------------------------------------------------------------------------------------

def execution_plan(configs: Iterable[ScenarioConfig],
                   et: ExecutionTuple | None = None) -> list[ExecutionStep]:
    """The whole test's VU requirements over time (startTimes applied)."""
    return combine_plans([(c.start_time, c.requirements(et)) for c in sorted_configs(configs)])


def test_max_vus(configs: Iterable[ScenarioConfig], et: ExecutionTuple | None = None) -> int:
    """The banner's "max VUs" (VUs to initialise; planned + unplanned, overlap-aware)."""
    return max_possible_vus(execution_plan(configs, et))


def test_max_planned_vus(configs: Iterable[ScenarioConfig],
                         et: ExecutionTuple | None = None) -> int:
    return max_planned_vus(execution_plan(configs, et))


def test_max_duration(configs: Iterable[ScenarioConfig], et: ExecutionTuple | None = None) -> int:
    """The test's maximum duration incl. graceful stop (ns, not rounded)."""
    return end_offset(execution_plan(configs, et))


# these names start with "test" (the load test); keep pytest from collecting them on import
test_max_vus.__test__ = False  # type: ignore[attr-defined]
test_max_planned_vus.__test__ = False  # type: ignore[attr-defined]
test_max_duration.__test__ = False  # type: ignore[attr-defined]


def banner_header(configs: Sequence[ScenarioConfig], et: ExecutionTuple | None = None) -> str:
    n = len(list(configs))
    desc = "1 scenario" if n == 1 else f"{n} scenarios"
    pct = float(et.segment.length) * 100 if et else 100.0
    dur = format_duration(round_duration(test_max_duration(configs, et), 100 * MILLISECOND))
    return (f"     scenarios: ({pct:.2f}%) {desc}, {test_max_vus(configs, et)} max VUs, "
            f"{dur} max duration (incl. graceful stop):")


def banner_lines(configs: Iterable[ScenarioConfig], et: ExecutionTuple | None = None) -> list[str]:
    """The ``scenarios:`` header and one ``* name: description`` line per scenario."""
    cfgs = sorted_configs(configs)
    return [banner_header(cfgs, et)] + [
        f"              * {c.name}: {c.description(et)}" for c in cfgs]

