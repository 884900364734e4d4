"""Vendor bills: vendor invoices (files, Onetrail INVOIC) on their way to NetSuite ``vendorBill``."""

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BeforeValidator, model_validator
from pydantic_core import PydanticCustomError

from po_sync.models.common import (
    Amount,
    CanonicalModel,
    CanonicalRecord,
    CurrencyCode,
    DocumentRef,
    DocumentType,
    LineId,
    Money,
    NonEmptyStr,
    PricedLineBase,
    RecordRef,
    _fill,
    check_line_amounts,
    check_total,
    check_unique_line_ids,
)
from po_sync.models.statuses import VendorBillStatus

__all__ = ["VendorBill", "VendorBillExpenseLine", "VendorBillItemLine"]


class VendorBillItemLine(PricedLineBase):
    """A billed item (NetSuite ``item`` sublist of the bill).

    :param order_line: the PO line it bills (NetSuite ``orderLine``), when billed from a PO.
    :param description: the vendor's line text.
    """

    order_line: LineId | None = None
    description: NonEmptyStr | None = None


class VendorBillExpenseLine(CanonicalModel):
    """A billed expense: freight, handling, fees (NetSuite ``expense`` sublist). No item, no quantity.

    :param line_id: the source line key; unique across item and expense lines of the bill.
    :param account: the expense account (or category) it posts to.
    :param amount: the signed amount in the bill's currency.
    :param memo: what the charge is.
    :param department: NetSuite department, when the account needs one.
    :param location: NetSuite location, when the account needs one.
    """

    line_id: LineId
    account: RecordRef
    amount: Amount
    memo: str | None = None
    department: RecordRef | None = None
    location: RecordRef | None = None


class VendorBill(CanonicalRecord):
    """A vendor bill, usually created from a PO.

    ``total`` = item line amounts + expense line amounts + ``tax_total``, checked within the
    currency's tolerance, or computed when the source gives none.

    :param number: the vendor's invoice number (NetSuite ``tranId`` on a bill).
    :param vendor: who billed.
    :param created_from: the PO it bills, when there is one.
    :param tran_date: the invoice date.
    :param due_date: when payment is due.
    :param status: NetSuite bill status, when read from NetSuite.
    :param currency: ISO 4217 currency of every amount on the bill.
    :param memo: free text.
    :param item_lines: billed items.
    :param expense_lines: billed expenses; a bill needs at least one line of either kind.
    :param tax_total: tax on the bill, when stated separately.
    :param total: the stated total; computed when absent.
    :param terms: NetSuite payment terms (``terms``), when the invoice states them.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.VENDOR_BILL

    number: NonEmptyStr
    vendor: RecordRef
    created_from: DocumentRef | None = None
    tran_date: date
    due_date: date | None = None
    status: Annotated[VendorBillStatus | None, BeforeValidator(VendorBillStatus.parse_optional)] = None
    currency: CurrencyCode
    memo: str | None = None
    item_lines: tuple[VendorBillItemLine, ...] = ()
    expense_lines: tuple[VendorBillExpenseLine, ...] = ()
    tax_total: Amount | None = None
    total: Amount | None = None
    terms: RecordRef | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.item_lines and not self.expense_lines:
            raise PydanticCustomError(
                "lines_missing",
                "a bill needs at least one item or expense line",
                {"field": "item_lines", "value": None},
            )
        if self.created_from is not None and self.created_from.type is not DocumentType.PURCHASE_ORDER:
            raise PydanticCustomError(
                "created_from_type",
                "a vendor bill is created from a purchase_order",
                {"field": "created_from.type", "value": self.created_from.type.value},
            )
        check_unique_line_ids(self.item_lines, "item_lines")
        check_unique_line_ids(self.expense_lines, "expense_lines")
        item_ids = {line.line_id for line in self.item_lines}
        for index, expense in enumerate(self.expense_lines):
            if expense.line_id in item_ids:
                raise PydanticCustomError(
                    "duplicate_line_id",
                    "line_id also used by an item line",
                    {"field": f"expense_lines.{index}.line_id", "value": expense.line_id},
                )
        computed = check_line_amounts(self.item_lines, self.currency, "item_lines")
        computed += sum((line.amount for line in self.expense_lines), Decimal(0))
        computed += self.tax_total or Decimal(0)
        if self.total is None:
            _fill(self, "total", computed)
        else:
            check_total(
                self.total, computed, self.currency, "total", "item + expense line amounts + tax_total"
            )
        return self

    @property
    def total_money(self) -> Money:
        """The total with its currency."""
        assert self.total is not None  # filled by validation
        return Money(amount=self.total, currency=self.currency)
