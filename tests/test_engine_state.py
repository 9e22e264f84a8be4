"""The engine's shared state words: what JS reads without a host call (engine.py _expose_state)."""

from __future__ import annotations

import pytest

from jsrunner.engine import Engine, JSRuntimeError, _job_list_offset

READ = """
const j = new Uint32Array(globalThis.__jsrunner_jobs);
const f = new Uint32Array(globalThis.__jsrunner_flags);
const r = new Uint32Array(globalThis.__jsrunner_rejection);
globalThis.state = () => ({ jobs: j[2] !== f[2] || j[3] !== f[3], flag: f[0], rejection: r[0] !== 0 || r[1] !== 0 });
null
"""


@pytest.fixture
def engine() -> Engine:
    e = Engine(None)  # type: ignore[arg-type]  # no modules needed
    e.eval(READ)
    return e


def test_job_list_offset_is_found_once_per_process(engine: Engine) -> None:
    first = _job_list_offset(engine)
    assert first is not None and first > 0
    assert _job_list_offset(Engine(None)) == first  # type: ignore[arg-type]


def test_js_sees_queued_jobs_like_quickjs_does(engine: Engine) -> None:
    seen: list[tuple[bool, bool]] = []
    engine.export("see", lambda st: seen.append((st["jobs"], engine.jobs_pending())))
    engine.eval("call_python('see', state()); Promise.resolve().then(() => call_python('see', state()));"
                "call_python('see', state()); null")
    # idle; a job queued; inside the (last) job the queue is empty again
    assert seen == [(False, False), (True, True), (False, False)]


def test_js_sees_the_interrupt_flag(engine: Engine) -> None:
    assert engine.eval("state().flag") == 0
    engine.set_flag(True)
    assert engine.eval("state().flag") == 1
    engine.set_flag(False)
    assert engine.eval("state().flag") == 0


def test_js_sees_an_unhandled_rejection_before_the_eval_returns(engine: Engine) -> None:
    seen: list[bool] = []
    engine.export("see", lambda st: seen.append(st["rejection"]))
    with pytest.raises(JSRuntimeError, match="boom"):
        engine.eval("call_python('see', state()); Promise.reject(new Error('boom'));"
                    "call_python('see', state()); null")
    assert seen == [False, True]
