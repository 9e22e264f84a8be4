"""The adaptive polling window of a scheduler thread (pure logic, no clock)."""

from __future__ import annotations

import pytest

from jsrunner.spinwait import SpinWindow


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
    w.caught()
    assert w.window == before


def test_a_bounded_wait_is_polled_at_most_to_its_deadline() -> None:
    w = SpinWindow(limit=100e-6, start=100e-6)
    w.slept(1e-6)
    assert w.spin_for(30e-6) == pytest.approx(30e-6)
    assert w.spin_for(1.0) == pytest.approx(100e-6)


def test_a_zero_limit_never_spins() -> None:
    w = SpinWindow(limit=0.0)
    for _ in range(3):
        w.slept(0.0)
    assert w.spin_for(-1.0) == 0.0


def test_a_wake_up_by_another_thread_shrinks_the_window() -> None:
    w = SpinWindow(limit=100e-6, start=10e-6)
    for _ in range(5):
        w.slept(1e-6)
    w.woken()
    assert w.window == pytest.approx(50e-6)
    for _ in range(3):
        w.woken()
    assert w.window == 0.0
