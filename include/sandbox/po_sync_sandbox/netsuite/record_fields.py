"""The fixed field definitions of every record type the sandbox serves: what the metadata catalog describes
and what writes are checked against (``X-NetSuite-PropertyNameValidation``).

NetSuite describes a record type from its definition, never from whatever one stored record happens to hold,
and rejects or drops body fields the definition lacks. One registry here feeds both, so the JSON Schema, the
OpenAPI document and the write check cannot disagree.

Extending: other parts of the sandbox add record types or fields with :func:`define_record`,
:func:`add_fields` and :func:`add_line_fields` (e.g. a new custom record, or a partner's ``custbody_`` field);
custom transaction body fields listed in :data:`~.schema.CUSTOM_BODY_FIELDS` join every transaction type
automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from po_sync_sandbox.netsuite.schema import CUSTOM_BODY_FIELDS, RECORD_TYPES, TRANSACTION

STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
DATE = "date"
DATETIME = "date-time"
REF = "ref"
SELECT = "select"  # a list value rendered as {id, refName} (status, orderStatus...)
SUBRECORD = "subrecord"  # an object whose inside is not checked (addresses, inventoryDetail...)
SUBLIST = "sublist"
KINDS = (STRING, INTEGER, NUMBER, BOOLEAN, DATE, DATETIME, REF, SELECT, SUBRECORD, SUBLIST)


@dataclass(frozen=True)
class Field:
    """One field of a record type or of a sublist line.

    :param name: the camelCase REST name (script id for custom fields).
    :param kind: one of :data:`KINDS`.
    :param title: the label NetSuite shows.
    :param read_only: only rendered on output (NetSuite ignores or rejects it on input).
    :param ref_type: for references, the record type the id belongs to.
    :param enum: allowed values of a string field.
    :param lines: for sublists, the line fields.
    :param custom: a custom field (``x-ns-custom-field``).
    """

    name: str
    kind: str
    title: str = ""
    read_only: bool = False
    ref_type: str | None = None
    enum: tuple[str, ...] = ()
    lines: tuple[Field, ...] = ()
    custom: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")

    @property
    def key(self) -> str:
        """Lower-case name (input field names are case-insensitive)."""
        return self.name.lower()

    def line_field(self, name: str) -> Field | None:
        """A line field of this sublist by any casing."""
        wanted = name.lower()
        return next((f for f in self.lines if f.key == wanted), None)


@dataclass
class RecordDefinition:
    """The fields of one record type, in the order the catalog lists them."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)  # lower-case name -> Field

    def get(self, name: str) -> Field | None:
        """A body field or sublist by any casing."""
        return self.fields.get(name.lower())

    def add(self, *new: Field) -> None:
        """Add or replace fields."""
        for f in new:
            self.fields[f.key] = f


def _f(name: str, kind: str = STRING, title: str = "", **kw: object) -> Field:
    return Field(name, kind, title or name, **kw)  # type: ignore[arg-type]


def _ro(name: str, kind: str = STRING, title: str = "", **kw: object) -> Field:
    return _f(name, kind, title, read_only=True, **kw)


def _ref(name: str, ref_type: str, title: str = "", **kw: object) -> Field:
    return _f(name, REF, title, ref_type=ref_type, **kw)


def _custom(name: str, kind: str = STRING, **kw: object) -> Field:
    return _f(name, kind, name, custom=True, **kw)


# -- shared groups --------------------------------------------------------------------------------

_RECORD_BASE = (
    _ro("id", STRING, "Internal ID"),
    _f("externalId", STRING, "External ID"),
)
_TRANSACTION_BODY = (
    *_RECORD_BASE,
    _f("tranId", STRING, "Transaction Number"),
    _ro("transactionNumber", STRING, "Transaction Number (system)"),
    _f("tranDate", DATE, "Date"),
    _ref("entity", "vendor", "Entity"),
    _ref("subsidiary", "subsidiary", "Subsidiary"),
    _ref("location", "location", "Location"),
    _ref("currency", "currency", "Currency"),
    _f("exchangeRate", NUMBER, "Exchange Rate"),
    _ref("department", "department", "Department"),
    _ref("class", "classification", "Class"),
    _ref("customForm", "customForm", "Custom Form"),
    _ref("employee", "employee", "Employee"),
    _f("memo", STRING, "Memo"),
    _f("email", STRING, "Email"),
    _f("otherRefNum", STRING, "Reference No."),
    _ref("createdFrom", "purchaseOrder", "Created From"),
    _ro("createdDate", DATETIME, "Date Created"),
    _ro("lastModifiedDate", DATETIME, "Date Last Modified"),
    _ro("status", SELECT, "Status"),
    _ro("total", NUMBER, "Total"),
    _ro("subtotal", NUMBER, "Subtotal"),
    _ro("taxTotal", NUMBER, "Tax Total"),
    _f("billingAddress", SUBRECORD, "Billing Address"),
    _f("shippingAddress", SUBRECORD, "Shipping Address"),
)
_ORDER_BODY = (
    _ro("orderStatus", SELECT, "Order Status"),
    _f("approvalStatus", SELECT, "Approval Status"),
    _ref("nextApprover", "employee", "Next Approver"),
    _f("dueDate", DATE, "Due Date"),
    _f("shipDate", DATE, "Ship Date"),
    _ref("shipMethod", "shipItem", "Ship Via"),
    _ref("terms", "term", "Terms"),
    _f("expectedReceiptDate", DATE, "Expected Receipt Date"),
)
_DROP_SHIP_BODY = (
    # a drop-ship / special-order PO: created from the sales order, shipped to its customer
    _ref("shipTo", "customer", "Ship To"),
    _f("dropShip", BOOLEAN, "Drop Ship"),
    _f("shipAddress", STRING, "Ship To Address"),
    _f("shipIsResidential", BOOLEAN, "Residential Address"),
    _ref("intercoTransaction", "salesOrder", "Paired Intercompany Transaction"),
)
_LINE_BASE = (
    _ro("line", INTEGER, "Line"),
    _ref("item", "inventoryItem", "Item"),
    _ro("itemType", SELECT, "Item Type"),
    _f("description", STRING, "Description"),
    _f("quantity", NUMBER, "Quantity"),
    _ref("units", "unitsType", "Units"),
    _f("rate", NUMBER, "Rate"),
    _f("amount", NUMBER, "Amount"),
    _ref("location", "location", "Location"),
    _ref("department", "department", "Department"),
    _ref("class", "classification", "Class"),
    _ref("taxCode", "salesTaxItem", "Tax Code"),
    _f("tax1Amt", NUMBER, "Tax Amount"),
    _f("inventoryDetail", SUBRECORD, "Inventory Detail"),
)
_ORDER_LINE = (
    *_LINE_BASE,
    _f("isClosed", BOOLEAN, "Closed"),
    _ro("isOpen", BOOLEAN, "Open"),
    _f("expectedReceiptDate", DATE, "Expected Receipt Date"),
    _f("vendorName", STRING, "Vendor Name"),
    _ro("linkedOrder", REF, "Linked Order", ref_type="purchaseOrder"),
    _ro("isDropShipment", BOOLEAN, "Drop Shipment"),
)
_PO_LINE = (
    *_ORDER_LINE,
    _ro("quantityReceived", NUMBER, "Received"),
    _ro("quantityBilled", NUMBER, "Billed"),
    _ref("customer", "customer", "Customer"),
    _ro("createdFrom", REF, "Created From", ref_type="salesOrder"),
)
_FULFIL_LINE = (
    _ro("quantityFulfilled", NUMBER, "Fulfilled"),
    _ro("quantityReceived", NUMBER, "Received"),
    _ro("quantityBilled", NUMBER, "Billed"),
)
_SO_LINE = (
    *_ORDER_LINE,
    *_FULFIL_LINE,
    _f("createPo", STRING, "Create PO", enum=("DropShip", "SpecOrd")),
    _ro("createdPo", REF, "Created PO", ref_type="purchaseOrder"),
    _ref("povendor", "vendor", "PO Vendor"),
)
_TO_LINE = (*_ORDER_LINE, *_FULFIL_LINE)
#: what the sandbox renders on every transaction line (the order's counters, zero on receipts and bills)
_LINE_COUNTERS = (
    _ro("quantityReceived", NUMBER, "Received"),
    _ro("quantityBilled", NUMBER, "Billed"),
    _ro("quantityFulfilled", NUMBER, "Fulfilled"),
    _ro("isClosed", BOOLEAN, "Closed"),
)
_RECEIVING_LINE = (
    *_LINE_BASE,
    *_LINE_COUNTERS,
    _f("orderLine", INTEGER, "Order Line"),
    _f("itemReceive", BOOLEAN, "Fulfill/Receive"),
    _ro("orderDoc", REF, "Order", ref_type="purchaseOrder"),
    _ro("quantityRemaining", NUMBER, "Remaining"),
    _ro("isDropShipment", BOOLEAN, "Drop Shipment"),
    _f("unitCostOverride", NUMBER, "Unit Cost Override"),
    _f("binNumbers", STRING, "Bin Numbers"),
)
_BILL_LINE = (
    *_LINE_BASE,
    *_LINE_COUNTERS,
    _f("orderLine", INTEGER, "Order Line"),
    _ro("orderDoc", REF, "Order", ref_type="purchaseOrder"),
    _ro("quantityRemaining", NUMBER, "Remaining"),
    _ref("customer", "customer", "Customer"),
)
_EXPENSE_LINE = (
    _ro("line", INTEGER, "Line"),
    _ref("account", "account", "Account"),
    _f("amount", NUMBER, "Amount"),
    _f("memo", STRING, "Memo"),
    _ref("department", "department", "Department"),
    _ref("class", "classification", "Class"),
    _ref("location", "location", "Location"),
    _ref("taxCode", "salesTaxItem", "Tax Code"),
    _f("tax1Amt", NUMBER, "Tax Amount"),
    _ref("customer", "customer", "Customer"),
)
_PACKAGE_LINE = (
    _f("packageTrackingNumber", STRING, "Tracking Number"),
    _f("packageDescr", STRING, "Package Description"),
    _f("packageWeight", NUMBER, "Package Weight"),
)

#: Custom transaction line fields the sandbox account has defined (the flows write or read them).
CUSTOM_LINE_FIELDS: tuple[Field, ...] = (
    # ServiceNow S2P line mapping
    _custom("custcol_s2p_purchase_line"),
    _custom("custcol_s2p_material_group"),
    _custom("custcol_s2p_asset_class"),
    _custom("custcol_s2p_account_assignment"),
    # Onetrail eInteract: the supplier's accept status per line and where the line came from
    _custom("custcol_onetrail_accept_status"),
    _custom("custcol_onetrail_source"),
)
#: Custom transaction body fields beyond :data:`~.schema.CUSTOM_BODY_FIELDS` (which are text there; the kinds
#: of the checkbox ones are given here).
CUSTOM_BODY_KINDS: dict[str, str] = {
    "custbody_hc_order_exported": BOOLEAN,
    "custbody_vend_synced": BOOLEAN,
    "custbody_onetrail_submit": BOOLEAN,
    "custbody_onetrail_allow_partial": BOOLEAN,
    "custbody_po_sync_exported": BOOLEAN,
}
EXTRA_CUSTOM_BODY_FIELDS: tuple[str, ...] = (
    "custbody_s2p_po_number",
    "custbody_s2p_blanket_order",
    "custbody_po_sync_exported",
)
_CUSTOM_ENTITY_FIELDS = (
    _custom("custentity_po_format"),
    _custom("custentity_onetrail_gln"),
    _custom("custentity_onetrail_enabled", BOOLEAN),
)


def _sublist(name: str, title: str, lines: tuple[Field, ...]) -> Field:
    return Field(name, SUBLIST, title, lines=lines)


def _transaction(name: str, *extra: Field, lines: tuple[Field, ...], entity: str | None) -> RecordDefinition:
    definition = RecordDefinition(name)
    definition.add(*_TRANSACTION_BODY)
    if entity:
        definition.add(_ref("entity", entity, "Vendor" if entity == "vendor" else "Customer"))
    else:
        definition.fields.pop("entity")
    definition.add(*extra)
    definition.add(_sublist("item", "Items", lines + CUSTOM_LINE_FIELDS))
    return definition


def _entity(name: str) -> RecordDefinition:
    definition = RecordDefinition(name)
    definition.add(
        *_RECORD_BASE,
        _f("entityId", STRING, "ID"),
        _f("companyName", STRING, "Company Name"),
        _f("isPerson", BOOLEAN, "Type"),
        _f("firstName", STRING, "First Name"),
        _f("lastName", STRING, "Last Name"),
        _f("email", STRING, "Email"),
        _f("phone", STRING, "Phone"),
        _f("isInactive", BOOLEAN, "Inactive"),
        _ref("subsidiary", "subsidiary", "Primary Subsidiary"),
        _ref("currency", "currency", "Currency"),
        _ref("terms", "term", "Terms"),
        _f("addressBook", SUBRECORD, "Address Book"),
        _ro("dateCreated", DATETIME, "Date Created"),
        _ro("createdDate", DATETIME, "Date Created"),
        _ro("lastModifiedDate", DATETIME, "Date Last Modified"),
        *_CUSTOM_ENTITY_FIELDS,
    )
    return definition


def _item(name: str) -> RecordDefinition:
    definition = RecordDefinition(name)
    definition.add(
        *_RECORD_BASE,
        _f("itemId", STRING, "Item Name/Number"),
        _f("displayName", STRING, "Display Name/Code"),
        _f("upcCode", STRING, "UPC Code"),
        _f("mpn", STRING, "MPN"),
        _f("vendorName", STRING, "Vendor Name/Code"),
        _f("cost", NUMBER, "Purchase Price"),
        _f("description", STRING, "Sales Description"),
        _f("purchaseDescription", STRING, "Purchase Description"),
        _f("isInactive", BOOLEAN, "Inactive"),
        _ref("vendor", "vendor", "Preferred Vendor"),
        _ref("subsidiary", "subsidiary", "Subsidiary"),
        _ref("location", "location", "Location"),
        _ro("createdDate", DATETIME, "Date Created"),
        _ro("lastModifiedDate", DATETIME, "Date Last Modified"),
    )
    return definition


def _custom_record(name: str, *fields: Field) -> RecordDefinition:
    definition = RecordDefinition(name)
    definition.add(
        *_RECORD_BASE,
        _f("name", STRING, "Name"),
        _f("isInactive", BOOLEAN, "Inactive"),
        _ref("owner", "employee", "Owner"),
        _ro("created", DATETIME, "Date Created"),
        _ro("lastModified", DATETIME, "Last Modified"),
        _ro("createdDate", DATETIME, "Date Created"),
        _ro("lastModifiedDate", DATETIME, "Date Last Modified"),
        *fields,
    )
    return definition


def _build() -> dict[str, RecordDefinition]:
    defs = [
        _transaction("purchaseOrder", *_ORDER_BODY, *_DROP_SHIP_BODY, lines=_PO_LINE, entity="vendor"),
        _transaction(
            "salesOrder",
            *_ORDER_BODY,
            _ref("entity", "customer", "Customer"),
            lines=_SO_LINE,
            entity="customer",
        ),
        _transaction(
            "transferOrder",
            *_ORDER_BODY,
            _ref("transferLocation", "location", "To Location"),
            _f("useItemCostAsTransferCost", BOOLEAN, "Use Item Cost as Transfer Cost"),
            _f("firmed", BOOLEAN, "Firmed"),
            lines=_TO_LINE,
            entity=None,
        ),
        _transaction(
            "itemReceipt",
            _f("landedCostMethod", STRING, "Landed Cost Method", enum=("WEIGHT", "QUANTITY", "VALUE")),
            _ref("itemFulfillment", "itemFulfillment", "Item Fulfillment"),
            _ref("inboundShipment", "inboundShipment", "Inbound Shipment"),
            _ro("orderId", STRING, "Order"),
            _ro("orderType", STRING, "Order Type"),
            _ref("transferLocation", "location", "To Location"),
            lines=_RECEIVING_LINE,
            entity="vendor",
        ),
        _transaction(
            "itemFulfillment",
            _f("shipStatus", STRING, "Status", enum=("A", "B", "C")),
            _ref("shipMethod", "shipItem", "Ship Via"),
            _f("shipAddress", STRING, "Ship To Address"),
            _ref("shipTo", "customer", "Ship To"),
            _ref("transferLocation", "location", "To Location"),
            _sublist("package", "Packages", _PACKAGE_LINE),
            lines=_RECEIVING_LINE,
            entity="customer",
        ),
        _transaction(
            "vendorBill",
            _ref("terms", "term", "Terms"),
            _f("dueDate", DATE, "Due Date"),
            _ref("account", "account", "Account"),
            _f("approvalStatus", SELECT, "Approval Status"),
            _f("discountDate", DATE, "Discount Date"),
            _f("discountAmount", NUMBER, "Discount Amount"),
            _ref("purchaseOrder", "purchaseOrder", "Purchase Order"),
            _sublist("expense", "Expenses", _EXPENSE_LINE),
            lines=_BILL_LINE,
            entity="vendor",
        ),
        _entity("vendor"),
        _entity("customer"),
        _item("inventoryItem"),
    ]
    location = RecordDefinition("location")
    location.add(
        *_RECORD_BASE,
        _f("name", STRING, "Name"),
        _ref("parent", "location", "Sub-location of"),
        _ref("subsidiary", "subsidiary", "Subsidiary"),
        _f("isInactive", BOOLEAN, "Inactive"),
        _f("mainAddress", SUBRECORD, "Address"),
        _f("locationType", SELECT, "Location Type"),
        _ro("createdDate", DATETIME, "Date Created"),
        _ro("lastModifiedDate", DATETIME, "Date Last Modified"),
    )
    defs.append(location)
    defs.append(
        _custom_record(
            "customrecord_onetrail_po_amendment",
            _custom("custrecord_onetrail_amend_po", REF, ref_type="purchaseOrder"),
            _custom("custrecord_onetrail_amend_line", INTEGER),
            _custom("custrecord_onetrail_amend_change"),
            _custom("custrecord_onetrail_amend_old"),
            _custom("custrecord_onetrail_amend_new"),
            _custom("custrecord_onetrail_amend_status"),
            _custom("custrecord_onetrail_amend_applied", BOOLEAN),
            _custom("custrecord_onetrail_amend_response"),
        )
    )
    defs.append(
        _custom_record(
            "customrecord_vend_po_sync",
            _custom("custrecord_vend_sync_order", REF, ref_type="purchaseOrder"),
            _custom("custrecord_vend_sync_flow"),
            _custom("custrecord_vend_sync_error"),
        )
    )
    defs.append(
        _custom_record(
            "customrecord_po_sync_vendor_config",
            _custom("custrecord_vendor", REF, ref_type="vendor"),
            _custom("custrecord_po_format", enum=("XML", "JSON", "CSV")),
        )
    )
    return {d.name.lower(): d for d in defs}


#: lower-case record type -> its definition (extend with the functions below)
DEFINITIONS: dict[str, RecordDefinition] = _build()


def define_record(definition: RecordDefinition) -> RecordDefinition:
    """Add (or replace) a record type's definition, e.g. a new custom record type."""
    DEFINITIONS[definition.name.lower()] = definition
    return definition


def add_fields(type_name: str, *fields: Field) -> None:
    """Add body fields to a record type (created bare if it has no definition yet)."""
    key = type_name.lower()
    definition = DEFINITIONS.get(key) or define_record(_custom_record(type_name))
    definition.add(*fields)


def add_line_fields(type_name: str, sublist: str, *fields: Field) -> None:
    """Add line fields to a sublist of a record type (the sublist is created if missing)."""
    definition = DEFINITIONS[type_name.lower()]
    current = definition.get(sublist) or _sublist(sublist, sublist, ())
    names = {f.key for f in fields}
    kept = tuple(f for f in current.lines if f.key not in names)
    definition.add(replace(current, lines=kept + tuple(fields)))


def custom_record_definition(script_id: str) -> RecordDefinition:
    """A custom record type with no registered fields: the standard custom-record fields only."""
    return _custom_record(script_id)


def definition_for(type_name: str) -> RecordDefinition:
    """The definition of a record type, custom transaction body fields of the account included.

    :param type_name: any casing; a ``customrecord...`` type without a definition gets the standard fields.
    """
    key = type_name.lower()
    base = DEFINITIONS.get(key)
    if base is None:
        base = custom_record_definition(key)
    rtype = RECORD_TYPES.get(key)
    if rtype is None or rtype.family != TRANSACTION:
        return base
    merged = RecordDefinition(base.name, dict(base.fields))
    for name in (*CUSTOM_BODY_FIELDS, *EXTRA_CUSTOM_BODY_FIELDS):
        if name.lower() not in merged.fields:
            merged.add(_custom(name, CUSTOM_BODY_KINDS.get(name, STRING)))
    return merged
