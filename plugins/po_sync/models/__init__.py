"""The canonical model: the shapes every flow maps to and from.

Mapping modules turn NetSuite, X-Series, HotWax, Onetrail, ServiceNow and vendor-file shapes into
these models and back; operators hash them (:meth:`CanonicalRecord.payload_hash`) for the ledger and
quarantine the ones that fail validation with :func:`describe_validation_error`'s message.

Rules every model follows: immutable (frozen, tuples for collections), unknown fields refused,
Decimal money and quantities (JSON strings on the way out), explicit currency and unit of measure,
``datetime.date`` for dates and timezone-aware ``datetime`` for timestamps.
"""

from po_sync.models.bills import VendorBill, VendorBillExpenseLine, VendorBillItemLine
from po_sync.models.common import (
    AMOUNT_TOLERANCE,
    Amount,
    CanonicalModel,
    CanonicalRecord,
    CurrencyCode,
    DocumentKey,
    DocumentRef,
    DocumentType,
    ItemRef,
    Money,
    NonEmptyStr,
    Quantity,
    RecordRef,
    Timestamp,
    UnitCode,
    amount_tolerance,
    canonical_json,
    currency_minor_units,
    normalize_decimal,
    parse_decimal,
)
from po_sync.models.errors import describe_validation_error, record_validation_error
from po_sync.models.master import Item, Location, Vendor
from po_sync.models.purchase_order import PurchaseOrder, PurchaseOrderLine
from po_sync.models.receipts import (
    ItemFulfillment,
    ItemFulfillmentLine,
    ItemReceipt,
    ItemReceiptLine,
    Package,
)
from po_sync.models.statuses import (
    ApprovalStatus,
    ItemFulfillmentShipStatus,
    PurchaseOrderStatus,
    TransferOrderStatus,
    VendorBillStatus,
)
from po_sync.models.transfer_order import TransferOrder, TransferOrderLine

__all__ = [
    "AMOUNT_TOLERANCE",
    "Amount",
    "ApprovalStatus",
    "CanonicalModel",
    "CanonicalRecord",
    "CurrencyCode",
    "DocumentKey",
    "DocumentRef",
    "DocumentType",
    "Item",
    "ItemFulfillment",
    "ItemFulfillmentLine",
    "ItemFulfillmentShipStatus",
    "ItemReceipt",
    "ItemReceiptLine",
    "ItemRef",
    "Location",
    "Money",
    "NonEmptyStr",
    "Package",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderStatus",
    "Quantity",
    "RecordRef",
    "Timestamp",
    "TransferOrder",
    "TransferOrderLine",
    "TransferOrderStatus",
    "UnitCode",
    "Vendor",
    "VendorBill",
    "VendorBillExpenseLine",
    "VendorBillItemLine",
    "VendorBillStatus",
    "amount_tolerance",
    "canonical_json",
    "currency_minor_units",
    "describe_validation_error",
    "normalize_decimal",
    "parse_decimal",
    "record_validation_error",
]
