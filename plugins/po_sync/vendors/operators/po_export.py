"""Export NetSuite purchase orders to a vendor's S3 bucket, one document per PO (XML, JSON or CSV).

One task instance per vendor (the DAG maps this operator over the configured vendors), so one
vendor's broken bucket fails only its own task. For each PO modified in the run's window (or each PO
named in ``resync_po_numbers``) the operator:

1. maps the SuiteQL rows to a canonical :class:`~po_sync.models.PurchaseOrder` and then to the vendor
   document, whose hash is the ledger's payload hash (an unchanged PO is ``ignored``);
2. marks the record ``in_progress`` in the ledger, writes ``<prefix>PurchaseOrder/<tranid>.<ext>``
   (a deterministic key: a rerun overwrites, never duplicates; bucket versioning keeps old
   revisions), then the optional SQS notice, then marks it ``synced``. The notice is sent once per
   send: it is a ledger record of its own (flow ``<flow>.sqs_notice``), due before the S3 write and
   ``synced`` after SQS took it, so a rerun after a crash sends it only if it never went out
   (every notice carries the send's idempotency key as the message attribute
   ``po_sync_idempotency_key``; FIFO queues also get it as ``MessageDeduplicationId``);
3. retries the vendor's ``failed`` POs (bounded, longest-waiting first), whatever the window;
4. after a *completed* run that met no ``busy`` PO, moves the vendor's cursor (``sync_cursor``, key =
   vendor id) to the end of the window. Manual runs without a data interval start from it, and a
   scheduled run starts from it when it is behind the data interval (a scheduler outage).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from po_sync import faults
from po_sync.exceptions import (
    ConfigurationError,
    ExternalSystemError,
    RecordError,
    RecordValidationError,
)
from po_sync.ledger import Action, Decision, RecordKey
from po_sync.netsuite.mapping import (
    SAFE_IDENTIFIER_RULE,
    document_numbers_param,
    po_lines_query,
    purchase_orders_from_rows,
)
from po_sync.sync import SyncOperator, SyncRun, as_bool, catch_up_window, is_scheduled
from po_sync.validation import UnsafeValueError
from po_sync.vendors.formats import dump_document
from po_sync.vendors.mapping import document_hash, purchase_order_document
from po_sync.vendors.operators.po_retry import FailedPORetry
from po_sync.vendors.s3 import s3_error
from po_sync.vendors.settings import VARIABLE_KEY, VendorSettings, load_vendors_config

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["VendorPOExportOperator"]


FLOW = "netsuite_vendor_po_export"
#: the SQS message attribute carrying a notice's idempotency key (the same for every send of one PO
#: version): FIFO queues deduplicate by it themselves, a standard queue's consumer drops repeats by it
IDEMPOTENCY_ATTRIBUTE = "po_sync_idempotency_key"
CRASH_S3_PUT = faults.declare(FLOW, "after_s3_put", "a PO document written to the vendor's bucket")
CRASH_NOTICE = faults.declare(FLOW, "after_notice", "the PO's SQS notice sent (if any)", legacy=True)
faults.declare_ledger_points(FLOW)


class VendorPOExportOperator(SyncOperator):
    """Send one vendor its new and changed purchase orders.

    :param vendor_id: the vendor (``vendor_id`` in the vendor settings); templated, usually mapped.
    :param resync_po_numbers: send exactly these POs (of this vendor) again, changed or not, ignoring
        the window; templated.
    :param dry_run: read and map, report what would be sent, write nothing (no S3, no ledger records,
        no cursor move); templated.
    :param netsuite_conn_id: NetSuite connection.
    :param aws_conn_id: S3/SQS connection.
    :param variable_key: Airflow Variable with the vendor settings (falls back to the example file).
    :param window_overlap: scheduled runs start this much before the data interval, so a PO saved
        late is not missed (duplicates are ``ignored`` by hash). Backfills and manual runs use
        the exact interval. A scheduled run whose vendor cursor is behind its interval (the
        scheduler was down) reads from the cursor instead.
    :param retry_limit: every run also retries up to this many of the vendor's ``failed`` POs, the
        longest-waiting first, whatever its window (0 = none).
    """

    template_fields: Sequence[str] = ("vendor_id", "resync_po_numbers", "is_dry_run")
    ui_color = "#e8f4d9"

    def __init__(
        self,
        *,
        vendor_id: str,
        resync_po_numbers: Any = None,
        dry_run: Any = False,
        netsuite_conn_id: str = "netsuite_default",
        aws_conn_id: str = "aws_default",
        variable_key: str = VARIABLE_KEY,
        window_overlap: timedelta = timedelta(minutes=10),
        retry_limit: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(window_overlap=timedelta(0), **kwargs)
        if window_overlap < timedelta(0):
            raise ConfigurationError(f"{self.task_id}: window_overlap must not be negative")
        if retry_limit < 0:
            raise ConfigurationError(f"{self.task_id}: retry_limit must not be negative")
        self.retry_limit = retry_limit
        self.scheduled = False
        self.vendor_id = vendor_id
        self.resync_po_numbers = resync_po_numbers
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.netsuite_conn_id = netsuite_conn_id
        self.aws_conn_id = aws_conn_id
        self.variable_key = variable_key
        self.scheduled_overlap = window_overlap

    # -- arguments rendered at run time ----------------------------------------------------------

    def _resync(self) -> list[str]:
        # checked here, so a bad param is named as one and never reaches the SuiteQL builder
        return document_numbers_param(
            self.resync_po_numbers, param=f"{self.task_id}: resync_po_numbers", rule=SAFE_IDENTIFIER_RULE
        )

    def _dry_run(self) -> bool:
        return as_bool(self.is_dry_run)

    # -- the run ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        dag_run = context.get("dag_run")
        self.scheduled = is_scheduled(dag_run)
        if self.scheduled:
            self.window_overlap = self.scheduled_overlap
        if getattr(dag_run, "logical_date", None) is None:
            # A run triggered without a logical date covers everything since the vendor's cursor.
            context = dict(context)  # type: ignore[assignment]
            context["data_interval_start"] = None
        return super().execute(context)

    def sync(self, context: Context, run: SyncRun) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from po_sync.netsuite.hook import NetSuiteHook

        settings = load_vendors_config(self.variable_key).vendor(str(self.vendor_id))
        resync = self._resync()
        dry_run = self._dry_run()
        start, end = run.window.start, run.window.end
        if not resync:
            cursor = run.ledger.get_cursor(run.flow, cursor_key=settings.vendor_id)
            if start is None:
                start = cursor
            elif getattr(self, "scheduled", False):  # a scheduler outage must not skip hours
                caught_up = catch_up_window(run.window, cursor, overlap=self.scheduled_overlap)
                if caught_up.start != start:
                    self.log.info(
                        "vendor %s: cursor %s is behind the interval; reading from it",
                        settings.vendor_id,
                        cursor,
                    )
                    run.widen_window(caught_up.start)
                    start = caught_up.start
        s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        with NetSuiteHook(self.netsuite_conn_id) as netsuite:
            zone = netsuite.account_zone
            exporter = VendorExporter(
                run=run, settings=settings, s3=s3, aws_conn_id=self.aws_conn_id, log=self.log
            )
            if not dry_run:
                exporter.check_bucket()
            if resync:
                query = po_lines_query(vendor_id=settings.vendor_id, numbers=resync)
            else:
                query = po_lines_query(
                    vendor_id=settings.vendor_id,
                    statuses=settings.statuses,
                    modified_from=start,
                    modified_to=end,
                    zone=zone,
                )
            self.log.info(
                "vendor %s: reading POs modified in [%s, %s)%s",
                settings.vendor_id,
                start,
                end,
                f" (resync {resync})" if resync else "",
            )
            rows = list(netsuite.suiteql(query))
            run.notes.update(exporter.export(rows, force=bool(resync), dry_run=dry_run, zone=zone))
            retry = FailedPORetry(
                run=run, settings=settings, netsuite=netsuite, limit=self.retry_limit, log=self.log
            )
            seen = {str(row.get("tranid")) for row in rows}
            run.notes.update(retry.retry(exporter, exclude=seen, dry_run=dry_run, zone=zone))
            run.notes["netsuite_calls"] = netsuite.stats["calls"]
        if not resync and not dry_run and end is not None:
            run.notes["advance_to"] = end.isoformat()
            run.advance_cursor_on_completion(end, cursor_key=self.vendor_id)


class VendorExporter:
    """The per-vendor export loop, usable outside Airflow (the benchmark drives it directly).

    :param run: the ledger run.
    :param settings: the vendor.
    :param s3: an ``S3Hook``.
    :param aws_conn_id: for the ``SqsHook`` when the vendor has a queue.
    """

    def __init__(
        self, *, run: SyncRun, settings: VendorSettings, s3: Any, aws_conn_id: str, log: Any
    ) -> None:
        self.run = run
        self.settings = settings
        self.s3 = s3
        self.client = s3.get_conn()
        self.aws_conn_id = aws_conn_id
        self.log = log
        self._queue_url: str | None = None
        self._sqs: Any = None

    def check_bucket(self) -> None:
        """Fail the vendor's task (not the record) when its bucket is unreachable."""
        try:
            self.client.head_bucket(Bucket=self.settings.bucket)
        except Exception as exc:  # noqa: BLE001 - botocore errors are mapped
            raise s3_error(exc, action="HEAD bucket", key=self.settings.bucket) from exc

    def _notice_due(self, po_number: str, decision: Decision) -> Decision | None:
        """Claim the SQS notice of this send in the ledger; None when it must not be sent (again).

        A fresh send (``SEND``) always owes a notice. A resumed one (``RESUME``: the run before
        crashed after claiming the PO) owes it only if the crashed run did not get it out: the notice
        record is then still ``in_progress`` (sent again: SQS is at-least-once anyway), or ``synced``
        with this send's idempotency key (not sent again).
        """
        if not self.settings.sqs_queue:
            return None
        run = self.run
        # Under a flow of their own, so the flow's counts stay one record per PO.
        key = RecordKey(f"{run.flow}.sqs_notice", "sqs_notice", self.settings.vendor_id, po_number)
        notice = run.ledger.begin(
            key,
            payload_hash=decision.idempotency_key,
            sync_run_id=run.id,
            context=run.context,
            trace_key=self.settings.sqs_queue,
            force=decision.action is not Action.RESUME,
        )
        if notice.action in (Action.SKIP, Action.BUSY):
            self.log.info("SQS notice for PO %s already sent (%s); not sent again", po_number, notice.action)
            return None
        return notice

    def _notice(self, po_number: str, key: str, decision: Decision, notice: Decision | None) -> None:
        queue = self.settings.sqs_queue
        if not queue or notice is None:
            return
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        body = json.dumps(
            {"event": "purchase_order", "po_number": po_number, "bucket": self.settings.bucket, "key": key}
        )
        try:
            if self._sqs is None:
                self._sqs = SqsHook(aws_conn_id=self.aws_conn_id).get_conn()
                self._queue_url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            kwargs: dict[str, Any] = {
                "QueueUrl": self._queue_url,
                "MessageBody": body,
                # the same on every try of this send: a standard queue's consumer drops repeats by it
                "MessageAttributes": {
                    IDEMPOTENCY_ATTRIBUTE: {"DataType": "String", "StringValue": decision.idempotency_key}
                },
            }
            if queue.endswith(".fifo"):
                kwargs.update(
                    MessageGroupId=self.settings.vendor_id, MessageDeduplicationId=decision.idempotency_key
                )
            sent = self._sqs.send_message(**kwargs)
        except Exception as exc:
            # not sent: the PO fails with it, and its retry owes the notice again
            self.run.ledger.mark_failed(
                notice.record_id, sync_run_id=self.run.id, code="SQS_SEND", message=type(exc).__name__
            )
            raise
        self.run.ledger.mark_synced(
            notice.record_id, sync_run_id=self.run.id, target_system="sqs", target_id=sent.get("MessageId")
        )

    def export(self, rows: Any, *, force: bool, dry_run: bool, zone: tzinfo = UTC) -> dict[str, Any]:
        """Map ``rows`` (SuiteQL PO lines) and send each PO; returns small counts for XCom.

        :param zone: the account's time zone, in which SuiteQL gives ``lastmodifieddate``.
        """
        run, settings = self.run, self.settings
        would_send: list[str] = []
        files = 0
        for item in purchase_orders_from_rows(rows, zone=zone):
            if isinstance(item, RecordError):
                key = run.key("purchase_order", "netsuite", item.record_id or "unknown")
                if dry_run:
                    continue
                if isinstance(item, RecordValidationError):
                    run.quarantine_input(key, code=item.code, message=item.message)
                else:
                    decision = run.begin(key, payload_hash=None, force=True)
                    run.failed(decision, code=item.code, message=item.message)
                continue
            po = item
            document = purchase_order_document(po, vendor_id=settings.vendor_id)
            payload_hash = document_hash(document)
            key = run.key("purchase_order", "netsuite", po.number)
            try:
                s3_key = settings.po_key(po.number)
            except UnsafeValueError as exc:  # e.g. PO/2026/7: it would open folders in the vendor's bucket
                if not dry_run:
                    run.quarantine_input(key, code=exc.code, message=f"PO {po.number!r}: {exc.message}")
                continue
            if dry_run:
                run.counts["read"] += 1
                state = run.ledger.get(key)
                if (
                    force
                    or state is None
                    or state.payload_hash != payload_hash
                    or state.status.value != "synced"
                ):
                    would_send.append(s3_key)
                continue
            body = dump_document(document, settings.format)

            def send(
                decision: Decision, body: bytes = body, s3_key: str = s3_key, number: str = po.number
            ) -> str:
                notice = self._notice_due(number, decision)
                try:
                    self.client.put_object(
                        Bucket=settings.bucket,
                        Key=s3_key,
                        Body=body,
                        ContentType={"xml": "application/xml", "json": "application/json", "csv": "text/csv"}[
                            settings.format
                        ],
                        Metadata={"po-number": number, "idempotency-key": decision.idempotency_key},
                    )
                    CRASH_S3_PUT.hit()
                    self._notice(number, s3_key, decision, notice)
                except ExternalSystemError:
                    raise
                except Exception as exc:  # noqa: BLE001 - botocore errors are mapped
                    raise s3_error(exc, action="PUT", key=s3_key) from exc
                CRASH_NOTICE.hit()
                return f"s3://{settings.bucket}/{s3_key}"

            before = run.counts["synced"]
            run.process(
                key, payload_hash=payload_hash, send=send, target_system="s3", trace_key=s3_key, force=force
            )
            files += run.counts["synced"] - before
        out: dict[str, Any] = {"vendor_id": settings.vendor_id, "files_written": files, "dry_run": dry_run}
        if dry_run:
            out["would_send"] = len(would_send)
            out["would_send_keys"] = would_send[:20]
        return out
