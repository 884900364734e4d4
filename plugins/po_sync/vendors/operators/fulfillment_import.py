"""Import merged vendor documents into NetSuite: item receipts, drop-ship item fulfilments, vendor bills.

:class:`VendorImportOperator` reads ``s3://<merge bucket>/ready/``; each merged document is a ledger
record (flow ``vendor_fulfillment_import``, entity = kind, id = merged id) staged with its payload hash:

* ``item_receipt`` → ``!transform`` purchaseOrder → itemReceipt, lines matched by PO line and item,
  refused when more than the remaining quantity (``OVER_RECEIPT``);
* ``item_fulfillment`` → ``!transform`` salesOrder → itemFulfillment on the drop-ship sales order
  (lines matched by linked PO and item; tracking numbers as packages, serials as inventory detail);
* ``vendor_bill`` → ``!transform`` purchaseOrder → vendorBill.

Every write carries ``X-NetSuite-Idempotency-Key`` (the ledger's key) and ``externalId`` = merged id; a
record left ``in_progress`` by a crash comes back as ``RESUME`` and is first looked up by that
``externalId``, so a write that reached NetSuite is never repeated. A document that succeeds (or is
unchanged and already synced) moves to ``done/``; a failed one stays in ``ready/`` and is resent by the
next run, so fixing the data in NetSuite and waiting is all a person does. Unreadable documents move to
``quarantine/`` with a note; their record is ``quarantined`` (trace_key = the kept key, payload hash =
the object's ETag) *before* the move, so a crash in between leaves the document in ``ready/`` and the
rerun only finishes its move (no record left ``in_progress`` for a document no run sees again).
:class:`VendorImportCheckOperator` then checks that what the ledger says
was created exists in NetSuite and reports any drift.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from airflow.sdk import BaseOperator
from pydantic import ValidationError

from po_sync import faults, retry
from po_sync.exceptions import (
    SYSTEM_FAULTS,
    ConfigurationError,
    FatalError,
    RecordError,
    RecordSkipped,
    RetriableError,
)
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.ledger.hook import LedgerHook
from po_sync.models import (
    ItemFulfillment,
    ItemReceipt,
    VendorBill,
    normalize_decimal,
    record_validation_error,
)
from po_sync.netsuite.mapping import (
    SAFE_IDENTIFIER_RULE,
    fulfillment_body,
    is_internal_id,
    is_safe_identifier,
    item_receipt_body,
    order_snapshots,
    po_lines_query,
    sql_literal,
    vendor_bill_body,
)
from po_sync.receiving import ReceivingOwnership, load_receiving
from po_sync.sync import SyncOperator, SyncRun, as_bool
from po_sync.task_failure import fail_fast_on_fatal
from po_sync.vendors import retries
from po_sync.vendors.s3 import (
    etag_hash,
    has_note,
    list_keys,
    move,
    move_to_kept,
    quarantine_file,
    quarantine_plan,
    s3_error,
    write_quarantine_note,
)
from po_sync.vendors.settings import VARIABLE_KEY, load_vendors_config

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "DRIFT_CODE",
    "NETSUITE_TYPES",
    "VendorImportCheckOperator",
    "VendorImportOperator",
    "drift_message",
]

MODELS: dict[str, Any] = {
    "item_receipt": ItemReceipt,
    "item_fulfillment": ItemFulfillment,
    "vendor_bill": VendorBill,
}
#: ledger entity type → NetSuite record type of what it creates.
NETSUITE_TYPES = {
    "item_receipt": "itemReceipt",
    "item_fulfillment": "itemFulfillment",
    "vendor_bill": "vendorBill",
}
#: ledger entity types written by transforming the purchase order → the builder of the transform body.
_PO_TRANSFORM_BODIES: dict[str, Callable[..., dict[str, Any]]] = {
    "item_receipt": item_receipt_body,
    "vendor_bill": vendor_bill_body,
}
_TRANSACTION_TYPES = {"item_receipt": "ItemRcpt", "item_fulfillment": "ItemShip", "vendor_bill": "VendBill"}
#: Where documents go after ``max_attempts`` refusals with the same code, with a note beside them.
DEAD_LETTER_PREFIX = "dead-letter/"
DEAD_LETTER_CODE = "DEAD_LETTER"
#: Goods first, bills after: a bill can only bill what was received.
_ORDER = {"item_receipt": 0, "item_fulfillment": 0, "vendor_bill": 1}


FLOW = "vendor_fulfillment_import"
CRASH_WRITE = faults.declare(
    FLOW, "after_netsuite_write", "a receipt, fulfilment or bill written", legacy=True
)
CRASH_DONE_COPY = faults.declare(FLOW, "after_done_copy", "a merged document copied to done/")
CRASH_DONE = faults.declare(FLOW, "after_done", "a merged document deleted from ready/ (moved to done/)")
CRASH_QUARANTINE_NOTE = faults.declare(FLOW, "after_quarantine_note", "a bad document's .error.txt written")
CRASH_QUARANTINE_COPY = faults.declare(FLOW, "after_quarantine_copy", "a bad document copied to quarantine/")
CRASH_QUARANTINE = faults.declare(FLOW, "after_quarantine", "a bad document deleted from ready/")
CRASH_BEFORE_MOVE = faults.declare(
    FLOW, "before_move", "a document's outcome in the ledger (synced / quarantined), not moved yet"
)
faults.declare_ledger_points(FLOW)


class VendorImportOperator(SyncOperator):
    """Write the merged documents in ``ready/`` to NetSuite and record each in the ledger.

    :param merged_ids: only these merged document ids (templated; empty = all in ``ready/``).
    :param dry_run: validate and map only, write nothing (templated).
    :param netsuite_conn_id: NetSuite.
    :param aws_conn_id: S3.
    :param variable_key: Airflow Variable with the vendor settings (for the merge bucket).
    :param max_attempts: a document NetSuite refuses this many times with the same code (``OVER_RECEIPT``,
        a closed PO...) moves to ``dead-letter/`` with a note and is no longer retried, so a permanent
        refusal does not add a ``sync_error`` row every run forever; retriable failures never count.
    """

    template_fields: Sequence[str] = ("merged_ids", "is_dry_run")
    ui_color = "#d9e4f4"

    def __init__(
        self,
        *,
        merged_ids: Any = None,
        dry_run: Any = False,
        netsuite_conn_id: str = "netsuite_default",
        aws_conn_id: str = "aws_default",
        variable_key: str = VARIABLE_KEY,
        max_attempts: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigurationError(f"{self.task_id}: max_attempts must be a whole number >= 1")
        self.max_attempts = max_attempts
        self.merged_ids = merged_ids
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.netsuite_conn_id = netsuite_conn_id
        self.aws_conn_id = aws_conn_id
        self.variable_key = variable_key

    def sync(self, context: Context, run: SyncRun) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from po_sync.netsuite.hook import NetSuiteHook

        bucket = load_vendors_config(self.variable_key).merge_bucket
        wanted = (
            {str(x) for x in (self.merged_ids or []) if str(x).strip()}
            if isinstance(self.merged_ids, list | tuple)
            else set()
        )
        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        receiving = load_receiving()
        with NetSuiteHook(self.netsuite_conn_id) as netsuite:
            importer = VendorImporter(
                run=run,
                client=client,
                bucket=bucket,
                netsuite=netsuite,
                log=self.log,
                receiving=receiving,
                max_attempts=self.max_attempts,
            )
            run.notes.update(importer.run_all(only=wanted, dry_run=as_bool(self.is_dry_run)))
            run.notes["retry_asked"] = sorted(retry.conf_record_ids(context))  # a triggered retry run
            run.notes["netsuite_calls"] = netsuite.stats["calls"]


class VendorImporter:
    """The import loop, independent of Airflow."""

    def __init__(
        self,
        *,
        run: SyncRun,
        client: Any,
        bucket: str,
        netsuite: Any,
        log: Any,
        receiving: ReceivingOwnership | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.run = run
        self.max_attempts = max_attempts
        self.client = client
        self.bucket = bucket
        self.netsuite = netsuite
        self.log = log
        self.receiving = receiving or ReceivingOwnership()
        self.stats = {"documents": 0, "done": 0, "left_in_ready": 0, "quarantined_documents": 0}

    def run_all(self, *, only: set[str], dry_run: bool) -> dict[str, Any]:
        if not dry_run:  # the queue's Retry: quarantined documents back into ready/ first
            self.stats["requeued"] = retries.requeue_import(self.run, self.client, self.bucket)
        objects = list_keys(self.client, self.bucket, "ready/")
        keyed = []
        for obj in objects:
            parts = obj["Key"].split("/")
            kind = parts[1] if len(parts) == 3 else ""
            merged = parts[-1].removesuffix(".json")
            if only and merged not in only:
                continue
            keyed.append((_ORDER.get(kind, 2), obj["Key"], kind, merged, str(obj.get("ETag") or "")))
        for _, key, kind, merged, etag in sorted(keyed):
            self.stats["documents"] += 1
            if not dry_run and self._finish_quarantine(key, kind, merged, etag):
                continue
            self._one(key, kind, merged, dry_run)
        return dict(self.stats, dry_run=dry_run)

    def _record(self, key: str, kind: str, merged: str) -> Any:
        """The ledger key of a document's record (a file name that is no merged id gets one from its key)."""
        source_id = merged if is_safe_identifier(merged) else _invalid_id(key)
        return self.run.key(kind or "merged_document", "vendor_merge", source_id)

    def _quarantine(self, key: str, merged: str, kind: str, code: str, message: str) -> None:
        """Record the document ``quarantined`` (trace_key = where it goes), write its note, then move it."""
        record = self.run.key(kind or "merged_document", "vendor_merge", merged)
        try:
            plan = quarantine_plan(self.client, self.bucket, key, "quarantine/")
        except Exception as exc:  # noqa: BLE001 - the record still says what is wrong; it stays in ready/
            message += f" (moving it to quarantine failed: {s3_error(exc, action='MOVE', key=key)})"
            self.run.quarantine_input(record, code=code, message=message)
            self.stats["quarantined_documents"] += 1
            return
        if plan is None:
            self.log.info("s3://%s/%s was taken by another run; not quarantined again", self.bucket, key)
            return
        decision = self.run.begin(record, payload_hash=plan[1], trace_key=plan[0], force=True)
        if decision.action is Action.BUSY:
            return  # another live run holds this document's record: it is left to it
        noted = True
        try:
            write_quarantine_note(self.client, self.bucket, key, plan[0], message, code)
            CRASH_QUARANTINE_NOTE.hit()
        except Exception as exc:  # noqa: BLE001 - the next run writes it, then moves the document
            noted = False
            self.log.warning(
                "note for %s not written (%s): the document stays in ready/; the next run writes the "
                "note and moves it",
                key,
                s3_error(exc, action="PUT", key=key),
            )
        self.run.quarantined(decision, code=code, message=message)
        self.stats["quarantined_documents"] += 1
        if noted:  # a kept document is never without its note (DESIGN.md, ledger rule 4)
            self._move_to_quarantine(key, plan[0])

    def _move_to_quarantine(self, key: str, kept: str) -> None:
        CRASH_BEFORE_MOVE.hit()
        try:
            if move_to_kept(
                self.client, self.bucket, key, kept, "quarantine/", after_copy=CRASH_QUARANTINE_COPY.hit
            ):
                CRASH_QUARANTINE.hit()
        except Exception as exc:  # noqa: BLE001 - recorded already: the next run finishes the move
            self.log.warning("could not quarantine %s now: %s", key, s3_error(exc, action="MOVE", key=key))

    def _finish_quarantine(self, key: str, kind: str, merged: str, etag: str) -> bool:
        """Finish the move of a document whose quarantine the ledger already holds; True when it was one.

        Its record is ``quarantined`` with a ``quarantine/`` key as trace_key and this very object's
        ETag as payload hash: a run recorded it and stopped before the move. It goes there now (its
        note written if missing), counted in ``moves_finished``; nothing is read or recorded again.
        Not after a person's Retry found the kept file gone (:func:`po_sync.retry.gave_up`).
        """
        state = self.run.ledger.get(self._record(key, kind, merged))
        kept = state.trace_key if state is not None else None
        if (
            state is None
            or not etag
            or not kept
            or not kept.startswith("quarantine/")
            or state.status is not RecordStatus.QUARANTINED
            or state.payload_hash != etag_hash(etag)
            or retry.gave_up(state)
        ):
            return False
        if not has_note(self.client, self.bucket, kept):
            write_quarantine_note(
                self.client,
                self.bucket,
                key,
                kept,
                state.last_error_message or "",
                state.last_error_code or "QUARANTINED",
            )
        self._move_to_quarantine(key, kept)
        self.stats["moves_finished"] = self.stats.get("moves_finished", 0) + 1
        self.log.info("s3://%s/%s: quarantined before a stop; moved to %s now", self.bucket, key, kept)
        return True

    def _one(self, key: str, kind: str, merged: str, dry_run: bool) -> None:
        run = self.run
        document_name = f"{kind or 'document'} {merged} (s3://{self.bucket}/{key})"
        try:
            body = json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ValueError as exc:
            self._quarantine(key, merged, kind, "MALFORMED_JSON", f"{document_name}: not JSON ({exc})")
            return
        except Exception as exc:  # noqa: BLE001
            raise s3_error(exc, action="GET", key=key) from exc
        if not is_safe_identifier(merged):
            self._quarantine(
                key,
                _invalid_id(key),
                kind,
                "BAD_IDENTIFIER",
                f"{document_name}: the file name {merged!r} is not a merged document id ({SAFE_IDENTIFIER_RULE})",
            )
            return
        model_type = MODELS.get(kind)
        if model_type is None or not isinstance(body, dict) or body.get("kind") != kind:
            self._quarantine(
                key,
                merged,
                kind,
                "UNKNOWN_DOCUMENT",
                f"{document_name}: unknown kind {body.get('kind') if isinstance(body, dict) else None!r}",
            )
            return
        try:
            model = model_type.model_validate(body.get("document"))
        except ValidationError as exc:
            error = record_validation_error(
                exc, record=f"{kind} {merged}", source=f"s3://{self.bucket}/{key}"
            )
            self._quarantine(key, merged, kind, error.code, error.message)
            return
        problem = _identifier_problem(kind, model)
        if problem:
            self._quarantine(key, merged, kind, "BAD_IDENTIFIER", f"{document_name}: {problem}")
            return
        record = run.key(kind, "vendor_merge", merged)
        if dry_run:
            run.counts["read"] += 1
            return
        payload_hash = model.payload_hash()
        previous = run.ledger.get(record)
        if (
            kind != "vendor_bill"
            and previous is not None
            and previous.target_id
            and previous.status in (RecordStatus.SYNCED, RecordStatus.IGNORED)
            and previous.payload_hash != payload_hash
        ):
            self._correction_needs_a_person(key, merged, kind, document_name, previous.target_id)
            return
        retriable: list[bool] = []

        def send(decision: Decision) -> str | None:
            try:
                return write(decision)
            except RetriableError:
                retriable.append(True)
                raise

        def write(decision: Decision) -> str | None:
            # A bill is looked up first on every attempt: one written before (failed on its total, or
            # corrected by the vendor since) is checked or updated, never written a second time. So
            # is a document a person retried (it may have reached NetSuite before it was refused).
            retried = (
                decision.previous is not None
                and decision.previous.status is RecordStatus.PENDING
                and decision.previous.attempts > 0
            )
            if decision.action is Action.RESUME or kind == "vendor_bill" or retried:
                existing = self._existing(kind, merged)
                if existing:
                    changed = decision.previous is not None and decision.previous.payload_hash != payload_hash
                    if kind == "vendor_bill" and changed:
                        self._update_bill(existing, model, document_name)
                    else:
                        self.log.info(
                            "%s: already in NetSuite (%s %s); not writing again",
                            document_name,
                            kind,
                            existing,
                        )
                    if kind == "vendor_bill":
                        self._check_bill_total(existing, model, document_name)
                    return existing
            try:
                result = self._write(kind, model, document_name, decision.idempotency_key)
            except SYSTEM_FAULTS:
                raise  # a refused login is not this document's fault: the run stops
            except FatalError as exc:  # a refusal about this document: say which one, keep NetSuite's code
                detail = f" ({exc.detail})" if exc.detail else ""
                raise RecordError(
                    f"{document_name}: NetSuite refused it{detail}: {exc}", code=exc.code or "NETSUITE_ERROR"
                ) from exc
            CRASH_WRITE.hit()
            if kind == "vendor_bill":
                self._check_bill_total(result, model, document_name)
            return result

        run.process(record, payload_hash=payload_hash, send=send, target_system="netsuite", trace_key=key)
        state = run.ledger.get(record)
        if state is not None and state.status in (RecordStatus.SYNCED, RecordStatus.IGNORED):
            CRASH_BEFORE_MOVE.hit()
            try:
                move(
                    self.client,
                    self.bucket,
                    key,
                    "done/" + key.removeprefix("ready/"),
                    after_copy=CRASH_DONE_COPY.hit,
                )
                CRASH_DONE.hit()
            except Exception as exc:  # noqa: BLE001 - the next run finds it synced and moves it then
                self.log.warning("could not move %s to done/: %s", key, s3_error(exc, action="MOVE", key=key))
            self.stats["done"] += 1
        elif state is not None and state.status is RecordStatus.FAILED and not retriable:
            self._dead_letter_if_exhausted(key, kind, document_name, state)
        else:
            self.stats["left_in_ready"] += 1

    def _dead_letter_if_exhausted(self, key: str, kind: str, document_name: str, state: Any) -> None:
        """After ``max_attempts`` refusals with the same code, move the document to ``dead-letter/``.

        Retriable failures (5xx, 429, timeouts) never count: they stay in ``ready/`` for the next run.
        """
        same = [
            e
            for e in self.run.ledger.errors(state.id)
            if e["resolved_at"] is None and e["error_code"] == state.last_error_code
        ]
        if len(same) < self.max_attempts:
            self.stats["left_in_ready"] += 1
            return
        new_key = DEAD_LETTER_PREFIX + key.removeprefix("ready/")
        message = (
            f"{document_name}: refused {len(same)} times with {state.last_error_code}, last: "
            f"{state.last_error_message}. Moved to s3://{self.bucket}/{new_key} and no longer retried: "
            f"correct the cause (in NetSuite or with the vendor), then move it back to ready/{key.removeprefix('ready/')}"
        )
        try:
            quarantine_file(
                self.client, self.bucket, key, new_key.rsplit("/", 1)[0] + "/", message, DEAD_LETTER_CODE
            )
        except Exception as exc:  # noqa: BLE001 - the record still says what is wrong
            message += f" (moving it failed: {s3_error(exc, action='MOVE', key=key)})"
        self.run.ledger.mark_quarantined(
            state.id, sync_run_id=self.run.id, code=DEAD_LETTER_CODE, message=message
        )
        self.stats["dead_lettered"] = self.stats.get("dead_lettered", 0) + 1

    def _correction_needs_a_person(
        self, key: str, merged: str, kind: str, document_name: str, target_id: str
    ) -> None:
        """A corrected receipt or fulfilment for one already in NetSuite: changing received or shipped
        quantities moves inventory, which po-sync does not do behind a person's back."""
        record_type = NETSUITE_TYPES.get(kind, kind)
        self._quarantine(
            key,
            merged,
            kind,
            "CORRECTION_NEEDS_PERSON",
            f"{document_name}: the vendor corrected this document after it was written to NetSuite as "
            f"{record_type}/{target_id}. Inventory transactions are not changed automatically: edit "
            f"{record_type}/{target_id} in NetSuite to match the corrected document (kept beside this note), "
            "then resolve this record",
        )

    def _update_bill(self, bill_id: str, model: Any, document_name: str) -> None:
        """Apply a corrected invoice to the bill it made: header, item lines (by PO line) and charges."""
        order = self._order(model.created_from.number, document_name)
        # the order as it was before this bill billed it: its quantities count towards what is left
        body = vendor_bill_body(model, _unbilled(order), document=document_name)
        current = self.netsuite.get_record("vendorBill", bill_id)
        by_order_line = {
            str(line.get("orderLine")): line.get("line") for line in current.sublists.get("item", [])
        }
        items = []
        for line in body["item"]["items"]:
            bill_line = by_order_line.get(str(line["orderLine"]))
            if bill_line is None:
                raise RecordError(
                    f"{document_name}: the corrected invoice bills PO line {line['orderLine']}, which "
                    f"vendorBill/{bill_id} does not have; add it to the bill in NetSuite by hand",
                    code="CORRECTION_NEEDS_PERSON",
                )
            items.append({"line": bill_line, "quantity": line["quantity"], "rate": line["rate"]})
        patch = {k: v for k, v in body.items() if k not in ("item", "externalId")}
        patch["item"] = {"items": items}
        patch.setdefault("expense", {"items": []})
        try:
            self.netsuite.update_record("vendorBill", bill_id, patch, replace=["expense"], idempotent=True)
        except SYSTEM_FAULTS:
            raise
        except FatalError as exc:
            raise RecordError(
                f"{document_name}: NetSuite refused the correction of vendorBill/{bill_id}: {exc}",
                code=exc.code or "NETSUITE_ERROR",
            ) from exc
        self.log.info("%s: corrected vendorBill/%s", document_name, bill_id)

    def _check_bill_total(self, bill_id: str, model: Any, document_name: str) -> None:
        """Compare the bill NetSuite made with the invoice: a different total is ``failed`` with both figures."""
        record = self.netsuite.get_record("vendorBill", bill_id, expand_sub_resources=False, fields=["total"])
        try:
            actual = Decimal(str(record.fields.get("total")))
        except ArithmeticError:
            actual = None
        expected = model.total
        if actual is None or expected is None or abs(actual - expected) >= Decimal("0.005"):
            shown = normalize_decimal(actual) if actual is not None else record.fields.get("total")
            raise RecordError(
                f"{document_name}: NetSuite vendorBill/{bill_id} totals {shown} but the invoice totals "
                f"{normalize_decimal(expected) if expected is not None else '?'} (item lines + charges + tax); "
                "correct the bill in NetSuite (rates, charges, tax) or ask the vendor for a corrected invoice; "
                "the next run compares again and does not write a second bill",
                code="BILL_TOTAL_MISMATCH",
            )

    def _existing(self, kind: str, merged: str) -> str | None:
        rows = list(
            self.netsuite.suiteql(
                f"SELECT t.id FROM transaction t WHERE t.type = '{_TRANSACTION_TYPES[kind]}' "
                f"AND t.externalid = {sql_literal(merged)} ORDER BY t.id"
            )
        )
        return str(rows[0]["id"]) if rows else None

    def _order(self, number: str | None, document_name: str) -> Any:
        if not number:
            raise RecordError(f"{document_name}: created_from.number: missing PO number", code="UNKNOWN_PO")
        orders = order_snapshots(self.netsuite.suiteql(po_lines_query(numbers=[number])))
        if number not in orders:
            raise RecordError(
                f"{document_name}: created_from.number = {number!r}: no such purchase order in NetSuite",
                code="UNKNOWN_PO",
            )
        return orders[number]

    def _write(self, kind: str, model: Any, document_name: str, idempotency_key: str) -> str:
        ns = self.netsuite
        build_body = _PO_TRANSFORM_BODIES.get(kind)
        if build_body is not None:  # receipts and bills are transforms of the purchase order
            order = self._order(model.created_from.number, document_name)
            if kind == "item_receipt":
                reason = self.receiving.skip_reason(
                    "vendor_files", po=order.number, vendor=order.vendor_id, location=order.location
                )
                if reason:  # another flow receives this PO: not an error, not received twice
                    raise RecordSkipped(f"{document_name}: {reason}", code="RECEIVED_BY_OTHER_FLOW")
            body = build_body(model, order, document=document_name)
            return str(
                ns.transform_record(
                    "purchaseOrder", order.id, NETSUITE_TYPES[kind], body, idempotency_key=idempotency_key
                ).id
            )
        so_id = model.created_from.id
        sales_order = ns.get_record("salesOrder", so_id)
        po_numbers = sorted({line.line_id.split(":", 1)[0] for line in model.lines})
        orders = order_snapshots(ns.suiteql(po_lines_query(numbers=po_numbers)))
        body = fulfillment_body(
            model, sales_order.lines, {n: o.id for n, o in orders.items()}, document=document_name
        )
        return str(
            ns.transform_record(
                "salesOrder", so_id, "itemFulfillment", body, idempotency_key=idempotency_key
            ).id
        )


def _invalid_id(key: str) -> str:
    """The record id of a document whose file name is no merged id: from its key, stable per key."""
    return "invalid-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _identifier_problem(kind: str, model: Any) -> str | None:
    """What in a merged document may not go into a SuiteQL literal or a URL (None = all safe)."""
    ref = model.created_from
    if kind in _PO_TRANSFORM_BODIES:
        if ref.number is not None and not is_safe_identifier(ref.number):
            return f"created_from.number = {ref.number!r}: not a NetSuite document number ({SAFE_IDENTIFIER_RULE})"
        return None
    if not is_internal_id(ref.id):
        return f"created_from.id = {ref.id!r}: not a NetSuite internal id (digits only)"
    for index, line in enumerate(model.lines):
        number = line.line_id.split(":", 1)[0]
        if not is_safe_identifier(number):
            return f"lines.{index}.line_id = {line.line_id!r}: {number!r} is not a PO number ({SAFE_IDENTIFIER_RULE})"
    return None


#: Ledger error code of a record the ledger called synced whose NetSuite record is gone.
DRIFT_CODE = "NETSUITE_DRIFT"


def drift_message(
    entity_type: str, source_id: str, record_type: str, target_id: str, trace_key: str | None
) -> str:
    """What a person reads on the ledger page for a record NetSuite no longer has."""
    done = f" (the document is {('done/' + trace_key.removeprefix('ready/')) if trace_key else 'in done/'})"
    return (
        f"{entity_type} {source_id}: the ledger recorded it as {record_type}/{target_id} in NetSuite, but "
        f"NetSuite has no such record now (deleted there?){done}. Check NetSuite: if it was deleted on "
        "purpose, resolve this record; if not, enter it again in NetSuite, then resolve this record."
    )


def _unbilled(order: Any) -> Any:
    """``order`` with its billed quantities set to zero (a bill being corrected re-bills its own lines)."""
    from dataclasses import replace

    return replace(order, lines=tuple(replace(line, billed=Decimal(0)) for line in order.lines))


class VendorImportCheckOperator(BaseOperator):
    """Check in NetSuite that every record this DAG run's import marked ``synced`` exists; report drift.

    :param flow: the import flow's name in the ledger.
    :param fail_on_drift: fail the task when something is missing (default: report only).
    :param import_task_id: the import task; when it left no summary (it failed), this task fails
        after checking, so the DAG run shows the failure.
    """

    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        flow: str = "vendor_fulfillment_import",
        netsuite_conn_id: str = "netsuite_default",
        ledger_conn_id: str = LedgerHook.default_conn_name,
        fail_on_drift: bool = False,
        import_task_id: str | None = "import_merged_documents",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.import_task_id = import_task_id
        self.flow = flow
        self.netsuite_conn_id = netsuite_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.fail_on_drift = fail_on_drift

    @fail_fast_on_fatal()
    def execute(self, context: Context) -> dict[str, Any]:
        from po_sync.ledger.schema import sync_record
        from po_sync.netsuite.hook import NetSuiteHook

        ledger = LedgerHook(self.ledger_conn_id).get_conn()
        run_id = context["ti"].run_id
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    sync_record.c.id,
                    sync_record.c.entity_type,
                    sync_record.c.source_id,
                    sync_record.c.target_id,
                    sync_record.c.trace_key,
                ).where(
                    sync_record.c.flow == self.flow,
                    sync_record.c.status == RecordStatus.SYNCED.value,
                    sync_record.c.run_id == run_id,
                    sync_record.c.target_id.is_not(None),
                )
            ).all()
        missing = []
        with NetSuiteHook(self.netsuite_conn_id) as netsuite:
            for row in rows:
                record_type = NETSUITE_TYPES.get(row.entity_type)
                if (
                    record_type
                    and netsuite.find_record(
                        record_type, row.target_id, expand_sub_resources=False, fields=["id"]
                    )
                    is None
                ):
                    missing.append(f"{row.entity_type} {row.source_id} → {record_type}/{row.target_id}")
                    # The drift goes on the record itself, so the ledger page shows it (not only a log).
                    ledger.mark_failed(
                        row.id,
                        sync_run_id=None,
                        code=DRIFT_CODE,
                        message=drift_message(
                            row.entity_type, row.source_id, record_type, row.target_id, row.trace_key
                        ),
                    )
        if missing:
            self.log.warning(
                "ledger/NetSuite drift: %d record(s) the ledger called synced are missing and are now "
                "failed with %s: %s",
                len(missing),
                DRIFT_CODE,
                "; ".join(missing[:20]),
            )
            if self.fail_on_drift:
                from po_sync.exceptions import LedgerError

                raise LedgerError(
                    f"{len(missing)} synced record(s) missing in NetSuite: {'; '.join(missing[:5])}"
                )
        result = {"checked": len(rows), "missing": len(missing), "missing_examples": missing[:10]}
        if self.import_task_id and context["ti"].xcom_pull(task_ids=self.import_task_id) is None:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{self.import_task_id} did not finish; checked {result}")
        return result
