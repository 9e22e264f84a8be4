"""jslib k6-utils (runtime.md §5.3), served offline for every version, run in a real VU.

The stage helpers read ``k6/execution``; these tests serve a small stand-in for it so
stage timing and scenario options are under the test's control.
"""

from __future__ import annotations

import json
import re

import pytest

from jsrunner.loader import ModuleLoader

from . import first_line, run_script

URL = "https://jslib.k6.io/k6-utils/1.4.0/index.js"

STUB_EXECUTION = """
const tags = {};
export default {
  get scenario() {
    return { name: __ENV.SCENARIO || 'default', startTime: Date.now() - Number(__ENV.ELAPSED || 0) };
  },
  get test() { return { options: JSON.parse(__ENV.OPTIONS || '{"scenarios":{"default":{}}}') }; },
  get vu() { return { tags: tags }; },
};
"""


class StubExecLoader(ModuleLoader):
    def _fetch(self, module_id: str) -> str:
        if module_id == "k6/execution":
            return STUB_EXECUTION
        return super()._fetch(module_id)


HEAD = f"""
import * as utils from '{URL}';
import {{ check, parseDuration, findBetween, normalDistributionStages, randomIntBetween, randomItem,
         randomString, uuidv4, getCurrentStageIndex, tagWithCurrentStageIndex,
         tagWithCurrentStageProfile }} from '{URL}';
import exec from 'k6/execution';
import {{ randomSeed }} from 'k6';
const out = (v) => console.log(JSON.stringify(v));
const err = (f) => {{ try {{ f(); return 'no error'; }} catch (e) {{ return [e.name, e.message]; }} }};
"""


def js(tmp_path, body: str, env: dict[str, str] | None = None, init: str = ""):
    src = HEAD + init + "\nexport default function () {\n" + body + "\n}\n"
    res = run_script(tmp_path, src, env=env, loader_cls=StubExecLoader)
    assert res.init_error is None, res.init_error
    assert res.errors == [None], res.errors
    return res


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0"])
def test_served_offline_for_every_version(tmp_path, version):
    src = (f"import {{ randomString }} from 'https://jslib.k6.io/k6-utils/{version}/index.js';\n"
           "console.log(JSON.stringify(randomString(5).length));\nexport default function () {}\n")
    res = run_script(tmp_path, src, loader_cls=StubExecLoader)
    assert res.init_error is None, res.init_error
    assert res.out == [5]


def test_exports(tmp_path):
    res = js(tmp_path, "out(Object.keys(utils).sort());")
    assert res.out == [sorted([
        "check", "parseDuration", "getCurrentStageIndex", "tagWithCurrentStageIndex",
        "tagWithCurrentStageProfile", "findBetween", "normalDistributionStages", "randomIntBetween",
        "randomItem", "randomString", "uuidv4"])]


PARSE_CASES = [
    ("1h2m3s4ms", 3723004), ("1.5s", 1500), ("1.7ms", 1), ("250", 250), ("10ms5", 15),
    (" 1s", 1000), ("s", 0), ("1d", 86400000), ("2m", 120000), ("1m30s", 90000), ("0.5h", 1800000),
    ("1h30ms", 3600030), ("3s1ms", 3001),
]
PARSE_ERRORS = [
    ("1 s", "  is an unsupported time unit"), ("1S", "S is an unsupported time unit"),
    ("1x", "x is an unsupported time unit"), ("1s2s", "s time unit is provided multiple times"),
    ("1ms2ms", "ms time unit is provided multiple times"), ("", "str is empty"),
]


def test_parse_duration(tmp_path):
    body = "".join(f"out(parseDuration({json.dumps(s)}));\n" for s, _ in PARSE_CASES)
    body += "".join(f"out(err(() => parseDuration({json.dumps(s)})));\n" for s, _ in PARSE_ERRORS)
    body += "out(err(() => parseDuration(null))); out(err(() => parseDuration(undefined))); out(err(() => parseDuration()));"
    out = js(tmp_path, body).out
    n = len(PARSE_CASES)
    assert out[:n] == [v for _, v in PARSE_CASES]
    assert out[n:n + len(PARSE_ERRORS)] == [["Error", msg] for _, msg in PARSE_ERRORS]
    assert out[n + len(PARSE_ERRORS):] == [["Error", "str is empty"]] * 3


def test_find_between(tmp_path):
    out = js(tmp_path, """
      const html = '<a>one</a><b>x</b><a>two</a><a></a>';
      out(findBetween(html, '<a>', '</a>'));
      out(findBetween(html, '<a>', '</a>', true));
      out(findBetween(html, '<c>', '</c>'));
      out(findBetween(html, '<c>', '</c>', true));
      out(findBetween(html, '<b>', '</nope>'));
      out(findBetween('<a></a>', '<a>', '</a>'));
      out(findBetween('k="1" k="2" k="3"', 'k="', '"', true));
      out(findBetween('abc', '', '', true));
      out(findBetween('a1b a2b', 'a', 'b', false));
    """).out
    assert out == ["one", ["one", "two", ""], None, None, None, "", ["1", "2", "3"], [""], "1"]


def test_normal_distribution_stages(tmp_path):
    out = js(tmp_path, """
      out(normalDistributionStages(10, 60, 5));
      const d = normalDistributionStages(100, 600);
      out([d.length, d[0], d[11], d.map((s) => s.target)]);
    """).out
    assert out[0] == [
        {"duration": "10s", "target": 1}, {"duration": "8s", "target": 5}, {"duration": "8s", "target": 10},
        {"duration": "8s", "target": 10}, {"duration": "8s", "target": 5}, {"duration": "8s", "target": 1},
        {"duration": "10s", "target": 0}]
    assert out[1][0] == 12
    assert out[1][1] == {"duration": "100s", "target": 14}
    assert out[1][2] == {"duration": "100s", "target": 0}
    assert max(out[1][3]) == 100 and out[1][3][5] == 100


def test_random_helpers(tmp_path):
    out = js(tmp_path, """
      const ints = []; for (let i = 0; i < 2000; i++) ints.push(randomIntBetween(3, 5));
      out([Math.min(...ints), Math.max(...ints), ints.every(Number.isInteger)]);
      const items = new Set(); for (let i = 0; i < 500; i++) items.add(randomItem(['a', 'b', 'c']));
      out([[...items].sort(), randomItem([])]);
      out([randomString(12).length, /^[a-z]+$/.test(randomString(50)), randomString(0), randomString(8, 'x'),
           /^[01]+$/.test(randomString(30, '01')), randomString(undefined), randomString('3').length]);
      out(err(() => randomString(-1)));
      out(err(() => randomString(2.5)));
      out([uuidv4(), uuidv4(false), uuidv4(true), uuidv4(true)]);
    """).out
    assert out[0] == [3, 5, True]
    assert out[1] == [["a", "b", "c"], None]
    assert out[2] == [12, True, "", "xxxxxxxx", True, "", 3]
    assert out[3][0] == "Error" and "non-negative integer" in out[3][1]
    assert out[4][0] == "Error"
    uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(uuid.match(u) for u in out[5]), out[5]
    assert len(set(out[5])) == 4


def test_random_seed_reproducible(tmp_path):
    out = js(tmp_path, """
      const run = () => [randomIntBetween(1, 1000000), randomString(10), uuidv4(), randomItem([1, 2, 3, 4, 5, 6, 7]), Math.random()];
      randomSeed(42); const a = run();
      randomSeed(42); const b = run();
      randomSeed(43); const c = run();
      out([JSON.stringify(a) === JSON.stringify(b), JSON.stringify(a) === JSON.stringify(c)]);
    """).out
    assert out == [[True, False]]


def _checks(samples):
    return [(s[1], {k: v for k, v in s[2].items() if k in ("check", "kind", "n")}) for s in samples if s[0] == "checks"]


def test_check_sync(tmp_path):
    res = js(tmp_path, """
      out(check(5, { 'is five': (v) => v === 5, 'plain true': true, 'plain zero': 0 }, { kind: 'sync', n: 1 }));
      out(check('x', { ok: (v) => v === 'x' }));
      out(err(() => check(1, { boom: () => { throw new Error('checker failed'); }, later: () => true })));
      out(err(() => check(1, { a: true }, { bad: {} })));
    """)
    assert res.out == [False, True, ["Error", "checker failed"],
                       ["GoError", "cannot add tags for the 'checks' custom metric: invalid value for metric tag 'bad': "
                                   "only String, Boolean and Number types are accepted as a metric tag values"]]
    assert _checks(res.samples) == [
        (1, {"check": "is five", "kind": "sync", "n": "1"}),
        (1, {"check": "plain true", "kind": "sync", "n": "1"}),
        (0, {"check": "plain zero", "kind": "sync", "n": "1"}),
        (1, {"check": "ok"}),
    ]


def test_check_promises(tmp_path):
    res = js(tmp_path, """
      const r = check(1, { now: true, later: Promise.resolve(0), fn: (v) => Promise.resolve(v === 1) }, { kind: 'async' });
      out(r instanceof Promise);
      const r2 = check(Promise.resolve(7), { seven: (v) => v === 7 });
      out(r2 instanceof Promise);
      return Promise.all([r, r2]).then((all) => out(all));
    """)
    assert res.out == [True, True, [False, True]]
    got = _checks(res.samples)
    assert got[0] == (1, {"check": "now", "kind": "async"})
    assert sorted(got[1:3], key=lambda x: x[1]["check"]) == [
        (1, {"check": "fn", "kind": "async"}), (0, {"check": "later", "kind": "async"})]
    assert got[3] == (1, {"check": "seven"})
    assert len(got) == 4


def test_check_in_init_is_refused(tmp_path):
    src = HEAD + "check(1, { a: true });\nexport default function () {}\n"
    res = run_script(tmp_path, src, loader_cls=StubExecLoader)
    assert res.init_error is not None
    assert first_line(res.init_error) == "GoError: Adding to metrics in the init context is not supported"


RAMP = {"scenarios": {"ramp": {"executor": "ramping-vus", "stages": [
    {"duration": "10s", "target": 5}, {"duration": "1m", "target": 5}, {"duration": "500ms", "target": 1}]}}}
STAGES_BODY = """
  out(getCurrentStageIndex());
  tagWithCurrentStageIndex();
  tagWithCurrentStageProfile();
  out([exec.vu.tags.stage, exec.vu.tags.stage_profile]);
"""


@pytest.mark.parametrize("elapsed, index, profile", [
    (0, 0, "ramp-up"),
    (9999, 0, "ramp-up"),
    (10000, 1, "steady"),
    (69999, 1, "steady"),
    (70000, 2, "ramp-down"),
    (10 ** 9, 2, "ramp-down"),  # past the end: the last stage
])
def test_stage_index_and_profile(tmp_path, elapsed, index, profile):
    env = {"SCENARIO": "ramp", "ELAPSED": str(elapsed), "OPTIONS": json.dumps(RAMP)}
    out = js(tmp_path, STAGES_BODY, env=env).out
    assert out == [index, [index, profile]]


def test_stage_profile_ramp_up_after_first(tmp_path):
    opts = {"scenarios": {"s": {"stages": [{"duration": "1s", "target": 1}, {"duration": "1s", "target": 9}]}}}
    out = js(tmp_path, STAGES_BODY, env={"SCENARIO": "s", "ELAPSED": "1500", "OPTIONS": json.dumps(opts)}).out
    assert out == [1, [1, "ramp-up"]]


def test_stage_errors(tmp_path):
    body = "out(err(getCurrentStageIndex)); out(err(tagWithCurrentStageIndex)); out(err(tagWithCurrentStageProfile));"
    no_stages = {"scenarios": {"default": {"executor": "shared-iterations"}}}
    out = js(tmp_path, body, env={"OPTIONS": json.dumps(no_stages)}).out
    msg = ("only ramping-vus or ramping-arravial-rate supports stages, it is not possible to get a stage "
           "index on other executors.")
    assert out == [["Error", msg]] * 3
    empty = {"scenarios": {"default": {"executor": "ramping-vus", "stages": []}}}
    out = js(tmp_path, body, env={"OPTIONS": json.dumps(empty)}).out
    assert out[0] == ["Error", "the current scenario default doesn't contain any stage"]
    missing = {"scenarios": {"other": {}}}
    out = js(tmp_path, body, env={"OPTIONS": json.dumps(missing)}).out
    assert out[0] == ["Error", "the exec.test.options object doesn't contain the current scenario default"]
