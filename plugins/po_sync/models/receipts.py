"""Goods movements: item receipts (goods in) and item fulfilments (goods out, incl. drop-ship).

A receipt comes from HotWax receiving, a vendor's file or an X-Series consignment and becomes a
NetSuite ``itemReceipt`` transformed from its PO or transfer order. A fulfilment is a vendor's
drop-ship shipment (recorded against the sales order) or the shipping side of a transfer order.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from po_sync.models.common import (
    Amount,
    CanonicalModel,
    CanonicalRecord,
    CurrencyCode,
    DocumentRef,
    DocumentType,
    ItemLineBase,
    LineId,
    NonEmptyStr,
    Quantity,
    RecordRef,
    SerialNumber,
    Timestamp,
    UnitCode,
    check_serial_numbers,
    check_unique_line_ids,
)
from po_sync.models.statuses import ItemFulfillmentShipStatus

__all__ = ["ItemFulfillment", "ItemFulfillmentLine", "ItemReceipt", "ItemReceiptLine", "Package"]


def _check_serials_across_lines(lines: tuple[ItemLineBase, ...]) -> None:
    """A serial number identifies one unit, so it can appear on one line of a document only."""
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        for position, serial in enumerate(getattr(line, "serial_numbers", ())):
            if serial in seen:
                raise PydanticCustomError(
                    "duplicate_serial",
                    "serial number also on lines.{other}",
                    {
                        "field": f"lines.{index}.serial_numbers.{position}",
                        "value": serial,
                        "other": seen[serial],
                    },
                )
            seen[serial] = index


class ItemReceiptLine(ItemLineBase):
    """One received line.

    :param order_line: the ``line_id`` of the PO / TO line this receives (NetSuite ``orderLine``).
        Required: a receipt line that cannot be tied to its order line cannot be transformed.
    :param location: where it was received, when not the receipt's location.
    :param rate: unit cost, when the source overrides the PO rate (NetSuite ``unitCostOverride``).
    :param serial_numbers: one per unit for serialised items (NetSuite ``inventoryAssignment``).
    :param lot_number: the lot, for lot-numbered items.
    :param bin: the bin received into, when bins are used.
    """

    order_line: LineId
    location: RecordRef | None = None
    rate: Amount | None = None
    serial_numbers: tuple[SerialNumber, ...] = ()
    lot_number: NonEmptyStr | None = None
    bin: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _check_serials(self) -> Self:
        check_serial_numbers(self.serial_numbers, self.quantity)
        return self


class ItemReceipt(CanonicalRecord):
    """An item receipt against a purchase order or a transfer order.

    :param number: the receipt's own document number, when the source has one.
    :param created_from: the PO or TO it receives (NetSuite ``createdFrom``).
    :param vendor: the PO's vendor, when known (absent for TO receipts).
    :param location: the receiving location.
    :param tran_date: the receipt date.
    :param currency: currency of line ``rate`` overrides; required when any line has one.
    :param memo: free text (HotWax writes "Item Receipt is created by HotWax").
    :param lines: at least one line, unique ``line_id``.
    :param received_at: when the goods were counted, if the source says.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.ITEM_RECEIPT

    number: NonEmptyStr | None = None
    created_from: DocumentRef
    vendor: RecordRef | None = None
    location: RecordRef | None = None
    tran_date: date
    currency: CurrencyCode | None = None
    memo: str | None = None
    lines: tuple[ItemReceiptLine, ...] = Field(min_length=1)
    received_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.created_from.type not in (DocumentType.PURCHASE_ORDER, DocumentType.TRANSFER_ORDER):
            raise PydanticCustomError(
                "created_from_type",
                "an item receipt is created from a purchase_order or a transfer_order",
                {"field": "created_from.type", "value": self.created_from.type.value},
            )
        check_unique_line_ids(self.lines, "lines")
        _check_serials_across_lines(self.lines)
        if self.currency is None:
            for index, line in enumerate(self.lines):
                if line.rate is not None:
                    raise PydanticCustomError(
                        "currency_missing",
                        "is required when a line has a rate (lines.{index}.rate)",
                        {"field": "currency", "value": None, "index": index},
                    )
        return self

    @property
    def total_quantity(self) -> Decimal:
        """Sum of line quantities (meaningful when the lines share a unit)."""
        return sum((line.quantity for line in self.lines), Decimal(0))


class Package(CanonicalModel):
    """One shipped package / container.

    :param tracking_number: the carrier's track-and-trace code (Onetrail ``TrackingReference``,
        S2P ``tracking_number``).
    :param carrier: the carrier name or code.
    :param weight: the package weight, in ``weight_unit``.
    :param weight_unit: required when ``weight`` is given.
    :param description: e.g. ``PALLET``, an SSCC, or the vendor's own label.
    """

    tracking_number: NonEmptyStr | None = None
    carrier: NonEmptyStr | None = None
    weight: Quantity | None = None
    weight_unit: UnitCode | None = None
    description: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _weight_needs_unit(self) -> Self:
        if self.weight is not None and self.weight_unit is None:
            raise PydanticCustomError(
                "unit_missing", "is required when weight is given", {"field": "weight_unit", "value": None}
            )
        return self


class ItemFulfillmentLine(ItemLineBase):
    """One shipped line.

    :param order_line: the ``line_id`` of the sales-order / TO / PO line it ships.
    :param location: the shipping location, when not the fulfilment's.
    :param serial_numbers: one per unit for serialised items.
    :param tracking_numbers: per-line tracking codes, when the vendor ships lines separately.
    """

    order_line: LineId
    location: RecordRef | None = None
    serial_numbers: tuple[SerialNumber, ...] = ()
    tracking_numbers: tuple[NonEmptyStr, ...] = ()

    @model_validator(mode="after")
    def _check_serials(self) -> Self:
        check_serial_numbers(self.serial_numbers, self.quantity)
        return self


class ItemFulfillment(CanonicalRecord):
    """An item fulfilment: a drop-ship shipment, or the shipping half of a transfer order.

    :param number: the vendor's shipment / despatch-advice number, or NetSuite ``tranId``.
    :param created_from: the sales order (drop-ship) or transfer order it fulfils.
    :param purchase_order: the PO behind a drop-ship fulfilment, which the vendor's file names.
    :param ship_status: Picked / Packed / Shipped; TO receipts need Shipped.
    :param tran_date: the fulfilment date.
    :param ship_date: when it left, if different.
    :param ship_method: the shipping method / service.
    :param packages: the packages with their tracking numbers.
    :param memo: free text.
    :param lines: at least one line, unique ``line_id``.
    :param shipped_at: the shipment timestamp, when the source has one.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.ITEM_FULFILLMENT

    number: NonEmptyStr | None = None
    created_from: DocumentRef
    purchase_order: DocumentRef | None = None
    ship_status: Annotated[ItemFulfillmentShipStatus, BeforeValidator(ItemFulfillmentShipStatus.parse)] = (
        ItemFulfillmentShipStatus.SHIPPED
    )
    tran_date: date
    ship_date: date | None = None
    ship_method: NonEmptyStr | None = None
    packages: tuple[Package, ...] = ()
    memo: str | None = None
    lines: tuple[ItemFulfillmentLine, ...] = Field(min_length=1)
    shipped_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.created_from.type not in (DocumentType.SALES_ORDER, DocumentType.TRANSFER_ORDER):
            raise PydanticCustomError(
                "created_from_type",
                "an item fulfillment is created from a sales_order or a transfer_order",
                {"field": "created_from.type", "value": self.created_from.type.value},
            )
        if self.purchase_order is not None and self.purchase_order.type is not DocumentType.PURCHASE_ORDER:
            raise PydanticCustomError(
                "document_ref_type",
                "must refer to a purchase_order",
                {"field": "purchase_order.type", "value": self.purchase_order.type.value},
            )
        check_unique_line_ids(self.lines, "lines")
        _check_serials_across_lines(self.lines)
        return self

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """Every tracking number on the packages and the lines, first occurrence first, no repeats."""
        found = [p.tracking_number for p in self.packages if p.tracking_number]
        found += [t for line in self.lines for t in line.tracking_numbers]
        return tuple(dict.fromkeys(found))

    @property
    def serial_numbers(self) -> tuple[str, ...]:
        """Every serial number shipped, in line order."""
        return tuple(s for line in self.lines for s in line.serial_numbers)
