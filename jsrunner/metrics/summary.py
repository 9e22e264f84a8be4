"""End-of-test text summary: ``compact`` (default), ``full`` and ``legacy`` (runner.md §8).

``render_summary`` returns exactly what k6 writes to stdout (``"\\n" + BODY + "\\n\\n"``),
without banner or progress lines. The body is a list of items — lines and breaks — joined
as k6 does (a line is appended as ``"\\n" + line``, a break as ``"\\n"``), which is what
makes the blank-line pattern between sections come out right.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from jsrunner.errors import CommandLineError
from jsrunner.metrics.engine import MetricsEngine, Scope
from jsrunner.metrics.format import (
    TIME_UNITS, humanize_value, js_number, locale_compare_key,
    metric_sort_key,
)
from jsrunner.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink, TrendSink
from jsrunner.metrics.thresholds import Threshold, parse_go_float

__all__ = [
    "DEFAULT_TREND_STATS", "SUMMARY_MODES", "SummaryOptions", "MetricView",
    "validate_trend_stats", "validate_summary_mode", "validate_time_unit",
    "metric_values", "render_summary", "render_legacy", "block_of",
]

DEFAULT_TREND_STATS: tuple[str, ...] = ("avg", "min", "med", "max", "p(90)", "p(95)")
SUMMARY_MODES = ("compact", "full", "legacy")

_BREAK = None  # item marker: a break
_SUCC, _FAIL, _TITLE, _SUB = "✓", "✗", "█", "↳"

# ANSI sequences of k6's summary.js formatter
_RESET = "\x1b[0m"
_GREEN, _RED, _WHITE, _CYAN = "\x1b[32m", "\x1b[31m", "\x1b[37m", "\x1b[36m"
_FAINT_WHITE, _FAINT_CYAN, _BOLD = "\x1b[2;37m", "\x1b[2;36m", "\x1b[1m"


@dataclass
class SummaryOptions:
    """What changes the text: ``--summary-trend-stats``, ``--summary-time-unit``,
    ``--summary-mode``, ``--no-thresholds`` and colours (TTY and not ``--no-color``)."""

    trend_stats: Sequence[str] = DEFAULT_TREND_STATS
    time_unit: str = ""
    mode: str = "compact"
    no_thresholds: bool = False
    colors: bool = False
    #: legacy Rate lines: ``"v1"`` → ``66.66% 8 out of 12``; ``"seed"`` → ``66.66% ✓ 8 ✗ 4``
    legacy_rate_format: str = "v1"


def validate_trend_stats(stats: Sequence[str]) -> list[str]:
    """Check ``--summary-trend-stats`` / ``summaryTrendStats`` (k6 exits 255 on error)."""
    out = []
    for stat in stats:
        if stat in ("avg", "min", "med", "max", "count"):
            out.append(stat)
            continue
        if not (stat.startswith("p(") and stat.endswith(")")):
            raise CommandLineError(f"invalid trend stat '{stat}', unknown format")
        try:
            p = parse_go_float(stat[2:-1])
        except ValueError:
            p = -1.0
        if not 0 <= p <= 100:
            raise CommandLineError(
                f"invalid percentile trend stat value '{stat}', provide a number between 0 and 100")
        out.append(stat)
    return out


def validate_summary_mode(mode: str) -> str:
    if mode not in SUMMARY_MODES:
        raise CommandLineError("invalid summary mode")
    return mode


def validate_time_unit(unit: str) -> str:
    if unit and unit not in TIME_UNITS:
        raise CommandLineError(f"invalid summary time unit '{unit}', use 's', 'ms' or 'us'")
    return unit


# --------------------------------------------------------------------------- values

@dataclass
class MetricView:
    """One metric (or sub-metric) as the renderers see it."""

    name: str
    type: str
    contains: str
    values: dict[str, float]
    thresholds: list[Threshold] = field(default_factory=list)


def metric_values(sink: Sink | None, mtype: str, duration_ms: float,
                  trend_stats: Sequence[str]) -> dict[str, float]:
    """k6's per-type value map (Counter count/rate, Gauge value/min/max, Rate
    rate/passes/fails, Trend the trend stats); zeros for a missing sink."""
    if mtype == "counter":
        c = sink if isinstance(sink, CounterSink) else CounterSink()
        return {"count": c.count, "rate": c.rate(duration_ms)}
    if mtype == "gauge":
        g = sink if isinstance(sink, GaugeSink) else GaugeSink()
        return {"value": g.value, "min": g.min, "max": g.max}
    if mtype == "rate":
        r = sink if isinstance(sink, RateSink) else RateSink()
        return {"rate": r.rate, "passes": r.passes, "fails": r.fails}
    t = sink if isinstance(sink, TrendSink) else TrendSink()
    return {stat: t.stat(stat) for stat in trend_stats}


def _view(engine: MetricsEngine, name: str, sink: Sink | None, duration_ms: float,
          stats: Sequence[str], thresholds: list[Threshold] | None = None) -> MetricView:
    m = engine.metric(name)
    return MetricView(name, m.type.value, m.contains.value,
                      metric_values(sink, m.type.value, duration_ms, stats), thresholds or [])


# ------------------------------------------------------------------- classification

_HIDDEN = ("checks", "group_duration")
_HIDDEN_COMPACT = ("http_req_blocked", "http_req_connecting", "http_req_receiving",
                   "http_req_sending", "http_req_tls_handshaking", "http_req_waiting")
_HTTP = ("http_reqs", "http_req_failed", "http_req_duration") + _HIDDEN_COMPACT
_EXECUTION = ("vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations")
_NETWORK = ("data_sent", "data_received")
_BLOCK_ORDER = ("CUSTOM", "HTTP", "EXECUTION", "NETWORK", "BROWSER", "WEB_VITALS", "GRPC", "WEBSOCKET")


def block_of(name: str, mode: str = "compact") -> str | None:
    """Block heading of a metric by name prefix (k6 quirk kept); ``None`` = hidden."""
    if name.startswith(_HIDDEN) or (mode == "compact" and name.startswith(_HIDDEN_COMPACT)):
        return None
    if name.startswith(_HTTP):
        return "HTTP"
    if name.startswith(_EXECUTION):
        return "EXECUTION"
    if name.startswith(_NETWORK):
        return "NETWORK"
    if name.startswith("browser_") and not name.startswith("browser_web_vital_"):
        return "BROWSER"
    if name.startswith("grpc_"):
        return "GRPC"
    if name.startswith("ws_"):
        return "WEBSOCKET"
    if name.startswith("browser_web_vital_"):
        return "WEB_VITALS"
    return "CUSTOM"


# ------------------------------------------------------------------------ formatting

def _width(s: str) -> int:
    """k6's ``strWidth``: characters after NFKC, ANSI escape sequences excluded."""
    data = unicodedata.normalize("NFKC", s)
    width, in_esc, in_long = 0, False, False
    for ch in data:
        if ch == "\x1b":
            in_esc = True
            continue
        if in_esc and ch == "[":
            in_long = True
            continue
        o = ord(ch)
        if in_esc and in_long and 0x40 <= o <= 0x7E:
            in_esc = in_long = False
            continue
        if in_esc and not in_long and 0x40 <= o <= 0x5F:
            in_esc = False
            continue
        if not in_esc and not in_long:
            width += 1
    return width


def _display_name(name: str) -> str:
    """Legacy display: ``{ inner }`` for a sub-metric (its 2-space indent is separate)."""
    pos = name.find("{")
    if pos >= 0:
        return "{ " + name[pos + 1:-1] + " }"
    return name


def _compact_display(name: str) -> str:
    """Compact/full display: a sub-metric is ``  { inner }`` (indent part of the name)."""
    return "  " + _display_name(name) if "{" in name else name


class _Fmt:
    """Colour decoration, a no-op unless colours are enabled."""

    def __init__(self, colors: bool) -> None:
        self.on = colors

    def deco(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.on else text

    def bold(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.on else text


def _format_value(view: MetricView, key: str, unit: str) -> str:
    return humanize_value(view.values[key], view.type, view.contains, unit)


def _non_trend_parts(view: MetricView, opts: SummaryOptions, *, seed_rate: bool = False) -> list[str]:
    unit = opts.time_unit
    v = view.values
    if view.type == "counter":
        return [_format_value(view, "count", unit), _format_value(view, "rate", unit) + "/s"]
    if view.type == "gauge":
        return [_format_value(view, "value", unit), "min=" + _format_value(view, "min", unit),
                "max=" + _format_value(view, "max", unit)]
    if view.type == "rate":
        passes, fails = int(v["passes"]), int(v["fails"])
        if seed_rate:
            return [_format_value(view, "rate", unit), f"{_SUCC} {passes}", f"{_FAIL} {fails}"]
        return [_format_value(view, "rate", unit), f"{passes} out of {passes + fails}"]
    return ["[no data]"]


def _trend_col(view: MetricView, stat: str, opts: SummaryOptions) -> str:
    value = view.values.get(stat)
    if value is None:
        return ""
    if stat == "count":
        return js_number(int(value) if float(value).is_integer() else value)
    return humanize_value(value, view.type, view.contains, opts.time_unit)


class _AlignedSet:
    """Column widths of one alignment set (§8.1.5) and the line renderer."""

    def __init__(self, views: Sequence[MetricView], opts: SummaryOptions, fmt: _Fmt,
                 *, seed_rate: bool = False, legacy: bool = False) -> None:
        self.opts, self.fmt, self.legacy = opts, fmt, legacy
        self.stats = list(opts.trend_stats)
        self.max_name = 0
        self.max_main = 0
        self.extra_widths: list[int] = [0, 0] if legacy else []
        self.trend_widths = [0] * len(self.stats)
        self.cols: dict[str, list[str]] = {}
        self.parts: dict[str, list[str]] = {}
        for v in views:
            if legacy:
                w = _width(("  " if "{" in v.name else "") + _display_name(v.name))
            else:
                w = _width(v.name + _compact_display(v.name))
            self.max_name = max(self.max_name, w)
            if v.type == "trend":
                cols = [_trend_col(v, s, opts) for s in self.stats]
                for i, c in enumerate(cols):
                    self.trend_widths[i] = max(self.trend_widths[i], _width(c))
                self.cols[v.name] = cols
            else:
                parts = _non_trend_parts(v, opts, seed_rate=seed_rate)
                self.parts[v.name] = parts
                self.max_main = max(self.max_main, _width(parts[0]))
                for i, e in enumerate(parts[1:]):
                    if i >= len(self.extra_widths):
                        self.extra_widths.append(0)
                    self.extra_widths[i] = max(self.extra_widths[i], _width(e))

    def data(self, view: MetricView) -> str:
        f = self.fmt
        faint_cyan = "\x1b[36;2m" if self.legacy else _FAINT_CYAN
        if view.name in self.cols:
            cols = self.cols[view.name]
            return " ".join(
                f"{s}=" + f.deco(c, _CYAN) + " " * (self.trend_widths[i] - _width(c))
                for i, (s, c) in enumerate(zip(self.stats, cols)))
        parts = self.parts[view.name]
        main, extras = parts[0], parts[1:]
        out = f.deco(main, _CYAN) + " " * (self.max_main - _width(main))
        if len(extras) == 1:
            out += " " + f.deco(extras[0], faint_cyan)
        elif extras:
            out += " " + " ".join(f.deco(e, faint_cyan) + " " * (self.extra_widths[i] - _width(e))
                                  for i, e in enumerate(extras))
        return out

    def line(self, view: MetricView, indent: str) -> str:
        disp = _compact_display(view.name)
        dots = self.max_name + 3 - _width(disp)
        return indent + disp + self.fmt.deco("." * dots + ":", _FAINT_WHITE) + " " + self.data(view)


# ---------------------------------------------------------------- compact and full

_PCT_SOURCE = re.compile(r"^p\((\d+(?:\.\d+)?)\)\s*([<>=])")


class _Builder:
    def __init__(self, engine: MetricsEngine, duration_ms: float, opts: SummaryOptions) -> None:
        self.engine, self.duration_ms, self.opts = engine, duration_ms, opts
        self.fmt = _Fmt(opts.colors)
        self.items: list[str | None] = []

    # items
    def title(self, text: str, level: int, prefix: str = _TITLE) -> None:
        self.items.append("  " * level + f"{prefix} " + self.fmt.bold(text) + " \n")

    def render(self) -> str:
        body = ""
        for item in self.items:
            body += "\n" if item is None else "\n" + item
        return "\n" + body + "\n\n"

    # sections
    def thresholds_section(self) -> None:
        ths = self.engine.thresholds()
        if self.opts.no_thresholds or not ths:
            return
        self.title("THRESHOLDS", 1)
        views = {}
        for name, tl in ths.items():
            views[name] = _view(self.engine, name, self.engine.sink(name), self.duration_ms,
                                self.opts.trend_stats, tl)
        aligned = _AlignedSet(list(views.values()), self.opts, self.fmt)
        f = self.fmt
        for name in sorted(views, key=metric_sort_key):
            view = views[name]
            parent = name.split("{", 1)[0]
            nested = parent != name and parent in views
            indent = "      " if nested else "    "
            self.items.append(indent + (name[len(parent):] if nested else name))
            for th in view.thresholds:
                mark = f.deco(_FAIL, _RED) if th.last_failed else f.deco(_SUCC, _GREEN)
                agg = re.split(r"[=><]", th.source, maxsplit=1)[0].strip()
                value = self._threshold_value(view, th, agg, aligned)
                self.items.append(indent + " ".join((
                    mark, f.deco(f"'{th.source}'", _WHITE),
                    f.deco(agg, _WHITE) + "=" + f.deco(value, _CYAN))))
            self.items.append(_BREAK)
        self.items.append(_BREAK)

    def _threshold_value(self, view: MetricView, th: Threshold, agg: str, aligned: _AlignedSet) -> str:
        if view.type == "trend":
            if agg in self.opts.trend_stats:
                return _trend_col(view, agg, self.opts)
            m = _PCT_SOURCE.match(th.source)
            if m and f"p({m.group(1)})" == agg:
                sink = self.engine.sink(view.name)
                pv = sink.percentile(float(m.group(1)) / 100) if isinstance(sink, TrendSink) else 0.0
                return humanize_value(pv, view.type, view.contains, self.opts.time_unit)
            return ""
        parts = aligned.parts[view.name]
        if view.type == "counter" and agg != "count":
            return parts[1]
        return parts[0]

    def checks_block(self, sink: Sink | None, checks: Mapping[str, Sequence[int]], level: int) -> None:
        """Checks metrics + per-name lines; ``level`` = base level of the check lines."""
        if not isinstance(sink, RateSink) or sink.total == 0:
            return
        f, ind = self.fmt, "  " * (level + 1)
        total, passes = sink.total, sink.passes
        fails = total - passes
        views = [
            MetricView("checks_total", "counter", "default",
                       {"count": total, "rate": total / (self.duration_ms / 1000) if self.duration_ms > 0 else 0.0}),
            MetricView("checks_succeeded", "rate", "default",
                       {"rate": passes / total, "passes": passes, "fails": fails}),
            MetricView("checks_failed", "rate", "default",
                       {"rate": fails / total, "passes": fails, "fails": passes}),
        ]
        aligned = _AlignedSet(views, self.opts, f)
        for v in views:
            self.items.append(aligned.line(v, ind))
        self.items.append(_BREAK)
        for name, (p, fl) in checks.items():
            if fl == 0:
                self.items.append(ind + f.deco(f"{_SUCC} {name}", _GREEN))
            else:
                pct = (100 * p) // (p + fl)
                detail = f"{_SUB}  {pct}% — {_SUCC} {p} / {_FAIL} {fl}"
                self.items.append(ind + f.deco(f"{_FAIL} {name}", _RED) + "\n"
                                  + "  " * (2 * level + 1) + f.deco(detail, _RED))
        self.items.append(_BREAK)

    def metric_blocks(self, views: Sequence[MetricView], level: int) -> None:
        by_block: dict[str, list[MetricView]] = {}
        shown = []
        for v in views:
            block = block_of(v.name, self.opts.mode)
            if block is not None:
                by_block.setdefault(block, []).append(v)
                shown.append(v)
        aligned = _AlignedSet(shown, self.opts, self.fmt)
        ind = "  " * (level + 1)
        for block in _BLOCK_ORDER:
            bv = by_block.get(block)
            if not bv:
                continue
            self.items.append(ind + self.fmt.bold(block))
            for v in sorted(bv, key=lambda v: metric_sort_key(v.name)):
                self.items.append(aligned.line(v, ind))
            self.items.append(_BREAK)

    def total_results(self) -> None:
        self.title("TOTAL RESULTS", 1)
        e = self.engine
        self.checks_block(e.checks_sink(), e.check_totals, 1)
        views = [_view(e, n, e.sink(n), self.duration_ms, self.opts.trend_stats)
                 for n in e.observed()]
        self.metric_blocks(views, 1)
        self.items.append(_BREAK)

    def scope_content(self, scope: Scope, level: int) -> None:
        self.checks_block(scope.sinks.get("checks"), scope.checks, level)
        views = [_view(self.engine, n, s, self.duration_ms, self.opts.trend_stats)
                 for n, s in scope.sinks.items()]
        self.metric_blocks(views, level)
        for name, child in scope.children.items():
            self.title(f"GROUP: {name}", level + 1, _SUB)
            self.scope_content(child, level + 1)

    def full_sections(self) -> None:
        for name, scope in self.engine.default_scope.children.items():
            self.title(f"GROUP: {name}", 1)
            self.scope_content(scope, 1)
            self.items.append(_BREAK)
        scen = self.engine.scenario_scopes
        for name in sorted(scen, key=locale_compare_key):
            self.title(f"SCENARIO: {name}", 1)
            self.scope_content(scen[name], 1)
            self.items.append(_BREAK)


def render_summary(engine: MetricsEngine, duration_ms: float, options: SummaryOptions | None = None,
                   *, summary_data: Mapping | None = None) -> str:
    """The end-of-test summary exactly as written to stdout.

    ``full`` mode needs an engine created with ``track_groups=True``. ``legacy`` mode
    renders from the handleSummary data object (built here unless ``summary_data``
    is given).
    """
    opts = options or SummaryOptions()
    if opts.mode == "legacy":
        if summary_data is None:
            from jsrunner.metrics.export import build_summary_data
            summary_data = build_summary_data(engine, duration_ms, trend_stats=opts.trend_stats,
                                              time_unit=opts.time_unit, no_color=not opts.colors)
        return "\n" + render_legacy(summary_data, opts) + "\n\n"
    b = _Builder(engine, duration_ms, opts)
    b.thresholds_section()
    b.total_results()
    if opts.mode == "full":
        b.full_sections()
    return b.render()


# -------------------------------------------------------------------------- legacy

def render_legacy(data: Mapping, opts: SummaryOptions) -> str:
    """k6's pre-v1 text summary from a handleSummary data object (§8.2), without the
    wrapper's leading/trailing newlines."""
    fmt = _Fmt(opts.colors)

    def deco(text: str, *codes: int) -> str:
        if not opts.colors:
            return text
        return "\x1b[" + ";".join(str(c) for c in codes) + "m" + text + _RESET

    lines: list[str] = []

    def group(indent: str, g: Mapping) -> None:
        if g["name"] != "":
            lines.append(indent + f"{_TITLE} " + g["name"] + "\n")
            indent += "  "
        for c in g["checks"]:
            if c["fails"] == 0:
                lines.append(deco(indent + f"{_SUCC} " + c["name"], 32))
            else:
                pct = (100 * c["passes"]) // (c["passes"] + c["fails"])
                lines.append(deco(f"{indent}{_FAIL} {c['name']}\n{indent} {_SUB}  {pct}% — "
                                  f"{_SUCC} {c['passes']} / {_FAIL} {c['fails']}", 31))
        if g["checks"]:
            lines.append("")
        for sub in g["groups"]:
            group(indent, sub)

    group("     ", data["root_group"])

    views = [MetricView(name, m["type"], m["contains"], dict(m["values"]))
             for name, m in data["metrics"].items()]
    thresholds = {name: m.get("thresholds") for name, m in data["metrics"].items()}
    aligned = _AlignedSet(views, opts, fmt, seed_rate=opts.legacy_rate_format == "seed", legacy=True)
    for v in sorted(views, key=lambda v: metric_sort_key(v.name)):
        mark, code = " ", 0
        th = thresholds.get(v.name)
        if th:
            mark, code = _SUCC, 32
            if any(not t["ok"] for t in th.values()):
                mark, code = _FAIL, 31
        fmt_indent = "  " if "{" in v.name else ""
        disp = _display_name(v.name)
        dots = aligned.max_name - _width(disp) - _width(fmt_indent) + 3
        name_part = disp + deco("." * dots + ":", 2)
        mark_s = deco(mark, code) if code else mark
        lines.append("   " + fmt_indent + mark_s + " " + name_part + " " + aligned.data(v))
    return "\n".join(lines)
