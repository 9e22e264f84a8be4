"""Samples recorded from JS (runtime.js's run buffer → ``VU._expand`` → a sink): values,
tags, metadata, order and times arrive exactly, tag tables stay bounded, and only what
needs per-sample times gets them."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from jsrunner.metrics_hub import MetricsHub, SampleRuns
from jsrunner.vu import VU
from tests.bindings import _Iterations, make_context


def _run(tmp_path: Any, source: str, *, sink: Any = None, iterations: int = 1) -> tuple[VU, list[Any]]:
    """One VU running ``source``; the rows its JS recorded (or ``sink`` gets the batches)."""
    path = os.path.join(str(tmp_path), "script.js")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    ctx, result, _ = make_context(path)
    if sink is not None:
        ctx.sample_sink = sink
    vu = VU(1, ctx)
    vu.initialise()
    vu.run_forever(_Iterations(iterations, result))
    assert result.errors == [None] * iterations, result.errors
    return vu, result.samples


def test_values_tags_metadata_and_order(tmp_path):
    _, rows = _run(tmp_path, """
      import { Trend, Counter, Gauge } from 'k6/metrics';
      import exec from 'k6/execution';
      import { group } from 'k6';
      const t = new Trend('my_t'); const c = new Counter('my_c'); const g = new Gauge('my_g');
      export default function () {
        t.add(1, { a: 'x' }); t.add(2, { a: 'x' }); t.add(3, { a: 'y' }); c.add(true, { n: 5, b: false });
        g.add(-1.5); t.add(4, { a: 'x' });
        exec.vu.metrics.metadata['trace'] = 'id1';
        t.add(5);
        exec.vu.metrics.tags['k'] = 'v';
        t.add(6, { a: 'x' });
        delete exec.vu.metrics.metadata['trace'];
        group('g', () => { t.add(7, { k: 'w' }); });
        t.add(8);
        t.add(Infinity); t.add(-Infinity, { a: 'x' }); t.add(9);
      }
    """)
    got = [(r[0], r[1], r[2], r[4]) for r in rows]
    assert got == [
        ("my_t", 1, {"a": "x"}, None), ("my_t", 2, {"a": "x"}, None), ("my_t", 3, {"a": "y"}, None),
        ("my_c", 1, {"n": "5", "b": "false"}, None), ("my_g", -1.5, {}, None), ("my_t", 4, {"a": "x"}, None),
        ("my_t", 5, {}, {"trace": "id1"}), ("my_t", 6, {"k": "v", "a": "x"}, {"trace": "id1"}),
        ("my_t", 7, {"k": "w", "group": "::g"}, None),
        ("group_duration", rows[9][1], {"k": "v", "group": "::g"}, None),
        ("my_t", 8, {"k": "v", "group": ""}, None),
        ("my_t", math.inf, {"k": "v", "group": ""}, None), ("my_t", -math.inf, {"k": "v", "group": "", "a": "x"}, None),
        ("my_t", 9, {"k": "v", "group": ""}, None),
    ]


def test_group_duration_follows_the_samples_of_its_group(tmp_path):
    _, rows = _run(tmp_path, """
      import { Trend } from 'k6/metrics';
      import { group } from 'k6';
      const t = new Trend('my_t');
      export default function () { group('g', () => { t.add(7); }); t.add(8); }
    """)
    assert [(r[0], r[2]) for r in rows] == [("my_t", {"group": "::g"}), ("group_duration", {"group": "::g"}),
                                            ("my_t", {"group": ""})]


def test_sample_times_are_the_js_clock_in_order(tmp_path):
    before = time.monotonic() * 1000
    _, rows = _run(tmp_path, """
      import { Trend } from 'k6/metrics';
      const t = new Trend('my_t');
      export default function () { for (let i = 0; i < 3000; i++) t.add(i); }
    """)
    after = time.monotonic() * 1000
    times = [r[3] for r in rows]
    assert [r[1] for r in rows] == list(range(3000))  # three hand-overs of 1,024 and a rest
    assert times == sorted(times) and before <= times[0] and times[-1] <= after


def test_tag_tables_stay_bounded_with_unique_tag_values(tmp_path):
    vu, rows = _run(tmp_path, """
      import { Counter } from 'k6/metrics';
      import { group } from 'k6';
      const c = new Counter('my_c');
      export default function () {
        for (let i = 0; i < 10000; i++) { c.add(1, { id: 'n' + i }); group('g', () => { c.add(2, { id: 'n' + i }); }); }
      }
    """)
    rows = [r for r in rows if r[0] == "my_c"]
    assert len(rows) == 20000
    for i in range(10000):
        assert rows[2 * i][1:3] == [1, {"id": f"n{i}"} if i == 0 else {"group": "", "id": f"n{i}"}]
        assert rows[2 * i + 1][2] == {"group": "::g", "id": f"n{i}"}
    tables = vu._samples_in
    assert len(tables.tag_sets) < 5000 and len(tables.extra_sets) < 5000 and len(tables.merged) <= 8192
    assert len(tables.contexts) < 5000


def test_reentering_a_group_reuses_its_tag_set(tmp_path):
    vu, rows = _run(tmp_path, """
      import { Counter } from 'k6/metrics';
      import { group } from 'k6';
      const c = new Counter('my_c');
      export default function () { for (let i = 0; i < 500; i++) group('g', () => { c.add(1); }); }
    """, iterations=3)
    assert len(rows) == 3 * 500 * 2  # group_duration too
    assert len(vu._samples_in.tag_sets) <= 4 and len(vu._samples_in.contexts) <= 6


class _Hub(MetricsHub):
    """A hub that keeps the batches it is given."""

    def __init__(self, outputs: bool) -> None:
        super().__init__()
        self.batches: list[Any] = []
        if outputs:
            self.outputs.append(object())

    def sink(self, vu: Any, samples: Any) -> None:
        self.batches.append(samples)


def _runs(hub: _Hub) -> list[Any]:
    return [run for b in hub.batches if isinstance(b, SampleRuns) for run in b.runs]


SCRIPT = """
  import { Trend, Gauge } from 'k6/metrics';
  import { check } from 'k6';
  const t = new Trend('my_t'); const g = new Gauge('my_g');
  export default function () { t.add(1); t.add(2); g.add(3); check(1, { ok: () => true }); }
"""


def test_without_outputs_only_gauges_carry_times(tmp_path):
    hub = _Hub(outputs=False)
    _run(tmp_path, SCRIPT, sink=hub.sink)
    runs = {r[0]: r for r in _runs(hub)}
    assert runs["my_t"][3:] == ([1, 2], None)
    assert runs["checks"][4] is None
    assert runs["my_g"][3] == [3] and len(runs["my_g"][4]) == 1


def test_with_outputs_every_sample_has_its_time(tmp_path):
    hub = _Hub(outputs=True)
    _run(tmp_path, SCRIPT, sink=hub.sink)
    runs = {r[0]: r for r in _runs(hub)}
    assert [len(runs[n][4]) for n in ("my_t", "my_g", "checks")] == [2, 1, 1]


def test_metadata_changing_every_sample_keeps_tables_bounded(tmp_path):
    vu, rows = _run(tmp_path, """
      import { Trend } from 'k6/metrics';
      import exec from 'k6/execution';
      const t = new Trend('my_t');
      export default function () {
        for (let i = 0; i < 9000; i++) { exec.vu.metrics.metadata['trace'] = 'id' + i; t.add(i); t.add(-i, { n: 'x' }); }
      }
    """)
    assert len(rows) == 18000
    for i in range(9000):
        assert rows[2 * i][1:] == [i, {}, rows[2 * i][3], {"trace": f"id{i}"}]
        assert rows[2 * i + 1][1:] == [-i, {"n": "x"}, rows[2 * i + 1][3], {"trace": f"id{i}"}]
    assert len(vu._samples_in.contexts) < 5000


def test_the_last_tags_shortcut_sees_changes_and_still_validates(tmp_path):
    _, rows = _run(tmp_path, """
      import { Counter } from 'k6/metrics';
      const c = new Counter('my_c');
      export default function () {
        const tg = { a: '1' };
        c.add(1, tg); tg.a = '2'; c.add(2, tg); tg.b = 'x'; c.add(3, tg);
        c.add(4, { a: 2, b: 'x' }); c.add(5, { b: 'x', a: '2' }); c.add(6, { a: true });
        let err = null;
        try { c.add(7, { a: { toString() { return 'true'; } } }); } catch (e) { err = String(e); }
        c.add(8, { a: 'true' });
        console.log(JSON.stringify(err));
      }
    """)
    assert [(r[1], r[2]) for r in rows] == [
        (1, {"a": "1"}), (2, {"a": "2"}), (3, {"a": "2", "b": "x"}), (4, {"a": "2", "b": "x"}),
        (5, {"b": "x", "a": "2"}), (6, {"a": "true"}), (8, {"a": "true"})]
    assert list(rows[4][2]) == ["b", "a"]  # key order as given


def test_an_invalid_tag_value_is_an_error_even_after_the_same_tags(tmp_path):
    path = os.path.join(str(tmp_path), "script.js")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("""
          import { Counter } from 'k6/metrics';
          const c = new Counter('my_c');
          export default function () {
            c.add(1, { a: 'true' });
            c.add(2, { a: { toString() { return 'true'; } } });
          }
        """)
    ctx, result, _ = make_context(path)
    vu = VU(1, ctx)
    vu.initialise()
    vu.run_forever(_Iterations(1, result))
    assert result.errors[0].startswith("GoError: cannot add tags for the 'my_c' custom metric: invalid value for "
                                       "metric tag 'a': only String, Boolean and Number types are accepted")
    assert [(r[1], r[2]) for r in result.samples] == [(1, {"a": "true"})]
