"""Fault injection for tests and drills: a simulated worker death right after a side effect.

Off unless :data:`CRASH_ENV` is set; checking it costs one environment lookup.
"""

from __future__ import annotations

import os

__all__ = ["CRASH_ENV", "InjectedCrash", "maybe_crash"]

#: Fault-injection knob for tests and drills: when this environment variable names the flow (or is
#: ``*``), the operator raises :class:`InjectedCrash` right after a side effect and before the
#: ledger records it, as if the worker died there. Never set in production.
CRASH_ENV = "PO_SYNC_CRASH_AFTER_WRITE"


class InjectedCrash(RuntimeError):
    """Raised by :func:`maybe_crash`: a simulated worker death between a write and its ledger update."""


def maybe_crash(flow: str) -> None:
    """Raise :class:`InjectedCrash` when :data:`CRASH_ENV` names ``flow`` (see there)."""
    wanted = os.environ.get(CRASH_ENV, "")
    if wanted and (wanted == "*" or flow in wanted.split(",")):
        raise InjectedCrash(f"{CRASH_ENV}: simulated crash after a write in {flow}")
