"""Pure mapping between NetSuite orders and X-Series consignments (no I/O).

- :func:`order_lines` groups SuiteQL line rows into one :class:`OrderPlan` per NetSuite order;
- :func:`consignment_body` / :func:`line_changes` say what to send to X-Series for a plan, given the
  consignment's current lines (computed from a fresh read, because bulk counts accumulate);
- :func:`purchase_order_body` turns a POS-created SUPPLIER consignment into a NetSuite PO;
- :func:`version_cursor` / :func:`cursor_version` keep X-Series' integer version cursor in the ledger's
  timestamp cursor column (one microsecond per version: monotonic and exact).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from po_sync.exceptions import RecordValidationError
from po_sync.xseries.models import Consignment, ConsignmentProduct

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: External id prefix of NetSuite orders created from POS consignments (one per consignment, ever).
EXTERNAL_ID_PREFIX = "VEND-"


@dataclass(frozen=True)
class PlanLine:
    sku: str
    quantity: Decimal
    rate: Decimal
    line_id: str


@dataclass
class OrderPlan:
    """A NetSuite order as X-Series should hold it.

    :param order_id: NetSuite internal id.
    :param tran_id: the document number (``PO000012``), the consignment's ``reference``.
    :param location_id: receiving location (PO) or destination (transfer order).
    :param source_location_id: the shipping location of a transfer order.
    :param consignment_id: the custom body field holding the consignment id, when set.
    :param lines: the order's lines.
    """

    order_id: str
    tran_id: str
    location_id: str | None
    source_location_id: str | None = None
    consignment_id: str | None = None
    status: str | None = None
    external_id: str | None = None
    lines: list[PlanLine] = field(default_factory=list)

    def payload_hash(self) -> str:
        """Hash of what X-Series gets (lines by SKU, outlet): unchanged orders are skipped."""
        body = {
            "tran_id": self.tran_id,
            "location": self.location_id,
            "source": self.source_location_id,
            "lines": sorted((ln.sku, str(ln.quantity), str(ln.rate)) for ln in self.lines),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _dec(value: Any, *, what: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise RecordValidationError(f"{what} is not a number: {value!r}", code="BAD_NUMBER") from None
    return result


def order_lines(rows: Iterable[Mapping[str, str]], *, consignment_field: str, record: str) -> list[OrderPlan]:
    """Group SuiteQL rows (``order_id, tranid, location, transferlocation, status, <field>, sku, quantity,
    rate, line_id``) into plans, in row order."""
    plans: dict[str, OrderPlan] = {}
    for row in rows:
        oid = str(row["order_id"])
        plan = plans.get(oid)
        if plan is None:
            plan = plans[oid] = OrderPlan(
                order_id=oid,
                tran_id=str(row.get("tranid") or oid),
                location_id=row.get("location"),
                source_location_id=row.get("source_location"),
                consignment_id=row.get(consignment_field) or None,
                status=row.get("status"),
                external_id=row.get("externalid"),
            )
        if row.get("sku") is None:
            continue
        plan.lines.append(
            PlanLine(
                sku=str(row["sku"]),
                quantity=_dec(
                    row.get("quantity") or 0,
                    what=f"{record} {plan.tran_id} line {row.get('line_id')} quantity",
                ),
                rate=_dec(
                    row.get("rate") or 0, what=f"{record} {plan.tran_id} line {row.get('line_id')} rate"
                ),
                line_id=str(row.get("line_id")),
            )
        )
    return list(plans.values())


def check_plan(plan: OrderPlan, *, products: Mapping[str, str], outlet_id: str | None, record: str) -> None:
    """Bad input is named: unknown SKU, negative or zero counts, an unmapped location."""
    if outlet_id is None:
        raise RecordValidationError(
            f"{record} {plan.tran_id}: location {plan.location_id} has no X-Series outlet in the settings table",
            code="UNMAPPED_OUTLET",
            record_id=plan.order_id,
        )
    if not plan.lines:
        raise RecordValidationError(
            f"{record} {plan.tran_id} has no item lines", code="NO_LINES", record_id=plan.order_id
        )
    for line in plan.lines:
        if line.sku not in products:
            raise RecordValidationError(
                f"{record} {plan.tran_id} line {line.line_id}: item {line.sku!r} has no X-Series product with that SKU",
                code="UNKNOWN_SKU",
                record_id=plan.order_id,
            )
        if line.quantity <= 0:
            raise RecordValidationError(
                f"{record} {plan.tran_id} line {line.line_id}: quantity {line.quantity} must be positive",
                code="BAD_QUANTITY",
                record_id=plan.order_id,
            )
        if line.rate < 0:
            raise RecordValidationError(
                f"{record} {plan.tran_id} line {line.line_id}: rate {line.rate} must not be negative",
                code="BAD_RATE",
                record_id=plan.order_id,
            )


def desired_counts(plan: OrderPlan, products: Mapping[str, str]) -> dict[str, tuple[Decimal, Decimal]]:
    """``{product_id: (count, cost)}``; lines of one SKU add up."""
    wanted: dict[str, tuple[Decimal, Decimal]] = {}
    for line in plan.lines:
        pid = products[line.sku]
        count, _ = wanted.get(pid, (Decimal(0), line.rate))
        wanted[pid] = (count + line.quantity, line.rate)
    return wanted


@dataclass
class LineChanges:
    """What to send so the consignment's lines match the plan.

    :param bulk: new products (one bulk call: counts accumulate from zero).
    :param set_counts: products whose count or cost changed (PUT with the absolute value: a retry is safe).
    :param remove: products no longer on the order.
    """

    bulk: list[dict[str, Any]] = field(default_factory=list)
    set_counts: dict[str, dict[str, str]] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.bulk or self.set_counts or self.remove)


def line_changes(
    wanted: Mapping[str, tuple[Decimal, Decimal]], current: Sequence[ConsignmentProduct]
) -> LineChanges:
    """Compare the plan with the consignment's live lines."""
    have = {line.product_id: line for line in current if not line.deleted_at}
    changes = LineChanges()
    for pid, (count, cost) in wanted.items():
        line = have.get(pid)
        if line is None:
            changes.bulk.append({"product_id": pid, "count": str(count), "cost": str(cost)})
        elif (line.count or Decimal(0)) != count or (line.cost is not None and line.cost != cost):
            changes.set_counts[pid] = {"count": str(count), "cost": str(cost)}
    changes.remove = [pid for pid in have if pid not in wanted]
    return changes


def consignment_body(
    plan: OrderPlan, *, outlet_id: str, kind: str, source_outlet_id: str | None = None
) -> dict[str, Any]:
    """The ``POST /consignments`` body for a plan (``reference`` = the NetSuite document number)."""
    body: dict[str, Any] = {
        "type": kind,
        "status": "OPEN",
        "outlet_id": outlet_id,
        "reference": plan.tran_id,
        "name": f"NetSuite {'PO' if kind == 'SUPPLIER' else 'TO'} {plan.tran_id}",
    }
    if source_outlet_id:
        body["source_outlet_id"] = source_outlet_id
    return body


def purchase_order_body(
    consignment: Consignment,
    lines: Sequence[ConsignmentProduct],
    *,
    location_id: str,
    vendor_id: str,
    items: Mapping[str, str],
    consignment_field: str,
    synced_field: str,
) -> dict[str, Any]:
    """A NetSuite PO for a SUPPLIER consignment created in the POS (upserted by external id)."""
    item_lines = []
    for line in lines:
        sku = line.product_sku or ""
        if sku not in items:
            raise RecordValidationError(
                f"consignment {consignment.id}: product {sku or line.product_id!r} has no NetSuite item with that name",
                code="UNKNOWN_SKU",
                record_id=consignment.id,
            )
        count = line.count or Decimal(0)
        if count <= 0:
            raise RecordValidationError(
                f"consignment {consignment.id}: product {sku} count {count} must be positive",
                code="BAD_QUANTITY",
                record_id=consignment.id,
            )
        item_lines.append(
            {"item": {"id": items[sku]}, "quantity": float(count), "rate": float(line.cost or 0)}
        )
    if not item_lines:
        raise RecordValidationError(
            f"consignment {consignment.id} has no products", code="NO_LINES", record_id=consignment.id
        )
    return {
        "entity": {"id": vendor_id},
        "location": {"id": location_id},
        "memo": f"X-Series order {consignment.reference or consignment.id}",
        "item": {"items": item_lines},
        consignment_field: consignment.id,
        synced_field: True,
    }


def external_id(consignment_id: str) -> str:
    """NetSuite external id of the order made from a consignment (letters, digits and ``-``)."""
    return f"{EXTERNAL_ID_PREFIX}{consignment_id}"


def version_cursor(version: int) -> datetime:
    """An X-Series version as a ledger cursor value (exact and order-preserving)."""
    return EPOCH + timedelta(microseconds=int(version))


def cursor_version(value: datetime | None) -> int:
    """The X-Series version a ledger cursor value holds (0 = from the beginning)."""
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
