"""HotWax Commerce over SFTP: Pending Receipt POs out as CSV, receipt feeds in as NetSuite item receipts.

Both operators follow the ledger rules (``DESIGN.md``): a record is ``in_progress`` before its side
effect, file names are deterministic, uploads go to a temporary name and are renamed, the exported
flag is set only after the file is complete on the server, an inbound file is keyed by name and
checksum and archived only after NetSuite committed what it caused, and bad input goes to ``error/``
with a report beside it.

Crash points for tests and drills (:mod:`po_sync.faults`), declared below: one after every side
effect (``PO_SYNC_CRASH=hotwax_po_export.after_upload``...); the older ``PO_SYNC_HOTWAX_CRASH=<point>``
still works.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from po_sync import faults, retry
from po_sync.exceptions import (
    SYSTEM_FAULTS,
    ConfigurationError,
    ExternalSystemError,
    RecordSkipped,
    RecordValidationError,
    RetriableError,
    VanishedFileError,
)
from po_sync.hotwax import retries, stuck_exports
from po_sync.hotwax import sftp as remote
from po_sync.hotwax.formats import (
    FormatError,
    HotWaxPoRow,
    ReceiptFeedError,
    ReceiptOrder,
    check_row,
    error_report_csv,
    parse_receipt_feed,
    receipt_feed_json,
    write_po_csv,
)
from po_sync.hotwax.mapping import (
    RECEIPT_LINES_BATCH,
    PoLineState,
    group_po_rows,
    hotwax_rows,
    item_receipt,
    parse_netsuite_date,
    po_line_states,
    po_line_states_from_rows,
    purchase_order_from_rows,
    receipt_external_id,
    receipt_lines_query,
    receipt_problems,
    transform_body,
)
from po_sync.ledger import Action, Decision, RecordKey, RecordStatus
from po_sync.models import canonical_json, record_validation_error
from po_sync.receiving import ReceivingOwnership, load_receiving
from po_sync.sync import SyncOperator, SyncRun, as_bool
from po_sync.validation import (
    config_path,
    document_numbers_param,
    is_field_id,
    is_internal_id,
    suiteql_int,
    suiteql_literal,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from paramiko import SFTPClient

    from po_sync.netsuite import NetSuiteHook

#: HotWax's documented folders, relative to the SFTP login directory (``/home/<user>/``).
DEFAULT_PO_DIR = "netsuite/purchaseorder/fulfillment"
DEFAULT_RECEIPT_DIR = "netsuite/purchaseorder/receipt"
#: The NetSuite body field HotWax's own export script uses to mark exported POs.
EXPORTED_FIELD = "custbody_hc_order_exported"
CRASH_ENV = "PO_SYNC_HOTWAX_CRASH"
#: Ledger code of a PO (or receipt) another flow receives under ``po_sync_receiving``.
NOT_OWNER_CODE = "RECEIVED_BY_OTHER_FLOW"
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


#: Older name of the crash a crash point raises.
SimulatedCrash = faults.InjectedCrash

EXPORT_FLOW, IMPORT_FLOW = "hotwax_po_export", "hotwax_receipt_import"
CRASH_EXPORT_TEMP = faults.declare(EXPORT_FLOW, "after_temp_upload", "the CSV uploaded under its temp name")
CRASH_EXPORT_UPLOAD = faults.declare(
    EXPORT_FLOW, "after_upload", "the CSV renamed to its final name, no flag set", legacy=True
)
CRASH_EXPORT_FLAG = faults.declare(EXPORT_FLOW, "after_flag", "a PO's exported flag set in NetSuite")
CRASH_IMPORT_RECEIPT = faults.declare(
    IMPORT_FLOW, "after_receipt", "an item receipt created in NetSuite", legacy=True
)
CRASH_IMPORT_BEFORE_ARCHIVE = faults.declare(
    IMPORT_FLOW, "before_archive", "every order of the file committed in the ledger"
)
CRASH_IMPORT_ERROR_NOTE = faults.declare(IMPORT_FLOW, "after_error_report", "a bad file's errors.csv written")
CRASH_IMPORT_ERROR_MOVE = faults.declare(IMPORT_FLOW, "after_error_move", "a bad file moved to error/")
CRASH_IMPORT_FAILED_REPORT = faults.declare(
    IMPORT_FLOW, "after_failed_report", "the failed orders' errors.csv written"
)
CRASH_IMPORT_FAILED_JSON = faults.declare(IMPORT_FLOW, "after_failed_json", "the failed orders' .failed.json")
CRASH_IMPORT_ARCHIVE = faults.declare(
    IMPORT_FLOW, "after_archive", "the file moved to archive/ (its outcome recorded before)"
)
CRASH_IMPORT_BEFORE_MOVE = faults.declare(
    IMPORT_FLOW,
    "before_move",
    "a file's outcome in the ledger (synced / quarantined), the file not moved yet",
)
faults.declare_ledger_points(EXPORT_FLOW)
faults.declare_ledger_points(IMPORT_FLOW)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _netsuite(conn_id: str) -> NetSuiteHook:
    from po_sync.netsuite import NetSuiteHook

    return NetSuiteHook(conn_id)


def _sftp(conn_id: str) -> Any:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    return SFTPHook(ssh_conn_id=conn_id)


# ==================================================================================================
# Export
# ==================================================================================================


class HotWaxPurchaseOrderExportOperator(SyncOperator):
    """Write Pending Receipt POs not yet exported to HotWax's SFTP folder as one CSV, then flag them.

    Reads, in one SuiteQL, the lines (open, not drop-ship) of Pending Receipt POs whose
    ``exported_field`` is not set, plus any PO asked for in ``resync_po_numbers``;
    writes them in HotWax's import format to ``<remote_dir>/<name>`` (temporary name, size check,
    rename) and only then sets ``exported_field`` on each PO. Each PO is one ledger record whose
    ``trace_key`` is the file it went out in: after a crash between upload and flag, the rerun finds
    that file (in the folder or HotWax's ``archive/``) and only sets the flag, so HotWax never gets a
    PO twice; a PO whose file never reached the server is exported again.

    :param netsuite_conn_id: the NetSuite connection.
    :param sftp_conn_id: the SFTP connection (host key pinned).
    :param remote_dir: the folder HotWax polls.
    :param exported_field: the checkbox body field that marks exported POs.
    :param resync_po_numbers: PO numbers (``tranId``) or internal ids to export again even when flagged
        (Pending Receipt or partially received); templated.
    :param dry_run: read and map only: no file, no flag, no ledger records; templated.
    :param currency: currency code put on the canonical POs.
    :param file_prefix: first part of the file name.
    """

    template_fields: Sequence[str] = ("remote_dir", "resync_po_numbers", "is_dry_run")
    ui_color = "#e8f0d8"

    def __init__(
        self,
        *,
        netsuite_conn_id: str = "netsuite_default",
        sftp_conn_id: str = "sftp_default",
        remote_dir: str = DEFAULT_PO_DIR,
        exported_field: str = EXPORTED_FIELD,
        resync_po_numbers: Sequence[str] | str = (),
        dry_run: bool | str = False,
        currency: str = "USD",
        file_prefix: str = "PurchaseOrder",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not exported_field.startswith("custbody") or not is_field_id(exported_field):
            raise ConfigurationError(
                f"{self.task_id}: exported_field must be a custom body field (custbody...)"
            )
        if not _SAFE_NAME_RE.fullmatch(file_prefix):
            raise ConfigurationError(
                f"{self.task_id}: file_prefix {file_prefix!r} is not a plain file name part"
            )
        self.netsuite_conn_id = netsuite_conn_id
        self.sftp_conn_id = sftp_conn_id
        self.remote_dir = remote_dir
        self.exported_field = exported_field
        self.resync_po_numbers = resync_po_numbers
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.currency = currency
        self.file_prefix = file_prefix

    # ---- helpers

    def _resync(self) -> list[str]:
        return document_numbers_param(self.resync_po_numbers, param="resync_po_numbers")

    def query(self, resync: Sequence[str]) -> str:
        """The SuiteQL reading candidate PO lines (public so tests and people can read it)."""
        # Not yet exported: the checkbox HotWax's bundle adds, NULL until first set.
        status = f"(t.status = 'B' AND NVL(t.{self.exported_field}, 'F') = 'F')"
        if resync:
            ids = ", ".join(suiteql_int(v) for v in resync if is_internal_id(v)) or "-1"
            numbers = ", ".join(suiteql_literal(v) for v in resync)
            picked = f"t.id IN ({ids}) OR t.tranid IN ({numbers})"
            status = f"({status} OR (t.status IN ('B', 'D', 'E') AND ({picked})))"
        return (
            "SELECT t.id AS po_id, t.tranid AS tranid, t.trandate AS trandate, t.entity AS vendor_id, "
            "t.location AS po_location, tl.id AS line_id, tl.item AS item_id, i.itemid AS sku, "
            "tl.quantity AS quantity, tl.rate AS rate, tl.location AS line_location, "
            "tl.expectedreceiptdate AS expected_receipt_date "
            "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
            "JOIN item i ON i.id = tl.item "
            f"WHERE t.type = 'PurchOrd' AND {status} AND tl.mainline = 'F' AND tl.taxline = 'F' "
            "AND tl.isclosed = 'F' AND tl.isdropship = 'F' ORDER BY t.id, tl.id"
        )

    def _file_name(self, context: Context, digest: str) -> str:
        dag_run = context.get("dag_run")
        when = (
            getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None) or datetime.now(UTC)
        )
        return f"{self.file_prefix}-{when.astimezone(UTC):%Y-%m-%d-%H_%M_%S}-{digest[:12]}.csv"

    def _delivered(self, client: SFTPClient, name: str | None) -> bool:
        if not name:
            return False
        return any(
            remote.exists(client, posixpath.join(folder, name))
            for folder in (self.remote_dir, posixpath.join(self.remote_dir, "archive"))
        )

    def _sweep(self, client: SFTPClient, name: str | None) -> None:
        """Remove the hidden temporary uploads of ``name``, a file of records this run took over
        from a crashed run (its writer is gone), when ``name`` is one this operator gives its files
        (``<file_prefix>-<time>-<digest>.csv``): no other file in the folder is ever touched."""
        if not name or not _SAFE_NAME_RE.fullmatch(name) or not self._our_file_re().fullmatch(name):
            return
        removed = remote.remove_temp_uploads(client, self.remote_dir, name)
        if removed:
            self.log.info("removed %s, left by a crashed upload of %s", ", ".join(removed), name)

    def _our_file_re(self) -> re.Pattern[str]:
        """The names :meth:`_file_name` gives."""
        return re.compile(
            re.escape(self.file_prefix) + r"-\d{4}-\d{2}-\d{2}-\d{2}_\d{2}_\d{2}-[0-9a-f]{12}\.csv"
        )

    # ---- the flow

    def sync(self, context: Context, run: SyncRun) -> None:
        # rendered now: a folder under the SFTP root, never "../.." or "/" (po_sync.validation)
        self.remote_dir = config_path(self.remote_dir, what=f"{self.task_id}: remote_dir")
        resync = self._resync()
        dry_run = as_bool(self.is_dry_run)
        with _netsuite(self.netsuite_conn_id) as netsuite:
            grouped = group_po_rows(netsuite.suiteql(self.query(resync)))
            pos: dict[str, tuple[list[HotWaxPoRow], str]] = {}
            for po_id, rows in grouped.items():
                number = str(rows[0].get("tranid") or po_id)
                expected = parse_netsuite_date(rows[0].get("expected_receipt_date"))
                key = run.key("purchase_order", "netsuite", po_id)
                try:
                    po = purchase_order_from_rows(
                        rows, currency=self.currency, expected_receipt_date=expected
                    )
                    po_rows = hotwax_rows(po)
                    for row in po_rows:
                        check_row(row)
                except ValidationError as exc:
                    err = record_validation_error(
                        exc, record=f"PO {number}", source=f"purchaseOrder/{po_id}", source_kind="netsuite"
                    )
                    run.quarantine_input(key, code=err.code, message=err.message)
                    continue
                except FormatError as exc:
                    run.quarantine_input(key, code="HOTWAX_FORMAT", message=f"PO {number}: {exc}")
                    continue
                pos[po_id] = (po_rows, _sha256(write_po_csv(po_rows)))
            self._skip_not_owned(run, netsuite, grouped, pos, dry_run)
            if dry_run:
                run.counts["read"] += len(pos)
                self.log.info("dry run: %d PO(s) would be exported: %s", len(pos), ", ".join(pos) or "none")
                return
            # records a crashed run left open whose PO the query no longer returns (flagged before
            # the crash, or moved on): settled from NetSuite and the server (stuck_exports)
            stuck = stuck_exports.stuck_records(run, listed=grouped.keys())
            if not pos and not stuck:
                self.log.info("no Pending Receipt PO waiting for export")
                return
            sftp = _sftp(self.sftp_conn_id)
            with sftp.get_managed_conn() as client:
                if stuck:
                    stuck_exports.settle(
                        run,
                        netsuite,
                        stuck,
                        exported_field=self.exported_field,
                        delivered=lambda name: self._delivered(client, name),
                        sweep=lambda name: self._sweep(client, name),
                        log=self.log,
                    )
                if not pos:
                    return
                resend = {
                    po_id
                    for po_id in pos
                    if po_id in resync or str(grouped[po_id][0].get("tranid") or "") in resync
                }
                self._export(context, run, netsuite, client, pos, resend)

    def _skip_not_owned(
        self,
        run: SyncRun,
        netsuite: NetSuiteHook,
        grouped: Mapping[str, Sequence[Mapping[str, Any]]],
        pos: dict[str, tuple[list[HotWaxPoRow], str]],
        dry_run: bool,
    ) -> None:
        """Leave out POs another flow receives (``po_sync_receiving``): ``ignored`` with the reason,
        recorded once per PO version, so HotWax's staff never get a PO they must not receive."""
        ownership = _Ownership(load_receiving(), netsuite)
        for po_id in list(pos):
            head = grouped[po_id][0]
            number = str(head.get("tranid") or po_id)
            reason = ownership.skip_reason(
                entity=head.get("vendor_id"), location=head.get("po_location"), number=number
            )
            if not reason:
                continue
            digest = pos.pop(po_id)[1]
            if dry_run:
                self.log.info("dry run: %s", reason)
                continue
            key = run.key("purchase_order", "netsuite", po_id)
            state = run.ledger.get(key)
            if (
                state is not None
                and state.status is RecordStatus.IGNORED
                and state.last_error_code == NOT_OWNER_CODE
                and state.payload_hash == digest
            ):
                continue  # said before; not counted again every 15 minutes
            decision = run.begin(key, payload_hash=digest, force=True)
            if decision.action is not Action.BUSY:
                run.ignored(decision, code=NOT_OWNER_CODE, reason=f"not exported to HotWax: {reason}")

    def _export(
        self,
        context: Context,
        run: SyncRun,
        netsuite: NetSuiteHook,
        client: SFTPClient,
        pos: dict[str, tuple[list[HotWaxPoRow], str]],
        resend: set[str],
    ) -> None:
        remote.ensure_dir(client, self.remote_dir)
        delivered: dict[str, Decision] = {}
        batch: dict[str, list[HotWaxPoRow]] = {}
        # A PO that went out in a file that reached the server, but whose flag was never set, is
        # finished rather than exported again.
        never_sent: set[str] = set()
        for po_id, (rows, digest) in pos.items():
            key = run.key("purchase_order", "netsuite", po_id)
            state = run.ledger.get(key)
            if (
                state is not None
                and state.status is RecordStatus.IGNORED
                and state.last_error_code in stuck_exports.NEVER_SENT
            ):
                never_sent.add(po_id)  # left Pending Receipt before its file went out: back now
            if (
                state is not None
                and state.status in (RecordStatus.IN_PROGRESS, RecordStatus.FAILED)
                and state.payload_hash == digest
                and self._delivered(client, state.trace_key)
            ):
                decision = run.begin(key, payload_hash=digest)
                if decision.action is Action.SKIP:
                    # the run that wrote the file finished it between our read and our claim
                    _ignore_already_exported(run, decision)
                elif decision.action is not Action.BUSY:
                    delivered[po_id] = decision
            else:
                batch[po_id] = rows
        file_name: str | None = None
        decisions: dict[str, Decision] = {}
        for po_id in list(batch):
            # Claim without force: a PO another run holds is BUSY, and one another run has just
            # exported (synced, same content) is SKIP, so two overlapping runs never send a PO twice.
            # Only a PO a person asked to resend is sent again unchanged.
            key = run.key("purchase_order", "netsuite", po_id)
            decision = run.begin(key, payload_hash=pos[po_id][1], force=po_id in resend | never_sent)
            if decision.action is Action.BUSY:
                batch.pop(po_id)
            elif decision.action is Action.SKIP:
                batch.pop(po_id)
                _ignore_already_exported(run, decision)
            else:
                decisions[po_id] = decision
        # The files of records taken over from a crashed run: their hidden uploads are left-overs
        for old_file in sorted(
            {
                d.previous.trace_key
                for d in [*delivered.values(), *decisions.values()]
                if d.previous is not None
                and d.previous.status is RecordStatus.IN_PROGRESS
                and d.previous.trace_key
            }
        ):
            self._sweep(client, old_file)
        if batch:
            # The name comes from what the file holds (after busy and done POs left the batch): two
            # runs in the same second write different names, and a retry of this run the same one.
            data = write_po_csv([r for rows in batch.values() for r in rows])
            file_name = self._file_name(context, _sha256(data))
            run.ledger.set_trace_key([d.record_id for d in decisions.values()], file_name, sync_run_id=run.id)
            path = posixpath.join(self.remote_dir, file_name)
            if remote.write_new(client, path, data, after_temp=CRASH_EXPORT_TEMP.hit):
                pass
            elif remote.size_of(client, path) == len(data):
                self.log.info("%s is already complete on the server (a retry of this run)", path)
            else:  # pragma: no cover - a name from a content hash holding other content
                raise RetriableError(f"{path} exists with other content", system="sftp", path=path)
            run.notes["file"] = file_name
            self.log.info(
                "wrote %s: %d PO(s), %d line(s)", path, len(batch), sum(len(r) for r in batch.values())
            )
            CRASH_EXPORT_UPLOAD.hit()
        for po_id, decision in [*delivered.items(), *decisions.items()]:
            target = (
                file_name
                if po_id in decisions
                else (decision.previous.trace_key if decision.previous else None)
            )
            try:
                netsuite.update_record("purchaseOrder", po_id, {self.exported_field: True}, idempotent=True)
                CRASH_EXPORT_FLAG.hit()
            except SYSTEM_FAULTS:
                raise  # login refused or token endpoint down: stop; the rerun finds the file and sets the flag
            except ExternalSystemError as exc:
                # The file is out: the next run finds it by trace_key and only sets the flag.
                run.failed(
                    decision,
                    code=stuck_exports.FLAG_NOT_SET,
                    message=f"exported in {target} but {self.exported_field} not set: {exc}",
                )
                continue
            run.synced(decision, target_system="hotwax", target_id=target)


def _ignore_already_exported(run: SyncRun, decision: Decision) -> None:
    """Record a PO another run has exported (same content) as ``ignored``: it is done, not ours to
    send or count again."""
    previous = decision.previous.trace_key if decision.previous else None
    run.ignored(decision, code="ALREADY_EXPORTED", reason=f"already exported in {previous}")


# ==================================================================================================
# Import
# ==================================================================================================


class HotWaxReceiptImportOperator(SyncOperator):
    """Turn HotWax receipt feeds into NetSuite item receipts, then archive or quarantine each file.

    For each ``*.json`` in ``remote_dir`` (oldest name first): a file modified less than
    ``min_file_age_seconds`` ago is left for the next run (it may still be being written); a file
    bigger than ``max_file_bytes``, with an unsafe name, that is not a valid feed, or that was
    imported before (same name and SHA-256, the ledger's key for files) goes to ``error/`` with an
    ``<name>.errors.csv`` report beside it. Each order of a valid file is transformed from its PO
    into an item receipt (lines matched on ``orderLine``, a deterministic ``externalId`` and the
    ledger's idempotency key), after checking for that receipt first when resuming. Orders that
    cannot be received (unknown PO or line, over-receipt, bad values) are quarantined and written to
    ``error/<stem>.failed.json`` with a report; the file itself moves to ``archive/`` once every
    order is committed or quarantined. A transient NetSuite failure leaves the file in place for the
    next run, which skips the orders already received.

    A file's outcome is recorded before it moves (``synced`` with its archive/ path as target,
    ``quarantined`` with its error/ path as trace_key): a run that stops in between leaves the file
    in the folder, and the next run only finishes the move (``notes["moves_finished"]``), never
    imports it again nor calls it a duplicate.

    :param netsuite_conn_id: the NetSuite connection.
    :param sftp_conn_id: the SFTP connection (host key pinned).
    :param remote_dir: the receipt folder; ``archive/`` and ``error/`` live inside it.
    :param file_pattern: which files are feeds (fnmatch).
    :param max_file_bytes: bigger files are refused unread.
    :param min_file_age_seconds: younger files wait for the next run.
    :param max_files: the most files one run takes.
    :param dry_run: validate only: nothing is received, moved or recorded; templated.
    """

    template_fields: Sequence[str] = ("remote_dir", "is_dry_run", "max_file_bytes", "min_file_age_seconds")
    ui_color = "#f0e0d0"

    def __init__(
        self,
        *,
        netsuite_conn_id: str = "netsuite_default",
        sftp_conn_id: str = "sftp_default",
        remote_dir: str = DEFAULT_RECEIPT_DIR,
        file_pattern: str = "*.json",
        max_file_bytes: int | str = 5_000_000,
        min_file_age_seconds: float | str = 30,
        max_files: int = 200,
        dry_run: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_files < 1:
            raise ConfigurationError(f"{self.task_id}: max_files must be at least 1")
        self.netsuite_conn_id = netsuite_conn_id
        self.sftp_conn_id = sftp_conn_id
        self.remote_dir = remote_dir
        self.file_pattern = file_pattern
        self.max_file_bytes = max_file_bytes
        self.min_file_age_seconds = min_file_age_seconds
        self.max_files = max_files
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method

    @property
    def archive_dir(self) -> str:
        return posixpath.join(self.remote_dir, "archive")

    @property
    def error_dir(self) -> str:
        return posixpath.join(self.remote_dir, "error")

    def sync(self, context: Context, run: SyncRun) -> None:
        self.remote_dir = config_path(self.remote_dir, what=f"{self.task_id}: remote_dir")
        max_bytes = int(self.max_file_bytes)
        min_age = float(self.min_file_age_seconds)
        dry_run = as_bool(self.is_dry_run)
        self.ownership = None  # read again each run
        sftp = _sftp(self.sftp_conn_id)
        with _netsuite(self.netsuite_conn_id) as netsuite, sftp.get_managed_conn() as client:
            for folder in (self.archive_dir, self.error_dir):
                remote.ensure_dir(client, folder)
            put_back: set[str] = set()
            if not dry_run:  # the queue's Retry: files back from error/ before the folder is listed
                put_back = retries.requeue(
                    run, client, conn_id=self.sftp_conn_id, folder=self.remote_dir, error_dir=self.error_dir
                )
            files = [
                f
                for f in remote.list_files(client, self.remote_dir)
                if fnmatch.fnmatch(f.name, self.file_pattern) and not _in_progress(f.name)
            ]
            # files a retry put back are whole (we moved or wrote them): no age rule holds them
            put_back |= {
                loc.split(":", 2)[2]
                for loc in retry.requeued(
                    run.ledger,
                    run.flow,
                    [
                        retries.location(self.sftp_conn_id, posixpath.join(self.remote_dir, f.name))
                        for f in files
                    ],
                )
            }
            now = time.time()
            for index, entry in enumerate(files):
                if index >= self.max_files:
                    self.log.info("%d more file(s) left for the next run", len(files) - index)
                    break
                ours = posixpath.join(self.remote_dir, entry.name) in put_back
                if now - entry.mtime < min_age and not ours:
                    self.log.info(
                        "%s changed %.0f s ago; it may still be being written, next run",
                        entry.name,
                        now - entry.mtime,
                    )
                    continue
                _FileImport(self, run, netsuite, client, entry, max_bytes, dry_run).run()

    ownership: _Ownership | None = None

    def skip_reason(self, netsuite: NetSuiteHook, po_id: str, po: Any = None) -> str | None:
        """Why HotWax must not receive PO ``po_id`` under ``po_sync_receiving`` (None = it may).

        :param po: the PO record when already read; otherwise its vendor and location are read only
            when the setting names vendors or locations.
        """
        if self.ownership is None:
            self.ownership = _Ownership(load_receiving(), netsuite)
        if not self.ownership.configured:
            return None
        if po is None:
            po = netsuite.find_record(
                "purchaseOrder", po_id, expand_sub_resources=False, fields=["tranId", "entity", "location"]
            )
            if po is None:
                return None  # the receipt itself then says the PO does not exist
        return self.ownership.skip_reason(
            entity=(po.fields.get("entity") or {}).get("id"),
            location=(po.fields.get("location") or {}).get("id"),
            number=str(po.fields.get("tranId") or po.id),
        )


class HotWaxRetryOperator(SyncOperator):
    """The error queue's Retry: put the retried records' files back into the receipt folder.

    Runs before the sensor, so a retried file is there to be seen (a run with nothing new to read
    would otherwise wait for a new file). :class:`HotWaxReceiptImportOperator` does the same at its
    start, so a retry is never missed; see :mod:`po_sync.hotwax.retries`.

    :param sftp_conn_id: the SFTP connection.
    :param remote_dir: the receipt folder; ``error/`` lives inside it.
    """

    template_fields: Sequence[str] = ("remote_dir",)
    ui_color = "#f0e0d0"

    def __init__(
        self, *, sftp_conn_id: str = "sftp_default", remote_dir: str = DEFAULT_RECEIPT_DIR, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sftp_conn_id = sftp_conn_id
        self.remote_dir = remote_dir

    def sync(self, context: Context, run: SyncRun) -> None:
        requests = retry.retry_requests(run.ledger, run.flow, entity_types=retries.ENTITY_TYPES)
        run.notes.update(retry.conf_report(context, requests))
        if not requests:
            return  # nothing asked: no SFTP connection opened
        with _sftp(self.sftp_conn_id).get_managed_conn() as client:
            remote.ensure_dir(client, posixpath.join(self.remote_dir, "error"))
            back = retries.requeue(
                run,
                client,
                conn_id=self.sftp_conn_id,
                folder=self.remote_dir,
                error_dir=posixpath.join(self.remote_dir, "error"),
            )
        run.notes["requeued_files"] = sorted(back)


class _Ownership:
    """``po_sync_receiving`` as HotWax sees it: a PO whose receiving another flow owns is not HotWax's
    to export or receive.

    :param receiving: the setting.
    :param netsuite: to read a vendor's ``entityId`` (the setting's key) from its internal id, once each.
    """

    def __init__(self, receiving: ReceivingOwnership, netsuite: Any) -> None:
        self.receiving = receiving
        self.netsuite = netsuite
        self._entity_ids: dict[str, str | None] = {}

    @property
    def configured(self) -> bool:
        """Whether any PO can be another flow's (else nothing needs reading)."""
        receiving = self.receiving
        return not (receiving.default == "any" and not receiving.vendors and not receiving.locations)

    def skip_reason(self, *, entity: Any, location: Any, number: str) -> str | None:
        receiving = self.receiving
        if not self.configured:
            return None
        entity = str(entity or "")
        vendor: str | None = None
        if receiving.vendors and is_internal_id(entity):
            if entity not in self._entity_ids:
                rows = list(
                    self.netsuite.suiteql(
                        f"SELECT v.id, v.entityid FROM vendor v WHERE v.id = {suiteql_int(entity)} ORDER BY v.id"
                    )
                )
                self._entity_ids[entity] = str(rows[0]["entityid"]) if rows else None
            vendor = self._entity_ids[entity]
        return receiving.skip_reason(
            "hotwax", po=number, vendor=vendor, location=str(location) if location else None
        )


class _FileImport:
    """One receipt file through validation, NetSuite and its move (state for one file only)."""

    def __init__(
        self,
        op: HotWaxReceiptImportOperator,
        run: SyncRun,
        netsuite: NetSuiteHook,
        client: SFTPClient,
        entry: remote.RemoteFile,
        max_bytes: int,
        dry_run: bool,
    ) -> None:
        self.op = op
        self.run_ = run
        self.netsuite = netsuite
        self.client = client
        self.entry = entry
        self.name = entry.name
        self.path = posixpath.join(op.remote_dir, entry.name)
        self.max_bytes = max_bytes
        self.dry_run = dry_run
        self.log = op.log
        self.transient: set[str] = set()
        #: the lines of this file's POs, read in bulk before the orders are received (by PO id)
        self.po_lines: dict[str, dict[str, PoLineState]] = {}

    # ---- moves
    #
    # Every file's finish is: what it caused committed (receipts in NetSuite, orders recorded), then
    # its outcome in the ledger (``synced`` with the archive path as target, or ``quarantined`` with
    # the error/ path as trace_key), then the move. A crash between the ledger and the move leaves
    # the file in the receipt folder; the rerun sees its terminal record and only finishes the move
    # (:meth:`_finish_move`): nothing is sent again, nothing is called a duplicate, and no record is
    # left in_progress because its file went where no run looks.

    def _safe_name(self) -> str:
        return remote.safe_name(self.name)

    def _move(self, target: str, folder: str, checksum: str | None) -> str:
        """Move the file to ``target`` (planned with ``free_kept_path``); when another file took that
        name since (never ours: names are planned per file), keep it under the next free one."""
        CRASH_IMPORT_BEFORE_MOVE.hit()
        if remote.keep_at(self.client, self.path, target) or not remote.exists(self.client, self.path):
            return target
        moved = remote.keep(self.client, self.path, folder, self.name, checksum=checksum)
        self.log.warning("%s: %s was taken meanwhile; kept as %s instead", self.name, target, moved)
        return moved

    def _refuse(self, key: RecordKey, checksum: str | None, code: str, message: str) -> str | None:
        """Quarantine the whole file: plan its error/ name, record it (``trace_key`` = that name),
        write the report, mark it ``quarantined``; the caller then moves the file there. None when
        another live run holds the record (the file is left to it)."""
        kept_checksum = checksum or f"size-{self.entry.size}"
        target = remote.free_kept_path(self.client, self.op.error_dir, self.name, checksum=kept_checksum)
        decision = self.run_.begin(key, payload_hash=None, trace_key=target, force=True)
        if decision.action is Action.BUSY:
            return None
        # the report first: a kept file is never without its note
        remote.write_atomic(self.client, target + ".errors.csv", error_report_csv([("*", message)]))
        CRASH_IMPORT_ERROR_NOTE.hit()
        self.run_.quarantined(decision, code=code, message=f"file {self.name}: {message}")
        return target

    def _to_error(self, target: str, checksum: str | None, message: str) -> str:
        moved = self._move(target, self.op.error_dir, checksum or f"size-{self.entry.size}")
        CRASH_IMPORT_ERROR_MOVE.hit()
        self.log.warning("%s -> %s: %s", self.name, moved, message)
        return moved

    def _to_archive(self, target: str, checksum: str) -> str:
        moved = self._move(target, self.op.archive_dir, checksum)
        CRASH_IMPORT_ARCHIVE.hit()
        return moved

    def _finish_move(self, key: RecordKey) -> bool:
        """Finish the move of a file whose outcome the ledger already holds; True when it was one.

        The record (same name and checksum: the key) is ``synced`` with an archive/ path as target,
        or ``quarantined`` with an error/ path as trace_key, and nothing is at that path yet: a run
        recorded the outcome and stopped before the move. The file goes there now (its report
        rewritten only when missing); nothing is sent or recorded again, and the run counts it in
        ``notes["moves_finished"]``, not as read or synced. When the path already holds the file,
        this is the same file delivered again, handled as such by the caller; so it is after a
        person's Retry found the kept file gone (:func:`po_sync.retry.gave_up`).
        """
        state = self.run_.ledger.get(key)
        if state is None:
            return False
        archived = state.target_id or ""
        if state.status is RecordStatus.SYNCED and archived.startswith(self.op.archive_dir + "/"):
            target, error = archived, None
        elif (
            state.status is RecordStatus.QUARANTINED
            and retry.kept_path(state.trace_key, self.op.error_dir)
            and not retry.gave_up(state)
        ):
            target = str(state.trace_key)
            error = (state.last_error_code or "QUARANTINED", state.last_error_message or "")
        else:
            return False
        if remote.exists(self.client, target):
            return False
        if self.dry_run:
            self.log.info("dry run: %s would be moved to %s (its outcome is recorded)", self.name, target)
            return True
        checksum = key.source_id.rsplit("@", 1)[-1]
        if error is None:
            retry.settle(self.run_, self._location(), target_id=target, target_system="sftp")
            moved = self._to_archive(target, checksum)
        else:
            if not remote.exists(self.client, target + ".errors.csv"):
                remote.write_atomic(self.client, target + ".errors.csv", error_report_csv([("*", error[1])]))
            retry.settle(self.run_, self._location(), error=(error[0], f"{error[1]} (now {target})"))
            moved = self._to_error(target, checksum, error[1])
        self.run_.notes["moves_finished"] = self.run_.notes.get("moves_finished", 0) + 1
        self.log.info(
            "%s: its outcome (%s) was recorded before a stop; moved to %s now", self.name, state.status, moved
        )
        return True

    # ---- the file

    def _file_key(self, checksum: str | None) -> RecordKey:
        label = (
            self.name
            if _SAFE_NAME_RE.fullmatch(self.name)
            else f"{self._safe_name()}#{remote.name_tag(self.name, None)}"  # names that collapse stay apart
        )
        suffix = checksum if checksum else f"size-{self.entry.size}"
        return self.run_.key("receipt_file", "hotwax", f"{label}@{suffix}")

    def _location(self, order_id: str | None = None) -> str:
        if order_id is None:
            return retries.location(self.op.sftp_conn_id, self.path)
        return retries.order_location(self.op.sftp_conn_id, self.path, order_id)

    def _reject(self, checksum: str | None, code: str, message: str) -> None:
        if self.dry_run:
            self.run_.counts["quarantined"] += 1
            self.log.warning("dry run: %s would go to error/: %s", self.name, message)
            return
        target = self._refuse(self._file_key(checksum), checksum, code, message)
        if target is None:
            return
        retry.settle(self.run_, self._location(), error=(code, f"file {self.name} (now {target}): {message}"))
        self._to_error(target, checksum, message)

    def run(self) -> None:
        if self.entry.size > self.max_bytes:
            if self._finish_move(self._file_key(None)):
                return
            self._reject(
                None,
                "FILE_TOO_LARGE",
                f"{self.entry.size} bytes, more than the {self.max_bytes}-byte limit; not read",
            )
            return
        try:
            data = remote.read(self.client, self.path, max_bytes=self.max_bytes)
        except VanishedFileError as exc:
            # listed, then moved by another run before we read it (nothing claimed yet): the file is
            # that run's; counted busy, as a record another run holds, and the other files go on
            self.run_.counts["busy"] += 1
            self.log.info("%s: skipped, %s", self.name, exc.message)
            return
        checksum = _sha256(data)
        if not _SAFE_NAME_RE.fullmatch(self.name):
            self._reject(
                checksum,
                "BAD_FILE_NAME",
                f"file name {self.name!r} holds a path separator or other unsafe characters",
            )
            return
        key = self._file_key(checksum)
        dup = self.run_.key("receipt_file_duplicate", "hotwax", key.source_id)
        if self._finish_move(key) or self._finish_move(dup):
            return
        state = self.run_.ledger.get(key)
        if state is not None and state.status in (
            RecordStatus.SYNCED,
            RecordStatus.IGNORED,
            RecordStatus.RESOLVED,
        ):
            message = (
                f"already imported on {state.updated_at:%Y-%m-%d %H:%M} UTC ({state.target_id}); "
                "not imported again"
            )
            if self.dry_run:
                self.run_.counts["quarantined"] += 1
                return
            target = self._refuse(dup, checksum, "DUPLICATE_FILE", message)
            if target is not None:
                self._to_error(target, checksum, message)
            return
        try:
            feed = parse_receipt_feed(data, max_bytes=self.max_bytes)
        except ReceiptFeedError as exc:
            self._reject(checksum, "BAD_FILE", str(exc))
            return
        if self.dry_run:
            self.run_.counts["read"] += len(feed.orders) + len(feed.problems)
            self.run_.counts["quarantined"] += len(feed.problems)
            self.log.info(
                "dry run: %s: %d valid order(s), %d problem(s)",
                self.name,
                len(feed.orders),
                len(feed.problems),
            )
            return
        decision = self.run_.begin(key, payload_hash=checksum)
        if decision.action is Action.BUSY:
            return
        self._import(decision, feed.orders, feed.problems, checksum)

    def _import(
        self, decision: Decision, orders: Sequence[ReceiptOrder], problems: Sequence[Any], checksum: str
    ) -> None:
        failed: list[tuple[Any, str, str]] = []  # (raw order, order id, message)
        for problem in problems:
            key = self._order_key(
                problem.order_id if problem.order_id != "?" else f"#{problem.index + 1}", checksum
            )
            self.run_.quarantine_input(
                key, code="VALIDATION_ERROR", message=f"{problem.message} (file {self.name})"
            )
            retry.settle(
                self.run_,
                self._location(problem.order_id),
                error=("VALIDATION_ERROR", f"{problem.message} (file {self.name})"),
            )
            failed.append((problem.raw, problem.order_id, problem.message))
        retry_later = 0
        self._prefetch_po_lines(orders)

        def receive(order: ReceiptOrder) -> RecordKey:
            key = self._order_key(order.order_id, checksum)
            self._receive(order, key, checksum)
            return key

        # Orders of one file are distinct POs (the parser refuses a repeated order id), so they go to
        # NetSuite side by side, as many at once as the account's limit lets this task send. Twice as
        # many threads as slots: while some write the ledger, the others keep every slot busy (the
        # hook's limiter, not the thread count, caps what is in flight).
        workers = 2 * self.netsuite.concurrency
        for order, outcome in self.netsuite.map_concurrent(receive, orders, workers=workers):
            if isinstance(outcome, BaseException):
                raise outcome  # the run stops (a system fault, a crash drill); the file stays
            key = outcome
            state = self.run_.ledger.get(key)
            if state is not None and state.status is RecordStatus.QUARANTINED:
                error = (state.last_error_code or "QUARANTINED", state.last_error_message or "")
                retry.settle(self.run_, self._location(order.order_id), error=error)
            if state is None or state.status in (RecordStatus.SYNCED, RecordStatus.IGNORED):
                if state is not None:
                    retry.settle(self.run_, self._location(order.order_id), target_id=state.target_id)
                continue
            if state.status is RecordStatus.IN_PROGRESS or order.order_id in self.transient:
                retry_later += 1  # transient NetSuite failure, or busy in another run
            else:
                failed.append(
                    (order.as_feed(), order.order_id, state.last_error_message or str(state.status))
                )
        if retry_later:
            self.run_.failed(
                decision,
                code="RETRY",
                message=f"{retry_later} order(s) hit transient errors; the file stays for the next run",
            )
            return
        CRASH_IMPORT_BEFORE_ARCHIVE.hit()
        if failed:
            # Named from this file's name and content: a partner file called "<stem>.failed.json" is
            # kept under another name (po_sync.sftp.kept_names), and two files sharing a name never
            # share their failed orders' file; a rerun of this file writes the same name again.
            part = posixpath.join(self.op.error_dir, retries.failed_orders_name(self.name, checksum))
            remote.write_atomic(
                self.client, part + ".errors.csv", error_report_csv([(oid, msg) for _, oid, msg in failed])
            )
            CRASH_IMPORT_FAILED_REPORT.hit()
            remote.write_atomic(self.client, part, receipt_feed_json([raw for raw, _, _ in failed]))
            CRASH_IMPORT_FAILED_JSON.hit()
        # the outcome before the move (see _finish_move): synced with where the file goes
        target = remote.free_kept_path(self.client, self.op.archive_dir, self.name, checksum=checksum)
        self.run_.synced(decision, target_system="sftp", target_id=target)
        retry.settle(self.run_, self._location(), target_id=target, target_system="sftp")
        self._to_archive(target, checksum)

    def _prefetch_po_lines(self, orders: Sequence[ReceiptOrder]) -> None:
        """Read the lines of every PO this file receives with a few SuiteQL queries, not one call each.

        A PO the query does not return (not a PO, unknown, no id of digits) is looked up on its own
        when its order is received, which names what is wrong with it.
        """
        ids = sorted({o.order_id for o in orders if o.order_id.isdigit() and o.receives_anything}, key=int)
        for start in range(0, len(ids), RECEIPT_LINES_BATCH):
            query = receipt_lines_query(ids[start : start + RECEIPT_LINES_BATCH])
            self.po_lines.update(po_line_states_from_rows(self.netsuite.suiteql(query)))

    def _order_key(self, order_id: str, checksum: str) -> RecordKey:
        return self.run_.key("item_receipt", "hotwax", f"{order_id}@{self.name}@{checksum[:16]}"[:200])

    def _receive(self, order: ReceiptOrder, key: RecordKey, checksum: str) -> None:
        payload_hash = _sha256(canonical_json(order.as_feed()).encode())
        if not order.receives_anything:
            decision = self.run_.begin(key, payload_hash=payload_hash, trace_key=self.name)
            if decision.action is not Action.BUSY:
                self.run_.ignored(decision)
            return
        external_id = receipt_external_id(self.name, checksum, order.order_id)
        tran_date = _file_date(self.name, self.entry.mtime)

        def send(decision: Decision) -> str | None:
            # Only an order tried before (a crash, a timeout after NetSuite may have saved it) can
            # already have its receipt; a first attempt needs no lookup (one NetSuite call saved).
            attempted = decision.previous is not None and decision.previous.attempts > 0
            found = (
                self.netsuite.find_record(
                    "itemReceipt", f"eid:{external_id}", expand_sub_resources=False, fields=["id"]
                )
                if attempted
                else None
            )
            if found is not None:
                self.log.info(
                    "receipt %s for PO %s already in NetSuite (%s); not sent again",
                    external_id,
                    order.order_id,
                    found.id,
                )
                return found.id
            lines = self.po_lines.get(order.order_id) if not attempted else None
            po = None
            if lines is None:  # not prefetched, or a retry: read the PO as NetSuite has it now
                po = self.netsuite.find_record("purchaseOrder", order.order_id)
                if po is None:
                    raise RecordValidationError(
                        f"receipt for PO {order.order_id} (file {self.name}): "
                        f"no purchase order with internal id {order.order_id} in NetSuite",
                        code="UNKNOWN_ORDER",
                        record_id=order.order_id,
                    )
                lines = po_line_states(po.lines)
            reason = self.op.skip_reason(self.netsuite, order.order_id, po)
            if reason:  # the vendor flows receive this PO: not an error, not received twice
                raise RecordSkipped(
                    f"receipt for PO {order.order_id} (file {self.name}): {reason}",
                    code=NOT_OWNER_CODE,
                    record_id=order.order_id,
                )
            try:
                receipt = item_receipt(
                    order, lines, tran_date=tran_date, source=self.name, external_id=external_id
                )
            except ValidationError as exc:
                raise record_validation_error(
                    exc, record=f"receipt for PO {order.order_id}", source=self.name, record_id=order.order_id
                ) from exc
            problems = receipt_problems(receipt, lines)
            if problems:
                raise RecordValidationError(
                    f"receipt for PO {order.order_id} (file {self.name}): " + "; ".join(problems),
                    code="OVER_RECEIPT",
                    record_id=order.order_id,
                )
            result = self.netsuite.transform_record(
                "purchaseOrder",
                order.order_id,
                "itemReceipt",
                transform_body(receipt),
                idempotency_key=decision.idempotency_key,
            )
            CRASH_IMPORT_RECEIPT.hit()
            return result.id

        def guarded(decision: Decision) -> str | None:
            try:
                return send(decision)
            except RetriableError:
                self.transient.add(order.order_id)
                raise

        self.run_.process(
            key, payload_hash=payload_hash, send=guarded, target_system="netsuite", trace_key=self.name
        )


def _in_progress(name: str) -> bool:
    """A hidden name (``.x.json``) is an upload in progress of the file it names (``x.json``, a safe
    name); any other name starting with a dot (``..json``, ``.\n.json``) is no upload of ours or
    HotWax's: it is read and refused (error/, with a report), never left unreported forever."""
    return name.startswith(".") and bool(_SAFE_NAME_RE.fullmatch(name[1:]))


def _file_date(name: str, mtime: int) -> date:
    """The receipt date: the timestamp in HotWax's file name, else the file's modification date."""
    match = re.search(r"(\d{4}-\d{2}-\d{2})-\d{2}_\d{2}_\d{2}", name)
    if match:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            pass
    return datetime.fromtimestamp(mtime, UTC).date()
