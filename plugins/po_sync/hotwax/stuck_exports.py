"""Export records a crashed run left behind whose PO the export query no longer returns.

The export query reads Pending Receipt POs whose exported flag is not set. A run that crashed after
setting a PO's flag (or after HotWax's file went out, when the PO has since moved on from Pending
Receipt) leaves that PO's ledger record ``in_progress`` (or ``failed`` with ``FLAG_NOT_SET``), and no
later run reads the PO again: the record would stay open for good. Each run therefore looks at such
records first and settles them from what NetSuite and the SFTP server hold (DESIGN.md, rule 1: the
ledger agrees with the targets):

- the PO's file (the record's ``trace_key``) is on the server, in the folder or HotWax's
  ``archive/``: the flag is set if it is not yet, and the record is ``synced`` to that file;
- no such file, but the PO is flagged: ``failed`` (``EXPORT_UNCONFIRMED``), with what to do;
- no such file and no flag (the PO left Pending Receipt before it went out), or the PO is gone:
  ``ignored`` with a code of :data:`NEVER_SENT`, so the PO goes out should it come back.

A record another run still holds (a live run's claim) is ``busy`` and left to that run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from po_sync.exceptions import SYSTEM_FAULTS, ExternalSystemError
from po_sync.ledger import Action, RecordState, RecordStatus
from po_sync.validation import suiteql_int

if TYPE_CHECKING:
    from po_sync.netsuite import NetSuiteHook
    from po_sync.sync import SyncRun

ENTITY_TYPE = "purchase_order"
#: the ``failed`` code of a PO whose file went out but whose flag could not be set
FLAG_NOT_SET = "FLAG_NOT_SET"
#: ``ignored`` codes of POs whose file never went out: should such a PO be read again (back in
#: Pending Receipt), it is exported, never taken for one already exported
NOT_EXPORTED, PO_GONE = "NO_LONGER_PENDING", "PO_GONE"
NEVER_SENT = (NOT_EXPORTED, PO_GONE)
#: at most this many left-behind records are settled per run (the rest the next run)
SETTLE_LIMIT = 500
#: ids per SuiteQL ``IN (...)`` list
_BATCH = 200


def stuck_records(run: SyncRun, *, listed: Collection[str], limit: int = SETTLE_LIMIT) -> list[RecordState]:
    """The flow's open export records (``in_progress``, or ``failed`` with ``FLAG_NOT_SET``) whose PO
    is not among ``listed`` (the POs this run's export query returned: those the export handles)."""
    states = run.ledger.find(
        run.flow,
        statuses=(RecordStatus.IN_PROGRESS, RecordStatus.FAILED),
        entity_type=ENTITY_TYPE,
        limit=limit,
    )
    return [
        s
        for s in states
        if s.key.source_id not in listed
        and s.key.source_system == "netsuite"
        and (s.status is RecordStatus.IN_PROGRESS or s.last_error_code == FLAG_NOT_SET)
        and s.key.source_id.isdigit()
    ]


def exported_flags(netsuite: NetSuiteHook, po_ids: Sequence[str], exported_field: str) -> dict[str, bool]:
    """PO internal id -> whether ``exported_field`` is set, for those of ``po_ids`` that still exist."""
    flags: dict[str, bool] = {}
    ids = sorted(set(po_ids), key=int)
    for start in range(0, len(ids), _BATCH):
        listed = ", ".join(suiteql_int(i) for i in ids[start : start + _BATCH])
        query = (
            f"SELECT t.id AS po_id, NVL(t.{exported_field}, 'F') AS exported FROM transaction t "
            f"WHERE t.type = 'PurchOrd' AND t.id IN ({listed}) ORDER BY t.id"
        )
        for row in netsuite.suiteql(query):
            flags[str(row.get("po_id"))] = row.get("exported") in ("T", True, "true")
    return flags


def settle(
    run: SyncRun,
    netsuite: NetSuiteHook,
    stuck: Sequence[RecordState],
    *,
    exported_field: str,
    delivered: Callable[[str | None], bool],
    sweep: Callable[[str | None], Any],
    log: Any,
) -> None:
    """Settle ``stuck`` (see the module doc).

    :param delivered: whether a file name is on the server (the folder or ``archive/``).
    :param sweep: removes the hidden temporary uploads of a file name whose writer is gone.
    """
    flags = exported_flags(netsuite, [s.key.source_id for s in stuck], exported_field)
    for state in stuck:
        po_id, trace = state.key.source_id, state.trace_key
        exists, flagged = po_id in flags, flags.get(po_id, False)
        out = delivered(trace) if exists else False
        decision = run.begin(state.key, payload_hash=state.payload_hash)
        if decision.action is Action.BUSY:
            continue  # a live run holds it: that run finishes it
        if decision.action is Action.SKIP:
            run.forget(decision)  # another run finished it since it was read
            continue
        sweep(trace)
        if not exists:
            run.ignored(decision, code=PO_GONE, reason=f"PO {po_id} is no longer in NetSuite; not exported")
        elif out:
            if not flagged:
                try:
                    netsuite.update_record("purchaseOrder", po_id, {exported_field: True}, idempotent=True)
                except SYSTEM_FAULTS:
                    raise
                except ExternalSystemError as exc:
                    run.failed(
                        decision,
                        code=FLAG_NOT_SET,
                        message=f"exported in {trace} but {exported_field} not set: {exc}",
                    )
                    continue
            log.info("PO %s: exported in %s before a crash; recorded as synced", po_id, trace)
            run.synced(decision, target_system="hotwax", target_id=trace)
        elif flagged:
            run.failed(
                decision,
                code="EXPORT_UNCONFIRMED",
                message=(
                    f"PO {po_id} is flagged {exported_field} in NetSuite, but its file "
                    f"{trace or '(none recorded)'} is neither in the HotWax folder nor in archive/: ask "
                    "HotWax whether they have it, else export it again with resync_po_numbers"
                ),
            )
        else:
            run.ignored(
                decision,
                code=NOT_EXPORTED,
                reason=(
                    f"PO {po_id} left Pending Receipt (or has no open line) before its file reached "
                    "HotWax; not exported"
                ),
            )
