"""Where options come from, end to end through real scripts reading ``exec.test.options``
(runner.md §1): defaults < ``--config`` file < script ``options`` < ``K6_*`` environment <
command line, the shortcut wipe rule and its warnings, and bad input rejected with one
clear error and k6's exit code before any VU starts. Expected values were checked against
k6 v1.1.0 with the same layer combinations.
"""

from __future__ import annotations

import json

import pytest

from .helpers import run_cli, run_script, write_script

READ = """
    import exec from 'k6/execution';
    export const options = %s;
    export default function () {
      if (exec.scenario.iterationInTest !== 0) return;
      const o = exec.test.options;
      console.log(JSON.stringify({ d: o.scenarios.default, tags: o.tags, st: o.setupTimeout, tt: o.teardownTimeout,
                                   vus: o.vus, iterations: o.iterations, duration: o.duration, stages: o.stages,
                                   trend: o.summaryTrendStats, names: Object.keys(o.scenarios) }));
    }
"""


def options_seen(tmp_path, script_options: str = "{}", *, config: dict | None = None,
                 env: dict[str, str] | None = None, **cli) -> tuple[dict, object]:
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        cli["config_file"] = str(path)
    res = run_script(tmp_path, READ % script_options, system_env=dict(env or {}), **cli)
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.console if line.startswith("{")]
    assert len(rows) == 1, res.console
    return rows[0], res


CONFIG = {"vus": 1, "iterations": 8, "tags": {"a": "config", "b": "config"}, "setupTimeout": "3s",
          "teardownTimeout": "4s"}


def test_each_layer_overrides_the_one_below(tmp_path):
    # config file only
    o, _ = options_seen(tmp_path, config=CONFIG)
    assert (o["d"]["executor"], o["d"]["vus"], o["d"]["iterations"]) == ("shared-iterations", 1, 8)
    assert (o["tags"], o["st"], o["tt"]) == ({"a": "config", "b": "config"}, "3s", "4s")
    # + script: its values win, the file's others stay; tags are replaced as a whole
    script = "{ vus: 2, tags: { a: 'script' }, setupTimeout: '2s' }"
    o, _ = options_seen(tmp_path, script, config=CONFIG)
    assert (o["d"]["vus"], o["d"]["iterations"], o["tags"], o["st"], o["tt"]) == (2, 8, {"a": "script"}, "2s", "4s")
    # + K6_* environment
    env = {"K6_VUS": "3", "K6_SETUP_TIMEOUT": "5s", "K6_TAGS": "a:env"}
    o, _ = options_seen(tmp_path, script, config=CONFIG, env=env)
    assert (o["d"]["vus"], o["tags"], o["st"], o["tt"]) == (3, {"a": "env"}, "5s", "4s")
    # + command line
    o, _ = options_seen(tmp_path, script, config=CONFIG, env=env, vus=4, tags={"a": "cli"})
    assert (o["d"]["vus"], o["d"]["iterations"], o["tags"], o["st"]) == (4, 8, {"a": "cli"}, "5s")
    o, _ = options_seen(tmp_path, script, config=CONFIG, env=env, iterations=5)
    assert (o["d"]["vus"], o["d"]["iterations"]) == (3, 5)


def test_shortcuts_are_folded_into_the_default_scenario(tmp_path):
    o, _ = options_seen(tmp_path, "{ vus: 2, iterations: 4 }")
    assert o["d"] == {"executor": "shared-iterations", "startTime": None, "gracefulStop": None, "env": None,
                      "exec": None, "tags": None, "vus": 2, "iterations": 4, "maxDuration": None}
    assert "vus" not in o and "iterations" not in o and "duration" not in o and "stages" not in o
    assert o["trend"] == ["avg", "min", "med", "max", "p(90)", "p(95)"]


def test_a_higher_layer_setting_duration_wipes_iterations_but_keeps_vus(tmp_path):
    # script iterations: 4 + CLI -d 1s -> constant-vus for 1 s with the script's vus (k6)
    o, _ = options_seen(tmp_path, "{ vus: 2, iterations: 4 }", duration="1s")
    assert (o["d"]["executor"], o["d"]["vus"], o["d"]["duration"]) == ("constant-vus", 2, "1s")
    o, _ = options_seen(tmp_path, "{ vus: 2, duration: '1s' }", env={"K6_ITERATIONS": "3"})
    assert (o["d"]["executor"], o["d"]["vus"], o["d"]["iterations"]) == ("shared-iterations", 2, 3)
    o, _ = options_seen(tmp_path, "{ iterations: 4 }", stages=["1s:2", "1s:0"])
    assert o["d"]["executor"] == "ramping-vus"
    assert o["d"]["stages"] == [{"duration": "1s", "target": 2}, {"duration": "1s", "target": 0}]


def test_env_shortcuts(tmp_path):
    o, _ = options_seen(tmp_path, env={"K6_ITERATIONS": "3", "K6_VUS": "2"})
    assert (o["d"]["executor"], o["d"]["vus"], o["d"]["iterations"]) == ("shared-iterations", 2, 3)
    o, _ = options_seen(tmp_path, env={"K6_DURATION": "1100ms"})
    assert (o["d"]["executor"], o["d"]["duration"]) == ("constant-vus", "1.1s")


SCENARIOS = "{ scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } } }"


@pytest.mark.parametrize("layer", ["cli", "env"])
def test_overriding_scenarios_warns(tmp_path, layer):
    kw = {"iterations": 1} if layer == "cli" else {"env": {"K6_ITERATIONS": "1"}}
    o, res = options_seen(tmp_path, SCENARIOS, **kw)
    assert o["names"] == ["default"]
    assert f'"{layer}" level configuration overrode scenarios configuration entirely' in res.messages("warning")


def test_vus_alone_does_not_override_scenarios(tmp_path):
    src = """
        import exec from 'k6/execution';
        export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } } };
        export default function () { console.log(JSON.stringify([Object.keys(exec.test.options.scenarios), __VU])); }
    """
    res = run_script(tmp_path, src, vus=5)
    assert res.exit_code == 0 and res.console == ['[["s"],1]'] and "overrode" not in res.stderr


def test_the_cli_end_to_end(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    path = write_script(tmp_path, READ % "{ vus: 2, tags: { a: 'script' } }")
    res = run_cli("run", "--workers", "1", "-q", "--log-format", "raw", "-c", str(tmp_path / "config.json"),
                  "-u", "4", "--tag", "a=cli", str(path), env={"K6_SETUP_TIMEOUT": "5s", "JSRUNNER_WORKERS": "1"})
    assert res.exit_code == 0, res.stderr
    o = json.loads([line for line in res.stderr.splitlines() if line.startswith("{")][0])
    assert (o["d"]["vus"], o["d"]["iterations"], o["tags"], o["st"], o["tt"]) == (4, 8, {"a": "cli"}, "5s", "4s")


# ---- bad input: one error, k6's exit code, no VU started ---------------------------------------

BAD = [
    ("{ scenarios: { s: { executor: 'nope' } } }", 104,
     "could not initialize '{dir}/script.js': could not load JS test 'file://{dir}/script.js': unknown executor type 'nope'"),
    ("{ scenarios: { s: { vus: 1 } } }", 104,
     "could not initialize '{dir}/script.js': could not load JS test 'file://{dir}/script.js': "
     "scenario 's' doesn't have a specified executor type"),
    ("{ scenarios: { s: { executor: 'constant-vus', vus: -1, duration: '1s' } } }", 104,
     "There were problems with the specified script configuration:\n"
     "\t- scenario s has configuration errors: the number of VUs must be more than 0"),
    ("{ scenarios: { s: { executor: 'constant-arrival-rate', duration: '1s', preAllocatedVUs: 1 } } }", 104,
     "There were problems with the specified script configuration:\n"
     "\t- scenario s has configuration errors: the iteration rate isn't specified"),
    ("{ scenarios: { s: { executor: 'shared-iterations', gracefulStop: '-1s' } } }", 104,
     "There were problems with the specified script configuration:\n"
     "\t- scenario s has configuration errors: the gracefulStop timeout can't be negative"),
    ("{ duration: 'abc' }", 104,
     "could not initialize '{dir}/script.js': could not load JS test 'file://{dir}/script.js': time: invalid duration \"abc\""),
    ("{ scenarios: { s: { executor: 'shared-iterations', foo: 1 } } }", 104,
     "could not initialize '{dir}/script.js': could not load JS test 'file://{dir}/script.js': json: unknown field \"foo\""),
    ("{ scenarios: { s: { executor: 'shared-iterations', exec: 'missing' } } }", 104,
     "There were problems with the specified script configuration:\n\t- executor s: function 'missing' not found in exports"),
    ("{ iterations: 2, stages: [{ duration: '1s', target: 1 }] }", 104,
     "using `iterations` and `stages` options simultaneously is not allowed"),
    ("{ duration: '0s' }", 104,
     "`duration` option should be more than 0, for infinite duration use the externally-controlled executor"),
]


@pytest.mark.parametrize("options,code,message", BAD)
def test_bad_options_are_rejected_before_any_vu_starts(tmp_path, options, code, message):
    res = run_script(tmp_path, f"""
        console.log('init ' + __VU);
        export const options = {options};
        export default function () {{ console.log('iteration'); }}
    """)
    assert res.exit_code == code
    assert res.console == ["init 0"]  # only the options pass ran
    assert res.messages("error") == [message.replace("{dir}", str(tmp_path))]
    assert "TOTAL RESULTS" not in res.stdout


def test_bad_duration_on_the_command_line_exit_255(tmp_path):
    res = run_script(tmp_path, "export default function () {}", duration="abc")
    assert res.exit_code == 255
    assert res.messages("error") == ['invalid argument "abc" for "-d, --duration" flag: time: invalid duration "abc"']


def test_unknown_option_keys_only_warn(tmp_path):
    res = run_script(tmp_path, """
        export const options = { iterations: 1, foo: 1, bar: 2 };
        export default function () { console.log('ran'); }
    """)
    assert res.exit_code == 0 and res.console == ["ran"]
    line = [x for x in res.log_lines if "unknown fields" in x][0]
    assert 'msg="There were unknown fields in the options exported in the script"' in line
    assert 'error="json: unknown field \\"bar\\""' in line


def test_no_exported_function_exit_255_and_missing_default_104(tmp_path):
    res = run_script(tmp_path, "export const options = {};")
    assert res.exit_code == 255 and "no exported functions in script" in res.messages("error")[0]
    res = run_script(tmp_path, "export function setup() {}")
    assert res.exit_code == 104
    assert res.messages("error") == ["There were problems with the specified script configuration:\n"
                                     "\t- executor default: function 'default' not found in exports"]
