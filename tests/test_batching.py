"""Simple synchronous iterations run back to back inside JS (VU batches) stay exact."""

from __future__ import annotations

import json

import pytest

from jsrunner import engine as engine_mod

from .helpers import run_script


def _export(tmp_path, source, **cfg):
    path = tmp_path / "export.json"
    res = run_script(tmp_path, source, summary_export=str(path), **cfg)
    assert res.exit_code == 0, res.stderr
    return res, json.loads(path.read_text())["metrics"]


def test_shared_iterations_counts_are_exact(tmp_path):
    _, m = _export(tmp_path, """
        import { Counter } from 'k6/metrics';
        const c = new Counter('cnt');
        const seen = new Counter('iters_seen');
        let last = -1;
        export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 700 } } };
        export default function () {
          c.add(1);
          if (__ITER !== last + 1) seen.add(1, { gap: 'yes' });
          last = __ITER;
        }
    """)
    assert m["cnt"]["count"] == 700
    assert m["iterations"]["count"] == 700
    assert "iters_seen" not in m  # __ITER advanced by exactly one every iteration of a VU


@pytest.fixture(params=["shared memory", "host call"])
def job_check(request, monkeypatch):
    """Between two iterations of a batch JS reads the job queue through the engine's
    ArrayBuffer views, or asks Python ('J') when the job list could not be found."""
    if request.param == "host call":
        monkeypatch.setattr(engine_mod, "_JOB_LIST_OFFSET", [None])
    return request.param


def test_per_vu_iterations_and_microtasks_inside_batches(tmp_path, job_check):
    _, m = _export(tmp_path, """
        import { Counter } from 'k6/metrics';
        const c = new Counter('cnt');
        const bad = new Counter('bad');
        export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 150 } } };
        export default function () {
          const it = __ITER;
          Promise.resolve().then(() => 1).then(() => { if (__ITER !== it) bad.add(1); c.add(1); });
        }
    """)
    assert m["cnt"]["count"] == 450
    assert m["iterations"]["count"] == 450
    assert "bad" not in m  # every microtask chain finished inside its own iteration


def test_errors_inside_a_batch_are_counted_and_logged_once(tmp_path):
    res, m = _export(tmp_path, """
        import { Counter } from 'k6/metrics';
        const c = new Counter('cnt');
        export const options = { iterations: 300 };
        export default function () {
          c.add(1);
          if (__ITER === 137) throw new Error('boom at 137');
          if (__ITER === 200) setTimeout(() => c.add(1000), 1);
        }
    """)
    assert m["iterations"]["count"] == 300
    assert m["cnt"]["count"] == 300 + 1000
    errors = res.messages("error")
    assert len(errors) == 1 and errors[0].startswith("Error: boom at 137")


def test_constant_vus_iterations_match_a_counter(tmp_path):
    _, m = _export(tmp_path, """
        import { Counter } from 'k6/metrics';
        const c = new Counter('cnt');
        export const options = { vus: 2, duration: '1s' };
        export default function () { c.add(1); }
    """)
    assert m["cnt"]["count"] == m["iterations"]["count"] > 100
