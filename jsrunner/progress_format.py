"""Progress output text (runner.md §9) as pure functions of a state snapshot.

Durations are int nanoseconds.  The caller (the run loop) owns the clock and the counters,
builds :class:`RunSnapshot` / :class:`ScenarioSnapshot` values and prints
:func:`render_block` every second (non-TTY, first print after 1 s) and once more at the very
end, after the end-of-test summary.  Once a scenario is finished its snapshot should be frozen
(k6 keeps the values it had when the scenario ended, e.g. ``00m00.4s/10m0s``), with the
status from :func:`final_status`.

Example (non-TTY)::

    running (00m02.0s), 03/11 VUs, 33 complete and 1 interrupted iterations
    car  ✓ [ 100% ] 0/1 VUs  1s              20.00 iters/s
    pvi  ✓ [ 100% ] 2 VUs    00m00.4s/10m0s  4/4 iters, 2 per VU
    cv   • [   0% ] waiting  0.0s
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .durations import MILLISECOND, MINUTE, HOUR, SECOND, format_duration, round_duration

__all__ = [
    "RUNNING", "WAITING", "STOPPING", "INTERRUPTED", "DONE",
    "fixed_length_int", "fixed_length_float", "fixed_length_duration",
    "RunSnapshot", "ScenarioSnapshot", "running_line", "scenario_progress", "final_status",
    "render_bar", "render_lines", "render_block", "no_iterations_warning",
    "NO_ITERATIONS_WARNING", "MAX_LEFT_LENGTH", "INIT_LEFT",
]

# status markers (k6 pb.Status)
RUNNING = " "
WAITING = "•"
STOPPING = "↓"
INTERRUPTED = "✗"
DONE = "✓"

MAX_LEFT_LENGTH = 30
#: the (hijacked) init progress bar's left text; it takes part in the left-column width
INIT_LEFT = "Init"
DEFAULT_WIDTH = 40
MIN_WIDTH = 8
NO_ITERATIONS_WARNING = ("No script iterations fully finished, consider making the test "
                         "duration longer")

_STATUS_COLORS = {INTERRUPTED: "\x1b[31m", DONE: "\x1b[32m", WAITING: "\x1b[2m"}
_FAINT = "\x1b[2m"
_RESET = "\x1b[0m"


# ---------------------------------------------------------------------------------------------
# fixed-width helpers (k6 internal/ui/pb/helpers.go)
# ---------------------------------------------------------------------------------------------

def _int_width(max_value: int) -> int:
    width = 1
    if max_value < 0:
        width += 1
    v = abs(int(max_value)) // 10
    while v:
        width += 1
        v //= 10
    return width


def fixed_length_int(value: int, max_value: int) -> str:
    """``value`` zero-padded to the digit count of ``max_value`` (Go ``%0Nd``)."""
    w = _int_width(max_value)
    return f"{int(value):0{w}d}"


def fixed_length_float(value: float, max_value: float, precision: int = 2) -> str:
    """Go ``%0N.Pf`` with N from ``max_value`` (``GetFixedLengthFloatFormat``)."""
    width = 1
    if max_value < 0:
        max_value = -max_value
        width += 1
    if max_value >= 10:
        width += int(math.log10(max_value))
    if precision > 0:
        width += precision + 1
    return f"{value:0{width}.{precision}f}"


def fixed_length_duration(d: int, max_duration: int) -> str:
    """k6 ``GetFixedLengthDuration``: rounded to 0.1 s, width from ``max_duration``:
    < 10 s ``1.0s``, < 1 min ``01.0s``, < 10 min ``0m01.0s``, < 1 h ``00m01.0s``,
    < 10 h ``0h00m01.0s``, < 24 h ``00h00m01.0s``, then days."""
    rounding = 100 * MILLISECOND
    d = abs(d)
    max_duration = abs(max_duration)
    if max_duration < d:
        max_duration = d
    max_duration = round_duration(max_duration, rounding)
    buf = list("000000d00h00m00.0s")
    u = round_duration(d, rounding) // rounding
    u, buf[16] = u // 10, str(u % 10)
    u, buf[14] = u // 10, str(u % 10)
    if max_duration < 10 * SECOND:
        return "".join(buf[14:])
    u, buf[13] = u // 6, str(u % 6)
    if max_duration < MINUTE:
        return "".join(buf[13:])
    u, buf[11] = u // 10, str(u % 10)
    if max_duration < 10 * MINUTE:
        return "".join(buf[11:])
    u, buf[10] = u // 6, str(u % 6)
    if max_duration < HOUR:
        return "".join(buf[10:])
    u, h = u // 24, u % 24
    buf[7], buf[8] = str(h // 10), str(h % 10)
    if max_duration < 10 * HOUR:
        return "".join(buf[8:])
    if max_duration < 24 * HOUR:
        return "".join(buf[7:])
    u, buf[5] = u // 10, str(u % 10)
    rem = max_duration // (240 * HOUR)
    i = 5
    while rem > 0:
        i -= 1
        u, buf[i] = u // 10, str(u % 10)
        rem //= 10
    return "".join(buf[i:])


# ---------------------------------------------------------------------------------------------
# snapshots
# ---------------------------------------------------------------------------------------------

@dataclass
class RunSnapshot:
    """State for the ``running (...)`` line."""

    elapsed: int | None          # ns since the test started; None = not started yet
    max_duration: int            # the test's max duration incl. graceful stop (ns)
    max_vus: int                 # max possible VUs of the test (sets the zero padding)
    active_vus: int = 0
    initialized_vus: int = 0
    complete: int = 0            # finished iterations (incl. ones that threw)
    interrupted: int = 0
    paused: bool = False


def running_line(s: RunSnapshot) -> str:
    """``running (00m02.0s), 03/11 VUs, 33 complete and 1 interrupted iterations``."""
    status = "paused" if s.paused else "running"
    if s.elapsed is not None:
        status = f"{status} ({fixed_length_duration(s.elapsed, s.max_duration)})"
    return (f"{status}, {fixed_length_int(s.active_vus, s.max_vus)}/"
            f"{fixed_length_int(s.initialized_vus, s.max_vus)} VUs, {s.complete} complete and "
            f"{s.interrupted} interrupted iterations")


@dataclass
class ScenarioSnapshot:
    """State of one scenario's progress bar.

    Which fields matter depends on ``executor``:

    * ``shared-iterations``: vus, iterations_done, iterations_total, duration (=maxDuration)
    * ``per-vu-iterations``: vus, iterations_done, iterations_total (vus*iters),
      iterations_per_vu, duration (=maxDuration)
    * ``constant-vus``: vus, duration
    * ``ramping-vus``: active_vus, vus (= max VUs), duration (= sum of stages)
    * ``constant-arrival-rate``: running_vus (busy in an iteration), active_vus (initialised
      for the scenario), vus (= maxVUs), duration, rate (iters/s)
    * ``ramping-arrival-rate``: as above, duration = sum of stages, rate = current rate,
      max_rate = the highest stage rate per second (sets the width)
    * any executor while ``status == WAITING``: start_time and wait_remaining
    """

    name: str
    executor: str
    status: str = RUNNING
    elapsed: int = 0             # ns since the scenario started (frozen once finished)
    start_time: int = 0          # the scenario's startTime (for the waiting bar)
    wait_remaining: int = 0      # ns until the scenario starts (WAITING)
    vus: int = 0
    active_vus: int = 0
    running_vus: int = 0
    iterations_done: int = 0
    iterations_total: int = 0
    iterations_per_vu: int = 0
    duration: int = 0
    rate: float = 0.0
    max_rate: float | None = None


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def scenario_progress(s: ScenarioSnapshot) -> tuple[float, list[str]]:
    """(progress 0..1, right-hand columns) exactly like the k6 executors' progress functions."""
    if s.status == WAITING:
        return 0.0, ["waiting", fixed_length_duration(s.wait_remaining, s.start_time)]
    dur = s.duration
    dur_s = format_duration(dur)
    ex = s.executor
    if ex == "shared-iterations":
        right = [f"{fixed_length_int(s.vus, s.vus)} VUs",
                 f"{fixed_length_duration(s.elapsed, dur)}/{dur_s}",
                 f"{fixed_length_int(s.iterations_done, s.iterations_total)}/"
                 f"{fixed_length_int(s.iterations_total, s.iterations_total)} shared iters"]
        return _ratio(s.iterations_done, s.iterations_total), right
    if ex == "per-vu-iterations":
        right = [f"{fixed_length_int(s.vus, s.vus)} VUs", dur_s,
                 f"{fixed_length_int(s.iterations_done, s.iterations_total)}/"
                 f"{fixed_length_int(s.iterations_total, s.iterations_total)} iters, "
                 f"{s.iterations_per_vu} per VU"]
        if s.elapsed > dur:
            return 1.0, right
        right[1] = f"{fixed_length_duration(s.elapsed, dur)}/{dur_s}"
        return _ratio(s.iterations_done, s.iterations_total), right
    if ex == "constant-vus":
        right = [f"{s.vus} VUs"]
        if s.elapsed > dur:
            return 1.0, right + [dur_s]
        return _ratio(s.elapsed, dur), right + [f"{fixed_length_duration(s.elapsed, dur)}/{dur_s}"]
    if ex == "ramping-vus":
        prog_vus = (f"{fixed_length_int(s.active_vus, s.vus)}/"
                    f"{fixed_length_int(s.vus, s.vus)} VUs")
        if s.elapsed > dur:
            return 1.0, [prog_vus, dur_s]
        return _ratio(s.elapsed, dur), [
            prog_vus, f"{fixed_length_duration(s.elapsed, dur)}/{fixed_length_duration(dur, dur)}"]
    if ex in ("constant-arrival-rate", "ramping-arrival-rate"):
        max_rate = s.rate if s.max_rate is None else s.max_rate
        prog_vus = (f"{fixed_length_int(s.running_vus, s.vus)}/"
                    f"{fixed_length_int(s.active_vus, s.vus)} VUs")
        right = [prog_vus, dur_s, f"{fixed_length_float(s.rate, max_rate, 2)} iters/s"]
        if s.elapsed > dur:
            return 1.0, right
        right[1] = f"{fixed_length_duration(s.elapsed, dur)}/{dur_s}"
        return min(1.0, _ratio(s.elapsed, dur)), right
    raise ValueError(f"unknown executor {ex!r}")


def final_status(progress: float, aborted: bool = False) -> str:
    """Marker once a scenario is over (k6 trackProgress): ✗ if the whole test was aborted or
    the bar is not full (e.g. iterations cut by maxDuration), else ✓."""
    if aborted or progress < 1:
        return INTERRUPTED
    return DONE


def no_iterations_warning(complete: int) -> str | None:
    """The warning logged before the summary when no iteration completed, else None."""
    return NO_ITERATIONS_WARNING if complete == 0 else None


# ---------------------------------------------------------------------------------------------
# rendering (k6 renderMultipleBars)
# ---------------------------------------------------------------------------------------------

def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _progress_text(progress: float, width: int, color: bool) -> str:
    progress = _clamp(progress, 0.0, 1.0)
    if width > MIN_WIDTH:
        space = width - 2
        filled = int(space * progress)
        fill = ""
        if filled > 0:
            fill = "=" * (filled - 1) + ">" if filled < space else "=" * filled
        pad = "-" * (space - filled) if space > filled else ""
        if color and pad:
            pad = _FAINT + pad + _RESET
        return f"[{fill}{pad}]"
    return f"[ {progress * 100:3.0f}% ]"


def _status_text(status: str, color: bool) -> str:
    if color and status in _STATUS_COLORS:
        return _STATUS_COLORS[status] + status + _RESET
    return status


def _left_width(names: Sequence[str]) -> int:
    return min(max([len(INIT_LEFT)] + [len(n) for n in names]), MAX_LEFT_LENGTH)


def _truncate_left(name: str, max_left: int) -> str:
    if max_left > 0 and len(name) > max_left:
        return name[:max_left - 3] + "..."
    return name


def render_bar(name: str, status: str, progress: float, right: Sequence[str], *,
               max_left: int, column_widths: Sequence[int] = (0, 0),
               width: int = MIN_WIDTH, color: bool = False) -> str:
    """One scenario line: left padded to ``max_left``, status, bar, padded right columns."""
    left = _truncate_left(name, max_left).ljust(max_left)
    right_text = ""
    for i, col in enumerate(right):
        rpad = column_widths[i] if i < len(column_widths) else 0
        right_text += " " + col.ljust(rpad + 1)
    return (f"{left} {_status_text(status, color)} {_progress_text(progress, width, color)}"
            f"{right_text}")


def render_lines(run: RunSnapshot, scenarios: Sequence[ScenarioSnapshot], *,
                 width: int = MIN_WIDTH, color: bool = False) -> list[str]:
    """The ``running`` line followed by one line per scenario (in banner order).
    ``width`` is the bar width: <= 8 (non-TTY) renders ``[ 100% ]``, 40 a full ``[===>--]``."""
    rendered = [(s, *scenario_progress(s)) for s in scenarios]
    col_widths = [0, 0]
    for _, _, right in rendered:
        for i, col in enumerate(right[:-1][:2]):
            col_widths[i] = max(col_widths[i], len(col))
    max_left = _left_width([s.name for s in scenarios])
    lines = [running_line(run)]
    for s, prog, right in rendered:
        lines.append(render_bar(s.name, s.status, prog, right, max_left=max_left,
                                column_widths=col_widths, width=width, color=color))
    return lines


def render_block(run: RunSnapshot, scenarios: Sequence[ScenarioSnapshot], *,
                 tty: bool = False, go_back: bool = False, width: int | None = None,
                 color: bool = False) -> str:
    """The text k6 writes for one progress update: an empty line, then the lines.  On a TTY
    every line ends with an erase-to-end code and, with ``go_back``, the cursor returns to the
    top of the block afterwards (the redraw)."""
    if width is None:
        width = DEFAULT_WIDTH if tty else MIN_WIDTH
    lines = render_lines(run, scenarios, width=width, color=color)
    end = "\x1b[K\n" if tty else "\n"
    text = end + "".join(line + end for line in lines)
    if tty and go_back:
        text += f"\r\x1b[J\x1b[{len(lines) + 1}A"
    return text
