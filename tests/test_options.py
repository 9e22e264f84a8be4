"""Option layers, precedence, wipe rule, warnings, parse errors and exec.test.options (runner.md §1)."""

import json

import pytest

from jsrunner.durations import MILLISECOND, MINUTE, SECOND
from jsrunner.errors import CommandLineError, ConfigError
from jsrunner.options import (DEFAULT_SUMMARY_TREND_STATS, DEFAULT_SYSTEM_TAGS, Options,
                              OptionWarning, ThresholdSpec, apply_layer, consolidate,
                              load_config_file, parse_env_options, test_options_view,
                              validate_trend_stats)
from jsrunner.scenarios import Stage, build_scenarios, derive_scenarios

S = SECOND
PREFIX = "could not initialize '/t/x.js': could not load JS test 'file:///t/x.js': "


def cons(**kw):
    kw.setdefault("script_file", "/t/x.js")
    kw.setdefault("script_url", "file:///t/x.js")
    return consolidate(**kw)


def default_scenario(opts):
    cfgs, _ = derive_scenarios(opts)
    return cfgs["default"]


# ---------------------------------------------------------------------------------------------
# precedence
# ---------------------------------------------------------------------------------------------

def test_precedence_of_every_layer():
    file = {"vus": 1, "iterations": 10, "setupTimeout": "1s", "tags": {"l": "file"}, "rps": 1}
    script = {"vus": 2, "iterations": 20, "setupTimeout": "2s", "tags": {"l": "script"}}
    env = {"K6_VUS": "3", "K6_ITERATIONS": "30", "K6_SETUP_TIMEOUT": "3s", "K6_TAGS": "l:env",
           "HOME": "/root", "K6_UNRELATED": "x"}
    cli = {"vus": "4", "iterations": "40", "tags": {"l": "cli"}}

    o, _ = cons(config_file=file)
    assert (o.vus, o.iterations, o.setup_timeout, o.tags, o.rps) == (1, 10, 1 * S, {"l": "file"}, 1)
    o, _ = cons(config_file=file, script=script)
    assert (o.vus, o.iterations, o.setup_timeout, o.tags, o.rps) == (2, 20, 2 * S, {"l": "script"}, 1)
    o, _ = cons(config_file=file, script=script, env=env)
    assert (o.vus, o.iterations, o.setup_timeout, o.tags) == (3, 30, 3 * S, {"l": "env"})
    o, w = cons(config_file=file, script=script, env=env, cli=cli)
    assert (o.vus, o.iterations, o.setup_timeout, o.tags, o.rps) == (4, 40, 3 * S, {"l": "cli"}, 1)
    assert w == []
    view = test_options_view(o)
    assert view["scenarios"]["default"]["vus"] == 4
    assert view["scenarios"]["default"]["iterations"] == 40
    assert view["setupTimeout"] == "3s" and view["tags"] == {"l": "cli"}


def test_defaults():
    o, w = cons()
    assert w == []
    assert o.effective_setup_timeout == 60 * S and o.effective_teardown_timeout == 60 * S
    assert o.setup_timeout is None
    assert o.summary_trend_stats == DEFAULT_SUMMARY_TREND_STATS
    assert o.system_tags == DEFAULT_SYSTEM_TAGS
    assert o.effective_summary_mode == "compact"
    assert not o.no_summary and not o.no_thresholds


def test_empty_tags_do_not_override():
    o, _ = cons(script={"tags": {"a": "b"}}, cli={"tags": {}})
    assert o.tags == {"a": "b"}


# ---------------------------------------------------------------------------------------------
# wipe rule + warnings
# ---------------------------------------------------------------------------------------------

def test_cli_duration_wipes_script_iterations_keeps_vus():
    o, w = cons(script={"iterations": 4, "vus": 2}, cli={"duration": "1s"})
    assert w == []
    assert (o.iterations, o.duration, o.vus) == (None, S, 2)
    d = default_scenario(o)
    assert d.executor == "constant-vus" and d.vus == 2 and d.duration == S


@pytest.mark.parametrize("layer,kw", [
    ("cli", {"cli": {"duration": "1s"}}),
    ("cli", {"cli": {"iterations": "3"}}),
    ("cli", {"cli": {"stages": ["1s:1"]}}),
    ("env", {"env": {"K6_DURATION": "2s"}}),
    ("env", {"env": {"K6_STAGES": ""}}),
])
def test_override_warning(layer, kw):
    o, w = cons(script={"scenarios": {"a": {"executor": "per-vu-iterations"}}}, **kw)
    assert w == [OptionWarning(f'"{layer}" level configuration overrode scenarios configuration '
                               "entirely", {})]
    assert o.scenarios is None


def test_script_level_override_warning_and_chain():
    file = {"scenarios": {"x": {"executor": "constant-vus", "duration": "1s"}}}
    o, w = cons(config_file=file, script={"duration": "1s", "vus": 2})
    assert [x.message for x in w] == [
        '"script" level configuration overrode scenarios configuration entirely']
    # env iterations then wipes the script duration: shared-iterations, maxDuration 10m
    o, w = cons(config_file=file, script={"duration": "1s", "vus": 2}, env={"K6_ITERATIONS": "3"})
    assert len(w) == 1
    d = default_scenario(o)
    assert (d.executor, d.iterations, d.vus, d.max_duration_) == ("shared-iterations", 3, 2, 10 * MINUTE)


_SHORT = {
    "duration": ({"duration": "7s"}, {"duration": "2s"}),
    "iterations": ({"iterations": 7}, {"iterations": "20"}),
    "stages": ({"stages": [{"duration": "7s", "target": 7}]}, {"stages": ["2s:2"]}),
    "scenarios": ({"scenarios": {"s": {"executor": "per-vu-iterations"}}}, None),
}


@pytest.mark.parametrize("low", list(_SHORT))
@pytest.mark.parametrize("high", ["duration", "iterations", "stages"])
@pytest.mark.parametrize("via", ["cli", "env"])
def test_wipe_rule_matrix(low, high, via):
    script = dict(_SHORT[low][0], vus=5)
    if via == "cli":
        o, w = cons(script=script, cli=_SHORT[high][1])
    else:
        env = {"duration": {"K6_DURATION": "2s"}, "iterations": {"K6_ITERATIONS": "20"},
               "stages": {"K6_STAGES": "2s:2"}}[high]
        o, w = cons(script=script, env=env)
    attrs = {"duration": o.duration, "iterations": o.iterations, "stages": o.stages,
             "scenarios": o.scenarios}
    for key, val in attrs.items():
        if key == high:
            assert val is not None
        else:
            assert val is None, key  # everything from the lower layer is gone ...
    assert o.vus == 5                  # ... except vus
    expected = [f'"{via}" level configuration overrode scenarios configuration entirely']
    assert [x.message for x in w] == (expected if low == "scenarios" else [])
    cfgs, _ = build_scenarios(o, ["default"])
    assert [c.name for c in cfgs] == ["default"]


def test_vus_alone_does_not_override_scenarios():
    o, w = cons(script={"scenarios": {"a": {"executor": "per-vu-iterations", "vus": 3}}},
                cli={"vus": "5"})
    assert w == []
    cfgs, _ = derive_scenarios(o)
    assert list(cfgs) == ["a"] and cfgs["a"].vus == 3


def test_same_layer_conflict_kept_for_validation():
    o, _ = cons(script={"iterations": 2, "stages": [{"duration": "1s", "target": 1}]})
    assert o.iterations == 2 and o.stages == [Stage(S, 1)]


def test_apply_layer_drops_stages_without_duration():
    o = apply_layer(Options(), {"stages": [Stage(None, 3), Stage(S, 2)]})
    assert o.stages == [Stage(S, 2)]


def test_env_iterations_and_vus():
    o, _ = cons(env={"K6_ITERATIONS": "3", "K6_VUS": "2"})
    d = default_scenario(o)
    assert (d.executor, d.iterations, d.vus) == ("shared-iterations", 3, 2)


# ---------------------------------------------------------------------------------------------
# K6_* values and stages syntax
# ---------------------------------------------------------------------------------------------

def test_env_stages_syntax():
    o, _ = cons(env={"K6_STAGES": "10s:5,20s:0"})
    assert o.stages == [Stage(10 * S, 5), Stage(20 * S, 0)]
    o, _ = cons(env={"K6_STAGES": "1s:1,500ms:0,1500:3"})
    assert o.stages == [Stage(S, 1), Stage(500 * MILLISECOND, 0), Stage(1500 * MILLISECOND, 3)]
    o, w = cons(env={"K6_STAGES": ""})
    assert o.stages == []


def test_env_value_forms():
    layer = parse_env_options({"K6_DURATION": "1500", "K6_VUS": "", "K6_ITERATIONS": "null",
                               "K6_THROW": "true", "K6_NO_SETUP": "false",
                               "K6_SUMMARY_TREND_STATS": "avg,p(99)", "K6_TAGS": "a:b,c:d",
                               "K6_DNS": "ttl=1m,select=random", "K6_NO_SUMMARY": "1",
                               "K6_SUMMARY_MODE": "full", "K6_CONSOLE_OUTPUT": "x.txt"})
    assert layer == {"duration": 1500 * MILLISECOND, "throw": True, "no_setup": False,
                     "summary_trend_stats": ["avg", "p(99)"], "tags": {"a": "b", "c": "d"},
                     "dns": {"ttl": "1m", "select": "random", "policy": None},
                     "no_summary": True, "summary_mode": "full", "console_output": "x.txt"}


@pytest.mark.parametrize("env,message", [
    ({"K6_DURATION": "abc"}, "envconfig.Process: assigning K6_DURATION to Duration: converting "
     "'abc' to type types.NullDuration. details: time: invalid duration \"abc\""),
    ({"K6_VUS": "abc"}, "envconfig.Process: assigning K6_VUS to VUs: converting 'abc' to type "
     "null.Int. details: strconv.ParseInt: parsing \"abc\": invalid syntax"),
    ({"K6_VUS": "1.5"}, "envconfig.Process: assigning K6_VUS to VUs: converting '1.5' to type "
     "null.Int. details: strconv.ParseInt: parsing \"1.5\": invalid syntax"),
    ({"K6_ITERATIONS": "x"}, "envconfig.Process: assigning K6_ITERATIONS to Iterations: "
     "converting 'x' to type null.Int. details: strconv.ParseInt: parsing \"x\": invalid syntax"),
    ({"K6_STAGES": "abc"}, "envconfig.Process: assigning K6_STAGES to Stages: converting 'abc' to "
     "type []lib.Stage. details: time: invalid duration \"abc\""),
    ({"K6_STAGES": "1s:2,1s:x"}, "envconfig.Process: assigning K6_STAGES to Stages: converting "
     "'1s:2,1s:x' to type []lib.Stage. details: strconv.ParseInt: parsing \"x\": invalid syntax"),
    ({"K6_SETUP_TIMEOUT": "x"}, "envconfig.Process: assigning K6_SETUP_TIMEOUT to SetupTimeout: "
     "converting 'x' to type types.NullDuration. details: time: invalid duration \"x\""),
    ({"K6_THROW": "yes"}, "envconfig.Process: assigning K6_THROW to Throw: converting 'yes' to "
     "type null.Bool. details: invalid input:yes"),
    ({"K6_TAGS": "a"}, "envconfig.Process: assigning K6_TAGS to RunTags: converting 'a' to type "
     "map[string]string. details: invalid map item: \"a\""),
    ({"K6_MAX_REDIRECTS": "x"}, "envconfig.Process: assigning K6_MAX_REDIRECTS to MaxRedirects: "
     "converting 'x' to type null.Int. details: strconv.ParseInt: parsing \"x\": invalid syntax"),
])
def test_env_errors_exit_104(env, message):
    with pytest.raises(ConfigError) as ei:
        cons(env=env)
    assert ei.value.message == message
    assert ei.value.exit_code == 104


@pytest.mark.parametrize("env,message", [
    ({"K6_NO_SUMMARY": "yes"}, "env var 'K6_NO_SUMMARY' is not a valid boolean value: "
     "strconv.ParseBool: parsing \"yes\": invalid syntax"),
    ({"K6_SUMMARY_MODE": "bogus"}, "invalid summary mode"),
    ({"K6_SUMMARY_TREND_STATS": "avg,foo"}, "invalid trend stat 'foo', unknown format"),
])
def test_env_runtime_errors_exit_255(env, message):
    with pytest.raises(CommandLineError) as ei:
        cons(env=env)
    assert ei.value.message == message and ei.value.exit_code == 255


# ---------------------------------------------------------------------------------------------
# CLI values
# ---------------------------------------------------------------------------------------------

def test_cli_stages_and_values():
    o, _ = cons(cli={"stages": ["1s:2", "1s:0"], "vus": "3", "throw": True, "httpDebug": "headers",
                     "summaryTrendStats": "avg,p(99.9),count", "systemTags": "url,vu",
                     "tags": ["a=b", "c=d"], "minIterationDuration": "2s", "noThresholds": True})
    assert o.stages == [Stage(S, 2), Stage(S, 0)] and o.vus == 3 and o.throw is True
    assert o.summary_trend_stats == ["avg", "p(99.9)", "count"] and o.system_tags == ["url", "vu"]
    assert o.tags == {"a": "b", "c": "d"} and o.min_iteration_duration == 2 * S
    assert o.no_thresholds is True and o.http_debug == "headers"
    o, _ = cons(cli={"stages": ["1s:2,2s:4"]})  # -s is a string slice: commas split too
    assert o.stages == [Stage(S, 2), Stage(2 * S, 4)]
    o, _ = cons(cli={"duration": 5 * S})       # ints are nanoseconds
    assert o.duration == 5 * S


def test_cli_stage_without_target_fails_validation():
    o, _ = cons(cli={"stages": ["1s"]})
    with pytest.raises(ConfigError) as ei:
        build_scenarios(o, ["default"])
    assert ei.value.message == ("There were problems with the specified script configuration:\n"
                                "\t- scenario default has configuration errors: stage 1 doesn't "
                                "have a target")


@pytest.mark.parametrize("cli,message", [
    ({"duration": "abc"},
     'invalid argument "abc" for "-d, --duration" flag: time: invalid duration "abc"'),
    ({"duration": "1500"},
     'invalid argument "1500" for "-d, --duration" flag: time: missing unit in duration "1500"'),
    ({"duration": "1d"},
     'invalid argument "1d" for "-d, --duration" flag: time: unknown unit "d" in duration "1d"'),
    ({"vus": "abc"},
     'invalid argument "abc" for "-u, --vus" flag: strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"iterations": "abc"}, 'invalid argument "abc" for "-i, --iterations" flag: '
     'strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"stages": ["abc"]}, 'error for stage 0: time: invalid duration "abc"'),
    ({"stages": ["1s:x"]}, 'error for stage 0: strconv.ParseInt: parsing "x": invalid syntax'),
    ({"stages": ["1s:2", "2s:x"]}, 'error for stage 1: strconv.ParseInt: parsing "x": invalid syntax'),
    ({"summaryTimeUnit": "h"}, "invalid summary time unit 'h', use 's', 'ms' or 'us'"),
    ({"summaryMode": "bogus"}, "invalid summary mode"),
    ({"summaryTrendStats": "avg,foo"}, "invalid trend stat 'foo', unknown format"),
    ({"summaryTrendStats": ["p(101)"]},
     "invalid percentile trend stat value 'p(101)', provide a number between 0 and 100"),
    ({"summaryTrendStats": ["p(abc)"]},
     "invalid percentile trend stat value 'p(abc)', provide a number between 0 and 100"),
    ({"maxRedirects": "x"}, 'invalid argument "x" for "--max-redirects" flag: '
     'strconv.ParseInt: parsing "x": invalid syntax'),
])
def test_cli_errors_exit_255(cli, message):
    with pytest.raises(CommandLineError) as ei:
        cons(cli=cli)
    assert ei.value.message == message
    assert ei.value.exit_code == 255


def test_trend_stats_validation():
    validate_trend_stats(["avg", "min", "med", "max", "count", "p(0)", "p(100)", "p(99.9)"])
    with pytest.raises(CommandLineError, match="invalid trend stat 'p99', unknown format"):
        validate_trend_stats(["p99"])
    # script level bad stats are fatal too (observed exit 255)
    with pytest.raises(CommandLineError) as ei:
        cons(script={"summaryTrendStats": ["avg", "foo"]})
    assert ei.value.exit_code == 255


# ---------------------------------------------------------------------------------------------
# script layer
# ---------------------------------------------------------------------------------------------

def test_unknown_fields_warning():
    o, w = cons(script={"foo": 1, "bar": 2, "vus": 3})
    # the first unknown key in Go's (sorted) order
    assert w == [OptionWarning("There were unknown fields in the options exported in the script",
                               {"error": 'json: unknown field "bar"'})]
    assert o.vus == 3


def test_runtime_only_keys_are_unknown_in_the_script():
    # k6 1.1.0 warns about these in `options` and ignores them (observed)
    o, w = cons(script={"noSummary": True, "noThresholds": True, "summaryMode": "full",
                        "consoleOutput": "x", "localIPs": "127.0.0.1"})
    assert [x.fields for x in w] == [{"error": 'json: unknown field "consoleOutput"'}]
    assert o.no_summary is None and o.console_output is None and o.summary_mode is None
    o, w = cons(cli={"noSummary": True, "summaryMode": "full", "consoleOutput": "x",
                     "localIPs": "127.0.0.1", "noThresholds": True})
    assert (o.no_summary, o.summary_mode, o.console_output, o.local_ips, o.no_thresholds) == (
        True, "full", "x", "127.0.0.1", True)


def test_keys_match_case_insensitively_like_go():
    o, w = cons(script={"VUS": 2, "Iterations": 3})
    assert w == [] and o.vus == 2 and o.iterations == 3


def test_known_keys_accepted_and_kept():
    script = {
        "setupTimeout": "10s", "teardownTimeout": 2000, "noSetup": True, "noTeardown": False,
        "minIterationDuration": 1500, "throw": True, "userAgent": "ua", "discardResponseBodies": True,
        "maxRedirects": 3, "noConnectionReuse": True, "noVUConnectionReuse": True, "batch": 4,
        "batchPerHost": 2, "hosts": {"a.com": "1.2.3.4"}, "dns": {"ttl": "5m"}, "rps": 9,
        "ext": {"loadimpact": {"name": "x"}}, "cloud": {"name": "y"}, "noCookiesReset": True,
        "tlsAuth": [{"domains": ["x"], "cert": "c", "key": "k"}], "tlsVersion": "tls1.2",
        "tlsCipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "httpDebug": "full",
        "blacklistIPs": ["10.0.0.0/8"], "blockHostnames": ["*.x.com"], "insecureSkipTLSVerify": True,
        "executionSegment": "0:1/2", "executionSegmentSequence": "0,1/2,1", "paused": False,
        "summaryTimeUnit": "ms", "systemTags": ["url"], "tags": {"a": "b"},
        "metricSamplesBufferSize": 5,
        "thresholds": {"checks": [{"threshold": "rate>0.5", "abortOnFail": True,
                                   "delayAbortEval": "10s"}, "rate>0"]},
    }
    o, w = cons(script=script)
    assert w == []
    assert o.setup_timeout == 10 * S and o.teardown_timeout == 2 * S and o.no_setup is True
    assert o.min_iteration_duration == 1500 * MILLISECOND and o.throw and o.user_agent == "ua"
    assert o.hosts == {"a.com": "1.2.3.4"} and o.dns == {"ttl": "5m", "select": None, "policy": None}
    assert o.tls_version == {"min": "tls1.2", "max": "tls1.2"}
    assert o.thresholds == {"checks": [ThresholdSpec("rate>0.5", True, 10 * S), ThresholdSpec("rate>0")]}
    assert o.execution_segment == "0:1/2" and o.cloud == {"name": "y"}


@pytest.mark.parametrize("script,detail", [
    ({"duration": "abc"}, 'time: invalid duration "abc"'),
    ({"duration": True}, "'true' is not a valid duration value"),
    ({"setupTimeout": True}, "'true' is not a valid duration value"),
    ({"vus": "x"}, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ({"vus": True}, "json: cannot unmarshal bool into Go value of type null.Int"),
    ({"vus": 1.5}, 'parsing options from script got error while parsing "\\"vus\\"": json: cannot '
     "unmarshal number 1.5 into Go struct field Options.vus of type int64"),
    ({"noSetup": "true"}, "json: cannot unmarshal string into Go value of type null.Bool"),
    ({"tags": "x"}, 'parsing options from script got error while parsing "\\"tags\\"": json: '
     "cannot unmarshal string into Go struct field Options.tags of type map[string]string"),
    ({"thresholds": {"a": "x"}}, 'parsing options from script got error while parsing '
     '"\\"thresholds\\"": json: cannot unmarshal string into Go struct field Options.thresholds '
     "of type []metrics.thresholdConfig"),
    ({"thresholds": {"a": [{"threshold": "rate>0", "abortOnFail": "x"}]}},
     'parsing options from script got error while parsing "\\"thresholds\\"": json: cannot '
     "unmarshal string into Go struct field Options.thresholds.abortOnFail of type bool"),
    ({"stages": [{"duration": "1s", "target": "x"}]}, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ({"summaryTrendStats": "avg"}, 'parsing options from script got error while parsing '
     '"\\"summaryTrendStats\\"": json: cannot unmarshal string into Go struct field '
     "Options.summaryTrendStats of type []string"),
    ({"dns": {"ttl": 5000}}, "json: cannot unmarshal float64 into Go value of type null.String"),
    ({"executionSegment": "x"},
     "'x' is not a valid percentage, decimal, fraction or interval value"),
])
def test_script_parse_errors(script, detail):
    with pytest.raises(ConfigError) as ei:
        cons(script=script)
    assert ei.value.message == PREFIX + detail
    assert ei.value.exit_code == 104


def test_script_null_values_are_unset():
    o, w = cons(script={"vus": None, "duration": None, "scenarios": None, "stages": None})
    assert w == [] and o.vus is None and o.scenarios is None and o.stages is None
    o, _ = cons(script={"iterations": "3", "vus": "2"})  # null.Int accepts numeric strings
    assert (o.iterations, o.vus) == (3, 2)


# ---------------------------------------------------------------------------------------------
# config file
# ---------------------------------------------------------------------------------------------

def test_config_file_loading(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"vus": 2, "iterations": 3, "foo": 1, "out": ["json"]}))
    o, w = cons(config_file=load_config_file(str(good)))
    assert w == [] and (o.vus, o.iterations) == (2, 3)
    with pytest.raises(ConfigError) as ei:
        load_config_file(str(tmp_path / "nonexist.json"))
    assert ei.value.message == ("failed to load the configuration file from the local file "
                                f"system: stat {tmp_path / 'nonexist.json'}: no such file or directory")
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    with pytest.raises(ConfigError) as ei:
        load_config_file(str(bad))
    assert ei.value.message.startswith(
        "failed to load the configuration file from the local file system: couldn't parse the "
        f'configuration from "{bad}": ')
    with pytest.raises(ConfigError) as ei:
        cons(config_file={"duration": "abc"}, config_path="baddur.json")
    assert ei.value.message == ("failed to load the configuration file from the local file "
                                "system: couldn't parse the configuration from \"baddur.json\": "
                                "time: invalid duration \"abc\"")
    assert ei.value.exit_code == 104


# ---------------------------------------------------------------------------------------------
# exec.test.options
# ---------------------------------------------------------------------------------------------

K6_VIEW_SHARED = json.loads("""{"paused":null,"scenarios":{"default":{"executor":"shared-iterations",
"startTime":null,"gracefulStop":null,"env":null,"exec":null,"tags":null,"vus":2,"iterations":4,
"maxDuration":null}},"executionSegment":null,"executionSegmentSequence":null,"noSetup":null,
"setupTimeout":null,"noTeardown":null,"teardownTimeout":null,"rps":null,"dns":{"ttl":null,
"select":null,"policy":null},"maxRedirects":null,"userAgent":null,"batch":null,"batchPerHost":null,
"httpDebug":null,"insecureSkipTLSVerify":null,"tlsCipherSuites":null,"tlsVersion":null,
"tlsAuth":null,"throw":null,"thresholds":null,"blacklistIPs":null,"blockHostnames":null,
"hosts":null,"noConnectionReuse":null,"noVUConnectionReuse":null,"minIterationDuration":null,
"ext":null,"summaryTrendStats":["avg","min","med","max","p(90)","p(95)"],"summaryTimeUnit":null,
"systemTags":["check","error","error_code","expected_response","group","method","name","proto",
"scenario","service","status","subproto","tls_version","url"],"tags":null,
"metricSamplesBufferSize":null,"noCookiesReset":null,"discardResponseBodies":null,
"consoleOutput":null,"localIPs":null}""")


def test_view_matches_k6_shape_and_order():
    o, _ = cons(script={"iterations": 4, "vus": 2})
    view = test_options_view(o)
    assert view == K6_VIEW_SHARED
    assert list(view) == list(K6_VIEW_SHARED)  # key order too
    for k in ("vus", "duration", "iterations", "stages"):
        assert k not in view


# observed with k6 1.1.0 (exec.test.options in setup), keys compared in order
K6_VIEW_COMPLEX = json.loads("""{"paused":null,"scenarios":{"car":{"executor":"constant-arrival-rate",
"startTime":null,"gracefulStop":null,"env":null,"exec":null,"tags":null,"rate":1,"timeUnit":null,
"duration":"1s","preAllocatedVUs":1,"maxVUs":null},"cv":{"executor":"constant-vus","startTime":null,
"gracefulStop":null,"env":null,"exec":null,"tags":null,"vus":null,"duration":"1s"},
"pvi":{"executor":"per-vu-iterations","startTime":null,"gracefulStop":null,"env":null,"exec":null,
"tags":null,"vus":null,"iterations":null,"maxDuration":null},"rar":{"executor":"ramping-arrival-rate",
"startTime":null,"gracefulStop":null,"env":null,"exec":null,"tags":null,"startRate":null,
"timeUnit":null,"stages":[{"duration":"1s","target":1}],"preAllocatedVUs":1,"maxVUs":null},
"rv":{"executor":"ramping-vus","startTime":null,"gracefulStop":null,"env":null,"exec":null,
"tags":null,"startVUs":null,"stages":[{"duration":"1s","target":1}],"gracefulRampDown":null},
"si":{"executor":"shared-iterations","startTime":"1s","gracefulStop":"0s","env":{"A":"1"},
"exec":"default","tags":{"t":"x"},"vus":1,"iterations":1,"maxDuration":"5s"}},
"executionSegment":null,"executionSegmentSequence":null,"noSetup":false,"setupTimeout":"10s",
"noTeardown":null,"teardownTimeout":"2s","rps":5,"dns":{"ttl":"5m","select":null,"policy":null},
"maxRedirects":null,"userAgent":"x","batch":3,"batchPerHost":null,"httpDebug":null,
"insecureSkipTLSVerify":null,"tlsCipherSuites":null,"tlsVersion":{"min":"tls1.2","max":"tls1.2"},
"tlsAuth":null,"throw":true,"thresholds":{"iterations":["count>0"]},"blacklistIPs":null,
"blockHostnames":["*.x.com"],"hosts":{"a.com":"1.2.3.4"},"noConnectionReuse":null,
"noVUConnectionReuse":null,"minIterationDuration":"1m30s","ext":{"a":1},
"summaryTrendStats":["avg","p(99)"],"summaryTimeUnit":"ms","systemTags":["check","url"],
"tags":{"a":"b"},"metricSamplesBufferSize":null,"noCookiesReset":null,
"discardResponseBodies":null,"consoleOutput":null,"localIPs":null}""")


def test_view_complex_options_like_k6():
    script = {
        "setupTimeout": "10s", "teardownTimeout": 2000, "tags": {"a": "b"},
        "thresholds": {"iterations": ["count>0"]}, "systemTags": ["url", "check"],
        "summaryTrendStats": ["avg", "p(99)"], "minIterationDuration": "1m30s",
        "hosts": {"a.com": "1.2.3.4"}, "dns": {"ttl": "5m"}, "noSetup": False, "rps": 5,
        "userAgent": "x", "ext": {"a": 1}, "tlsVersion": "tls1.2", "blockHostnames": ["*.x.com"],
        "summaryTimeUnit": "ms", "throw": True, "batch": 3,
        "scenarios": {
            "si": {"executor": "shared-iterations", "iterations": 1, "vus": 1, "maxDuration": "5s",
                   "startTime": "1s", "gracefulStop": "0s", "env": {"A": "1"}, "exec": "default",
                   "tags": {"t": "x"}},
            "pvi": {"executor": "per-vu-iterations"},
            "cv": {"executor": "constant-vus", "duration": "1s"},
            "rv": {"executor": "ramping-vus", "stages": [{"duration": "1s", "target": 1}]},
            "car": {"executor": "constant-arrival-rate", "rate": 1, "duration": "1s",
                    "preAllocatedVUs": 1},
            "rar": {"executor": "ramping-arrival-rate", "stages": [{"duration": "1s", "target": 1}],
                    "preAllocatedVUs": 1},
        },
    }
    o, w = cons(script=script)
    assert w == []
    cfgs, _ = build_scenarios(o, ["default"])
    view = test_options_view(o, cfgs)
    assert view == K6_VIEW_COMPLEX
    assert list(view) == list(K6_VIEW_COMPLEX)
    assert list(view["scenarios"]) == sorted(view["scenarios"])
    assert json.loads(json.dumps(view)) == view  # JSON-serialisable


def test_view_thresholds_and_cloud():
    o, _ = cons(script={"thresholds": {"checks": [
        {"threshold": "rate>0.5", "abortOnFail": False, "delayAbortEval": "10s"},
        {"threshold": "rate>0", "abortOnFail": True},
        {"threshold": "rate>1", "abortOnFail": True, "delayAbortEval": 1000}]},
        "cloud": {"name": "y"}, "ext": {"b": 2}})
    view = test_options_view(o)
    assert view["thresholds"] == {"checks": [
        "rate>0.5", {"threshold": "rate>0", "abortOnFail": True, "delayAbortEval": None},
        {"threshold": "rate>1", "abortOnFail": True, "delayAbortEval": "1s"}]}
    keys = list(view)
    assert keys.index("cloud") == keys.index("minIterationDuration") + 1
    assert keys.index("ext") == keys.index("cloud") + 1
    o, _ = cons()
    assert "cloud" not in test_options_view(o)


def test_view_shortcut_scenarios():
    o, _ = cons(cli={"stages": ["1s:2", "1s:0"], "vus": "3"})
    assert test_options_view(o)["scenarios"] == {"default": {
        "executor": "ramping-vus", "startTime": None, "gracefulStop": None, "env": None,
        "exec": None, "tags": None, "startVUs": 3,
        "stages": [{"duration": "1s", "target": 2}, {"duration": "1s", "target": 0}],
        "gracefulRampDown": None}}
    o, _ = cons(script={"iterations": 4}, cli={"duration": "1s"})
    assert test_options_view(o)["scenarios"]["default"] == {
        "executor": "constant-vus", "startTime": None, "gracefulStop": None, "env": None,
        "exec": None, "tags": None, "vus": None, "duration": "1s"}
    o, _ = cons(script={"vus": 3})
    assert test_options_view(o)["scenarios"]["default"]["vus"] is None
