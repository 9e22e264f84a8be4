"""``MetricsEngine``: sinks, sub-metrics, thresholds and the group/check tree of a run.

A sample is ``(metric_name, time_ns, value, tags, metadata)``. ``ingest`` takes a
batch and holds no lock: the caller batches samples and serialises calls. The hot path
is one dict lookup plus one call of a per-metric *feed* function that is rebuilt only
when the metric's shape changes (a sub-metric is added), so metrics without sub-metrics
or tree bookkeeping pay nothing for those features.

State that survives process boundaries goes through ``snapshot()``/``merge()`` (plain
JSON-able dicts), which is how per-worker engines of a multi-process run are combined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from jsrunner.errors import MetricError
from jsrunner.metrics.registry import Metric, Registry
from jsrunner.metrics.sinks import RateSink, Sink, new_sink, sink_from_snapshot
from jsrunner.metrics.thresholds import (
    Threshold, parse_metric_key, parse_thresholds_config, run_thresholds, submetric_tags,
    validate_thresholds,
)

__all__ = ["Sample", "MetricsEngine", "SubMetric", "GroupNode", "CheckNode", "Scope",
           "ThresholdsResult", "md5_id"]

#: (metric name, time in ns since the epoch, value, tags, metadata or None)
Sample = tuple[str, int, float, dict[str, str], "dict[str, str] | None"]
Feed = Callable[[float, int, dict], None]
#: a run (metric name, tags, values in order, time in ns of the last value)
Run = tuple[str, dict[str, str], list[float], int]
RunFeed = Callable[[list[float], int, dict], None]

#: group tags whose samples are not assigned to any group of the ``full`` summary
_UNGROUPED = frozenset(("::setup", "::teardown"))


def md5_id(path: str) -> str:
    """k6's group/check id: lowercase hex MD5 of the path."""
    return hashlib.md5(path.encode("utf-8")).hexdigest()


@dataclass(eq=False)
class CheckNode:
    """A check of the group tree (summary-export / handleSummary ``root_group``)."""

    name: str
    path: str
    passes: int = 0
    fails: int = 0

    @property
    def id(self) -> str:
        return md5_id(self.path)


@dataclass(eq=False)
class GroupNode:
    """A group of the tree; children and checks in first-seen order."""

    name: str
    path: str
    groups: dict[str, "GroupNode"] = field(default_factory=dict)
    checks: dict[str, CheckNode] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return md5_id(self.path)

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path,
                "checks": [[c.name, c.passes, c.fails] for c in self.checks.values()],
                "groups": [g.snapshot() for g in self.groups.values()]}


@dataclass(eq=False)
class Scope:
    """Per-group / per-scenario aggregates for the ``full`` summary mode."""

    sinks: dict[str, Sink] = field(default_factory=dict)
    #: check name → [passes, fails], first-seen order
    checks: dict[str, list[int]] = field(default_factory=dict)
    children: dict[str, "Scope"] = field(default_factory=dict)

    def add(self, metric: Metric, value: float, time_ns: int, tags: dict) -> None:
        self._sink(metric).add(value, time_ns)
        if metric.name == "checks":
            self._count_check(tags, 1 if value else 0, 0 if value else 1)

    def add_many(self, metric: Metric, values: list[float], time_ns: int, tags: dict) -> None:
        self._sink(metric).add_many(values, time_ns)
        if metric.name == "checks":
            passes = len(values) - values.count(0)
            self._count_check(tags, passes, len(values) - passes)

    def _sink(self, metric: Metric) -> Sink:
        sink = self.sinks.get(metric.name)
        if sink is None:
            sink = self.sinks[metric.name] = new_sink(metric.type)
        return sink

    def _count_check(self, tags: dict, passes: int, fails: int) -> None:
        check = tags.get("check")
        if check is not None:
            pf = self.checks.get(check)
            if pf is None:
                pf = self.checks[check] = [0, 0]
            pf[0] += passes
            pf[1] += fails

    def child(self, name: str) -> "Scope":
        c = self.children.get(name)
        if c is None:
            c = self.children[name] = Scope()
        return c

    def snapshot(self) -> dict[str, Any]:
        return {"sinks": {k: s.snapshot() for k, s in self.sinks.items()},
                "checks": [[k, p, f] for k, (p, f) in self.checks.items()],
                "children": [[k, c.snapshot()] for k, c in self.children.items()]}

    def merge(self, snap: Mapping[str, Any]) -> None:
        for k, ss in snap["sinks"].items():
            other = sink_from_snapshot(ss)
            mine = self.sinks.get(k)
            if mine is None:
                self.sinks[k] = other
            else:
                mine.merge(other)  # type: ignore[arg-type]
        for k, p, f in snap["checks"]:
            pf = self.checks.setdefault(k, [0, 0])
            pf[0] += p
            pf[1] += f
        for k, cs in snap["children"]:
            self.child(k).merge(cs)


@dataclass(eq=False)
class SubMetric:
    """A tag-filtered view of a parent metric, created from a threshold key."""

    name: str
    parent: str
    suffix: str
    tags: dict[str, str]
    sink: Sink
    thresholds: list[Threshold] = field(default_factory=list)


@dataclass(eq=False)
class _MetricState:
    metric: Metric
    sink: Sink
    subs: list[SubMetric] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    #: shown in the summary even without samples (has thresholds, or a sub-metric has)
    forced_observed: bool = False


@dataclass
class ThresholdsResult:
    """Outcome of one threshold evaluation."""

    #: names of the metrics / sub-metrics with a crossed threshold, sorted by byte order
    crossed: list[str]
    #: an ``abortOnFail`` threshold asks to stop the test
    abort: bool
    #: names whose abortOnFail threshold fired (for the abort message)
    aborting: list[str] = field(default_factory=list)


class MetricsEngine:
    """All aggregation state of a run (one per process; merged via snapshots)."""

    def __init__(self, registry: Registry | None = None, *, track_groups: bool = False) -> None:
        """``track_groups`` keeps per-group/per-scenario aggregates (``--summary-mode=full``)."""
        self.registry = registry if registry is not None else Registry()
        self.track_groups = track_groups
        self._states: dict[str, _MetricState] = {}
        self._feeds: dict[str, Feed] = {}
        self._run_feeds: dict[str, RunFeed] = {}
        self._subs: dict[str, SubMetric] = {}
        self.root_group = GroupNode("", "")
        self._group_nodes: dict[str, GroupNode] = {"": self.root_group}
        self._check_nodes: dict[tuple[str, str], CheckNode] = {}
        #: check name → [passes, fails] over all groups, first-seen order (TOTAL RESULTS)
        self.check_totals: dict[str, list[int]] = {}
        #: ``full`` mode: samples of the ``default`` scenario (and untagged) by group
        self.default_scope = Scope()
        #: ``full`` mode: scenario name → its scope (all its samples + its groups)
        self.scenario_scopes: dict[str, Scope] = {}
        self._scope_cache: dict[tuple[str | None, str], Scope] = {}

    # ------------------------------------------------------------------ definitions
    def _state(self, name: str) -> _MetricState:
        st = self._states.get(name)
        if st is None:
            metric = self.registry.get(name)
            if metric is None:
                raise MetricError(f"unknown metric '{name}'")
            st = self._states[name] = _MetricState(metric, new_sink(metric.type))
        return st

    def add_submetric(self, key: str) -> SubMetric:
        """Create (or return the equivalent existing) sub-metric for ``name{k:v,...}``.

        Keys whose normalised tag filters are equal share one sub-metric, named after
        the first key (k6 ``AddSubmetric``).
        """
        parent, brace, rest = key.partition("{")
        if not brace or not rest.endswith("}"):
            raise MetricError("missing ending bracket, sub-metric format needs to be 'metric{key:value}'")
        if self.registry.get(parent) is None:
            raise MetricError(f"metric '{parent}' does not exist in the script")
        suffix, tags = submetric_tags(rest[:-1])
        if not suffix:
            raise MetricError(f"submetric criteria for metric '{parent}' cannot be empty")
        st = self._state(parent)
        for sm in st.subs:
            if sm.tags == tags:
                return sm
        sm = SubMetric(f"{parent}{{{suffix}}}", parent, suffix, tags, new_sink(st.metric.type))
        st.subs.append(sm)
        self._subs[sm.name] = sm
        self._feeds.pop(parent, None)  # rebuilt with the new sub-metric on next ingest
        self._run_feeds.pop(parent, None)
        return sm

    def configure_thresholds(self, config: Mapping[str, Any]) -> None:
        """Parse + validate ``options.thresholds`` and attach them (raises ConfigError).

        Accepts the raw JSON shape or an already parsed ``{key: [Threshold]}``. When two
        keys collapse into the same sub-metric, the later key's thresholds replace the
        earlier ones (k6 assigns per key, so only one survives).
        """
        if config and all(isinstance(v, list) and all(isinstance(t, Threshold) for t in v)
                          for v in config.values()):
            parsed: dict[str, list[Threshold]] = dict(config)  # type: ignore[arg-type]
        else:
            parsed = parse_thresholds_config(config)
        validate_thresholds(parsed, self.registry)
        for key, ths in parsed.items():
            name, tag_list = parse_metric_key(key)
            st = self._state(name)
            if tag_list is None:
                st.thresholds = list(ths)
                st.forced_observed = True
            else:
                sm = self.add_submetric(key)
                sm.thresholds = list(ths)
                st.forced_observed = True  # k6 marks the parent observed too

    # ---------------------------------------------------------------------- ingest
    def _build_feed(self, name: str) -> Feed:
        st = self._state(name)
        sink = st.sink
        add = sink.add
        subs = [(sm.tags.items(), sm.sink.add) for sm in st.subs]
        tree: Callable[[float, dict], None] | None = None
        if name == "checks":
            tree = self._tree_check
        elif name == "group_duration":
            tree = self._tree_group

        single = [(next(iter(sm.tags.items())), sm.sink.add) for sm in st.subs if len(sm.tags) == 1]
        if not subs and tree is None:
            feed: Feed = add
        elif tree is None and len(subs) == 1 and single:
            # the common case: one sub-metric filtering on one tag; a plain lookup is
            # several times cheaper than the generic items-view containment test
            (key, want), sub_add = single[0]
            get_key = key

            def feed(v: float, t: int, tags: dict) -> None:
                add(v, t)
                if tags.get(get_key) == want:
                    sub_add(v, t)
        elif tree is None:
            def feed(v: float, t: int, tags: dict) -> None:
                add(v, t)
                items = tags.items()
                for sub_items, sub_add in subs:
                    if sub_items <= items:
                        sub_add(v, t)
        else:
            def feed(v: float, t: int, tags: dict) -> None:
                add(v, t)
                if subs:
                    items = tags.items()
                    for sub_items, sub_add in subs:
                        if sub_items <= items:
                            sub_add(v, t)
                tree(v, tags)  # type: ignore[misc]

        if self.track_groups:
            inner, metric, scope_add = feed, st.metric, self._scope_add

            def feed(v: float, t: int, tags: dict) -> None:
                inner(v, t, tags)
                scope_add(metric, v, t, tags)

        self._feeds[name] = feed
        return feed

    def ingest(self, samples: Iterable[Sample]) -> None:
        """Aggregate a batch of samples. Unknown metric names raise ``MetricError``."""
        feeds = self._feeds
        for name, t, v, tags, _meta in samples:
            feed = feeds.get(name)
            if feed is None:
                feed = self._build_feed(name)
            feed(v, t, tags)

    def _build_run_feed(self, name: str) -> RunFeed:
        """Like ``_build_feed`` for a run: sub-metric filters, the group/check tree and the
        ``full`` mode scopes are resolved once per run, the sinks take all values at once."""
        st = self._state(name)
        add = st.sink.add_many
        subs = [(sm.tags.items(), sm.sink.add_many) for sm in st.subs]
        tree: Callable[[list[float], dict], None] | None = None
        if name == "checks":
            tree = self._tree_checks
        elif name == "group_duration":
            tree = self._tree_groups
        if not subs and tree is None and not self.track_groups:
            feed: RunFeed = add
        else:
            metric, scopes = st.metric, self._scope_add_many if self.track_groups else None

            def feed(values: list[float], t: int, tags: dict) -> None:
                add(values, t)
                if subs:
                    items = tags.items()
                    for sub_items, sub_add in subs:
                        if sub_items <= items:
                            sub_add(values, t)
                if tree is not None:
                    tree(values, tags)
                if scopes is not None:
                    scopes(metric, values, t, tags)

        self._run_feeds[name] = feed
        return feed

    def ingest_runs(self, runs: Iterable[Run]) -> None:
        """Aggregate runs of samples (each run: one metric, one tag set, values in order);
        the same result as ``ingest`` of every sample in order."""
        feeds = self._run_feeds
        for name, tags, values, t in runs:
            feed = feeds.get(name)
            if feed is None:
                feed = self._build_run_feed(name)
            feed(values, t, tags)

    def _tree_checks(self, values: list[float], tags: dict) -> None:
        passes = len(values) - values.count(0)
        fails = len(values) - passes
        if passes:
            self._tree_check(1.0, tags, passes)
        if fails:
            self._tree_check(0.0, tags, fails)

    def _tree_groups(self, values: list[float], tags: dict) -> None:
        self._group_node(tags.get("group", ""))

    def _scope_add_many(self, metric: Metric, values: list[float], t: int, tags: dict) -> None:
        for scope in self._scopes_of(tags):
            scope.add_many(metric, values, t, tags)

    def _scopes_of(self, tags: dict) -> list[Scope]:
        """The ``full`` mode scopes a sample with ``tags`` counts in: its scenario's, its group's."""
        scopes = []
        scenario = tags.get("scenario")
        if scenario == "default":
            scenario = None
        if scenario is not None:
            scopes.append(self._scope_for(scenario, ""))
        group = tags.get("group")
        if group and group not in _UNGROUPED:
            scopes.append(self._scope_for(scenario, group))
        return scopes

    def _group_node(self, path: str) -> GroupNode:
        node = self._group_nodes.get(path)
        if node is not None:
            return node
        node = self.root_group
        body = path[2:] if path.startswith("::") else path
        cur = ""
        for part in body.split("::"):
            cur = f"{cur}::{part}"
            child = node.groups.get(part)
            if child is None:
                child = node.groups[part] = GroupNode(part, cur)
            node = child
        self._group_nodes[path] = node
        return node

    def _tree_check(self, value: float, tags: dict, times: int = 1) -> None:
        check = tags.get("check")
        if check is None:
            return
        group = tags.get("group", "")
        node = self._check_nodes.get((group, check))
        if node is None:
            g = self._group_node(group)
            node = g.checks.get(check)
            if node is None:
                node = g.checks[check] = CheckNode(check, f"{g.path}::{check}")
            self._check_nodes[(group, check)] = node
        total = self.check_totals.get(check)
        if total is None:
            total = self.check_totals[check] = [0, 0]
        if value:
            node.passes += times
            total[0] += times
        else:
            node.fails += times
            total[1] += times

    def _tree_group(self, value: float, tags: dict) -> None:
        self._group_node(tags.get("group", ""))

    def _scope_for(self, scenario: str | None, group: str) -> Scope:
        key = (scenario, group)
        scope = self._scope_cache.get(key)
        if scope is None:
            base = self.default_scope if scenario is None else self.scenario_scopes.setdefault(scenario, Scope())
            scope = base
            if group:
                body = group[2:] if group.startswith("::") else group
                for part in body.split("::"):
                    scope = scope.child(part)
            self._scope_cache[key] = scope
        return scope

    def _scope_add(self, metric: Metric, v: float, t: int, tags: dict) -> None:
        for scope in self._scopes_of(tags):
            scope.add(metric, v, t, tags)

    # --------------------------------------------------------------------- queries
    def metric(self, name: str) -> Metric:
        """Definition of a metric or sub-metric (a sub-metric has its parent's type)."""
        sm = self._subs.get(name)
        m = self.registry.get(sm.parent if sm else name)
        if m is None:
            raise MetricError(f"unknown metric '{name}'")
        return m

    def sink(self, name: str) -> Sink | None:
        """Sink of a metric or sub-metric (``None`` if it never got a sample nor config)."""
        sm = self._subs.get(name)
        if sm is not None:
            return sm.sink
        st = self._states.get(name)
        return st.sink if st else None

    def submetrics(self, parent: str) -> list[SubMetric]:
        st = self._states.get(parent)
        return list(st.subs) if st else []

    def thresholds(self) -> dict[str, list[Threshold]]:
        """Metric / sub-metric name → its thresholds (only those that have some)."""
        out: dict[str, list[Threshold]] = {}
        for st in self._states.values():
            if st.thresholds:
                out[st.metric.name] = st.thresholds
            for sm in st.subs:
                if sm.thresholds:
                    out[sm.name] = sm.thresholds
        return out

    def observed(self) -> list[str]:
        """Names shown in summaries: metrics with samples or thresholds (and parents of
        sub-metrics with thresholds), sub-metrics with samples or thresholds."""
        out: list[str] = []
        for st in self._states.values():
            if st.sink.n or st.forced_observed or st.thresholds:
                out.append(st.metric.name)
            for sm in st.subs:
                if sm.sink.n or sm.thresholds:
                    out.append(sm.name)
        return out

    def checks_sink(self) -> RateSink | None:
        st = self._states.get("checks")
        return st.sink if st and st.sink.n else None  # type: ignore[return-value]

    # ------------------------------------------------------------------ thresholds
    def evaluate_thresholds(self, duration_ms: float, *, periodic: bool = False,
                            time_spent_ms: float | None = None) -> ThresholdsResult:
        """Run every threshold. ``periodic`` skips empty sinks (k6's 2 s evaluation)."""
        crossed: list[str] = []
        aborting: list[str] = []
        abort = False
        for name, ths in self.thresholds().items():
            sink = self.sink(name)
            assert sink is not None
            if periodic and sink.empty:
                continue
            ok, ab = run_thresholds(ths, sink, duration_ms, time_spent_ms)
            if not ok:
                crossed.append(name)
            if ab:
                abort = True
                aborting.append(name)
        key = lambda s: s.encode("utf-8")  # noqa: E731
        return ThresholdsResult(sorted(crossed, key=key), abort, sorted(aborting, key=key))

    # ------------------------------------------------------------- snapshot / merge
    def snapshot(self) -> dict[str, Any]:
        """JSON-able aggregate state (definitions, sinks, sub-metrics, tree, scopes)."""
        return {
            "version": 1,
            "registry": self.registry.snapshot(),
            "metrics": {n: st.sink.snapshot() for n, st in self._states.items() if st.sink.n},
            "submetrics": {sm.name: sm.sink.snapshot() for sm in self._subs.values() if sm.sink.n},
            "groups": self.root_group.snapshot(),
            "check_totals": [[k, p, f] for k, (p, f) in self.check_totals.items()],
            "default_scope": self.default_scope.snapshot() if self.track_groups else None,
            "scenario_scopes": ([[k, s.snapshot()] for k, s in self.scenario_scopes.items()]
                                if self.track_groups else None),
        }

    def merge(self, snap: Mapping[str, Any]) -> None:
        """Add another engine's ``snapshot()`` into this one (counts exact, trends concatenated)."""
        self.registry.merge(snap["registry"])
        for name, ss in snap["metrics"].items():
            st = self._state(name)
            st.sink.merge(sink_from_snapshot(ss))  # type: ignore[arg-type]
        for name, ss in snap["submetrics"].items():
            sm = self._subs.get(name) or self.add_submetric(name)
            sm.sink.merge(sink_from_snapshot(ss))  # type: ignore[arg-type]
        self._merge_group(self.root_group, snap["groups"])
        for k, p, f in snap["check_totals"]:
            pf = self.check_totals.setdefault(k, [0, 0])
            pf[0] += p
            pf[1] += f
        if self.track_groups and snap.get("default_scope") is not None:
            self.default_scope.merge(snap["default_scope"])
            for k, ss in snap["scenario_scopes"]:
                self.scenario_scopes.setdefault(k, Scope()).merge(ss)
            self._scope_cache.clear()

    def _merge_group(self, node: GroupNode, snap: Mapping[str, Any]) -> None:
        for name, p, f in snap["checks"]:
            c = node.checks.get(name)
            if c is None:
                c = node.checks[name] = CheckNode(name, f"{node.path}::{name}")
                self._check_nodes[(node.path, name)] = c
            c.passes += p
            c.fails += f
        for gs in snap["groups"]:
            child = node.groups.get(gs["name"])
            if child is None:
                child = node.groups[gs["name"]] = GroupNode(gs["name"], gs["path"])
                self._group_nodes.setdefault(gs["path"], child)
            self._merge_group(child, gs)
