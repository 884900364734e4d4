"""The X-Series rate budget, shared by every task and worker that uses one retailer's app.

Lightspeed allows ``300 × registers + 50`` requests per 5-minute window per retailer per app
(``reference/external-systems.md`` §1.5). The budget's state (window start, requests used) lives in a
small file under an exclusive ``flock``, so every process on a host draws from one count; the server's
``X-RateLimit-Remaining`` is folded back in after each answer (so hosts that do not share the file stay in
step with what the server counted), and a 429's ``Retry-After`` date moves the window to the server's.

A caller past the budget sleeps until the window ends instead of sending a request that would be
refused: while backlogged, the budget is spent at the rate the server allows and no further.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: Requests sent and not yet answered, per state file, in this process (all hooks of a connection).
_IN_FLIGHT: dict[str, int] = {}
_IN_FLIGHT_LOCK = threading.Lock()


class SharedRateBudget:
    """A fixed-window request budget kept in a file.

    :param path: the state file (created on first use).
    :param limit: requests per window.
    :param window_seconds: the window length (300 s; scaled down in benchmarks).
    :param sleep: how to wait (injectable for tests of the arithmetic).
    """

    def __init__(
        self,
        path: Path,
        *,
        limit: int,
        window_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("the rate budget needs a limit of at least 1")
        self.path = Path(path)
        self.limit = limit
        self.window_seconds = window_seconds
        # our window opens when we send, the server's when the request arrives: end ours a little later
        self.guard = max(0.05, window_seconds * 0.01)
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        self.waited_seconds = 0.0
        self.acquired = 0

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, float]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.read(fd, 4096)
                try:
                    state = json.loads(raw) if raw else {}
                except ValueError:
                    state = {}
                state.setdefault("start", 0.0)
                state.setdefault("used", 0.0)
                yield state
                data = json.dumps(state).encode()
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, data)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def acquire(self) -> None:
        """Take one request from the budget, waiting for the next window when this one is spent."""
        while True:
            now = time.time()
            with self._state() as state:
                if state.get("limit"):  # the server's own figure, seen by any process sharing the file
                    self.limit = int(state["limit"])
                if now >= state["start"] + self.window_seconds + self.guard:
                    state["start"], state["used"] = now, 0.0
                if state["used"] < self.limit:
                    state["used"] += 1
                    self.acquired += 1
                    with _IN_FLIGHT_LOCK:
                        _IN_FLIGHT[str(self.path)] = _IN_FLIGHT.get(str(self.path), 0) + 1
                    return
                wait = state["start"] + self.window_seconds + self.guard - now
            self.waited_seconds += max(wait, 0.0)
            self._sleep(max(wait, 0.001))

    def observe(self, *, limit: int | None, remaining: int | None, sent_at: float) -> None:
        """Fold the server's ``X-RateLimit-Limit`` / ``-Remaining`` into the shared count.

        When the server has counted fewer requests than we have, its window restarted while ours still
        runs (windows open on the first request after the last one ended, so ours can lag by a slow
        request): move our window to start at that request's send time, which is no earlier than the
        server's start, so ours ends no earlier than the server's.

        :param limit: the server's budget per window.
        :param remaining: what the server says is left of it.
        :param sent_at: when the answered request was sent (epoch seconds).
        """
        with _IN_FLIGHT_LOCK:
            in_flight = _IN_FLIGHT[str(self.path)] = max(0, _IN_FLIGHT.get(str(self.path), 0) - 1)
        if limit is not None and limit > 0 and limit != self.limit:
            self.limit = limit
        if remaining is None:
            return
        server_used = float(self.limit - remaining)
        answered_at = time.time()
        with self._state() as state:
            if limit is not None and limit > 0:
                state["limit"] = float(limit)
            if server_used <= 1 and state["start"] < answered_at < state["start"] + self.window_seconds:
                # this request opened the server's window, which began when it arrived: no later than
                # now. Start ours here too, so ours never ends before the server's does.
                state["start"] = answered_at
                return
            # answers come back out of order and requests still in flight are counted by us, not yet by
            # the server: only a clear drop (under half our count, a quarter window in) is a new window
            if (
                server_used + in_flight < state["used"] / 2
                and sent_at > state["start"] + self.window_seconds / 4
            ):
                state["start"], state["used"] = sent_at, server_used + in_flight
            else:
                state["used"] = max(state["used"], server_used)

    def release(self) -> None:
        """A request taken from the budget got no answer with rate headers (error, dropped connection)."""
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT[str(self.path)] = max(0, _IN_FLIGHT.get(str(self.path), 0) - 1)

    def exhausted_until(self, when: float) -> None:
        """A 429 said the window ends at ``when`` (epoch): nothing more until then, from anyone."""
        with self._state() as state:
            state["start"] = when - self.window_seconds - self.guard
            state["used"] = float(self.limit)

    def reset(self) -> None:
        """Forget the shared state (tests)."""
        with self._state() as state:
            state["start"], state["used"] = 0.0, 0.0
