"""Batches of samples recorded by a VU's JS, as they cross into Python.

runtime.js (its metrics section) buffers samples in three flat arrays and hands them
over as ``[runs, values, times(, 1)]``:

* ``runs`` pairs a *context* with a count of consecutive samples of it. A context is
  what neighbouring samples share: metric, VU tags, extra tags and metadata. It crosses
  as ``[id, name, tagsRef, extraRef, metaRef, timed]`` the first time, then as its
  number. A tag ref is a number, or ``[number, tags]`` when new (0: no extra tags); the
  metadata ref is 0 (none), 1 (the last one sent) or the object. The run ``(0, 0)``
  drops every tag set and context numbered before it (JS bounds its tables that way).
* ``values`` are the samples' values in order; a fourth element says some are text
  (±Infinity, which JSON cannot carry as numbers).
* ``times`` are the times of the samples of *timed* contexts, in integer microseconds
  of the JS clock: the first absolute, then differences.

:class:`SampleDecoder` (one per VU) keeps the tables and turns a batch into
:class:`SampleRuns`, which the metrics hub feeds to the engine a run at a time.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any, Iterator

__all__ = ["Run", "SampleRuns", "SampleDecoder"]

#: (metric name, tags, metadata or None, values, times): ``times`` are the samples' times
#: in integer microseconds of the JS clock, or None when nothing needs them
Run = tuple[str, dict[str, str], Any, list[float], "list[int] | None"]
#: (metric name, tags, metadata, timed)
Context = tuple[str, dict[str, str], Any, bool]

#: merged (VU tags, extra tags) dicts kept per VU before the cache starts afresh
MERGED_MAX = 8192


class SampleRuns:
    """The samples of one hand-over from a VU's JS, as runs of one context each.

    Sinks that know this type take ``runs`` as they are; iterating yields the classic
    ``[name, value, tags, monoMs, metadata]`` rows for any other ``sample_sink`` (a
    sample without a time gets 0.0).
    """

    __slots__ = ("runs",)

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs

    def __iter__(self) -> Iterator[list[Any]]:
        for name, tags, meta, values, times in self.runs:
            if times is None:
                for v in values:
                    yield [name, v, tags, 0.0, meta]
            else:
                for v, us in zip(values, times):
                    yield [name, v, tags, us / 1000.0, meta]

    def __len__(self) -> int:
        return sum(len(r[3]) for r in self.runs)


class SampleDecoder:
    """A VU's tables of tag sets, extra tags and contexts, and the decoding of batches.

    The merged tags of a (VU tags, extra tags) pair are built once and shared by every
    run using them: consumers never mutate tag dicts.
    """

    def __init__(self) -> None:
        self.tag_sets: dict[int, dict[str, str]] = {0: {}}
        self.extra_sets: dict[int, dict[str, str]] = {}
        self.merged: dict[tuple[int, int], dict[str, str]] = {}
        self.contexts: dict[int, Context] = {}
        self.metadata: dict[str, str] | None = None

    def decode(self, batch: list[Any]) -> SampleRuns:
        pairs, values, times = batch[0], batch[1], batch[2]
        if len(batch) > 3:
            values = [float(v) for v in values]
        if not times and len(pairs) > 4:
            merged = self._merged_runs(pairs, values)
            if merged is not None:
                return merged
        if times:
            times = list(accumulate(times))
        contexts = self.contexts
        out: list[Run] = []
        vi = ti = 0
        for i in range(0, len(pairs), 2):
            ref = pairs[i]
            n = pairs[i + 1]
            if type(ref) is int:
                if ref == 0:
                    self.drop()
                    contexts = self.contexts
                    continue
                ctx = contexts[ref]
            else:
                ctx = contexts[ref[0]] = self._context(ref)
            end = vi + n
            if ctx[3]:
                tend = ti + n
                out.append((ctx[0], ctx[1], ctx[2], values[vi:end], times[ti:tend]))
                ti = tend
            else:
                out.append((ctx[0], ctx[1], ctx[2], values[vi:end], None))
            vi = end
        return SampleRuns(out)

    def _merged_runs(self, pairs: list[Any], values: list[Any]) -> SampleRuns | None:
        """Interleaved metrics (``a, b, a, b``) as one run per metric and context.

        The aggregates see the order *within* a metric (a Trend's running sum, a Gauge's
        last value), which regrouping keeps: a metric's runs stay in order, and a run only
        continues the metric's previous run when that has the same context. Across metrics
        order matters where something is seen the first time (the engine's metrics,
        groups, checks, scopes: all decided by a context's first sample) and to the
        ``--out`` writers. So only batches without times (no writer; no Gauge) whose
        contexts all came in earlier batches (no definition, no drop) are regrouped;
        None for the others.
        """
        contexts = self.contexts
        current: dict[str, list[Any]] = {}  # metric → [context number, values, context]
        grouped: list[list[Any]] = []
        vi = 0
        for i in range(0, len(pairs), 2):
            ref = pairs[i]
            if type(ref) is not int or ref == 0:
                return None
            ctx = contexts[ref]
            n = pairs[i + 1]
            run = current.get(ctx[0])
            if run is not None and run[0] == ref:
                if n == 1:
                    run[1].append(values[vi])
                else:
                    run[1].extend(values[vi:vi + n])
            else:
                run = current[ctx[0]] = [ref, values[vi:vi + n], ctx]
                grouped.append(run)
            vi += n
        return SampleRuns([(ctx[0], ctx[1], ctx[2], vals, None) for _, vals, ctx in grouped])

    def drop(self) -> None:
        """Forget every tag set and context (JS numbers new ones from now on)."""
        self.tag_sets = {0: {}}
        self.extra_sets = {}
        self.merged = {}
        self.contexts = {}

    def _context(self, ref: list[Any]) -> Context:
        _, name, tref, xref, mref, timed = ref
        tag_sets = self.tag_sets
        if type(tref) is not int:
            tag_sets[tref[0]] = tref[1]
            tref = tref[0]
        if xref == 0:
            tags = tag_sets[tref]
        else:
            extras = self.extra_sets
            if type(xref) is not int:
                extras[xref[0]] = xref[1]
                xref = xref[0]
            merged = self.merged
            key = (tref, xref)
            found = merged.get(key)
            if found is None:
                if len(merged) >= MERGED_MAX:
                    merged.clear()
                found = merged[key] = {**tag_sets[tref], **extras[xref]}
            tags = found
        if mref == 0:
            meta = None
        elif mref == 1:
            meta = self.metadata
        else:
            meta = self.metadata = mref
        return name, tags, meta, bool(timed)
