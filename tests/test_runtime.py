"""Script lifecycle, globals, event loop ordering and error handling, through real scripts."""

from __future__ import annotations

import json

from .helpers import run_cli, run_script, write_script


def test_lifecycle_order_and_init_count(tmp_path):
    res = run_script(tmp_path, """
        console.log('init', __VU, typeof __ITER);
        export function setup() { console.log('setup', __VU); return { n: 1 }; }
        export default function (data) { console.log('iter', __VU, __ITER, data.n); }
        export function teardown(data) { console.log('teardown', __VU, data.n); }
    """, vus=2, iterations=2)
    assert res.exit_code == 0, res.stderr
    lines = res.console
    # options pass, VU 1, VU 2, setup runtime, ..., teardown runtime, summary runtime
    assert lines[:4] == ["init 0 undefined", "init 1 undefined", "init 2 undefined", "init 0 undefined"]
    assert lines[4] == "setup 0"
    iters = sorted(line for line in lines if line.startswith("iter"))
    assert len(iters) == 2 and all(line.endswith(" 1") for line in iters)
    assert lines[-3:] == ["init 0 undefined", "teardown 0 1", "init 0 undefined"]


def test_no_summary_skips_the_summary_runtime(tmp_path):
    res = run_script(tmp_path, """
        console.log('init');
        export default function () {}
    """, no_summary=True)
    assert res.console == ["init", "init"]


def test_timers_and_microtasks_order(tmp_path):
    res = run_script(tmp_path, """
        export default function () {
          const out = [];
          setTimeout(() => { out.push('A'); console.log(out.join(' ')); }, 10);
          setTimeout(() => out.push('B'), 0);
          setTimeout(() => out.push('C'), 0);
          Promise.resolve().then(() => out.push('M'));
          out.push('sync');
        }
    """)
    assert res.exit_code == 0, res.stderr
    assert res.console == ["sync M B C A"]


def test_microtask_chains_finish_before_the_next_callback(tmp_path):
    res = run_script(tmp_path, """
        export default function () {
          const out = [];
          async function deep(tag) { for (let i = 0; i < 25; i++) await null; out.push(tag + ':deep'); }
          setTimeout(() => {
            out.push('t1');
            Promise.resolve().then(() => 1).then(() => 2).then(() => 3).then(() => out.push('t1:chain'));
            deep('t1');
          }, 0);
          setTimeout(() => { out.push('t2'); }, 0);
          setTimeout(() => console.log(out.join(',')), 5);
        }
    """)
    assert res.console == ["t1,t1:chain,t1:deep,t2"]


def test_async_default_with_awaits_and_timers(tmp_path):
    res = run_script(tmp_path, """
        const wait = (ms) => new Promise((r) => setTimeout(r, ms));
        export default async function () {
          const t0 = Date.now();
          await wait(30);
          await null;
          await wait(20);
          console.log('elapsed', Date.now() - t0 >= 45);
        }
    """)
    assert res.console == ["elapsed true"]


def test_iteration_waits_for_pending_timers(tmp_path):
    res = run_script(tmp_path, """
        let ran = 0;
        export default function () {
          setTimeout(() => { ran++; console.log('fired', __ITER); }, 50);
        }
    """, iterations=2)
    assert res.console == ["fired 0", "fired 1"]


def test_timer_ids_per_vu_never_reset_and_shared_by_both_kinds(tmp_path):
    res = run_script(tmp_path, """
        const first = setTimeout(() => {}, 0);
        try { setTimeout(undefined); } catch (e) { console.log(e.name, e.message); }
        try { setTimeout(5); } catch (e) { console.log(e.name); }
        export default function () {
          const a = setTimeout(() => {}, 0);
          const b = setInterval(function () { clearInterval(b); }, 1);
          console.log(__ITER, first, a, b);
        }
    """, iterations=2)
    assert res.console[:2] == ["GoError setTimeout's callback isn't a callable function", "TypeError"]
    # VU 1: init consumed 1 and 2 (the throwing call consumes an id, the TypeError one does not)
    assert "0 1 3 4" in res.console and "1 1 5 6" in res.console


def test_all_three_timer_import_paths_give_the_global_functions(tmp_path):
    res = run_script(tmp_path, """
        import { setTimeout as a } from 'k6/timers';
        import { setTimeout as b, clearInterval as ci } from 'k6/experimental/timers';
        import timers from 'k6/timers';
        export default function () {
          console.log(a === setTimeout, b === setTimeout, ci === clearInterval,
                      Object.keys(timers).join(','));
        }
    """)
    assert res.exit_code == 0, res.stderr
    assert res.console == ["true true true setTimeout,clearTimeout,setInterval,clearInterval"]


def test_exception_ends_iteration_logs_stack_and_run_continues(tmp_path):
    res = run_script(tmp_path, """
        function inner() { throw new Error('custom boom'); }
        export default function () {
          console.log('iter', __ITER);
          if (__ITER === 0) {
            setTimeout(() => console.log('never'), 1000);
            setInterval(() => console.log('never'), 1000);
            inner();
          }
        }
    """, iterations=3)
    assert res.exit_code == 0
    assert res.console == ["iter 0", "iter 1", "iter 2"]
    errors = [line for line in res.log_lines if "level=error" in line]
    assert len(errors) == 1
    assert 'msg="Error: custom boom\\n\\tat inner (file://' in errors[0]
    assert "script.js:2:" in errors[0] and "\\tat default (file://" in errors[0]
    assert "source=stacktrace" in errors[0] and "scenario=default" in errors[0]
    warnings = res.messages("warning")
    assert warnings[:2] == ["setTimeout 1 was stopped because the VU iteration was interrupted",
                            "setInterval 2 was stopped because the VU iteration was interrupted"]
    # warnings come before the error line
    idx_warn = next(i for i, l in enumerate(res.log_lines) if "level=warning" in l)
    idx_err = next(i for i, l in enumerate(res.log_lines) if "level=error" in l)
    assert idx_warn < idx_err


def test_throw_in_timer_callback_ends_iteration(tmp_path):
    res = run_script(tmp_path, """
        export default function () {
          setTimeout(() => { throw new Error('timer boom ' + __ITER); }, 5);
          setTimeout(() => console.log('after', __ITER), 50);
        }
    """, iterations=2)
    assert res.console == []
    errors = res.messages("error")
    assert [e.split("\n")[0] for e in errors] == ["Error: timer boom 0", "Error: timer boom 1"]


def test_unhandled_rejection_ends_iteration_promptly(tmp_path):
    res = run_script(tmp_path, """
        export default function () {
          Promise.reject(new Error('unhandled rejection'));
          setTimeout(() => console.log('not reached', __ITER), 200);
        }
    """, iterations=2)
    assert res.console == []
    lines = [l for l in res.log_lines if "level=error" in l]
    assert len(lines) == 2
    assert 'msg="Uncaught (in promise) Error: unhandled rejection\\n\\tat default (file://' in lines[0]
    assert "source=" not in lines[0]


def test_async_default_error_is_uncaught_in_promise(tmp_path):
    res = run_script(tmp_path, """
        export default async function () {
          await null;
          throw 'a plain string';
        }
    """)
    assert res.exit_code == 0
    assert res.messages("error") == ["Uncaught (in promise) a plain string"]


def test_handled_rejection_later_in_same_tick_is_not_reported(tmp_path):
    res = run_script(tmp_path, """
        export default async function () {
          const p = Promise.reject(new Error('late'));
          await null;
          p.catch(() => console.log('caught'));
        }
    """)
    assert res.messages("error") == []
    assert res.console == ["caught"]


def test_env_and_vu_globals(tmp_path):
    res = run_script(tmp_path, """
        export default function () { console.log(__ENV.MY_VAR, __VU, typeof __ENV.PATH); }
    """, env={"MY_VAR": "hello"})
    assert res.console == ["hello 1 undefined"]


def test_console_formatting(tmp_path):
    res = run_script(tmp_path, """
        export default function () {
          console.log('a', 1, true, null, undefined, {a: 1, b: [1, 2]}, [undefined], {u: undefined});
          console.log(new Error('x'), function f() {}, new Map(), new Date(0), new Uint8Array([1, 2]));
          console.log('%s is %d', 'x', 5);
          console.warn('w'); console.error('e'); console.debug('hidden'); console.info('i');
          console.log();
        }
    """)
    assert res.console[:3] == [
        'a 1 true null undefined {"a":1,"b":[1,2]} [null] {}',
        '{} null {} "1970-01-01T00:00:00.000Z" {"0":1,"1":2}',
        "%s is %d x 5",
    ]
    assert any("level=warning msg=w source=console" in l for l in res.log_lines)
    assert any("level=error msg=e source=console" in l for l in res.log_lines)
    assert not any("hidden" in l for l in res.log_lines)
    assert res.log_lines[-1].endswith("level=info source=console")


def test_console_debug_shown_with_verbose(tmp_path):
    res = run_script(tmp_path, "export default function () { console.debug('dbg'); }", verbose=True)
    assert any("level=debug msg=dbg source=console" in l for l in res.log_lines)


def test_setup_data_is_a_json_copy_per_vu(tmp_path):
    res = run_script(tmp_path, """
        export function setup() { return { list: [1, undefined], d: new Date(0), m: new Map([['k', 1]]) }; }
        export default function (data) {
          data.count = (data.count || 0) + 1;
          console.log(__VU, data.count, JSON.stringify(data.list), data.d, JSON.stringify(data.m));
        }
        export function teardown(data) { console.log('teardown', data.count === undefined); }
    """, vus=1, iterations=2)
    assert res.console[0] == '1 1 [1,null] 1970-01-01T00:00:00.000Z [["k",1]]'
    assert res.console[1].startswith("1 2 ")
    assert res.console[-1] == "teardown true"


def test_setup_data_with_function_aborts_with_255(tmp_path):
    res = run_script(tmp_path, """
        export function setup() { return { f: () => 1 }; }
        export default function () { console.log('never'); }
    """)
    assert res.exit_code == 255
    assert any("error marshaling setup() data to JSON: json: unsupported type" in m for m in res.messages("error"))
    assert res.console == []


def test_open_reads_relative_to_the_module_and_only_in_init(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.txt").write_text("from sub")
    (tmp_path / "data.txt").write_text("from main")
    (tmp_path / "sub" / "lib.js").write_text("export const text = open('./data.txt');\n")
    res = run_script(tmp_path, """
        import { text } from './sub/lib.js';
        const main = open('data.txt');
        const bin = open('./data.txt', 'b');
        export default function () {
          console.log(text, main, bin.byteLength);
          try { open('data.txt'); } catch (e) { console.log(e.message.slice(0, 49)); }
        }
    """)
    assert res.console == ["from sub from main 9", 'the "open" function is only available in the init'] 


def test_open_missing_file_is_a_script_error(tmp_path):
    res = run_script(tmp_path, "const x = open('./nope.txt');\nexport default function () {}\n")
    assert res.exit_code == 107
    msg = res.messages("error")[0]
    assert f"stat {tmp_path}/nope.txt: no such file or directory" in msg


def test_unknown_module_exit_107(tmp_path):
    res = run_script(tmp_path, "import x from 'k6/nope';\nexport default function () {}\n")
    assert res.exit_code == 107
    assert res.messages("error") == ["GoError: unknown module: k6/nope\n"]
    assert 'hint="script exception"' in res.log_lines[0]


def test_missing_local_module_and_bad_schemes(tmp_path):
    res = run_script(tmp_path, "import x from './missing.js';\nexport default function () {}\n")
    assert res.exit_code == 107
    assert 'The moduleSpecifier "./missing.js" couldn\'t be found on local disk.' in res.messages("error")[0]
    res = run_script(tmp_path, "import x from 'http://example.com/x.js';\nexport default function () {}\n")
    assert "only supported schemes for imports are file and https, http://example.com/x.js has `http`" in res.messages("error")[0]
    res = run_script(tmp_path, "import x from 'lodash';\nexport default function () {}\n")
    assert 'The moduleSpecifier "lodash" couldn\'t be recognised as something k6 supports.' in res.messages("error")[0]


def test_syntax_error_exit_107(tmp_path):
    res = run_script(tmp_path, "export default function () {\n  let x = ;\n}\n")
    assert res.exit_code == 107
    msg = res.messages("error")[0]
    assert "SyntaxError" in msg and "script.js:2" in msg


def test_exception_in_init_exit_107_and_nothing_else_runs(tmp_path):
    res = run_script(tmp_path, """
        export default function () { console.log('never'); }
        throw new Error('init boom');
    """)
    assert res.exit_code == 107
    assert res.messages("error")[0].startswith("Error: init boom\n\tat ")
    assert res.console == [] and res.stdout.strip() == ""


def test_exception_in_setup_exit_107_no_iterations(tmp_path):
    res = run_script(tmp_path, """
        export function setup() { throw new Error('setup boom'); }
        export default function () { console.log('never'); }
        export function teardown() { console.log('never'); }
    """)
    assert res.exit_code == 107
    assert res.messages("error")[0].startswith("Error: setup boom\n\tat setup (file://")
    assert res.console == []


def test_no_exported_functions_exit_255(tmp_path):
    res = run_script(tmp_path, "export const options = {};\n")
    assert res.exit_code == 255
    assert "no exported functions in script" in res.messages("error")[0]


def test_k6_check_group_fail_sleep(tmp_path):
    res = run_script(tmp_path, """
        import { check, group, fail, sleep } from 'k6';
        import exec from 'k6/execution';
        export default function () {
          const r = group('outer', () => group('inner', () => check(5, { 'is five': (v) => v === 5, 'big': (v) => v > 10 })));
          console.log(r);
          const t0 = Date.now(); sleep(0.05); sleep(-1); sleep('x');
          console.log(Date.now() - t0 >= 45);
          try { check(1, { 'a::b': true }); } catch (e) { console.log(e.message); }
          try { group('g'); } catch (e) { console.log(e.message); }
          fail('failed on purpose');
        }
    """)
    assert res.console == ["false", "true", "group and check names may not contain '::'",
                           "group() requires a callback as a second argument"]
    assert res.messages("error")[0].startswith("GoError: failed on purpose\n")


def test_check_in_init_throws(tmp_path):
    res = run_script(tmp_path, """
        import { check } from 'k6';
        check(1, { a: true });
        export default function () {}
    """)
    assert res.exit_code == 107
    assert "Using check() in the init context is not supported" in res.messages("error")[0]


def test_random_seed_is_reproducible(tmp_path):
    res = run_script(tmp_path, """
        import { randomSeed } from 'k6';
        export default function () {
          randomSeed(42); const a = [Math.random(), Math.random()];
          randomSeed(42); const b = [Math.random(), Math.random()];
          console.log(a[0] === b[0] && a[1] === b[1], a[0] !== a[1], a[0] >= 0 && a[0] < 1);
        }
    """)
    assert res.console == ["true true true"]


def test_top_level_await_and_local_imports(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "m.js").write_text("export const v = 41;\nexport default function f() { return v + 1; }\n")
    res = run_script(tmp_path, """
        import f, { v } from './lib/m.js';
        const waited = await new Promise((r) => setTimeout(() => r('tla'), 10));
        export default function () { console.log(v, f(), waited); }
    """)
    assert res.exit_code == 0, res.stderr
    assert res.console == ["41 42 tla"]


def test_cli_version_and_unknown_flag():
    res = run_cli("version")
    assert res.exit_code == 0 and res.stdout.startswith("jsrunner v")
    res = run_cli("run", "--nope", "x.js")
    assert res.exit_code == 255
    assert "unknown flag: --nope" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_missing_script_exit_255(tmp_path):
    res = run_cli("run", str(tmp_path / "nope.js"))
    assert res.exit_code == 255
    assert "couldn't be found on local disk" in res.stderr


def test_callbacks_that_never_finish_are_stopped_at_duration_plus_graceful_stop(tmp_path):
    import time
    t0 = time.monotonic()
    res = run_script(tmp_path, """
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '500ms' } } };
        export default function () { setInterval(() => {}, 10); }
    """)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0
    assert 1.4 < elapsed < 4.0
    assert "No script iterations fully finished, consider making the test duration longer" in res.messages("warning")
    assert "setInterval 1 was stopped because the VU iteration was interrupted" in res.messages("warning")
