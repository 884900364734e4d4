"""The concurrency limiter on its own: slots in arrival order, one waiter per freed slot, resizing."""

from __future__ import annotations

import threading
import time

import pytest

from po_sync.netsuite.limiter import ConcurrencyLimiter


def _start_waiter(
    limiter: ConcurrencyLimiter, name: int, order: list[int], release: threading.Event
) -> threading.Thread:
    def run() -> None:
        with limiter.slot():
            order.append(name)
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def test_slots_are_granted_in_arrival_order() -> None:
    limiter = ConcurrencyLimiter(1)
    order: list[int] = []
    gates = [threading.Event() for _ in range(6)]
    threads = [_start_waiter(limiter, 0, order, gates[0])]
    _wait_for(lambda: order == [0])
    for name in range(1, 6):
        threads.append(_start_waiter(limiter, name, order, gates[name]))
        _wait_for(lambda n=name: limiter.waiting == n)  # queued before the next one arrives
    for name in range(6):
        _wait_for(lambda n=name: len(order) == n + 1)
        assert limiter.in_flight == 1
        gates[name].set()
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))
    assert limiter.in_flight == 0 and limiter.peak_in_flight == 1


def test_a_freed_slot_goes_to_the_queued_caller_and_newcomers_queue_behind() -> None:
    limiter = ConcurrencyLimiter(1)
    order: list[int] = []
    first, second = threading.Event(), threading.Event()
    holder = _start_waiter(limiter, 0, order, first)
    _wait_for(lambda: order == [0])
    waiter = _start_waiter(limiter, 1, order, second)
    _wait_for(lambda: limiter.waiting == 1)
    first.set()
    holder.join(5)
    # the freed slot went to the waiter, not to whoever asks next
    _wait_for(lambda: order == [0, 1])
    late: list[int] = []
    late_gate = threading.Event()
    late_gate.set()
    newcomer = _start_waiter(limiter, 2, late, late_gate)
    time.sleep(0.05)
    assert late == []  # still queued behind the holder
    second.set()
    waiter.join(5)
    newcomer.join(5)
    assert late == [2]


def test_growing_the_limit_admits_waiters_and_a_429_shrinks_it() -> None:
    limiter = ConcurrencyLimiter(1, recover_after=2, cooldown=0)
    order: list[int] = []
    gates = [threading.Event() for _ in range(3)]
    threads = [_start_waiter(limiter, n, order, gates[n]) for n in range(3)]
    _wait_for(lambda: len(order) == 1)
    limiter.resize(3)
    _wait_for(lambda: len(order) == 3)
    assert limiter.in_flight == 3
    limiter.record_rate_limited()
    assert limiter.limit == 2 and limiter.rate_limited == 1
    limiter.record_success()
    limiter.record_success()
    assert limiter.limit == 3
    for gate in gates:
        gate.set()
    for thread in threads:
        thread.join(5)
    assert limiter.in_flight == 0


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimiter(0)
    with pytest.raises(ValueError):
        ConcurrencyLimiter(2).resize(0)
