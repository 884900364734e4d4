"""NetSuite purchase orders ⇄ the canonical model, and canonical receipts/fulfilments/bills → NetSuite bodies.

Pure functions, no I/O. The SuiteQL used by the vendor flows is built here too (text only), so the
column names the mappers read sit next to the query that selects them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from po_sync.exceptions import RecordError
from po_sync.models import (
    DocumentRef,
    DocumentType,
    ItemFulfillment,
    ItemReceipt,
    ItemRef,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    RecordRef,
    VendorBill,
    normalize_decimal,
    record_validation_error,
)

# The SuiteQL literal and document-number rules live in po_sync.validation (one place for every
# check of outside values); re-exported here for the modules that import them from this one.
from po_sync.validation import (
    DOCUMENT_NUMBER_RULE,
    SAFE_IDENTIFIER_RULE,
    document_numbers_param,
    is_internal_id,
    is_safe_identifier,
    suiteql_int,
)
from po_sync.validation import suiteql_literal as sql_literal

__all__ = [
    "DOCUMENT_NUMBER_RULE",
    "SAFE_IDENTIFIER_RULE",
    "PO_COLUMNS",
    "OrderLine",
    "OrderSnapshot",
    "document_numbers_param",
    "fulfillment_body",
    "is_internal_id",
    "is_safe_identifier",
    "local_window",
    "item_receipt_body",
    "order_snapshots",
    "po_lines_query",
    "purchase_orders_from_rows",
    "sql_literal",
    "status_letters",
    "vendor_bill_body",
]

#: NetSuite currency internal ids → ISO codes (the sandbox's account has USD as id 1).
DEFAULT_CURRENCIES = {"1": "USD", "2": "GBP", "3": "CAD", "4": "EUR"}

PO_COLUMNS = (
    "t.id, t.tranid, t.status, t.externalid, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmod, "
    "TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.createdfrom, so.tranid AS sonumber, t.entity, "
    "v.entityid AS vendor, v.companyname AS vendorname, t.foreigntotal, t.currency, t.memo, "
    "tl.linesequencenumber AS line, i.itemid AS sku, tl.quantity, tl.quantityshiprecv, tl.quantitybilled, "
    "tl.rate, tl.netamount, tl.isclosed, tl.isdropship, tl.memo AS linememo, t.location"
)


@dataclass(frozen=True)
class OrderLine:
    """A PO line as NetSuite has it now."""

    line: str
    sku: str
    quantity: Decimal
    received: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    rate: Decimal = Decimal(0)
    closed: bool = False

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.received, Decimal(0))


@dataclass(frozen=True)
class OrderSnapshot:
    """A PO as the merge and import steps need it: id, vendor, drop-ship link and lines."""

    number: str
    id: str
    vendor_id: str
    lines: tuple[OrderLine, ...]
    status: str = ""
    currency: str = "USD"
    sales_order_id: str | None = None
    sales_order_number: str | None = None
    vendor_ref: str | None = None
    location: str | None = None

    @property
    def is_drop_ship(self) -> bool:
        return self.sales_order_id is not None

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line == str(line_id)), None)


def status_letters(statuses: Iterable[str]) -> list[str]:
    """NetSuite status names or letters → the letters SuiteQL's ``transaction.status`` holds."""
    return [PurchaseOrderStatus.parse(s).code for s in statuses]


#: Step at which :func:`local_window` samples the zone's UTC offset (no zone changes offset for less).
_OFFSET_STEP = timedelta(minutes=15)


def _offsets(first: datetime, last: datetime, zone: tzinfo) -> list[timedelta]:
    """The UTC offsets ``zone`` uses at the instants of ``[first, last)``."""
    found = set()
    moment = first
    while moment < last:
        found.add(moment.astimezone(zone).utcoffset())
        moment += _OFFSET_STEP
    found.add((last - timedelta(microseconds=1)).astimezone(zone).utcoffset())
    return [o for o in found if o is not None] or [timedelta(0)]


def _unclear(wall: datetime, zone: tzinfo) -> bool:
    """Whether the wall-clock time ``wall`` is repeated (autumn) or skipped (spring) in ``zone``."""
    early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return early.utcoffset() != late.utcoffset()


def local_window(
    start: datetime | None, end: datetime | None, zone: tzinfo = UTC
) -> tuple[datetime | None, datetime | None]:
    """The account-local wall-clock span (naive) that holds every instant of ``[start, end)``.

    SuiteQL compares ``lastmodifieddate`` in the account's time zone, so a UTC window must be sent as
    local times. Across a DST change the wall clock jumps (spring) or repeats an hour (autumn), so
    one instant's conversion is not enough: the local start uses the smallest UTC offset in force
    during the window and the local end the largest, and a bound that falls on a repeated or skipped
    wall-clock time (which NetSuite may read either way) moves outwards by the change. The span is
    then never narrower than the window (a PO saved near the change may be read twice: the payload
    hash makes the second one ``ignored``) and is exact when no change is near.
    """
    if start is not None:
        first, last = start, end if end is not None else start + timedelta(days=1)
    elif end is not None:
        first, last = end - timedelta(days=1), end
    else:
        return None, None
    offsets = _offsets(first, last, zone)
    shift = max(offsets) - min(offsets) or timedelta(hours=1)
    local_start = local_end = None
    if start is not None:
        local_start = (start.astimezone(UTC) + min(offsets)).replace(tzinfo=None)
        if _unclear(local_start, zone):
            local_start -= shift
    if end is not None:
        local_end = (end.astimezone(UTC) + max(offsets)).replace(tzinfo=None)
        if _unclear(local_end, zone) or _unclear(local_end - timedelta(microseconds=1), zone):
            local_end += shift
    return local_start, local_end


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def po_lines_query(
    *,
    vendor_id: str | None = None,
    statuses: Sequence[str] = (),
    modified_from: datetime | None = None,
    modified_to: datetime | None = None,
    numbers: Sequence[str] = (),
    ids: Sequence[str] = (),
    created_from: Sequence[str] = (),
    zone: tzinfo = UTC,
) -> str:
    """SuiteQL for PO lines (one row per line, PO header repeated), ordered by PO id and line.

    :param vendor_id: only this vendor (``entityId``).
    :param statuses: only these statuses (names or letters).
    :param modified_from: ``lastModifiedDate >=`` this (inclusive).
    :param modified_to: ``lastModifiedDate <`` this (exclusive).
    :param numbers: only these ``tranId`` values.
    :param ids: only these internal ids.
    :param created_from: only POs created from these sales-order ids (drop-ship siblings).
    :param zone: the account's time zone, in which SuiteQL compares datetimes (see :func:`local_window`).
    """
    where = ["t.type = 'PurchOrd'", "tl.mainline = 'F'"]
    modified_from, modified_to = local_window(modified_from, modified_to, zone)
    if vendor_id:
        where.append(f"v.entityid = {sql_literal(vendor_id)}")
    if statuses:
        where.append("t.status IN (" + ", ".join(sql_literal(s) for s in status_letters(statuses)) + ")")
    if modified_from is not None:
        where.append(f"t.lastmodifieddate >= TO_TIMESTAMP('{_ts(modified_from)}', 'YYYY-MM-DD HH24:MI:SS')")
    if modified_to is not None:
        where.append(f"t.lastmodifieddate < TO_TIMESTAMP('{_ts(modified_to)}', 'YYYY-MM-DD HH24:MI:SS')")
    if numbers:
        where.append("t.tranid IN (" + ", ".join(sql_literal(n) for n in numbers) + ")")
    if ids:
        where.append("t.id IN (" + ", ".join(suiteql_int(i) for i in ids) + ")")
    if created_from:
        where.append("t.createdfrom IN (" + ", ".join(suiteql_int(i) for i in created_from) + ")")
    return (
        f"SELECT {PO_COLUMNS} FROM transaction t "
        "JOIN transactionline tl ON tl.transaction = t.id "
        "JOIN vendor v ON v.id = t.entity "
        "JOIN item i ON i.id = tl.item "
        "LEFT JOIN transaction so ON so.id = t.createdfrom "
        "WHERE " + " AND ".join(where) + " ORDER BY t.id, tl.linesequencenumber"
    )


def _group(rows: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    groups: list[list[Mapping[str, Any]]] = []
    current: str | None = None
    for row in rows:
        if row.get("id") != current:
            groups.append([])
            current = row.get("id")
        groups[-1].append(row)
    return groups


def _lastmod(value: str | None, zone: tzinfo = UTC) -> datetime | None:
    """SuiteQL's ``lastmodifieddate`` (account-local wall clock) as an aware UTC datetime."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).astimezone(UTC)


def _date(value: str | None) -> date:
    if not value:
        raise ValueError("missing date")
    if "/" in value:  # the account's M/D/YYYY style
        month, day, year = value.split(" ")[0].split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(value[:10])


def purchase_orders_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    currencies: Mapping[str, str] = DEFAULT_CURRENCIES,
    zone: tzinfo = UTC,
) -> list[PurchaseOrder | RecordError]:
    """Group SuiteQL rows of :func:`po_lines_query` into canonical POs.

    :param zone: the account's time zone, in which SuiteQL gives ``lastmodifieddate``.

    A PO that fails validation comes back as a :class:`RecordError` (in its place) naming the PO and
    field, so one bad PO does not hide the others.
    """
    out: list[PurchaseOrder | RecordError] = []
    for group in _group(rows):
        head = group[0]
        number = str(head.get("tranid") or head.get("id"))
        try:
            lines = tuple(
                PurchaseOrderLine(
                    line_id=str(row["line"]),
                    item=ItemRef(sku=row.get("sku")),
                    description=row.get("linememo") or None,
                    quantity=Decimal(str(row.get("quantity") or 0)),
                    unit="EA",
                    rate=Decimal(str(row.get("rate") or 0)),
                    quantity_received=Decimal(str(row.get("quantityshiprecv") or 0)),
                    quantity_billed=Decimal(str(row.get("quantitybilled") or 0)),
                    is_closed=row.get("isclosed") == "T",
                )
                for row in group
            )
            created_from = None
            if head.get("createdfrom"):
                created_from = DocumentRef(
                    type=DocumentType.SALES_ORDER,
                    id=str(head["createdfrom"]),
                    number=head.get("sonumber") or None,
                )
            po = PurchaseOrder(
                source_system="netsuite",
                source_id=str(head["id"]),
                external_id=head.get("externalid") or None,
                last_modified=_lastmod(head.get("lastmod"), zone),
                number=number,
                vendor=RecordRef(id=str(head.get("entity")), name=head.get("vendor")),
                tran_date=_date(head.get("trandate")),
                status=head.get("status"),  # type: ignore[arg-type]  # validated (and named) by pydantic
                currency=currencies.get(str(head.get("currency") or "1"), "USD"),
                memo=head.get("memo") or None,
                lines=lines,
                is_drop_ship=any(row.get("isdropship") == "T" for row in group) or created_from is not None,
                created_from=created_from,
            )
        except ValidationError as exc:
            out.append(
                record_validation_error(
                    exc,
                    record=f"PO {number}",
                    source=f"purchaseOrder/{head.get('id')}",
                    source_kind="netsuite",
                    record_id=number,
                )
            )
            continue
        except (ValueError, ArithmeticError) as exc:
            out.append(
                RecordError(
                    f"PO {number} (netsuite purchaseOrder/{head.get('id')}): {exc}",
                    code="BAD_RECORD",
                    record_id=number,
                )
            )
            continue
        out.append(po)
    return out


def order_snapshots(rows: Iterable[Mapping[str, Any]]) -> dict[str, OrderSnapshot]:
    """PO snapshots (by PO number) from rows of :func:`po_lines_query`."""
    out: dict[str, OrderSnapshot] = {}
    for group in _group(rows):
        head = group[0]
        out[str(head["tranid"])] = OrderSnapshot(
            number=str(head["tranid"]),
            id=str(head["id"]),
            vendor_id=str(head.get("vendor") or ""),
            vendor_ref=str(head.get("entity") or "") or None,
            status=str(head.get("status") or ""),
            sales_order_id=str(head["createdfrom"]) if head.get("createdfrom") else None,
            sales_order_number=head.get("sonumber") or None,
            location=str(head["location"]) if head.get("location") else None,
            lines=tuple(
                OrderLine(
                    line=str(row["line"]),
                    sku=str(row.get("sku")),
                    quantity=Decimal(str(row.get("quantity") or 0)),
                    received=Decimal(str(row.get("quantityshiprecv") or 0)),
                    billed=Decimal(str(row.get("quantitybilled") or 0)),
                    rate=Decimal(str(row.get("rate") or 0)),
                    closed=row.get("isclosed") == "T",
                )
                for row in group
            ),
        )
    return out


# ------------------------------------------------------------------------------------------ writes


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(normalize_decimal(value))


def item_receipt_body(receipt: ItemReceipt, order: OrderSnapshot, *, document: str) -> dict[str, Any]:
    """The ``!transform/itemReceipt`` body: lines matched by PO line and item, checked against what remains.

    :raises RecordError: ``UNKNOWN_ITEM`` or ``OVER_RECEIPT``, naming the document, line and field.
    """
    items = []
    for index, line in enumerate(receipt.lines):
        order_line = order.line(line.order_line)
        if order_line is None or order_line.sku != line.item.sku:
            raise RecordError(
                f"{document}: lines.{index}.item = {line.item.sku!r}: not on PO {order.number} line {line.order_line}",
                code="UNKNOWN_ITEM",
            )
        if line.quantity > order_line.remaining:
            raise RecordError(
                f"{document}: lines.{index}.quantity = {normalize_decimal(line.quantity)}: PO {order.number} line "
                f"{line.order_line} ({order_line.sku}) has {normalize_decimal(order_line.remaining)} left to receive",
                code="OVER_RECEIPT",
            )
        entry: dict[str, Any] = {
            "orderLine": int(line.order_line),
            "itemReceive": True,
            "quantity": _num(line.quantity),
        }
        if line.serial_numbers:
            entry["inventoryDetail"] = {
                "inventoryAssignment": {
                    "items": [{"receiptInventoryNumber": s, "quantity": 1} for s in line.serial_numbers]
                }
            }
        items.append(entry)
    return {
        "tranDate": receipt.tran_date.isoformat(),
        "memo": receipt.memo,
        "externalId": receipt.source_id,
        "item": {"items": items},
    }


def fulfillment_body(
    fulfillment: ItemFulfillment,
    sales_order_lines: Sequence[Mapping[str, Any]],
    po_ids: Mapping[str, str],
    *,
    document: str,
) -> dict[str, Any]:
    """The ``!transform/itemFulfillment`` body on the sales order.

    :param sales_order_lines: the SO's ``item`` sublist (each with ``line``, ``item.refName`` = SKU,
        ``linkedOrder.id`` = the drop-ship PO, ``quantity``, ``quantityFulfilled``).
    :param po_ids: PO number → internal id, for the POs the lines name.
    :raises RecordError: ``UNKNOWN_ITEM`` / ``OVER_FULFILLMENT`` naming the document, line and field.
    """
    wanted: dict[int, Decimal] = {}
    serials: dict[int, list[str]] = {}
    for index, line in enumerate(fulfillment.lines):
        po_number = line.line_id.split(":", 1)[0]
        po_id = po_ids.get(po_number)
        match = next(
            (
                so_line
                for so_line in sales_order_lines
                if str((so_line.get("linkedOrder") or {}).get("id")) == str(po_id)
                and (so_line.get("item") or {}).get("refName") == line.item.sku
            ),
            None,
        )
        if match is None:
            raise RecordError(
                f"{document}: lines.{index}.item = {line.item.sku!r}: no line of sales order "
                f"{fulfillment.created_from.number or fulfillment.created_from.id} is linked to PO {po_number} for it",
                code="UNKNOWN_ITEM",
            )
        so_line_no = int(match["line"])
        wanted[so_line_no] = wanted.get(so_line_no, Decimal(0)) + line.quantity
        serials.setdefault(so_line_no, []).extend(line.serial_numbers)
        remaining = Decimal(str(match.get("quantity") or 0)) - Decimal(
            str(match.get("quantityFulfilled") or 0)
        )
        if wanted[so_line_no] > remaining:
            raise RecordError(
                f"{document}: lines.{index}.quantity = {normalize_decimal(line.quantity)}: sales order line {so_line_no} "
                f"({line.item.sku}) has {normalize_decimal(remaining)} left to fulfil",
                code="OVER_FULFILLMENT",
            )
    items = []
    for so_line_no, quantity in sorted(wanted.items()):
        entry: dict[str, Any] = {"orderLine": so_line_no, "itemReceive": True, "quantity": _num(quantity)}
        if serials.get(so_line_no):
            entry["inventoryDetail"] = {
                "inventoryAssignment": {
                    "items": [{"issueInventoryNumber": s, "quantity": 1} for s in serials[so_line_no]]
                }
            }
        items.append(entry)
    return {
        "tranDate": fulfillment.tran_date.isoformat(),
        "shipStatus": "C",
        "memo": fulfillment.memo,
        "externalId": fulfillment.source_id,
        # REST's sublist shape (``packageList.package`` is SOAP's; REST drops it as an unknown field)
        "package": {
            "items": [
                {"packageTrackingNumber": p.tracking_number, "packageDescr": p.description}
                for p in fulfillment.packages
                if p.tracking_number
            ]
        },
        "item": {"items": items},
    }


def vendor_bill_body(bill: VendorBill, order: OrderSnapshot, *, document: str) -> dict[str, Any]:
    """The ``!transform/vendorBill`` body from the PO: lines by PO line with the vendor's quantities and rates.

    :raises RecordError: ``UNKNOWN_ITEM`` / ``OVER_BILLING`` naming the document, line and field.
    """
    items = []
    for index, line in enumerate(bill.item_lines):
        order_line = order.line(line.order_line or line.line_id)
        if order_line is None or order_line.sku != line.item.sku:
            raise RecordError(
                f"{document}: item_lines.{index}.item = {line.item.sku!r}: not on PO {order.number} line {line.order_line}",
                code="UNKNOWN_ITEM",
            )
        if order_line.billed + line.quantity > order_line.quantity:
            raise RecordError(
                f"{document}: item_lines.{index}.quantity = {normalize_decimal(line.quantity)}: PO {order.number} line "
                f"{order_line.line} has {normalize_decimal(order_line.quantity - order_line.billed)} left to bill",
                code="OVER_BILLING",
            )
        items.append(
            {"orderLine": int(order_line.line), "quantity": _num(line.quantity), "rate": _num(line.rate)}
        )
    body: dict[str, Any] = {
        "tranId": bill.number,
        "tranDate": bill.tran_date.isoformat(),
        "externalId": bill.source_id,
        "item": {"items": items},
    }
    expenses = []
    for index, expense in enumerate(bill.expense_lines):
        if not expense.account.id:
            raise RecordError(
                f"{document}: expense_lines.{index}.account: no NetSuite account id for {expense.memo or expense.line_id}",
                code="UNMAPPED_CHARGE",
            )
        entry: dict[str, Any] = {"account": {"id": expense.account.id}, "amount": _num(expense.amount)}
        if expense.memo:
            entry["memo"] = expense.memo
        expenses.append(entry)
    if expenses:  # freight, other charges and tax: the bill's expense sublist
        body["expense"] = {"items": expenses}
    if bill.terms is not None and bill.terms.id:
        body["terms"] = {"id": bill.terms.id}
    if bill.due_date:
        body["dueDate"] = bill.due_date.isoformat()
    return body
