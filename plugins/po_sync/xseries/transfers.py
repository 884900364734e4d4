"""Operators of ``vend_transfer_order_sync`` and the transfer-order half of ``vend_item_receipt_sync``.

The proposal's "Transfer orders sync" (``reference/external-systems.md`` §1.3 for the OUTLET state
machine ``OPEN -> SENT -> RECEIVED``), with the ledger rules of the purchase-order flow:

- a NetSuite transfer order (approved: Pending Fulfillment, Partially Fulfilled, Pending Receipt) is one
  ``sync_record`` (``transfer_order`` / ``netsuite`` / internal id) whose target is the OUTLET
  consignment from the outlet mapped from ``location`` (``source_outlet_id``) to the one mapped from
  ``transferLocation`` (``outlet_id``); the consignment id is also written to the order's
  ``custbody_vend_consignment_id``, and a rerun after a crash between ``POST /consignments`` and the
  ledger finds the consignment by ``reference`` (the TO number) instead of creating a second one;
- lines follow NetSuite while the consignment is OPEN (after SENT the goods are on the road: a change is
  a failure naming the order, not a silent edit); a TO deleted in NetSuite deletes an OPEN consignment;
- an OUTLET consignment made in the POS (OPEN or SENT) becomes one NetSuite transfer order, ever:
  upserted by external id ``VEND-<consignment id>``, with the consignment id and the "synced" box;
- a transfer order counts as received when its item receipts add up to every line's quantity; then the
  consignment goes SENT (if still OPEN: OUTLET consignments take ``received`` only while SENT), its
  lines get their ``received`` counts in one bulk call, and it goes RECEIVED — only then;
- the outlet <-> location map is the X-Series settings table (:func:`load_settings_table`: the
  ``po_sync_xseries`` Variable); an unmapped outlet or location quarantines that order, named.

Crash points (:func:`po_sync.faults.maybe_crash`) follow every X-Series and NetSuite write.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from po_sync import faults
from po_sync.exceptions import RecordError, RecordValidationError
from po_sync.faults import maybe_crash
from po_sync.ledger import Action, Decision, RecordStatus
from po_sync.sync import SyncRun, as_bool
from po_sync.validation import suiteql_string
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
    version_cursor,
)
from po_sync.xseries.operators import (
    PULL_CURSOR,
    _netsuite,
    _xseries,
    _XSeriesOrderOperator,
    item_ids_by_sku,
    targets_of,
)
from po_sync.xseries.settings import VARIABLE_KEY, OutletMap, XSeriesSettingsTable, load_settings_table

if TYPE_CHECKING:
    from airflow.sdk import Context

    from po_sync.netsuite import NetSuiteHook
    from po_sync.xseries.hook import XSeriesHook
    from po_sync.xseries.models import Consignment, ConsignmentProduct

TRANSFER_FLOW = "vend_transfer_order_sync"
for _point, _after in (
    ("after_consignment_create", "an OUTLET consignment created"),
    ("after_consignment_lines", "a consignment's lines written (one bulk call)"),
    ("after_to_field", "the consignment id stored on the transfer order"),
    ("after_consignment_delete", "a consignment deleted (its TO deleted in NetSuite)"),
    ("after_netsuite_to", "a NetSuite transfer order made from a POS transfer"),
):
    faults.declare(TRANSFER_FLOW, _point, _after, legacy=True)
faults.declare_ledger_points(TRANSFER_FLOW)
#: Approved transfer orders not yet received: Pending Fulfillment, Partially Fulfilled,
#: Pending Receipt/Partially Fulfilled, Pending Receipt.
OPEN_TRANSFER_STATUSES = ("B", "D", "E", "F")
#: OUTLET consignments made in the POS that NetSuite takes (the proposal reads OPEN; SENT ones too,
#: since staff often send a transfer the moment they make it).
POS_TRANSFER_STATUSES = ("OPEN", "SENT")
#: How many quarantined or failed POS transfers one run looks at again (fixed outlet map, fixed item).
RETRY_LIMIT = 100
_UUID_RE = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def transfer_order_query(consignment_field: str, *, order_id: str | None = None) -> str:
    """SuiteQL of approved transfer orders' item lines (``location`` ships, ``transferLocation``
    receives); ``order_id`` narrows it to one order."""
    statuses = ", ".join(suiteql_string(s) for s in OPEN_TRANSFER_STATUSES)
    one = f"AND t.id = {int(order_id)} " if order_id is not None else ""
    return (
        "SELECT t.id AS order_id, t.tranid AS tranid, t.location AS source_location, "
        "t.transferlocation AS location, t.status AS status, t.externalid AS externalid, "
        f"t.{consignment_field} AS {consignment_field}, "
        "tl.id AS line_id, i.itemid AS sku, tl.quantity AS quantity, tl.rate AS rate "
        "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
        "LEFT JOIN item i ON i.id = tl.item "
        f"WHERE t.type = 'TrnfrOrd' AND t.status IN ({statuses}) {one}AND tl.mainline = 'F' "
        "AND tl.taxline = 'F' ORDER BY t.id, tl.id"
    )


def check_transfer(plan: OrderPlan, outlets: OutletMap) -> tuple[str, str]:
    """``(source outlet id, destination outlet id)`` of a TO; an unmapped side quarantines it, named."""
    source = outlets.outlet(plan.source_location_id)
    destination = outlets.outlet(plan.location_id)
    for side, location, outlet in (
        ("from location", plan.source_location_id, source),
        ("to location", plan.location_id, destination),
    ):
        if outlet is None:
            raise RecordValidationError(
                f"TO {plan.tran_id}: {side} {location} has no X-Series outlet in the settings table",
                code="UNMAPPED_OUTLET",
                record_id=plan.order_id,
            )
    assert source is not None and destination is not None
    if source == destination:
        raise RecordValidationError(
            f"TO {plan.tran_id}: from location {plan.source_location_id} and to location {plan.location_id} "
            f"map to the same outlet {source}",
            code="SAME_OUTLET",
            record_id=plan.order_id,
        )
    return source, destination


def transfer_order_body(
    consignment: Consignment,
    lines: Sequence[ConsignmentProduct],
    *,
    source_location_id: str,
    location_id: str,
    items: Mapping[str, str],
    consignment_field: str,
    synced_field: str,
    subsidiary_id: str | None = None,
) -> dict[str, Any]:
    """A NetSuite transfer order for an OUTLET consignment made in the POS (upserted by external id)."""
    item_lines = []
    for line in lines:
        sku = line.product_sku or ""
        if sku not in items:
            raise RecordValidationError(
                f"transfer {consignment.id}: product {sku or line.product_id!r} has no NetSuite item with that name",
                code="UNKNOWN_SKU",
                record_id=consignment.id,
            )
        count = line.count or Decimal(0)
        if count <= 0:
            raise RecordValidationError(
                f"transfer {consignment.id}: product {sku} count {count} must be positive",
                code="BAD_QUANTITY",
                record_id=consignment.id,
            )
        item_lines.append(
            {"item": {"id": items[sku]}, "quantity": float(count), "rate": float(line.cost or 0)}
        )
    if not item_lines:
        raise RecordValidationError(
            f"transfer {consignment.id} has no products", code="NO_LINES", record_id=consignment.id
        )
    body: dict[str, Any] = {
        "location": {"id": source_location_id},
        "transferLocation": {"id": location_id},
        "memo": f"X-Series transfer {consignment.reference or consignment.name or consignment.id}",
        "item": {"items": item_lines},
        consignment_field: consignment.id,
        synced_field: True,
    }
    if subsidiary_id:
        body["subsidiary"] = {"id": subsidiary_id}
    return body


class _TransferOperator(_XSeriesOrderOperator):
    """Shared arguments of the transfer-order operators.

    :param variable_key: the Airflow Variable with the settings table (read when ``settings`` is None).
    """

    def __init__(self, *, variable_key: str = VARIABLE_KEY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variable_key = variable_key

    def _table(self) -> XSeriesSettingsTable:
        return load_settings_table(self.settings, variable_key=self.variable_key)


# ==================================================================================================
# Transfer orders: NetSuite -> X-Series
# ==================================================================================================


class VendTransferOrderPushOperator(_TransferOperator):
    """NetSuite transfer orders (approved, not yet received) -> OUTLET consignments.

    One ``POST /consignments`` and one bulk call per new TO; lines added, changed or removed while the
    consignment is OPEN; an OPEN consignment deleted when its TO is deleted in NetSuite. The
    consignment id is kept in the ledger and on the TO (``consignment_field``).

    :param netsuite_conn_id: the NetSuite connection.
    :param xseries_conn_id: the X-Series connection.
    :param settings: the settings table; None = the ``variable_key`` Variable.
    :param resync_numbers: TO numbers or internal ids to send again even if unchanged; templated.
    :param dry_run: read and map only; templated.
    """

    def query(self) -> str:
        """Approved transfer orders' item lines (``location`` ships, ``transferLocation`` receives)."""
        return transfer_order_query(self.consignment_field)

    def sync(self, context: Context, run: SyncRun) -> None:
        resync = set(self._resync())
        table = self._table()
        dry = as_bool(self.is_dry_run)
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                outlets = table.resolve((o.id, o.name) for o in xs.outlets())
                products = {p.sku: p.id for p in xs.products() if not p.deleted_at and not p.is_composite}
                plans = order_lines(
                    ns.suiteql(self.query()), consignment_field=self.consignment_field, record="TO"
                )
                run.notes["transfer_orders"] = len(plans)
                if dry:
                    return
                for plan in plans:
                    run.process(
                        run.key("transfer_order", "netsuite", plan.order_id),
                        payload_hash=plan.payload_hash(),
                        send=functools.partial(
                            self._push, xs, ns, run, plan, outlets=outlets, products=products
                        ),
                        target_system="xseries",
                        trace_key=plan.tran_id,
                        force=plan.order_id in resync or plan.tran_id in resync,
                    )
                self._deletions(xs, ns, run, {p.order_id for p in plans})
            finally:
                ns.close()
        run.notes["xseries_calls"] = xs.calls

    @staticmethod
    def _find_by_reference(xs: XSeriesHook, plan: OrderPlan, outlet_id: str) -> Consignment | None:
        """After a crash between create and ledger: the consignment this TO already has."""
        for cons, _version in xs.consignments_changed(type="OUTLET", outlet_id=outlet_id):
            if cons.reference == plan.tran_id and not cons.deleted_at and cons.type == "OUTLET":
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
        source, destination = check_transfer(plan, outlets)
        check_plan(plan, products=products, outlet_id=destination, record="TO")
        wanted = desired_counts(plan, products)
        known = (decision.previous.target_id if decision.previous else None) or plan.consignment_id
        cons = xs.consignment(known) if known else None
        if known and cons is None:
            raise RecordError(
                f"TO {plan.tran_id}: its consignment {known} was deleted in X-Series; not recreated",
                code="CONSIGNMENT_DELETED",
                record_id=plan.order_id,
            )
        if cons is None and decision.previous is not None:
            # an earlier attempt may have made it: one that crashed before the ledger heard
            # (RESUME), or a create whose answer was lost (dropped connection, timeout) and failed
            # (RETRY). POST is not idempotent: look before creating again.
            cons = self._find_by_reference(xs, plan, destination)
        fresh = cons is None
        if cons is None:
            cons = xs.create_consignment(
                consignment_body(plan, outlet_id=destination, kind="OUTLET", source_outlet_id=source)
            )
            faults.hit(run.flow, "after_consignment_create")
        elif cons.outlet_id != destination or cons.source_outlet_id != source:
            raise RecordError(
                f"TO {plan.tran_id}: consignment {cons.id} moves stock from outlet {cons.source_outlet_id} to "
                f"{cons.outlet_id}, the TO now from {source} to {destination}; X-Series cannot change the "
                "outlets of a consignment",
                code="CONSIGNMENT_OUTLET_CHANGED",
                record_id=plan.order_id,
            )
        current = [] if fresh else xs.consignment_products(cons.id)
        changes = line_changes(wanted, current)
        if changes and cons.status != "OPEN":
            raise RecordError(
                f"TO {plan.tran_id}: consignment {cons.id} is {cons.status} in X-Series; line changes after "
                "the transfer was sent are not synced",
                code="CONSIGNMENT_LOCKED",
                record_id=plan.order_id,
            )
        if changes.bulk:
            xs.bulk_products(cons.id, changes.bulk)
            faults.hit(run.flow, "after_consignment_lines")
        for pid, values in changes.set_counts.items():
            xs.request("PUT", f"/consignments/{cons.id}/products/{pid}", json_body={"data": values})
        for pid in changes.remove:
            xs.delete_consignment_product(cons.id, pid)
        if plan.consignment_id != cons.id:
            ns.update_record(
                "transferOrder", plan.order_id, {self.consignment_field: cons.id}, idempotent=True
            )
            faults.hit(run.flow, "after_to_field")
        return cons.id

    def _deletions(self, xs: XSeriesHook, ns: NetSuiteHook, run: SyncRun, present: set[str]) -> None:
        """TOs this flow synced that NetSuite no longer has: delete their consignments (OPEN only)."""
        synced = targets_of(run, flow=run.flow, entity_type="transfer_order")
        candidates = sorted(set(synced) - present, key=lambda s: int(s) if s.isdigit() else 0)
        if not candidates:
            return
        existing: set[str] = set()
        for start in range(0, len(candidates), 500):
            ids = ", ".join(c for c in candidates[start : start + 500] if c.isdigit()) or "-1"
            rows = ns.suiteql(
                f"SELECT id FROM transaction WHERE type = 'TrnfrOrd' AND id IN ({ids}) ORDER BY id"
            )
            existing.update(str(r["id"]) for r in rows)
        for to_id in candidates:
            if to_id in existing:
                continue  # received or closed, not deleted
            cid = synced[to_id]

            def delete(decision: Decision, cid: str = cid, to_id: str = to_id) -> str:
                cons = xs.consignment(cid)
                if cons is None:
                    return cid  # already gone (a rerun after a crash, or deleted in the POS)
                if cons.status != "OPEN":
                    raise RecordError(
                        f"transfer order {to_id} was deleted in NetSuite but consignment {cid} is "
                        f"{cons.status} in X-Series (goods have moved): not deleted",
                        code="CONSIGNMENT_LOCKED",
                        record_id=to_id,
                    )
                xs.delete_consignment(cid)
                faults.hit(run.flow, "after_consignment_delete")
                return cid

            run.process(
                run.key("transfer_order_deletion", "netsuite", to_id),
                payload_hash=f"deleted:{cid}",
                send=delete,
                target_system="xseries",
            )


# ==================================================================================================
# Transfer orders: X-Series -> NetSuite
# ==================================================================================================


class VendOutletTransferPullOperator(_TransferOperator):
    """OUTLET consignments made in the POS (OPEN or SENT) -> NetSuite transfer orders, once each.

    Reads the consignment change feed after the version kept in the ledger cursor (moved only by a
    completed run, never past a record that failed for a transient reason), and looks again at up to
    :data:`RETRY_LIMIT` transfers an earlier run quarantined or failed (the outlet map or an item may
    have been fixed since). Skips consignments made from NetSuite TOs (the push's ledger records, or a
    ``reference`` that is a NetSuite TO number).

    :param push_flow: the flow whose ledger records mark consignments made from NetSuite TOs.
    """

    def __init__(self, *, push_flow: str = TRANSFER_FLOW, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_flow = push_flow

    def sync(self, context: Context, run: SyncRun) -> None:
        table = self._table()
        dry = as_bool(self.is_dry_run)
        after = cursor_version(run.ledger.get_cursor(run.flow, PULL_CURSOR))
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                if not dry:  # a crashed run's POS transfers, whose TO NetSuite may already hold
                    pulled.settle_interrupted(
                        run,
                        ns,
                        xs,
                        record_type="transferOrder",
                        takes=lambda c: self._wanted(c, set()),
                        link=functools.partial(self._link, ns, run),
                        log=self.log,
                    )
                ours = set(targets_of(run, flow=self.push_flow, entity_type="transfer_order").values())
                outlets = table.resolve((o.id, o.name) for o in xs.outlets())
                send = functools.partial(self._pull, xs, ns, run, table=table, outlets=outlets)
                top = after
                hold: int | None = None
                seen: set[str] = set()
                for cons, version in xs.consignments_changed(after=after, type="OUTLET"):
                    top = max(top, version)
                    seen.add(cons.id)
                    if not self._wanted(cons, ours) or dry:
                        continue
                    key = run.key("consignment", "xseries", cons.id)
                    action = run.process(
                        key,
                        payload_hash="created",  # once: a created TO is never sent again
                        send=functools.partial(send, cons),
                        target_system="netsuite",
                        trace_key=cons.reference or cons.id,
                    )
                    state = run.ledger.get(key)
                    if action is Action.BUSY or (state is not None and state.status is RecordStatus.FAILED):
                        hold = version - 1 if hold is None else min(hold, version - 1)
                if not dry:
                    self._retry_earlier(xs, run, send, ours, seen)
                target = top if hold is None else min(top, hold)
                run.notes["cursor_version"] = target
                if target > after and not dry:
                    run.advance_cursor_on_completion(version_cursor(target), cursor_key=PULL_CURSOR)
            finally:
                ns.close()
        run.notes["xseries_calls"] = xs.calls

    @staticmethod
    def _wanted(cons: Consignment, ours: set[str]) -> bool:
        return (
            cons.type == "OUTLET"
            and cons.status in POS_TRANSFER_STATUSES
            and not cons.deleted_at
            and cons.id not in ours
        )

    def _retry_earlier(
        self, xs: XSeriesHook, run: SyncRun, send: Any, ours: set[str], seen: set[str]
    ) -> None:
        """POS transfers an earlier run quarantined or failed, read again (the feed will not repeat them)."""
        earlier = run.ledger.find(
            run.flow,
            statuses=(RecordStatus.QUARANTINED, RecordStatus.FAILED),
            entity_type="consignment",
            limit=RETRY_LIMIT,
        )
        for state in earlier:
            cid = state.key.source_id
            if cid in seen or not _UUID_RE.fullmatch(cid):
                continue
            cons = xs.consignment(cid)
            if cons is None or not self._wanted(cons, ours):
                continue
            run.process(
                run.key("consignment", "xseries", cid),
                payload_hash="created",
                send=functools.partial(send, cons),
                target_system="netsuite",
                trace_key=cons.reference or cid,
            )

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
    ) -> str:
        name = cons.reference or cons.name or cons.id
        source = outlets.location(cons.source_outlet_id)
        destination = outlets.location(cons.outlet_id)
        for side, outlet, location in (
            ("source outlet", cons.source_outlet_id, source),
            ("destination outlet", cons.outlet_id, destination),
        ):
            if location is None:
                raise RecordValidationError(
                    f"transfer {name} (consignment {cons.id}): {side} {outlet} has no NetSuite location "
                    "in the settings table",
                    code="UNMAPPED_OUTLET",
                    record_id=cons.id,
                )
        assert source is not None and destination is not None
        if _UUID_RE.fullmatch(cons.id) is None:
            raise RecordValidationError(f"consignment id {cons.id!r} is not an id", code="BAD_ID")
        # made from a NetSuite TO (its number is the reference) or pulled before a crash: not again
        made = pulled.order_already_in_netsuite(
            ns,
            cons,
            transaction_type="TrnfrOrd",
            consignment_field=self.consignment_field,
            what=f"transfer {name}",
            link=functools.partial(self._link, ns, run),
        )
        if made is not None:
            return made
        lines = xs.consignment_products(cons.id)
        items = item_ids_by_sku(ns, lines)
        body = transfer_order_body(
            cons,
            lines,
            source_location_id=source,
            location_id=destination,
            items=items,
            consignment_field=self.consignment_field,
            synced_field=self.synced_field,
        )
        result = ns.upsert_record("transferOrder", external_id(cons.id), body)
        faults.hit(run.flow, "after_netsuite_to")
        self._link(ns, run, result.id, cons.id)
        return result.id

    def _link(self, ns: NetSuiteHook, run: SyncRun, to_id: str, consignment_id: str) -> None:
        """Record the new TO on the push side too (target = its consignment, hash of what NetSuite now
        holds), so the push's next run finds it unchanged instead of syncing it a second time. Best
        effort: without it, the push records the pair itself on its next run (nothing is sent)."""
        if self.push_flow != run.flow:
            return
        plans = order_lines(
            ns.suiteql(transfer_order_query(self.consignment_field, order_id=to_id)),
            consignment_field=self.consignment_field,
            record="TO",
        )
        for plan in plans:
            run.process(
                run.key("transfer_order", "netsuite", plan.order_id),
                payload_hash=plan.payload_hash(),
                send=lambda decision: consignment_id,
                target_system="xseries",
                trace_key=plan.tran_id,
            )


# ==================================================================================================
# Item receipts of transfer orders: NetSuite -> X-Series
# ==================================================================================================


class VendTransferReceiptSyncOperator(_TransferOperator):
    """When every item receipt of a transfer order exists in NetSuite, receive its OUTLET consignment.

    Received means: for each item, the TO's receipts add up to its quantity (a partial receipt waits).
    Then, respecting the OUTLET state machine, the consignment goes SENT if it is still OPEN, its lines
    get the ``received`` counts a fresh read says are missing (one bulk call: counts accumulate), and it
    goes RECEIVED. A rerun after a crash between the writes reads again and finishes the rest.
    """

    def order_query(self) -> str:
        """Lines of transfer orders that carry a consignment id."""
        return (
            "SELECT t.id AS order_id, t.tranid AS tranid, t.status AS status, "
            f"t.{self.consignment_field} AS {self.consignment_field}, tl.id AS line_id, i.itemid AS sku, "
            "tl.quantity AS quantity FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
            "LEFT JOIN item i ON i.id = tl.item "
            f"WHERE t.type = 'TrnfrOrd' AND t.{self.consignment_field} IS NOT NULL "
            "AND t.status NOT IN ('A', 'C') AND tl.mainline = 'F' AND tl.taxline = 'F' ORDER BY t.id, tl.id"
        )

    def receipt_query(self) -> str:
        """What the item receipts of those transfer orders received, per order and item."""
        return (
            "SELECT r.createdfrom AS order_id, i.itemid AS sku, SUM(rl.quantity) AS received "
            "FROM transaction r JOIN transactionline rl ON rl.transaction = r.id "
            "JOIN transaction t ON t.id = r.createdfrom LEFT JOIN item i ON i.id = rl.item "
            f"WHERE r.type = 'ItemRcpt' AND t.type = 'TrnfrOrd' AND t.{self.consignment_field} IS NOT NULL "
            "AND rl.mainline = 'F' AND rl.taxline = 'F' "
            "GROUP BY r.createdfrom, i.itemid ORDER BY r.createdfrom, i.itemid"
        )

    def sync(self, context: Context, run: SyncRun) -> None:
        dry = as_bool(self.is_dry_run)
        with _xseries(self.xseries_conn_id) as xs:
            ns = _netsuite(self.netsuite_conn_id)
            try:
                orders: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
                for row in ns.suiteql(self.order_query()):
                    orders[str(row["order_id"])].append(row)
                received: dict[str, dict[str, Decimal]] = defaultdict(dict)
                for row in ns.suiteql(self.receipt_query()):
                    received[str(row["order_id"])][str(row.get("sku"))] = Decimal(
                        str(row.get("received") or 0)
                    )
                complete = {
                    oid: lines for oid, lines in orders.items() if self._complete(lines, received[oid])
                }
                run.notes.update(transfer_orders=len(orders), fully_received=len(complete))
                if dry:
                    return
                for oid, lines in complete.items():
                    tran_id = str(lines[0].get("tranid") or oid)
                    cid = str(lines[0][self.consignment_field])
                    got = received[oid]
                    digest = ",".join(f"{k}={v}" for k, v in sorted(got.items()))
                    run.process(
                        run.key("transfer_order_receipt", "netsuite", oid),
                        payload_hash=hashlib.sha256(f"{cid}|{digest}".encode()).hexdigest(),
                        send=functools.partial(self._receive, xs, run, tran_id, cid, lines, got),
                        target_system="xseries",
                        trace_key=tran_id,
                    )
            finally:
                ns.close()
        run.notes["xseries_calls"] = xs.calls

    @staticmethod
    def _ordered(lines: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
        ordered: dict[str, Decimal] = defaultdict(Decimal)
        for ln in lines:
            ordered[str(ln.get("sku"))] += Decimal(str(ln.get("quantity") or 0))
        return ordered

    def _complete(self, lines: Sequence[Mapping[str, Any]], got: Mapping[str, Decimal]) -> bool:
        """Every item's receipts add up to its quantity (bad quantities are left to :meth:`_receive`)."""
        if not got:
            return False
        ordered = self._ordered(lines)
        if any(q <= 0 for q in ordered.values()):
            return True  # not receivable as it stands: let _receive quarantine it by name
        return all(got.get(sku, Decimal(0)) >= q for sku, q in ordered.items())

    def _receive(
        self,
        xs: XSeriesHook,
        run: SyncRun,
        tran_id: str,
        cid: str,
        lines: Sequence[Mapping[str, Any]],
        got: Mapping[str, Decimal],
        decision: Decision,
    ) -> str:
        for ln in lines:
            quantity = Decimal(str(ln.get("quantity") or 0))
            if quantity <= 0:
                raise RecordValidationError(
                    f"TO {tran_id} line {ln.get('line_id')}: item {ln.get('sku')} quantity {quantity} must be positive",
                    code="BAD_QUANTITY",
                )
        for sku, count in got.items():
            if count < 0:
                raise RecordValidationError(
                    f"TO {tran_id}: item {sku} received count {count} is negative", code="BAD_QUANTITY"
                )
        cons = xs.consignment(cid)
        if cons is None:
            raise RecordError(
                f"TO {tran_id}: consignment {cid} no longer exists in X-Series", code="CONSIGNMENT_DELETED"
            )
        if cons.type != "OUTLET":
            raise RecordValidationError(
                f"TO {tran_id}: consignment {cid} is a {cons.type} consignment, not a transfer",
                code="WRONG_TYPE",
            )
        if cons.status == "RECEIVED":
            return cid
        if cons.status == "CANCELLED":
            raise RecordError(
                f"TO {tran_id}: consignment {cid} was cancelled in X-Series", code="CONSIGNMENT_CANCELLED"
            )
        current = {ln.product_sku: ln for ln in xs.consignment_products(cid)}
        items = []
        for sku, count in sorted(got.items()):
            line = current.get(sku)
            if line is None:
                raise RecordValidationError(
                    f"TO {tran_id}: item {sku!r} was received in NetSuite but is not on consignment {cid}",
                    code="UNKNOWN_SKU",
                )
            delta = count - (line.received or Decimal(0))
            if delta < 0:
                raise RecordValidationError(
                    f"TO {tran_id}: item {sku} has {line.received} received in X-Series, more than NetSuite's {count}",
                    code="BAD_QUANTITY",
                )
            if delta:
                items.append({"product_id": line.product_id, "received": str(delta)})
        if not any(got.values()):
            raise RecordValidationError(f"TO {tran_id}: nothing was received", code="NOTHING_RECEIVED")
        if cons.status == "OPEN":  # OUTLET: OPEN -> SENT -> RECEIVED, received only while SENT
            xs.update_consignment(cid, {"status": "SENT"})
            maybe_crash(run.flow)
        if items:
            xs.bulk_products(cid, items)
            maybe_crash(run.flow)
        xs.update_consignment(cid, {"status": "RECEIVED"})
        maybe_crash(run.flow)
        return cid
