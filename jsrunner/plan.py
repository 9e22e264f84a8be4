"""From script options and command-line flags to a run plan (scenarios, VUs, flags).

This is the seam between the pure configuration core (``options``, ``scenarios``) and the
runner: it owns no rules of its own beyond mapping validated scenario configs onto
executor specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .executors import ScenarioSpec

if TYPE_CHECKING:
    from .log import Logger
    from .runner import RunConfig


@dataclass
class Plan:
    scenarios: list[ScenarioSpec]
    max_vus: int
    max_duration: float
    options: dict[str, Any]
    options_view: dict[str, Any]
    global_tags: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    setup_timeout: float = 60.0
    teardown_timeout: float = 60.0
    no_setup: bool = False
    no_teardown: bool = False
    no_summary: bool = False
    no_thresholds: bool = False
    summary_export: str | None = None
    summary_trend_stats: list[str] = field(default_factory=lambda: ["avg", "min", "med", "max", "p(90)", "p(95)"])
    summary_time_unit: str | None = None
    summary_mode: str = "compact"
    no_color: bool = False
    outputs: list[str] = field(default_factory=list)
    banner_lines: list[str] = field(default_factory=list)

    def banner(self, script: str, cfg: "RunConfig") -> str:
        logo = (
            "\n"
            "         /\\      Grafana   /\u203e\u203e/  \n"
            "    /\\  /  \\     |\\  __   /  /   \n"
            "   /  \\/    \\    | |/ /  /   \u203e\u203e\\ \n"
            "  /          \\   |   (  |  (\u203e)  |\n"
            " / __________ \\  |_|\\_\\  \\_____/ \n"
            "\n"
        )
        out = ", ".join(self.output_descriptions()) or "-"
        lines = [logo, "     execution: local\n", f"        script: {script}\n", f"        output: {out}\n", "\n"]
        lines += [line + "\n" for line in self.banner_lines]
        lines.append("\n")
        return "".join(lines)

    def output_descriptions(self) -> list[str]:
        out = []
        for spec in self.outputs:
            kind, _, arg = spec.partition("=")
            if kind == "json":
                out.append("json(stdout)" if arg in ("", "-") else f"json ({arg})")
            else:
                out.append(spec)
        return out


def plan_run(cfg: "RunConfig", script_options: dict[str, Any], exports: list[str],
             env: dict[str, str], logger: "Logger") -> Plan:
    from .planning import build_plan
    return build_plan(cfg, script_options, exports, env, logger)
