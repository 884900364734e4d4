"""ServiceNow S2P outbound purchase orders -> NetSuite, ERP numbers and errors back to S2P.

The ``s2p_purchase_order_sync`` task, one run:

1. Reads the ERP mapping tables once (cached for the run) and polls the outbound staging headers at
   integration status ``10`` New (and ``20`` In process: a run that died midway left them there), with
   their lines, in pages: a handful of Table API calls for a thousand POs.
2. Works in waves of at most ``wave_size`` POs, each PO number once per wave (a revision waits for the
   wave after its original). For each PO: a :class:`~po_sync.servicenow.mapping.Plan` (ERP mapping, line
   split), a ledger record ``in_progress`` (rule 1), then the staging header and lines are marked ``20``
   In process - one Batch API call for the wave - **before** NetSuite is touched.
3. NetSuite, concurrently within the account's limit: a PUT upsert by external id = the S2P PO number
   (a rerun or a revision updates the same PO, never a second one), or closing every line for a
   cancellation; blanket orders are ignored with their reason, releases go as standard POs.
4. One SuiteQL call reads the new POs' numbers and lines; one Batch API call writes back: ``30``
   Processed with the ERP number on the staging and primary PO, each line's ERP line number(s) on the
   staging and primary lines and on the fixed assets of capitalised lines (the right part of a split);
   ``40`` Failed with the message on both and an integration-error purchasing task on the requisition
   when NetSuite refused the PO or its data is bad; back to ``10`` when NetSuite was only unavailable.
   The waves are pipelined so NetSuite never waits on S2P or the ledger: a producer thread begins and
   marks the next wave while NetSuite's calls run, a writer thread does step 4 for finished waves, and
   the ledger outcome of each write is recorded by the thread collecting the results.
5. Staging lines that arrive without their PO are retried by the next runs (the flow's own "retrigger
   failed order line import set records") and failed after ``max_retriggers`` runs.

Crash points (tests and drills, see :mod:`po_sync.faults`), declared below: ``PO_SYNC_CRASH`` naming
``s2p_purchase_order_sync.after_mark`` (staging at 20, NetSuite untouched), ``.after_netsuite_write``
(NetSuite written, ledger not updated), ``.after_ledger`` (ledger synced, S2P not written back) or
``.after_write_back``; the older ``PO_SYNC_CRASH_AFTER_WRITE=s2p_purchase_order_sync[:<point>]`` works.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from po_sync import faults
from po_sync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ExternalSystemError,
    RecordValidationError,
    RetriableError,
)
from po_sync.faults import InjectedCrash
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.servicenow.mapping import ErpMappings, Plan, asset_parts, mappings_from_rows, plan_purchase_order
from po_sync.servicenow.settings import (
    STATUS_FAILED,
    STATUS_IN_PROCESS,
    STATUS_NEW,
    STATUS_PROCESSED,
    S2PSettings,
)
from po_sync.sync import SyncOperator, SyncRun, SystemUnavailableError, as_bool
from po_sync.validation import suiteql_int

if TYPE_CHECKING:
    from airflow.sdk import Context

    from po_sync.netsuite import NetSuiteHook
    from po_sync.servicenow.hooks import BatchOp, Record, ServiceNowHook

HEADER_FIELDS = (
    "purchase_order",
    "purchase_order_number",
    "order_type",
    "order_date",
    "supplier_id",
    "purchase_order_status",
    "revision",
    "blanket_order",
    "integration_status",
    "purchase_order.purchase_requisition",
    "sys_created_on",
)
LINE_FIELDS = (
    "purchase_order",
    "purchase_order_line",
    "purchase_order_line_number",
    "purchase_line",
    "sku",
    "product_name",
    "purchased_quantity",
    "unit_price",
    "expected_del_date",
    "asset_category",
    "model_category",
    "location_name",
    "account_assignment_category",
    "integration_status",
    "sys_created_on",
)
MAX_MESSAGE = 3900  # processing_message / task description kept readable and under the column size


FLOW = "s2p_purchase_order_sync"
CRASH_MARK = faults.declare(FLOW, "after_mark", "a wave's staging rows marked In process (20)")
CRASH_WRITE = faults.declare(FLOW, "after_netsuite_write", "a PO upserted or closed in NetSuite", legacy=True)
CRASH_LEDGER = faults.declare(FLOW, "after_ledger", "a wave's outcomes in the ledger, S2P not written back")
CRASH_WRITE_BACK = faults.declare(FLOW, "after_write_back", "a wave's write-back batch sent to S2P")
faults.declare_ledger_points(FLOW)


def _netsuite(conn_id: str) -> NetSuiteHook:
    from po_sync.netsuite import NetSuiteHook

    return NetSuiteHook(conn_id)


def _servicenow(conn_id: str) -> ServiceNowHook:
    from po_sync.servicenow.hooks import ServiceNowHook

    return ServiceNowHook(conn_id)


def _op(method: str, table: str, sys_id: str | None = None, body: dict[str, Any] | None = None) -> BatchOp:
    from po_sync.servicenow.hooks import BatchOp

    return BatchOp(method, table, sys_id, body, {"sysparm_fields": "sys_id"})


@dataclass
class StagedPO:
    """One staged PO in a run: its records, its plan (or why it has none) and what happened."""

    header: Record
    lines: list[Record]
    plan: Plan | None = None
    invalid: RecordValidationError | None = None
    decision: Decision | None = None
    netsuite_id: str | None = None
    error: ExternalSystemError | None = None
    outcome: str = ""  # synced / unchanged / ignored / failed / quarantined / retry / busy
    erp_number: str = ""
    erp_lines: dict[str, list[int]] = field(default_factory=dict)

    @property
    def sys_id(self) -> str:
        return self.header.sys_id

    @property
    def number(self) -> str:
        return self.header["purchase_order_number"] or self.sys_id


def waves(headers: Sequence[Record], size: int) -> Iterator[list[Record]]:
    """Split the polled headers into waves of at most ``size`` with each PO number at most once, keeping
    their order: a revision staged after its original is processed in a later wave."""
    pending = list(headers)
    while pending:
        wave: list[Record] = []
        seen: set[str] = set()
        rest: list[Record] = []
        for header in pending:
            number = header["purchase_order_number"] or header.sys_id
            if len(wave) < size and number not in seen:
                wave.append(header)
                seen.add(number)
            else:
                seen.add(number)  # a later wave: also hold back later stagings of the same PO
                rest.append(header)
        pending = rest
        yield wave


class S2PPurchaseOrderSyncOperator(SyncOperator):
    """Sync S2P's outbound purchase orders to NetSuite and write ERP numbers and errors back.

    :param servicenow_conn_id: the ServiceNow connection (type ``servicenow``).
    :param netsuite_conn_id: the NetSuite connection.
    :param max_orders: most staged POs one run takes (the rest wait for the next run); templated.
    :param wave_size: POs per wave (one mark call, one write-back call and one SuiteQL per wave).
    :param po_numbers: only these S2P PO numbers (empty = every staged PO); templated.
    :param dry_run: plan only: nothing is written anywhere, no ledger records; templated.
    :param settings: table names, line-split rule, retrigger bound, NetSuite custom fields.
    """

    template_fields: Sequence[str] = ("max_orders", "po_numbers", "is_dry_run")
    ui_color = "#e0e8f8"

    def __init__(
        self,
        *,
        servicenow_conn_id: str = "servicenow_default",
        netsuite_conn_id: str = "netsuite_default",
        max_orders: int | str = 1000,
        wave_size: int = 50,
        po_numbers: Sequence[str] | str = (),
        dry_run: bool | str = False,
        settings: S2PSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if wave_size < 1:
            raise ConfigurationError(f"{self.task_id}: wave_size must be at least 1")
        self.servicenow_conn_id = servicenow_conn_id
        self.netsuite_conn_id = netsuite_conn_id
        self.max_orders = max_orders
        self.wave_size = wave_size
        self.po_numbers = po_numbers
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.settings = settings or S2PSettings()

    def _numbers(self) -> list[str]:
        value = self.po_numbers
        items = (
            [v.strip() for v in value.replace(",", " ").split()]
            if isinstance(value, str)
            else list(value or ())
        )
        bad = [v for v in items if not v.replace("-", "").replace("_", "").isalnum()]
        if bad:
            raise ConfigurationError(f"po_numbers: {bad} are not S2P PO numbers")
        return [str(v) for v in items]

    def sync(self, context: Context, run: SyncRun) -> None:
        max_orders = int(self.max_orders)
        if max_orders < 1:
            raise ConfigurationError("max_orders must be at least 1")
        with _servicenow(self.servicenow_conn_id) as sn, _netsuite(self.netsuite_conn_id) as ns:
            flow = S2PFlow(self, run, sn, ns)
            try:
                flow.run(max_orders=max_orders, numbers=self._numbers(), dry_run=as_bool(self.is_dry_run))
            finally:
                run.notes["servicenow_calls"] = flow.servicenow_calls
                flow.close()
            run.notes["staged_pos"] = flow.polled


class S2PFlow:
    """One run of the S2P flow (state for this run only)."""

    def __init__(
        self, op: S2PPurchaseOrderSyncOperator, run: SyncRun, sn: ServiceNowHook, ns: NetSuiteHook
    ) -> None:
        self.op = op
        self.run_ = run
        self.sn = sn
        self.ns = ns
        self.settings = op.settings
        self.tables = op.settings.tables
        self.log = op.log
        self.flow = run.flow
        self.lock = threading.Lock()
        self.polled = 0
        self.retriable_streak = 0
        self.extra_hooks: list[ServiceNowHook] = []

    @property
    def servicenow_calls(self) -> int:
        """ServiceNow API calls this run made (every session)."""
        return self.sn.stats["calls"] + sum(h.stats["calls"] for h in self.extra_hooks)

    def close(self) -> None:
        for hook in self.extra_hooks:
            hook.close()

    # ---- reading S2P

    def mappings(self) -> ErpMappings:
        """The ERP mapping tables, one read each, cached for the run."""
        t = self.tables
        rows = {
            table: [r.values for r in self.sn.query(table)]
            for table in (t.address_map, t.asset_category_map, t.material_group_map, t.account_assignment_map)
        }
        return mappings_from_rows(rows, self.settings)

    def run(self, *, max_orders: int, numbers: list[str], dry_run: bool) -> None:
        t = self.tables
        active = f"integration_statusIN{STATUS_NEW},{STATUS_IN_PROCESS}"
        query = active + (f"^purchase_order_numberIN{','.join(numbers)}" if numbers else "")
        headers = list(
            self.sn.query(
                t.staging_po,
                query + "^ORDERBYsys_created_on^ORDERBYsys_id",
                fields=HEADER_FIELDS,
                max_rows=max_orders,
            )
        )
        self.polled = len(headers)
        if not headers and not numbers:
            self._orphans(dry_run)
            return
        mappings = self.mappings()
        lines: dict[str, list[Record]] = defaultdict(list)
        line_query = f"{active}^purchase_order.{active}"
        for line in self.sn.query(t.staging_line, line_query, fields=LINE_FIELDS):
            lines[line["purchase_order"]].append(line)
        planned = []
        for wave in waves(headers, self.op.wave_size):
            staged = [StagedPO(h, lines.get(h.sys_id, [])) for h in wave]
            for po in staged:
                try:
                    po.plan = plan_purchase_order(
                        po.header.values, [ln.values for ln in po.lines], mappings, self.settings
                    )
                except RecordValidationError as exc:
                    po.invalid = exc
            planned.append(staged)
        if dry_run:
            for staged in planned:
                self._dry_run(staged)
        else:
            self._pipeline(planned)
        if not numbers:
            self._orphans(dry_run)

    def _dry_run(self, staged: list[StagedPO]) -> None:
        counts = self.run_.counts
        counts["read"] += len(staged)
        for po in staged:
            if po.invalid:
                counts["quarantined"] += 1
                self.log.warning("dry run: %s would fail: %s", po.number, po.invalid.message)
            elif po.plan and po.plan.action == "ignore":
                counts["ignored"] += 1
            self.log.info("dry run: %s -> %s", po.number, po.plan.action if po.plan else "invalid")

    # ---- the waves, pipelined

    def _pipeline(self, planned: list[list[StagedPO]]) -> None:
        """Keep NetSuite busy: while its calls run, the next wave is begun in the ledger and marked In
        process (producer thread), and finished waves are written back to S2P (writer thread).

        A PO number never has two writes in flight: a revision waits until its original's write ended.
        """
        ready: queue.Queue[list[StagedPO] | BaseException | None] = queue.Queue(maxsize=1)
        finished: queue.Queue[list[StagedPO] | None] = queue.Queue()
        errors: list[BaseException] = []
        in_flight: set[str] = set()
        turn = threading.Condition()
        halt = threading.Event()
        marker = _servicenow(self.op.servicenow_conn_id)  # its own session: the writer uses self.sn
        self.extra_hooks.append(marker)

        def produce() -> None:
            try:
                for staged in planned:
                    if errors or halt.is_set():
                        break
                    self._begin(staged)
                    self._mark_in_process(marker, [po for po in staged if po.outcome == "" and po.plan])
                    faults.hit(self.flow, "after_mark")
                    ready.put(staged)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                ready.put(exc)
                return
            ready.put(None)

        def write() -> None:
            while (staged := finished.get()) is not None:
                if errors:
                    continue
                try:
                    self._finish(staged)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    errors.append(exc)

        remaining: dict[int, int] = {}
        waves_by_id: dict[int, list[StagedPO]] = {}

        def stream() -> Iterator[tuple[int, StagedPO]]:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    errors.append(item)
                    return
                wave_id = id(item)
                waves_by_id[wave_id] = item
                sends = [po for po in item if po.outcome == "" and po.plan]
                remaining[wave_id] = len(sends)
                if not sends:
                    finished.put(item)
                for po in sends:
                    if errors:
                        return
                    with turn:
                        while po.number in in_flight:
                            turn.wait()
                        in_flight.add(po.number)
                    yield wave_id, po

        def send(entry: tuple[int, StagedPO]) -> str:
            po = entry[1]
            try:
                return self._send(po)
            finally:
                with turn:
                    in_flight.discard(po.number)
                    turn.notify_all()

        producer = threading.Thread(target=produce, name="s2p-mark", daemon=True)
        writer = threading.Thread(target=write, name="s2p-write-back", daemon=True)
        producer.start()
        writer.start()
        try:
            for (wave_id, po), result in self.ns.map_concurrent(send, stream()):
                if isinstance(result, BaseException):
                    # a dead worker, a rejected login or a broken setting: the run stops
                    errors.append(result)
                    continue
                self._record(po)
                if errors:
                    continue  # stopping: the calls in flight end and are recorded, nothing more starts
                remaining[wave_id] -= 1
                if remaining[wave_id] == 0:
                    finished.put(waves_by_id[wave_id])
                if self.retriable_streak >= self.run_.max_consecutive_retriable:
                    errors.append(
                        SystemUnavailableError(
                            f"{self.retriable_streak} purchase orders in a row failed with transient NetSuite "
                            "errors; stopping so that Airflow retries later (their staging is read again)"
                        )
                    )
        finally:
            halt.set()
            while producer.is_alive():  # a producer waiting to hand over a wave
                try:
                    ready.get(timeout=0.1)
                except queue.Empty:
                    pass
            finished.put(None)
            writer.join()
        if errors:
            raise errors[0]

    def _begin(self, staged: list[StagedPO]) -> None:
        """Ledger ``in_progress`` for each PO of a wave (rule 1), and the outcomes known without NetSuite."""
        run = self.run_
        for po in staged:
            key = run.key("purchase_order", "servicenow", po.sys_id)
            payload = po.plan.payload_hash if po.plan else None
            with self.lock:
                po.decision = run.begin(key, payload_hash=payload, trace_key=po.number, force=po.plan is None)
                if po.decision.action is Action.BUSY:
                    po.outcome = "busy"
                elif po.invalid is not None:
                    run.quarantined(po.decision, code=po.invalid.code, message=po.invalid.message)
                    po.outcome = "quarantined"
                elif po.plan is not None and po.plan.action == "ignore":
                    run.ignored(po.decision, reason=po.plan.reason)
                    po.outcome = "ignored"
                elif po.decision.action is Action.SKIP:
                    previous = po.decision.previous
                    po.netsuite_id = previous.target_id if previous else None
                    po.outcome = "unchanged"
                    if po.header["integration_status"] == STATUS_IN_PROCESS:
                        # in NetSuite already, S2P never told (a run died before writing back): finished now
                        run.synced(po.decision, target_system="netsuite", target_id=po.netsuite_id)
                    else:
                        run.ignored(po.decision)  # restaged without a change: written back, not sent

    def _finish(self, staged: list[StagedPO]) -> None:
        """NetSuite's PO and line numbers (one SuiteQL), then the wave's write-back (one Batch call)."""
        self._read_erp_numbers(
            [po for po in staged if po.netsuite_id and po.plan and po.plan.action == "upsert"]
        )
        faults.hit(self.flow, "after_ledger")
        self._write_back(staged)
        faults.hit(self.flow, "after_write_back")

    def _mark_in_process(self, sn: ServiceNowHook, pos: list[StagedPO]) -> None:
        ops: list[BatchOp] = []
        for po in pos:
            if po.header["integration_status"] != STATUS_IN_PROCESS:
                ops.append(
                    _op("PATCH", self.tables.staging_po, po.sys_id, {"integration_status": STATUS_IN_PROCESS})
                )
            ops += [
                _op("PATCH", self.tables.staging_line, line.sys_id, {"integration_status": STATUS_IN_PROCESS})
                for line in po.lines
                if line["integration_status"] != STATUS_IN_PROCESS
            ]
        if ops:
            sn.batch_checked(ops)

    def _send(self, po: StagedPO) -> str:
        """NetSuite for one PO (runs in a worker thread). The ledger outcome is recorded by the thread
        that collects the results (:meth:`_record`), so no worker ever waits on the ledger's write lock."""
        assert po.plan is not None
        plan = po.plan
        try:
            if plan.action == "upsert":
                netsuite_id = self.ns.upsert_record("purchaseOrder", plan.external_id, plan.body).id
            else:
                netsuite_id = self._cancel(plan)
            faults.hit(self.flow, "after_netsuite_write")
        except (AuthenticationError, ConfigurationError, InjectedCrash):
            raise
        except RetriableError as exc:
            po.error, po.outcome = exc, "retry"
            return ""
        except ExternalSystemError as exc:
            po.error, po.outcome = exc, "failed"
            return ""
        po.netsuite_id, po.outcome = netsuite_id, "synced"
        return netsuite_id

    def _record(self, po: StagedPO) -> None:
        """The ledger outcome of one NetSuite write (right after it, before S2P is written back)."""
        assert po.decision is not None
        run = self.run_
        with self.lock:
            if po.outcome == "synced":
                run.synced(po.decision, target_system="netsuite", target_id=po.netsuite_id or None)
                self.retriable_streak = 0
            elif po.outcome == "retry" and po.error is not None:
                run.failed(
                    po.decision, code=po.error.code or f"HTTP_{po.error.status}", message=str(po.error)
                )
                self.retriable_streak += 1
            elif po.outcome == "failed" and po.error is not None:
                run.failed(
                    po.decision, code=po.error.code or f"HTTP_{po.error.status}", message=_message(po.error)
                )
                self.retriable_streak = 0

    def _cancel(self, plan: Plan) -> str:
        """Close every open line of the PO in NetSuite (a PO with receipts cannot be deleted); a PO that
        never reached NetSuite has nothing to cancel."""
        existing = self.ns.find_record("purchaseOrder", f"eid:{plan.external_id}")
        if existing is None:
            return ""
        lines = existing.sublists.get("item", [])
        open_lines = [{"line": line["line"], "isClosed": True} for line in lines if not line.get("isClosed")]
        if open_lines:
            self.ns.update_record(
                "purchaseOrder", existing.id, {"item": {"items": open_lines}}, idempotent=True
            )
        return existing.id

    def _read_erp_numbers(self, pos: list[StagedPO]) -> None:
        """The NetSuite PO numbers (``tranId``) and line numbers of the written POs: one SuiteQL call."""
        if not pos:
            return
        ids = ", ".join(suiteql_int(po.netsuite_id or 0) for po in pos)
        query = (
            "SELECT t.id AS id, t.tranid AS tranid, tl.id AS line FROM transaction t "
            "JOIN transactionline tl ON tl.transaction = t.id "
            f"WHERE t.id IN ({ids}) AND tl.mainline = 'F' AND tl.taxline = 'F' ORDER BY t.id, tl.id"
        )
        found: dict[str, tuple[str, list[int]]] = {}
        for row in self.ns.suiteql(query):
            tranid, numbers = found.setdefault(str(row["id"]), (str(row.get("tranid") or ""), []))
            numbers.append(int(row["line"]))
        for po in pos:
            assert po.plan is not None
            tranid, numbers = found.get(str(po.netsuite_id), ("", []))
            po.erp_number = tranid or str(po.netsuite_id)
            planned = [p.erp_line for p in po.plan.parts]
            actual = numbers if len(numbers) == len(planned) else planned
            by_planned = dict(zip(planned, actual, strict=True))
            for part in po.plan.parts:
                po.erp_lines.setdefault(part.staging_line, []).append(by_planned[part.erp_line])

    # ---- writing back to S2P

    def _write_back(self, staged: list[StagedPO]) -> None:
        ops: list[BatchOp] = []
        errors: list[StagedPO] = []
        for po in staged:
            if po.outcome in ("synced", "unchanged") and po.plan and po.plan.action == "upsert":
                ops += self._processed_ops(po)
            elif po.outcome in ("synced", "unchanged") and po.plan and po.plan.action == "cancel":
                note = (
                    "canceled in NetSuite (every line closed)"
                    if po.netsuite_id
                    else "not in NetSuite: nothing to cancel"
                )
                ops += self._status_ops(po, STATUS_PROCESSED, note)
            elif po.outcome == "ignored" and po.plan:
                ops += self._status_ops(po, STATUS_PROCESSED, po.plan.reason)
            elif po.outcome in ("failed", "quarantined"):
                errors.append(po)
                ops += self._status_ops(po, STATUS_FAILED, self._error_text(po))
            elif po.outcome == "retry":
                ops += self._status_ops(po, STATUS_NEW, "")
        ops += self._task_ops(errors)
        ops += self._fixed_asset_ops([po for po in staged if po.erp_lines])
        if ops:
            self._send_write_back(ops)
        self._resolve_orphans([po for po in staged if po.outcome in ("synced", "unchanged")])

    def _send_write_back(self, ops: list[BatchOp]) -> None:
        """One Batch API call (or a few) for the wave's write-back. A 429 / 5xx on any op stops the run
        (Airflow retries it; the staging records still at 20 are written back by the rerun). A refusal of
        one op (a record deleted in S2P, an ACL) is logged and counted, not fatal: the NetSuite side is
        committed and the ledger says so; a staging record left at 20 is written back again next run."""
        results = self.sn.batch(ops)
        failed = [r for r in results if not r.ok]
        transient = [r for r in failed if r.status == 429 or r.status >= 500]
        if transient:
            first = transient[0]
            raise RetriableError(
                f"ServiceNow write-back: {len(transient)} request(s) not done ({first.status} {first.error}); "
                "the run is retried",
                system="servicenow",
                status=first.status,
            )
        for r in failed:
            self.log.error(
                "S2P write-back refused: %s %s/%s -> %s %s",
                r.op.method,
                r.op.table,
                r.op.sys_id or "",
                r.status,
                r.error,
            )
        if failed:
            with self.lock:
                self.run_.notes["write_back_refused"] = self.run_.notes.get("write_back_refused", 0) + len(
                    failed
                )

    def _error_text(self, po: StagedPO) -> str:
        if po.invalid is not None:
            return po.invalid.message[:MAX_MESSAGE]
        return _message(po.error)[:MAX_MESSAGE] if po.error else "failed"

    def _status_ops(self, po: StagedPO, status: str, message: str) -> list[BatchOp]:
        t = self.tables
        body = {"integration_status": status, "processing_message": message[:MAX_MESSAGE]}
        return [
            _op("PATCH", t.staging_po, po.sys_id, body),
            *(_op("PATCH", t.staging_line, line.sys_id, body) for line in po.lines),
        ]

    def _processed_ops(self, po: StagedPO) -> list[BatchOp]:
        t = self.tables
        ops = [
            _op(
                "PATCH",
                t.staging_po,
                po.sys_id,
                {
                    "integration_status": STATUS_PROCESSED,
                    "erp_number": po.erp_number,
                    "processing_message": "",
                },
            )
        ]
        if po.header["purchase_order"]:
            ops.append(_op("PATCH", t.primary_po, po.header["purchase_order"], {"erp_number": po.erp_number}))
        for line in po.lines:
            erp_line = ",".join(str(n) for n in po.erp_lines.get(line.sys_id, []))
            ops.append(
                _op(
                    "PATCH",
                    t.staging_line,
                    line.sys_id,
                    {
                        "integration_status": STATUS_PROCESSED,
                        "erp_line_number": erp_line,
                        "processing_message": "",
                    },
                )
            )
            if line["purchase_order_line"]:
                ops.append(
                    _op("PATCH", t.primary_line, line["purchase_order_line"], {"erp_line_number": erp_line})
                )
        return ops

    def _task_ops(self, errors: list[StagedPO]) -> list[BatchOp]:
        """An integration-error purchasing task per failed PO, unless an open one for that staging record
        exists (a rerun after a crash must not open a second)."""
        if not errors:
            return []
        t = self.tables
        ids = ",".join(po.sys_id for po in errors)
        existing = {
            r["correlation_id"]
            for r in self.sn.query(
                t.purchasing_task, f"correlation_idIN{ids}^state!=3", fields=["correlation_id"]
            )
        }
        ops = []
        for po in errors:
            if po.sys_id in existing:
                continue
            ops.append(
                _op(
                    "POST",
                    t.purchasing_task,
                    body={
                        "type": "integration_error",
                        "purchase_requisition": po.header["purchase_order.purchase_requisition"],
                        "purchase_order": po.header["purchase_order"],
                        "short_description": f"ERP integration error on purchase order {po.number}",
                        "description": self._error_text(po),
                        "correlation_id": po.sys_id,
                        "state": "1",
                    },
                )
            )
        return ops

    def _fixed_asset_ops(self, pos: list[StagedPO]) -> list[BatchOp]:
        """Point each fixed asset of a capitalised line at its ERP line (asset k -> split part k // 99)."""
        lines: dict[str, tuple[StagedPO, str]] = {}
        for po in pos:
            for line in po.lines:
                if line["asset_category"] and line["purchase_order_line"]:
                    lines[line["purchase_order_line"]] = (po, line.sys_id)
        if not lines:
            return []
        t = self.tables
        assets: dict[str, list[Record]] = defaultdict(list)
        query = f"purchase_order_lineIN{','.join(lines)}^ORDERBYasset_tag"
        for asset in self.sn.query(t.fixed_asset, query, fields=["purchase_order_line", "asset_tag"]):
            assets[asset["purchase_order_line"]].append(asset)
        ops = []
        for primary, (po, staging_line) in lines.items():
            erp_lines = po.erp_lines.get(staging_line, [])
            if not erp_lines:
                continue
            for asset, part in zip(
                assets.get(primary, []),
                asset_parts(len(assets.get(primary, [])), self.settings.max_line_quantity),
                strict=True,
            ):
                erp_line = erp_lines[min(part, len(erp_lines) - 1)]
                ops.append(
                    _op(
                        "PATCH",
                        t.fixed_asset,
                        asset.sys_id,
                        {"erp_line_number": str(erp_line), "erp_number": po.erp_number},
                    )
                )
        return ops

    # ---- lines without their PO

    def _orphans(self, dry_run: bool) -> None:
        """Staging lines at New whose PO header is missing or already done: retried (left at New) for
        ``max_retriggers`` runs, then failed with a message."""
        t = self.tables
        query = f"integration_status={STATUS_NEW}^purchase_orderISEMPTY^ORpurchase_order.integration_statusNOT IN{STATUS_NEW},{STATUS_IN_PROCESS}"
        orphans = list(self.sn.query(t.staging_line, query, fields=LINE_FIELDS))
        if dry_run or not orphans:
            self.run_.counts["read"] += len(orphans) if dry_run else 0
            return
        run = self.run_
        ops = []
        for line in orphans:
            decision = run.begin(
                run.key("orphan_line", "servicenow", line.sys_id), payload_hash=None, force=True
            )
            if decision.action is Action.BUSY:
                continue
            tries = (decision.previous.attempts if decision.previous else 0) + 1
            where = f"{t.staging_line} {line.sys_id} (S2P line {line['purchase_line'] or line['purchase_order_line_number']})"
            if tries >= self.settings.max_retriggers:
                message = f"{where}: no purchase order to import it with after {tries} runs; link it to its PO and set it back to New"
                run.quarantined(decision, code="LINE_WITHOUT_PO", message=message)
                ops.append(
                    _op(
                        "PATCH",
                        t.staging_line,
                        line.sys_id,
                        {"integration_status": STATUS_FAILED, "processing_message": message},
                    )
                )
            else:
                run.failed(
                    decision,
                    code="LINE_WITHOUT_PO",
                    message=f"{where}: its purchase order is not staged yet; retried by the next run ({tries}/{self.settings.max_retriggers})",
                )
        if ops:
            self.sn.batch_checked(ops)

    def _resolve_orphans(self, pos: Iterable[StagedPO]) -> None:
        """A line that arrived before its PO and was waiting is resolved once its PO went through."""
        run = self.run_
        for po in pos:
            for line in po.lines:
                if line["sys_created_on"] and line["sys_created_on"] < po.header["sys_created_on"]:
                    key = run.key("orphan_line", "servicenow", line.sys_id)
                    state = run.ledger.get(key)
                    if state is not None and state.status in (RecordStatus.FAILED, RecordStatus.QUARANTINED):
                        run.ledger.resolve(key, note=f"imported with PO {po.number}")


def _message(exc: ExternalSystemError | None) -> str:
    """NetSuite's own words first (its error detail), then our summary."""
    if exc is None:
        return ""
    return f"{exc.detail} ({exc})" if exc.detail and exc.detail not in str(exc) else str(exc)
