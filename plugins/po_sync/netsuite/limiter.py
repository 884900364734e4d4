"""A resizable concurrency limiter that keeps in-flight NetSuite requests within the account's limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class ConcurrencyLimiter:
    """Counts in-flight requests and blocks callers past ``limit``.

    The limit can be changed at runtime (``resize``). On a 429 the limiter lowers its working limit by
    one (at most once per ``cooldown`` seconds, never below 1) and grows back towards the configured
    ceiling after ``recover_after`` consecutive successes, so a lowered account limit is found without
    a storm of retries.

    :param limit: the ceiling: the account's (or integration's) concurrency limit.
    :param recover_after: successes needed before the working limit grows by one.
    :param cooldown: seconds between two decreases.
    """

    def __init__(self, limit: int, *, recover_after: int = 50, cooldown: float = 0.5) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be at least 1")
        self._lock = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._ceiling = limit
        self._limit = limit
        self._in_flight = 0
        self._successes = 0
        self._recover_after = recover_after
        self._cooldown = cooldown
        self._last_decrease = 0.0
        self.peak_in_flight = 0
        self.rate_limited = 0

    @property
    def limit(self) -> int:
        """The working limit right now."""
        return self._limit

    @property
    def ceiling(self) -> int:
        """The configured maximum."""
        return self._ceiling

    @property
    def in_flight(self) -> int:
        """Requests holding a slot right now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers queued for a slot right now."""
        return len(self._waiters)

    def resize(self, limit: int) -> None:
        """Set a new ceiling (and working limit), e.g. after reading ``governanceLimits``.

        :param limit: the new limit, at least 1.
        """
        if limit < 1:
            raise ValueError("concurrency limit must be at least 1")
        with self._lock:
            self._ceiling = limit
            self._limit = limit
            self._successes = 0
            self._grant()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of a request.

        Slots are granted first come, first served: callers that fetch pages in order get them in order, so no
        page is starved while later ones go ahead and stall an ordered reader. A freed slot is handed to exactly
        one waiter (no herd of woken threads competing for the GIL while a response waits to be read).
        """
        waiter: threading.Lock | None = None
        with self._lock:
            if self._in_flight < self._limit and not self._waiters:
                self._admit()
            else:
                waiter = threading.Lock()
                waiter.acquire()
                self._waiters.append(waiter)
        if waiter is not None:
            waiter.acquire()  # released by _grant once this caller holds a slot
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._grant()

    def _admit(self) -> None:
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def _grant(self) -> None:
        """Hand free slots to the longest-waiting callers (lock held)."""
        while self._waiters and self._in_flight < self._limit:
            self._admit()
            self._waiters.popleft().release()

    def record_success(self) -> None:
        """Note a request that was not rate limited; may grow the working limit back."""
        with self._lock:
            if self._limit >= self._ceiling:
                return
            self._successes += 1
            if self._successes >= self._recover_after:
                self._successes = 0
                self._limit += 1
                self._grant()

    def record_rate_limited(self) -> None:
        """Note a 429; lowers the working limit by one (with a cooldown)."""
        now = time.monotonic()
        with self._lock:
            self.rate_limited += 1
            self._successes = 0
            if now - self._last_decrease >= self._cooldown and self._limit > 1:
                self._limit -= 1
                self._last_decrease = now
