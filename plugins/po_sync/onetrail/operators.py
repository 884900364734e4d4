"""Onetrail eInteract over sFTP: validated PO submission out, (N)ACKs, order responses, despatch
advices and invoices in.

Every operator follows the ledger rules (``DESIGN.md``): a record is ``in_progress`` before its side
effect; order files are named per PO version (``ORD-<PO>-<version>.xml``), written to a temporary name
and renamed; the PO's submit status moves Not Submitted → Submitting (before the upload) → Submitted
(after the rename) or Failed; an inbound file is keyed by name + SHA-256, archived only after what it
caused is committed, and a bad file goes to ``error/`` with a note beside it. Either way its outcome
is recorded (with the path it goes to) before it moves, so a rerun after a crash in between only
finishes the move (:mod:`po_sync.onetrail.kept`).

Crash drills: ``PO_SYNC_CRASH_AFTER_WRITE=onetrail_po_submit`` (or ``onetrail_inbound``) kills the task
right after a side effect, before the ledger hears of it (:mod:`po_sync.faults`).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import posixpath
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from po_sync import faults, retry
from po_sync import sftp as remote
from po_sync.exceptions import (
    ConfigurationError,
    ExternalSystemError,
    RecordError,
    RecordValidationError,
    RetriableError,
)
from po_sync.ledger import Action, RecordKey, RecordState, RecordStatus
from po_sync.netsuite.mapping import (
    document_numbers_param,
    fulfillment_body,
    item_receipt_body,
    order_snapshots,
    po_lines_query,
    sql_literal,
    vendor_bill_body,
)
from po_sync.onetrail import retries
from po_sync.onetrail.formats import (
    Address,
    DespatchAdvice,
    Invoice,
    OnetrailFormatError,
    OrderResponse,
    dump,
    load,
    use_xml_names,
)
from po_sync.onetrail.kept import KeptFile, forget_folders
from po_sync.onetrail.mapping import (
    ADDED,
    Amendment,
    PoLine,
    SubmitOrder,
    SubmitStatus,
    bill_extras,
    bill_from_invoice,
    despatch_external_id,
    despatch_payload,
    document_id_for,
    fulfillment_from_despatch,
    invoice_external_id,
    invoice_payload,
    line_label,
    order_document,
    order_version,
    receipt_from_despatch,
    response_effects,
    submit_order_from_records,
    validation_problems,
)
from po_sync.onetrail.settings import (
    AMENDMENT_RECORD,
    CUSTOM_FIELDS,
    OnetrailSettings,
    resolve_settings,
)
from po_sync.sync import SyncOperator, SyncRun, as_bool
from po_sync.validation import is_internal_id, suiteql_int

if TYPE_CHECKING:
    from airflow.sdk import Context
    from paramiko import SFTPClient

    from po_sync.netsuite import NetSuiteHook

SUBMIT_FLOW = "onetrail_po_submit"
ORDERS_DIR = "In/Orders"
ACK_DIR = "Out/RC"
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._%-]{0,119}$")
F = CUSTOM_FIELDS


SUBMIT_FLOW, INBOUND_FLOW = "onetrail_po_submit", "onetrail_inbound"
CRASH_SUBMITTING = faults.declare(
    SUBMIT_FLOW, "after_status_submitting", "the PO marked Submitting in NetSuite"
)
CRASH_ORDER_TEMP = faults.declare(SUBMIT_FLOW, "after_temp_upload", "the order uploaded under its temp name")
CRASH_ORDER_UPLOAD = faults.declare(
    SUBMIT_FLOW, "after_order_upload", "the order renamed into In/Orders", legacy=True
)
CRASH_SUBMITTED = faults.declare(SUBMIT_FLOW, "after_status_submitted", "the PO marked Submitted in NetSuite")
CRASH_ACK = faults.declare(SUBMIT_FLOW, "after_ack_applied", "an (N)ACK applied to NetSuite", legacy=True)
CRASH_DOCUMENT = faults.declare(
    INBOUND_FLOW, "after_document_applied", "an order response or invoice applied to NetSuite", legacy=True
)
CRASH_PO_UPDATE = faults.declare(INBOUND_FLOW, "after_po_update", "a PO's accept statuses written")
CRASH_DESPATCH_WRITE = faults.declare(
    INBOUND_FLOW, "after_despatch_write", "a receipt or drop-ship fulfilment written", legacy=True
)
CRASH_DESPATCH = faults.declare(
    INBOUND_FLOW, "after_despatch_applied", "every record of a despatch advice committed", legacy=True
)
CRASH_BILL = faults.declare(INBOUND_FLOW, "after_bill_write", "a vendor bill written", legacy=True)
for _flow in (SUBMIT_FLOW, INBOUND_FLOW):
    faults.declare(
        _flow, "after_file_outcome", "an inbound file's outcome recorded with its kept path, not yet moved"
    )
    faults.declare(_flow, "after_archive", "an inbound file moved to archive/")
    faults.declare(_flow, "after_error_note", "a bad file's .error.txt written")
    faults.declare(_flow, "after_error_move", "a bad file moved to error/")
    faults.declare_ledger_points(_flow)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _netsuite(conn_id: str) -> NetSuiteHook:
    from po_sync.netsuite import NetSuiteHook

    return NetSuiteHook(conn_id)


def _sftp(conn_id: str) -> Any:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    return SFTPHook(ssh_conn_id=conn_id)


def record_doc(record: Any) -> dict[str, Any]:
    """A :class:`~po_sync.netsuite.models.NetSuiteRecord` back as the REST document mapping reads."""
    doc = dict(record.fields)
    for name, lines in record.sublists.items():
        doc[name] = {"items": lines}
    return doc


class _OnetrailOperator(SyncOperator):
    """Shared arguments of the Onetrail operators.

    :param netsuite_conn_id: the NetSuite connection.
    :param sftp_conn_id: Onetrail's sFTP connection (host key pinned).
    :param settings: the settings JSON (default: the ``po_sync_onetrail`` Variable); templated.
    :param dry_run: read and check only: nothing written, moved or recorded; templated.
    """

    template_fields: Sequence[str] = ("settings", "is_dry_run")

    def __init__(
        self,
        *,
        netsuite_conn_id: str = "netsuite_default",
        sftp_conn_id: str = "onetrail_sftp",
        settings: str | Mapping[str, Any] | None = None,
        dry_run: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not netsuite_conn_id or not sftp_conn_id:
            raise ConfigurationError(f"{self.task_id}: netsuite_conn_id and sftp_conn_id are required")
        self.netsuite_conn_id = netsuite_conn_id
        self.sftp_conn_id = sftp_conn_id
        self.settings = settings
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method


# ==================================================================================================
# Submission
# ==================================================================================================


class OnetrailPurchaseOrderSubmitOperator(_OnetrailOperator):
    """Send the POs marked "Save & Submit Electronically" to Onetrail, validated, one file per version.

    Reads (SuiteQL) the POs whose ``custbody_onetrail_submit`` is ticked and whose submit status is
    not ``Do Not Submit``, plus any in ``resync_po_numbers``; for each, reads the PO, its vendor and
    items (REST) and checks eInteract's rules. A PO that fails them gets status ``Failed`` and the
    reasons in ``custbody_onetrail_submit_error`` and is ``quarantined`` in the ledger; nothing is
    sent. A valid PO whose content (its *version*) was already submitted is ``ignored``; otherwise
    its status becomes ``Submitting``, ``ORD-<PO>-<version>`` is written to ``In/Orders`` (temporary
    name, size check, rename), and only then ``Submitted``. A PO submitted before goes as a
    ``Change`` document; a cancelled one (every line closed) as a ``Change`` with status ``Delete``.
    After a crash between upload and ledger, the rerun finds the file (still in ``In/Orders``, or
    acknowledged in ``Out/RC``) and only finishes the status.

    :param resync_po_numbers: PO numbers (``tranId``) or internal ids to check and send again even
        when unchanged; templated.
    """

    template_fields: Sequence[str] = ("settings", "is_dry_run", "resync_po_numbers")
    ui_color = "#e0e8f8"

    def __init__(self, *, resync_po_numbers: Sequence[str] | str = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resync_po_numbers = resync_po_numbers

    def _resync(self) -> list[str]:
        return document_numbers_param(self.resync_po_numbers, param="resync_po_numbers")

    @staticmethod
    def query(resync: Sequence[str]) -> str:
        """The SuiteQL picking POs to submit (public so tests and people can read it)."""
        flagged = (
            f"t.{F['submit']} = 'T' AND NVL(t.{F['submit_status']}, '{SubmitStatus.NOT_SUBMITTED}') "
            f"<> '{SubmitStatus.DO_NOT_SUBMIT}'"
        )
        if resync:
            ids = ", ".join(suiteql_int(v) for v in resync if is_internal_id(v)) or "-1"
            numbers = ", ".join(sql_literal(v) for v in resync)
            flagged = f"(({flagged}) OR t.id IN ({ids}) OR t.tranid IN ({numbers}))"
        return (
            f"SELECT t.id AS po_id, t.tranid AS tranid FROM transaction t "
            f"WHERE t.type = 'PurchOrd' AND {flagged} ORDER BY t.id"
        )

    def sync(self, context: Context, run: SyncRun) -> None:
        settings = resolve_settings(self.settings)
        use_xml_names(settings.xml_names)
        resync = set(self._resync())
        dry_run = as_bool(self.is_dry_run)
        with _netsuite(self.netsuite_conn_id) as netsuite:
            rows = list(netsuite.suiteql(self.query(sorted(resync))))
            if not rows:
                self.log.info("no PO marked for electronic submission")
                return
            submit = _Submission(self, run, netsuite, settings, dry_run)
            try:
                for row in rows:
                    po_id, number = str(row["po_id"]), str(row.get("tranid") or row["po_id"])
                    submit.one(po_id, force=po_id in resync or number in resync)
            finally:
                submit.close()


def load_submit_order(
    netsuite: NetSuiteHook,
    po_id: str,
    settings: OnetrailSettings,
    caches: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> SubmitOrder:
    """Read a PO, its vendor, items (and drop-ship consignee) from NetSuite as a :class:`SubmitOrder`.

    :param caches: record type → id → document, shared across POs of one run.
    """
    caches = {} if caches is None else caches

    def record(record_type: str, record_id: str) -> dict[str, Any]:
        cache = caches.setdefault(record_type, {})
        if record_id not in cache:
            found = netsuite.find_record(record_type, record_id, expand_sub_resources=False)
            cache[record_id] = record_doc(found) if found is not None else {}
        return cache[record_id]

    po = record_doc(netsuite.get_record("purchaseOrder", po_id))
    lines = (po.get("item") or {}).get("items") or []
    vendor_id = str((po.get("entity") or {}).get("id") or "")
    vendor = record("vendor", vendor_id) if vendor_id else {}
    items = {}
    for line in lines:
        item_id = str((line.get("item") or {}).get("id") or "")
        if item_id:
            items[item_id] = record("inventoryItem", item_id)
    codes = {v: k for k, v in settings.currencies.items()}
    currency = codes.get(str((po.get("currency") or {}).get("id") or ""), "USD")
    address = None
    ship_to = str((po.get("shipTo") or {}).get("id") or "")
    if ship_to and any(line.get("isDropShipment") for line in lines):
        customer = record("customer", ship_to)
        address = Address(name=str(customer.get("companyName") or customer.get("entityId") or ship_to))
    return submit_order_from_records(po, vendor, items, currency=currency, ship_to_address=address)


class _Submission:
    """One run's submission state: caches of vendors and items, the sFTP client once needed."""

    def __init__(
        self,
        op: OnetrailPurchaseOrderSubmitOperator,
        run: SyncRun,
        netsuite: NetSuiteHook,
        settings: OnetrailSettings,
        dry_run: bool,
    ) -> None:
        self.op = op
        self.run = run
        self.netsuite = netsuite
        self.settings = settings
        self.dry_run = dry_run
        self.log = op.log
        self.caches: dict[str, dict[str, dict[str, Any]]] = {}
        self._sftp_cm: Any = None
        self._client: SFTPClient | None = None

    # ---- resources

    def client(self) -> SFTPClient:
        if self._client is None:
            self._sftp_cm = _sftp(self.op.sftp_conn_id).get_managed_conn()
            self._client = self._sftp_cm.__enter__()
            remote.ensure_dir(self._client, self.settings.folder(ORDERS_DIR))
        return self._client

    def close(self) -> None:
        if self._sftp_cm is not None:
            self._sftp_cm.__exit__(None, None, None)
            self._sftp_cm = self._client = None

    def _load(self, po_id: str) -> SubmitOrder:
        return load_submit_order(self.netsuite, po_id, self.settings, self.caches)

    def _set_status(self, po_id: str, status: str, error: str = "") -> None:
        self.netsuite.update_record(
            "purchaseOrder",
            po_id,
            {F["submit_status"]: status, F["submit_error"]: error[:3900]},
            idempotent=True,
        )

    # ---- one PO

    def one(self, po_id: str, *, force: bool) -> None:
        run = self.run
        key = run.key("purchase_order", "netsuite", po_id)
        order = self._load(po_id)
        problems = validation_problems(order)
        if problems:
            self._invalid(key, order, problems)
            return
        version = order_version(order, self.settings)
        doc_id = document_id_for(order.number, version)
        partner = self.settings.partner(order.vendor_gln or "")
        name = f"{doc_id}.{'edi' if partner.format == 'edifact' else 'xml'}"
        if self.dry_run:
            run.counts["read"] += 1
            self.log.info("dry run: PO %s would go as %s", order.number, name)
            return
        state = run.ledger.get(key)
        if (
            not force
            and state is not None
            and state.status is RecordStatus.FAILED
            and state.payload_hash == version
            and (state.last_error_code or "").startswith("NACK")
        ):
            self.log.info(
                "PO %s: this version was refused by Onetrail (%s); change the PO to resend",
                order.number,
                state.last_error_code,
            )
            return
        decision = run.begin(key, payload_hash=version, trace_key=name, force=force)
        if decision.action is Action.BUSY:
            return
        if decision.action is Action.SKIP:
            run.ignored(decision)
            return
        previous = decision.previous.target_id if decision.previous else None
        change = order.submit_status in (SubmitStatus.SUBMITTED, SubmitStatus.CONFIRMED) or bool(
            previous and previous != doc_id
        )
        document = order_document(
            order,
            self.settings,
            change=change,
            created_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            document_id=doc_id,
        )
        data = dump(document, partner.format)
        path = posixpath.join(self.settings.folder(ORDERS_DIR), name)
        try:
            if decision.action is Action.RESUME and self._delivered(doc_id, name):
                self.log.info(
                    "PO %s: %s reached Onetrail before the crash; not sent again", order.number, name
                )
            else:
                if order.submit_status != SubmitStatus.SUBMITTING:
                    self._set_status(po_id, SubmitStatus.SUBMITTING)
                    CRASH_SUBMITTING.hit()
                remote.write_atomic(self.client(), path, data, after_temp=CRASH_ORDER_TEMP.hit)
                self.log.info(
                    "PO %s: %s (%s) written to %s", order.number, document.function, partner.format, path
                )
                CRASH_ORDER_UPLOAD.hit()
            self._set_status(po_id, SubmitStatus.SUBMITTED)
            CRASH_SUBMITTED.hit()
        except ExternalSystemError as exc:
            run.failed(decision, code=exc.code or "NETSUITE_ERROR", message=f"PO {order.number}: {exc}")
            return
        run.synced(decision, target_system="onetrail", target_id=doc_id)

    def _invalid(self, key: RecordKey, order: SubmitOrder, problems: list[str]) -> None:
        message = f"PO {order.number} (purchaseOrder/{order.po_id}) not submitted: " + "; ".join(problems)
        if self.dry_run:
            self.run.counts["quarantined"] += 1
            self.log.warning("dry run: %s", message)
            return
        if order.submit_status != SubmitStatus.FAILED or self._error_of(order.po_id) != message[:3900]:
            self._set_status(order.po_id, SubmitStatus.FAILED, message)
        self.run.quarantine_input(key, code="VALIDATION_FAILED", message=message)

    def _error_of(self, po_id: str) -> str:
        found = self.netsuite.get_record(
            "purchaseOrder", po_id, expand_sub_resources=False, fields=[F["submit_error"]]
        )
        return str(found.get(F["submit_error"]) or "")

    def _delivered(self, doc_id: str, name: str) -> bool:
        client = self.client()
        if remote.exists(client, posixpath.join(self.settings.folder(ORDERS_DIR), name)):
            return True
        for folder in (
            self.settings.folder(ACK_DIR),
            posixpath.join(self.settings.folder(ACK_DIR), "archive"),
        ):
            try:
                files = remote.list_files(client, folder)
            except FileNotFoundError:
                continue
            for entry in files:
                data = remote.read(
                    client, posixpath.join(folder, entry.name), max_bytes=self.settings.max_file_bytes
                )
                if doc_id.encode() in data:
                    return True
        return False


# ==================================================================================================
# Inbound files (shared by the (N)ACK reader and the inbound flows)
# ==================================================================================================


class _InboundFile(KeptFile):
    """One file of an ``Out/*`` folder: read, keyed in the ledger, then kept in ``archive/`` or
    ``error/`` once its outcome is recorded (:mod:`po_sync.onetrail.kept`)."""

    def __init__(
        self, client: SFTPClient, folder: str, entry: remote.RemoteFile, run: SyncRun, log: Any
    ) -> None:
        self.client = client
        self.folder = folder
        self.entry = entry
        self.name = entry.name
        self.size = entry.size
        self.path = posixpath.join(folder, entry.name)
        self.run = run
        self.log = log
        self.checksum = ""
        #: the SFTP connection, to name the file in the ledger (set by the operators that retry)
        self.conn_id: str | None = None
        #: put back by the queue's Retry: documents of it already applied are skipped, not refused
        self.retried = False

    @property
    def location(self) -> str:
        return retries.location(self.conn_id or "", self.path)

    def read(self, max_bytes: int, *, client: SFTPClient | None = None) -> bytes | None:
        """The file's bytes (None when bigger than ``max_bytes``), through ``client`` if given."""
        if self.entry.size > max_bytes:
            return None
        data = remote.read(client or self.client, self.path, max_bytes=max_bytes)
        self.checksum = _sha256(data)
        return data

    def key(self, entity_type: str) -> RecordKey:
        label = (
            self.name if _SAFE_NAME_RE.fullmatch(self.name) else re.sub(r"[^A-Za-z0-9._-]", "_", self.name)
        )
        return self.run.key(entity_type, "onetrail", f"{label}@{self.checksum or f'size-{self.entry.size}'}")

    def duplicate_key(self, entity_type: str) -> RecordKey:
        """The record of this file delivered again (its name and content processed before)."""
        return self.run.key(f"{entity_type}_duplicate", "onetrail", self.key(entity_type).source_id)

    def finish_recorded(self, entity_type: str) -> bool:
        """Complete the move of a file whose outcome a stopped run recorded; True when it was one."""
        found = self.recorded_move(self.key(entity_type), self.duplicate_key(entity_type))
        if found is None:
            return False
        self.finish_move(*found)
        return True

    def record_refusal(self, key: RecordKey, *, code: str, message: str) -> str | None:
        """Quarantine bad input that never became a record (``key``), naming the ``error/`` path the
        file goes to; that path, or None when another live run holds the record (the file is left
        to it). The caller moves the file once this is committed."""
        target = self.plan_error()
        decision = self.run.begin(key, payload_hash=None, trace_key=target, force=True)
        if decision.action is Action.BUSY:
            return None
        self.run.quarantined(decision, code=code, message=message)
        self.settle(target, message)
        return target

    def refuse(self, key: RecordKey, *, code: str, message: str) -> None:
        """:meth:`record_refusal`, then the note and the move."""
        target = self.record_refusal(key, code=code, message=message)
        if target is not None:
            self.keep(target, note=message)

    def close(
        self, decision: Any, *, error: tuple[str, str] | None = None, target_id: str | None = None
    ) -> None:
        """Close the file's own record (``quarantined`` with ``error`` = (code, message), else
        ``synced`` with ``target_id``), naming where it goes, then move it there."""
        note = None if error is None else error[1]
        target = self.plan_error() if error is not None else self.plan_archive()
        self.name_target(decision.record_id, target)
        if error is not None:
            self.run.quarantined(decision, code=error[0], message=error[1])
        else:
            self.run.synced(decision, target_system="netsuite", target_id=target_id)
        self.settle(target, note)
        self.keep(target, note=note)


def inbound_files(
    op: Any, run: SyncRun, client: SFTPClient, folder: str, *, doc_entity: str, dry_run: bool
) -> list[_InboundFile]:
    """The folder's files, after the queue's retried files are back in it (not in a dry run)."""
    if not dry_run:
        retries.requeue(
            run,
            client,
            conn_id=op.sftp_conn_id,
            folder=folder,
            file_entity=op.entity_type,
            doc_entity=doc_entity,
        )
    files = [_InboundFile(client, folder, e, run, op.log) for e in list_inbound(client, folder)]
    for file in files:
        file.conn_id = op.sftp_conn_id
    waiting = retry.requeued(run.ledger, run.flow, [f.location for f in files])
    for file in files:
        file.retried = file.location in waiting
    return files


class OnetrailRetryOperator(_OnetrailOperator):
    """The error queue's Retry: put the retried records' files back into their ``Out`` folders.

    Runs before the sensors, so a retried file is there to be seen (a run with nothing new would
    otherwise skip the folder); each inbound operator does the same at its start, so a retry is never
    missed. See :mod:`po_sync.onetrail.retries`.
    """

    ui_color = "#f0e8d8"

    def sync(self, context: Context, run: SyncRun) -> None:
        if as_bool(self.is_dry_run):
            return
        entities = [(op.folder, op.entity_type, op.doc_entity) for op in _INBOUND_OPERATORS]
        wanted = {e for _, file_entity, doc_entity in entities for e in (file_entity, doc_entity)}
        wanted |= {f"{e}_duplicate" for e in wanted}
        requests = retry.retry_requests(run.ledger, run.flow, entity_types=wanted)
        run.notes.update(retry.conf_report(context, requests))
        if not requests:
            return  # nothing asked: no sFTP connection opened
        settings = resolve_settings(self.settings)
        back: set[str] = set()
        with _sftp(self.sftp_conn_id).get_managed_conn() as client:
            for folder, file_entity, doc_entity in entities:
                back |= retries.requeue(
                    run,
                    client,
                    conn_id=self.sftp_conn_id,
                    folder=settings.folder(folder),
                    file_entity=file_entity,
                    doc_entity=doc_entity,
                )
        run.notes["requeued_files"] = sorted(back)


def list_inbound(client: SFTPClient, folder: str, pattern: str = "*") -> list[remote.RemoteFile]:
    """Finished files of an ``Out`` folder (hidden names are uploads in progress), oldest name first."""
    try:
        files = remote.list_files(client, folder)
    except FileNotFoundError:
        return []
    return [f for f in files if not f.name.startswith(".") and fnmatch.fnmatch(f.name, pattern)]


def po_number_of(document_id: str) -> str | None:
    """The PO number inside an order document id (``ORD-<PO>-<version>``)."""
    match = re.fullmatch(r"ORD-(.+)-[0-9a-f]{12}", document_id)
    return match.group(1) if match else None


class OnetrailAcknowledgementOperator(_OnetrailOperator):
    """Read Onetrail's technical (N)ACKs from ``Out/RC``: a NACK fails the PO with its exception code.

    Each ACK names the order document it acknowledges (``ORD-<PO>-<version>``). A positive one
    (``000E``) is recorded and archived. A negative one sets the PO's submit status to ``Failed``
    with the exception codes and text in ``custbody_onetrail_submit_error``, and marks the PO's
    ledger record ``failed`` with code ``NACK_<code>`` when it is about the version last sent; that
    version is not resent until the PO changes. Unreadable files go to ``error/`` with a note.
    """

    ui_color = "#f0e8d8"

    def sync(self, context: Context, run: SyncRun) -> None:
        settings = resolve_settings(self.settings)
        use_xml_names(settings.xml_names)
        dry_run = as_bool(self.is_dry_run)
        folder = settings.folder(ACK_DIR)
        sftp = _sftp(self.sftp_conn_id)
        with _netsuite(self.netsuite_conn_id) as netsuite, sftp.get_managed_conn() as client:
            forget_folders(client)
            for entry in list_inbound(client, folder):
                self._one(
                    run, netsuite, _InboundFile(client, folder, entry, run, self.log), settings, dry_run
                )

    def _one(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        file: _InboundFile,
        settings: OnetrailSettings,
        dry_run: bool,
    ) -> None:
        data = file.read(settings.max_file_bytes)
        if not dry_run and file.finish_recorded("ack_file"):
            return  # handled by a run that stopped before the move: only the move was left
        try:
            if data is None:
                raise OnetrailFormatError(
                    f"{file.name}: more than {settings.max_file_bytes} bytes", code="FILE_TOO_LARGE"
                )
            ack = load(data, "ack", name=file.name, max_bytes=settings.max_file_bytes)
        except OnetrailFormatError as exc:
            if not dry_run:
                file.refuse(file.key("ack_file"), code=exc.code, message=exc.message)
            return
        if dry_run:
            run.counts["read"] += 1
            return
        decision = run.begin(
            file.key("ack_file"), payload_hash=file.checksum, trace_key=ack.original_document_id
        )
        if decision.action is Action.BUSY:
            return
        if decision.action is Action.SKIP:
            # The same file was handled before and is back: keep it, but not in the inbox; its
            # first record stays as it was.
            run.forget(decision)
            message = f"{file.name}: already processed ({ack.original_document_id}); not processed again"
            file.refuse(file.duplicate_key("ack_file"), code="DUPLICATE_FILE", message=message)
            return
        try:
            outcome = self._apply(run, netsuite, ack) if not ack.positive else "ACK"
        except ExternalSystemError as exc:
            run.failed(decision, code=exc.code or "NETSUITE_ERROR", message=f"{file.name}: {exc}")
            return
        CRASH_ACK.hit()
        # the outcome (with the archive path) before the move: see po_sync.onetrail.kept
        target = file.plan_archive()
        file.name_target(decision.record_id, target)
        run.synced(decision, target_system="netsuite", target_id=f"{outcome}:{target}")
        file.keep(target)

    def _apply(self, run: SyncRun, netsuite: NetSuiteHook, ack: Any) -> str:
        codes = ", ".join(e.code for e in ack.errors)
        text = "; ".join(f"{e.code} {e.description}".strip() for e in ack.errors)
        number = po_number_of(ack.original_document_id)
        if number is None:
            raise OnetrailFormatError(f"NACK for {ack.original_document_id}: not an order document id")
        rows = list(
            netsuite.suiteql(
                f"SELECT t.id AS po_id FROM transaction t WHERE t.type = 'PurchOrd' AND t.tranid = {sql_literal(number)} ORDER BY t.id"
            )
        )
        if not rows:
            return f"NACK {codes} (no PO {number})"
        po_id = str(rows[0]["po_id"])
        message = f"Onetrail refused {ack.original_document_id}: {text}"
        netsuite.update_record(
            "purchaseOrder",
            po_id,
            {F["submit_status"]: SubmitStatus.FAILED, F["submit_error"]: message[:3900]},
            idempotent=True,
        )
        state = run.ledger.get(RecordKey(run.flow, "purchase_order", "netsuite", po_id))
        if state is not None and state.target_id == ack.original_document_id:
            run.ledger.mark_failed(
                state.id, sync_run_id=run.id, code=f"NACK_{ack.errors[0].code}"[:60], message=message
            )
        return f"NACK {codes}"


__all__ = [
    "OnetrailAcknowledgementOperator",
    "OnetrailRetryOperator",
    "OnetrailDespatchAdviceOperator",
    "OnetrailInvoiceOperator",
    "OnetrailOrderResponseOperator",
    "OnetrailPurchaseOrderSubmitOperator",
    "list_inbound",
    "po_number_of",
    "resolve_settings",
]


# ==================================================================================================
# Inbound documents: order responses, despatch advices, invoices
# ==================================================================================================


class _InboundOperator(_OnetrailOperator):
    """Process every finished file of one ``Out`` folder, one ledger record per file.

    A file that is too big, unreadable or hostile, that names an unknown PO, or whose content the
    business rules refuse goes to ``error/`` with ``<name>.error.txt`` beside it and is
    ``quarantined``; a file whose name and SHA-256 were processed before goes to ``error/`` as a
    duplicate (nothing is applied twice); a good file is applied to NetSuite and moved to
    ``archive/`` only then. A transient NetSuite failure leaves the file in place for the next run.
    """

    #: the ``Out`` folder under the buyer's home, and the document kind it holds
    folder: str = ""
    kind: str = ""
    entity_type: str = ""
    #: the ledger entity of one document in such a file (its own records, if any)
    doc_entity: str = ""

    def sync(self, context: Context, run: SyncRun) -> None:
        settings = resolve_settings(self.settings)
        use_xml_names(settings.xml_names)
        dry_run = as_bool(self.is_dry_run)
        folder = settings.folder(self.folder)
        sftp = _sftp(self.sftp_conn_id)
        with _netsuite(self.netsuite_conn_id) as netsuite, sftp.get_managed_conn() as client:
            forget_folders(client)
            for file in inbound_files(self, run, client, folder, doc_entity=self.doc_entity, dry_run=dry_run):
                self._file(run, netsuite, file, settings, dry_run)

    def _file(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        file: _InboundFile,
        settings: OnetrailSettings,
        dry_run: bool,
    ) -> None:
        data = file.read(settings.max_file_bytes)
        if not dry_run and file.finish_recorded(self.entity_type):
            return  # handled by a run that stopped before the move: only the move was left
        try:
            if data is None:
                raise OnetrailFormatError(
                    f"{file.name}: {file.entry.size} bytes, more than the {settings.max_file_bytes}-byte limit; not read",
                    code="FILE_TOO_LARGE",
                )
            document = load(data, self.kind, name=file.name, max_bytes=settings.max_file_bytes)  # type: ignore[arg-type]
        except OnetrailFormatError as exc:
            if dry_run:
                run.counts["quarantined"] += 1
                return
            file.refuse(file.key(self.entity_type), code=exc.code, message=exc.message)
            return
        if dry_run:
            run.counts["read"] += 1
            self.log.info("dry run: %s would be processed", file.name)
            return
        key = file.key(self.entity_type)
        state = run.ledger.get(key)
        if state is not None and state.status in (
            RecordStatus.SYNCED,
            RecordStatus.IGNORED,
            RecordStatus.RESOLVED,
        ):
            message = f"{file.name}: already processed on {state.updated_at:%Y-%m-%d %H:%M} UTC ({state.target_id}); not processed again"
            file.refuse(file.duplicate_key(self.entity_type), code="DUPLICATE_FILE", message=message)
            return
        decision = run.begin(key, payload_hash=file.checksum, trace_key=file.name)
        if decision.action is Action.BUSY:
            return
        try:
            target = self.apply(run, netsuite, document, file, settings, decision)
        except RecordValidationError as exc:
            file.close(decision, error=(exc.code, exc.message))
            return
        except ExternalSystemError as exc:
            # NetSuite's fault or a business rule it refused: the file stays for the next run.
            run.failed(decision, code=exc.code or "NETSUITE_ERROR", message=f"{file.name}: {exc}")
            return
        CRASH_DOCUMENT.hit()
        file.close(decision, target_id=target)

    def apply(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        document: Any,
        file: _InboundFile,
        settings: OnetrailSettings,
        decision: Any,
    ) -> str:
        """Apply one parsed document to NetSuite; return what it became (ids, for the ledger)."""
        raise NotImplementedError


def resumed(file_decision: Any, document: RecordState | None, file_name: str) -> bool:
    """Whether ``document`` (a record of one document in a file, found ``synced``) was applied by an
    earlier try of this very file that stopped before the file's own outcome was recorded (a crash,
    or a transient failure of another document of it): the file's record (its name and content)
    was begun before and left ``in_progress`` or ``failed``, and the document was begun from a file
    of this name. Such a document is done, not a duplicate: the file is archived, not refused."""
    previous = file_decision.previous
    return (
        previous is not None
        and previous.status in (RecordStatus.IN_PROGRESS, RecordStatus.FAILED)
        and document is not None
        and document.trace_key == file_name
    )


def find_po(netsuite: NetSuiteHook, number: str, where: str) -> dict[str, Any]:
    """The PO with ``tranId`` = ``number`` (REST document with lines).

    :raises RecordValidationError: ``UNKNOWN_ORDER`` naming the file.
    """
    try:
        literal = sql_literal(number)
    except RecordError:
        raise RecordValidationError(
            f"{where}: PO number {number!r} is not a NetSuite document number", code="UNKNOWN_ORDER"
        ) from None
    rows = list(
        netsuite.suiteql(
            f"SELECT t.id AS po_id FROM transaction t WHERE t.type = 'PurchOrd' AND t.tranid = {literal} ORDER BY t.id"
        )
    )
    if not rows:
        raise RecordValidationError(f"{where}: no purchase order {number} in NetSuite", code="UNKNOWN_ORDER")
    return record_doc(netsuite.get_record("purchaseOrder", str(rows[0]["po_id"])))


def item_mpns(netsuite: NetSuiteHook, *, ids: Sequence[str] = (), mpns: Sequence[str] = ()) -> dict[str, str]:
    """Item id → MPN for ``ids``, or MPN → item id for ``mpns`` (one SuiteQL)."""
    if ids:
        where = "i.id IN (" + ", ".join(suiteql_int(i) for i in ids) + ")"
    elif mpns:
        where = "i.mpn IN (" + ", ".join(sql_literal(m) for m in mpns) + ")"
    else:
        return {}
    rows = netsuite.suiteql(f"SELECT i.id AS id, i.mpn AS mpn FROM item i WHERE {where} ORDER BY i.id")
    if ids:
        return {str(r["id"]): str(r.get("mpn") or "") for r in rows}
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(str(r.get("mpn") or ""), str(r["id"]))
    return out


class OnetrailOrderResponseOperator(_InboundOperator):
    """Order responses (``Out/OrdRsp``) onto their POs: accept statuses, PO amendments, accepted changes.

    Sets ``custbody_onetrail_accept_status`` and each line's ``custcol_onetrail_accept_status``
    (Accepted, Changed and Accepted, Rejected, Deleted, Added) from the response's header and line
    codes (Onetrail XML or UBL), stores every supplier change as an ``Onetrail.net PO Amendment``
    record (``customrecord_onetrail_po_amendment``, upserted by an external id derived from the
    response, so a rerun never doubles one), changes the PO lines only for the change kinds the
    settings' ``auto_accept`` lists (a split's extra parts and added lines become new lines, tagged
    with their source so a rerun does not add them again), and moves the submit status to Confirmed.
    """

    folder = "Out/OrdRsp"
    kind = "order_response"
    entity_type = "order_response"
    doc_entity = "order_response"
    ui_color = "#e0f0e0"

    def apply(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        document: Any,
        file: _InboundFile,
        settings: OnetrailSettings,
        decision: Any,
    ) -> str:
        response: OrderResponse = document
        where = f"order response {response.document_id} (file {file.name})"
        po = find_po(netsuite, response.po_number, where)
        po_id = str(po["id"])
        raw_lines = (po.get("item") or {}).get("items") or []
        mpn_of = item_mpns(
            netsuite, ids=sorted({str((line.get("item") or {}).get("id")) for line in raw_lines})
        )
        lines = [
            PoLine(
                line=str(line.get("line")),
                item_id=str((line.get("item") or {}).get("id")),
                mpn=mpn_of.get(str((line.get("item") or {}).get("id"))),
                quantity=Decimal(str(line.get("quantity") or 0)),
                rate=Decimal(str(line.get("rate") or 0)),
                expected_date=_iso_date(line.get("expectedReceiptDate")),
                closed=bool(line.get("isClosed")),
            )
            for line in raw_lines
        ]
        added = [line.mpn for line in response.lines if line.mpn and line_label(line.status) == ADDED]
        effects = response_effects(
            response, lines, auto_accept=settings.auto_accept, item_for_mpn=item_mpns(netsuite, mpns=added)
        )
        if effects.problems:
            raise RecordValidationError(f"{where}: " + "; ".join(effects.problems), code="BAD_RESPONSE")
        for amendment in effects.amendments:
            netsuite.upsert_record(
                AMENDMENT_RECORD,
                amendment.external_id(response.document_id),
                amendment_body(
                    amendment, po_id=po_id, po_number=response.po_number, document_id=response.document_id
                ),
            )
        sources = {str(line.get(F["line_source"]) or "") for line in raw_lines}
        items: list[dict[str, Any]] = []
        for number, label in sorted(
            effects.line_status.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0
        ):
            items.append(
                {"line": int(number), F["line_accept_status"]: label, **effects.line_updates.get(number, {})}
            )
        for index, new in enumerate(effects.new_lines, start=1):
            source = f"{response.document_id}#{index}"
            if source in sources:
                continue  # added by an earlier, interrupted run
            entry: dict[str, Any] = {
                "item": {"id": new["item_id"]},
                "quantity": _plain(new["quantity"]),
                F["line_accept_status"]: new["status"],
                F["line_source"]: source,
            }
            if new.get("rate") is not None:
                entry["rate"] = _plain(new["rate"])
            if new.get("expected_date") is not None:
                entry["expectedReceiptDate"] = new["expected_date"].isoformat()
            items.append(entry)
        body: dict[str, Any] = {
            F["accept_status"]: effects.header_status,
            F["submit_status"]: SubmitStatus.CONFIRMED,
            "item": {"items": items},
        }
        netsuite.update_record("purchaseOrder", po_id, body)
        CRASH_PO_UPDATE.hit()
        agree_version(run, netsuite, po_id, settings)
        return f"purchaseOrder/{po_id}:{effects.header_status}:{len(effects.amendments)} amendment(s)"


def agree_version(run: SyncRun, netsuite: NetSuiteHook, po_id: str, settings: OnetrailSettings) -> None:
    """Record the PO as it stands after the supplier's accepted changes as the submitted version.

    The PO changed because the supplier changed it; sending those changes back as a ``Change``
    document would echo the supplier's own answer. So the submission record of
    ``onetrail_po_submit`` takes the new version (same document id): only the buyer's later edits
    make a ``Change``. Called after every applied response, so a rerun after a crash agrees too.
    """
    key = RecordKey(SUBMIT_FLOW, "purchase_order", "netsuite", po_id)
    state = run.ledger.get(key)
    if state is None or state.status not in (
        RecordStatus.SYNCED,
        RecordStatus.IGNORED,
        RecordStatus.RESOLVED,
    ):
        return
    version = order_version(load_submit_order(netsuite, po_id, settings), settings)
    if version == state.payload_hash:
        return
    decision = run.ledger.begin(
        key, payload_hash=version, sync_run_id=run.id, context=run.context, force=True
    )
    run.ledger.mark_synced(
        decision.record_id,
        sync_run_id=run.id,
        target_system=state.target_system or "onetrail",
        target_id=state.target_id,
    )


def amendment_body(amendment: Amendment, *, po_id: str, po_number: str, document_id: str) -> dict[str, Any]:
    """The ``customrecord_onetrail_po_amendment`` body: linked to the PO, one supplier change."""
    return {
        "name": f"{po_number} {amendment.change} {amendment.line or ''}".strip()[:300],
        "custrecord_onetrail_amend_po": {"id": po_id},
        "custrecord_onetrail_amend_line": amendment.line,
        "custrecord_onetrail_amend_change": amendment.change,
        "custrecord_onetrail_amend_old": amendment.old_value,
        "custrecord_onetrail_amend_new": amendment.new_value,
        "custrecord_onetrail_amend_status": amendment.status,
        "custrecord_onetrail_amend_applied": amendment.applied,
        "custrecord_onetrail_amend_response": document_id,
    }


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


class OnetrailDespatchAdviceOperator(_InboundOperator):
    """Despatch advices (``Out/Desadv``): item receipts for standard POs, Shipped item fulfilments for
    drop-ship POs, with serial numbers (inventory detail) and tracking numbers.

    Each (advice, PO) pair is one ledger record with a deterministic ``externalId``
    (``OT-DSP-<despatch number>-<PO>``) and the ledger's idempotency key on the transform; after a
    crash the rerun finds the receipt by its external id instead of creating a second. Partial
    shipments accumulate (each advice receives what it ships). An advice for lines already received
    (or a line the PO lacks) is quarantined with the file in ``error/``, never received twice; the
    other POs of the same file still go through.

    Files stream through a pipeline: this task's thread reads, parses and begins them
    (``batch_size`` at a time, their POs read in one SuiteQL) while the NetSuite writes run
    concurrently within the account's limit (:meth:`NetSuiteHook.map_concurrent`); each file is
    archived (or sent to ``error/``) as soon as its last write is back.

    :param batch_size: files whose POs are read in one SuiteQL.
    """

    folder = "Out/Desadv"
    kind = "despatch_advice"
    entity_type = "despatch_advice_file"
    doc_entity = "despatch_advice"
    ui_color = "#e8e0f0"

    def __init__(self, *, batch_size: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ConfigurationError(f"{self.task_id}: batch_size must be at least 1")
        self.batch_size = batch_size

    def sync(self, context: Context, run: SyncRun) -> None:
        settings = resolve_settings(self.settings)
        use_xml_names(settings.xml_names)
        dry_run = as_bool(self.is_dry_run)
        folder = settings.folder(self.folder)
        sftp = _sftp(self.sftp_conn_id)
        with _netsuite(self.netsuite_conn_id) as netsuite, sftp.get_managed_conn() as client:
            forget_folders(client)
            entries = inbound_files(self, run, client, folder, doc_entity=self.doc_entity, dry_run=dry_run)
            _DespatchStream(self, run, netsuite, settings, dry_run).run(entries)

    def _send(
        self,
        netsuite: NetSuiteHook,
        advice: DespatchAdvice,
        order: Any,
        external_id: str,
        where: str,
        decision: Any,
    ) -> str | None:
        record_type = "itemFulfillment" if order.is_drop_ship else "itemReceipt"
        if decision.action is Action.RESUME:
            found = netsuite.find_record(
                record_type, f"eid:{external_id}", expand_sub_resources=False, fields=["id"]
            )
            if found is not None:
                return found.id
        try:
            if order.is_drop_ship:
                fulfillment = fulfillment_from_despatch(advice, order, external_id=external_id, where=where)
                if fulfillment is None:
                    return None
                sales_order = netsuite.get_record("salesOrder", order.sales_order_id)
                body = fulfillment_body(
                    fulfillment, sales_order.lines, {order.number: order.id}, document=where
                )
                result = netsuite.transform_record(
                    "salesOrder",
                    order.sales_order_id,
                    "itemFulfillment",
                    body,
                    idempotency_key=decision.idempotency_key,
                )
            else:
                receipt = receipt_from_despatch(advice, order, external_id=external_id, where=where)
                if receipt is None:
                    return None
                body = item_receipt_body(receipt, order, document=where)
                result = netsuite.transform_record(
                    "purchaseOrder", order.id, "itemReceipt", body, idempotency_key=decision.idempotency_key
                )
        except RecordError as exc:
            if isinstance(exc, RecordValidationError):
                raise
            raise RecordValidationError(exc.message, code=exc.code) from None
        CRASH_DESPATCH_WRITE.hit()
        return str(result.id)


class _DespatchFile:
    """One despatch advice file on its way: its ledger decision and the outcome of each of its POs."""

    def __init__(self, file: _InboundFile, advice: DespatchAdvice, decision: Any) -> None:
        self.file = file
        self.advice = advice
        self.decision = decision
        self.waiting = 0
        self.problems: list[str] = []
        self.done: list[str] = []
        self.retry = False

    @property
    def where(self) -> str:
        return f"despatch advice {self.advice.despatch_number} (file {self.file.name})"


class _DespatchStream:
    """Despatch advices as a pipeline of three stages, so NetSuite's slots never wait on this task:

    - a reader thread (its own sFTP connection) reads and parses files ahead, a group at a time,
      and reads the group's POs in one SuiteQL;
    - this thread begins each group's ledger records in one transaction (:meth:`Ledger.batch`),
      then hands the writes to the hook's threads (:meth:`NetSuiteHook.map_concurrent`, twice as
      many threads as slots so a slot freed is taken at once);
    - a finisher thread (its own sFTP connection) records the outcomes in batches of ``_FLUSH``
      (one commit), then archives (or sends to ``error/``) the files whose last write is back and
      closes their file records in one more commit.

    A record is ``in_progress`` (committed) before its write; a file is archived only after the
    outcomes of its writes are committed. A crash between a write and the next batch leaves its
    record ``in_progress``: the rerun finds the receipt by its external id (``RESUME``).
    """

    #: outcomes recorded per ledger commit
    _FLUSH = 25
    #: files begun per ledger commit
    _BEGIN = 10
    #: groups the reader may hold ready
    _AHEAD = 3

    def __init__(
        self,
        op: OnetrailDespatchAdviceOperator,
        run: SyncRun,
        netsuite: NetSuiteHook,
        settings: OnetrailSettings,
        dry_run: bool,
    ) -> None:
        self.op = op
        self.run_ = run
        self.netsuite = netsuite
        self.settings = settings
        self.dry_run = dry_run
        self.outcomes: list[tuple[_DespatchFile, str, Any, Any]] = []
        self.finished: list[_DespatchFile] = []

    def run(self, entries: list[_InboundFile]) -> None:
        def write(item: tuple[_DespatchFile, str, Any, Any]) -> str | None:
            state, number, order, decision = item
            return self.op._send(
                self.netsuite,
                state.advice,
                order,
                despatch_external_id(state.advice, number),
                state.where,
                decision,
            )

        reader = _DespatchReader(self, entries)
        finisher = _DespatchFinisher(self) if entries else None
        try:
            work = self._work(reader.groups())
            for (state, number, _order, decision), outcome in self.netsuite.map_concurrent(
                write, work, workers=2 * self.netsuite.concurrency
            ):
                if isinstance(outcome, BaseException) and not isinstance(
                    outcome, (RecordError, ExternalSystemError)
                ):
                    self._hand(finisher)
                    raise outcome  # a crash or a bug: the task fails; records of this write stay in progress
                self.outcomes.append((state, number, decision, outcome))
                state.waiting -= 1
                if state.waiting == 0:
                    self.finished.append(state)
                if len(self.outcomes) >= self._FLUSH:
                    self._hand(finisher)
            self._hand(finisher)
        finally:
            reader.close()
            if finisher is not None:
                finisher.close()
        if finisher is not None and finisher.error is not None:
            raise finisher.error

    def _hand(self, finisher: _DespatchFinisher | None) -> None:
        """Pass the outcomes and finished files so far to stage 3 (or do it here when there is none)."""
        outcomes, self.outcomes = self.outcomes, []
        finished, self.finished = self.finished, []
        if finisher is None:
            self._record_outcomes(outcomes)
            self._finish_files(finished)
        elif outcomes or finished:
            finisher.hand(outcomes, finished)

    # ---- stage 2: begin a group's records (one commit), then yield its writes

    def _work(
        self, groups: Iterator[tuple[list[tuple[_InboundFile, bytes | None, Any]], dict[str, Any]]]
    ) -> Iterator[tuple[_DespatchFile, str, Any, Any]]:
        for group, orders in groups:
            # a few files per commit: the writes already under way cover the time a batch takes
            for start in range(0, len(group), self._BEGIN):
                moves: list[Callable[[], Any]] = []
                with self.run_.ledger.batch():
                    states = self._begin_files(group[start : start + self._BEGIN], moves)
                    items = self._begin_records(states, orders)
                    for state in states:
                        state.waiting = sum(1 for item in items if item[0] is state)
                        if not state.waiting:
                            self.finished.append(state)
                for move in moves:  # refused files: their outcome is committed now, then they move
                    move()
                yield from items

    def _parsed(
        self, file: _InboundFile, data: bytes | None, parsed: Any, moves: list[Callable[[], Any]]
    ) -> DespatchAdvice | None:
        """The advice, or None for a file too big or unreadable (recorded as such, its move to
        ``error/`` added to ``moves``), or one whose outcome a stopped run recorded (its move added)."""
        run, settings = self.run_, self.settings
        entity = self.op.entity_type
        found = None if self.dry_run else file.recorded_move(file.key(entity), file.duplicate_key(entity))
        if found is not None:
            moves.append(functools.partial(file.finish_move, *found))
            return None
        try:
            if data is None:
                raise OnetrailFormatError(
                    f"{file.name}: {file.entry.size} bytes, more than the {settings.max_file_bytes}-byte limit; not read",
                    code="FILE_TOO_LARGE",
                )
            if isinstance(parsed, OnetrailFormatError):
                raise parsed
            return parsed
        except OnetrailFormatError as exc:
            if self.dry_run:
                run.counts["quarantined"] += 1
            else:
                note = exc.message
                target = file.record_refusal(file.key(self.op.entity_type), code=exc.code, message=note)
                if target is not None:
                    moves.append(functools.partial(file.keep, target, note=note))
            return None

    def _begin_files(
        self, chunk: list[tuple[_InboundFile, bytes | None, Any]], moves: list[Callable[[], Any]]
    ) -> list[_DespatchFile]:
        """Begin the file records of ``chunk`` (one :meth:`SyncRun.begin_many`); a file done before
        is recorded as a duplicate and its move to ``error/`` added to ``moves`` (made once the
        batch is committed)."""
        run = self.run_
        good = [
            (file, advice)
            for file, data, parsed in chunk
            if (advice := self._parsed(file, data, parsed, moves))
        ]
        if self.dry_run:
            run.counts["read"] += len(good)
            return []
        keys = [file.key(self.op.entity_type) for file, _ in good]
        # The key holds the checksum, so a file done before (synced, ignored, resolved) is a SKIP:
        # begin tells it without a read of its own and leaves that record as it was.
        decisions = run.begin_many(
            [(key, file.checksum, file.name) for key, (file, _) in zip(keys, good, strict=True)]
        )
        states: list[_DespatchFile] = []
        for (file, advice), decision in zip(good, decisions, strict=True):
            if decision.action is Action.SKIP:
                run.forget(decision)
                state = decision.previous
                assert state is not None
                message = f"{file.name}: already processed on {state.updated_at:%Y-%m-%d %H:%M} UTC ({state.target_id}); not processed again"
                dup = file.duplicate_key(self.op.entity_type)
                target = file.record_refusal(dup, code="DUPLICATE_FILE", message=message)
                if target is not None:
                    moves.append(functools.partial(file.keep, target, note=message))
            elif decision.action is not Action.BUSY:
                states.append(_DespatchFile(file, advice, decision))
        return states

    def _begin_records(
        self, states: list[_DespatchFile], orders: Mapping[str, Any]
    ) -> list[tuple[_DespatchFile, str, Any, Any]]:
        """Begin one record per (advice, PO) of ``states`` (one :meth:`SyncRun.begin_many`); the
        writes to make. An unknown PO, or one already received from this advice, is a problem of
        its file."""
        run = self.run_
        wanted: list[tuple[_DespatchFile, str, RecordKey, str, Any]] = []
        for state in states:
            for number in state.advice.po_numbers:
                key = run.key("despatch_advice", "onetrail", f"{state.advice.despatch_number}/{number}"[:200])
                order = orders.get(number)
                if order is None:
                    message = f"{state.where}: no purchase order {number} in NetSuite"
                    run.quarantine_input(key, code="UNKNOWN_ORDER", message=message)
                    state.problems.append(message)
                    continue
                wanted.append((state, number, key, despatch_payload(state.advice, number), order))
        decisions = run.begin_many([(key, payload, state.file.name) for state, _, key, payload, _ in wanted])
        items: list[tuple[_DespatchFile, str, Any, Any]] = []
        for (state, number, key, _payload, order), decision in zip(wanted, decisions, strict=True):
            previous = decision.previous
            if (
                decision.action is Action.SKIP
                and previous is not None
                and previous.status is RecordStatus.SYNCED
            ):
                run.forget(decision)
                if state.file.retried or resumed(state.decision, previous, state.file.name):
                    # applied before the file was refused, or by a try of this file that stopped
                    # before the file's own outcome: done, not again
                    state.done.append(f"{number}:{previous.target_id}")
                    continue
                message = f"{state.where}: PO {number} was already received from this advice ({previous.target_id}); not again"
                dup = run.key(
                    "despatch_advice_duplicate", "onetrail", f"{key.source_id}@{state.file.checksum[:16]}"
                )
                run.quarantine_input(dup, code="ALREADY_RECEIVED", message=message)
                state.problems.append(message)
            elif decision.action is Action.BUSY:
                state.retry = True
            elif decision.action is Action.SKIP:
                run.ignored(decision)
            else:
                items.append((state, number, order, decision))
        return items

    # ---- stage 3: record outcomes (one commit), then archive the finished files

    def _record_outcomes(self, outcomes: list[tuple[_DespatchFile, str, Any, Any]]) -> None:
        if not outcomes:
            return
        run = self.run_
        with run.ledger.batch():
            for state, number, decision, outcome in outcomes:
                if isinstance(outcome, RecordValidationError):
                    run.quarantined(decision, code=outcome.code, message=outcome.message)
                    state.problems.append(outcome.message)
                elif isinstance(outcome, RecordError):
                    run.failed(decision, code=outcome.code, message=outcome.message)
                    state.retry = True
                elif isinstance(outcome, ExternalSystemError):
                    run.failed(decision, code=outcome.code or "NETSUITE_ERROR", message=str(outcome))
                    state.retry = True
                else:
                    run.synced(decision, target_system="netsuite", target_id=outcome)
                    state.done.append(f"{number}:{outcome}")

    def _finish_files(self, finished: list[_DespatchFile]) -> None:
        """Close the finished files' records (one commit, each naming where its file goes), then move
        the files (:mod:`po_sync.onetrail.kept`)."""
        if not finished:
            return
        plans = [self._finish(state) for state in finished]  # where each goes (sFTP stats only)
        with self.run_.ledger.batch():
            for close, _move in plans:
                close()
        for _close, move in plans:
            if move is not None:
                move()

    def _finish(self, state: _DespatchFile) -> tuple[Callable[[], None], Callable[[], Any] | None]:
        """Plan where the file goes; return the ledger update that says so (run in a batch) and the
        move to make once that is committed (None: the file stays)."""
        run, file = self.run_, state.file
        if state.retry:
            message = f"{file.name}: a PO could not be written now; the file stays"
            return (lambda: run.failed(state.decision, code="RETRY", message=message)), None
        if state.problems:
            applied = f" (applied: {', '.join(state.done)})" if state.done else ""
            message = f"{state.where}: " + "; ".join(state.problems) + applied
            target = file.plan_error()

            def refused() -> None:
                file.name_target(state.decision.record_id, target)
                run.quarantined(state.decision, code="DESPATCH_REFUSED", message=message)
                file.settle(target, message)

            return refused, lambda: file.keep(target, note=message)
        CRASH_DESPATCH.hit()
        target = file.plan_archive()
        done = ", ".join(state.done) or "nothing shipped"

        def received() -> None:
            file.name_target(state.decision.record_id, target)
            run.synced(state.decision, target_system="netsuite", target_id=done)
            file.settle(target, None)

        return received, lambda: file.keep(target)


class _DespatchFinisher:
    """Stage 3 of :class:`_DespatchStream`, on a thread of its own: record each handed batch of
    outcomes (one commit), then archive (or send to ``error/``) the files it finished and close
    their records (one more commit), so neither the ledger's writes nor the sFTP moves hold up
    the thread that feeds NetSuite. Batches are taken in the order handed; after a failure (a crash
    drill, the sFTP server gone) the rest is left in progress and the failure is raised by the
    caller's thread.
    """

    def __init__(self, stream: _DespatchStream) -> None:
        self.stream = stream
        self.todo: queue.Queue[tuple[list[Any], list[_DespatchFile]] | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self._cm = _sftp(stream.op.sftp_conn_id).get_managed_conn()
        self.client = self._cm.__enter__()
        self.thread = threading.Thread(target=self._main, name="onetrail-despatch-finisher", daemon=True)
        self.thread.start()

    def hand(self, outcomes: list[Any], finished: list[_DespatchFile]) -> None:
        if self.error is not None:
            raise self.error
        self.todo.put((outcomes, finished))

    def _main(self) -> None:
        while True:
            item = self.todo.get()
            if item is None:
                return
            if self.error is not None:
                continue
            outcomes, finished = item
            try:
                self.stream._record_outcomes(outcomes)
                for state in finished:
                    state.file.client = self.client  # this thread's sFTP client from now on
                self.stream._finish_files(finished)
            except BaseException as exc:  # noqa: BLE001 - raised by the caller's thread
                self.error = exc

    def close(self) -> None:
        """Wait for everything handed, then close the sFTP client."""
        self.todo.put(None)
        self.thread.join()
        self._cm.__exit__(None, None, None)


class _DespatchReader:
    """Stage 1 of :class:`_DespatchStream`, on a thread of its own: read and parse the files a group
    at a time and read the group's POs in one SuiteQL, a few groups ahead of the writes.

    It has its own sFTP client (opened by the caller's thread, where Airflow hands out connections):
    a paramiko client must not serve two threads' requests at once.
    """

    def __init__(self, stream: _DespatchStream, entries: list[_InboundFile]) -> None:
        self.stream = stream
        self.entries = entries
        self.ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=stream._AHEAD)
        self.stop = threading.Event()
        self._cm: Any = None
        self.thread: threading.Thread | None = None
        if entries:
            self._cm = _sftp(stream.op.sftp_conn_id).get_managed_conn()
            client = self._cm.__enter__()
            self.thread = threading.Thread(
                target=self._main, args=(client,), name="onetrail-despatch-reader", daemon=True
            )
            self.thread.start()

    def _main(self, client: SFTPClient) -> None:
        try:
            stream = self.stream
            use_xml_names(stream.settings.xml_names)  # a new thread starts without the task's
            limit = stream.settings.max_file_bytes
            size = max(1, stream.op.batch_size)
            for start in range(0, len(self.entries), size):
                group: list[tuple[_InboundFile, bytes | None, Any]] = []
                for file in self.entries[start : start + size]:
                    if self.stop.is_set():
                        return
                    data = file.read(limit, client=client)
                    parsed: Any = None
                    if data is not None:
                        try:
                            parsed = load(data, "despatch_advice", name=file.name, max_bytes=limit)
                        except OnetrailFormatError as exc:
                            parsed = exc
                    group.append((file, data, parsed))
                orders = {} if stream.dry_run else self._orders(group)
                if not self._put(("group", (group, orders))):
                    return
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            self._put(("error", exc))

    def _orders(self, group: list[tuple[_InboundFile, bytes | None, Any]]) -> dict[str, Any]:
        numbers = sorted(
            {n for _, _, parsed in group if isinstance(parsed, DespatchAdvice) for n in parsed.po_numbers}
        )
        orders: dict[str, Any] = {}
        netsuite = self.stream.netsuite
        for chunk in range(0, len(numbers), 500):
            orders.update(
                order_snapshots(netsuite.suiteql(po_lines_query(numbers=numbers[chunk : chunk + 500])))
            )
        return orders

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def groups(self) -> Iterator[tuple[list[tuple[_InboundFile, bytes | None, Any]], dict[str, Any]]]:
        """The groups in file order, as they are ready; the reader's failure is raised here."""
        if self.thread is None:
            return
        while True:
            kind, value = self.ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = None


class OnetrailInvoiceOperator(_InboundOperator):
    """Supplier invoices (``Out/Invoice``) → vendor bills transformed from their POs.

    Lines take the invoice's quantities, rates (purchase cost) and tax; each additional charge becomes
    an expense line on the account configured for its charge type (an unconfigured charge type
    quarantines the invoice, named); the supplier's payment-terms id sets the NetSuite terms only
    when configured; the due date always comes from the invoice; the bill total is reconciled with
    the invoice total before anything is written. One ledger record per supplier and invoice number
    (``externalId`` ``OT-INV-<GLN>-<number>``), so a repeated invoice is never billed twice.
    """

    folder = "Out/Invoice"
    kind = "invoice"
    entity_type = "invoice_file"
    doc_entity = "invoice"
    ui_color = "#f0f0d8"

    def apply(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        document: Any,
        file: _InboundFile,
        settings: OnetrailSettings,
        decision: Any,
    ) -> str:
        invoices: list[Invoice] = document
        numbers = sorted({inv.po_number for inv in invoices})
        orders = order_snapshots(netsuite.suiteql(po_lines_query(numbers=numbers)))
        problems: list[str] = []
        done: list[str] = []
        for invoice in invoices:
            where = f"invoice {invoice.invoice_number} (file {file.name})"
            key = run.key("invoice", "onetrail", f"{invoice.seller_gln}/{invoice.invoice_number}"[:200])
            order = orders.get(invoice.po_number)
            if order is None:
                message = f"{where}: no purchase order {invoice.po_number} in NetSuite"
                run.quarantine_input(key, code="UNKNOWN_ORDER", message=message)
                problems.append(message)
                continue
            payload = invoice_payload(invoice)
            state = run.ledger.get(key)
            if (
                state is not None
                and state.status is RecordStatus.SYNCED
                and (file.retried or resumed(decision, state, file.name))
            ):
                # billed before the refusal, or by a try of this file that stopped before its outcome
                done.append(f"{invoice.invoice_number}:{state.target_id}")
                continue
            if state is not None and state.status is RecordStatus.SYNCED:
                message = f"{where}: already billed ({state.target_id}); not billed again"
                dup = run.key("invoice_duplicate", "onetrail", f"{key.source_id}@{file.checksum[:16]}")
                run.quarantine_input(dup, code="ALREADY_BILLED", message=message)
                problems.append(message)
                continue

            def send(
                decision: Any, invoice: Invoice = invoice, order: Any = order, where: str = where
            ) -> str | None:
                external_id = invoice_external_id(invoice)
                if decision.action is Action.RESUME:
                    found = netsuite.find_record(
                        "vendorBill", f"eid:{external_id}", expand_sub_resources=False, fields=["id"]
                    )
                    if found is not None:
                        return found.id
                bill = bill_from_invoice(invoice, order, settings, where=where)
                try:
                    body = vendor_bill_body(bill, order, document=where)
                except RecordError as exc:
                    raise RecordValidationError(exc.message, code=exc.code) from None
                for entry, line in zip(body["item"]["items"], invoice.lines, strict=True):
                    entry["tax1Amt"] = float(line.tax_amount)
                body.update(bill_extras(bill, invoice, settings))
                result = netsuite.transform_record(
                    "purchaseOrder", order.id, "vendorBill", body, idempotency_key=decision.idempotency_key
                )
                CRASH_BILL.hit()
                return str(result.id)

            run.process(key, payload_hash=payload, send=send, target_system="netsuite", trace_key=file.name)
            after = run.ledger.get(key)
            if after is None or after.status is RecordStatus.QUARANTINED:
                problems.append((after.last_error_message or "quarantined") if after else "not recorded")
            elif after.status in (RecordStatus.FAILED, RecordStatus.IN_PROGRESS):
                raise RetriableError(
                    f"{where}: {after.last_error_message}; the file stays for the next run", system="netsuite"
                )
            else:
                done.append(f"{invoice.invoice_number}:{after.target_id}")
        if problems:
            raise RecordValidationError(
                f"file {file.name}: "
                + "; ".join(problems)
                + (f" (billed: {', '.join(done)})" if done else ""),
                code="INVOICE_REFUSED",
            )
        return ", ".join(done)


#: the inbound operators, in document order (the retry task puts files back for each)
_INBOUND_OPERATORS = (OnetrailOrderResponseOperator, OnetrailDespatchAdviceOperator, OnetrailInvoiceOperator)
