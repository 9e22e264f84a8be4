"""Progress output (runner.md §9): fixed-width fields, the running line, scenario bars."""

import pytest

from jsrunner.durations import HOUR, MILLISECOND, MINUTE, SECOND
from jsrunner.progress_format import (DONE, INTERRUPTED, NO_ITERATIONS_WARNING, RUNNING,
                                      STOPPING, WAITING, RunSnapshot, ScenarioSnapshot,
                                      final_status, fixed_length_duration, fixed_length_float,
                                      fixed_length_int, no_iterations_warning, render_bar,
                                      render_block, render_lines, running_line,
                                      scenario_progress)

S = SECOND
MS = MILLISECOND


@pytest.mark.parametrize("d,mx,text", [
    (S, S, "1.0s"),                          # a 1 s test: running (1.0s)
    (S, 9 * S, "1.0s"),
    (S, 30 * S, "01.0s"),
    (S, 5 * MINUTE, "0m01.0s"),
    (0, 10 * MINUTE + 30 * S, "00m00.0s"),   # default 10m30s max
    (2 * S, 10 * MINUTE + 30 * S, "00m02.0s"),
    (400 * MS, 10 * MINUTE, "00m00.4s"),
    (S, 2 * HOUR, "0h00m01.0s"),
    (S, 12 * HOUR, "00h00m01.0s"),
    (25 * HOUR + 61 * S, 30 * 24 * HOUR, "01d01h01m01.0s"),
    (350 * MS, 5 * S, "0.4s"),               # rounded to 0.1 s
    (12 * S, 5 * S, "12.0s"),                # d > max widens the field
    (9960 * MS, 9960 * MS, "10.0s"),         # max rounded first
    (-S, 5 * S, "1.0s"),
])
def test_fixed_length_duration(d, mx, text):
    assert fixed_length_duration(d, mx) == text


def test_fixed_length_numbers():
    assert fixed_length_int(2, 11) == "02"
    assert fixed_length_int(8, 135) == "008"
    assert fixed_length_int(0, 0) == "0"
    assert fixed_length_int(5, 9) == "5"
    assert fixed_length_float(3.82, 5.0) == "3.82"
    assert fixed_length_float(10.26, 20.0) == "10.26"
    assert fixed_length_float(1.5, 20.0) == "01.50"
    assert fixed_length_float(150, 150) == "150.00"


def test_running_line():
    assert running_line(RunSnapshot(2 * S, 10 * MINUTE + 30 * S, 11, 3, 11, 33, 1)) == (
        "running (00m02.0s), 03/11 VUs, 33 complete and 1 interrupted iterations")
    assert running_line(RunSnapshot(S, 1500 * MS, 1, 1, 1, 3, 0)) == (
        "running (1.0s), 1/1 VUs, 3 complete and 0 interrupted iterations")
    assert running_line(RunSnapshot(0, 10 * MINUTE + 30 * S, 1)) == (
        "running (00m00.0s), 0/0 VUs, 0 complete and 0 interrupted iterations")
    assert running_line(RunSnapshot(None, S, 120, 0, 120)) == (
        "running, 000/120 VUs, 0 complete and 0 interrupted iterations")
    assert running_line(RunSnapshot(S, S, 1, paused=True)).startswith("paused (1.0s), ")


def test_spec_example_block():
    run = RunSnapshot(2 * S, 10 * MINUTE + 30 * S, 11, 3, 11, 33, 1)
    scen = [
        ScenarioSnapshot("car", "constant-arrival-rate", DONE, elapsed=1100 * MS, vus=1,
                         active_vus=1, duration=S, rate=20.0),
        ScenarioSnapshot("pvi", "per-vu-iterations", DONE, elapsed=400 * MS, vus=2,
                         iterations_done=4, iterations_total=4, iterations_per_vu=2,
                         duration=10 * MINUTE),
        ScenarioSnapshot("si", "shared-iterations", DONE, elapsed=400 * MS, vus=2,
                         iterations_done=4, iterations_total=4, duration=5 * S),
        ScenarioSnapshot("cv", "constant-vus", WAITING, start_time=S, wait_remaining=0),
    ]
    lines = render_lines(run, scen)
    assert [line.rstrip() for line in lines] == [
        "running (00m02.0s), 03/11 VUs, 33 complete and 1 interrupted iterations",
        "car  ✓ [ 100% ] 0/1 VUs  1s              20.00 iters/s",
        "pvi  ✓ [ 100% ] 2 VUs    00m00.4s/10m0s  4/4 iters, 2 per VU",
        "si   ✓ [ 100% ] 2 VUs    0.4s/5s         4/4 shared iters",
        "cv   • [   0% ] waiting  0.0s",
    ]
    # k6 pads the non-last columns even on the last line of a bar
    assert lines[-1] == "cv   • [   0% ] waiting  0.0s           "
    assert render_block(run, scen) == "\n" + "".join(line + "\n" for line in lines)


def _seven(t_final: bool):
    """The 7-scenario run captured from k6 1.1.0 (non-TTY stdout, trailing spaces included)."""
    long = "a_very_long_scenario_name_that_exceeds_thirty_chars"
    if not t_final:
        return RunSnapshot(S, 10 * MINUTE + 30 * S, 11, 2, 11, 17, 0), [
            ScenarioSnapshot("car", "constant-arrival-rate", RUNNING, elapsed=990 * MS, vus=1,
                             running_vus=0, active_vus=1, duration=S, rate=20.0),
            ScenarioSnapshot("pvi", "per-vu-iterations", DONE, elapsed=400 * MS, vus=2,
                             iterations_done=4, iterations_total=4, iterations_per_vu=2,
                             duration=10 * MINUTE),
            ScenarioSnapshot("rar", "ramping-arrival-rate", RUNNING, elapsed=990 * MS, vus=2,
                             running_vus=1, active_vus=2, duration=S, rate=3.82, max_rate=5.0),
            ScenarioSnapshot("rv", "ramping-vus", RUNNING, elapsed=S, vus=2, active_vus=1,
                             duration=2 * S),
            ScenarioSnapshot("si", "shared-iterations", DONE, elapsed=400 * MS, vus=2,
                             iterations_done=4, iterations_total=4, duration=5 * S),
            ScenarioSnapshot("cv", "constant-vus", WAITING, start_time=S, wait_remaining=10 * MS),
            ScenarioSnapshot(long, "constant-vus", WAITING, start_time=3500 * MS,
                             wait_remaining=2490 * MS),
        ]
    return RunSnapshot(5600 * MS, 10 * MINUTE + 30 * S, 11, 0, 11, 41, 4), [
        ScenarioSnapshot("car", "constant-arrival-rate", DONE, elapsed=1100 * MS, vus=1,
                         active_vus=1, duration=S, rate=20.0),
        ScenarioSnapshot("pvi", "per-vu-iterations", DONE, elapsed=400 * MS, vus=2,
                         iterations_done=4, iterations_total=4, iterations_per_vu=2,
                         duration=10 * MINUTE),
        ScenarioSnapshot("rar", "ramping-arrival-rate", DONE, elapsed=1100 * MS, vus=2,
                         active_vus=2, duration=S, rate=3.82, max_rate=5.0),
        ScenarioSnapshot("rv", "ramping-vus", DONE, elapsed=2100 * MS, vus=2, active_vus=1,
                         duration=2 * S),
        ScenarioSnapshot("si", "shared-iterations", DONE, elapsed=400 * MS, vus=2,
                         iterations_done=4, iterations_total=4, duration=5 * S),
        ScenarioSnapshot("cv", "constant-vus", DONE, elapsed=1050 * MS, vus=2, duration=S),
        ScenarioSnapshot(long, "constant-vus", DONE, elapsed=2100 * MS, vus=1, duration=2 * S),
    ]


def test_k6_capture_running():
    run, scen = _seven(False)
    assert render_lines(run, scen) == [
        'running (00m01.0s), 02/11 VUs, 17 complete and 0 interrupted iterations',
        'car                              [  99% ] 0/1 VUs  1.0s/1s         20.00 iters/s',
        'pvi                            ✓ [ 100% ] 2 VUs    00m00.4s/10m0s  4/4 iters, 2 per VU',
        'rar                              [  99% ] 1/2 VUs  1.0s/1s         3.82 iters/s',
        'rv                               [  50% ] 1/2 VUs  1.0s/2.0s      ',
        'si                             ✓ [ 100% ] 2 VUs    0.4s/5s         4/4 shared iters',
        'cv                             • [   0% ] waiting  0.0s           ',
        'a_very_long_scenario_name_t... • [   0% ] waiting  2.5s           ',
    ]


def test_k6_capture_final():
    run, scen = _seven(True)
    assert render_block(run, scen) == "\n" + "\n".join([
        'running (00m05.6s), 00/11 VUs, 41 complete and 4 interrupted iterations',
        'car                            ✓ [ 100% ] 0/1 VUs  1s              20.00 iters/s',
        'pvi                            ✓ [ 100% ] 2 VUs    00m00.4s/10m0s  4/4 iters, 2 per VU',
        'rar                            ✓ [ 100% ] 0/2 VUs  1s              3.82 iters/s',
        'rv                             ✓ [ 100% ] 1/2 VUs  2s             ',
        'si                             ✓ [ 100% ] 2 VUs    0.4s/5s         4/4 shared iters',
        'cv                             ✓ [ 100% ] 2 VUs    1s             ',
        'a_very_long_scenario_name_t... ✓ [ 100% ] 1 VUs    2s             ',
    ]) + "\n"


def test_k6_capture_wide_numbers_and_hours():
    run = RunSnapshot(S, 2 * HOUR + 31500 * MS, 135, 8, 25, 247, 0)
    scen = [
        ScenarioSnapshot("a", "shared-iterations", DONE, elapsed=500 * MS, vus=12,
                         iterations_done=100, iterations_total=100, duration=HOUR),
        ScenarioSnapshot("c", "constant-arrival-rate", RUNNING, elapsed=S, vus=120,
                         running_vus=8, active_vus=10, duration=2 * S, rate=150.0),
        ScenarioSnapshot("d", "ramping-arrival-rate", RUNNING, elapsed=S, vus=2, running_vus=0,
                         active_vus=2, duration=2 * S, rate=10.26, max_rate=20.0),
        ScenarioSnapshot("b", "per-vu-iterations", WAITING, start_time=1500 * MS,
                         wait_remaining=500 * MS),
    ]
    assert render_lines(run, scen) == [
        'running (0h00m01.0s), 008/025 VUs, 247 complete and 0 interrupted iterations',
        'a    ✓ [ 100% ] 12 VUs       0h00m00.5s/1h0m0s  100/100 shared iters',
        'c      [  50% ] 008/010 VUs  1.0s/2s            150.00 iters/s',
        'd      [  50% ] 0/2 VUs      1.0s/2s            10.26 iters/s',
        'b    • [   0% ] waiting      0.5s              ',
    ]


def test_single_bar_lines():
    # from a k6 1.1.0 run: the Init bar makes the left column at least 4 wide
    run = RunSnapshot(1500 * MS, 1500 * MS, 1, 0, 1, 4, 1)
    cv = ScenarioSnapshot("a", "constant-vus", DONE, elapsed=1600 * MS, vus=1, duration=1500 * MS)
    assert render_lines(run, [cv])[1] == "a    ✓ [ 100% ] 1 VUs  1.5s"
    cv = ScenarioSnapshot("a", "constant-vus", RUNNING, elapsed=S, vus=1, duration=1500 * MS)
    assert render_lines(run, [cv])[1] == "a      [  67% ] 1 VUs  1.0s/1.5s"
    d = ScenarioSnapshot("default", "constant-vus", DONE, elapsed=21 * S, vus=120, duration=20 * S)
    assert render_lines(RunSnapshot(50 * S, 50 * S, 120, 0, 120, 0, 120), [d]) == [
        "running (50.0s), 000/120 VUs, 0 complete and 120 interrupted iterations",
        "default ✓ [ 100% ] 120 VUs  20s"]


def test_scenario_progress_values():
    p, right = scenario_progress(ScenarioSnapshot("x", "shared-iterations", elapsed=S, vus=2,
                                                  iterations_done=1, iterations_total=4,
                                                  duration=10 * MINUTE))
    assert p == 0.25 and right == ["2 VUs", "00m01.0s/10m0s", "1/4 shared iters"]
    p, right = scenario_progress(ScenarioSnapshot("x", "per-vu-iterations", elapsed=11 * MINUTE,
                                                  vus=10, iterations_done=3, iterations_total=20,
                                                  iterations_per_vu=2, duration=10 * MINUTE))
    assert p == 1.0 and right == ["10 VUs", "10m0s", "03/20 iters, 2 per VU"]
    p, right = scenario_progress(ScenarioSnapshot("x", "constant-arrival-rate", elapsed=5 * S,
                                                  vus=3, duration=S, rate=0.05))
    assert p == 1.0 and right == ["0/0 VUs", "1s", "0.05 iters/s"]
    with pytest.raises(ValueError):
        scenario_progress(ScenarioSnapshot("x", "nope"))


def test_tty_bar_and_block():
    line = render_bar("sc", RUNNING, 0.5, ["1 VUs", "1.0s/2s"], max_left=4, width=40)
    assert line == "sc     [" + "=" * 18 + ">" + "-" * 19 + "] 1 VUs 1.0s/2s"
    line = render_bar("sc", RUNNING, 0.5, ["1 VUs", "1.0s/2s"], max_left=4,
                      column_widths=(7, 9), width=8)
    assert line == "sc     [  50% ] 1 VUs    1.0s/2s   "
    assert render_bar("sc", DONE, 1.0, [], max_left=4, width=40) == "sc   ✓ [" + "=" * 38 + "]"
    assert render_bar("sc", WAITING, 0.0, [], max_left=4, width=40) == "sc   • [" + "-" * 38 + "]"
    colored = render_bar("sc", DONE, 1.0, [], max_left=4, color=True)
    assert "\x1b[32m✓\x1b[0m" in colored
    assert render_bar("sc", STOPPING, 1.0, [], max_left=2) == "sc ↓ [ 100% ]"
    run = RunSnapshot(S, S, 1)
    scen = [ScenarioSnapshot("a", "constant-vus", RUNNING, elapsed=500 * MS, vus=1, duration=S)]
    block = render_block(run, scen, tty=True, go_back=True)
    assert block.startswith("\x1b[K\nrunning (1.0s)")
    assert block.endswith("\x1b[K\n\r\x1b[J\x1b[3A")
    assert "[" + "=" * 18 + ">" in block


def test_final_status_and_warning():
    assert final_status(1.0) == DONE
    assert final_status(0.5) == INTERRUPTED          # e.g. maxDuration cut the iterations
    assert final_status(1.0, aborted=True) == INTERRUPTED
    assert no_iterations_warning(0) == NO_ITERATIONS_WARNING == (
        "No script iterations fully finished, consider making the test duration longer")
    assert no_iterations_warning(1) is None
