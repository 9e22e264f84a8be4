"""The pure timer queue: ordering, intervals without drift, cancellation, draining."""

import math

from jsrunner.timers import TimerQueue, normalise_delay


def fire_all(q: TimerQueue, until: float) -> list[tuple[int, float]]:
    fired = []
    while True:
        due = q.next_due()
        if due is None or due > until:
            return fired
        tid = q.pop_due(due)
        fired.append((tid, due))


def test_due_order_and_fifo_for_equal_due_times():
    q = TimerQueue()
    q.add(1, 0.0, 10, False)
    q.add(2, 0.0, 0, False)
    q.add(3, 0.0, 0, False)
    q.add(4, 5.0, 5, False)  # same due time as timer 1, created later
    assert [t for t, _ in fire_all(q, 100)] == [2, 3, 1, 4]
    assert len(q) == 0


def test_nan_infinity_negative_and_junk_delays_are_zero_and_keep_fifo():
    assert normalise_delay(float("nan")) == 0
    assert normalise_delay(math.inf) == 0
    assert normalise_delay(-5) == 0
    assert normalise_delay("20") == 20
    assert normalise_delay({}) == 0
    q = TimerQueue()
    q.add(1, 0.0, 0, False)
    q.add(2, 0.0, float("nan"), False)
    assert [t for t, _ in fire_all(q, 1)] == [1, 2]


def test_interval_rearms_from_ideal_time_without_drift():
    q = TimerQueue()
    q.add(7, 0.0, 10, True)
    dues = []
    now = 0.0
    for _ in range(500):
        due = q.next_due()
        now = due + 0.7  # every callback fires 0.7 ms late
        assert q.pop_due(now) == 7
        dues.append(due)
    assert dues[-1] == 5000.0  # 500th run exactly at 5 s: no accumulated lateness
    assert q.is_interval(7)


def test_interval_skips_missed_periods_instead_of_bursting():
    q = TimerQueue()
    q.add(1, 0.0, 10, True)
    assert q.pop_due(10.0) == 1
    # the callback blocked for 35 ms: next run at 50, not three catch-up runs
    assert q.next_due() == 20.0
    assert q.pop_due(45.0) == 1
    assert q.next_due() == 50.0


def test_cancel_is_lenient_and_prevents_firing():
    q = TimerQueue()
    q.add(1, 0.0, 5, False)
    q.add(2, 0.0, 5, True)
    q.cancel(1)
    q.cancel("abc")
    q.cancel(None)
    q.cancel(99)
    assert q.pop_due(5.0) == 2
    q.cancel(2)  # clearing an interval (e.g. from its own callback) stops it
    assert q.next_due() is None
    assert len(q) == 0


def test_drain_returns_live_timers_in_due_order():
    q = TimerQueue()
    q.add(1, 0.0, 30, False)
    q.add(2, 0.0, 10, True)
    q.add(3, 0.0, 20, False)
    q.cancel(3)
    assert q.drain() == [(2, True), (1, False)]
    assert q.next_due() is None
