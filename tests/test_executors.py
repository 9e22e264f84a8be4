"""The six executors through real scripts (runner.md §2): iteration counts, VUs over time,
arrival-rate timing, dropped iterations, several scenarios, gracefulStop/maxDuration and
the k6/execution values seen inside them.

Counts come back through ``--summary-export`` (a Counter per scenario, read as threshold
sub-metrics) or console lines; the ``running (...)`` line of the final progress block (printed
after the summary, also when stdout is not a terminal) gives complete/interrupted counts.
Timing checks leave room for a loaded CI machine.
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from .helpers import Outcome, run_script

_RUNNING = re.compile(r"running \((?P<t>[^)]*)\), (?P<a>\d+)/(?P<i>\d+) VUs, (?P<c>\d+) complete and "
                      r"(?P<x>\d+) interrupted iterations")


def export(tmp_path, src: str, **cfg) -> tuple[Outcome, dict]:
    path = tmp_path / "summary.json"
    res = run_script(tmp_path, src, summary_export=str(path), **cfg)
    data = json.loads(path.read_text()) if path.exists() else {}
    return res, data.get("metrics", {})


def count(metrics: dict, name: str) -> int:
    m = metrics.get(name)
    return int(m["count"]) if m else 0


def final_counts(res: Outcome) -> tuple[int, int]:
    """(complete, interrupted) of the last progress block."""
    found = list(_RUNNING.finditer(res.stdout))
    assert found, res.stdout
    last = found[-1]
    return int(last["c"]), int(last["x"])


def json_lines(res: Outcome) -> list:
    return [json.loads(line) for line in res.console if line.startswith(("{", "["))]


# ---- iteration-based executors ----------------------------------------------------------------

def test_shared_iterations_split_a_pool_among_the_vus(tmp_path):
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        import { Counter } from 'k6/metrics';
        const c = new Counter('work');
        export const options = { scenarios: { si: { executor: 'shared-iterations', vus: 3, iterations: 10 } } };
        export default function () {
          c.add(1);
          console.log(JSON.stringify([__VU, exec.scenario.iterationInInstance, exec.scenario.iterationInTest,
                                      exec.vu.iterationInScenario, exec.scenario.executor]));
        }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "work") == 10 and count(m, "iterations") == 10
    rows = json_lines(res)
    assert sorted(r[1] for r in rows) == list(range(10))          # unique across VUs
    assert all(r[1] == r[2] for r in rows)
    assert {r[0] for r in rows} <= {1, 2, 3}
    assert all(r[4] == "shared-iterations" for r in rows)
    for vu in {r[0] for r in rows}:  # per VU, its own iteration counter in the scenario
        mine = [r[3] for r in rows if r[0] == vu]
        assert mine == list(range(len(mine)))


def test_per_vu_iterations_each_vu_runs_its_own_count(tmp_path):
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 3, iterations: 2 } } };
        export default function () { console.log(JSON.stringify([__VU, exec.vu.iterationInScenario, __ITER])); }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "iterations") == 6
    rows = json_lines(res)
    for vu in (1, 2, 3):
        assert sorted(r[1] for r in rows if r[0] == vu) == [0, 1]
        assert sorted(r[2] for r in rows if r[0] == vu) == [0, 1]


def test_max_duration_cuts_an_iteration_executor(tmp_path):
    t0 = time.monotonic()
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: 100,
                                                    maxDuration: '1s', gracefulStop: '0s' } } };
        export default function () { sleep(0.3); }
    """, quiet=False)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.stderr
    complete, interrupted = final_counts(res)
    assert 2 <= complete <= 4 and interrupted == 1
    assert elapsed < 4
    assert re.search(r"\ns\s+✗ \[", res.stdout)  # not all iterations done: interrupted marker


# ---- time-based executors ---------------------------------------------------------------------

def test_constant_vus_loop_for_the_duration(tmp_path):
    t0 = time.monotonic()
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { vus: 2, duration: '1s' };
        export default function () { console.log(JSON.stringify([exec.instance.vusActive, exec.scenario.executor])); sleep(0.1); }
    """)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.stderr
    n = count(m, "iterations")
    assert 8 <= n <= 22, n
    rows = json_lines(res)
    assert all(r == [2, "constant-vus"] for r in rows)
    assert elapsed < 5


def test_ramping_vus_follows_the_stages(tmp_path):
    # k6's steps: VU k starts at 250 ms * (k-1) + 250 ms, the ramp-down stops one every 250 ms
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { scenarios: { rv: { executor: 'ramping-vus', startVUs: 0, gracefulRampDown: '0s',
          stages: [{ duration: '1s', target: 4 }, { duration: '1s', target: 0 }] } } };
        export default function () {
          console.log(JSON.stringify([__VU, __ITER, Date.now() - exec.scenario.startTime, exec.instance.vusActive]));
          sleep(0.05);
        }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    rows = json_lines(res)
    first = sorted(t for vu, it, t, _ in rows if it == 0)
    assert len(first) == 4
    for k, t in enumerate(first):  # 250, 500, 750, 1000 ms (late by a loaded machine at most)
        assert 250 * (k + 1) - 60 <= t <= 250 * (k + 1) + 300, first
    assert max(a for *_, a in rows) == 4

    def planned(t: float) -> int:
        return min(4, max(0, int(t // 250))) if t < 1000 else max(0, 4 - int((t - 1000) // 250))

    # at any time no more VUs run than the schedule allows (a log line may come late)
    for _, _, t, active in rows:
        assert active <= max(planned(t), planned(t - 300)) + 1, (t, active)
    assert all(t < 2400 for _, _, t, _ in rows)
    complete, interrupted = final_counts(res)
    assert interrupted <= 4 and complete == len(rows) - interrupted


def test_ramping_vus_graceful_ramp_down_interrupts_late_iterations(tmp_path):
    # 2 VUs for 0.5 s, then 0: their iterations (1 s each) get gracefulRampDown (200 ms) to end
    t0 = time.monotonic()
    res, m = export(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { rv: { executor: 'ramping-vus', startVUs: 2, gracefulRampDown: '200ms',
          stages: [{ duration: '500ms', target: 2 }, { duration: '0s', target: 0 }, { duration: '1s', target: 0 }] } } };
        export default function () { sleep(1); }
    """, quiet=False)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.stderr
    assert final_counts(res) == (0, 2)
    assert count(m, "iterations") == 0
    assert elapsed < 3


def test_ramping_vus_ramped_down_vu_finishes_within_graceful_ramp_down(tmp_path):
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { rv: { executor: 'ramping-vus', startVUs: 1, gracefulRampDown: '2s',
          stages: [{ duration: '300ms', target: 1 }, { duration: '0s', target: 0 }, { duration: '1s', target: 0 }] } } };
        export default function () { sleep(0.6); console.log('done ' + __ITER); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert res.console == ["done 0"]  # started before the ramp-down, finished, no new one
    assert final_counts(res) == (1, 0)


# ---- arrival rates ----------------------------------------------------------------------------

def test_constant_arrival_rate_starts_iterations_on_the_clock(tmp_path):
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s',
          duration: '1s', preAllocatedVUs: 2 } } };
        export default function () { console.log(JSON.stringify([Date.now() - exec.scenario.startTime])); }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "iterations") + count(m, "dropped_iterations") == 20
    assert count(m, "dropped_iterations") <= 2  # only on a heavily loaded machine
    starts = sorted(r[0] for r in json_lines(res))
    expected = [50 * i for i in range(20)]
    late = [min(abs(t - e) for e in expected) for t in starts]
    assert all(d <= 250 for d in late), starts
    assert sum(late) / len(late) < 100, starts


def test_ramping_arrival_rate_follows_the_rate_integral(tmp_path):
    # 0 -> 9/s over 1 s (4.5 iterations: 4 start, at sqrt(i/4.5) s), then 9/s for 1 s (9 more)
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        export const options = { scenarios: { rar: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s',
          preAllocatedVUs: 2, stages: [{ duration: '1s', target: 9 }, { duration: '1s', target: 9 }] } } };
        export default function () { console.log(JSON.stringify([Date.now() - exec.scenario.startTime])); }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "iterations") + count(m, "dropped_iterations") == 13
    assert count(m, "dropped_iterations") <= 1  # only under heavy load
    expected = [1000 * (i / 4.5) ** 0.5 for i in range(1, 5)] + [1000 + 1000 * (i - 4.5) / 9 for i in range(5, 14)]
    starts = sorted(r[0] for r in json_lines(res))
    for t in starts:
        assert min(abs(t - e) for e in expected) < 250, (starts, expected)


def test_dropped_iterations_and_the_insufficient_vus_warning(tmp_path):
    res, m = export(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s',
          duration: '1s', preAllocatedVUs: 1, maxVUs: 1 } } };
        export default function () { sleep(0.25); }
    """)
    assert res.exit_code == 0, res.stderr
    done, dropped = count(m, "iterations"), count(m, "dropped_iterations")
    assert done + dropped == 10 and dropped >= 4 and done >= 2
    warnings = [line for line in res.log_lines if "Insufficient VUs" in line]
    assert len(warnings) == 1
    assert 'msg="Insufficient VUs, reached 1 active VUs and cannot initialize more"' in warnings[0]
    assert "executor=constant-arrival-rate" in warnings[0] and "scenario=car" in warnings[0]


def test_arrival_rate_initialises_more_vus_up_to_max_vus(tmp_path):
    res, m = export(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s',
          duration: '1500ms', preAllocatedVUs: 1, maxVUs: 4 } } };
        export default function () { sleep(0.25); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert count(m, "iterations") + count(m, "dropped_iterations") == 15
    assert count(m, "iterations") >= 9
    assert "Insufficient VUs" not in res.stderr
    # 1 VU initialised before the test, more on demand (at most maxVUs): "x/N VUs" grows
    initialised = [int(x["i"]) for x in _RUNNING.finditer(res.stdout)]
    assert 2 <= initialised[-1] <= 4
    assert "car  ✓ [ 100% ] 0/" in res.stdout


# ---- several scenarios ------------------------------------------------------------------------

def test_several_scenarios_start_time_exec_env_and_tags(tmp_path):
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        import { Counter } from 'k6/metrics';
        const c = new Counter('hits');
        export const options = {
          tags: { global: 'g' },
          thresholds: { 'hits{scenario:a}': ['count>=0'], 'hits{scenario:b}': ['count>=0'], 'hits{t:bt}': ['count>=0'] },
          scenarios: {
            a: { executor: 'shared-iterations', vus: 1, iterations: 2, exec: 'fa', env: { WHO: 'a' }, tags: { t: 'at' } },
            b: { executor: 'per-vu-iterations', vus: 2, iterations: 1, exec: 'fb', startTime: '400ms',
                 env: { WHO: 'b' }, tags: { t: 'bt' } },
          },
        };
        function row() {
          c.add(1);
          console.log(JSON.stringify({ s: exec.scenario.name, who: __ENV.WHO, t: exec.vu.tags.t, g: exec.vu.tags.global,
                                       sc: exec.vu.tags.scenario, ms: Date.now() - exec.scenario.startTime,
                                       start: exec.scenario.startTime, it: exec.scenario.iterationInTest }));
        }
        export function fa() { row(); }
        export function fb() { row(); }
        export default function () { throw new Error('not used'); }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "hits{scenario:a}") == 2 and count(m, "hits{scenario:b}") == 2 and count(m, "hits{t:bt}") == 2
    rows = json_lines(res)
    a = [r for r in rows if r["s"] == "a"]
    b = [r for r in rows if r["s"] == "b"]
    assert all(r["who"] == "a" and r["t"] == "at" and r["sc"] == "a" and r["g"] == "g" for r in a)
    assert all(r["who"] == "b" and r["t"] == "bt" and r["sc"] == "b" and r["g"] == "g" for r in b)
    assert sorted(r["it"] for r in b) == [0, 1]
    assert b[0]["start"] - a[0]["start"] >= 380  # startTime: 400ms after the other one
    assert "not used" not in res.stderr


def test_vus_move_between_scenarios_and_the_plan_reuses_them(tmp_path):
    # the second scenario starts after the first is over: 2 VUs serve both (k6's plan)
    res = run_script(tmp_path, """
        export const options = { scenarios: {
          one: { executor: 'per-vu-iterations', vus: 2, iterations: 1, gracefulStop: '0s', maxDuration: '1s' },
          two: { executor: 'per-vu-iterations', vus: 2, iterations: 1, startTime: '1s' },
        } };
        export default function () { console.log(__VU); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert "2 max VUs" in res.stdout
    assert sorted(res.console) == ["1", "1", "2", "2"]


# ---- gracefulStop ---------------------------------------------------------------------------

def test_graceful_stop_interrupts_an_iteration_stuck_in_timers(tmp_path):
    t0 = time.monotonic()
    res, m = export(tmp_path, """
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '500ms' } } };
        export default function () { setInterval(() => {}, 20); setTimeout(() => {}, 60000); }
    """, quiet=False)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.stderr
    assert 1.4 < elapsed < 4
    assert final_counts(res) == (0, 1)
    assert count(m, "iterations") == 0
    assert res.messages("warning")[:2] == ["setInterval 1 was stopped because the VU iteration was interrupted",
                                           "setTimeout 2 was stopped because the VU iteration was interrupted"]
    assert "No script iterations fully finished, consider making the test duration longer" in res.messages("warning")


def test_graceful_stop_lets_a_running_iteration_finish(tmp_path):
    res, m = export(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '2s' } } };
        export default function () { sleep(1.3); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert final_counts(res) == (1, 0)
    assert count(m, "iterations") == 1


# ---- k6/execution inside the executors --------------------------------------------------------

def test_exec_values_progress_and_instance_counters(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export const options = { scenarios: { p: { executor: 'per-vu-iterations', vus: 1, iterations: 2 } } };
        export function setup() { return { t0: Date.now() }; }
        export default function () {
          const s = exec.scenario, i = exec.instance, v = exec.vu;
          console.log(JSON.stringify({ progress: s.progress, name: s.name, startInt: Number.isInteger(s.startTime),
            completed: i.iterationsCompleted, interrupted: i.iterationsInterrupted, active: i.vusActive,
            initialized: i.vusInitialized, dur: i.currentTestRunDuration > 0, id: v.idInInstance, idt: v.idInTest,
            iter: v.iterationInInstance, vscn: v.iterationInScenario, exec: exec.test.options.scenarios.p.executor }));
        }
    """)
    assert res.exit_code == 0, res.stderr
    first, second = json_lines(res)
    assert first["progress"] == 0 and second["progress"] == 0.5
    assert first["completed"] == 0 and second["completed"] == 1
    assert first["name"] == "p" and first["startInt"] and first["dur"]
    assert (first["active"], first["initialized"], first["id"], first["idt"]) == (1, 1, 1, 1)
    assert (first["iter"], second["iter"], second["vscn"]) == (0, 1, 1)
    assert first["exec"] == "per-vu-iterations"


def test_vus_metric_counts_only_busy_arrival_rate_vus(tmp_path):
    # k6 v1.1: arrival-rate VUs are "active" only while in an iteration
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 4, timeUnit: '1s',
          duration: '1s', preAllocatedVUs: 3 } } };
        export default function () { console.log(exec.instance.vusActive); sleep(0.05); }
    """)
    assert res.exit_code == 0, res.stderr
    assert res.console and all(1 <= int(x) <= 2 for x in res.console)  # never the 3 allocated
    assert sum(int(x) == 1 for x in res.console) >= len(res.console) - 1


# ---- progress output --------------------------------------------------------------------------

def test_progress_blocks_on_a_non_terminal(tmp_path):
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { vus: 1, duration: '1500ms' };
        export default function () { sleep(0.3); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    blocks = list(_RUNNING.finditer(out))
    assert len(blocks) >= 2  # one after 1 s (another one if the machine is slow), one at the end
    assert blocks[0]["t"] in ("00.9s", "01.0s", "01.1s", "01.2s")
    summary = out.index("TOTAL RESULTS")
    assert blocks[-2].start() < summary < blocks[-1].start()
    assert blocks[-1]["t"] in ("01.5s", "01.6s", "01.7s", "01.8s", "01.9s")  # 1.5 s + scheduling
    # each block is an empty line, then the lines (k6's layout)
    assert "\n\nrunning (" in out
    assert re.search(r"\ndefault ✓ \[ 100% \] 1 VUs  1\.5s\n", out)
    assert "0 B/s\n\n\n\n\nrunning (" in out  # the summary's 3 empty lines + the block's one


def test_quiet_prints_no_progress(tmp_path):
    res = run_script(tmp_path, """
        export const options = { vus: 1, duration: '1100ms' };
        export default function () {}
    """, quiet=True)
    assert "running (" not in res.stdout and "TOTAL RESULTS" in res.stdout


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redrawn_in_place_on_a_terminal(tmp_path):
    from jsrunner.runner import RunConfig, Runner
    from .helpers import write_script
    path = write_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { vus: 1, duration: '1s' };
        export default function () { console.log('x'); sleep(0.2); }
    """)
    out, err = _Tty(), _Tty()
    res = Runner(RunConfig(script=str(path), stdout=out, stderr=err, include_system_env=False)).run()
    assert res.exit_code == 0
    text = out.getvalue()
    assert text.count("\x1b[J\x1b[3A") >= 2          # redrawn about every 100 ms
    assert re.search(r"running \(00\.\ds\), 1/1 VUs", text)
    assert "\x1b[K\n" in text and "\x1b[0K\n" in text  # erase-to-end on every line
    assert "[=" in text and "\x1b[32m✓\x1b[0m" in text  # a real bar, coloured status
    assert "x\x1b[0K\n" not in text and "source=console\x1b[0K\n" in err.getvalue()
    tail = text[text.index("TOTAL RESULTS"):]
    assert re.search(r"running \(01\.\ds\), 0/1 VUs", tail)  # the final block after the summary


def test_progress_shows_setup_while_it_runs(tmp_path):
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { vus: 1, iterations: 1 };
        export function setup() { sleep(1.2); }
        export default function () {}
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert "\nRun       [ 100% ] setup()\ndefault   [   0% ]\n" in res.stdout
    # elapsed time counts from before setup()
    last = list(_RUNNING.finditer(res.stdout))[-1]
    assert last["t"].startswith("00m01.")


@pytest.mark.parametrize("executor,extra", [
    ("shared-iterations", "vus: 2, iterations: 4"),
    ("per-vu-iterations", "vus: 2, iterations: 2"),
    ("constant-vus", "vus: 2, duration: '1s'"),
    ("ramping-vus", "startVUs: 1, stages: [{ duration: '1s', target: 2 }]"),
    ("constant-arrival-rate", "rate: 4, duration: '1s', preAllocatedVUs: 2"),
    ("ramping-arrival-rate", "startRate: 4, stages: [{ duration: '1s', target: 4 }], preAllocatedVUs: 2"),
])
def test_every_executor_ends_with_a_done_bar(tmp_path, executor, extra):
    res = run_script(tmp_path, f"""
        export const options = {{ scenarios: {{ s: {{ executor: '{executor}', {extra} }} }} }};
        export default function () {{}}
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    final = res.stdout[res.stdout.rindex("running ("):]
    assert re.search(r"\ns +✓ \[ 100% \]", final), final
    complete, interrupted = final_counts(res)
    assert complete >= 2 and interrupted == 0


def test_arrival_rate_graceful_stop(tmp_path):
    # iterations at 0 s and 0.5 s, 1 s each: the second one runs past 1 s + 300 ms
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 2, timeUnit: '1s',
          duration: '1s', preAllocatedVUs: 2, gracefulStop: '300ms' } } };
        export default function () { sleep(1); }
    """, quiet=False)
    assert res.exit_code == 0, res.stderr
    assert final_counts(res) == (1, 1)


def test_a_paced_start_counts_every_vu_active_before_the_first_iteration(tmp_path):
    # _lend_planned wakes the VUs one by one; all are booked active before the first runs
    res, m = export(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 40, iterations: 1 } } };
        export default function () { console.log(JSON.stringify([exec.instance.vusActive])); sleep(0.5); }
    """)
    assert res.exit_code == 0, res.stderr
    assert count(m, "iterations") == 40
    rows = json_lines(res)
    assert len(rows) == 40 and all(r == [40] for r in rows)
