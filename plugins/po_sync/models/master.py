"""Master data the documents point at: vendors, items, locations. Deliberately small.

These exist so flows that sync or resolve master data (X-Series suppliers and products, HotWax
facilities) have a typed shape with a ledger identity; documents refer to them through
:class:`~po_sync.models.common.RecordRef` / :class:`~po_sync.models.common.ItemRef`.
"""

from typing import ClassVar, Self

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from po_sync.models.common import (
    Amount,
    CanonicalRecord,
    CurrencyCode,
    DocumentType,
    ItemRef,
    NonEmptyStr,
    RecordRef,
    UnitCode,
)

__all__ = ["Item", "Location", "Vendor"]


class Vendor(CanonicalRecord):
    """A supplier (NetSuite ``vendor``, X-Series ``supplier``).

    :param name: company name as the source shows it.
    :param currency: the vendor's default currency, when the source has one.
    :param email: where PO documents go, when the flow mails them.
    :param is_inactive: inactive vendors still resolve, so old documents keep mapping.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.VENDOR

    name: NonEmptyStr
    currency: CurrencyCode | None = None
    email: NonEmptyStr | None = None
    is_inactive: bool = False


class Item(CanonicalRecord):
    """An item / product (NetSuite ``inventoryItem``..., X-Series ``product``).

    :param sku: the code other systems match on (NetSuite ``itemId``, X-Series ``sku``).
    :param name: display name.
    :param unit: the base unit of measure quantities of this item are counted in.
    :param vendor_code: the vendor's own part number, for vendor files.
    :param purchase_price: last known purchase price, in ``currency``.
    :param currency: currency of ``purchase_price``; required when a price is given.
    :param is_serialized: whether receipts and fulfilments must carry serial numbers.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.ITEM

    sku: NonEmptyStr
    name: NonEmptyStr | None = None
    unit: UnitCode
    vendor_code: NonEmptyStr | None = None
    purchase_price: Amount | None = None
    currency: CurrencyCode | None = None
    is_serialized: bool = False
    is_inactive: bool = False

    @model_validator(mode="after")
    def _price_needs_currency(self) -> Self:
        if self.purchase_price is not None and self.currency is None:
            raise PydanticCustomError(
                "currency_missing",
                "is required when purchase_price is given",
                {"field": "currency", "value": None},
            )
        return self

    def ref(self) -> ItemRef:
        """The :class:`ItemRef` lines use to point at this item."""
        return ItemRef(id=self.source_id, sku=self.sku, name=self.name)


class Location(CanonicalRecord):
    """A location / outlet / facility (NetSuite ``location``, X-Series outlet, HotWax facility).

    :param name: display name.
    :param is_inactive: inactive locations still resolve for old documents.
    """

    entity_type: ClassVar[DocumentType] = DocumentType.LOCATION

    name: NonEmptyStr
    is_inactive: bool = False

    def ref(self) -> RecordRef:
        """The :class:`RecordRef` documents use to point at this location."""
        return RecordRef(id=self.source_id, name=self.name)
