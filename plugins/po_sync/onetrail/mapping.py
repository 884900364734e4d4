"""NetSuite ⇄ Onetrail documents, and the rules eInteract applies on the way. Pure functions, no I/O.

* Submission: a NetSuite PO (its REST record, its vendor's and items' fields) becomes a
  :class:`SubmitOrder`; :func:`validation_problems` says why it may not go (vendor not enabled or
  without a valid GLN, a line without an MPN, a special bid / deal without its type or reference);
  :func:`order_document` builds the ``Request`` / ``Change`` document, whose content hash is the PO
  version (:func:`order_version`) that names the file.
* Order responses: :func:`response_effects` turns an :class:`OrderResponse` into the header and line
  accept statuses (eInteract's labels), the PO amendment records (one per supplier change), and the
  line updates the configuration accepts automatically.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from po_sync.exceptions import RecordValidationError
from po_sync.models import (
    DocumentRef,
    DocumentType,
    ItemFulfillment,
    ItemFulfillmentLine,
    ItemFulfillmentShipStatus,
    ItemReceipt,
    ItemReceiptLine,
    ItemRef,
    Package,
    RecordRef,
    VendorBill,
    VendorBillExpenseLine,
    VendorBillItemLine,
    record_validation_error,
)
from po_sync.netsuite.mapping import OrderSnapshot
from po_sync.onetrail.formats import (
    Address,
    DespatchAdvice,
    Invoice,
    OrderDocument,
    OrderLine,
    OrderResponse,
    ResponseLine,
)
from po_sync.onetrail.settings import CUSTOM_FIELDS, OnetrailSettings, gln_problem

__all__ = [
    "ACCEPTED",
    "ADDED",
    "CHANGED",
    "DELETED",
    "REJECTED",
    "Amendment",
    "PoLine",
    "ResponseEffects",
    "SubmitLine",
    "SubmitOrder",
    "SubmitStatus",
    "header_label",
    "line_label",
    "order_document",
    "order_version",
    "response_effects",
    "bill_extras",
    "bill_from_invoice",
    "despatch_external_id",
    "invoice_external_id",
    "invoice_payload",
    "despatch_payload",
    "fulfillment_from_despatch",
    "receipt_from_despatch",
    "submit_order_from_records",
    "validation_problems",
]


class SubmitStatus:
    """The ``Onetrail.net Submit Status`` values."""

    NOT_SUBMITTED = "Not Submitted"
    SUBMITTING = "Submitting"
    SUBMITTED = "Submitted"
    CONFIRMED = "Confirmed"
    FAILED = "Failed"
    DO_NOT_SUBMIT = "Do Not Submit"


#: ``Onetrail.net Accept Status`` labels.
ACCEPTED = "Accepted"
CHANGED = "Changed and Accepted"
REJECTED = "Rejected"
DELETED = "Deleted"
ADDED = "Added"

_HEADER_LABELS = {
    "Accept": ACCEPTED,
    "Change": CHANGED,
    "Reject": REJECTED,
    "Delete": DELETED,
    # UBL header codes
    "AP": ACCEPTED,
    "AB": ACCEPTED,
    "CA": CHANGED,
    "RE": REJECTED,
}
_LINE_LABELS = {
    "Accept": ACCEPTED,
    "Change": CHANGED,
    "Add": ADDED,
    "Reject": REJECTED,
    "Delete": DELETED,
    # UBL line codes
    "5": ACCEPTED,
    "3": CHANGED,
    "1": ADDED,
    "7": REJECTED,
    "9": DELETED,
    "42": ACCEPTED,  # already delivered
}
_SPECIAL_TYPES = {
    "special bid": "SpecialBid",
    "specialbid": "SpecialBid",
    "special deal": "SpecialDeal",
    "specialdeal": "SpecialDeal",
}


def header_label(code: str) -> str | None:
    """eInteract's header label for a header code (``Accept`` or UBL ``AP``...), or None if unknown."""
    return _HEADER_LABELS.get(code.strip())


def line_label(code: str) -> str | None:
    """eInteract's line label for a line code (``Change`` or UBL ``3``...), or None if unknown."""
    return _LINE_LABELS.get(code.strip())


# ====================================================================================== submission


@dataclass(frozen=True)
class SubmitLine:
    """A PO line with its item's identifiers."""

    line: str
    item_id: str
    sku: str
    mpn: str | None
    quantity: Decimal
    rate: Decimal
    vendor_part: str | None = None
    description: str | None = None
    expected_date: date | None = None
    closed: bool = False


@dataclass(frozen=True)
class SubmitOrder:
    """What submission needs of a NetSuite PO, its vendor and its items."""

    po_id: str
    number: str
    tran_date: date
    currency: str
    vendor_id: str
    vendor_name: str
    vendor_enabled: bool
    vendor_gln: str | None
    lines: tuple[SubmitLine, ...]
    location_id: str | None = None
    special_order_type: str | None = None
    special_reference: str | None = None
    allow_partial: bool = False
    drop_ship: bool = False
    ship_to_address: Address | None = None
    submit_status: str = SubmitStatus.NOT_SUBMITTED

    @property
    def cancelled(self) -> bool:
        """Every line closed: the order is cancelled."""
        return bool(self.lines) and all(line.closed for line in self.lines)


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        ref = value.get("id")
        return str(ref) if ref is not None else None
    return str(value) if value not in (None, "") else None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("t", "true", "yes", "1")
    return bool(value)


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("refName") or value.get("id")
    text = str(value).strip() if value is not None else ""
    return text or None


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        return Decimal(0)


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def submit_order_from_records(
    po: Mapping[str, Any],
    vendor: Mapping[str, Any],
    items: Mapping[str, Mapping[str, Any]],
    *,
    currency: str,
    ship_to_address: Address | None = None,
) -> SubmitOrder:
    """A :class:`SubmitOrder` from the REST documents of the PO, its vendor and its items.

    :param po: the PO with its ``item`` sublist expanded.
    :param vendor: the vendor record (``custentity_onetrail_*``).
    :param items: item internal id → item record (``mpn``, ``vendorName``, ``itemId``).
    :param currency: the PO's ISO currency code.
    :param ship_to_address: the drop-ship consignee, for drop-ship POs.
    """
    f = CUSTOM_FIELDS
    lines = []
    for raw in (po.get("item") or {}).get("items") or []:
        item_id = _ref_id(raw.get("item")) or ""
        item = items.get(item_id) or {}
        lines.append(
            SubmitLine(
                line=str(raw.get("line")),
                item_id=item_id,
                sku=_text(item.get("itemId")) or _text(raw.get("item")) or item_id,
                mpn=_text(item.get(f["mpn"])),
                vendor_part=_text(item.get("vendorName")),
                description=_text(raw.get("description")),
                quantity=_decimal(raw.get("quantity")),
                rate=_decimal(raw.get("rate")),
                expected_date=_date(raw.get("expectedReceiptDate") or po.get("expectedReceiptDate")),
                closed=_bool(raw.get("isClosed")),
            )
        )
    drop_ship = any(_bool(raw.get("isDropShipment")) for raw in (po.get("item") or {}).get("items") or [])
    return SubmitOrder(
        po_id=str(po.get("id")),
        number=str(po.get("tranId") or po.get("id")),
        tran_date=_date(po.get("tranDate")) or date(1970, 1, 1),
        currency=currency,
        vendor_id=_ref_id(po.get("entity")) or "",
        vendor_name=str(vendor.get("companyName") or vendor.get("entityId") or vendor.get("id") or ""),
        vendor_enabled=_bool(vendor.get(f["vendor_enabled"])),
        vendor_gln=_text(vendor.get(f["vendor_gln"])),
        lines=tuple(lines),
        location_id=_ref_id(po.get("location")),
        special_order_type=_text(po.get(f["special_order_type"])),
        special_reference=_text(po.get(f["special_reference"])),
        allow_partial=_bool(po.get(f["allow_partial"])),
        drop_ship=drop_ship,
        ship_to_address=ship_to_address,
        submit_status=_text(po.get(f["submit_status"])) or SubmitStatus.NOT_SUBMITTED,
    )


def validation_problems(order: SubmitOrder) -> list[str]:
    """Why ``order`` cannot be submitted, each naming the record and field (empty: it can go).

    The checks eInteract makes before "Save & Submit Electronically": the vendor is enabled for
    Onetrail and has a GLN (13 digits, valid GS1 check digit), every open line's item has an MPN, and
    a special bid / special deal order carries both its type and its reference.
    """
    problems = []
    who = f"vendor {order.vendor_name} ({order.vendor_id})"
    if not order.vendor_enabled:
        problems.append(
            f"{who}: {CUSTOM_FIELDS['vendor_enabled']} is not set (vendor not enabled for Onetrail)"
        )
    if not order.vendor_gln:
        problems.append(f"{who}: {CUSTOM_FIELDS['vendor_gln']} is empty (the vendor has no GLN)")
    elif problem := gln_problem(order.vendor_gln):
        problems.append(f"{who}: {CUSTOM_FIELDS['vendor_gln']}: {problem}")
    if not order.lines:
        problems.append("the PO has no item lines")
    for line in order.lines:
        if not line.mpn and not line.closed:
            problems.append(f"line {line.line}: item {line.sku} ({line.item_id}) has no MPN")
    kind = (order.special_order_type or "").strip()
    if kind and kind.lower() not in _SPECIAL_TYPES and kind.lower() not in ("standard", "none"):
        problems.append(
            f"{CUSTOM_FIELDS['special_order_type']} = {kind!r}: expected Special Bid or Special Deal"
        )
    elif kind.lower() in _SPECIAL_TYPES and not order.special_reference:
        problems.append(
            f"{kind} order without {CUSTOM_FIELDS['special_reference']} (the Special Bid/Deal Reference)"
        )
    elif order.special_reference and kind.lower() not in _SPECIAL_TYPES:
        problems.append(
            f"{CUSTOM_FIELDS['special_reference']} = {order.special_reference!r} but "
            f"{CUSTOM_FIELDS['special_order_type']} is not Special Bid or Special Deal"
        )
    return problems


def _order_type(order: SubmitOrder) -> str:
    return _SPECIAL_TYPES.get((order.special_order_type or "").strip().lower(), "Standard")


def order_document(
    order: SubmitOrder,
    settings: OnetrailSettings,
    *,
    change: bool,
    created_at: datetime,
    document_id: str = "",
) -> OrderDocument:
    """The Onetrail order for ``order``: ``Request`` the first time, ``Change`` after it was submitted.

    A cancelled order (every line closed) goes as a ``Change`` with status ``Delete``; a closed line
    of a changed order goes with line status ``Delete``.

    :param change: the PO was submitted before (send ``Change``).
    :param created_at: ``thisDocumentGenerationDateTime``.
    :param document_id: ``thisDocumentIdentifier`` (see :func:`document_id_for`).
    """
    lines = tuple(
        OrderLine(
            line_number=line.line,
            mpn=line.mpn or "",
            vendor_part=line.vendor_part,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.rate,
            requested_date=line.expected_date,
            status="Delete" if line.closed else "Open",
        )
        for line in order.lines
        if change or not line.closed
    )
    return OrderDocument(
        document_id=document_id,
        function="Change" if change or order.cancelled else "Request",
        po_number=order.number,
        buyer_gln=settings.buyer_gln,
        seller_gln=order.vendor_gln or "",
        bill_to_gln=settings.bill_to_gln or settings.buyer_gln,
        ship_to_gln=(settings.drop_ship_gln or settings.buyer_gln)
        if order.drop_ship
        else settings.ship_to(order.location_id),
        order_date=order.tran_date,
        currency=order.currency,
        lines=lines,
        order_type=_order_type(order),
        special_reference=order.special_reference if _order_type(order) != "Standard" else None,
        partial_shipments=order.allow_partial,
        drop_ship=order.drop_ship,
        ship_to_address=order.ship_to_address if order.drop_ship else None,
        status="Delete" if order.cancelled else "Open",
        created_at=created_at,
    )


def order_version(order: SubmitOrder, settings: OnetrailSettings) -> str:
    """The PO version: a hash of what the supplier is asked for (not of the submit status, the
    generation time or whether it is a Request or a Change), so an unchanged PO is never resent."""
    doc = order_document(order, settings, change=True, created_at=datetime(2000, 1, 1))
    content = asdict(replace(doc, created_at=None, document_id=""))
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def document_id_for(po_number: str, version: str) -> str:
    """``ORD-<PO number>-<version prefix>``: deterministic per PO version, safe as a file name."""
    return f"ORD-{_SAFE.sub('_', po_number)[:40]}-{version[:12]}"


# ================================================================================= order responses


@dataclass(frozen=True)
class PoLine:
    """A PO line as NetSuite holds it, for applying a response."""

    line: str
    item_id: str
    mpn: str | None
    quantity: Decimal
    rate: Decimal
    expected_date: date | None = None
    closed: bool = False


@dataclass(frozen=True)
class Amendment:
    """One supplier change, stored as an ``Onetrail.net PO Amendment`` record.

    :param change: ``quantity``, ``price``, ``date``, ``added``, ``deleted``, ``split``, ``rejected``
        or ``order`` (a header-level status).
    :param applied: whether the PO line was changed to match (the configuration accepts it).
    """

    sequence: int
    change: str
    line: str | None
    old_value: str | None
    new_value: str | None
    status: str
    applied: bool = False

    def external_id(self, document_id: str) -> str:
        return f"{_SAFE.sub('_', document_id)[:80]}-{self.sequence}"


@dataclass
class ResponseEffects:
    """What an order response does to the PO."""

    header_status: str
    line_status: dict[str, str] = field(default_factory=dict)
    amendments: list[Amendment] = field(default_factory=list)
    #: PO line → fields to PATCH (quantity, rate, expectedReceiptDate, isClosed)
    line_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: new lines to append: item id, quantity, rate, expected date, status label
    new_lines: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def response_effects(
    response: OrderResponse,
    lines: Sequence[PoLine],
    *,
    auto_accept: Iterable[str],
    item_for_mpn: Mapping[str, str],
) -> ResponseEffects:
    """The statuses, amendments and accepted line changes one response causes.

    Each supplier change (quantity, price, date, added or deleted line, split line) is one
    :class:`Amendment`; it is applied to the PO line only when its kind is in ``auto_accept``.
    A split line (the same PO line number twice) keeps the first part on the line and adds the rest
    as new lines. Problems (an unknown status code or PO line, an added line whose MPN matches no
    item) are returned, not raised: the operator quarantines the response with them.

    :param lines: the PO's lines now.
    :param auto_accept: change kinds written onto the PO.
    :param item_for_mpn: MPN → item internal id (for added lines).
    """
    accepted = set(auto_accept)
    label = header_label(response.status)
    effects = ResponseEffects(header_status=label or "")
    if label is None:
        effects.problems.append(
            f"order response {response.document_id}: GlobalPurchaseOrderStatusCode {response.status!r} is not "
            "Accept, Change, Reject or Delete (or UBL AB, AP, CA, RE)"
        )
        return effects
    by_line = {line.line: line for line in lines}
    seq = 0

    def amend(change: str, line: str | None, old: Any, new: Any, status: str, applied: bool) -> None:
        nonlocal seq
        seq += 1
        effects.amendments.append(
            Amendment(
                sequence=seq,
                change=change,
                line=line,
                old_value=None if old is None else str(old),
                new_value=None if new is None else str(new),
                status=status,
                applied=applied,
            )
        )

    if label in (REJECTED, DELETED):
        amend("order", None, None, response.status, label, label == DELETED and "deleted" in accepted)
        for line in lines:
            effects.line_status[line.line] = label
            if label == DELETED and "deleted" in accepted and not line.closed:
                effects.line_updates[line.line] = {"isClosed": True}
        # An order-level answer may still list lines; they carry no more than the header says.
        return effects

    grouped: dict[str, list[ResponseLine]] = {}
    for index, rline in enumerate(response.lines):
        status = line_label(rline.status)
        where = f"order response {response.document_id} line {index + 1}"
        if status is None:
            effects.problems.append(
                f"{where}: GlobalLineItemStatusCode {rline.status!r} is not a known line code"
            )
            continue
        if status == ADDED:
            item_id = item_for_mpn.get(rline.mpn or "")
            if item_id is None:
                effects.problems.append(f"{where}: added line's MPN {rline.mpn!r} matches no NetSuite item")
                continue
            applied = "added" in accepted
            amend("added", None, None, f"{rline.mpn} x {rline.quantity} @ {rline.unit_price}", ADDED, applied)
            if applied:
                effects.new_lines.append(
                    {
                        "item_id": item_id,
                        "quantity": rline.quantity or Decimal(0),
                        "rate": rline.unit_price,
                        "expected_date": rline.delivery_date or rline.ship_date,
                        "status": ADDED,
                    }
                )
            continue
        if not rline.line_number or rline.line_number not in by_line:
            effects.problems.append(
                f"{where}: LineNumber {rline.line_number!r} is not a line of PO {response.po_number}"
            )
            continue
        grouped.setdefault(rline.line_number, []).append(rline)

    for number, parts in grouped.items():
        po_line = by_line[number]
        first = parts[0]
        status = line_label(first.status) or ACCEPTED
        updates: dict[str, Any] = {}
        if len(parts) > 1:
            status = CHANGED
            applied = "split" in accepted
            amend(
                "split",
                number,
                _num(po_line.quantity),
                " + ".join(str(p.quantity) for p in parts),
                CHANGED,
                applied,
            )
            if applied:
                if first.quantity is not None:
                    updates["quantity"] = _num(first.quantity)
                for part in parts[1:]:
                    effects.new_lines.append(
                        {
                            "item_id": po_line.item_id,
                            "quantity": part.quantity or Decimal(0),
                            "rate": part.unit_price if part.unit_price is not None else po_line.rate,
                            "expected_date": part.delivery_date or part.ship_date,
                            "status": CHANGED,
                        }
                    )
        elif status == DELETED:
            applied = "deleted" in accepted
            amend("deleted", number, _num(po_line.quantity), None, DELETED, applied)
            if applied:
                updates["isClosed"] = True
        elif status in (CHANGED, ACCEPTED, REJECTED):
            if status == REJECTED:
                amend("rejected", number, None, first.status, REJECTED, False)
            if first.quantity is not None and first.quantity != po_line.quantity:
                applied = "quantity" in accepted
                amend("quantity", number, _num(po_line.quantity), _num(first.quantity), CHANGED, applied)
                status = CHANGED if status == ACCEPTED else status
                if applied:
                    updates["quantity"] = _num(first.quantity)
            if first.unit_price is not None and first.unit_price != po_line.rate:
                applied = "price" in accepted
                amend("price", number, _num(po_line.rate), _num(first.unit_price), CHANGED, applied)
                status = CHANGED if status == ACCEPTED else status
                if applied:
                    updates["rate"] = _num(first.unit_price)
            new_date = first.delivery_date or first.ship_date
            if status == CHANGED and new_date is not None and new_date != po_line.expected_date:
                applied = "date" in accepted
                amend("date", number, po_line.expected_date, new_date.isoformat(), CHANGED, applied)
                if applied:
                    updates["expectedReceiptDate"] = new_date.isoformat()
        effects.line_status[number] = status
        if updates:
            effects.line_updates[number] = updates
    for line in lines:
        effects.line_status.setdefault(line.line, label if label != CHANGED else ACCEPTED)
    return effects


# ================================================================================ despatch advices


def despatch_external_id(advice: DespatchAdvice, po_number: str) -> str:
    """The receipt / fulfilment ``externalId``: one per despatch advice and PO, so a repeat is found."""
    return f"OT-DSP-{_SAFE.sub('_', advice.despatch_number)[:60]}-{_SAFE.sub('_', po_number)[:40]}"


def despatch_payload(advice: DespatchAdvice, po_number: str) -> str:
    """A hash of what one advice ships for one PO (line, quantity, serials)."""
    rows = sorted(
        (line.line_number, str(line.quantity), line.serial_numbers)
        for line in advice.lines
        if line.po_number == po_number
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _shipped(advice: DespatchAdvice, po_number: str) -> dict[str, tuple[Decimal, list[str]]]:
    out: dict[str, tuple[Decimal, list[str]]] = {}
    for line in advice.lines:
        if line.po_number != po_number or line.quantity <= 0:
            continue
        quantity, serials = out.get(line.line_number, (Decimal(0), []))
        out[line.line_number] = (quantity + line.quantity, [*serials, *line.serial_numbers])
    return out


def _memo(advice: DespatchAdvice) -> str:
    tracking = advice.tracking_numbers()
    text = f"Onetrail despatch advice {advice.despatch_number}"
    return text + (f"; tracking {', '.join(tracking)}" if tracking else "")


def receipt_from_despatch(
    advice: DespatchAdvice, order: OrderSnapshot, *, external_id: str, where: str
) -> ItemReceipt | None:
    """The item receipt one advice makes for a standard PO (None when it ships nothing of it).

    :raises RecordValidationError: a line the PO does not have.
    """
    lines = []
    for number, (quantity, serials) in sorted(
        _shipped(advice, order.number).items(), key=lambda kv: _line_key(kv[0])
    ):
        order_line = order.line(number)
        if order_line is None:
            raise RecordValidationError(
                f"{where}: PO {order.number} has no line {number}", code="UNKNOWN_LINE"
            )
        lines.append(
            ItemReceiptLine(
                line_id=number,
                order_line=number,
                item=ItemRef(sku=order_line.sku),
                quantity=quantity,
                unit="EA",
                serial_numbers=tuple(serials),
            )
        )
    if not lines:
        return None
    return ItemReceipt(
        source_system="onetrail",
        source_id=external_id,
        created_from=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.id, number=order.number),
        tran_date=advice.ship_date,
        memo=_memo(advice),
        lines=tuple(lines),
    )


def fulfillment_from_despatch(
    advice: DespatchAdvice, order: OrderSnapshot, *, external_id: str, where: str
) -> ItemFulfillment | None:
    """The item fulfilment (Shipped) one advice makes on a drop-ship PO's sales order, with the
    containers' tracking numbers as packages and the serial numbers (None when it ships nothing)."""
    lines = []
    for number, (quantity, serials) in sorted(
        _shipped(advice, order.number).items(), key=lambda kv: _line_key(kv[0])
    ):
        order_line = order.line(number)
        if order_line is None:
            raise RecordValidationError(
                f"{where}: PO {order.number} has no line {number}", code="UNKNOWN_LINE"
            )
        lines.append(
            ItemFulfillmentLine(
                line_id=f"{order.number}:{number}",
                order_line=number,
                item=ItemRef(sku=order_line.sku),
                quantity=quantity,
                unit="EA",
                serial_numbers=tuple(serials),
            )
        )
    if not lines or order.sales_order_id is None:
        return None
    packages = tuple(
        Package(tracking_number=c.tracking, description=f"{c.package_type} {c.sscc}")
        for c in advice.containers
        if c.tracking and any(line.po_number == order.number for line in c.lines)
    )
    unique: list[Package] = []
    for package in packages:
        if package.tracking_number not in {p.tracking_number for p in unique}:
            unique.append(package)
    return ItemFulfillment(
        source_system="onetrail",
        source_id=external_id,
        number=advice.despatch_number,
        created_from=DocumentRef(
            type=DocumentType.SALES_ORDER, id=order.sales_order_id, number=order.sales_order_number
        ),
        purchase_order=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.id, number=order.number),
        ship_status=ItemFulfillmentShipStatus.SHIPPED,
        tran_date=advice.ship_date,
        ship_date=advice.ship_date,
        packages=tuple(unique),
        memo=_memo(advice),
        lines=tuple(lines),
    )


def _line_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


# ======================================================================================== invoices


def invoice_external_id(invoice: Invoice) -> str:
    """The vendor bill's ``externalId``: one per supplier and invoice number."""
    return f"OT-INV-{invoice.seller_gln}-{_SAFE.sub('_', invoice.invoice_number)[:60]}"


def invoice_payload(invoice: Invoice) -> str:
    return hashlib.sha256(json.dumps(asdict(invoice), sort_keys=True, default=str).encode()).hexdigest()


def bill_from_invoice(
    invoice: Invoice, order: OrderSnapshot, settings: OnetrailSettings, *, where: str
) -> VendorBill:
    """The vendor bill for ``invoice``, created from its PO.

    Item lines take the invoice's quantities and rates; each additional charge becomes an expense
    line on the account its charge type is configured with; the tax total is the lines' and charges'
    tax; the canonical model reconciles the bill total with the invoice total.

    :raises RecordValidationError: a credit note, a currency other than the PO's, a line the PO does
        not have, an unconfigured charge type, tax or totals that do not add up (naming the field).
    """
    if invoice.invoice_type != "Invoice" or invoice.amount_type != "Debit":
        raise RecordValidationError(
            f"{where}: invoiceTypeCode {invoice.invoice_type} / amountTypeCode {invoice.amount_type}: only "
            "debit invoices become vendor bills; enter credit notes by hand",
            code="CREDIT_NOTE",
        )
    if invoice.currency != order.currency:
        raise RecordValidationError(
            f"{where}: currency {invoice.currency}: PO {order.number} is in {order.currency} "
            "(supplier invoices are taken in the PO currency)",
            code="CURRENCY_MISMATCH",
        )
    unknown = sorted({c.charge_type for c in invoice.charges if c.charge_type not in settings.charge_types})
    if unknown:
        raise RecordValidationError(
            f"{where}: charge type(s) {', '.join(unknown)} not configured (settings charge_types: "
            f"{', '.join(sorted(settings.charge_types)) or 'none'})",
            code="UNCONFIGURED_CHARGE",
        )
    items = []
    for index, line in enumerate(invoice.lines):
        order_line = order.line(line.po_line_number)
        if order_line is None:
            raise RecordValidationError(
                f"{where}: lines.{index}.orderLineNumber = {line.po_line_number}: not a line of PO {order.number}",
                code="UNKNOWN_LINE",
            )
        items.append(
            VendorBillItemLine(
                line_id=line.line_number or str(index + 1),
                order_line=line.po_line_number,
                item=ItemRef(sku=order_line.sku),
                quantity=line.quantity,
                unit="EA",
                rate=line.unit_price,
                amount=line.net_amount,
                description=line.description,
            )
        )
    expenses = tuple(
        VendorBillExpenseLine(
            line_id=f"charge-{index + 1}",
            account=RecordRef(id=settings.charge_types[charge.charge_type], name=charge.charge_type),
            amount=charge.amount,
            memo=charge.description or charge.charge_type,
        )
        for index, charge in enumerate(invoice.charges)
    )
    tax = sum((line.tax_amount for line in invoice.lines), Decimal(0)) + sum(
        (c.tax_amount for c in invoice.charges), Decimal(0)
    )
    if invoice.tax_total and invoice.tax_total != tax:
        raise RecordValidationError(
            f"{where}: totals/taxAmount = {invoice.tax_total}: the lines' and charges' tax add up to {tax}",
            code="TAX_MISMATCH",
        )
    try:
        return VendorBill(
            source_system="onetrail",
            source_id=invoice_external_id(invoice),
            number=invoice.invoice_number,
            vendor=RecordRef(id=order.vendor_ref, name=order.vendor_id),
            created_from=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.id, number=order.number),
            tran_date=invoice.invoice_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            memo=f"Onetrail invoice {invoice.invoice_number}",
            item_lines=tuple(items),
            expense_lines=expenses,
            tax_total=tax,
            total=invoice.total,
        )
    except ValidationError as exc:
        raise record_validation_error(exc, record=f"invoice {invoice.invoice_number}", source=where) from exc


def bill_extras(bill: VendorBill, invoice: Invoice, settings: OnetrailSettings) -> dict[str, Any]:
    """What the PO transform body needs beyond item lines: expense lines, line tax, terms, due date.

    Terms are set only when the supplier's identifier is configured (no ad-hoc terms); the due date
    always comes from the invoice.
    """
    extras: dict[str, Any] = {"memo": bill.memo}
    if bill.expense_lines:
        extras["expense"] = {
            "items": [
                {
                    "account": {"id": line.account.id},
                    "amount": float(line.amount),
                    "memo": line.memo,
                    "tax1Amt": float(charge.tax_amount),
                }
                for line, charge in zip(bill.expense_lines, invoice.charges, strict=True)
            ]
        }
    terms = settings.payment_terms.get(invoice.payment_terms or "")
    if terms:
        extras["terms"] = {"id": terms}
    if invoice.due_date:
        extras["dueDate"] = invoice.due_date.isoformat()
    return extras
