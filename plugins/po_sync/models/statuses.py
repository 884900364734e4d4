"""Status enums, with NetSuite's display names as values and its one-letter codes beside them.

NetSuite shows a transaction's status two ways: ``status`` ``{"id": "Pending Receipt"}`` (the name)
and ``orderStatus`` ``{"id": "B"}`` (the letter); saved searches and SuiteQL filters write the letter
with a type prefix (``PurchOrd:B``). Every enum here takes any of the three through :meth:`parse`, so
mappers need no tables of their own, and serialises as the name, which is what people read in the
ledger and the UI. Sources: ``reference/netsuite.md`` §5 for purchase orders; the transfer-order,
fulfilment and bill letters are NetSuite's saved-search ids and are marked where not in the notes.
"""

from enum import StrEnum
from typing import Any, Self

from pydantic_core import PydanticCustomError

__all__ = [
    "ApprovalStatus",
    "ItemFulfillmentShipStatus",
    "PurchaseOrderStatus",
    "TransferOrderStatus",
    "VendorBillStatus",
]


class _CodedStatus(StrEnum):
    """A status whose value is NetSuite's display name and whose :attr:`code` is its letter."""

    code: str

    def __new__(cls, label: str, code: str) -> Self:
        obj = str.__new__(cls, label)
        obj._value_ = label
        obj.code = code
        return obj

    def __str__(self) -> str:
        return self.value

    @classmethod
    def search_prefix(cls) -> str:
        """The type prefix NetSuite writes before the letter in searches (``PurchOrd`` in ``PurchOrd:B``)."""
        return ""

    @classmethod
    def from_code(cls, code: str) -> Self:
        """The member for a letter code.

        :param code: the letter (``"B"``), as NetSuite's ``orderStatus.id`` gives it.
        :raises ValueError: for an unknown code.
        """
        for member in cls:
            if member.code == code:
                return member
        raise ValueError(f"unknown {cls.__name__} code {code!r}")

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Accept a member, a display name (any case), a letter code or ``Prefix:Letter``.

        Used as a pydantic before-validator; anything it does not recognise is refused with the list
        of valid names so the error message says what would have worked.

        :param value: the raw status from a source.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, dict) and "id" in value:  # NetSuite {"id": ..., "refName": ...}
            value = value["id"]
        if isinstance(value, str):
            text = value.strip()
            prefix, sep, rest = text.partition(":")
            if sep and prefix == cls.search_prefix():
                text = rest
            for member in cls:
                if text == member.code or text.casefold() == member.value.casefold():
                    return member
        raise PydanticCustomError(
            "status",
            "is not a {enum} (expected one of: {expected})",
            {"enum": cls.__name__, "expected": ", ".join(f"{m.value} ({m.code})" for m in cls)},
        )

    @classmethod
    def parse_optional(cls, value: Any) -> Any:
        """Like :meth:`parse`, but ``None`` and ``""`` (an unset NetSuite select) give ``None``.

        :param value: the raw status from a source.
        """
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return cls.parse(value)


class PurchaseOrderStatus(_CodedStatus):
    """Purchase-order status with Advanced Receiving on (``reference/netsuite.md`` §5).

    ``PENDING_RECEIPT`` is what HotWax exports; receipts move a PO to ``PARTIALLY_RECEIVED`` /
    ``PENDING_BILLING_PARTIALLY_RECEIVED`` and then ``PENDING_BILL``; bills to ``FULLY_BILLED``.
    With Advanced Receiving off NetSuite shows "Received" instead, whose letter is unverified, so it
    is deliberately not accepted: such a PO fails validation instead of being misfiled.
    """

    PENDING_SUPERVISOR_APPROVAL = ("Pending Supervisor Approval", "A")
    PENDING_RECEIPT = ("Pending Receipt", "B")
    REJECTED_BY_SUPERVISOR = ("Rejected by Supervisor", "C")
    PARTIALLY_RECEIVED = ("Partially Received", "D")
    PENDING_BILLING_PARTIALLY_RECEIVED = ("Pending Billing/Partially Received", "E")
    PENDING_BILL = ("Pending Bill", "F")
    FULLY_BILLED = ("Fully Billed", "G")
    CLOSED = ("Closed", "H")

    @classmethod
    def search_prefix(cls) -> str:
        return "PurchOrd"

    @property
    def is_receivable(self) -> bool:
        """Whether an item receipt may still be created against the PO (approved, not all received)."""
        return self in _PO_RECEIVABLE


_PO_RECEIVABLE = frozenset(
    {
        PurchaseOrderStatus.PENDING_RECEIPT,
        PurchaseOrderStatus.PARTIALLY_RECEIVED,
        PurchaseOrderStatus.PENDING_BILLING_PARTIALLY_RECEIVED,
    }
)


class TransferOrderStatus(_CodedStatus):
    """Transfer-order status (``TrnfrOrd:<letter>``).

    The notes confirm only that an item receipt needs the TO in *Pending Receipt*; the letters are
    NetSuite's saved-search ids and should be checked against the sandbox account.
    """

    PENDING_APPROVAL = ("Pending Approval", "A")
    PENDING_FULFILLMENT = ("Pending Fulfillment", "B")
    REJECTED = ("Rejected", "C")
    PARTIALLY_FULFILLED = ("Partially Fulfilled", "D")
    PENDING_RECEIPT_PARTIALLY_FULFILLED = ("Pending Receipt/Partially Fulfilled", "E")
    PENDING_RECEIPT = ("Pending Receipt", "F")
    RECEIVED = ("Received", "G")
    CLOSED = ("Closed", "H")

    @classmethod
    def search_prefix(cls) -> str:
        return "TrnfrOrd"


class ItemFulfillmentShipStatus(_CodedStatus):
    """Item-fulfilment ``shipStatus``; a TO can be received once its fulfilments are Shipped (``C``)."""

    PICKED = ("Picked", "A")
    PACKED = ("Packed", "B")
    SHIPPED = ("Shipped", "C")

    @classmethod
    def search_prefix(cls) -> str:
        return "ItemShip"


class VendorBillStatus(_CodedStatus):
    """Vendor-bill status (``VendBill:<letter>``). Letters not in the reference notes: verify."""

    OPEN = ("Open", "A")
    PAID_IN_FULL = ("Paid In Full", "B")
    CANCELLED = ("Cancelled", "C")
    PENDING_APPROVAL = ("Pending Approval", "D")
    REJECTED = ("Rejected", "E")

    @classmethod
    def search_prefix(cls) -> str:
        return "VendBill"


class ApprovalStatus(_CodedStatus):
    """SuiteFlow ``approvalStatus``, separate from the order status; its ids are digits."""

    PENDING_APPROVAL = ("Pending Approval", "1")
    APPROVED = ("Approved", "2")
    REJECTED = ("Rejected", "3")
