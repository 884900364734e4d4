"""Retry a vendor's failed PO exports in every run, whatever its window (DESIGN.md, ledger rule 3).

A PO whose export failed (S3 refused the write, the mapping failed on data since corrected) must not
wait until someone edits it again: each run of the vendor export also takes up to ``limit`` of the
flow's ``failed`` PO records, the longest-waiting first, and sends them again.

The flow's records are keyed by PO number, not by vendor, and one task runs per vendor; so the
candidates are first looked up in NetSuite (one SuiteQL read), and a task claims
(:meth:`~po_sync.ledger.Ledger.claim`) only the POs of its own vendor, leaving the others to their
vendors' tasks. A failed PO NetSuite no longer has, or one whose status this vendor is not sent any
more, is ``resolved`` with a note saying so, so that it does not hold a place in the queue forever.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from po_sync.ledger import RecordStatus
from po_sync.netsuite.mapping import po_lines_query, status_letters
from po_sync.validation import is_safe_identifier

if TYPE_CHECKING:
    from po_sync.sync import SyncRun
    from po_sync.vendors.settings import VendorSettings

__all__ = ["ENTITY_TYPE", "FailedPORetry"]

ENTITY_TYPE = "purchase_order"

#: Candidates looked at per run, as a multiple of the retry limit: the oldest failed POs of every
#: vendor come first, and this task keeps only its own vendor's.
SCAN_FACTOR = 5

#: PO numbers per SuiteQL ``IN (...)`` list.
CHUNK = 200


class Exporter(Protocol):
    """What the retry needs of ``VendorExporter``: map rows and send each PO."""

    def export(self, rows: Any, *, force: bool, dry_run: bool, zone: tzinfo = ...) -> dict[str, Any]: ...


class FailedPORetry:
    """One vendor's retry of failed PO exports within one run.

    :param run: the ledger run.
    :param settings: the vendor.
    :param netsuite: an open ``NetSuiteHook``.
    :param limit: most POs retried per run (0 = none).
    :param log: the task's logger.
    """

    def __init__(
        self, *, run: SyncRun, settings: VendorSettings, netsuite: Any, limit: int, log: Any
    ) -> None:
        self.run = run
        self.settings = settings
        self.netsuite = netsuite
        self.limit = limit
        self.log = log

    def _lookup(self, numbers: list[str]) -> dict[str, list[Mapping[str, Any]]]:
        """SuiteQL rows (every vendor, every status) per PO number."""
        found: dict[str, list[Mapping[str, Any]]] = {}
        for offset in range(0, len(numbers), CHUNK):
            for row in self.netsuite.suiteql(po_lines_query(numbers=numbers[offset : offset + CHUNK])):
                found.setdefault(str(row.get("tranid")), []).append(row)
        return found

    def retry(
        self, exporter: Exporter, *, exclude: Collection[str], dry_run: bool, zone: tzinfo = UTC
    ) -> dict[str, Any]:
        """Retry this vendor's failed POs not in ``exclude`` (already read in the window); small counts back."""
        if self.limit <= 0:
            return {"retried": 0}
        run, vendor = self.run, self.settings.vendor_id
        candidates = [
            n
            for n in run.failed_ids(ENTITY_TYPE, limit=self.limit * SCAN_FACTOR)
            if n not in exclude and is_safe_identifier(n)  # SuiteQL literal rule, fullmatch
        ]
        if not candidates:
            return {"retried": 0}
        found = self._lookup(candidates)
        letters = set(status_letters(self.settings.statuses))
        mine: list[str] = []
        gone: dict[str, str] = {}
        for number in candidates:
            rows = found.get(number)
            if not rows:
                gone[number] = f"PO {number} is no longer in NetSuite; its failed export needs nothing more"
                continue
            if str(rows[0].get("vendor")) != vendor:
                continue  # another vendor's PO: its own task retries it
            status = str(rows[0].get("status") or "")
            if letters and status not in letters:
                gone[number] = (
                    f"PO {number} is now in status {status!r}, which vendor {vendor} is not sent; "
                    "its failed export needs nothing more"
                )
                continue
            mine.append(number)
        if dry_run:
            return {"would_retry": min(len(mine), self.limit)}
        claimed = run.claim_failed(ENTITY_TYPE, mine, limit=self.limit)
        if claimed:
            numbers = {state.key.source_id for state in claimed}
            self.log.info(
                "vendor %s: retrying %d failed PO(s): %s", vendor, len(numbers), sorted(numbers)[:20]
            )
            rows = [row for number in mine if number in numbers for row in found[number]]
            try:
                exporter.export(rows, force=False, dry_run=False, zone=zone)
            finally:  # any claimed PO the export did not reach goes back to failed, untouched
                run.ledger.release([state.id for state in claimed], status=RecordStatus.FAILED)
        for state in run.claim_failed(ENTITY_TYPE, sorted(gone), limit=len(gone)):
            run.ledger.resolve(state.key, note=gone[state.key.source_id])
        return {"retried": len(claimed), "retry_resolved": len(gone)}
