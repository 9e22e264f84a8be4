"""The adaptive polling of a scheduler thread (pure logic, no clock): the halt-polling
window, and the check that polling shortens the thread's waits at all."""

from __future__ import annotations

import pytest

from jsrunner import spinwait
from jsrunner.spinwait import EPOCH, PROBE, PROBE_EVERY, PROBE_EVERY_SLEEPING, SpinWindow


# ---- the window ---------------------------------------------------------------------------
def test_a_new_window_sleeps_at_once() -> None:
    assert SpinWindow(limit=100e-6).spin_for(-1.0) == 0.0


def test_short_sleeps_grow_the_window_up_to_its_limit() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    seen = []
    for _ in range(6):
        w.slept(40e-6)
        seen.append(w.spin_for(-1.0))
    assert seen == pytest.approx([10e-6, 20e-6, 40e-6, 80e-6, 100e-6, 100e-6])


def test_a_long_sleep_halves_the_window_and_small_windows_drop_to_none() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    for _ in range(5):
        w.slept(1e-6)
    assert w.window == pytest.approx(100e-6)
    w.slept(0.5)
    assert w.window == pytest.approx(50e-6)
    w.slept(0.5)
    w.slept(0.5)
    assert w.window == pytest.approx(12.5e-6)
    w.slept(0.5)
    assert w.window == 0.0
    w.slept(0.5)
    assert w.window == 0.0


def test_an_event_caught_while_polling_keeps_the_window() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    w.slept(5e-6)
    w.slept(5e-6)
    before = w.window
    w.caught(3e-6)
    assert w.window == before


def test_a_bounded_wait_is_polled_at_most_to_its_deadline() -> None:
    w = SpinWindow(limit=100e-6, start=100e-6)
    w.slept(1e-6)
    assert w.spin_for(30e-6) == pytest.approx(30e-6)
    assert w.spin_for(1.0) == pytest.approx(100e-6)


def test_a_zero_limit_never_spins() -> None:
    w = SpinWindow(limit=0.0)
    for _ in range(3 * EPOCH):
        w.slept(0.0, 0.0)
    assert w.spin_for(-1.0) == 0.0
    assert w.typical_poll is None and w.typical_sleep is None


def test_a_wake_up_by_another_thread_shrinks_the_window() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    for _ in range(5):
        w.slept(1e-6)
    w.woken()
    assert w.window == pytest.approx(50e-6)
    for _ in range(3):
        w.woken()
    assert w.window == 0.0


# ---- does polling pay? ----------------------------------------------------------------
def _waits(w: SpinWindow, n: int, with_polling: float, without: float) -> list[bool]:
    """Feed ``n`` event-ended waits that last ``with_polling`` seconds while the thread
    polls (caught in the window) and ``without`` while it sleeps at once; the ways the
    waits went."""
    ways = []
    for _ in range(n):
        polls = w.spin_for(-1.0) > 0.0
        ways.append(polls)
        if polls and with_polling <= w.window:
            w.caught(with_polling)
        elif polls:
            w.slept(with_polling - w.window, with_polling)
        else:
            w.slept(without, without)
    return ways


def test_polling_that_shortens_the_waits_is_kept_and_sleeping_is_only_probed() -> None:
    """A quiet machine: an echo comes 40 µs after the send when polling, 90 µs when the
    thread sleeps (the wake-up latency)."""
    w = SpinWindow(limit=100e-6, start=10e-6)
    periods = 3
    ways = _waits(w, 2 * EPOCH + periods * (PROBE_EVERY * EPOCH + PROBE), 40e-6, 90e-6)
    assert w.typical_poll is not None and w.typical_sleep is not None
    assert w.typical_poll < w.typical_sleep
    later = ways[2 * EPOCH:]
    assert later.count(False) == periods * PROBE  # the probes of sleeping, nothing more
    assert w.polling


def test_polling_that_does_not_shorten_the_waits_is_dropped() -> None:
    """A busy machine: polling keeps a core the peer needs busy, so the answer comes later
    when polling (150 µs) than when sleeping (80 µs)."""
    w = SpinWindow(limit=100e-6, start=10e-6)
    periods = 4
    ways = _waits(w, 2 * EPOCH + periods * (PROBE_EVERY_SLEEPING * EPOCH + PROBE), 150e-6, 80e-6)
    later = ways[2 * EPOCH:]
    assert later.count(True) == periods * PROBE  # the probes of polling, nothing more
    assert w.spin_for(-1.0) == 0.0


def test_a_change_of_conditions_is_noticed_at_the_next_probe() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    busy = _waits(w, 2 * EPOCH + 2 * PROBE_EVERY_SLEEPING * EPOCH, 150e-6, 80e-6)
    assert busy[2 * EPOCH:].count(True) <= 2 * PROBE  # sleeping won
    # quiet again: the smoothed wait with polling comes down within a probe or two
    ways = _waits(w, 4 * PROBE_EVERY_SLEEPING * EPOCH + PROBE_EVERY * EPOCH, 40e-6, 90e-6)
    assert ways[-PROBE_EVERY * EPOCH:].count(False) <= PROBE
    assert w.polling


def test_polling_within_a_tenth_of_sleeping_is_not_worth_its_cpu() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    ways = _waits(w, EPOCH * (2 + PROBE_EVERY), 85e-6, 90e-6)
    assert ways[2 * EPOCH:].count(True) <= EPOCH


def test_waits_a_deadline_ended_do_not_count() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    for _ in range(10 * EPOCH):
        w.slept(50e-6)  # timers, not events
    assert w.typical_poll is None and w.typical_sleep is None and w.polling


def test_a_few_long_waits_do_not_decide_an_epoch() -> None:
    """A GC pause or a slow reply in an epoch must not make polling look worse than it is:
    an epoch counts its median wait."""
    w = SpinWindow(limit=100e-6, start=10e-6)
    _waits(w, 2 * EPOCH, 40e-6, 90e-6)
    assert w.typical_poll == pytest.approx(40e-6) and w.typical_sleep == pytest.approx(90e-6)
    assert w.polling
    for _ in range(EPOCH // 4):
        w.caught(5e-3)
    _waits(w, EPOCH - EPOCH // 4, 40e-6, 90e-6)
    assert w.typical_poll == pytest.approx(40e-6)
    assert w.polling


def test_the_typical_wait_is_smoothed_over_epochs() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    _waits(w, 2 * EPOCH, 40e-6, 90e-6)
    _waits(w, EPOCH, 80e-6, 90e-6)  # one slow polling epoch
    assert w.typical_poll == pytest.approx(40e-6 + spinwait.SMOOTHING * 40e-6)
    assert w.polling  # 60 µs still pays against 90
