"""Vendor files ⇄ the canonical model: pure functions, no I/O.

Outbound, :func:`purchase_order_document` turns a canonical :class:`PurchaseOrder` into the document a
vendor receives. Inbound, :func:`parse_vendor_document` validates a parsed ship notice or invoice
(:mod:`po_sync.vendors.formats` gives plain strings) into :class:`ShipNotice` / :class:`VendorInvoice`,
and the ``merge_*`` functions combine the notices of one order into one canonical document:

* a standard PO → one :class:`ItemReceipt` per merge (lines by PO line, summed over the notices);
* a drop-ship sales order → one :class:`ItemFulfillment` once every PO of the order has reported
  every line (shipped or cancelled), see :func:`drop_ship_complete`;
* an invoice → one :class:`VendorBill` created from its PO.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from po_sync.exceptions import RecordValidationError
from po_sync.models import (
    CanonicalModel,
    DocumentRef,
    DocumentType,
    ItemFulfillment,
    ItemFulfillmentLine,
    ItemReceipt,
    ItemReceiptLine,
    ItemRef,
    NonEmptyStr,
    Package,
    PurchaseOrder,
    Quantity,
    RecordRef,
    VendorBill,
    VendorBillExpenseLine,
    VendorBillItemLine,
    canonical_json,
    normalize_decimal,
    record_validation_error,
)
from po_sync.models.common import Amount, CurrencyCode
from po_sync.netsuite.mapping import SAFE_IDENTIFIER_RULE, OrderSnapshot, is_safe_identifier
from po_sync.vendors.settings import BillSettings

__all__ = [
    "ShipNotice",
    "ShipNoticeLine",
    "VendorInvoice",
    "VendorInvoiceLine",
    "check_against_order",
    "document_hash",
    "drop_ship_complete",
    "merge_fulfillment",
    "merge_receipt",
    "parse_vendor_document",
    "purchase_order_document",
    "vendor_bill_from_invoice",
]

SOURCE_SYSTEM = "vendor_files"


def _document_number(value: str) -> str:
    if not is_safe_identifier(value):
        raise ValueError(f"not a NetSuite document number ({SAFE_IDENTIFIER_RULE})")
    return value


#: A PO number as a vendor file states it: checked here, before it can reach a SuiteQL literal or a URL.
DocumentNumber = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_document_number)]
#: A charge type named on an invoice (``charge_<type>``): looked up in the configured account map.
ChargeType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
#: A vendor's own id for a document (kept in the ledger, whose ids hold 200 characters).
DocumentId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def document_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON (what the ledger compares to skip unchanged ones)."""
    return hashlib.sha256(canonical_json(dict(document)).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------ outbound


def purchase_order_document(po: PurchaseOrder, *, vendor_id: str) -> dict[str, Any]:
    """The document a vendor receives for ``po`` (header + lines; see :mod:`po_sync.vendors.formats`).

    Received and billed quantities are left out: they are ours, and a receipt alone should not make
    the vendor's copy change.

    :param po: the canonical PO.
    :param vendor_id: the vendor's id in po-sync's settings (NetSuite ``entityId``).
    """
    return {
        "document_type": "purchase_order",
        "po_number": po.number,
        "vendor_id": vendor_id,
        "vendor_name": po.vendor.name,
        "tran_date": po.tran_date.isoformat(),
        "status": str(po.status),
        "currency": po.currency,
        "total": normalize_decimal(po.total or Decimal(0)),
        "memo": po.memo,
        "drop_ship": "true" if po.is_drop_ship else "false",
        "sales_order": po.created_from.number if po.created_from else None,
        "lines": [
            {
                "line": line.line_id,
                "sku": line.item.sku,
                "description": line.description,
                "quantity": normalize_decimal(line.quantity),
                "unit": line.unit,
                "rate": normalize_decimal(line.rate),
                "amount": normalize_decimal(line.amount or Decimal(0)),
            }
            for line in po.lines
            if not line.is_closed
        ],
    }


# ------------------------------------------------------------------------------------------ inbound


class ShipNoticeLine(CanonicalModel):
    """One line of a vendor's ship notice.

    :param line: the PO line number the vendor received in our document.
    :param sku: our SKU, as sent.
    :param quantity_shipped: units shipped with this notice.
    :param quantity_cancelled: units the vendor will never ship.
    :param serial_numbers: one per shipped unit for serialised items.
    :param line_tracking_number: a tracking number for this line alone.
    """

    line: NonEmptyStr
    sku: NonEmptyStr
    quantity_shipped: Quantity = Decimal(0)
    quantity_cancelled: Quantity = Decimal(0)
    serial_numbers: tuple[NonEmptyStr, ...] = ()
    line_tracking_number: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.serial_numbers and Decimal(len(self.serial_numbers)) != self.quantity_shipped:
            raise PydanticCustomError(
                "serial_count",
                "{count} serial numbers for {quantity} shipped; a serialised item needs one per unit",
                {
                    "field": "serial_numbers",
                    "value": None,
                    "count": len(self.serial_numbers),
                    "quantity": str(self.quantity_shipped),
                },
            )
        return self


class ShipNotice(CanonicalModel):
    """A vendor's ship notice (full, partial, or cancelling lines) for one PO."""

    document_type: Literal["ship_notice"]
    document_id: DocumentId
    vendor_id: NonEmptyStr
    po_number: DocumentNumber
    ship_date: date
    carrier: NonEmptyStr | None = None
    tracking_numbers: tuple[NonEmptyStr, ...] = ()
    lines: tuple[ShipNoticeLine, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _unique_lines(self.lines)
        if not any(line.quantity_shipped or line.quantity_cancelled for line in self.lines):
            raise PydanticCustomError(
                "nothing_reported",
                "a ship notice must ship or cancel something",
                {"field": "lines", "value": None},
            )
        return self


class VendorInvoiceLine(CanonicalModel):
    """One billed line of a vendor invoice."""

    line: NonEmptyStr
    sku: NonEmptyStr
    quantity: Quantity
    rate: Amount
    amount: Amount | None = None


class VendorInvoice(CanonicalModel):
    """A vendor's invoice for one PO."""

    document_type: Literal["invoice"]
    document_id: DocumentId
    vendor_id: NonEmptyStr
    po_number: DocumentNumber
    invoice_number: NonEmptyStr
    invoice_date: date
    due_date: date | None = None
    currency: CurrencyCode
    freight: Amount | None = None
    tax: Amount | None = None
    terms: NonEmptyStr | None = None
    charges: dict[ChargeType, Amount] = {}
    total: Amount | None = None
    lines: tuple[VendorInvoiceLine, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _collect_charges(cls, data: Any) -> Any:
        """``charge_<type>`` header fields (any file format can carry them) → ``charges``; ``freight``
        is the charge type ``freight``."""
        if not isinstance(data, Mapping):
            return data
        out = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("charge_"))}
        charges = {
            k.removeprefix("charge_"): v
            for k, v in data.items()
            if isinstance(k, str) and k.startswith("charge_") and v not in (None, "")
        }
        if out.get("freight") not in (None, ""):
            if "freight" in charges:
                raise PydanticCustomError(
                    "duplicate_charge",
                    "freight is given twice (freight and charge_freight)",
                    {"field": "charge_freight", "value": None},
                )
            charges["freight"] = out["freight"]
        out["charges"] = charges
        return out

    @model_validator(mode="after")
    def _check(self) -> Self:
        _unique_lines(self.lines)
        for index, line in enumerate(self.lines):
            if line.quantity == 0:
                raise PydanticCustomError(
                    "zero_quantity",
                    "an invoice line must bill a positive quantity",
                    {"field": f"lines.{index}.quantity", "value": "0"},
                )
        return self


def _unique_lines(lines: Sequence[Any]) -> None:
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.line in seen:
            raise PydanticCustomError(
                "duplicate_line",
                "PO line reported twice in one document",
                {"field": f"lines.{index}.line", "value": line.line},
            )
        seen.add(line.line)


VendorDocument = ShipNotice | VendorInvoice


def parse_vendor_document(
    raw: Mapping[str, Any], *, source: str, vendor_id: str | None = None
) -> VendorDocument:
    """Validate a parsed vendor file into a :class:`ShipNotice` or :class:`VendorInvoice`.

    :param raw: what :func:`~po_sync.vendors.formats.load_document` returned.
    :param source: the file's key, named in errors.
    :param vendor_id: the vendor whose inbound folder held the file; a file naming another vendor is refused.
    :raises RecordValidationError: unknown document type, bad or missing fields (message names file and field).
    """
    doc_type = raw.get("document_type")
    model: type[ShipNotice] | type[VendorInvoice]
    if doc_type == "ship_notice":
        model = ShipNotice
    elif doc_type == "invoice":
        model = VendorInvoice
    else:
        raise RecordValidationError(
            f"file {source}: document_type {doc_type!r} is not a ship_notice or an invoice",
            code="UNKNOWN_DOCUMENT",
        )
    label = f"{doc_type} {raw.get('document_id') or '?'}"
    try:
        document = model.model_validate(dict(raw))
    except ValidationError as exc:
        raise record_validation_error(exc, record=label, source=source) from None
    if vendor_id is not None and document.vendor_id != vendor_id:
        raise RecordValidationError(
            f"{label} (file {source}): vendor_id = {document.vendor_id!r}: the file sits in vendor {vendor_id!r}'s folder",
            code="VENDOR_MISMATCH",
        )
    return document


# ------------------------------------------------------------------------------------------ orders


def check_against_order(document: VendorDocument, order: OrderSnapshot, *, source: str) -> None:
    """Refuse lines that name a line or SKU the PO lacks, or report more than was ordered.

    :raises RecordValidationError: codes ``UNKNOWN_LINE``, ``UNKNOWN_ITEM``, ``EXCESS_QUANTITY``.
    """
    label = f"{document.document_type} {document.document_id} (file {source})"
    lines: Sequence[ShipNoticeLine | VendorInvoiceLine] = document.lines
    for index, line in enumerate(lines):
        order_line = order.line(line.line)
        if order_line is None:
            raise RecordValidationError(
                f"{label}: lines.{index}.line = {line.line!r}: PO {order.number} has no such line",
                code="UNKNOWN_LINE",
            )
        if order_line.sku != line.sku:
            raise RecordValidationError(
                f"{label}: lines.{index}.sku = {line.sku!r}: PO {order.number} line {line.line} is {order_line.sku!r}",
                code="UNKNOWN_ITEM",
            )
        reported = (
            line.quantity_shipped + line.quantity_cancelled
            if isinstance(line, ShipNoticeLine)
            else line.quantity
        )
        if reported > order_line.quantity:
            raise RecordValidationError(
                f"{label}: lines.{index}.quantity = {normalize_decimal(reported)}: more than the "
                f"{normalize_decimal(order_line.quantity)} ordered on PO {order.number} line {line.line}",
                code="EXCESS_QUANTITY",
            )


def reported_by_line(notices: Iterable[ShipNotice]) -> dict[tuple[str, str], Decimal]:
    """Shipped + cancelled per (PO number, line) over ``notices``."""
    totals: dict[tuple[str, str], Decimal] = {}
    for notice in notices:
        for line in notice.lines:
            key = (notice.po_number, line.line)
            totals[key] = totals.get(key, Decimal(0)) + line.quantity_shipped + line.quantity_cancelled
    return totals


def drop_ship_complete(orders: Iterable[OrderSnapshot], notices: Iterable[ShipNotice]) -> list[str]:
    """What is still missing before a drop-ship sales order can be merged (empty = complete).

    Every open line of every PO of the order must be reported in full, as shipped or cancelled,
    counting what NetSuite already shows as received from earlier merges.
    """
    totals = reported_by_line(notices)
    missing = []
    for order in orders:
        for line in order.lines:
            if line.closed:
                continue
            reported = totals.get((order.number, line.line), Decimal(0))
            if reported < line.remaining:
                missing.append(
                    f"{order.number} line {line.line}: {normalize_decimal(reported)} of {normalize_decimal(line.remaining)}"
                )
    return missing


def merge_id(prefix: str, order_number: str, documents: Iterable[VendorDocument]) -> str:
    """A deterministic id for a merge of ``documents`` (same inputs, same id, same S3 key)."""
    ids = sorted(f"{d.vendor_id}:{d.document_id}" for d in documents)
    digest = hashlib.sha256("|".join(ids).encode()).hexdigest()[:12]
    return f"{prefix}-{order_number}-{digest}"


def merge_receipt(order: OrderSnapshot, notices: Sequence[ShipNotice], *, merged_id: str) -> ItemReceipt:
    """One item receipt for a standard PO from its ship notices (shipped quantities summed per line)."""
    shipped: dict[str, Decimal] = {}
    serials: dict[str, list[str]] = {}
    for notice in notices:
        for line in notice.lines:
            if line.quantity_shipped:
                shipped[line.line] = shipped.get(line.line, Decimal(0)) + line.quantity_shipped
                serials.setdefault(line.line, []).extend(line.serial_numbers)
    lines = []
    for line_id, quantity in sorted(shipped.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        order_line = order.line(line_id)
        assert order_line is not None  # checked by check_against_order
        lines.append(
            ItemReceiptLine(
                line_id=line_id,
                order_line=line_id,
                item=ItemRef(sku=order_line.sku),
                quantity=quantity,
                unit="EA",
                serial_numbers=tuple(serials.get(line_id, ())),
            )
        )
    return ItemReceipt(
        source_system=SOURCE_SYSTEM,
        source_id=merged_id,
        created_from=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.id, number=order.number),
        vendor=RecordRef(id=order.vendor_ref, name=order.vendor_id),
        tran_date=max(n.ship_date for n in notices),
        memo="Received from vendor ship notices " + ", ".join(sorted(n.document_id for n in notices)),
        lines=tuple(lines),
    )


def merge_fulfillment(
    sales_order_id: str,
    sales_order_number: str,
    orders: Sequence[OrderSnapshot],
    notices: Sequence[ShipNotice],
    *,
    merged_id: str,
) -> ItemFulfillment:
    """One item fulfilment on a drop-ship sales order, from every vendor's notices for its POs.

    Lines are keyed ``<PO number>:<PO line>`` (``order_line`` is the PO line; the import matches the
    sales-order line by linked PO and item). Cancelled quantities are left out.
    """
    by_po = {o.number: o for o in orders}
    lines = []
    packages: list[Package] = []
    for notice in sorted(notices, key=lambda n: (n.po_number, n.document_id)):
        order = by_po[notice.po_number]
        for tracking in notice.tracking_numbers:
            package = Package(
                tracking_number=tracking,
                carrier=notice.carrier,
                description=f"{notice.vendor_id} {notice.po_number}",
            )
            if package not in packages:
                packages.append(package)
        for line in notice.lines:
            if not line.quantity_shipped:
                continue
            order_line = order.line(line.line)
            assert order_line is not None
            lines.append(
                ItemFulfillmentLine(
                    line_id=f"{notice.po_number}:{line.line}:{notice.document_id}",
                    order_line=line.line,
                    item=ItemRef(sku=order_line.sku),
                    quantity=line.quantity_shipped,
                    unit="EA",
                    serial_numbers=line.serial_numbers,
                    tracking_numbers=(line.line_tracking_number,) if line.line_tracking_number else (),
                )
            )
    return ItemFulfillment(
        source_system=SOURCE_SYSTEM,
        source_id=merged_id,
        number=merged_id,
        created_from=DocumentRef(type=DocumentType.SALES_ORDER, id=sales_order_id, number=sales_order_number),
        tran_date=max(n.ship_date for n in notices),
        ship_date=max(n.ship_date for n in notices),
        packages=tuple(packages),
        memo="Drop-ship: " + ", ".join(sorted({f"{n.vendor_id}/{n.po_number}" for n in notices})),
        lines=tuple(lines),
    )


def vendor_bill_from_invoice(
    invoice: VendorInvoice,
    order: OrderSnapshot,
    *,
    merged_id: str,
    bills: BillSettings | None = None,
    source: str = "",
) -> VendorBill:
    """The vendor bill for ``invoice``, created from its PO.

    Each charge (``freight``, ``charge_<type>``) becomes an expense line on the account ``bills`` maps
    its type to, the stated tax an expense line on ``bills.tax_account``, the terms NetSuite's Terms
    record ``bills.terms`` maps them to; the due date and total are the invoice's.

    :raises RecordValidationError: ``UNMAPPED_CHARGE`` / ``UNMAPPED_TERMS`` naming the invoice, file
        and charge type or terms; ``VALIDATION_ERROR`` when the stated total is not lines + charges + tax.
    """
    bills = bills or BillSettings()
    label = f"invoice {invoice.document_id} (file {source or '?'})"
    expense: list[VendorBillExpenseLine] = []
    for charge_type, amount in sorted(invoice.charges.items()):
        if not amount:
            continue
        account = bills.charge_accounts.get(charge_type)
        field = "freight" if charge_type == "freight" else f"charge_{charge_type}"
        if account is None:
            raise RecordValidationError(
                f"{label}: {field} = {normalize_decimal(amount)}: no expense account is configured for charge "
                f"type {charge_type!r} (po_sync_vendors bills.charge_accounts; configured: "
                f"{', '.join(sorted(bills.charge_accounts)) or 'none'})",
                code="UNMAPPED_CHARGE",
            )
        expense.append(
            VendorBillExpenseLine(
                line_id=f"charge:{charge_type}",
                account=RecordRef(id=account),
                amount=amount,
                memo=charge_type,
            )
        )
    if invoice.tax:
        if bills.tax_account is None:
            raise RecordValidationError(
                f"{label}: tax = {normalize_decimal(invoice.tax)}: no tax account is configured "
                "(po_sync_vendors bills.tax_account)",
                code="UNMAPPED_CHARGE",
            )
        expense.append(
            VendorBillExpenseLine(
                line_id="tax", account=RecordRef(id=bills.tax_account), amount=invoice.tax, memo="tax"
            )
        )
    terms = None
    if invoice.terms:
        term_id = bills.terms.get(invoice.terms)
        if term_id is None:
            raise RecordValidationError(
                f"{label}: terms = {invoice.terms!r}: not in po_sync_vendors bills.terms "
                f"(configured: {', '.join(sorted(bills.terms)) or 'none'})",
                code="UNMAPPED_TERMS",
            )
        terms = RecordRef(id=term_id, name=invoice.terms)
    try:
        return _bill(invoice, order, merged_id, tuple(expense), terms)
    except ValidationError as exc:  # e.g. a stated total that is not lines + charges + tax
        raise record_validation_error(exc, record=f"invoice {invoice.document_id}", source=source) from None


def _bill(
    invoice: VendorInvoice,
    order: OrderSnapshot,
    merged_id: str,
    expense: tuple[VendorBillExpenseLine, ...],
    terms: RecordRef | None,
) -> VendorBill:
    return VendorBill(
        source_system=SOURCE_SYSTEM,
        source_id=merged_id,
        number=invoice.invoice_number,
        vendor=RecordRef(id=order.vendor_ref, name=order.vendor_id),
        created_from=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.id, number=order.number),
        tran_date=invoice.invoice_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        terms=terms,
        item_lines=tuple(
            VendorBillItemLine(
                line_id=line.line,
                order_line=line.line,
                item=ItemRef(sku=line.sku),
                quantity=line.quantity,
                unit="EA",
                rate=line.rate,
                amount=line.amount,
            )
            for line in invoice.lines
        ),
        expense_lines=expense,
        total=invoice.total,
    )
