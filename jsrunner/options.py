"""Option consolidation (runner.md §1) and the ``exec.test.options`` view (runtime.md §8.1).

Layers, lowest → highest: defaults < ``--config`` JSON file < script ``options`` <
``K6_*`` environment variables < CLI flags.  A layer that sets any of ``duration``,
``iterations``, ``stages`` (even ``[]``) or ``scenarios`` (even ``{}``) first clears all four
from the lower layers (``vus`` is kept).  If that dropped ``scenarios``, the warning
``"<layer>" level configuration overrode scenarios configuration entirely`` is returned
(``"script"``, ``"env"`` or ``"cli"``).

Layer inputs
------------
* ``config_file``: the parsed JSON object of the ``--config`` file (see :func:`load_config_file`);
  unknown keys are ignored (like k6).
* ``script``: the ``options`` object exported by the script, as JSON-like Python values
  (numbers for durations are milliseconds).  Unknown keys give the warning
  ``There were unknown fields in the options exported in the script`` with field
  ``error="json: unknown field \\"<first unknown key, sorted>\\""`` and are ignored -- this
  includes ``noThresholds``, ``noSummary``, ``summaryMode``, ``consoleOutput``, ``localIPs``,
  which k6 1.1.0 only accepts from the CLI / env (observed).
* ``env``: the process environment (only ``K6_*`` keys are read; ``K6_STAGES="10s:5,20s:0"``,
  ``K6_TAGS="a:b,c:d"``, ``K6_DURATION=1500`` = 1.5 s, ...).
* ``cli``: flag values keyed by option name (``{"vus": "2", "duration": "1s",
  "stages": ["1s:2", "1s:0"], "tags": {"k": "v"}}``).  Strings are parsed like the k6 flags
  (durations with Go's plain ``time.ParseDuration``; an ``int`` duration is taken as ns);
  errors raise CommandLineError (exit 255) with k6's ``invalid argument ... flag`` text.

Parse errors: script → ConfigError ``could not initialize '<file>': could not load JS test
'<url>': <detail>``; config file → ConfigError ``failed to load the configuration file from
the local file system: ...``; env → ConfigError ``envconfig.Process: assigning K6_X to X: ...``
(all exit 104).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from .durations import (SECOND, DurationError, format_duration, parse_go_duration,
                        parse_k6_duration)
from .errors import CommandLineError, ConfigError
from .scenarios import (ScenarioConfig, ScenarioParseError, Stage, _json_type, coerce_duration,
                        coerce_int, coerce_str, coerce_strmap, parse_scenarios, parse_stages)
from .schedule import ExecutionSegment, SegmentError, SegmentSequence

__all__ = [
    "Options", "OptionWarning", "ThresholdSpec", "consolidate", "load_config_file",
    "parse_script_options", "parse_config_file_options", "parse_env_options",
    "parse_cli_options", "apply_layer", "test_options_view", "validate_trend_stats",
    "DEFAULT_SUMMARY_TREND_STATS", "DEFAULT_SYSTEM_TAGS", "DEFAULT_SETUP_TIMEOUT",
    "DEFAULT_TEARDOWN_TIMEOUT", "UNKNOWN_FIELDS_MESSAGE",
]

DEFAULT_SUMMARY_TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)"]
DEFAULT_SYSTEM_TAGS = ["proto", "subproto", "status", "method", "url", "name", "group", "check",
                       "error", "error_code", "tls_version", "scenario", "service",
                       "expected_response"]
DEFAULT_SETUP_TIMEOUT = 60 * SECOND
DEFAULT_TEARDOWN_TIMEOUT = 60 * SECOND
UNKNOWN_FIELDS_MESSAGE = "There were unknown fields in the options exported in the script"
SUMMARY_MODES = ("compact", "full", "legacy")
SUMMARY_TIME_UNITS = ("s", "ms", "us")


class OptionWarning(NamedTuple):
    """A warning for the caller to log: ``level=warning msg=<message> <fields...>``."""

    message: str
    fields: dict[str, str]


@dataclass(frozen=True)
class ThresholdSpec:
    """One threshold expression of ``options.thresholds[metric]``."""

    threshold: str
    abort_on_fail: bool = False
    delay_abort_eval: int | None = None  # ns

    def view(self) -> Any:
        if not self.abort_on_fail:
            return self.threshold
        return {"threshold": self.threshold, "abortOnFail": True,
                "delayAbortEval": (None if self.delay_abort_eval is None
                                   else format_duration(self.delay_abort_eval))}


@dataclass
class Options:
    """Consolidated options.  ``None`` = not set by any layer (durations are int ns)."""

    paused: bool | None = None
    vus: int | None = None
    duration: int | None = None
    iterations: int | None = None
    stages: list[Stage] | None = None
    scenarios: dict[str, ScenarioConfig] | None = None
    execution_segment: str | None = None
    execution_segment_sequence: str | None = None
    no_setup: bool | None = None
    setup_timeout: int | None = None
    no_teardown: bool | None = None
    teardown_timeout: int | None = None
    rps: int | None = None
    dns: dict[str, str | None] | None = None
    max_redirects: int | None = None
    user_agent: str | None = None
    batch: int | None = None
    batch_per_host: int | None = None
    http_debug: str | None = None
    insecure_skip_tls_verify: bool | None = None
    tls_cipher_suites: list[str] | None = None
    tls_version: dict[str, str] | None = None
    tls_auth: list[Any] | None = None
    throw: bool | None = None
    thresholds: dict[str, list[ThresholdSpec]] | None = None
    blacklist_ips: list[str] | None = None
    block_hostnames: list[str] | None = None
    hosts: dict[str, Any] | None = None
    no_connection_reuse: bool | None = None
    no_vu_connection_reuse: bool | None = None
    min_iteration_duration: int | None = None
    cloud: dict[str, Any] | None = None
    ext: dict[str, Any] | None = None
    summary_trend_stats: list[str] | None = None
    summary_time_unit: str | None = None
    system_tags: list[str] | None = None
    tags: dict[str, str] | None = None
    metric_samples_buffer_size: int | None = None
    no_cookies_reset: bool | None = None
    discard_response_bodies: bool | None = None
    console_output: str | None = None
    local_ips: str | None = None
    # runtime options (CLI / env only, not part of exec.test.options)
    no_thresholds: bool | None = None
    no_summary: bool | None = None
    summary_mode: str | None = None

    # -- effective values ----------------------------------------------------------------------
    @property
    def effective_setup_timeout(self) -> int:
        return DEFAULT_SETUP_TIMEOUT if self.setup_timeout is None else self.setup_timeout

    @property
    def effective_teardown_timeout(self) -> int:
        return DEFAULT_TEARDOWN_TIMEOUT if self.teardown_timeout is None else self.teardown_timeout

    @property
    def effective_summary_trend_stats(self) -> list[str]:
        return list(self.summary_trend_stats or DEFAULT_SUMMARY_TREND_STATS)

    @property
    def effective_system_tags(self) -> list[str]:
        return list(DEFAULT_SYSTEM_TAGS if self.system_tags is None else self.system_tags)

    @property
    def effective_summary_mode(self) -> str:
        return self.summary_mode or "compact"

    @property
    def effective_tags(self) -> dict[str, str]:
        return dict(self.tags or {})


# ---------------------------------------------------------------------------------------------
# Field table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    key: str            # JSON key (script / config file / view)
    attr: str           # Options attribute
    kind: str
    env: str | None     # K6_* variable (None = not settable from env)
    go_name: str = ""   # Go struct field (envconfig error text)
    go_type: str = ""
    script: bool = True  # accepted in the script / config file
    view: bool = True    # part of exec.test.options


_FIELDS: list[_Field] = [
    _Field("paused", "paused", "bool", "K6_PAUSED", "Paused", "null.Bool"),
    _Field("vus", "vus", "int", "K6_VUS", "VUs", "null.Int", view=False),
    _Field("duration", "duration", "duration", "K6_DURATION", "Duration", "types.NullDuration",
           view=False),
    _Field("iterations", "iterations", "int", "K6_ITERATIONS", "Iterations", "null.Int",
           view=False),
    _Field("stages", "stages", "stages", "K6_STAGES", "Stages", "[]lib.Stage", view=False),
    _Field("scenarios", "scenarios", "scenarios", None),
    _Field("executionSegment", "execution_segment", "segment", None),
    _Field("executionSegmentSequence", "execution_segment_sequence", "sequence", None),
    _Field("noSetup", "no_setup", "bool", "K6_NO_SETUP", "NoSetup", "null.Bool"),
    _Field("setupTimeout", "setup_timeout", "duration", "K6_SETUP_TIMEOUT", "SetupTimeout",
           "types.NullDuration"),
    _Field("noTeardown", "no_teardown", "bool", "K6_NO_TEARDOWN", "NoTeardown", "null.Bool"),
    _Field("teardownTimeout", "teardown_timeout", "duration", "K6_TEARDOWN_TIMEOUT",
           "TeardownTimeout", "types.NullDuration"),
    _Field("rps", "rps", "int", "K6_RPS", "RPS", "null.Int"),
    _Field("dns", "dns", "dns", "K6_DNS", "DNS", "types.DNSConfig"),
    _Field("maxRedirects", "max_redirects", "int", "K6_MAX_REDIRECTS", "MaxRedirects", "null.Int"),
    _Field("userAgent", "user_agent", "str", "K6_USER_AGENT", "UserAgent", "null.String"),
    _Field("batch", "batch", "int", "K6_BATCH", "Batch", "null.Int"),
    _Field("batchPerHost", "batch_per_host", "int", "K6_BATCH_PER_HOST", "BatchPerHost",
           "null.Int"),
    _Field("httpDebug", "http_debug", "str", "K6_HTTP_DEBUG", "HTTPDebug", "null.String"),
    _Field("insecureSkipTLSVerify", "insecure_skip_tls_verify", "bool",
           "K6_INSECURE_SKIP_TLS_VERIFY", "InsecureSkipTLSVerify", "null.Bool"),
    _Field("tlsCipherSuites", "tls_cipher_suites", "strlist", "K6_TLS_CIPHER_SUITES",
           "TLSCipherSuites", "*lib.TLSCipherSuites"),
    _Field("tlsVersion", "tls_version", "tlsversion", None),
    _Field("tlsAuth", "tls_auth", "list", None),
    _Field("throw", "throw", "bool", "K6_THROW", "Throw", "null.Bool"),
    _Field("thresholds", "thresholds", "thresholds", None),
    _Field("blacklistIPs", "blacklist_ips", "strlist", "K6_BLACKLIST_IPS", "BlacklistIPs",
           "[]*lib.IPNet"),
    _Field("blockHostnames", "block_hostnames", "strlist", "K6_BLOCK_HOSTNAMES",
           "BlockedHostnames", "types.NullHostnameTrie"),
    _Field("hosts", "hosts", "object", None),
    _Field("noConnectionReuse", "no_connection_reuse", "bool", "K6_NO_CONNECTION_REUSE",
           "NoConnectionReuse", "null.Bool"),
    _Field("noVUConnectionReuse", "no_vu_connection_reuse", "bool",
           "K6_NO_VU_CONNECTION_REUSE", "NoVUConnectionReuse", "null.Bool"),
    _Field("minIterationDuration", "min_iteration_duration", "duration",
           "K6_MIN_ITERATION_DURATION", "MinIterationDuration", "types.NullDuration"),
    _Field("cloud", "cloud", "object", None),
    _Field("ext", "ext", "object", None),
    _Field("summaryTrendStats", "summary_trend_stats", "strlist", "K6_SUMMARY_TREND_STATS",
           "SummaryTrendStats", "[]string"),
    _Field("summaryTimeUnit", "summary_time_unit", "str", "K6_SUMMARY_TIME_UNIT",
           "SummaryTimeUnit", "null.String"),
    _Field("systemTags", "system_tags", "strlist", "K6_SYSTEM_TAGS", "SystemTags",
           "*metrics.SystemTagSet"),
    _Field("tags", "tags", "tags", "K6_TAGS", "RunTags", "map[string]string"),
    _Field("metricSamplesBufferSize", "metric_samples_buffer_size", "int",
           "K6_METRIC_SAMPLES_BUFFER_SIZE", "MetricSamplesBufferSize", "null.Int"),
    _Field("noCookiesReset", "no_cookies_reset", "bool", "K6_NO_COOKIES_RESET",
           "NoCookiesReset", "null.Bool"),
    _Field("discardResponseBodies", "discard_response_bodies", "bool",
           "K6_DISCARD_RESPONSE_BODIES", "DiscardResponseBodies", "null.Bool"),
    _Field("consoleOutput", "console_output", "str", "K6_CONSOLE_OUTPUT", "ConsoleOutput",
           "null.String", script=False),
    _Field("localIPs", "local_ips", "str", "K6_LOCAL_IPS", "LocalIPs", "types.NullIPPool",
           script=False),
    # runtime options
    _Field("noThresholds", "no_thresholds", "rtbool", "K6_NO_THRESHOLDS", script=False,
           view=False),
    _Field("noSummary", "no_summary", "rtbool", "K6_NO_SUMMARY", script=False, view=False),
    _Field("summaryMode", "summary_mode", "summarymode", "K6_SUMMARY_MODE", script=False,
           view=False),
]
_BY_KEY = {f.key: f for f in _FIELDS}
_SCRIPT_KEYS = {f.key: f for f in _FIELDS if f.script}
_VIEW_ORDER = [f for f in _FIELDS if f.view]

#: CLI flag spellings used in ``invalid argument ... for "<flag>" flag`` messages
CLI_FLAGS = {
    "vus": "-u, --vus", "duration": "-d, --duration", "iterations": "-i, --iterations",
    "stages": "-s, --stage", "paused": "-p, --paused", "throw": "-w, --throw",
    "tags": "--tag", "systemTags": "--system-tags", "blacklistIPs": "--blacklist-ip",
    "insecureSkipTLSVerify": "--insecure-skip-tls-verify", "localIPs": "--local-ips",
}


def _flag_for(key: str) -> str:
    if key in CLI_FLAGS:
        return CLI_FLAGS[key]
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower().replace("v-u", "vu")


# ---------------------------------------------------------------------------------------------
# JSON (script / config file / CLI values) coercion
# ---------------------------------------------------------------------------------------------

class _LayerError(ValueError):
    """Internal: a value of one field could not be parsed."""

    def __init__(self, key: str, detail: str, go_struct: bool = False):
        super().__init__(detail)
        self.key = key
        self.detail = detail
        self.go_struct = go_struct  # a "Go struct field" type error (gets the k6 "parsing" prefix)


def _struct_err(key: str, v: Any, gotype: str, sub: str = "") -> _LayerError:
    return _LayerError(key, f"json: cannot unmarshal {_json_type(v)} into Go struct field "
                            f"Options.{key}{sub} of type {gotype}", go_struct=True)


def _json_bool(key: str, v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    raise _LayerError(key, f"json: cannot unmarshal {_json_type(v)} into Go value of type null.Bool")


def _json_strlist(key: str, v: Any) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, (list, tuple)):
        raise _struct_err(key, v, "[]string")
    out = []
    for item in v:
        if not isinstance(item, str):
            raise _struct_err(key, item, "string")
        out.append(item)
    return out


def _json_thresholds(v: Any) -> dict[str, list[ThresholdSpec]] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise _struct_err("thresholds", v, "map[string]metrics.Thresholds")
    out: dict[str, list[ThresholdSpec]] = {}
    for name, lst in v.items():
        if lst is None:
            out[str(name)] = []
            continue
        if not isinstance(lst, (list, tuple)):
            raise _struct_err("thresholds", lst, "[]metrics.thresholdConfig")
        specs = []
        for item in lst:
            if isinstance(item, str):
                specs.append(ThresholdSpec(item))
                continue
            if not isinstance(item, Mapping):
                raise _struct_err("thresholds", item, "metrics.rawThresholdConfig")
            expr, abort, delay = "", False, None
            for k, val in item.items():
                lk = str(k).lower()
                if lk == "threshold":
                    if val is not None and not isinstance(val, str):
                        raise _struct_err("thresholds", val, "string", ".threshold")
                    expr = val or ""
                elif lk == "abortonfail":
                    if val is not None and not isinstance(val, bool):
                        raise _struct_err("thresholds", val, "bool", ".abortOnFail")
                    abort = bool(val)
                elif lk == "delayaborteval":
                    try:
                        delay = coerce_duration(val)
                    except ScenarioParseError as e:
                        raise _LayerError("thresholds", str(e)) from None
            specs.append(ThresholdSpec(expr, abort, delay))
        out[str(name)] = specs
    return out


def _json_dns(v: Any) -> dict[str, str | None] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise _struct_err("dns", v, "types.DNSConfig")
    out: dict[str, str | None] = {"ttl": None, "select": None, "policy": None}
    for k, val in v.items():
        lk = str(k).lower()
        if lk in out:
            if val is not None and not isinstance(val, str):
                raise _LayerError("dns", "json: cannot unmarshal "
                                  f"{'float64' if _json_type(val) == 'number' else _json_type(val)}"
                                  " into Go value of type null.String")
            out[lk] = val
    return out


def _json_tlsversion(v: Any) -> dict[str, str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return {"min": v, "max": v}
    if isinstance(v, Mapping):
        return {"min": str(v.get("min") or ""), "max": str(v.get("max") or "")}
    raise _struct_err("tlsVersion", v, "lib.TLSVersions")


def _json_value(f: _Field, v: Any) -> Any:
    """Coerce one JSON value of field ``f`` (script / config file)."""
    k = f.key
    try:
        if f.kind == "bool":
            return _json_bool(k, v)
        if f.kind == "int":
            return coerce_int(v, f"Options.{k}")
        if f.kind == "str":
            if v is None or isinstance(v, str):
                return v
            jt = _json_type(v)
            raise _LayerError(k, f"json: cannot unmarshal {'float64' if jt == 'number' else jt} "
                                 "into Go value of type null.String")
        if f.kind == "duration":
            return coerce_duration(v)
        if f.kind == "stages":
            return parse_stages(v)
        if f.kind == "scenarios":
            return parse_scenarios(v)
        if f.kind == "strlist":
            return _json_strlist(k, v)
        if f.kind == "tags":
            return coerce_strmap(v, "Options.tags")
        if f.kind == "thresholds":
            return _json_thresholds(v)
        if f.kind == "dns":
            return _json_dns(v)
        if f.kind == "tlsversion":
            return _json_tlsversion(v)
        if f.kind == "segment":
            if v is None:
                return None
            s = coerce_str(v, f"Options.{k}")
            ExecutionSegment.parse(s)
            return s
        if f.kind == "sequence":
            if v is None:
                return None
            s = coerce_str(v, f"Options.{k}")
            SegmentSequence.parse(s)
            return s
        if f.kind == "object":
            if v is None or isinstance(v, Mapping):
                return None if v is None else dict(v)
            raise _struct_err(k, v, "map[string]interface {}")
        if f.kind == "list":
            if v is None or isinstance(v, (list, tuple)):
                return None if v is None else list(v)
            raise _struct_err(k, v, "[]*lib.TLSAuth")
        if f.kind == "rtbool":
            return _json_bool(k, v)
        if f.kind == "summarymode":
            if v is None:
                return None
            if v not in SUMMARY_MODES:
                raise CommandLineError("invalid summary mode")
            return v
    except ScenarioParseError as e:
        msg = str(e)
        raise _LayerError(k, msg, go_struct=msg.startswith("json: cannot unmarshal")
                          and "Go struct field" in msg) from None
    except SegmentError as e:
        raise _LayerError(k, str(e)) from None
    raise AssertionError(f"unhandled kind {f.kind}")  # pragma: no cover


def _match_keys(raw: Mapping[str, Any], known: Mapping[str, _Field]
                ) -> tuple[list[tuple[_Field, Any]], list[str]]:
    """Go encoding/json key matching: exact, else case-insensitive; sorted key order."""
    lower = {k.lower(): f for k, f in known.items()}
    matched, unknown = [], []
    for key in sorted(raw, key=str):
        f = known.get(key) or lower.get(str(key).lower())
        if f is None:
            unknown.append(str(key))
        else:
            matched.append((f, raw[key]))
    return matched, unknown


def _json_layer(raw: Mapping[str, Any], known: Mapping[str, _Field],
                wrap: Callable[[_LayerError], Exception]) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(raw, Mapping):
        raise wrap(_LayerError("", f"json: cannot unmarshal {_json_type(raw)} into Go value "
                                   "of type lib.Options"))
    layer: dict[str, Any] = {}
    matched, unknown = _match_keys(raw, known)
    for f, v in matched:
        try:
            val = _json_value(f, v)
        except _LayerError as e:
            raise wrap(e) from None
        if val is None:
            layer.pop(f.attr, None)
        else:
            layer[f.attr] = val
    return layer, unknown


def script_error_prefix(script_file: str = "", script_url: str = "") -> str:
    if not script_file and not script_url:
        return ""
    return f"could not initialize '{script_file}': could not load JS test '{script_url}': "


def parse_script_options(raw: Mapping[str, Any] | None, script_file: str = "",
                         script_url: str = "") -> tuple[dict[str, Any], list[OptionWarning]]:
    """The script's exported ``options`` → a layer (attr → value) + unknown-field warning."""
    if raw is None:
        return {}, []
    prefix = script_error_prefix(script_file, script_url)

    def wrap(e: _LayerError) -> Exception:
        detail = e.detail
        if e.go_struct:
            detail = f'parsing options from script got error while parsing "\\"{e.key}\\"": {detail}'
        return ConfigError(prefix + detail)

    layer, unknown = _json_layer(raw, _SCRIPT_KEYS, wrap)
    warnings = []
    if unknown:
        warnings.append(OptionWarning(UNKNOWN_FIELDS_MESSAGE,
                                      {"error": f'json: unknown field "{unknown[0]}"'}))
    return layer, warnings


def load_config_file(path: str) -> dict[str, Any]:
    """Read and JSON-parse a ``--config`` file (ConfigError exit 104 like k6)."""
    base = "failed to load the configuration file from the local file system: "
    if not os.path.exists(path):
        raise ConfigError(base + f"stat {path}: no such file or directory")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ConfigError(base + f"couldn't load the configuration from {json.dumps(path)}: "
                          f"{e.strerror or e}") from None
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(base + f"couldn't parse the configuration from {json.dumps(path)}: "
                          f"{e}") from None
    if not isinstance(obj, dict):
        raise ConfigError(base + f"couldn't parse the configuration from {json.dumps(path)}: "
                          f"json: cannot unmarshal {_json_type(obj)} into Go value of type "
                          "cmd.Config")
    return obj


def parse_config_file_options(raw: Mapping[str, Any] | None, path: str = "") -> dict[str, Any]:
    """A ``--config`` JSON object → a layer (unknown keys ignored)."""
    if raw is None:
        return {}

    def wrap(e: _LayerError) -> Exception:
        return ConfigError("failed to load the configuration file from the local file system: "
                           f"couldn't parse the configuration from {json.dumps(path)}: {e.detail}")

    layer, _ = _json_layer(raw, _SCRIPT_KEYS, wrap)
    return layer


# ---------------------------------------------------------------------------------------------
# Text values (env vars, CLI flags)
# ---------------------------------------------------------------------------------------------

def _parse_int_text(s: str) -> int:
    if re.fullmatch(r"[+-]?\d+", s):
        n = int(s)
        if -(1 << 63) <= n < (1 << 63):
            return n
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax')


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _parse_go_bool(s: str) -> bool:
    if s in _GO_TRUE:
        return True
    if s in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{s}": invalid syntax')


def parse_stage_text(text: str) -> Stage:
    """``"30s:10"`` → Stage (k6 Stage.UnmarshalText; ``"30s"`` has no target)."""
    dur_s, sep, target_s = text.partition(":")
    try:
        dur = parse_k6_duration(dur_s)
    except DurationError as e:
        raise ValueError(str(e)) from None
    target = _parse_int_text(target_s) if sep and target_s != "" else None
    return Stage(dur, target)


def _split_list(v: Any) -> list[str]:
    if isinstance(v, str):
        return [x for x in v.split(",")] if v != "" else []
    out: list[str] = []
    for item in v:
        out.extend(str(item).split(","))
    return out


def _env_value(f: _Field, text: str) -> Any:
    """Parse one K6_* value (raises ValueError with the Go detail text)."""
    kind = f.kind
    if kind == "bool":
        if text in ("", "null"):
            return None
        if text == "true":
            return True
        if text == "false":
            return False
        raise ValueError(f"invalid input:{text}")
    if kind == "int":
        if text in ("", "null"):
            return None
        return _parse_int_text(text)
    if kind == "str":
        return text or None
    if kind == "duration":
        if text == "":
            return None
        try:
            return parse_k6_duration(text)
        except DurationError as e:
            raise ValueError(str(e)) from None
    if kind == "stages":
        return [parse_stage_text(s) for s in text.split(",")] if text else []
    if kind == "strlist":
        return _split_list(text) if text else None
    if kind == "tags":
        if text == "":
            return None
        out = {}
        for item in text.split(","):
            k, sep, v = item.partition(":")
            if not sep:
                raise ValueError(f'invalid map item: "{item}"')
            out[k] = v
        return out
    if kind == "dns":
        out_d: dict[str, str | None] = {"ttl": None, "select": None, "policy": None}
        for item in text.split(","):
            k, sep, v = item.partition("=")
            if sep and k.strip() in out_d:
                out_d[k.strip()] = v.strip()
        return out_d
    raise AssertionError(kind)  # pragma: no cover


def parse_env_options(environ: Mapping[str, str] | None) -> dict[str, Any]:
    """``K6_*`` variables → a layer.  Unparsable values raise ConfigError (104), runtime
    options (``K6_NO_SUMMARY``...) CommandLineError (255) like k6."""
    if not environ:
        return {}
    layer: dict[str, Any] = {}
    for f in _FIELDS:
        if f.env is None or f.env not in environ:
            continue
        text = environ[f.env]
        if f.kind == "rtbool":
            if text == "":
                continue
            try:
                layer[f.attr] = _parse_go_bool(text)
            except ValueError as e:
                raise CommandLineError(f"env var '{f.env}' is not a valid boolean value: {e}") from None
            continue
        if f.kind == "summarymode":
            if text == "":
                continue
            if text not in SUMMARY_MODES:
                raise CommandLineError("invalid summary mode")
            layer[f.attr] = text
            continue
        try:
            val = _env_value(f, text)
        except ValueError as e:
            raise ConfigError(f"envconfig.Process: assigning {f.env} to {f.go_name}: converting "
                              f"'{text}' to type {f.go_type}. details: {e}") from None
        if val is not None:
            layer[f.attr] = val
    return layer


def parse_cli_options(flags: Mapping[str, Any] | None) -> dict[str, Any]:
    """CLI flag values (keyed by option name) → a layer; errors → CommandLineError (255)."""
    if not flags:
        return {}
    layer: dict[str, Any] = {}
    for key, v in flags.items():
        f = _BY_KEY.get(key)
        if f is None:
            raise CommandLineError(f"unknown option {key!r}")
        if v is None:
            continue
        flag = _flag_for(key)

        def bad(detail: str, raw: Any = v) -> CommandLineError:
            return CommandLineError(f'invalid argument "{raw}" for "{flag}" flag: {detail}')

        kind = f.kind
        if kind in ("bool", "rtbool"):
            if isinstance(v, bool):
                val: Any = v
            else:
                try:
                    val = _parse_go_bool(str(v))
                except ValueError as e:
                    raise bad(str(e)) from None
        elif kind == "int":
            if isinstance(v, int) and not isinstance(v, bool):
                val = v
            else:
                try:
                    val = _parse_int_text(str(v))
                except ValueError as e:
                    raise bad(str(e)) from None
        elif kind == "duration":
            if isinstance(v, int) and not isinstance(v, bool):
                val = v
            else:
                try:
                    val = parse_go_duration(str(v))
                except DurationError as e:
                    raise bad(str(e)) from None
        elif kind == "stages":
            items = _split_list(v) if not (v and isinstance(v[0], Stage)) else list(v)
            val = []
            for i, item in enumerate(items):
                if isinstance(item, Stage):
                    val.append(item)
                    continue
                try:
                    val.append(parse_stage_text(item))
                except ValueError as e:
                    raise CommandLineError(f"error for stage {i}: {e}") from None
        elif kind == "strlist":
            val = _split_list(v)
        elif kind == "tags":
            if isinstance(v, Mapping):
                val = {str(a): str(b) for a, b in v.items()}
            else:
                val = {}
                for item in ([v] if isinstance(v, str) else v):
                    a, sep, b = str(item).partition("=")
                    if not sep:
                        raise bad(f'{item} must be in the format key=value', item)
                    val[a] = b
        elif kind == "str":
            val = str(v)
            if key == "summaryTimeUnit" and val not in SUMMARY_TIME_UNITS:
                raise CommandLineError(
                    f"invalid summary time unit '{val}', use 's', 'ms' or 'us'")
        elif kind == "summarymode":
            if v not in SUMMARY_MODES:
                raise CommandLineError("invalid summary mode")
            val = v
        elif kind == "dns" and isinstance(v, str):
            val = _env_value(f, v)
        else:
            try:
                val = _json_value(f, v)
            except _LayerError as e:
                raise bad(e.detail) from None
        layer[f.attr] = val
    return layer


# ---------------------------------------------------------------------------------------------
# Consolidation
# ---------------------------------------------------------------------------------------------

_EXECUTION_ATTRS = ("duration", "iterations", "stages", "scenarios")


def _overrides_execution(layer: Mapping[str, Any]) -> bool:
    return any(layer.get(a) is not None for a in _EXECUTION_ATTRS)


def apply_layer(base: Options, layer: Mapping[str, Any]) -> Options:
    """k6's ``Options.Apply``: set values win; the duration/iterations/stages/scenarios wipe
    rule; stages without a duration are dropped; empty ``tags`` don't override."""
    out = replace(base)
    if _overrides_execution(layer):
        out.duration = out.iterations = None
        out.stages = None
        out.scenarios = None
    for attr, val in layer.items():
        if val is None:
            continue
        if attr == "tags" and not val:
            continue
        if attr == "stages":
            val = [s for s in val if s.duration is not None]
        setattr(out, attr, val)
    return out


_PCT_RE = re.compile(r"^p\((.*)\)$")


def validate_trend_stats(stats: Sequence[str]) -> None:
    """``summaryTrendStats`` check (CommandLineError, exit 255, k6's messages)."""
    for st in stats:
        if st in ("avg", "min", "med", "max", "count"):
            continue
        m = _PCT_RE.match(st)
        if m:
            try:
                p = float(m.group(1))
                ok = re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", m.group(1)) is not None
            except ValueError:
                ok = False
            if not ok or not 0 <= p <= 100:
                raise CommandLineError(f"invalid percentile trend stat value '{st}', provide a "
                                       "number between 0 and 100")
            continue
        raise CommandLineError(f"invalid trend stat '{st}', unknown format")


def consolidate(*, config_file: Mapping[str, Any] | None = None,
                script: Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None,
                cli: Mapping[str, Any] | None = None,
                script_file: str = "", script_url: str = "",
                config_path: str = "") -> tuple[Options, list[OptionWarning]]:
    """Merge all layers (see module doc).  Returns the options and the warnings to log, in
    k6's order.  Shortcuts are *not* folded into scenarios here: use
    :func:`jsrunner.scenarios.build_scenarios` (or ``derive_scenarios``) on the result."""
    warnings: list[OptionWarning] = []
    cli_layer = parse_cli_options(cli)
    script_layer, w = parse_script_options(script, script_file, script_url)
    warnings += w
    file_layer = parse_config_file_options(config_file, config_path)
    env_layer = parse_env_options(env)

    opts = apply_layer(Options(), file_layer)
    for name, layer in (("script", script_layer), ("env", env_layer), ("cli", cli_layer)):
        if opts.scenarios is not None and _overrides_execution(layer):
            warnings.append(OptionWarning(
                f'"{name}" level configuration overrode scenarios configuration entirely', {}))
        opts = apply_layer(opts, layer)

    if opts.summary_trend_stats is None:
        opts.summary_trend_stats = list(DEFAULT_SUMMARY_TREND_STATS)
    if opts.system_tags is None:
        opts.system_tags = list(DEFAULT_SYSTEM_TAGS)
    validate_trend_stats(opts.summary_trend_stats)
    return opts, warnings


# ---------------------------------------------------------------------------------------------
# exec.test.options
# ---------------------------------------------------------------------------------------------

def test_options_view(opts: Options,
                      scenarios: Mapping[str, ScenarioConfig] | Sequence[ScenarioConfig] | None = None
                      ) -> dict[str, Any]:
    """The JSON-like ``exec.test.options`` object (key order as k6): unset options are
    ``None``; ``vus``/``duration``/``iterations``/``stages`` are absent (folded into
    ``scenarios``); durations as Go strings; ``systemTags`` sorted."""
    if scenarios is None:
        from .scenarios import derive_scenarios
        scen_map, _ = derive_scenarios(opts)
    elif isinstance(scenarios, Mapping):
        scen_map = dict(scenarios)
    else:
        scen_map = {c.name: c for c in scenarios}
    out: dict[str, Any] = {}
    for f in _VIEW_ORDER:
        val = getattr(opts, f.attr)
        if f.key == "scenarios":
            out["scenarios"] = {name: scen_map[name].view() for name in sorted(scen_map)}
            continue
        if f.key == "cloud":
            if val:
                out["cloud"] = val
            continue
        if val is None:
            if f.key == "dns":
                val = {"ttl": None, "select": None, "policy": None}
            elif f.key == "summaryTrendStats":
                val = list(DEFAULT_SUMMARY_TREND_STATS)
            elif f.key == "systemTags":
                val = sorted(DEFAULT_SYSTEM_TAGS)
            out[f.key] = val
            continue
        if f.kind == "duration":
            val = format_duration(val)
        elif f.key == "thresholds":
            val = {k: [s.view() for s in v] for k, v in val.items()}
        elif f.key == "systemTags":
            val = sorted(set(val))
        elif f.key == "dns":
            val = {"ttl": val.get("ttl"), "select": val.get("select"), "policy": val.get("policy")}
        elif isinstance(val, list):
            val = list(val)
        elif isinstance(val, dict):
            val = dict(val)
        out[f.key] = val
    return out



test_options_view.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
