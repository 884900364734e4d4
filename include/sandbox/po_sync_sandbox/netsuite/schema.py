"""Record types the sandbox serves, their SuiteQL tables and the canonical spelling of field names."""

from __future__ import annotations

from dataclasses import dataclass

TRANSACTION = "transaction"
ENTITY = "entity"
ITEM = "item"
LOCATION = "location"
CUSTOM = "custom"


@dataclass(frozen=True)
class RecordType:
    """One REST record type.

    :param name: the camelCase REST name.
    :param family: which id sequence and SuiteQL table it lives in.
    :param code: the SuiteQL ``transaction.type`` (``PurchOrd``...) or item type.
    :param tranid_prefix: prefix of generated ``tranId`` values.
    """

    name: str
    family: str
    code: str | None = None
    tranid_prefix: str = ""

    @property
    def key(self) -> str:
        """The lower-case lookup key."""
        return self.name.lower()

    @property
    def sublists(self) -> tuple[str, ...]:
        """Sublists expanded by ``expandSubResources``."""
        if self.family != TRANSACTION:
            return ()
        return ("item", "expense") if self.key == "vendorbill" else ("item",)


RECORD_TYPES: dict[str, RecordType] = {
    t.key: t
    for t in (
        RecordType("purchaseOrder", TRANSACTION, "PurchOrd", "PO"),
        RecordType("salesOrder", TRANSACTION, "SalesOrd", "SO"),
        RecordType("transferOrder", TRANSACTION, "TrnfrOrd", "TO"),
        RecordType("itemReceipt", TRANSACTION, "ItemRcpt", "IR"),
        RecordType("itemFulfillment", TRANSACTION, "ItemShip", "IF"),
        RecordType("vendorBill", TRANSACTION, "VendBill", "VB"),
        RecordType("vendor", ENTITY),
        RecordType("customer", ENTITY),
        RecordType("inventoryItem", ITEM, "InvtPart"),
        RecordType("location", LOCATION),
    )
}
TYPE_BY_CODE = {t.code: t for t in RECORD_TYPES.values() if t.family == TRANSACTION}

STATUS_TEXT: dict[str, dict[str, str]] = {
    "PurchOrd": {
        "A": "Pending Supervisor Approval",
        "B": "Pending Receipt",
        "C": "Rejected by Supervisor",
        "D": "Partially Received",
        "E": "Pending Billing/Partially Received",
        "F": "Pending Bill",
        "G": "Fully Billed",
        "H": "Closed",
    },
    "SalesOrd": {
        "A": "Pending Approval",
        "B": "Pending Fulfillment",
        "C": "Cancelled",
        "D": "Partially Fulfilled",
        "E": "Pending Billing/Partially Fulfilled",
        "F": "Pending Billing",
        "G": "Billed",
        "H": "Closed",
    },
    "TrnfrOrd": {
        "A": "Pending Approval",
        "B": "Pending Fulfillment",
        "C": "Rejected",
        "D": "Partially Fulfilled",
        "E": "Pending Receipt/Partially Fulfilled",
        "F": "Pending Receipt",
        "G": "Received",
        "H": "Closed",
    },
    "VendBill": {"A": "Open", "B": "Paid In Full"},
    "ItemShip": {"A": "Picked", "B": "Packed", "C": "Shipped"},
    "ItemRcpt": {},
}

# lower-case spelling -> canonical camelCase (input field names are case-insensitive)
CANONICAL_FIELDS = {
    name.lower(): name
    for name in (
        "id",
        "externalId",
        "tranId",
        "tranDate",
        "entity",
        "location",
        "transferLocation",
        "memo",
        "subsidiary",
        "currency",
        "createdFrom",
        "createdDate",
        "lastModifiedDate",
        "dateCreated",
        "status",
        "orderStatus",
        "entityId",
        "companyName",
        "email",
        "isInactive",
        "itemId",
        "displayName",
        "name",
        "cost",
        "vendor",
        "item",
        "items",
        "line",
        "quantity",
        "rate",
        "amount",
        "description",
        "quantityReceived",
        "quantityBilled",
        "quantityFulfilled",
        "isClosed",
        "orderLine",
        "itemReceive",
        "orderDoc",
        "quantityRemaining",
        "isDropShipment",
        "createPo",
        "linkedOrder",
        "total",
        "shipStatus",
        "purchaseOrder",
        "landedCostMethod",
        "dropShip",
        "shipTo",
        "refName",
    )
}

# reference fields -> the family their id belongs to
REFERENCE_FAMILY = {
    "entity": ENTITY,
    "vendor": ENTITY,
    "shipTo": ENTITY,
    "item": ITEM,
    "location": LOCATION,
    "transferLocation": LOCATION,
    "createdFrom": TRANSACTION,
    "orderDoc": TRANSACTION,
    "linkedOrder": TRANSACTION,
    "purchaseOrder": TRANSACTION,
    "subsidiary": "subsidiary",
    "currency": "currency",
    "account": "account",
    "terms": "term",
}
FIXED_NAMES = {
    "subsidiary": {"1": "Parent Company"},
    "currency": {"1": "USA"},
    # a small chart of expense accounts for vendor bills' expense lines
    "account": {
        "54": "5100 Freight In",
        "55": "5110 Handling Charges",
        "56": "5120 Fuel Surcharge",
        "60": "6400 Sales and Use Tax",
        "601": "5130 Freight (EDI suppliers)",
        "602": "5140 Handling (EDI suppliers)",
    },
    # the accounting list "Terms"
    "term": {"1": "Net 15", "2": "Net 30", "3": "Net 60", "4": "Due on receipt"},
}

DDL = """
CREATE TABLE vendor (id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, email TEXT, externalid TEXT,
    isinactive TEXT DEFAULT 'F', datecreated TEXT, lastmodifieddate TEXT);
CREATE TABLE customer (id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, email TEXT, externalid TEXT,
    isinactive TEXT DEFAULT 'F', datecreated TEXT, lastmodifieddate TEXT);
CREATE TABLE item (id INTEGER PRIMARY KEY, itemid TEXT, displayname TEXT, itemtype TEXT, externalid TEXT,
    cost REAL, isinactive TEXT DEFAULT 'F', lastmodifieddate TEXT, mpn TEXT);
CREATE TABLE location (id INTEGER PRIMARY KEY, name TEXT, externalid TEXT, isinactive TEXT DEFAULT 'F');
CREATE TABLE "transaction" (id INTEGER PRIMARY KEY, tranid TEXT, type TEXT, status TEXT, trandate TEXT,
    entity INTEGER, location INTEGER, transferlocation INTEGER, memo TEXT, externalid TEXT, createddate TEXT,
    lastmodifieddate TEXT, createdfrom INTEGER, foreigntotal REAL, currency INTEGER, subsidiary INTEGER);
CREATE TABLE transactionline (uniquekey INTEGER PRIMARY KEY, "transaction" INTEGER, id INTEGER,
    linesequencenumber INTEGER, mainline TEXT, taxline TEXT, item INTEGER, quantity REAL, quantityshiprecv REAL,
    quantitybilled REAL, rate REAL, netamount REAL, isclosed TEXT, location INTEGER, createdfrom INTEGER,
    isdropship TEXT, memo TEXT, expectedreceiptdate TEXT);
CREATE INDEX transaction_type ON "transaction"(type, id);
CREATE INDEX transaction_lastmod ON "transaction"(lastmodifieddate);
CREATE INDEX transactionline_txn ON transactionline("transaction", linesequencenumber);
CREATE TABLE ns_record (type TEXT NOT NULL, id INTEGER NOT NULL, externalid TEXT, body TEXT NOT NULL,
    PRIMARY KEY (type, id));
CREATE INDEX ns_record_eid ON ns_record(type, externalid);
"""
#: Custom transaction body fields the sandbox account has defined (SuiteQL exposes each as a
#: ``transaction`` column, NULL until set). HotWax's NetSuite bundle installs the first one; other
#: ``custbody*`` fields get their column the first time a record is written with them.
CUSTOM_BODY_FIELDS = (
    "custbody_hc_order_exported",
    # the Vend (X-Series) proposal's "Vend Sync" subtab: consignment id, synced box, last error
    "custbody_vend_consignment_id",
    "custbody_vend_synced",
    "custbody_vend_error",
    # Onetrail eInteract's PO fields (submission flag and status, special bid/deal, partial shipments,
    # the supplier's accept status)
    "custbody_onetrail_submit",
    "custbody_onetrail_submit_status",
    "custbody_onetrail_submit_error",
    "custbody_onetrail_special_order_type",
    "custbody_onetrail_special_reference",
    "custbody_onetrail_allow_partial",
    "custbody_onetrail_accept_status",
)
#: Custom record types the sandbox account has defined: eInteract's "Onetrail.net PO Amendment", and the
#: Vend proposal's purchase/transfer order sync error record (served only with the knob
#: ``vend_error_record``: an account without it answers as if the type did not exist).
CUSTOM_RECORD_TYPES = ("customrecord_onetrail_po_amendment", "customrecord_vend_po_sync")

SUITEQL_TABLES = ("vendor", "customer", "item", "location", "transaction", "transactionline")
