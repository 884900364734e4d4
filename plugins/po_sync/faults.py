"""Fault injection for tests and drills: a simulated worker death right after a side effect, or a
real one (the process ends at once) right after the ledger claimed a record.

Off unless :data:`CRASH_ENV` / :data:`EXIT_AT_CLAIM_ENV` is set; checking costs one environment lookup.
"""

from __future__ import annotations

import os

__all__ = ["CRASH_ENV", "EXIT_AT_CLAIM_ENV", "InjectedCrash", "maybe_crash", "maybe_exit_at_claim"]

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


#: Fault-injection knob: when this environment variable names the flow (or is ``*``), the process
#: ends at once (``os._exit``, no cleanup, no ``finally``) right after the ledger marked a record
#: ``in_progress``: what a worker killed by the OOM killer or a lost node leaves behind (a
#: ``processing`` run holding a claim). Never set in production.
EXIT_AT_CLAIM_ENV = "PO_SYNC_EXIT_AT_CLAIM"

#: The exit status of the simulated kill (as a shell reports SIGKILL).
EXIT_AT_CLAIM_STATUS = 137


def maybe_exit_at_claim(flow: str) -> None:
    """End the process at once when :data:`EXIT_AT_CLAIM_ENV` names ``flow`` (see there)."""
    wanted = os.environ.get(EXIT_AT_CLAIM_ENV, "")
    if wanted and (wanted == "*" or flow in wanted.split(",")):
        os._exit(EXIT_AT_CLAIM_STATUS)
