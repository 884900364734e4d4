"""Injected faults shared by the HTTP stand-ins: scripted faults for the next matching calls, and rates.

One plan per sandbox service; the service's knobs give the rates and the seed (``fault_rates``,
``fault_seed``), so a run with the same seed injects the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = ["FAULT_KINDS", "FaultPlan", "FaultRates", "ScriptedFault"]

FAULT_KINDS = ("429", "500", "502", "503", "timeout", "drop", "drop_after")


class FaultRates(Protocol):
    """What :meth:`FaultPlan.next_fault` reads of a service's knobs."""

    fault_seed: int
    fault_rates: dict[str, float]


@dataclass
class ScriptedFault:
    """A fault for the next ``count`` calls that match.

    :param kind: one of :data:`FAULT_KINDS`.
    :param count: how many calls get it.
    :param method: only calls with this HTTP method.
    :param path_contains: only calls whose path contains this text.
    """

    kind: str
    count: int = 1
    method: str | None = None
    path_contains: str | None = None


class FaultPlan:
    """Decides, per call, which fault (if any) the sandbox injects. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripted: list[ScriptedFault] = []
        self._rng = random.Random(7)
        self._seed = 7

    def inject(self, fault: ScriptedFault) -> None:
        """Queue a scripted fault."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._scripted.append(fault)

    def clear(self) -> None:
        """Drop all scripted faults."""
        with self._lock:
            self._scripted.clear()

    def pending(self) -> list[dict[str, Any]]:
        """Scripted faults not yet used."""
        with self._lock:
            return [asdict(f) for f in self._scripted]

    def next_fault(self, knobs: FaultRates, method: str, path: str) -> str | None:
        """The fault for this call, or None."""
        with self._lock:
            for fault in self._scripted:
                if fault.method and fault.method.upper() != method.upper():
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._scripted.remove(fault)
                return fault.kind
            if knobs.fault_seed != self._seed:
                self._seed = knobs.fault_seed
                self._rng = random.Random(knobs.fault_seed)
            for kind, rate in knobs.fault_rates.items():
                if rate > 0 and self._rng.random() < rate:
                    return kind
        return None
