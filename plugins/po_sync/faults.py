"""Crash injection for tests and drills: named crash points after every side effect of every flow.

Each flow declares its crash points when its operator module is imported (:func:`declare`), one
right after each side effect (a NetSuite write, an S3 / SFTP upload, rename, move or delete, an SQS
message, an X-Series / ServiceNow / Onetrail write, a ledger commit), and calls
:meth:`CrashPoint.hit` there. A point is named ``<flow>.<point>`` (``hotwax_po_export.after_upload``),
so a test can enumerate every point of every flow (:func:`declared`) and crash at each in turn.

Which points fire is chosen by one environment variable, :data:`CRASH_ENV`: a comma-separated list of
point names or ``fnmatch`` patterns (``hotwax_po_export.*``, ``*``; a bare flow name selects the points
it declared ``legacy=True``), each optionally ``@N`` = fire only at the N-th hit of that pattern in
this process (``@1``: once, so an in-process Airflow retry of the same task gets past it). When the variable is unset and ``[po_sync] dev_mode`` is on, the Airflow
Variable :data:`CRASH_VARIABLE` is read instead, once per task (:func:`arm_for_task`), never per hit.
Off, a hit costs a few dictionary lookups: no database, no Variable.

A crash raises :class:`InjectedCrash` (a ``BaseException``, like ``SystemExit``: no ``except
Exception`` in a flow can swallow it and carry on as if the worker had lived), or, with
:data:`CRASH_MODE_ENV` = ``exit``, ends the process at once (``os._exit(137)``, no ``finally``), as
the OOM killer or a lost node would. Never set in production.

The older knobs still work: ``PO_SYNC_CRASH_AFTER_WRITE=<flow>[,<flow>]|*`` fires the points a flow
declared ``legacy=True`` (its first crash points, after the write its ledger row tracks),
``PO_SYNC_HOTWAX_CRASH=<point>`` fires ``hotwax_*.<point>``, and ``PO_SYNC_EXIT_AT_CLAIM=<flow>|*``
ends the process right after the ledger claimed a record.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from dataclasses import dataclass

__all__ = [
    "CRASH_ENV",
    "CRASH_MODE_ENV",
    "CRASH_VARIABLE",
    "EXIT_AT_CLAIM_ENV",
    "LEGACY_CRASH_ENV",
    "LEGACY_HOTWAX_ENV",
    "CrashPoint",
    "InjectedCrash",
    "arm_for_task",
    "declare",
    "declare_ledger_points",
    "declared",
    "hit",
    "maybe_crash",
    "maybe_exit_at_claim",
]

#: The one knob: comma-separated point names or patterns, each optionally ``@N`` (see the module doc).
CRASH_ENV = "PO_SYNC_CRASH"
#: ``raise`` (default: :class:`InjectedCrash`) or ``exit`` (``os._exit``, for real worker processes).
CRASH_MODE_ENV = "PO_SYNC_CRASH_MODE"
#: Airflow Variable with the same syntax as :data:`CRASH_ENV`, read once per task, dev mode only.
CRASH_VARIABLE = "po_sync_crash"
#: Older knob (alias): flow names; fires the points declared ``legacy=True``.
LEGACY_CRASH_ENV = "PO_SYNC_CRASH_AFTER_WRITE"
#: Older knob (alias): a HotWax point name (``after_upload``, ``after_receipt``...).
LEGACY_HOTWAX_ENV = "PO_SYNC_HOTWAX_CRASH"
#: Kept for older imports: the name of the older flow-level knob.
CRASH_AFTER_WRITE_ENV = LEGACY_CRASH_ENV

#: The exit status of a simulated kill (as a shell reports SIGKILL).
EXIT_STATUS = 137


class InjectedCrash(BaseException):  # noqa: N818 - it is a crash, not an error to handle
    """A simulated worker death at a crash point: nothing after it in the task runs."""


@dataclass(frozen=True)
class CrashPoint:
    """One declared point: ``flow.point``, the side effect it follows, and whether the older
    ``PO_SYNC_CRASH_AFTER_WRITE`` knob fires it."""

    flow: str
    point: str
    after: str
    legacy: bool = False

    @property
    def name(self) -> str:
        return f"{self.flow}.{self.point}"

    def hit(self) -> None:
        """Crash here if armed (see the module doc); a no-op otherwise."""
        spec = os.environ.get(CRASH_ENV) or _variable_spec
        if spec:
            _fire_if_selected(self, spec)
        legacy = os.environ.get(LEGACY_CRASH_ENV)
        if legacy:
            for wanted in legacy.split(","):
                if wanted == f"{self.flow}:{self.point}" or (self.legacy and wanted in ("*", self.flow)):
                    _crash(self, LEGACY_CRASH_ENV)
        if self.flow.startswith("hotwax_"):
            points = os.environ.get(LEGACY_HOTWAX_ENV)
            if points and self.point in {p.strip() for p in points.split(",")}:
                _crash(self, LEGACY_HOTWAX_ENV)


_REGISTRY: dict[str, CrashPoint] = {}
_registry_lock = threading.Lock()


def declare(flow: str, point: str, after: str, *, legacy: bool = False) -> CrashPoint:
    """Declare (at import) the crash point ``flow.point`` right after the side effect ``after``.

    Declaring the same name twice with the same meaning is harmless (a module reloaded); two
    different meanings for one name are a programming error.
    """
    if not flow or "." in flow or not point or "." in point:
        raise ValueError(f"crash point names are <flow>.<point> without dots inside: {flow!r}.{point!r}")
    crash_point = CrashPoint(flow, point, after, legacy)
    with _registry_lock:
        known = _REGISTRY.setdefault(crash_point.name, crash_point)
    if known != crash_point:
        raise ValueError(f"crash point {crash_point.name} declared twice with different meanings")
    return crash_point


#: The points every flow that records through :class:`po_sync.sync.SyncRun` has: the ledger's
#: commit of a claim and of an outcome (synced, ignored, failed, quarantined).
LEDGER_POINTS = {
    "ledger_claimed": "the ledger committed a record's claim (in_progress)",
    "ledger_recorded": "the ledger committed a record's outcome (synced, ignored, failed or quarantined)",
}


def declare_ledger_points(flow: str) -> list[CrashPoint]:
    """Declare ``flow``'s :data:`LEDGER_POINTS` (its operator module does, at import)."""
    return [declare(flow, point, after) for point, after in LEDGER_POINTS.items()]


def hit(flow: str, point: str) -> None:
    """Crash at ``flow.point`` if it is declared and armed; used where the flow is known only at run
    time (the ledger points in :class:`po_sync.sync.SyncRun`). Off, one environment lookup."""
    if os.environ.get(CRASH_ENV) or _variable_spec or os.environ.get(LEGACY_CRASH_ENV):
        known = _REGISTRY.get(f"{flow}.{point}")
        if known is not None:
            known.hit()


def declared(flow: str | None = None) -> list[CrashPoint]:
    """Every declared point (of ``flow``), in declaration order."""
    with _registry_lock:
        points = list(_REGISTRY.values())
    return [p for p in points if flow is None or p.flow == flow]


# ---- arming


_variable_spec: str | None = None
#: names of the points that fired in this process (tests check a crash really happened there)
fired: list[str] = []
_hits: dict[tuple[str, str], int] = {}
_hits_lock = threading.Lock()


def arm_for_task() -> None:
    """Read :data:`CRASH_VARIABLE` once at the start of a task, when :data:`CRASH_ENV` is unset and
    dev mode is on (a production deployment never looks it up); any failure reads as unset."""
    global _variable_spec
    _variable_spec = None
    if os.environ.get(CRASH_ENV):
        return
    try:
        from po_sync.dev_mode import dev_mode

        if not dev_mode():
            return
        from airflow.sdk import Variable

        value = Variable.get(CRASH_VARIABLE, default=None)
    except Exception:  # noqa: BLE001 - a drill knob must never fail a task
        return
    _variable_spec = (str(value).strip() or None) if value else None


def reset() -> None:
    """Forget hit counts and the Variable's value (tests)."""
    global _variable_spec
    _variable_spec = None
    with _hits_lock:
        _hits.clear()
        fired.clear()


def _fire_if_selected(point: CrashPoint, spec: str) -> None:
    for item in spec.split(","):
        pattern, _, nth = item.strip().partition("@")
        if "." not in pattern and "*" not in pattern:  # older style: a flow (its legacy points)
            if not (pattern == f"{point.flow}:{point.point}" or (point.legacy and pattern == point.flow)):
                continue
        elif not pattern or not fnmatch.fnmatchcase(point.name, pattern):
            continue
        if not nth:
            _crash(point, CRASH_ENV)
        with _hits_lock:
            count = _hits[(spec, item)] = _hits.get((spec, item), 0) + 1
        if count == int(nth):
            _crash(point, CRASH_ENV)


def _crash(point: CrashPoint, knob: str) -> None:
    with _hits_lock:
        fired.append(point.name)
    if os.environ.get(CRASH_MODE_ENV, "raise") == "exit":
        os._exit(EXIT_STATUS)
    raise InjectedCrash(f"{knob}: simulated crash at {point.name} (after {point.after})")


# ---- older entry points


def maybe_crash(flow: str) -> None:
    """Older call sites without a declared point: fire when :data:`LEGACY_CRASH_ENV` names ``flow``
    (or ``*``), or :data:`CRASH_ENV` selects ``<flow>.legacy``."""
    flow, _, point = flow.partition(":")
    declare(flow, point or "legacy", "a side effect (older undeclared call site)", legacy=True).hit()


#: Fault-injection knob: when this environment variable names the flow (or is ``*``), the process
#: ends at once (``os._exit``, no cleanup, no ``finally``) right after the ledger marked a record
#: ``in_progress``: what a worker killed by the OOM killer or a lost node leaves behind (a
#: ``processing`` run holding a claim). Never set in production.
EXIT_AT_CLAIM_ENV = "PO_SYNC_EXIT_AT_CLAIM"

#: The exit status of the simulated kill (as a shell reports SIGKILL).
EXIT_AT_CLAIM_STATUS = EXIT_STATUS


def maybe_exit_at_claim(flow: str) -> None:
    """End the process at once when :data:`EXIT_AT_CLAIM_ENV` names ``flow`` (see there)."""
    wanted = os.environ.get(EXIT_AT_CLAIM_ENV, "")
    if wanted and (wanted == "*" or flow in wanted.split(",")):
        os._exit(EXIT_AT_CLAIM_STATUS)
