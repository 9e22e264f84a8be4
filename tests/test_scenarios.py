"""Scenarios: shortcut derivation, validation messages, exec checks, plan, banner (runner.md §1.1, §2)."""

import pytest

from jsrunner.durations import MILLISECOND, MINUTE, SECOND
from jsrunner.errors import CommandLineError, ConfigError, ExitCode
from jsrunner.options import consolidate
from jsrunner.scenarios import (ConstantVUsConfig, ExternallyControlledConfig,
                                build_scenarios, banner_lines, check_exports, derive_scenarios,
                                parse_scenario, parse_scenarios, ScenarioParseError,
                                sorted_configs, test_max_duration, test_max_vus)
from jsrunner.schedule import tuple_from_options

S = SECOND
PREFIX = "could not initialize '/t/x.js': could not load JS test 'file:///t/x.js': "
TITLE = "There were problems with the specified script configuration:"


def build(script=None, cli=None, env=None, exports=("default",)):
    opts, w1 = consolidate(script=script, cli=cli, env=env, script_file="/t/x.js",
                           script_url="file:///t/x.js")
    cfgs, w2 = build_scenarios(opts, exports, "/t/x.js", "file:///t/x.js")
    return cfgs, [w.message for w in w1 + w2]


def problems(script, exports=("default",)):
    with pytest.raises(ConfigError) as ei:
        build(script, exports=exports)
    assert ei.value.exit_code == ExitCode.INVALID_CONFIG == 104
    return ei.value.message


def scen(**kw):
    return {"scenarios": kw}


# ---------------------------------------------------------------------------------------------
# shortcut → scenario table (§1.1)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("script,cli,line", [
    ({"iterations": 4, "vus": 2}, None,
     "* default: 4 iterations shared among 2 VUs (maxDuration: 10m0s, gracefulStop: 30s)"),
    ({"iterations": 3, "duration": "5s"}, None,
     "* default: 3 iterations shared among 1 VUs (maxDuration: 5s, gracefulStop: 30s)"),
    ({"duration": 1500}, None, "* default: 1 looping VUs for 1.5s (gracefulStop: 30s)"),
    ({}, {"vus": "2", "duration": "1s"}, "* default: 2 looping VUs for 1s (gracefulStop: 30s)"),
    ({"stages": [{"duration": "1s", "target": 2}, {"duration": "1s", "target": 0}], "vus": 3},
     None,
     "* default: Up to 3 looping VUs for 2s over 2 stages (gracefulRampDown: 30s, gracefulStop: 30s)"),
    ({}, {"stages": ["1s:2", "1s:0"]},
     "* default: Up to 2 looping VUs for 2s over 2 stages (gracefulRampDown: 30s, gracefulStop: 30s)"),
    ({}, None, "* default: 1 iterations for each of 1 VUs (maxDuration: 10m0s, gracefulStop: 30s)"),
    # script iterations + CLI -d → constant-vus with the script's vus (observed)
    ({"iterations": 4, "vus": 2}, {"duration": "1s"},
     "* default: 2 looping VUs for 1s (gracefulStop: 30s)"),
])
def test_shortcut_table(script, cli, line):
    cfgs, _ = build(script, cli)
    assert banner_lines(cfgs)[1] == "              " + line


def test_shortcut_executor_types():
    cases = [({"iterations": 1}, "shared-iterations"), ({"duration": "1s"}, "constant-vus"),
             ({"stages": [{"duration": "1s", "target": 1}]}, "ramping-vus"),
             ({}, "per-vu-iterations"), ({"vus": 5}, "per-vu-iterations")]
    for script, ex in cases:
        cfgs, _ = build(script)
        assert [c.executor for c in cfgs] == [ex]
        assert cfgs[0].name == "default"


@pytest.mark.parametrize("script,message", [
    ({"iterations": 2, "stages": [{"duration": "1s", "target": 1}]},
     "using `iterations` and `stages` options simultaneously is not allowed"),
    ({"iterations": 2, "scenarios": {"a": {"executor": "per-vu-iterations"}}},
     "using `iterations` and `scenarios` options simultaneously is not allowed"),
    ({"duration": "1s", "stages": [{"duration": "1s", "target": 1}]},
     "using `duration` and `stages` options simultaneously is not allowed"),
    ({"duration": "1s", "scenarios": {}},
     "using `duration` and `scenarios` options simultaneously is not allowed"),
    ({"stages": [{"duration": "1s", "target": 1}], "scenarios": {"a": {"executor": "per-vu-iterations"}}},
     "using `stages` and `scenarios` options simultaneously is not allowed"),
    ({"duration": 0},
     "`duration` option should be more than 0, for infinite duration use the externally-controlled executor"),
    ({"duration": "-1s"},
     "`duration` option should be more than 0, for infinite duration use the externally-controlled executor"),
])
def test_shortcut_conflicts(script, message):
    with pytest.raises(ConfigError) as ei:
        build(script)
    assert ei.value.message == message
    assert ei.value.exit_code == 104


@pytest.mark.parametrize("script,warnings", [
    ({"vus": 3}, ["`vus=3` option will be ignored, it only works in conjunction with "
                  "`iterations`, `duration`, or `stages`"]),
    ({"vus": 0}, ["`vus=0` option will be ignored, it only works in conjunction with "
                  "`iterations`, `duration`, or `stages`"]),
    ({"vus": 1}, []),
    ({"stages": []}, ["`stages` was explicitly set to an empty value, running the script with "
                      "1 iteration in 1 VU"]),
    ({"scenarios": {}}, ["`scenarios` was explicitly set to an empty value, running the script "
                         "with 1 iteration in 1 VU"]),
    ({"stages": [], "vus": 3},
     ["`vus=3` option will be ignored, it only works in conjunction with `iterations`, "
      "`duration`, or `stages`",
      "`stages` was explicitly set to an empty value, running the script with 1 iteration in 1 VU"]),
])
def test_nothing_warnings(script, warnings):
    cfgs, w = build(script)
    assert w == warnings
    assert cfgs[0].executor == "per-vu-iterations"


# ---------------------------------------------------------------------------------------------
# validation messages (§2), verbatim as observed with k6 1.1.0
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg,errors", [
    ({"executor": "per-vu-iterations", "vus": 0, "iterations": 0, "maxDuration": "500ms"},
     "the number of VUs must be more than 0, the number of iterations must be more than 0, "
     "the maxDuration must be at least 1s, but is 500ms"),
    ({"executor": "shared-iterations", "vus": 0, "iterations": 0, "maxDuration": 0},
     "the number of VUs must be more than 0, the maxDuration must be at least 1s, but is 0s"),
    ({"executor": "shared-iterations", "vus": 3, "iterations": 2, "maxDuration": "500ms"},
     "the number of iterations (2) can't be less than the number of VUs (3), the maxDuration "
     "must be at least 1s, but is 500ms"),
    ({"executor": "constant-vus"}, "the duration is unspecified"),
    ({"executor": "constant-vus", "vus": 0, "duration": "500ms"},
     "the number of VUs must be more than 0, the duration must be at least 1s, but is 500ms"),
    ({"executor": "ramping-vus"}, "at least one stage has to be specified"),
    ({"executor": "ramping-vus", "stages": []}, "at least one stage has to be specified"),
    ({"executor": "ramping-vus", "startVUs": 0, "stages": [{"duration": "1s", "target": 0}]},
     "either startVUs or one of the stages' target values must be greater than 0"),
    ({"executor": "ramping-vus", "startVUs": -1, "stages": [{"duration": "-1s"}, {"target": -1}],
      "gracefulRampDown": "-1s"},
     "the number of start VUs can't be negative, either startVUs or one of the stages' target "
     "values must be greater than 0, the duration for stage 1 can't be negative, stage 1 doesn't "
     "have a target, stage 2 doesn't have a duration, the target for stage 2 can't be negative"),
    ({"executor": "ramping-vus", "startVUs": 100000001,
      "stages": [{"duration": "1s", "target": 100000001}]},
     "the startVUs exceed max limit of 100000000, target for stage 1 exceeds max limit of 100000000"),
    ({"executor": "constant-arrival-rate"},
     "the iteration rate isn't specified, the duration is unspecified, the number of "
     "preAllocatedVUs isn't specified"),
    ({"executor": "constant-arrival-rate", "rate": 0, "timeUnit": 0, "duration": "500ms",
      "preAllocatedVUs": -1, "maxVUs": -2},
     "the iteration rate must be more than 0, the timeUnit must be more than 0, the duration "
     "must be at least 1s, but is 500ms, the number of preAllocatedVUs can't be negative, "
     "maxVUs can't be less than preAllocatedVUs"),
    ({"executor": "constant-arrival-rate", "rate": -1, "timeUnit": "-1s", "duration": "1s",
      "preAllocatedVUs": 2, "maxVUs": 1},
     "the iteration rate must be more than 0, the timeUnit must be more than 0, maxVUs can't be "
     "less than preAllocatedVUs"),
    ({"executor": "ramping-arrival-rate"},
     "at least one stage has to be specified, the number of preAllocatedVUs isn't specified"),
    ({"executor": "ramping-arrival-rate", "startRate": -1, "timeUnit": 0, "stages": [],
      "preAllocatedVUs": -1, "maxVUs": -2},
     "the startRate value can't be negative, the timeUnit must be more than 0, at least one "
     "stage has to be specified, the number of preAllocatedVUs can't be negative, maxVUs can't "
     "be less than preAllocatedVUs"),
    ({"executor": "per-vu-iterations", "startTime": "-1s", "gracefulStop": "-1s"},
     "the startTime can't be negative, the gracefulStop timeout can't be negative"),
    ({"executor": "per-vu-iterations", "exec": ""}, "exec value cannot be empty"),
])
def test_validation_messages(cfg, errors):
    msg = problems(scen(a=cfg))
    assert msg == f"{TITLE}\n\t- scenario a has configuration errors: {errors}"


def test_scenario_name_validation():
    assert problems(scen(**{"": {"executor": "per-vu-iterations"}})) == (
        f"{TITLE}\n\t- scenario  has configuration errors: scenario name can't be empty, the "
        "scenario name should contain only numbers, latin letters, underscores, and dashes")
    assert problems(scen(**{"a b": {"executor": "per-vu-iterations"}})) == (
        f"{TITLE}\n\t- scenario a b has configuration errors: the scenario name should contain "
        "only numbers, latin letters, underscores, and dashes")


def test_all_problems_reported_together():
    # the spec's observed example (scenario order in k6 is random; ours is by name)
    msg = problems(scen(
        s1={"executor": "shared-iterations", "vus": 3, "iterations": 2, "maxDuration": "500ms"},
        s2={"executor": "constant-vus", "vus": 0}))
    assert msg == (
        "There were problems with the specified script configuration:\n"
        "\t- scenario s1 has configuration errors: the number of iterations (2) can't be less "
        "than the number of VUs (3), the maxDuration must be at least 1s, but is 500ms\n"
        "\t- scenario s2 has configuration errors: the number of VUs must be more than 0, the "
        "duration is unspecified")


def test_valid_arrival_rate_without_vus_is_ok():
    cfgs, _ = build(scen(a={"executor": "constant-arrival-rate", "rate": 1, "duration": "1s",
                            "preAllocatedVUs": 0}))
    assert cfgs[0].max_vus() == 0


def test_externally_controlled_rejected():
    msg = problems(scen(ec={"executor": "externally-controlled", "vus": 1, "maxVUs": 2,
                            "duration": "1s"}))
    assert msg.startswith(TITLE + "\n\t- scenario ec has configuration errors: ")
    assert "externally-controlled" in msg
    ec = ExternallyControlledConfig(name="ec", vus=1, max_vus_=2, duration=S)
    assert ec.description() == "Externally controlled execution with 1 VUs, 2 max VUs, 1s duration"


# ---------------------------------------------------------------------------------------------
# executor / parse errors (script load, exit 104 with the "could not initialize" prefix)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg,detail", [
    ({"duration": "1s"}, "scenario 'a' doesn't have a specified executor type"),
    ({"executor": ""}, "scenario 'a' doesn't have a specified executor type"),
    ({"executor": None}, "scenario 'a' doesn't have a specified executor type"),
    ({"executor": "nope"}, "unknown executor type 'nope'"),
    ({"executor": "constant-vus", "duration": "1s", "foo": 1}, 'json: unknown field "foo"'),
    ({"executor": "constant-vus", "duration": "1s", "vus": "x"},
     'strconv.ParseInt: parsing "x": invalid syntax'),
    ({"executor": "constant-vus", "duration": "abc"}, 'time: invalid duration "abc"'),
])
def test_scenario_parse_errors(cfg, detail):
    with pytest.raises(ConfigError) as ei:
        build(scen(a=cfg))
    assert ei.value.message == PREFIX + detail
    assert ei.value.exit_code == 104


def test_parse_scenario_shapes():
    cfg = parse_scenario("a", {"executor": "constant-vus", "duration": "1s", "vus": "2",
                               "Exec": "fn"})  # numeric strings and case-insensitive keys
    assert isinstance(cfg, ConstantVUsConfig) and cfg.vus == 2 and cfg.exec == "fn"
    assert parse_scenarios(None) is None
    with pytest.raises(ScenarioParseError):
        parse_scenarios(5)
    with pytest.raises(ScenarioParseError):
        parse_scenario("a", 5)


# ---------------------------------------------------------------------------------------------
# exec / exports
# ---------------------------------------------------------------------------------------------

def test_missing_exec_functions():
    msg = problems(scen(a={"executor": "per-vu-iterations", "exec": "nope"},
                        b={"executor": "per-vu-iterations", "exec": "nope2"}))
    assert msg == (f"{TITLE}\n\t- executor a: function 'nope' not found in exports\n"
                   "\t- executor b: function 'nope2' not found in exports")
    # config errors come first, then the exec checks
    msg = problems(scen(a={"executor": "per-vu-iterations", "exec": "nope", "vus": 0}))
    assert msg == (f"{TITLE}\n\t- scenario a has configuration errors: the number of VUs must "
                   "be more than 0\n\t- executor a: function 'nope' not found in exports")


def test_missing_default_function():
    # exports only `setup`: the default scenario needs `default` (exit 104)
    assert problems({}, exports=("setup",)) == (
        f"{TITLE}\n\t- executor default: function 'default' not found in exports")
    # -u/-d override scenarios, the script has no default (observed in the wild)
    with pytest.raises(ConfigError) as ei:
        build(scen(a={"executor": "per-vu-iterations", "exec": "fn"}),
              cli={"vus": "10", "duration": "60s"}, exports=("fn",))
    assert ei.value.message.endswith("executor default: function 'default' not found in exports")


def test_no_exported_functions_is_fatal_255():
    with pytest.raises(CommandLineError) as ei:
        build({}, exports=())
    assert ei.value.exit_code == ExitCode.FATAL == 255
    assert ei.value.message == PREFIX + "no exported functions in script"
    with pytest.raises(CommandLineError) as ei:
        check_exports([])
    assert ei.value.message == "no exported functions in script"
    check_exports(["default"])  # fine


def test_exec_none_skips_check():
    opts, _ = consolidate(script=scen(a={"executor": "per-vu-iterations", "exec": "x"}))
    cfgs, _ = build_scenarios(opts, None)
    assert cfgs[0].exec_name == "x"


# ---------------------------------------------------------------------------------------------
# banner (§2), char-for-char
# ---------------------------------------------------------------------------------------------

SPEC_SCENARIOS = scen(
    car={"executor": "constant-arrival-rate", "rate": 20, "duration": "1s", "preAllocatedVUs": 1},
    pvi={"executor": "per-vu-iterations", "vus": 2, "iterations": 2},
    rar={"executor": "ramping-arrival-rate", "stages": [{"duration": "1s", "target": 5}],
         "preAllocatedVUs": 2},
    rv={"executor": "ramping-vus", "stages": [{"duration": "1s", "target": 2},
                                               {"duration": "1s", "target": 0}],
        "gracefulRampDown": "0s"},
    si={"executor": "shared-iterations", "vus": 2, "iterations": 4, "maxDuration": "5s"},
    cv={"executor": "constant-vus", "vus": 2, "duration": "1s", "startTime": "1s",
        "gracefulStop": "0s"},
)


def test_spec_banner_example():
    cfgs, _ = build(SPEC_SCENARIOS)
    assert banner_lines(cfgs) == [
        "     scenarios: (100.00%) 6 scenarios, 11 max VUs, 10m30s max duration (incl. graceful stop):",
        "              * car: 20.00 iterations/s for 1s (maxVUs: 1, gracefulStop: 30s)",
        "              * pvi: 2 iterations for each of 2 VUs (maxDuration: 10m0s, gracefulStop: 30s)",
        "              * rar: Up to 5.00 iterations/s for 1s over 1 stages (maxVUs: 2, gracefulStop: 30s)",
        "              * rv: Up to 2 looping VUs for 2s over 2 stages (gracefulRampDown: 0s, gracefulStop: 30s)",
        "              * si: 4 iterations shared among 2 VUs (maxDuration: 5s, gracefulStop: 30s)",
        "              * cv: 2 looping VUs for 1s (startTime: 1s)",
    ]
    assert test_max_vus(cfgs) == 11
    assert test_max_duration(cfgs) == 10 * MINUTE + 30 * S


def test_banner_more_observed_lines():
    cfgs, _ = build(scen(
        car2={"executor": "constant-arrival-rate", "rate": 3, "timeUnit": "1m", "duration": "1s",
              "preAllocatedVUs": 1, "maxVUs": 3},
        x={"executor": "constant-vus", "vus": 1, "duration": "2s", "startTime": "3500ms",
           "exec": "other"}), exports=("default", "other"))
    assert banner_lines(cfgs)[1:] == [
        "              * car2: 0.05 iterations/s for 1s (maxVUs: 1-3, gracefulStop: 30s)",
        "              * x: 1 looping VUs for 2s (exec: other, startTime: 3.5s, gracefulStop: 30s)",
    ]
    cfgs, _ = build({"duration": "1m", "vus": 50}, cli={"duration": "3m"})
    assert banner_lines(cfgs) == [
        "     scenarios: (100.00%) 1 scenario, 50 max VUs, 3m30s max duration (incl. graceful stop):",
        "              * default: 50 looping VUs for 3m0s (gracefulStop: 30s)"]


def test_banner_overlaps_and_start_times():
    # observed: 8 max VUs, 35s; sorted by (startTime, name)
    cfgs, _ = build(scen(a={"executor": "constant-vus", "vus": 3, "duration": "2s"},
                         b={"executor": "constant-vus", "vus": 5, "duration": "3s", "startTime": "2s"},
                         c={"executor": "per-vu-iterations", "vus": 4, "startTime": "1s",
                            "maxDuration": "1s", "gracefulStop": "0s"}))
    assert banner_lines(cfgs) == [
        "     scenarios: (100.00%) 3 scenarios, 8 max VUs, 35s max duration (incl. graceful stop):",
        "              * a: 3 looping VUs for 2s (gracefulStop: 30s)",
        "              * c: 1 iterations for each of 4 VUs (maxDuration: 1s, startTime: 1s)",
        "              * b: 5 looping VUs for 3s (startTime: 2s, gracefulStop: 30s)"]
    # ramped-down VUs stay reserved for gracefulRampDown (capped by the scenario end)
    cfgs, _ = build(scen(a={"executor": "ramping-vus", "startVUs": 6,
                            "stages": [{"duration": "1s", "target": 0}],
                            "gracefulRampDown": "10s", "gracefulStop": "2s"},
                         b={"executor": "constant-vus", "vus": 5, "duration": "3s", "startTime": "2s"}))
    assert banner_lines(cfgs)[0] == (
        "     scenarios: (100.00%) 2 scenarios, 11 max VUs, 35s max duration (incl. graceful stop):")
    assert cfgs[0].max_vus() == 6 and cfgs[0].max_duration() == 3 * S


def test_banner_with_execution_segments():
    # both verified against k6 1.1.0 with --execution-segment(-sequence)
    cfgs, _ = build(scen(rv={"executor": "ramping-vus", "startVUs": 3,
                             "stages": [{"duration": "10s", "target": 10},
                                        {"duration": "5s", "target": 1}],
                             "gracefulRampDown": "3s", "gracefulStop": "5s"}))
    et = tuple_from_options("1/3:2/3", "0,1/3,2/3,1")
    assert banner_lines(cfgs, et) == [
        "     scenarios: (33.33%) 1 scenario, 3 max VUs, 18s max duration (incl. graceful stop):",
        "              * rv: Up to 3 looping VUs for 15s over 2 stages (gracefulRampDown: 3s, gracefulStop: 5s)"]
    cfgs, _ = build(scen(
        si={"executor": "shared-iterations", "vus": 7, "iterations": 23},
        c={"executor": "constant-arrival-rate", "rate": 7, "timeUnit": "2s", "duration": "3s",
           "preAllocatedVUs": 5, "maxVUs": 11},
        r={"executor": "ramping-arrival-rate", "startRate": 3,
           "stages": [{"duration": "2s", "target": 9}], "preAllocatedVUs": 4, "maxVUs": 4}))
    et = tuple_from_options("2/3:1", "0,1/3,2/3,1")
    assert banner_lines(cfgs, et) == [
        "     scenarios: (33.33%) 3 scenarios, 6 max VUs, 10m30s max duration (incl. graceful stop):",
        "              * c: 0.95 iterations/s for 3s (maxVUs: 1-3, gracefulStop: 30s)",
        "              * r: Up to 3.00 iterations/s for 2s over 1 stages (maxVUs: 1, gracefulStop: 30s)",
        "              * si: 6 iterations shared among 2 VUs (maxDuration: 10m0s, gracefulStop: 30s)"]


def test_per_scenario_max_vus_and_duration():
    cfgs, _ = build({}, cli={"stages": ["1s:2", "1s:0"], "vus": "3"})
    assert banner_lines(cfgs)[0] == (
        "     scenarios: (100.00%) 1 scenario, 3 max VUs, 32s max duration (incl. graceful stop):")
    rv = cfgs[0]
    assert rv.max_vus() == 3 and rv.max_duration() == 32 * S
    cfgs, _ = build(SPEC_SCENARIOS)
    by = {c.name: c for c in cfgs}
    assert by["car"].max_vus() == 1 and by["car"].max_duration() == 31 * S
    assert by["pvi"].max_duration() == 10 * MINUTE + 30 * S
    assert by["rv"].max_duration() == 2 * S      # ramps to 0 with gracefulRampDown 0
    assert by["si"].max_duration() == 35 * S
    assert by["cv"].max_duration() == 1 * S and by["cv"].start_time == S
    assert [c.name for c in sorted_configs(by)] == ["car", "pvi", "rar", "rv", "si", "cv"]


def test_scenario_view_nulls():
    opts, _ = consolidate(script=scen(si={
        "executor": "shared-iterations", "iterations": 1, "vus": 1, "maxDuration": "5s",
        "startTime": "1s", "gracefulStop": "0s", "env": {"A": "1"}, "exec": "default",
        "tags": {"t": "x"}}, rv={"executor": "ramping-vus", "stages": [{"duration": "1s", "target": 1}]}))
    cfgs, _ = derive_scenarios(opts)
    assert cfgs["si"].view() == {
        "executor": "shared-iterations", "startTime": "1s", "gracefulStop": "0s",
        "env": {"A": "1"}, "exec": "default", "tags": {"t": "x"}, "vus": 1, "iterations": 1,
        "maxDuration": "5s"}
    assert cfgs["rv"].view() == {
        "executor": "ramping-vus", "startTime": None, "gracefulStop": None, "env": None,
        "exec": None, "tags": None, "startVUs": None,
        "stages": [{"duration": "1s", "target": 1}], "gracefulRampDown": None}
    assert cfgs["si"].env == {"A": "1"} and cfgs["si"].graceful_stop == 0
    assert cfgs["rv"].graceful_stop == 30 * S and cfgs["rv"].start_vus == 1
    assert cfgs["rv"].graceful_ramp_down == 30 * S
    assert cfgs["si"].max_duration_ == 5 * S
    assert cfgs["si"].start_time == S and cfgs["si"].start_time * 1 == 1000 * MILLISECOND
