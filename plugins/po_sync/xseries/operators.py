"""Operators of the ``vend_*`` flows: tokens, purchase orders both ways.

Ledger rules (``DESIGN.md``) as they apply to X-Series:

- a NetSuite PO is one ``sync_record`` (``purchase_order`` / ``netsuite`` / internal id) whose target id
  is the consignment id, also written to the PO's ``custbody_vend_consignment_id``; a rerun after a crash
  between ``POST /consignments`` and the ledger update finds the consignment by ``reference`` (the PO
  number) instead of creating a second one;
- consignment lines are set from a fresh read of the consignment (bulk counts accumulate), so a rerun
  sends only what is still missing;
- a POS-made SUPPLIER consignment is one record (``consignment`` / ``xseries`` / id) written to NetSuite
  once, by external id ``VEND-<consignment id>`` (an upsert: a rerun cannot make a second PO), with the
  "synced" box ticked; the version cursor moves only when the run completes, and never past a record
  that failed for a transient reason;
- bad input (unknown SKU, unmapped outlet, non-positive counts) quarantines the order with a message
  naming it, the line and the field; system faults (401, token endpoint down, 429 storms) stop the run.

Crash points for tests and drills (:mod:`po_sync.faults`), declared below: right after each X-Series
or NetSuite write and before the ledger records it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from po_sync import faults
from po_sync.exceptions import ConfigurationError, RecordError
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.ledger.schema import sync_record
from po_sync.sync import SyncOperator, SyncRun, as_bool
from po_sync.validation import document_numbers_param, is_internal_id, suiteql_int, suiteql_string
from po_sync.xseries import pulled
from po_sync.xseries.mapping import (
    OrderPlan,
    check_plan,
    consignment_body,
    cursor_version,
    desired_counts,
    external_id,
    line_changes,
    order_lines,
    purchase_order_body,
    version_cursor,
)
from po_sync.xseries.settings import OutletMap, XSeriesSettingsTable
from po_sync.xseries.writeback import ERROR_FIELD, ErrorWriteBack, current_error

if TYPE_CHECKING:
    from airflow.sdk import Context

    from po_sync.netsuite import NetSuiteHook
    from po_sync.xseries.hook import XSeriesHook
    from po_sync.xseries.models import Consignment

CONSIGNMENT_FIELD = "custbody_vend_consignment_id"
SYNCED_FIELD = "custbody_vend_synced"
PUSH_FLOW = "vend_purchase_order_sync"
PULL_CURSOR = "xseries_version"
_FIELD_RE = re.compile(r"^custbody[a-z0-9_]+$")


def _netsuite(conn_id: str) -> NetSuiteHook:
    from po_sync.netsuite import NetSuiteHook

    return NetSuiteHook(conn_id)


def _xseries(conn_id: str) -> XSeriesHook:
    from po_sync.xseries.hook import XSeriesHook

    return XSeriesHook(conn_id)


def item_ids_by_sku(ns: NetSuiteHook, lines: Any) -> dict[str, str]:
    """NetSuite item ids of the SKUs on consignment ``lines`` (one SuiteQL query): ``{sku: id}``."""
    skus = sorted({ln.product_sku for ln in lines if ln.product_sku})
    if not skus:
        return {}
    quoted = ", ".join(suiteql_string(s) for s in skus)
    rows = ns.suiteql(f"SELECT id, itemid FROM item WHERE itemid IN ({quoted}) ORDER BY id")
    return {str(row["itemid"]): str(row["id"]) for row in rows}


def targets_of(run: SyncRun, *, flow: str, entity_type: str) -> dict[str, str]:
    """``{source_id: target_id}`` of a flow's synced records (read from the ledger's own table)."""
    with run.ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_record.c.source_id, sync_record.c.target_id).where(
                sync_record.c.flow == flow,
                sync_record.c.entity_type == entity_type,
                sync_record.c.target_id.is_not(None),
            )
        ).all()
    return {str(source): str(target) for source, target in rows}


def purchase_order_query(consignment_field: str, *, order_id: str | None = None) -> str:
    """SuiteQL of approved purchase orders' item lines, the push's input; ``order_id`` narrows it to
    one order (the pull records a PO it made exactly as the push would read it)."""
    one = f"AND t.id = {suiteql_int(order_id)} " if order_id is not None else ""
    return (
        "SELECT t.id AS order_id, t.tranid AS tranid, t.location AS location, t.status AS status, "
        f"t.externalid AS externalid, t.{consignment_field} AS {consignment_field}, "
        f"t.{ERROR_FIELD} AS {ERROR_FIELD}, "
        "tl.id AS line_id, i.itemid AS sku, tl.quantity AS quantity, tl.rate AS rate "
        "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
        "LEFT JOIN item i ON i.id = tl.item "
        f"WHERE t.type = 'PurchOrd' AND t.status IN ('B', 'D', 'E') {one}AND tl.mainline = 'F' "
        "AND tl.taxline = 'F' AND tl.isdropship = 'F' ORDER BY t.id, tl.id"
    )


# ==================================================================================================
# Tokens
# ==================================================================================================


PO_FLOW, RECEIPT_FLOW, TOKEN_FLOW = "vend_purchase_order_sync", "vend_item_receipt_sync", "vend_token_refresh"
CRASH_CREATE = faults.declare(PO_FLOW, "after_consignment_create", "a consignment created", legacy=True)
CRASH_LINES = faults.declare(PO_FLOW, "after_consignment_lines", "a consignment's lines added", legacy=True)
CRASH_LINE_COUNT = faults.declare(PO_FLOW, "after_line_count", "a consignment line's count changed")
CRASH_LINE_REMOVE = faults.declare(PO_FLOW, "after_line_remove", "a consignment line removed")
CRASH_PO_FIELD = faults.declare(
    PO_FLOW, "after_consignment_field", "the consignment id written on the NetSuite PO", legacy=True
)
CRASH_DELETE = faults.declare(PO_FLOW, "after_consignment_delete", "a consignment deleted", legacy=True)
CRASH_PULL = faults.declare(
    PO_FLOW, "after_netsuite_po", "a NetSuite PO made from a consignment", legacy=True
)
CRASH_RECEIVED = faults.declare(
    RECEIPT_FLOW, "after_received_counts", "a consignment's received counts sent", legacy=True
)
CRASH_RECEIVED_STATUS = faults.declare(
    RECEIPT_FLOW, "after_received_status", "a consignment set RECEIVED", legacy=True
)
CRASH_TOKEN = faults.declare(TOKEN_FLOW, "after_refresh", "the token pair rotated and stored")
for _flow in (PO_FLOW, RECEIPT_FLOW):
    faults.declare_ledger_points(_flow)


class XSeriesTokenRefreshOperator(SyncOperator):
    """Rotate the OAuth token pair of an X-Series connection (the proposal refreshes every 12 hours).

    The new pair is stored atomically before anything else; a worker refreshing at the same moment keeps
    the winner's pair. A refused refresh token raises :class:`~po_sync.xseries.errors.XSeriesAuthError`
    (fatal: no retry) so the failure alert goes out: every X-Series flow is stopped until a person runs
    the authorize step again. Pushes only the token generation and expiry, never a token.

    :param xseries_conn_id: the X-Series connection (``auth_mode`` oauth).
    """

    ui_color = "#f4e1d2"

    def __init__(self, *, xseries_conn_id: str = "xseries_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not xseries_conn_id.strip():
            raise ConfigurationError(f"{self.task_id}: xseries_conn_id must not be blank")
        self.xseries_conn_id = xseries_conn_id

    def sync(self, context: Context, run: SyncRun) -> None:
        with _xseries(self.xseries_conn_id) as hook:
            pair = hook.refresh_tokens(force=True)
            CRASH_TOKEN.hit()
        run.notes.update(generation=pair.generation, expires_at=int(pair.expires_at))


# ==================================================================================================
# Purchase orders: NetSuite -> X-Series
# ==================================================================================================


class _XSeriesOrderOperator(SyncOperator):
    """Shared arguments of the order flows."""

    template_fields: Sequence[str] = ("resync_numbers", "is_dry_run")

    def __init__(
        self,
        *,
        netsuite_conn_id: str = "netsuite_default",
        xseries_conn_id: str = "xseries_default",
        settings: str | Path | Mapping[str, Any] | None = None,
        consignment_field: str = CONSIGNMENT_FIELD,
        synced_field: str = SYNCED_FIELD,
        resync_numbers: Sequence[str] | str = (),
        dry_run: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("consignment_field", consignment_field), ("synced_field", synced_field)):
            if not _FIELD_RE.fullmatch(value):
                raise ConfigurationError(f"{self.task_id}: {name} must be a custom body field (custbody...)")
        self.netsuite_conn_id = netsuite_conn_id
        self.xseries_conn_id = xseries_conn_id
        self.settings = settings
        self.consignment_field = consignment_field
        self.synced_field = synced_field
        self.resync_numbers = resync_numbers
        self.is_dry_run = dry_run

    def _resync(self) -> list[str]:
        return document_numbers_param(self.resync_numbers, param="resync_numbers")

    def _table(self) -> XSeriesSettingsTable:
        return XSeriesSettingsTable.load(self.settings)


class VendPurchaseOrderPushOperator(_XSeriesOrderOperator):
    """NetSuite purchase orders (approved: Pending Receipt / partially received) -> SUPPLIER consignments.

    Creates the consignment (one ``POST`` + one bulk call for every line), updates lines while the
    consignment is still OPEN or SENT (add / change / remove), and deletes the consignment when the PO
    was deleted in NetSuite and nothing in the POS depends on it yet. The consignment id is kept in the
    ledger and on the PO (``consignment_field``).

    :param netsuite_conn_id: the NetSuite connection.
    :param xseries_conn_id: the X-Series connection.
    :param settings: the settings table (location -> outlet): a mapping, JSON text or a file path;
        None = ``include/config/xseries/settings.json``.
    :param consignment_field: PO custom body field holding the consignment id.
    :param synced_field: PO checkbox ticked on POs created from the POS.
    :param resync_numbers: PO numbers or internal ids to send again even if unchanged; templated.
    :param dry_run: read and map only; templated.
    """

    def query(self) -> str:
        """Approved purchase orders' item lines (public so tests and people can read it)."""
        return purchase_order_query(self.consignment_field)

    def sync(self, context: Context, run: SyncRun) -> None:
        resync = set(self._resync())
        table = self._table()
        dry = as_bool(self.is_dry_run)
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                outlets = table.resolve((o.id, o.name) for o in xs.outlets())
                products = {p.sku: p.id for p in xs.products() if not p.deleted_at and not p.is_composite}
                rows = list(ns.suiteql(self.query()))
                plans = order_lines(rows, consignment_field=self.consignment_field, record="PO")
                run.notes["purchase_orders"] = len(plans)
                if dry:
                    return
                errors = {str(r.get("order_id")): current_error(r) for r in rows}
                writeback = ErrorWriteBack(ns, run, target=table.error_writeback)
                for plan in plans:
                    forced = plan.order_id in resync or plan.tran_id in resync
                    key = run.key("purchase_order", "netsuite", plan.order_id)
                    with writeback.around(
                        key,
                        record_type="purchaseOrder",
                        order_id=plan.order_id,
                        current=errors.get(plan.order_id),
                    ):
                        run.process(
                            key,
                            payload_hash=plan.payload_hash(),
                            send=functools.partial(
                                self._push, xs, ns, run, plan, outlets=outlets, products=products
                            ),
                            target_system="xseries",
                            trace_key=plan.tran_id,
                            force=forced,
                        )
                self._deletions(xs, ns, run, {p.order_id for p in plans})
            finally:
                ns.close()
        run.notes["xseries_calls"] = xs.calls

    def _find_by_reference(self, xs: XSeriesHook, reference: str) -> Consignment | None:
        """After a crash between create and ledger: the consignment this PO already has, by reference."""
        for cons, _version in xs.consignments_changed(type="SUPPLIER"):
            if cons.reference == reference and not cons.deleted_at:
                return cons
        return None

    def _push(
        self,
        xs: XSeriesHook,
        ns: NetSuiteHook,
        run: SyncRun,
        plan: OrderPlan,
        decision: Decision,
        *,
        outlets: OutletMap,
        products: Mapping[str, str],
    ) -> str:
        outlet_id = outlets.outlet(plan.location_id)
        check_plan(plan, products=products, outlet_id=outlet_id, record="PO")
        assert outlet_id is not None
        wanted = desired_counts(plan, products)
        known = (decision.previous.target_id if decision.previous else None) or plan.consignment_id
        cons = xs.consignment(known) if known else None
        if known and cons is None:
            raise RecordError(
                f"PO {plan.tran_id}: its consignment {known} was deleted in X-Series; not recreated",
                code="CONSIGNMENT_DELETED",
                record_id=plan.order_id,
            )
        if cons is None and decision.previous is not None:
            # an earlier attempt may have made it: one that crashed before the ledger heard
            # (RESUME), or a create whose answer was lost (dropped connection, timeout) and failed
            # (RETRY). POST is not idempotent: look before creating again.
            cons = self._find_by_reference(xs, plan.tran_id)
        fresh = cons is None
        if cons is None:
            cons = xs.create_consignment(consignment_body(plan, outlet_id=outlet_id, kind="SUPPLIER"))
            CRASH_CREATE.hit()
        current = [] if fresh else xs.consignment_products(cons.id)
        changes = line_changes(wanted, current)
        if changes and cons.status not in ("OPEN", "SENT"):
            raise RecordError(
                f"PO {plan.tran_id}: consignment {cons.id} is {cons.status} in X-Series; line changes after "
                "receiving started are not synced",
                code="CONSIGNMENT_LOCKED",
                record_id=plan.order_id,
            )
        if changes.bulk:
            xs.bulk_products(cons.id, changes.bulk)
            CRASH_LINES.hit()
        for pid, values in changes.set_counts.items():
            xs.request("PUT", f"/consignments/{cons.id}/products/{pid}", json_body={"data": values})
            CRASH_LINE_COUNT.hit()
        for pid in changes.remove:
            xs.delete_consignment_product(cons.id, pid)
            CRASH_LINE_REMOVE.hit()
        if plan.consignment_id != cons.id:
            ns.update_record(
                "purchaseOrder", plan.order_id, {self.consignment_field: cons.id}, idempotent=True
            )
            CRASH_PO_FIELD.hit()
        return cons.id

    def _deletions(self, xs: XSeriesHook, ns: NetSuiteHook, run: SyncRun, present: set[str]) -> None:
        """POs this flow synced that NetSuite no longer has: delete their consignments."""
        synced = targets_of(run, flow=run.flow, entity_type="purchase_order")
        candidates = sorted(set(synced) - present, key=lambda s: int(s) if s.isdigit() else 0)
        if not candidates:
            return
        existing: set[str] = set()
        for start in range(0, len(candidates), 500):
            ids = (
                ", ".join(suiteql_int(c) for c in candidates[start : start + 500] if is_internal_id(c))
                or "-1"
            )
            rows = ns.suiteql(
                f"SELECT id FROM transaction WHERE type = 'PurchOrd' AND id IN ({ids}) ORDER BY id"
            )
            existing.update(str(r["id"]) for r in rows)
        for po_id in candidates:
            if po_id in existing:
                continue  # closed or billed, not deleted
            cid = synced[po_id]

            def delete(decision: Decision, cid: str = cid) -> str:
                xs.delete_consignment(cid)
                CRASH_DELETE.hit()
                return cid

            run.process(
                run.key("purchase_order_deletion", "netsuite", po_id),
                payload_hash=f"deleted:{cid}",
                send=delete,
                target_system="xseries",
            )


# ==================================================================================================
# Purchase orders: X-Series -> NetSuite
# ==================================================================================================


class VendSupplierOrderPullOperator(_XSeriesOrderOperator):
    """SUPPLIER consignments created in the POS (status OPEN) -> NetSuite purchase orders, once each.

    Reads the consignment change feed after the version kept in the ledger cursor, skips consignments
    this integration created from NetSuite, and upserts one PO per new consignment by external id
    ``VEND-<id>`` with the outlet's location, the supplier's vendor (settings table; else the default
    vendor), items by SKU, the consignment id and the "synced" box.

    :param push_flow: the flow whose ledger records mark consignments made from NetSuite POs.
    """

    def __init__(self, *, push_flow: str = PUSH_FLOW, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_flow = push_flow

    def sync(self, context: Context, run: SyncRun) -> None:
        table = self._table()
        dry = as_bool(self.is_dry_run)
        after = cursor_version(run.ledger.get_cursor(run.flow, PULL_CURSOR))
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                if not dry:  # a crashed run's POS orders, whose PO NetSuite may already hold
                    pulled.settle_interrupted(
                        run,
                        ns,
                        xs,
                        record_type="purchaseOrder",
                        takes=lambda c: c.type == "SUPPLIER" and c.status == "OPEN" and not c.deleted_at,
                        link=functools.partial(self._link, ns, run),
                        log=self.log,
                    )
                ours = set(targets_of(run, flow=self.push_flow, entity_type="purchase_order").values())
                outlets = table.resolve((o.id, o.name) for o in xs.outlets())
                suppliers = {s.id: s.name for s in xs.suppliers()}
                top = after
                hold: int | None = None
                for cons, version in xs.consignments_changed(after=after, type="SUPPLIER"):
                    top = max(top, version)
                    if cons.status != "OPEN" or cons.deleted_at or cons.id in ours or dry:
                        continue
                    key = run.key("consignment", "xseries", cons.id)
                    action = run.process(
                        key,
                        payload_hash="created",  # once: a created PO is never sent again
                        send=functools.partial(
                            self._pull, xs, ns, run, cons, table=table, outlets=outlets, suppliers=suppliers
                        ),
                        target_system="netsuite",
                        trace_key=cons.reference or cons.id,
                    )
                    state = run.ledger.get(key)
                    if action is Action.BUSY or (state is not None and state.status is RecordStatus.FAILED):
                        hold = version - 1 if hold is None else min(hold, version - 1)
                run.notes["cursor_version"] = top if hold is None else min(top, hold)
                target = top if hold is None else min(top, hold)
                if target > after and not dry:
                    run.advance_cursor_on_completion(version_cursor(target), cursor_key=PULL_CURSOR)
            finally:
                ns.close()

    def _pull(
        self,
        xs: XSeriesHook,
        ns: NetSuiteHook,
        run: SyncRun,
        cons: Consignment,
        decision: Decision,
        *,
        table: XSeriesSettingsTable,
        outlets: OutletMap,
        suppliers: Mapping[str, str],
    ) -> str:
        from po_sync.exceptions import RecordValidationError

        location = outlets.location(cons.outlet_id)
        if location is None:
            raise RecordValidationError(
                f"consignment {cons.id}: outlet {cons.outlet_id} has no NetSuite location in the settings table",
                code="UNMAPPED_OUTLET",
                record_id=cons.id,
            )
        supplier_name = suppliers.get(cons.supplier_id or "")
        vendor = (
            table.suppliers.get(cons.supplier_id or "")
            or table.suppliers.get(supplier_name or "")
            or table.default_vendor_id
        )
        if vendor is None:
            raise RecordValidationError(
                f"consignment {cons.id}: supplier {supplier_name or cons.supplier_id!r} has no NetSuite vendor",
                code="UNMAPPED_SUPPLIER",
                record_id=cons.id,
            )
        # made from a NetSuite PO (a push whose create answer was lost: its number is the reference),
        # or pulled before a crash: not again
        made = pulled.order_already_in_netsuite(
            ns,
            cons,
            transaction_type="PurchOrd",
            consignment_field=self.consignment_field,
            what=f"order {cons.reference or cons.id}",
            link=functools.partial(self._link, ns, run),
        )
        if made is not None:
            return made
        lines = xs.consignment_products(cons.id)
        items = item_ids_by_sku(ns, lines)
        body = purchase_order_body(
            cons,
            lines,
            location_id=location,
            vendor_id=vendor,
            items=items,
            consignment_field=self.consignment_field,
            synced_field=self.synced_field,
        )
        result = ns.upsert_record("purchaseOrder", external_id(cons.id), body)
        CRASH_PULL.hit()
        self._link(ns, run, result.id, cons.id)
        return result.id

    def _link(self, ns: NetSuiteHook, run: SyncRun, po_id: str, consignment_id: str) -> None:
        """Record the new PO on the push side too (target = its consignment, hash of what NetSuite now
        holds), so the push's next run finds it unchanged (nothing sent, nothing counted as synced)
        instead of recording a write it never made. Without it (a crash first), the push records the
        pair itself on its next run; nothing is sent either way."""
        if self.push_flow != run.flow:
            return
        plans = order_lines(
            ns.suiteql(purchase_order_query(self.consignment_field, order_id=po_id)),
            consignment_field=self.consignment_field,
            record="PO",
        )
        for plan in plans:
            key = run.key("purchase_order", "netsuite", plan.order_id)
            state = run.ledger.get(key)
            if (
                state is not None
                and state.status is RecordStatus.SYNCED
                and state.target_id == consignment_id
                and state.payload_hash == plan.payload_hash()
            ):
                continue  # the push recorded it already
            run.process(
                key,
                payload_hash=plan.payload_hash(),
                send=lambda decision: consignment_id,
                target_system="xseries",
                trace_key=plan.tran_id,
            )


# ==================================================================================================
# Item receipts: NetSuite -> X-Series
# ==================================================================================================


class VendItemReceiptSyncOperator(_XSeriesOrderOperator):
    """When every item receipt of a PO exists in NetSuite, receive its consignment in X-Series.

    A PO counts as received when each of its lines has ``quantityshiprecv >= quantity`` (every receipt
    saved; partial receipts wait). Then the consignment's lines get their ``received`` counts in one
    bulk call (X-Series marks an OPEN/SENT supplier order DISPATCHED on the first ``received``; counts
    accumulate, so the call carries what a fresh read says is still missing) and the consignment goes
    RECEIVED. A rerun after a crash between the two reads again and only sets the status.

    Purchase orders only: a transfer order's ``quantityshiprecv`` counts what was shipped, not what
    arrived, so transfer orders have their own operator (``xseries.transfers``).
    """

    record_type = "purchaseOrder"

    def query(self) -> str:
        """Lines of orders that carry a consignment id, with what was received so far."""
        code = "PurchOrd"
        return (
            "SELECT t.id AS order_id, t.tranid AS tranid, t.location AS location, t.status AS status, "
            f"t.{self.consignment_field} AS {self.consignment_field}, t.{ERROR_FIELD} AS {ERROR_FIELD}, "
            "tl.id AS line_id, i.itemid AS sku, "
            "tl.quantity AS quantity, tl.quantityshiprecv AS received, tl.rate AS rate "
            "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
            "LEFT JOIN item i ON i.id = tl.item "
            f"WHERE t.type = '{code}' AND t.{self.consignment_field} IS NOT NULL AND tl.mainline = 'F' "
            "AND tl.taxline = 'F' ORDER BY t.id, tl.id"
        )

    def sync(self, context: Context, run: SyncRun) -> None:
        from collections import defaultdict
        from decimal import Decimal

        dry = as_bool(self.is_dry_run)
        entity = "purchase_order_receipt"
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                rows = list(ns.suiteql(self.query()))
                orders: dict[str, list[Mapping[str, str]]] = defaultdict(list)
                for row in rows:
                    orders[str(row["order_id"])].append(row)
                complete = {
                    oid: lines
                    for oid, lines in orders.items()
                    if all(
                        Decimal(ln.get("received") or 0) >= Decimal(ln.get("quantity") or 0) for ln in lines
                    )
                }
                run.notes.update(orders=len(orders), fully_received=len(complete))
                if dry:
                    return
                writeback = ErrorWriteBack(ns, run, target=self._table().error_writeback)
                for oid, lines in complete.items():
                    received: dict[str, Decimal] = defaultdict(Decimal)
                    for ln in lines:
                        received[str(ln.get("sku"))] += Decimal(ln.get("received") or 0)
                    cid = str(lines[0][self.consignment_field])
                    digest = ",".join(f"{k}={v}" for k, v in sorted(received.items()))
                    key = run.key(entity, "netsuite", oid)
                    with writeback.around(
                        key, record_type=self.record_type, order_id=oid, current=current_error(lines[0])
                    ):
                        run.process(
                            key,
                            payload_hash=hashlib.sha256(f"{cid}|{digest}".encode()).hexdigest(),
                            send=functools.partial(
                                self._receive, xs, run, str(lines[0].get("tranid") or oid), cid, received
                            ),
                            target_system="xseries",
                            trace_key=str(lines[0].get("tranid") or oid),
                        )
            finally:
                ns.close()
        run.notes["xseries_calls"] = xs.calls

    def _receive(
        self,
        xs: XSeriesHook,
        run: SyncRun,
        tran_id: str,
        cid: str,
        received: Mapping[str, Any],
        decision: Decision,
    ) -> str:
        from decimal import Decimal

        from po_sync.exceptions import RecordValidationError

        cons = xs.consignment(cid)
        if cons is None:
            raise RecordError(
                f"{tran_id}: consignment {cid} no longer exists in X-Series", code="CONSIGNMENT_DELETED"
            )
        if cons.status == "RECEIVED":
            return cid
        if cons.status == "CANCELLED":
            raise RecordError(
                f"{tran_id}: consignment {cid} was cancelled in X-Series", code="CONSIGNMENT_CANCELLED"
            )
        current = {ln.product_sku: ln for ln in xs.consignment_products(cid)}
        items = []
        for sku, count in received.items():
            line = current.get(sku)
            if line is None:
                raise RecordValidationError(
                    f"{tran_id}: item {sku!r} was received in NetSuite but is not on consignment {cid}",
                    code="UNKNOWN_SKU",
                )
            if count < 0:
                raise RecordValidationError(
                    f"{tran_id}: item {sku} received count {count} is negative", code="BAD_QUANTITY"
                )
            delta = count - (line.received or Decimal(0))
            if delta < 0:
                raise RecordValidationError(
                    f"{tran_id}: item {sku} has {line.received} received in X-Series, more than NetSuite's {count}",
                    code="BAD_QUANTITY",
                )
            if delta:
                items.append({"product_id": line.product_id, "received": str(delta)})
        if not any(count for count in received.values()):
            raise RecordValidationError(f"{tran_id}: nothing was received", code="NOTHING_RECEIVED")
        if items:
            xs.bulk_products(cid, items)
            CRASH_RECEIVED.hit()
        xs.update_consignment(cid, {"status": "RECEIVED"})
        CRASH_RECEIVED_STATUS.hit()
        return cid
