"""Build the run plan: consolidate option layers, derive scenarios, map them to executors."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .durations import to_seconds
from .errors import CommandLineError, ConfigError
from .executors import ScenarioSpec
from .loader import file_url
from .options import consolidate, load_config_file, test_options_view
from .plan import Plan
from .scenarios import banner_lines, build_scenarios, test_max_duration, test_max_vus

if TYPE_CHECKING:
    from .log import Logger
    from .runner import RunConfig


def _cli_layer(cfg: "RunConfig") -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if cfg.vus is not None:
        layer["vus"] = cfg.vus
    if cfg.iterations is not None:
        layer["iterations"] = cfg.iterations
    if cfg.duration is not None:
        layer["duration"] = cfg.duration
    if cfg.stages:
        layer["stages"] = list(cfg.stages)
    if cfg.tags:
        layer["tags"] = dict(cfg.tags)
    if cfg.summary_trend_stats is not None:
        layer["summaryTrendStats"] = cfg.summary_trend_stats
    if cfg.summary_time_unit is not None:
        layer["summaryTimeUnit"] = cfg.summary_time_unit
    if cfg.summary_mode is not None:
        layer["summaryMode"] = cfg.summary_mode
    if cfg.system_tags is not None:
        layer["systemTags"] = cfg.system_tags
    for key, flag in (("noThresholds", cfg.no_thresholds), ("noSummary", cfg.no_summary),
                      ("noSetup", cfg.no_setup), ("noTeardown", cfg.no_teardown), ("throw", cfg.throw)):
        if flag:
            layer[key] = True
    return layer


def _spec(c: Any) -> ScenarioSpec:
    """Executor spec (seconds) from a validated scenario config (nanoseconds)."""
    s = ScenarioSpec(
        name=c.name, executor=c.executor, exec_fn=c.exec_name, env=dict(c.env or {}), tags=dict(c.tags or {}),
        start_time=to_seconds(c.start_time), graceful_stop=to_seconds(c.graceful_stop),
        requirements=list(c.requirements()),
    )
    ex = c.executor
    if ex in ("shared-iterations", "per-vu-iterations"):
        s.vus, s.iterations, s.max_duration = c.vus, c.iterations, to_seconds(c.max_duration_)
    elif ex == "constant-vus":
        s.vus, s.duration = c.vus, to_seconds(c.duration or 0)
    elif ex == "ramping-vus":
        s.start_vus = c.start_vus
        s.stages = [(to_seconds(st.duration or 0), float(st.target or 0)) for st in c.stages]
        s.graceful_ramp_down = to_seconds(c.graceful_ramp_down)
    elif ex in ("constant-arrival-rate", "ramping-arrival-rate"):
        s.time_unit = to_seconds(c.time_unit)
        s.pre_allocated_vus = c.pre_allocated_vus or 0
        s.max_vus = c.max_vus_ if c.max_vus_ is not None else s.pre_allocated_vus
        if ex == "constant-arrival-rate":
            s.rate, s.duration = float(c.rate or 0), to_seconds(c.duration or 0)
        else:
            s.start_rate = float(c.start_rate or 0)
            s.stages = [(to_seconds(st.duration or 0), float(st.target or 0)) for st in c.stages]
    return s


def build_plan(cfg: "RunConfig", script_options: dict[str, Any], exports: list[str],
               env: dict[str, str], logger: "Logger", environ: dict[str, str] | None = None) -> Plan:
    """Consolidate the option layers (defaults < ``--config`` < script < ``K6_*`` from
    ``environ`` (default: the process environment) < CLI), derive and validate the
    scenarios and map them to executor specs. Raises ConfigError/CommandLineError."""
    if isinstance(script_options, dict) and "__error__" in script_options:
        raise ConfigError(f"could not initialize '{cfg.script}': options are not JSON-serialisable: "
                          f"{script_options['__error__']}")
    script = dict(script_options or {})
    if cfg.options:
        script.update(cfg.options)
    config_file = None
    if cfg.config_file:
        config_file = load_config_file(cfg.config_file)
    url = file_url(cfg.script)
    if environ is None:
        environ = dict(os.environ if getattr(cfg, "system_env", None) is None else cfg.system_env)
    opts, warnings = consolidate(config_file=config_file, script=script, env=environ,
                                 cli=_cli_layer(cfg), script_file=cfg.script, script_url=url,
                                 config_path=cfg.config_file or "")
    configs, more = build_scenarios(opts, exports, script_file=cfg.script, script_url=url)
    for w in list(warnings) + list(more):
        logger.warning(w.message, **(w.fields or {}))
    from .metrics.summary import validate_summary_mode, validate_time_unit
    mode = opts.summary_mode or "compact"
    validate_summary_mode(mode)
    if opts.summary_time_unit:
        validate_time_unit(opts.summary_time_unit)
    thresholds: dict[str, Any] = {}
    for key, specs in (opts.thresholds or {}).items():
        thresholds[key] = [t.view() for t in specs]
    outputs = list(cfg.out)
    plan = Plan(
        scenarios=[_spec(c) for c in configs],
        max_vus=test_max_vus(configs),
        max_duration=to_seconds(test_max_duration(configs)),
        options=script,
        options_view=json.loads(json.dumps(test_options_view(opts, configs), default=str)),
        global_tags=dict(opts.tags or {}),
        thresholds=thresholds,
        setup_timeout=to_seconds(opts.effective_setup_timeout),
        teardown_timeout=to_seconds(opts.effective_teardown_timeout),
        no_setup=bool(opts.no_setup), no_teardown=bool(opts.no_teardown),
        no_summary=bool(opts.no_summary), no_thresholds=bool(opts.no_thresholds),
        summary_export=cfg.summary_export,
        summary_trend_stats=list(opts.summary_trend_stats or []),
        summary_time_unit=opts.summary_time_unit or None,
        summary_mode=mode, no_color=cfg.no_color, outputs=outputs,
        banner_lines=banner_lines(configs),
    )
    if any(s.executor == "externally-controlled" for s in plan.scenarios):  # pragma: no cover
        raise CommandLineError("externally-controlled executor is not supported")
    return plan
