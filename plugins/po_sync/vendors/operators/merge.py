"""Merge vendors' ship notices and invoices into one document per order, in the merge bucket.

:class:`VendorFilesSensor` waits (deferrable, in the triggerer) until any vendor's ``inbound/`` folder
holds a file. :class:`VendorMergeOperator` then reads every inbound file and:

* refuses unreadable ones (too large, not UTF-8, malformed or hostile XML/JSON/CSV, invalid fields,
  unknown PO, lines or quantities the PO does not have, a document id already merged with other
  content): the file moves to ``<prefix>quarantine/`` with ``<name>.error.txt`` beside it and the
  ledger holds a ``quarantined`` record naming file and field;
* merges a standard PO's notices into one item receipt, a drop-ship sales order's notices (from every
  vendor that has a PO on it) into one item fulfilment *once every line of every PO is reported*
  (partial shipments wait in ``inbound/`` until then), and each invoice into a vendor bill;
* writes each merged document to ``s3://<merge bucket>/ready/<kind>/<merged id>.json`` (the id is derived
  from the source documents, so a rerun rewrites the same key), and only after that write is recorded
  archives the source files to ``<prefix>archive/YYYY/MM/DD/``.

Every file's finish is ledger first, move last: a source's record is ``synced`` with the archive key
it goes to as target (a bad file's ``quarantined``, with its kept key as trace_key and the object's
ETag as payload hash) before the file leaves ``inbound/``. A crash in between leaves the file in
``inbound/``, where the rerun finds its terminal record and only finishes the move: the same file
merged before is recognised by its content hash (``ignored``, archived), a quarantined one by its
ETag (moved, counted in ``moves_finished``), so no record stays ``in_progress`` for a file no run sees.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from po_sync import faults, retry
from po_sync.exceptions import RecordValidationError
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.netsuite.mapping import SAFE_IDENTIFIER_RULE, is_safe_identifier, order_snapshots, po_lines_query
from po_sync.sync import SyncOperator, SyncRun
from po_sync.validation import PATH_COMPONENT_RULE, UnsafeValueError, is_path_component, join_under
from po_sync.vendors import retries
from po_sync.vendors.formats import format_from_key, load_document
from po_sync.vendors.mapping import (
    OrderSnapshot,
    ShipNotice,
    VendorDocument,
    VendorInvoice,
    check_against_order,
    drop_ship_complete,
    merge_fulfillment,
    merge_id,
    merge_receipt,
    parse_vendor_document,
    vendor_bill_from_invoice,
)
from po_sync.vendors.s3 import (
    etag_hash,
    has_note,
    is_missing,
    kept_key,
    list_keys,
    move_to_kept,
    quarantine_plan,
    s3_client,
    s3_error,
    write_quarantine_note,
)
from po_sync.vendors.settings import VARIABLE_KEY, VendorsConfig, VendorSettings, load_vendors_config

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["VendorMergeOperator", "VendorRetryOperator"]


# ------------------------------------------------------------------------------------------ merging


class _Inbound:
    """One readable inbound file."""

    def __init__(self, vendor: VendorSettings, key: str, document: VendorDocument, file_hash: str) -> None:
        self.vendor = vendor
        self.key = key
        self.document = document
        self.file_hash = file_hash
        #: a corrected version of a document merged before (same id, new content): merged on its own,
        #: under the merged id it had, so the import supersedes what it made
        self.correction = False


class VendorMergeOperator(SyncOperator):
    """Read the vendors' inbound files, quarantine the bad ones, write merged documents, archive the sources.

    :param vendor_id: only this vendor's folder (templated; empty = all enabled vendors).
    :param netsuite_conn_id: NetSuite, to look the POs (and drop-ship siblings) up.
    :param aws_conn_id: S3.
    :param variable_key: Airflow Variable with the vendor settings.
    """

    template_fields: Sequence[str] = ("vendor_id",)
    ui_color = "#f4ecd9"

    def __init__(
        self,
        *,
        vendor_id: Any = "",
        netsuite_conn_id: str = "netsuite_default",
        aws_conn_id: str = "aws_default",
        variable_key: str = VARIABLE_KEY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vendor_id = vendor_id
        self.netsuite_conn_id = netsuite_conn_id
        self.aws_conn_id = aws_conn_id
        self.variable_key = variable_key

    def sync(self, context: Context, run: SyncRun) -> None:
        from po_sync.netsuite.hook import NetSuiteHook

        config = load_vendors_config(self.variable_key)
        with NetSuiteHook(self.netsuite_conn_id) as netsuite:
            merger = VendorMerger(
                run=run, config=config, client=s3_client(self.aws_conn_id), netsuite=netsuite, log=self.log
            )
            run.notes.update(merger.merge(config.active(str(self.vendor_id or "") or None)))


FLOW = "vendor_fulfillment_merge"
CRASH_MERGED_WRITE = faults.declare(FLOW, "after_merged_write", "a merged document written", legacy=True)
CRASH_ARCHIVE_COPY = faults.declare(FLOW, "after_archive_copy", "an inbound file copied to archive/")
CRASH_ARCHIVE = faults.declare(FLOW, "after_archive", "an inbound file deleted from inbound/ (archived)")
CRASH_QUARANTINE_NOTE = faults.declare(FLOW, "after_quarantine_note", "a bad file's .error.txt written")
CRASH_QUARANTINE_COPY = faults.declare(FLOW, "after_quarantine_copy", "a bad file copied to quarantine/")
CRASH_QUARANTINE = faults.declare(FLOW, "after_quarantine", "a bad file deleted from inbound/")
CRASH_BEFORE_MOVE = faults.declare(
    FLOW, "before_move", "a file's outcome in the ledger (synced / quarantined), the file not moved yet"
)
faults.declare_ledger_points(FLOW)


class VendorRetryOperator(SyncOperator):
    """The error queue's Retry: put the retried vendor files back into their ``inbound/`` folders.

    Runs before the sensor, so a retried file is there to be seen; :class:`VendorMergeOperator` does
    the same at its start, so a retry is never missed. See :mod:`po_sync.vendors.retries`.

    :param vendor_id: only this vendor's files (templated; empty = all enabled vendors).
    :param aws_conn_id: S3.
    :param variable_key: Airflow Variable with the vendor settings.
    """

    template_fields: Sequence[str] = ("vendor_id",)
    ui_color = "#f4ecd9"

    def __init__(
        self,
        *,
        vendor_id: Any = "",
        aws_conn_id: str = "aws_default",
        variable_key: str = VARIABLE_KEY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vendor_id = vendor_id
        self.aws_conn_id = aws_conn_id
        self.variable_key = variable_key

    def sync(self, context: Context, run: SyncRun) -> None:
        requests = retry.retry_requests(run.ledger, run.flow, entity_types=("vendor_file",))
        run.notes.update(retry.conf_report(context, requests))
        if not requests:
            return  # nothing asked: no S3 client made
        config = load_vendors_config(self.variable_key)
        vendors = config.active(str(self.vendor_id or "") or None)
        run.notes["requeued"] = retries.requeue_merge(run, s3_client(self.aws_conn_id), vendors)


class VendorMerger:
    """The merge itself, independent of Airflow (tests and benchmarks can drive it)."""

    def __init__(self, *, run: SyncRun, config: VendorsConfig, client: Any, netsuite: Any, log: Any) -> None:
        self.run = run
        self.config = config
        self.client = client
        self.netsuite = netsuite
        self.log = log
        self.stats = {"files": 0, "quarantined_files": 0, "merged": 0, "waiting_files": 0, "archived": 0}

    # -- per file

    def _quarantine(self, item_vendor: VendorSettings, key: str, code: str, message: str) -> None:
        """Record the file ``quarantined`` (trace_key = where it goes), write its note, then move it."""
        self.log.warning("quarantining s3://%s/%s: %s", item_vendor.bucket, key, message)
        bucket, folder = item_vendor.bucket, item_vendor.quarantine_prefix
        record = self.run.key("vendor_file", item_vendor.vendor_id, key)
        try:
            plan = quarantine_plan(self.client, bucket, key, folder)
        except Exception as exc:  # noqa: BLE001 - the record still says what is wrong; the file stays
            plan = None
            message += f" (moving the file to quarantine failed: {s3_error(exc, action='MOVE', key=key)})"
            self.run.quarantine_input(record, code=code, message=message)
        else:
            if plan is None:  # another merge quarantined (or archived) it first: not recorded twice
                self.log.info("s3://%s/%s was taken by another run; not quarantined again", bucket, key)
                return
            decision = self.run.begin(record, payload_hash=plan[1], trace_key=plan[0], force=True)
            if decision.action is Action.BUSY:
                return  # another live run holds this file's record: the file is left to it
            try:
                write_quarantine_note(self.client, bucket, key, plan[0], message, code)
                CRASH_QUARANTINE_NOTE.hit()
            except Exception as exc:  # noqa: BLE001 - the next run writes it, then moves the file
                self.log.warning(
                    "note for %s not written (%s): the file stays in inbound/; the next run writes the "
                    "note and moves it",
                    key,
                    s3_error(exc, action="PUT", key=key),
                )
                plan = None  # a kept file is never without its note (DESIGN.md, ledger rule 4)
            self.run.quarantined(decision, code=code, message=message)
        retry.settle(self.run, retries.location(bucket, key), error=(code, message))
        self.stats["quarantined_files"] += 1
        if plan is not None:
            self._move_to_quarantine(item_vendor, key, plan[0])

    def _move_to_quarantine(self, vendor: VendorSettings, key: str, kept: str) -> None:
        CRASH_BEFORE_MOVE.hit()
        try:
            if move_to_kept(
                self.client,
                vendor.bucket,
                key,
                kept,
                vendor.quarantine_prefix,
                after_copy=CRASH_QUARANTINE_COPY.hit,
            ):
                CRASH_QUARANTINE.hit()
        except Exception as exc:  # noqa: BLE001 - recorded already: the next run finishes the move
            self.log.warning("could not quarantine %s now: %s", key, s3_error(exc, action="MOVE", key=key))

    def _finish_quarantine(self, vendor: VendorSettings, obj: dict[str, Any]) -> bool:
        """Finish the move of a file whose quarantine the ledger already holds; True when it was one.

        Its ``vendor_file`` record is ``quarantined`` with a kept key as trace_key and this very
        object's ETag as payload hash: a run recorded it and stopped before the move. The file goes
        to that key now (its note written if missing); nothing is recorded again. Not after a
        person's Retry found the kept file gone (:func:`po_sync.retry.gave_up`): then it is read.
        """
        key, etag = obj["Key"], obj.get("ETag")
        state = self.run.ledger.get(self.run.key("vendor_file", vendor.vendor_id, key))
        kept = retries.kept_key_of(state.trace_key, vendor) if state is not None else None
        if (
            state is None
            or kept is None
            or not etag
            or state.status is not RecordStatus.QUARANTINED
            or state.payload_hash != etag_hash(etag)
            or retry.gave_up(state)
        ):
            return False
        code, message = state.last_error_code or "QUARANTINED", state.last_error_message or ""
        if not has_note(self.client, vendor.bucket, kept):
            write_quarantine_note(self.client, vendor.bucket, key, kept, message, code)
        retry.settle(self.run, retries.location(vendor.bucket, key), error=(code, message))
        self._move_to_quarantine(vendor, key, kept)
        self.stats["moves_finished"] = self.stats.get("moves_finished", 0) + 1
        self.log.info("s3://%s/%s: quarantined before a stop; moved to %s now", vendor.bucket, key, kept)
        return True

    def _archive_key(self, vendor: VendorSettings, key: str) -> str | None:
        """Where ``key`` is archived today (a free or same-content name), None when it is gone."""
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        try:
            # never over another archived file (the same name again, or inbound/sub/X beside inbound/X)
            return kept_key(self.client, vendor.bucket, key, f"{vendor.archive_prefix}{day}/")
        except Exception as exc:  # noqa: BLE001
            raise s3_error(exc, action="ARCHIVE", key=key) from exc

    def _archive(self, vendor: VendorSettings, key: str, planned: str | None = None) -> str:
        """Move ``key`` to the archive: to ``planned`` (the target its record holds) or a name chosen
        now. Retried records waiting for this file are settled before the move."""
        CRASH_BEFORE_MOVE.hit()
        new_key = planned if planned is not None else self._archive_key(vendor, key)
        moved = None
        if new_key:
            retry.settle(
                self.run,
                retries.location(vendor.bucket, key),
                target_id=retries.location(vendor.bucket, new_key),
                target_system="s3",
            )
            folder = new_key.rsplit("/", 1)[0] + "/"
            try:
                moved = move_to_kept(
                    self.client, vendor.bucket, key, new_key, folder, after_copy=CRASH_ARCHIVE_COPY.hit
                )
            except Exception as exc:  # noqa: BLE001
                raise s3_error(exc, action="ARCHIVE", key=key) from exc
        if moved is None:  # a merge running beside this one archived it first: nothing lost, nothing twice
            self.log.info(
                "s3://%s/%s was already taken by another run; not archived again", vendor.bucket, key
            )
            self.stats["taken_by_other_run"] = self.stats.get("taken_by_other_run", 0) + 1
            return f"taken by another run: {key}"
        CRASH_ARCHIVE.hit()
        self.stats["archived"] += 1
        return moved

    def _read(self, vendor: VendorSettings, obj: dict[str, Any]) -> _Inbound | None:
        key = obj["Key"]
        if obj.get("Size", 0) > self.config.max_file_bytes:
            self._quarantine(
                vendor,
                key,
                "FILE_TOO_LARGE",
                f"file {key} is {obj['Size']} bytes, more than the {self.config.max_file_bytes}-byte limit",
            )
            return None
        fmt = format_from_key(key)
        if fmt is None:
            self._quarantine(
                vendor, key, "UNKNOWN_FORMAT", f"file {key}: the extension is not .xml, .json or .csv"
            )
            return None
        try:
            data = self.client.get_object(Bucket=vendor.bucket, Key=key)["Body"].read(
                self.config.max_file_bytes + 1
            )
        except Exception as exc:  # noqa: BLE001
            if is_missing(exc):  # listed, then archived by a merge running beside this one
                self.log.info(
                    "s3://%s/%s was taken by another run since listing; skipped", vendor.bucket, key
                )
                return None
            raise s3_error(exc, action="GET", key=key) from exc
        try:
            raw = load_document(data, fmt, source=key, max_bytes=self.config.max_file_bytes)
            document = parse_vendor_document(raw, source=key, vendor_id=vendor.vendor_id)
        except RecordValidationError as exc:
            self._quarantine(vendor, key, exc.code, exc.message)
            return None
        return _Inbound(vendor, key, document, hashlib.sha256(data).hexdigest())

    def _doc_key(self, item: _Inbound) -> Any:
        return self.run.key(
            f"vendor_{item.document.document_type}", item.vendor.vendor_id, item.document.document_id
        )

    # -- the run

    def merge(self, vendors: list[VendorSettings]) -> dict[str, Any]:
        items: list[_Inbound] = []
        seen: dict[tuple[str, str], str] = {}
        # the queue's Retry: quarantined files back into inbound/ before the folders are listed
        self.stats["requeued"] = retries.requeue_merge(self.run, self.client, vendors)
        for vendor in vendors:
            for obj in list_keys(self.client, vendor.bucket, vendor.inbound_prefix):
                self.stats["files"] += 1
                if self._finish_quarantine(vendor, obj):
                    continue
                item = self._read(vendor, obj)
                if item is None:
                    continue
                ident = (vendor.vendor_id, item.document.document_id)
                state = self.run.ledger.get(self._doc_key(item))
                merged_before = state is not None and state.status in (
                    RecordStatus.SYNCED,
                    RecordStatus.IGNORED,
                )
                if merged_before and state is not None and state.payload_hash == item.file_hash:
                    # the same file delivered again: recognised, archived, nothing merged twice
                    self.run.process(
                        self._doc_key(item),
                        payload_hash=item.file_hash,
                        send=lambda d: None,
                        target_system="s3",
                    )
                    self._archive_safely(item)
                    continue
                if ident in seen:
                    self._quarantine(
                        vendor,
                        item.key,
                        "DUPLICATE_DOCUMENT",
                        f"file {item.key}: document {item.document.document_id} is also in {seen[ident]}",
                    )
                    continue
                if merged_before and state is not None:
                    if self._merged_alone(item):  # a correction: it supersedes what the first one made
                        self.log.info("%s corrects document %s", item.key, item.document.document_id)
                        item.correction = True
                        seen[ident] = item.key
                        items.append(item)
                    else:
                        self._quarantine(
                            vendor,
                            item.key,
                            "CORRECTION_NEEDS_PERSON",
                            f"file {item.key}: document {item.document.document_id} corrects one merged before "
                            f"(from {state.trace_key}) together with other documents, so it cannot replace "
                            "what that merge made in NetSuite: correct that record in NetSuite by hand (this "
                            "file is the vendor's corrected version), or ask the vendor to send the "
                            "difference as a new document",
                        )
                    continue
                seen[ident] = item.key
                items.append(item)
        items = [item for item in items if self._queryable(item)]
        orders = self._orders(items)
        good: list[_Inbound] = []
        for item in items:
            order = orders.get(item.document.po_number)
            if order is None:
                self._quarantine(
                    item.vendor,
                    item.key,
                    "UNKNOWN_PO",
                    f"{item.document.document_type} {item.document.document_id} (file {item.key}): po_number = "
                    f"{item.document.po_number!r}: no such purchase order in NetSuite",
                )
                continue
            if order.vendor_id != item.vendor.vendor_id:
                self._quarantine(
                    item.vendor,
                    item.key,
                    "VENDOR_MISMATCH",
                    f"file {item.key}: PO {order.number} belongs to vendor {order.vendor_id}, not {item.vendor.vendor_id}",
                )
                continue
            try:
                check_against_order(item.document, order, source=item.key)
            except RecordValidationError as exc:
                self._quarantine(item.vendor, item.key, exc.code, exc.message)
                continue
            good.append(item)
        self._merge_groups(good, orders)
        return dict(self.stats)

    def _merged_alone(self, item: _Inbound) -> bool:
        """Whether the earlier version of ``item``'s document was merged on its own (a bill, or a
        receipt from that one notice): then a correction can take its merged id and supersede it."""
        document = item.document
        if not is_safe_identifier(document.po_number):
            return False
        if isinstance(document, VendorInvoice):
            candidates = [("vendor_bill", merge_id("B", document.po_number, [document]))]
        else:
            merged = merge_id("R", document.po_number, [document])
            candidates = [("item_receipt", merged), ("cancellation", merged)]
        return any(
            self.run.ledger.get(self.run.key(kind, "vendor_files", merged)) is not None
            for kind, merged in candidates
        )

    def _queryable(self, item: _Inbound) -> bool:
        """Whether the file's PO number may go into a SuiteQL query; if not, the file is quarantined
        here, so one bad value never fails the lookup of every other file."""
        number = item.document.po_number
        if is_safe_identifier(number) and is_path_component(number):
            return True
        rule = SAFE_IDENTIFIER_RULE if not is_safe_identifier(number) else PATH_COMPONENT_RULE
        self._quarantine(
            item.vendor,
            item.key,
            "BAD_IDENTIFIER",
            f"{item.document.document_type} {item.document.document_id} (file {item.key}): po_number = "
            f"{number!r}: not a NetSuite document number that can name a merged file ({rule})",
        )
        return False

    def _orders(self, items: list[_Inbound]) -> dict[str, OrderSnapshot]:
        numbers = sorted({item.document.po_number for item in items})
        orders: dict[str, OrderSnapshot] = {}
        for chunk in range(0, len(numbers), 500):
            orders.update(
                order_snapshots(self.netsuite.suiteql(po_lines_query(numbers=numbers[chunk : chunk + 500])))
            )
        so_ids = sorted({o.sales_order_id for o in orders.values() if o.sales_order_id})
        if so_ids:
            orders.update(order_snapshots(self.netsuite.suiteql(po_lines_query(created_from=so_ids))))
        return orders

    def _merge_groups(self, items: list[_Inbound], orders: dict[str, OrderSnapshot]) -> None:
        receipts: dict[tuple[str, str], list[_Inbound]] = defaultdict(list)
        drop_ship: dict[str, list[_Inbound]] = defaultdict(list)
        for item in items:
            order = orders[item.document.po_number]
            if isinstance(item.document, VendorInvoice):
                merged = merge_id("B", order.number, [item.document])
                try:
                    bill = vendor_bill_from_invoice(
                        item.document, order, merged_id=merged, bills=self.config.bills, source=item.key
                    )
                except (
                    RecordValidationError
                ) as exc:  # an unmapped charge or terms, a total that does not add up
                    self._quarantine(item.vendor, item.key, exc.code, exc.message)
                    continue
                self._write("vendor_bill", merged, bill, [item])
            elif order.is_drop_ship:
                drop_ship[str(order.sales_order_id)].append(item)
            else:  # a correction is merged on its own, under the merged id its first version had
                receipts[(order.number, item.document.document_id if item.correction else "")].append(item)
        for (po_number, _), group in sorted(receipts.items()):
            notices = [i.document for i in group if isinstance(i.document, ShipNotice)]
            merged = merge_id("R", po_number, notices)
            receipt = merge_receipt(orders[po_number], notices, merged_id=merged)
            if not receipt.lines:  # only cancellations: nothing to receive, nothing to wait for
                self._write("cancellation", merged, None, group)
                continue
            self._write("item_receipt", merged, receipt, group)
        for so_id, group in sorted(drop_ship.items()):
            siblings = [o for o in orders.values() if o.sales_order_id == so_id]
            notices = [i.document for i in group if isinstance(i.document, ShipNotice)]
            missing = drop_ship_complete(siblings, notices)
            so_number = siblings[0].sales_order_number or so_id
            if missing:
                self.log.info("sales order %s waits for: %s", so_number, "; ".join(missing))
                self.stats["waiting_files"] += len(group)
                continue
            merged = merge_id("F", so_number, notices)
            fulfillment = merge_fulfillment(so_id, so_number, siblings, notices, merged_id=merged)
            self._write("item_fulfillment", merged, fulfillment, group)

    def _write(self, kind: str, merged: str, model: Any, sources: list[_Inbound]) -> None:
        run = self.run
        bucket = self.config.merge_bucket
        body: dict[str, Any] | None = None
        if model is not None:
            body = {
                "kind": kind,
                "merged_id": merged,
                "document": model.model_dump(mode="json"),
                "sources": [
                    {"vendor_id": s.vendor.vendor_id, "key": s.key, "document_id": s.document.document_id}
                    for s in sources
                ],
            }
        try:  # the merged id holds a PO or sales-order number: one key component, or nothing is written
            key = join_under(f"ready/{kind}", f"{merged}.json", what="merged document id")
        except UnsafeValueError as exc:
            for source in sources:
                self._quarantine(source.vendor, source.key, exc.code, f"file {source.key}: {exc.message}")
            return

        def send(decision: Decision) -> str | None:
            if body is None:
                return None
            try:
                self.client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=json.dumps(body, indent=1).encode(),
                    ContentType="application/json",
                )
            except Exception as exc:  # noqa: BLE001
                raise s3_error(exc, action="PUT", key=key) from exc
            CRASH_MERGED_WRITE.hit()
            return f"s3://{bucket}/{key}"

        record = run.key(kind, "vendor_files", merged)
        payload_hash = model.payload_hash() if model is not None else merged
        run.process(record, payload_hash=payload_hash, send=send, target_system="s3", trace_key=key)
        state = run.ledger.get(record)
        if state is None or state.status not in (RecordStatus.SYNCED, RecordStatus.IGNORED):
            return  # not committed: leave the sources in inbound for the next run
        self.stats["merged"] += 1
        for source in sources:  # archive only after the merged document is committed
            self._archive_source(source)

    def _archive_source(self, source: _Inbound) -> None:
        """The source's record ``synced`` with its archive key as target, then the move; a crash in
        between leaves the file in ``inbound/``, which the rerun recognises (same document, same
        content: ``ignored``) and archives."""
        run = self.run
        planned: dict[str, str | None] = {}

        def plan(decision: Decision) -> str:
            planned["key"] = self._archive_key(source.vendor, source.key)
            return planned["key"] or f"taken by another run: {source.key}"

        action = run.process(
            self._doc_key(source),
            payload_hash=source.file_hash,
            send=plan,
            target_system="s3",
            trace_key=source.key,
        )
        if action is Action.SKIP:
            self._archive_safely(source)
            return
        state = run.ledger.get(self._doc_key(source))
        if planned.get("key") and state is not None and state.status is RecordStatus.SYNCED:
            self._archive_safely(source, planned["key"])

    def _archive_safely(self, source: _Inbound, planned: str | None = None) -> None:
        """Archive after the ledger said so: a failing S3 leaves the file for the next run to finish."""
        try:
            self._archive(source.vendor, source.key, planned)
        except Exception as exc:  # noqa: BLE001 - recorded already: the next run archives it
            self.log.warning("could not archive %s now: %s", source.key, exc)
