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
``quarantine/`` with a note. :class:`VendorImportCheckOperator` then checks that what the ledger says
was created exists in NetSuite and reports any drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from airflow.sdk import BaseOperator
from pydantic import ValidationError

from po_sync.exceptions import FatalError, RecordError
from po_sync.faults import maybe_crash
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.ledger.hook import LedgerHook
from po_sync.models import ItemFulfillment, ItemReceipt, VendorBill, record_validation_error
from po_sync.netsuite.mapping import (
    fulfillment_body,
    item_receipt_body,
    order_snapshots,
    po_lines_query,
    sql_literal,
    vendor_bill_body,
)
from po_sync.sync import SyncOperator, SyncRun, as_bool
from po_sync.task_failure import fail_fast_on_fatal
from po_sync.vendors.s3 import list_keys, move, quarantine_file, s3_error
from po_sync.vendors.settings import VARIABLE_KEY, load_vendors_config

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["NETSUITE_TYPES", "VendorImportCheckOperator", "VendorImportOperator"]

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
#: Goods first, bills after: a bill can only bill what was received.
_ORDER = {"item_receipt": 0, "item_fulfillment": 0, "vendor_bill": 1}


class VendorImportOperator(SyncOperator):
    """Write the merged documents in ``ready/`` to NetSuite and record each in the ledger.

    :param merged_ids: only these merged document ids (templated; empty = all in ``ready/``).
    :param dry_run: validate and map only, write nothing (templated).
    :param netsuite_conn_id: NetSuite.
    :param aws_conn_id: S3.
    :param variable_key: Airflow Variable with the vendor settings (for the merge bucket).
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        with NetSuiteHook(self.netsuite_conn_id) as netsuite:
            importer = VendorImporter(run=run, client=client, bucket=bucket, netsuite=netsuite, log=self.log)
            run.notes.update(importer.run_all(only=wanted, dry_run=as_bool(self.is_dry_run)))
            run.notes["netsuite_calls"] = netsuite.stats["calls"]


class VendorImporter:
    """The import loop, independent of Airflow."""

    def __init__(self, *, run: SyncRun, client: Any, bucket: str, netsuite: Any, log: Any) -> None:
        self.run = run
        self.client = client
        self.bucket = bucket
        self.netsuite = netsuite
        self.log = log
        self.stats = {"documents": 0, "done": 0, "left_in_ready": 0, "quarantined_documents": 0}

    def run_all(self, *, only: set[str], dry_run: bool) -> dict[str, Any]:
        objects = list_keys(self.client, self.bucket, "ready/")
        keyed = []
        for obj in objects:
            parts = obj["Key"].split("/")
            kind = parts[1] if len(parts) == 3 else ""
            merged = parts[-1].removesuffix(".json")
            if only and merged not in only:
                continue
            keyed.append((_ORDER.get(kind, 2), obj["Key"], kind, merged))
        for _, key, kind, merged in sorted(keyed):
            self.stats["documents"] += 1
            self._one(key, kind, merged, dry_run)
        return dict(self.stats, dry_run=dry_run)

    def _quarantine(self, key: str, merged: str, kind: str, code: str, message: str) -> None:
        try:
            quarantine_file(self.client, self.bucket, key, "quarantine/", message, code)
        except Exception as exc:  # noqa: BLE001
            message += f" (moving it to quarantine failed: {s3_error(exc, action='MOVE', key=key)})"
        self.run.quarantine_input(
            self.run.key(kind or "merged_document", "vendor_merge", merged), code=code, message=message
        )
        self.stats["quarantined_documents"] += 1

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
        record = run.key(kind, "vendor_merge", merged)
        if dry_run:
            run.counts["read"] += 1
            return

        def send(decision: Decision) -> str | None:
            if decision.action is Action.RESUME:
                existing = self._existing(kind, merged)
                if existing:
                    self.log.info(
                        "%s: found in NetSuite after an interrupted run (%s %s); not writing again",
                        document_name,
                        kind,
                        existing,
                    )
                    return existing
            try:
                result = self._write(kind, model, document_name, decision.idempotency_key)
            except FatalError as exc:  # a refusal about this document: say which one, keep NetSuite's code
                detail = f" ({exc.detail})" if exc.detail else ""
                raise RecordError(
                    f"{document_name}: NetSuite refused it{detail}: {exc}", code=exc.code or "NETSUITE_ERROR"
                ) from exc
            maybe_crash(run.flow)
            return result

        run.process(
            record, payload_hash=model.payload_hash(), send=send, target_system="netsuite", trace_key=key
        )
        state = run.ledger.get(record)
        if state is not None and state.status in (RecordStatus.SYNCED, RecordStatus.IGNORED):
            try:
                move(self.client, self.bucket, key, "done/" + key.removeprefix("ready/"))
            except Exception as exc:  # noqa: BLE001 - the next run finds it synced and moves it then
                self.log.warning("could not move %s to done/: %s", key, s3_error(exc, action="MOVE", key=key))
            self.stats["done"] += 1
        else:
            self.stats["left_in_ready"] += 1

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
                sa.select(sync_record.c.entity_type, sync_record.c.source_id, sync_record.c.target_id).where(
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
        if missing:
            self.log.warning(
                "ledger/NetSuite drift: %d record(s) the ledger calls synced are missing: %s",
                len(missing),
                "; ".join(missing[:20]),
            )
            if self.fail_on_drift:
                from po_sync.exceptions import LedgerError

                raise LedgerError(
                    f"{len(missing)} synced record(s) missing in NetSuite: {'; '.join(missing[:5])}"
                )
        result = {"checked": len(rows), "missing": len(missing), "missing_examples": missing[:10]}
        if self.import_task_id and context["ti"].xcom_pull(task_ids=self.import_task_id) is None:
            from airflow.exceptions import AirflowFailException

            raise AirflowFailException(f"{self.import_task_id} did not finish; checked {result}")
        return result
