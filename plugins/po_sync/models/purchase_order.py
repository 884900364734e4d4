"""The canonical purchase order: what NetSuite, X-Series, HotWax, Onetrail and S2P POs map to."""

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BeforeValidator, Field, model_validator

from po_sync.models.common import (
    Amount,
    CanonicalRecord,
    CurrencyCode,
    DocumentRef,
    DocumentType,
    Money,
    NonEmptyStr,
    PricedLineBase,
    Quantity,
    RecordRef,
    Timestamp,
    _fill,
    check_line_amounts,
    check_total,
    check_unique_line_ids,
)
from po_sync.models.statuses import ApprovalStatus, PurchaseOrderStatus

__all__ = ["PurchaseOrder", "PurchaseOrderLine"]


class PurchaseOrderLine(PricedLineBase):
    """One item line of a PO (NetSuite ``item`` sublist entry).

    :param description: the line description printed on vendor documents.
    :param vendor_sku: the vendor's part number, which vendor files use instead of our SKU.
    :param quantity_received: received so far (NetSuite ``quantityReceived``), in ``unit``.
    :param quantity_billed: billed so far (NetSuite ``quantityBilled``), in ``unit``.
    :param location: the receiving location of this line when it differs from the PO's.
    :param expected_receipt_date: line-level expected date, when the source sets one.
    :param is_closed: closed lines take no more receipts (NetSuite ``isClosed``).
    """

    description: NonEmptyStr | None = None
    vendor_sku: NonEmptyStr | None = None
    quantity_received: Quantity = Decimal(0)
    quantity_billed: Quantity = Decimal(0)
    location: RecordRef | None = None
    expected_receipt_date: date | None = None
    is_closed: bool = False

    @property
    def quantity_remaining(self) -> Decimal:
        """What is still to be received (never below zero: over-receipt is allowed by NetSuite)."""
        return max(self.quantity - self.quantity_received, Decimal(0))


class PurchaseOrder(CanonicalRecord):
    """A purchase order.

    ``total`` is checked against the lines (sum of line amounts, each itself checked against
    ``quantity * rate``) within the currency's rounding tolerance, or computed when the source
    gives none; a PO whose numbers disagree is quarantined rather than sent to a vendor.

    :param number: the document number people use (NetSuite ``tranId``, e.g. ``PO45723``).
    :param vendor: who the PO is to.
    :param location: the receiving location (absent on drop-ship POs).
    :param subsidiary: the NetSuite subsidiary, for OneWorld accounts.
    :param tran_date: the PO date (NetSuite ``tranDate``).
    :param expected_receipt_date: when the goods are due (HotWax ``arrival-date``).
    :param status: the NetSuite status; accepts the name, the letter or ``PurchOrd:X``.
    :param approval_status: SuiteFlow approval, separate from ``status``.
    :param currency: ISO 4217 currency of every rate and amount on the PO.
    :param memo: free text.
    :param lines: the item lines, at least one, with unique ``line_id``.
    :param total: the stated total; computed from the lines when absent.
    :param is_drop_ship: ships straight to a customer; fulfilled, never received.
    :param created_from: the sales order a drop-ship / special-order PO came from.
    :param created_at: when the source created it.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.PURCHASE_ORDER

    number: NonEmptyStr
    vendor: RecordRef
    location: RecordRef | None = None
    subsidiary: RecordRef | None = None
    tran_date: date
    expected_receipt_date: date | None = None
    status: Annotated[PurchaseOrderStatus, BeforeValidator(PurchaseOrderStatus.parse)]
    approval_status: Annotated[ApprovalStatus | None, BeforeValidator(ApprovalStatus.parse_optional)] = None
    currency: CurrencyCode
    memo: str | None = None
    lines: tuple[PurchaseOrderLine, ...] = Field(min_length=1)
    total: Amount | None = None
    is_drop_ship: bool = False
    created_from: DocumentRef | None = None
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check_lines_and_total(self) -> Self:
        check_unique_line_ids(self.lines, "lines")
        computed = check_line_amounts(self.lines, self.currency, "lines")
        if self.total is None:
            _fill(self, "total", computed)
        else:
            check_total(self.total, computed, self.currency, "total", "the sum of the line amounts")
        return self

    @property
    def total_money(self) -> Money:
        """The total with its currency."""
        assert self.total is not None  # filled by validation
        return Money(amount=self.total, currency=self.currency)

    def line(self, line_id: str) -> PurchaseOrderLine:
        """The line with ``line_id`` (receipts and bills refer to PO lines by it).

        :param line_id: the source line key.
        :raises KeyError: when the PO has no such line.
        """
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(f"PO {self.number} has no line {line_id!r}")
