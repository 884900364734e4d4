"""The X-Series rate budget: ``300 × registers + 50`` requests per 5-minute window, per retailer per app.

A breach is HTTP 429 ``{"error": "Too Many Requests", "message": "Rate limiting enforced"}`` with
``Retry-After`` as an RFC 1123 HTTP-date (not seconds), the end of the current window rounded up to
the second (the date format has no finer resolution). ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``
go on every answer (``reference/external-systems.md`` §1.5).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate


@dataclass
class Window:
    started: float
    used: int = 0


@dataclass
class RateBudget:
    """Fixed windows per bucket (``app:<client_id>``, ``personal``, ``token``). Thread-safe."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    windows: dict[str, Window] = field(default_factory=dict)
    rejected: int = 0
    rejected_by_window: dict[int, int] = field(default_factory=dict)
    #: when each 429 was given (epoch seconds), for benchmarks
    rejected_at: list[float] = field(default_factory=list)
    #: when each admitted request was counted (epoch seconds), for benchmarks
    admitted_at: list[float] = field(default_factory=list)

    def take(self, bucket: str, limit: int, window_seconds: float) -> tuple[bool, int, str | None]:
        """Count one request: ``(admitted, remaining, retry_after_date_or_None)``."""
        now = time.time()
        with self.lock:
            win = self.windows.get(bucket)
            if win is None or now >= win.started + window_seconds:
                win = self.windows[bucket] = Window(started=now)
            if win.used >= limit:
                self.rejected += 1
                self.rejected_at.append(now)
                ends = math.ceil(win.started + window_seconds)
                index = int(win.started // max(window_seconds, 1e-9))
                self.rejected_by_window[index] = self.rejected_by_window.get(index, 0) + 1
                return False, 0, formatdate(ends, usegmt=True)
            win.used += 1
            self.admitted_at.append(now)
            return True, limit - win.used, None

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()
            self.rejected = 0
            self.rejected_by_window.clear()
            self.rejected_at.clear()
            self.admitted_at.clear()
