"""Transfer orders: stock moved between locations (NetSuite ``transferOrder``, X-Series OUTLET)."""

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from po_sync.models.common import (
    Amount,
    CanonicalRecord,
    CurrencyCode,
    DocumentType,
    ItemLineBase,
    NonEmptyStr,
    Quantity,
    RecordRef,
    Timestamp,
    check_unique_line_ids,
)
from po_sync.models.statuses import TransferOrderStatus

__all__ = ["TransferOrder", "TransferOrderLine"]


class TransferOrderLine(ItemLineBase):
    """One line of a transfer order.

    :param quantity_fulfilled: shipped from the source location so far, in ``unit``.
    :param quantity_received: received at the destination so far; never more than was shipped.
    :param rate: transfer price, when the account uses one (X-Series ``cost``).
    """

    quantity_fulfilled: Quantity = Decimal(0)
    quantity_received: Quantity = Decimal(0)
    rate: Amount | None = None

    @model_validator(mode="after")
    def _received_after_shipped(self) -> Self:
        if self.quantity_received > self.quantity_fulfilled:
            raise PydanticCustomError(
                "received_more_than_shipped",
                "is more than quantity_fulfilled ({fulfilled}); a transfer can only receive what was shipped",
                {
                    "field": "quantity_received",
                    "value": str(self.quantity_received),
                    "fulfilled": str(self.quantity_fulfilled),
                },
            )
        return self


class TransferOrder(CanonicalRecord):
    """A transfer order between two locations.

    :param number: the document number (NetSuite ``tranId``, X-Series ``reference``).
    :param from_location: where stock leaves (X-Series ``source_outlet_id``).
    :param to_location: where stock arrives (X-Series ``outlet_id``); must differ from ``from_location``.
    :param tran_date: the order date.
    :param expected_receipt_date: when it is due at the destination (X-Series ``due_at``).
    :param status: NetSuite TO status; accepts the name, the letter or ``TrnfrOrd:X``.
    :param currency: currency of line rates; required when any line has one.
    :param memo: free text (X-Series ``name``, the "Note").
    :param lines: at least one line, unique ``line_id``.
    :param created_at: when the source created it.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.TRANSFER_ORDER

    number: NonEmptyStr
    from_location: RecordRef
    to_location: RecordRef
    tran_date: date
    expected_receipt_date: date | None = None
    status: Annotated[TransferOrderStatus, BeforeValidator(TransferOrderStatus.parse)]
    currency: CurrencyCode | None = None
    memo: str | None = None
    lines: tuple[TransferOrderLine, ...] = Field(min_length=1)
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        same_id = self.from_location.id is not None and self.from_location.id == self.to_location.id
        if same_id or self.from_location == self.to_location:
            raise PydanticCustomError(
                "same_location",
                "must differ from from_location",
                {"field": "to_location", "value": self.to_location.id or self.to_location.name},
            )
        check_unique_line_ids(self.lines, "lines")
        if self.currency is None:
            for index, line in enumerate(self.lines):
                if line.rate is not None:
                    raise PydanticCustomError(
                        "currency_missing",
                        "is required when a line has a rate (lines.{index}.rate)",
                        {"field": "currency", "value": None, "index": index},
                    )
        return self
