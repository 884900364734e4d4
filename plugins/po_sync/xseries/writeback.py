"""Per-order sync errors written back to NetSuite, as the Vend proposal's "Error Handling" asks.

The proposal keeps the last sync error of a purchase / transfer order in NetSuite, where the buyer
looks: either the order's own field (``custbody_vend_error`` on the "Vend Sync" subtab) or one
instance per order of the error custom record (``customrecord_vend_po_sync``, attached to the order,
its error field empty when the order synced). Which one an account has is the settings table's
``error_writeback`` (``field``, ``record`` or ``off``).

The ledger stays the source of truth; NetSuite gets a copy:

- an order whose record became ``failed`` or ``quarantined`` with a new message gets that message;
- an order that synced after a failure gets its error cleared (empty field / empty record error);
- writing the copy never decides the order's outcome: a NetSuite refusal is logged and counted in the
  run's notes (``error_writeback_failed``), the ledger keeps the error, and the next run tries again
  because the ledger still differs from what NetSuite was last given.

The same errors reach people by mail through the flow's digest (``po_sync.notify``,
``FlowDigestNotifier`` in every ``vend_*`` DAG's callbacks).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from po_sync.exceptions import ExternalSystemError
from po_sync.ledger import RecordKey, RecordStatus

if TYPE_CHECKING:
    from po_sync.netsuite import NetSuiteHook
    from po_sync.sync import SyncRun

log = logging.getLogger(__name__)

ERROR_FIELD = "custbody_vend_error"
ERROR_RECORD = "customrecord_vend_po_sync"
TARGETS = ("field", "record", "off")
BAD = (RecordStatus.FAILED, RecordStatus.QUARANTINED)
#: NetSuite long-text fields hold 4,000 characters.
MAX_TEXT = 3900


def error_text(code: str | None, message: str | None) -> str:
    """What NetSuite shows: ``CODE: message``, clipped to the field's size."""
    text = f"{code or 'ERROR'}: {message or ''}".strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def record_external_id(record_type: str, order_id: str) -> str:
    """The error record's external id: one instance per order (an upsert never makes a second)."""
    return f"VENDERR-{'TO' if record_type == 'transferOrder' else 'PO'}-{order_id}"


class ErrorWriteBack:
    """Copies one flow's per-order outcome to NetSuite.

    :param ns: the NetSuite hook.
    :param run: the flow's run (its ledger and notes).
    :param target: ``field``, ``record`` or ``off``.
    """

    def __init__(self, ns: NetSuiteHook, run: SyncRun, *, target: str) -> None:
        if target not in TARGETS:
            raise ValueError(f"error_writeback must be one of {', '.join(TARGETS)}")
        self.ns = ns
        self.run = run
        self.target = target

    @contextlib.contextmanager
    def around(
        self, key: RecordKey, *, record_type: str, order_id: str, current: str | None = None
    ) -> Iterator[None]:
        """Wrap one order's ``run.process``: compare its ledger state before and after, then write.

        :param current: the error NetSuite shows now, when the caller read it (field mode), so a stale
            error is cleared even if the ledger has no failure on record.
        """
        before = self.run.ledger.get(key) if self.target != "off" else None
        yield
        if self.target == "off":
            return
        after = self.run.ledger.get(key)
        if after is None:
            return
        if after.status in BAD:
            text = error_text(after.last_error_code, after.last_error_message)
            was = (
                error_text(before.last_error_code, before.last_error_message)
                if before is not None and before.status in BAD
                else None
            )
            if text != was or (current is not None and current != text):
                self._write(record_type, order_id, text)
        elif after.status is RecordStatus.SYNCED:
            if (before is not None and before.status in BAD) or current:
                self._write(record_type, order_id, "")

    def _write(self, record_type: str, order_id: str, text: str) -> None:
        try:
            if self.target == "field":
                self.ns.update_record(record_type, order_id, {ERROR_FIELD: text}, idempotent=True)
            else:
                self.ns.upsert_record(
                    ERROR_RECORD,
                    record_external_id(record_type, order_id),
                    {
                        "name": f"{record_type} {order_id}",
                        "custrecord_vend_sync_order": {"id": str(order_id)},
                        "custrecord_vend_sync_flow": self.run.flow,
                        "custrecord_vend_sync_error": text,
                    },
                )
        except ExternalSystemError as exc:
            log.warning(
                "could not write the sync error of %s %s back to NetSuite (%s): %s",
                record_type,
                order_id,
                self.target,
                exc,
            )
            self.run.notes["error_writeback_failed"] = self.run.notes.get("error_writeback_failed", 0) + 1
            return
        name = "error_writeback_cleared" if not text else "error_writeback_written"
        self.run.notes[name] = self.run.notes.get(name, 0) + 1


def current_error(row: Any) -> str | None:
    """The ``custbody_vend_error`` a SuiteQL row carries (None when empty or not selected)."""
    value = row.get(ERROR_FIELD) if hasattr(row, "get") else None
    return str(value) if value not in (None, "") else None
