"""Onetrail documents as files: Onetrail XML (the default) and EDIFACT D96A (a per-partner option).

Five document kinds travel over Onetrail's sFTP folders (``external-systems.md`` §2.2, §2.3):

==============  ==============================================  ==================  ===========
kind            Onetrail XML root                               EDIFACT             folder
==============  ==============================================  ==================  ===========
order           ``Pip3A4PurchaseOrderRequest``                  ORDERS D96A         In/Orders
(N)ACK          ``OTACK`` / ``OTNACK`` (``Exceptions/...``)     —                   Out/RC
order response  ``Pip3A4PurchaseOrderConfirmation``             ORDRSP D96A         Out/OrdRsp
despatch advice ``Pip3B2AdvanceShipmentNotification``           DESADV D96A         Out/Desadv
invoice         ``invoices/invoice`` (Onetrail INV format)      INVOIC D96A         Out/Invoice
==============  ==============================================  ==================  ===========

The roots, ``GlobalDocumentFunctionCode``, ``fromRole`` / ``toRole``, ``billTo`` / ``ShipTo``,
``ProductLineItem``, the (N)ACK's ``Exceptions/ExceptionDescription/errorClassification/
GlobalMessageExceptionCode``, the response's ``scheduledEvent/TransportationEvent`` dates, the
despatch advice's ``shippingContainerIdentifier/ProprietarySerialIdentifier`` (SSCC), ``PackageType``,
``TrackingReference`` and ``ShippingContainerItem``, and the invoice's ``amountTypeCode`` /
``invoiceTypeCode`` / ``currency`` / ``id`` attributes, ``invoiceDate`` and typed ``addresses`` are the
published names. Where the reference leaves an element open (the per-unit serial number element is
unverified, for one) the name chosen here is written in :data:`UNVERIFIED_NAMES`; a partner whose
files differ is a format change in one place.

EDIFACT goes through :mod:`pydifact` (segments, escaping, UNB/UNH/UNT/UNZ envelopes); the segment
choices follow the reference's DESADV sample (``BGM+351``, ``RFF+CN`` consignment, ``NAD+SU/BY/ST``
GLNs with ``::9``, ``CPS``/``PAC``, ``LIN``, ``PIA ...:VN/:EN``, ``QTY+12``, ``RFF+ON`` PO number,
``RFF+LI`` PO line) and EANCOM (``GIN+BJ`` SSCC, ``GIN+BN`` serial numbers, ``QTY+21/12/47``,
``PRI+AAA``, ``MOA``, ``ALC``, ``TAX``, ``PAT``). Onetrail's own flags (order type, bid reference,
partial shipment, drop-ship, order status) ride in ``FTX+ZZZ+++<name>:<value>``.

Parsing refuses with :class:`OnetrailFormatError` (code ``MALFORMED_XML``, ``HOSTILE_XML``,
``MALFORMED_EDIFACT``, ``FILE_TOO_LARGE``, ``NOT_UTF8``, ``WRONG_DOCUMENT``, ``MISSING_FIELD``,
``BAD_VALUE``), naming the file and the field: XML with a DTD or entities (``defusedxml``), files over
``max_bytes``, anything not UTF-8, and documents missing what the flows need.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from po_sync.exceptions import RecordValidationError

__all__ = [
    "ONETRAIL_NS",
    "RESPONSE_NS",
    "Acknowledgement",
    "AckException",
    "Address",
    "Container",
    "DespatchAdvice",
    "DespatchLine",
    "DocumentFormat",
    "Invoice",
    "InvoiceCharge",
    "InvoiceLine",
    "OnetrailFormatError",
    "OrderDocument",
    "OrderLine",
    "OrderResponse",
    "ResponseLine",
    "check_xml_names",
    "detect_format",
    "dump",
    "load",
    "use_xml_names",
    "xml_names",
]

DocumentFormat = Literal["xml", "edifact"]
Kind = Literal["order", "ack", "order_response", "despatch_advice", "invoice"]

ONETRAIL_NS = "http://www.onetrail.net"
#: The order-response sample declares ``xmlns:tns="OTRSP"``.
RESPONSE_NS = "OTRSP"
OK_CODE = "000E"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
#: Element names this module had to choose where the reference is silent (rechecked against
#: ``shared/reference/external-systems.md`` §2 and the public RosettaNet 3A4 message guidelines: the
#: reference publishes none of them; Onetrail's XSDs, ``OT3A4_PurchaseOrderRequest-V3_2.xsd`` and
#: kin, were not retrievable). RosettaNet's 3A4 "PurchaseOrderAcceptance" guideline V1.1
#: (lists.ebxml.org/archives/ebxml-poc/200008/bin00006.bin, lines 11 and 27) does use
#: ``GlobalPurchaseOrderStatusCode`` for the header status, and for the line status too, where this
#: module writes ``GlobalLineItemStatusCode``: Onetrail XML is RosettaNet-derived, not RosettaNet, so
#: both stay here. Each is a knob: the settings' ``xml_names`` renames it (:func:`xml_names`).
UNVERIFIED_NAMES = {
    "SerialNumber": "per-unit serial numbers inside ShippingContainerItem (reference: unverified)",
    "isPartialShipmentAllowed": "the order's partial-shipment indicator",
    "GlobalPurchaseOrderTypeCode": "Standard / SpecialBid / SpecialDeal",
    "SpecialBidReference": "the special bid / deal reference",
    "GlobalPurchaseOrderStatusCode": "Open / Delete on an order; the response's header code",
    "GlobalLineItemStatusCode": "line code on orders (Open / Delete) and responses (RosettaNet 3A4: GlobalPurchaseOrderStatusCode)",
}

#: This context's renames of :data:`UNVERIFIED_NAMES` (see :func:`xml_names`).
_NAMES: ContextVar[Mapping[str, str] | None] = ContextVar("onetrail_xml_names", default=None)
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,99}$")


def check_xml_names(overrides: Mapping[str, str]) -> dict[str, str]:
    """``overrides`` checked: keys from :data:`UNVERIFIED_NAMES`, values plain XML element names."""
    unknown = sorted(set(overrides) - set(UNVERIFIED_NAMES))
    if unknown:
        raise ValueError(
            f"xml_names: {unknown} are not renamable; expected some of {sorted(UNVERIFIED_NAMES)}"
        )
    bad = sorted(v for v in overrides.values() if not _NCNAME.fullmatch(str(v)))
    if bad:
        raise ValueError(f"xml_names: {bad} are not XML element names")
    return {str(k): str(v) for k, v in overrides.items()}


@contextmanager
def xml_names(overrides: Mapping[str, str]) -> Iterator[None]:
    """Write and read Onetrail XML with the unverified element names renamed, in this context
    (this thread; a thread started inside starts without them)."""
    token = _NAMES.set(check_xml_names(overrides))
    try:
        yield
    finally:
        _NAMES.reset(token)


def use_xml_names(overrides: Mapping[str, str]) -> None:
    """Use ``overrides`` from now on in this context (a task sets its settings' once, at its start)."""
    _NAMES.set(check_xml_names(overrides))


def _n(name: str) -> str:
    """The element name in use for ``name`` (one of :data:`UNVERIFIED_NAMES`)."""
    return (_NAMES.get() or {}).get(name, name)


class OnetrailFormatError(RecordValidationError):
    """A file cannot be read as the Onetrail document it should be (the code says why)."""

    default_code = "MALFORMED_FILE"


# ============================================================================================ model


@dataclass(frozen=True)
class Address:
    """A postal address (drop-ship consignee)."""

    name: str
    street: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class OrderLine:
    """One ``ProductLineItem`` of an order: the buyer's line number, MPN, quantity and price."""

    line_number: str
    mpn: str
    quantity: Decimal
    unit_price: Decimal
    vendor_part: str | None = None
    gtin: str | None = None
    description: str | None = None
    requested_date: date | None = None
    status: str = "Open"  # Open | Delete (a line cancelled in a Change document)


@dataclass(frozen=True)
class OrderDocument:
    """A purchase order (``Request``) or its change / cancellation (``Change``)."""

    document_id: str
    function: str  # Request | Change
    po_number: str
    buyer_gln: str
    seller_gln: str
    bill_to_gln: str
    ship_to_gln: str
    order_date: date
    currency: str
    lines: tuple[OrderLine, ...]
    order_type: str = "Standard"  # Standard | SpecialBid | SpecialDeal
    special_reference: str | None = None
    partial_shipments: bool = False
    drop_ship: bool = False
    ship_to_address: Address | None = None
    status: str = "Open"  # Open | Delete (the whole order cancelled)
    created_at: datetime | None = None


@dataclass(frozen=True)
class AckException:
    """One ``Exceptions/ExceptionDescription`` of a (N)ACK."""

    code: str
    type: str = "Receipt Acknowledgement Exception"
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.code == OK_CODE


@dataclass(frozen=True)
class Acknowledgement:
    """Onetrail's technical (N)ACK of a document it received."""

    document_id: str
    original_document_id: str
    exceptions: tuple[AckException, ...] = ()

    @property
    def positive(self) -> bool:
        return all(e.ok for e in self.exceptions)

    @property
    def errors(self) -> tuple[AckException, ...]:
        return tuple(e for e in self.exceptions if not e.ok)


@dataclass(frozen=True)
class ResponseLine:
    """One line of an order response (a split line appears twice with the same ``line_number``)."""

    line_number: str | None  # the buyer's line; None on a line the supplier added
    status: str  # Accept | Change | Add | Reject | Delete, or the UBL codes 1 / 3 / 5 / 7 / 9 / 42
    mpn: str | None = None
    vendor_part: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    ship_date: date | None = None
    delivery_date: date | None = None


@dataclass(frozen=True)
class OrderResponse:
    """``Pip3A4PurchaseOrderConfirmation`` / ORDRSP: the supplier's answer to an order."""

    document_id: str
    po_number: str
    status: str  # Accept | Change | Reject | Delete, or UBL AB / AP / RE / CA
    buyer_gln: str
    seller_gln: str
    issued_at: datetime
    lines: tuple[ResponseLine, ...] = ()
    seller_order_number: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class DespatchLine:
    """One ``ShippingContainerItem``: what of which PO line is in the container."""

    po_number: str
    line_number: str
    quantity: Decimal
    mpn: str | None = None
    vendor_part: str | None = None
    gtin: str | None = None
    serial_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Container:
    """A shipping container: SSCC (18 digits preferred, else the shipper's code, else ``0``)."""

    sscc: str
    lines: tuple[DespatchLine, ...]
    package_type: str = "PACKAGE"
    tracking: str | None = None


@dataclass(frozen=True)
class DespatchAdvice:
    """``Pip3B2AdvanceShipmentNotification`` / DESADV."""

    document_id: str
    despatch_number: str
    buyer_gln: str
    seller_gln: str
    ship_to_gln: str
    ship_date: date
    containers: tuple[Container, ...]
    delivery_date: date | None = None
    issued_at: datetime | None = None

    @property
    def lines(self) -> list[DespatchLine]:
        return [line for c in self.containers for line in c.lines]

    @property
    def po_numbers(self) -> list[str]:
        return sorted({line.po_number for line in self.lines})

    def tracking_numbers(self) -> list[str]:
        seen: dict[str, None] = {}
        for container in self.containers:
            if container.tracking:
                seen.setdefault(container.tracking, None)
        return list(seen)


@dataclass(frozen=True)
class InvoiceLine:
    """An invoiced item: the PO line, quantity, unit price and tax."""

    line_number: str
    po_line_number: str
    quantity: Decimal
    unit_price: Decimal
    tax_amount: Decimal = Decimal(0)
    mpn: str | None = None
    description: str | None = None

    @property
    def net_amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class InvoiceCharge:
    """An additional charge (freight, handling...), by the supplier's charge type."""

    charge_type: str
    amount: Decimal
    tax_amount: Decimal = Decimal(0)
    description: str | None = None


@dataclass(frozen=True)
class Invoice:
    """One ``invoice`` of the Onetrail INV format / INVOIC."""

    invoice_number: str
    po_number: str
    currency: str
    invoice_date: date
    due_date: date | None
    seller_gln: str
    buyer_gln: str
    lines: tuple[InvoiceLine, ...]
    total: Decimal
    charges: tuple[InvoiceCharge, ...] = ()
    tax_total: Decimal = Decimal(0)
    payment_terms: str | None = None
    invoice_type: str = "Invoice"  # Invoice | CreditNote
    amount_type: str = "Debit"  # Debit | Credit
    ship_to_gln: str | None = None

    @property
    def net_total(self) -> Decimal:
        return sum((line.net_amount for line in self.lines), Decimal(0)) + sum(
            (c.amount for c in self.charges), Decimal(0)
        )


Document = OrderDocument | Acknowledgement | OrderResponse | DespatchAdvice | list[Invoice]

# ========================================================================================= helpers


def _ts(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%dT%H%M%S")
    return value.strftime("%Y%m%dT000000")


def _dec(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return text


def _parse_ts(value: str, where: str) -> datetime:
    text = value.strip()
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y%m%d%H%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise OnetrailFormatError(f"{where} = {value!r}: not a date (YYYYMMDDTHHMMSS)", code="BAD_VALUE")


def _parse_dec(value: str, where: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise OnetrailFormatError(f"{where} = {value!r}: not a number", code="BAD_VALUE") from None
    if not number.is_finite():
        raise OnetrailFormatError(f"{where} = {value!r}: not a finite number", code="BAD_VALUE")
    return number


def detect_format(data: bytes) -> DocumentFormat:
    """``edifact`` for an interchange (``UNA`` / ``UNB`` first), else ``xml``."""
    head = data.lstrip(b"\xef\xbb\xbf \r\n\t")[:3]
    return "edifact" if head in (b"UNA", b"UNB") else "xml"


def _check_bytes(data: bytes, name: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise OnetrailFormatError(
            f"{name}: {len(data)} bytes, more than the {max_bytes}-byte limit", code="FILE_TOO_LARGE"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OnetrailFormatError(
            f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})", code="NOT_UTF8"
        ) from None


# ============================================================================================= XML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _X:
    """A namespace-blind view of an element for reading, naming the file in every error."""

    def __init__(self, element: Element, name: str, path: str) -> None:
        self.el = element
        self.name = name
        self.path = path

    def children(self, tag: str) -> Iterator[_X]:
        for index, child in enumerate(c for c in self.el if _local(c.tag) == tag):
            yield _X(child, self.name, f"{self.path}/{tag}[{index + 1}]")

    def child(self, tag: str) -> _X | None:
        return next(self.children(tag), None)

    def find(self, path: str) -> _X | None:
        node: _X | None = self
        for part in path.split("/"):
            node = node.child(part) if node is not None else None
        return node

    def text(self, path: str, *, required: bool = True) -> str | None:
        node = self.find(path)
        value = (node.el.text or "").strip() if node is not None else ""
        if not value:
            if required:
                raise OnetrailFormatError(f"{self.name}: {self.path}/{path} is missing", code="MISSING_FIELD")
            return None
        return value

    def req(self, path: str) -> str:
        value = self.text(path)
        assert value is not None
        return value

    def dec(self, path: str, *, required: bool = True) -> Decimal | None:
        value = self.text(path, required=required)
        return None if value is None else _parse_dec(value, f"{self.name}: {self.path}/{path}")

    def date(self, path: str, *, required: bool = True) -> date | None:
        value = self.text(path, required=required)
        return None if value is None else _parse_ts(value, f"{self.name}: {self.path}/{path}").date()

    def attr(self, name: str, *, required: bool = True) -> str | None:
        value = (self.el.get(name) or "").strip()
        if not value and required:
            raise OnetrailFormatError(f"{self.name}: {self.path}/@{name} is missing", code="MISSING_FIELD")
        return value or None


#: Deeper than this an XML file is refused as hostile: Onetrail's documents nest about a dozen levels,
#: and a tree thousands deep only serves to exhaust a recursive reader.
MAX_XML_DEPTH = 64


def _depth(root: Element) -> int:
    """How deep ``root``'s tree nests (walked without recursion)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node)
    return deepest


def _parse_xml(data: bytes, name: str, max_bytes: int) -> Element:
    _check_bytes(data, name, max_bytes)
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        if (depth := _depth(root)) > MAX_XML_DEPTH:
            raise OnetrailFormatError(
                f"{name}: refused: elements nested {depth} levels deep, more than the {MAX_XML_DEPTH} allowed",
                code="HOSTILE_XML",
            )
        return root
    except DefusedXmlException as exc:
        raise OnetrailFormatError(
            f"{name}: refused: the XML declares a DTD, entities or external references ({type(exc).__name__})",
            code="HOSTILE_XML",
        ) from None
    except SafeET.ParseError as exc:
        raise OnetrailFormatError(f"{name}: not well-formed XML ({exc})", code="MALFORMED_XML") from None


def _sub(parent: Element, tag: str, text: str | None = None, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _role(parent: Element, tag: str, gln: str, role: str) -> None:
    node = _sub(parent, tag)
    description = _sub(node, "PartnerRoleDescription")
    _sub(description, "GlobalPartnerRoleClassificationCode", role)
    _sub(_sub(description, "PartnerDescription"), "GlobalBusinessIdentifier", gln)


def _read_role(doc: _X, tag: str) -> str:
    return doc.req(f"{tag}/PartnerRoleDescription/PartnerDescription/GlobalBusinessIdentifier")


def _product(parent: Element, mpn: str | None, vendor_part: str | None, gtin: str | None) -> None:
    node = _sub(parent, "ProductIdentification")
    if mpn:
        _sub(node, "ManufacturerPartNumber", mpn)
    if vendor_part:
        _sub(node, "VendorPartNumber", vendor_part)
    if gtin:
        _sub(node, "GlobalProductIdentifier", gtin)


def _read_product(node: _X) -> tuple[str | None, str | None, str | None]:
    return (
        node.text("ProductIdentification/ManufacturerPartNumber", required=False),
        node.text("ProductIdentification/VendorPartNumber", required=False),
        node.text("ProductIdentification/GlobalProductIdentifier", required=False),
    )


def _xml_bytes(root: Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def _order_xml(doc: OrderDocument) -> bytes:
    root = Element("Pip3A4PurchaseOrderRequest", {"xmlns": ONETRAIL_NS})
    _sub(root, "thisDocumentIdentifier", doc.document_id)
    _sub(root, "thisDocumentGenerationDateTime", _ts(doc.created_at or doc.order_date))
    _sub(root, "GlobalDocumentFunctionCode", doc.function)
    _role(root, "fromRole", doc.buyer_gln, "Buyer")
    _role(root, "toRole", doc.seller_gln, "Seller")
    po = _sub(root, "PurchaseOrder")
    _sub(po, "PurchaseOrderIdentifier", doc.po_number)
    _sub(po, _n("GlobalPurchaseOrderStatusCode"), doc.status)
    _sub(po, _n("GlobalPurchaseOrderTypeCode"), doc.order_type)
    if doc.special_reference:
        _sub(po, _n("SpecialBidReference"), doc.special_reference)
    _sub(po, _n("isPartialShipmentAllowed"), "true" if doc.partial_shipments else "false")
    _sub(po, "isDropShip", "true" if doc.drop_ship else "false")
    _sub(po, "OrderDate", _ts(doc.order_date))
    _sub(po, "GlobalCurrencyCode", doc.currency)
    _sub(_sub(po, "billTo"), "GlobalBusinessIdentifier", doc.bill_to_gln)
    ship_to = _sub(po, "ShipTo")
    _sub(ship_to, "GlobalBusinessIdentifier", doc.ship_to_gln)
    if doc.ship_to_address is not None:
        address = _sub(ship_to, "PhysicalAddress")
        a = doc.ship_to_address
        for tag, value in (
            ("BusinessName", a.name),
            ("AddressLine1", a.street),
            ("CityName", a.city),
            ("PostalCode", a.postal_code),
            ("GlobalCountryCode", a.country),
        ):
            _sub(address, tag, value)
    for line in doc.lines:
        item = _sub(po, "ProductLineItem")
        _sub(item, "LineNumber", line.line_number)
        _sub(item, _n("GlobalLineItemStatusCode"), line.status)
        _product(item, line.mpn, line.vendor_part, line.gtin)
        if line.description:
            _sub(item, "ProductDescription", line.description)
        _sub(item, "OrderQuantity", _dec(line.quantity))
        _sub(item, "UnitPrice", _dec(line.unit_price))
        if line.requested_date:
            _sub(item, "RequestedShipDate", _ts(line.requested_date))
    return _xml_bytes(root)


def _order_from_xml(doc: _X) -> OrderDocument:
    po = doc.find("PurchaseOrder")
    if po is None:
        raise OnetrailFormatError(f"{doc.name}: {doc.path}/PurchaseOrder is missing", code="MISSING_FIELD")
    lines = []
    for item in po.children("ProductLineItem"):
        mpn, vendor_part, gtin = _read_product(item)
        if not mpn:
            raise OnetrailFormatError(
                f"{doc.name}: {item.path}/ProductIdentification/ManufacturerPartNumber is missing",
                code="MISSING_FIELD",
            )
        lines.append(
            OrderLine(
                line_number=item.req("LineNumber"),
                mpn=mpn,
                vendor_part=vendor_part,
                gtin=gtin,
                description=item.text("ProductDescription", required=False),
                quantity=item.dec("OrderQuantity") or Decimal(0),
                unit_price=item.dec("UnitPrice") or Decimal(0),
                requested_date=item.date("RequestedShipDate", required=False),
                status=item.text(_n("GlobalLineItemStatusCode"), required=False) or "Open",
            )
        )
    address = po.find("ShipTo/PhysicalAddress")
    return OrderDocument(
        document_id=doc.req("thisDocumentIdentifier"),
        function=doc.req("GlobalDocumentFunctionCode"),
        po_number=po.req("PurchaseOrderIdentifier"),
        buyer_gln=_read_role(doc, "fromRole"),
        seller_gln=_read_role(doc, "toRole"),
        bill_to_gln=po.req("billTo/GlobalBusinessIdentifier"),
        ship_to_gln=po.req("ShipTo/GlobalBusinessIdentifier"),
        order_date=po.date("OrderDate") or date.min,
        currency=po.req("GlobalCurrencyCode"),
        lines=tuple(lines),
        order_type=po.text(_n("GlobalPurchaseOrderTypeCode"), required=False) or "Standard",
        special_reference=po.text(_n("SpecialBidReference"), required=False),
        partial_shipments=(po.text(_n("isPartialShipmentAllowed"), required=False) or "").lower() == "true",
        drop_ship=(po.text("isDropShip", required=False) or "").lower() == "true",
        ship_to_address=Address(
            name=address.text("BusinessName", required=False) or "",
            street=address.text("AddressLine1", required=False) or "",
            city=address.text("CityName", required=False) or "",
            postal_code=address.text("PostalCode", required=False) or "",
            country=address.text("GlobalCountryCode", required=False) or "",
        )
        if address is not None
        else None,
        status=po.text(_n("GlobalPurchaseOrderStatusCode"), required=False) or "Open",
        created_at=_parse_ts(doc.req("thisDocumentGenerationDateTime"), f"{doc.name}: generation time"),
    )


def _ack_xml(ack: Acknowledgement) -> bytes:
    root = Element("OTACK" if ack.positive else "OTNACK", {"xmlns": ONETRAIL_NS})
    _sub(root, "thisDocumentIdentifier", ack.document_id)
    _sub(root, "OriginalDocumentIdentifier", ack.original_document_id)
    exceptions = _sub(root, "Exceptions")
    for exc in ack.exceptions or (AckException(OK_CODE, description="OK"),):
        description = _sub(exceptions, "ExceptionDescription")
        _sub(_sub(description, "errorClassification"), "GlobalMessageExceptionCode", exc.code)
        _sub(description, "GlobalExceptionTypeCode", exc.type)
        if exc.description:
            _sub(description, "ErrorDescription", exc.description)
    return _xml_bytes(root)


def _ack_from_xml(doc: _X) -> Acknowledgement:
    exceptions = tuple(
        AckException(
            code=node.req("errorClassification/GlobalMessageExceptionCode"),
            type=node.text("GlobalExceptionTypeCode", required=False) or "",
            description=node.text("ErrorDescription", required=False) or "",
        )
        for parent in doc.children("Exceptions")
        for node in parent.children("ExceptionDescription")
    )
    if _local(doc.el.tag) == "OTNACK" and all(e.ok for e in exceptions):
        exceptions = (
            *exceptions,
            AckException("NACK", description="negative acknowledgement without a code"),
        )
    return Acknowledgement(
        document_id=doc.text("thisDocumentIdentifier", required=False) or "",
        original_document_id=doc.req("OriginalDocumentIdentifier"),
        exceptions=exceptions,
    )


def _response_xml(resp: OrderResponse) -> bytes:
    root = Element("tns:Pip3A4PurchaseOrderConfirmation", {"xmlns:tns": RESPONSE_NS})

    def sub(parent: Element, tag: str, text: str | None = None) -> Element:
        return _sub(parent, f"tns:{tag}", text)

    sub(root, "thisDocumentIdentifier", resp.document_id)
    sub(root, "thisDocumentGenerationDateTime", _ts(resp.issued_at))
    sub(root, "GlobalDocumentFunctionCode", "Response")
    for tag, gln, role in (("fromRole", resp.seller_gln, "Seller"), ("toRole", resp.buyer_gln, "Buyer")):
        description = sub(sub(root, tag), "PartnerRoleDescription")
        sub(description, "GlobalPartnerRoleClassificationCode", role)
        sub(sub(description, "PartnerDescription"), "GlobalBusinessIdentifier", gln)
    po = sub(root, "PurchaseOrder")
    sub(po, "PurchaseOrderIdentifier", resp.po_number)
    if resp.seller_order_number:
        sub(po, "SalesOrderIdentifier", resp.seller_order_number)
    sub(po, _n("GlobalPurchaseOrderStatusCode"), resp.status)
    if resp.currency:
        sub(po, "GlobalCurrencyCode", resp.currency)
    for line in resp.lines:
        item = sub(po, "ProductLineItem")
        if line.line_number:
            sub(item, "LineNumber", line.line_number)
        sub(item, _n("GlobalLineItemStatusCode"), line.status)
        product = sub(item, "ProductIdentification")
        if line.mpn:
            sub(product, "ManufacturerPartNumber", line.mpn)
        if line.vendor_part:
            sub(product, "VendorPartNumber", line.vendor_part)
        if line.quantity is not None:
            sub(item, "OrderQuantity", _dec(line.quantity))
        if line.unit_price is not None:
            sub(item, "UnitPrice", _dec(line.unit_price))
        for when, code in ((line.ship_date, "Ship"), (line.delivery_date, "Delivery")):
            if when is not None:
                event = sub(sub(item, "scheduledEvent"), "TransportationEvent")
                sub(event, "DateStamp", _ts(when))
                sub(event, "GlobalTransportEventCode", code)
    return _xml_bytes(root)


def _response_from_xml(doc: _X) -> OrderResponse:
    function = doc.req("GlobalDocumentFunctionCode")
    if function != "Response":
        raise OnetrailFormatError(
            f"{doc.name}: GlobalDocumentFunctionCode = {function!r}: an order response says Response",
            code="WRONG_DOCUMENT",
        )
    po = doc.find("PurchaseOrder")
    if po is None:
        raise OnetrailFormatError(f"{doc.name}: {doc.path}/PurchaseOrder is missing", code="MISSING_FIELD")
    lines = []
    for item in po.children("ProductLineItem"):
        mpn, vendor_part, _ = _read_product(item)
        dates: dict[str, date] = {}
        for event in item.children("scheduledEvent"):
            transport = event.child("TransportationEvent")
            if transport is not None:
                stamp = transport.date("DateStamp")
                assert stamp is not None
                dates[transport.req("GlobalTransportEventCode")] = stamp
        lines.append(
            ResponseLine(
                line_number=item.text("LineNumber", required=False),
                status=item.req(_n("GlobalLineItemStatusCode")),
                mpn=mpn,
                vendor_part=vendor_part,
                quantity=item.dec("OrderQuantity", required=False),
                unit_price=item.dec("UnitPrice", required=False),
                ship_date=dates.get("Ship"),
                delivery_date=dates.get("Delivery"),
            )
        )
    return OrderResponse(
        document_id=doc.req("thisDocumentIdentifier"),
        po_number=po.req("PurchaseOrderIdentifier"),
        status=po.req(_n("GlobalPurchaseOrderStatusCode")),
        buyer_gln=_read_role(doc, "toRole"),
        seller_gln=_read_role(doc, "fromRole"),
        issued_at=_parse_ts(doc.req("thisDocumentGenerationDateTime"), f"{doc.name}: generation time"),
        lines=tuple(lines),
        seller_order_number=po.text("SalesOrderIdentifier", required=False),
        currency=po.text("GlobalCurrencyCode", required=False),
    )


def _desadv_xml(adv: DespatchAdvice) -> bytes:
    root = Element("Pip3B2AdvanceShipmentNotification", {"xmlns": ONETRAIL_NS})
    asn = _sub(root, "AdvancedShipmentNotification")
    _sub(asn, "ShipmentIdentifier", adv.despatch_number)
    event = _sub(asn, "ShipmentTransportationEvent")
    for when, code in ((adv.ship_date, "Ship"), (adv.delivery_date, "EarliestDelivery")):
        if when is not None:
            confirmed = _sub(event, "confirmedEvent")
            _sub(confirmed, "DateStamp", _ts(when))
            _sub(confirmed, "GlobalTransportEventCode", code)
    _sub(_sub(asn, "ShipTo"), "GlobalBusinessIdentifier", adv.ship_to_gln)
    _sub(_sub(asn, "numberOfShippingContainers"), "CountableAmount", str(len(adv.containers)))
    for container in adv.containers:
        node = _sub(asn, "ShippingContainer")
        _sub(_sub(node, "shippingContainerIdentifier"), "ProprietarySerialIdentifier", container.sscc)
        _sub(node, "PackageType", container.package_type)
        if container.tracking:
            _sub(node, "TrackingReference", container.tracking)
        for line in container.lines:
            item = _sub(node, "ShippingContainerItem")
            _sub(item, "PurchaseOrderIdentifier", line.po_number)
            _sub(item, "LineNumber", line.line_number)
            _product(item, line.mpn, line.vendor_part, line.gtin)
            _sub(item, "ShippedQuantity", _dec(line.quantity))
            for serial in line.serial_numbers:
                _sub(item, _n("SerialNumber"), serial)
    _role(root, "fromRole", adv.seller_gln, "Seller")
    _role(root, "toRole", adv.buyer_gln, "Buyer")
    _sub(root, "GlobalDocumentFunctionCode", "Request")
    _sub(root, "thisDocumentGenerationDateTime", _ts(adv.issued_at or adv.ship_date))
    _sub(root, "thisDocumentIdentifier", adv.document_id)
    return _xml_bytes(root)


def _desadv_from_xml(doc: _X) -> DespatchAdvice:
    asn = doc.find("AdvancedShipmentNotification")
    if asn is None:
        raise OnetrailFormatError(
            f"{doc.name}: {doc.path}/AdvancedShipmentNotification is missing", code="MISSING_FIELD"
        )
    dates: dict[str, date] = {}
    for node in asn.children("ShipmentTransportationEvent"):
        for confirmed in node.children("confirmedEvent"):
            stamp = confirmed.date("DateStamp")
            assert stamp is not None
            dates[confirmed.req("GlobalTransportEventCode")] = stamp
    containers = []
    for node in asn.children("ShippingContainer"):
        lines = []
        for item in node.children("ShippingContainerItem"):
            mpn, vendor_part, gtin = _read_product(item)
            lines.append(
                DespatchLine(
                    po_number=item.req("PurchaseOrderIdentifier"),
                    line_number=item.req("LineNumber"),
                    quantity=item.dec("ShippedQuantity") or Decimal(0),
                    mpn=mpn,
                    vendor_part=vendor_part,
                    gtin=gtin,
                    serial_numbers=tuple(
                        s.el.text.strip()
                        for s in item.children(_n("SerialNumber"))
                        if s.el.text and s.el.text.strip()
                    ),
                )
            )
        containers.append(
            Container(
                sscc=node.text("shippingContainerIdentifier/ProprietarySerialIdentifier", required=False)
                or "0",
                package_type=node.text("PackageType", required=False) or "PACKAGE",
                tracking=node.text("TrackingReference", required=False),
                lines=tuple(lines),
            )
        )
    if "Ship" not in dates:
        raise OnetrailFormatError(
            f"{doc.name}: {asn.path}/ShipmentTransportationEvent/confirmedEvent (Ship) is missing",
            code="MISSING_FIELD",
        )
    return DespatchAdvice(
        document_id=doc.req("thisDocumentIdentifier"),
        despatch_number=asn.req("ShipmentIdentifier"),
        buyer_gln=_read_role(doc, "toRole"),
        seller_gln=_read_role(doc, "fromRole"),
        ship_to_gln=asn.text("ShipTo/GlobalBusinessIdentifier", required=False) or "",
        ship_date=dates["Ship"],
        delivery_date=dates.get("EarliestDelivery"),
        containers=tuple(containers),
        issued_at=_parse_ts(doc.req("thisDocumentGenerationDateTime"), f"{doc.name}: generation time"),
    )


def _invoices_xml(invoices: Sequence[Invoice]) -> bytes:
    root = Element("invoices")
    for inv in invoices:
        node = _sub(
            root,
            "invoice",
            amountTypeCode=inv.amount_type,
            currency=inv.currency,
            id=inv.invoice_number,
            invoiceTypeCode=inv.invoice_type,
        )
        _sub(node, "invoiceDate", _ts(inv.invoice_date))
        if inv.due_date:
            _sub(node, "dueDate", _ts(inv.due_date))
        if inv.payment_terms:
            _sub(node, "paymentTerms", id=inv.payment_terms)
        _sub(node, "orderReference", inv.po_number)
        addresses = _sub(node, "addresses")
        for kind, gln in (
            ("BillFrom", inv.seller_gln),
            ("TradingPartnerFrom", inv.seller_gln),
            ("TradingPartnerTo", inv.buyer_gln),
            ("BillTo", inv.buyer_gln),
            ("ShipTo", inv.ship_to_gln),
        ):
            if gln:
                _sub(addresses, "address", partnerID=gln, type=kind)
        lines = _sub(node, "lines")
        for line in inv.lines:
            item = _sub(lines, "line", number=line.line_number)
            _sub(item, "orderLineNumber", line.po_line_number)
            if line.mpn:
                _sub(item, "manufacturerPartNumber", line.mpn)
            if line.description:
                _sub(item, "description", line.description)
            _sub(item, "quantity", _dec(line.quantity))
            _sub(item, "unitPrice", _dec(line.unit_price))
            _sub(item, "netAmount", _dec(line.net_amount))
            _sub(item, "taxAmount", _dec(line.tax_amount))
        if inv.charges:
            charges = _sub(node, "charges")
            for charge in inv.charges:
                _sub(
                    charges,
                    "charge",
                    type=charge.charge_type,
                    amount=_dec(charge.amount),
                    taxAmount=_dec(charge.tax_amount),
                    **({"description": charge.description} if charge.description else {}),
                )
        totals = _sub(node, "totals")
        _sub(totals, "netAmount", _dec(inv.net_total))
        _sub(totals, "taxAmount", _dec(inv.tax_total))
        _sub(totals, "totalAmount", _dec(inv.total))
    return _xml_bytes(root)


def _invoices_from_xml(doc: _X) -> list[Invoice]:
    out = []
    for node in doc.children("invoice"):
        glns: dict[str, str] = {}
        addresses = node.find("addresses")
        for address in addresses.children("address") if addresses is not None else ():
            kind = address.attr("type")
            gln = address.attr("partnerID")
            assert kind is not None and gln is not None
            glns.setdefault(kind, gln)
        lines = []
        container = node.child("lines")
        for item in container.children("line") if container else ():
            lines.append(
                InvoiceLine(
                    line_number=item.attr("number") or "",
                    po_line_number=item.req("orderLineNumber"),
                    mpn=item.text("manufacturerPartNumber", required=False),
                    description=item.text("description", required=False),
                    quantity=item.dec("quantity") or Decimal(0),
                    unit_price=item.dec("unitPrice") or Decimal(0),
                    tax_amount=item.dec("taxAmount", required=False) or Decimal(0),
                )
            )
        charges = []
        charge_node = node.child("charges")
        for charge in charge_node.children("charge") if charge_node else ():
            charges.append(
                InvoiceCharge(
                    charge_type=charge.attr("type") or "",
                    amount=_parse_dec(charge.attr("amount") or "", f"{charge.name}: {charge.path}/@amount"),
                    tax_amount=_parse_dec(charge.attr("taxAmount", required=False) or "0", charge.path),
                    description=charge.attr("description", required=False),
                )
            )
        terms = node.child("paymentTerms")
        if "BillFrom" not in glns or "BillTo" not in glns:
            raise OnetrailFormatError(
                f"{doc.name}: {node.path}/addresses: BillFrom and BillTo addresses are required",
                code="MISSING_FIELD",
            )
        out.append(
            Invoice(
                invoice_number=node.attr("id") or "",
                invoice_type=node.attr("invoiceTypeCode") or "Invoice",
                amount_type=node.attr("amountTypeCode") or "Debit",
                currency=node.attr("currency") or "",
                invoice_date=node.date("invoiceDate") or date.min,
                due_date=node.date("dueDate", required=False),
                payment_terms=terms.attr("id", required=False) if terms is not None else None,
                po_number=node.req("orderReference"),
                seller_gln=glns["BillFrom"],
                buyer_gln=glns["BillTo"],
                ship_to_gln=glns.get("ShipTo"),
                lines=tuple(lines),
                charges=tuple(charges),
                tax_total=node.dec("totals/taxAmount", required=False) or Decimal(0),
                total=node.dec("totals/totalAmount") or Decimal(0),
            )
        )
    if not out:
        raise OnetrailFormatError(f"{doc.name}: /invoices holds no invoice", code="MISSING_FIELD")
    return out


_XML_ROOTS: dict[str, Kind] = {
    "Pip3A4PurchaseOrderRequest": "order",
    "OTACK": "ack",
    "OTNACK": "ack",
    "Pip3A4PurchaseOrderConfirmation": "order_response",
    "Pip3B2AdvanceShipmentNotification": "despatch_advice",
    "invoices": "invoice",
}


def _load_xml(data: bytes, kind: Kind, name: str, max_bytes: int) -> Any:
    root = _parse_xml(data, name, max_bytes)
    found = _XML_ROOTS.get(_local(root.tag))
    if found != kind:
        raise OnetrailFormatError(
            f"{name}: root element <{_local(root.tag)}> is not an Onetrail {kind.replace('_', ' ')}",
            code="WRONG_DOCUMENT",
        )
    doc = _X(root, name, "/" + _local(root.tag))
    reader = {
        "order": _order_from_xml,
        "ack": _ack_from_xml,
        "order_response": _response_from_xml,
        "despatch_advice": _desadv_from_xml,
        "invoice": _invoices_from_xml,
    }[kind]
    return reader(doc)


# ========================================================================================= EDIFACT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pydifact.segmentcollection import Interchange, Message
    from pydifact.segments import Segment

#: ORDRSP ``BGM`` message function (1225) ⇄ the Onetrail XML header code.
ORDRSP_FUNCTION = {"Accept": "29", "Change": "4", "Reject": "27", "Delete": "1"}
#: ``LIN`` action codes (1229, the UBL line codes of the reference) ⇄ Onetrail XML line codes.
LINE_ACTION = {"Add": "1", "Change": "3", "Accept": "5", "Reject": "7", "Delete": "9"}
_FUNCTION_BY_CODE = {v: k for k, v in ORDRSP_FUNCTION.items()}
#: The reference's UBL header codes (UNCL 4343 response type), read as they come.
UBL_RESPONSE_CODES = ("AB", "AP", "CA", "RE")
_ACTION_BY_CODE = {v: k for k, v in LINE_ACTION.items()}


def _edi_date(value: date | datetime) -> str:
    return value.strftime("%Y%m%d")


class _Edi:
    """One parsed EDIFACT message, read segment by segment, naming the file in errors."""

    def __init__(self, name: str, segments: list[Segment], sender: str, recipient: str) -> None:
        self.name = name
        self.segments = segments
        self.sender = sender
        self.recipient = recipient

    def fail(self, message: str, code: str = "MISSING_FIELD") -> OnetrailFormatError:
        return OnetrailFormatError(f"{self.name}: {message}", code=code)


def _el(segment: Segment, index: int, component: int | None = None) -> str:
    elements = segment.elements
    if index >= len(elements):
        return ""
    value = elements[index]
    if component is None:
        return value if isinstance(value, str) else (value[0] if value else "")
    if isinstance(value, str):
        return value if component == 0 else ""
    return value[component] if component < len(value) else ""


def _interchange(
    sender: str, recipient: str, reference: str, when: datetime, messages: list[Message]
) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interchange = Interchange(
            sender=[sender, "14"],
            recipient=[recipient, "14"],
            control_reference=reference[:14],
            syntax_identifier=("UNOC", 3),
            timestamp=when,
        )
        for message in messages:
            interchange.add_message(message)
        return (interchange.serialize() + "\n").encode("utf-8")


def _message(kind: str, segments: Iterable[Segment]) -> Message:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        message = Message("1", (kind, "D", "96A", "UN"))
        for segment in segments:
            message.add_segment(segment)
    return message


def _seg(tag: str, *elements: Any) -> Segment:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Segment(tag, *elements)


def _load_edifact(data: bytes, expected: str, name: str, max_bytes: int) -> list[_Edi]:
    text = _check_bytes(data, name, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interchange = Interchange.from_str(text.strip())
            messages = list(interchange.get_messages())
    except Exception as exc:  # pydifact raises plain exceptions for syntax errors
        raise OnetrailFormatError(
            f"{name}: not an EDIFACT interchange ({exc})", code="MALFORMED_EDIFACT"
        ) from None
    sender = interchange.sender[0] if isinstance(interchange.sender, list) else str(interchange.sender)
    recipient = (
        interchange.recipient[0] if isinstance(interchange.recipient, list) else str(interchange.recipient)
    )
    out = []
    for message in messages:
        if message.type != expected:
            raise OnetrailFormatError(
                f"{name}: message type {message.type} where {expected} was expected", code="WRONG_DOCUMENT"
            )
        out.append(_Edi(name, list(message.segments), sender, recipient))
    if not out:
        raise OnetrailFormatError(
            f"{name}: the interchange holds no {expected} message", code="MISSING_FIELD"
        )
    return out


def _nad(role: str, gln: str) -> Segment:
    return _seg("NAD", role, [gln, "", "9"])


def _flags(values: Iterable[tuple[str, str | None]]) -> Iterator[Segment]:
    for key, value in values:
        if value:
            yield _seg("FTX", "ZZZ", "", "", [key, value])


def _order_edifact(doc: OrderDocument) -> bytes:
    function = "1" if doc.status == "Delete" else ("5" if doc.function == "Change" else "9")
    segs = [
        _seg("BGM", "220", doc.po_number, function),
        _seg("DTM", ["137", _edi_date(doc.order_date), "102"]),
        *_flags(
            (
                ("OrderType", doc.order_type),
                ("SpecialReference", doc.special_reference),
                ("PartialShipment", "Yes" if doc.partial_shipments else "No"),
                ("DropShip", "Yes" if doc.drop_ship else "No"),
                ("DocumentId", doc.document_id),
            )
        ),
        _nad("BY", doc.buyer_gln),
        _nad("SU", doc.seller_gln),
        _nad("IV", doc.bill_to_gln),
    ]
    if doc.ship_to_address is not None:
        a = doc.ship_to_address
        segs.append(
            _seg(
                "NAD",
                "ST",
                [doc.ship_to_gln, "", "9"],
                "",
                a.name,
                a.street,
                a.city,
                "",
                a.postal_code,
                a.country,
            )
        )
    else:
        segs.append(_nad("ST", doc.ship_to_gln))
    segs.append(_seg("CUX", ["2", doc.currency, "9"]))
    for line in doc.lines:
        segs.append(_seg("LIN", line.line_number, "9" if line.status == "Delete" else "", [line.mpn, "MF"]))
        if line.vendor_part:
            segs.append(_seg("PIA", "1", [line.vendor_part, "SA"]))
        if line.gtin:
            segs.append(_seg("PIA", "1", [line.gtin, "EN"]))
        if line.description:
            segs.append(_seg("IMD", "F", "", ["", "", "", line.description]))
        segs.append(_seg("QTY", ["21", _dec(line.quantity), "EA"]))
        if line.requested_date:
            segs.append(_seg("DTM", ["2", _edi_date(line.requested_date), "102"]))
        segs.append(_seg("PRI", ["AAA", _dec(line.unit_price)]))
    segs += [_seg("UNS", "S"), _seg("CNT", ["2", str(len(doc.lines))])]
    return _interchange(
        doc.buyer_gln,
        doc.seller_gln,
        doc.po_number,
        doc.created_at or datetime(1, 1, 1),
        [_message("ORDERS", segs)],
    )


def _flag_values(segments: Iterable[Segment]) -> dict[str, str]:
    return {_el(s, 3, 0): _el(s, 3, 1) for s in segments if s.tag == "FTX" and _el(s, 0) == "ZZZ"}


def _parties(segments: Iterable[Segment]) -> dict[str, Segment]:
    out: dict[str, Segment] = {}
    for s in segments:
        if s.tag == "NAD":
            out.setdefault(_el(s, 0), s)
    return out


def _dtm(segments: Iterable[Segment], qualifier: str) -> date | None:
    for s in segments:
        if s.tag == "DTM" and _el(s, 0, 0) == qualifier:
            return datetime.strptime(_el(s, 0, 1)[:8], "%Y%m%d").date()
    return None


def _groups(
    segments: list[Segment], start: str, stop: Sequence[str] = ("UNS",)
) -> tuple[list[Segment], list[list[Segment]]]:
    head: list[Segment] = []
    groups: list[list[Segment]] = []
    for s in segments:
        if s.tag in stop:
            break
        if s.tag == start:
            groups.append([s])
        elif groups:
            groups[-1].append(s)
        else:
            head.append(s)
    return head, groups


def _qty(group: Sequence[Segment], qualifiers: Sequence[str], edi: _Edi) -> Decimal | None:
    for s in group:
        if s.tag == "QTY" and _el(s, 0, 0) in qualifiers:
            return _parse_dec(_el(s, 0, 1), f"{edi.name}: QTY+{_el(s, 0, 0)}")
    return None


def _pia(group: Sequence[Segment], qualifier: str) -> str | None:
    for s in group:
        if s.tag == "PIA" and _el(s, 1, 1) == qualifier:
            return _el(s, 1, 0) or None
    return None


def _rff(group: Sequence[Segment], qualifier: str, component: int = 1) -> str | None:
    for s in group:
        if s.tag == "RFF" and _el(s, 0, 0) == qualifier:
            return _el(s, 0, component) or None
    return None


def _price(group: Sequence[Segment], edi: _Edi) -> Decimal | None:
    for s in group:
        if s.tag == "PRI":
            return _parse_dec(_el(s, 0, 1), f"{edi.name}: PRI")
    return None


def _order_from_edifact(edi: _Edi) -> OrderDocument:
    head, groups = _groups(edi.segments, "LIN")
    bgm = next((s for s in head if s.tag == "BGM"), None)
    if bgm is None:
        raise edi.fail("BGM segment is missing")
    flags = _flag_values(head)
    parties = _parties(head)
    st = parties.get("ST")
    cux = next((s for s in head if s.tag == "CUX"), None)
    lines = []
    for group in groups:
        lin = group[0]
        mpn = _el(lin, 2, 0)
        if not mpn:
            raise edi.fail(f"LIN+{_el(lin, 0)}: the manufacturer part number (MF) is missing")
        description = next((_el(s, 2, 3) for s in group if s.tag == "IMD"), None)
        lines.append(
            OrderLine(
                line_number=_el(lin, 0),
                mpn=mpn,
                vendor_part=_pia(group, "SA"),
                gtin=_pia(group, "EN"),
                description=description or None,
                quantity=_qty(group, ("21",), edi) or Decimal(0),
                unit_price=_price(group, edi) or Decimal(0),
                requested_date=_dtm(group, "2"),
                status="Delete" if _el(lin, 1) == "9" else "Open",
            )
        )
    address = None
    if st is not None and _el(st, 3):
        address = Address(
            name=_el(st, 3), street=_el(st, 4), city=_el(st, 5), postal_code=_el(st, 7), country=_el(st, 8)
        )
    return OrderDocument(
        document_id=flags.get("DocumentId") or _el(bgm, 1),
        function="Request" if _el(bgm, 2) == "9" else "Change",
        po_number=_el(bgm, 1),
        buyer_gln=_el(parties["BY"], 1, 0) if "BY" in parties else edi.sender,
        seller_gln=_el(parties["SU"], 1, 0) if "SU" in parties else edi.recipient,
        bill_to_gln=_el(parties["IV"], 1, 0) if "IV" in parties else "",
        ship_to_gln=_el(st, 1, 0) if st is not None else "",
        order_date=_dtm(head, "137") or date.min,
        currency=_el(cux, 0, 1) if cux is not None else "",
        lines=tuple(lines),
        order_type=flags.get("OrderType", "Standard"),
        special_reference=flags.get("SpecialReference"),
        partial_shipments=flags.get("PartialShipment") == "Yes",
        drop_ship=flags.get("DropShip") == "Yes",
        ship_to_address=address,
        status="Delete" if _el(bgm, 2) == "1" else "Open",
    )


def _response_edifact(resp: OrderResponse) -> bytes:
    header = {"AP": "Accept", "AB": "Accept", "CA": "Change", "RE": "Reject"}.get(resp.status, resp.status)
    segs = [
        _seg("BGM", "231", resp.document_id, ORDRSP_FUNCTION.get(header, header)),
        _seg("DTM", ["137", _edi_date(resp.issued_at), "102"]),
        _seg("RFF", ["ON", resp.po_number]),
    ]
    if resp.seller_order_number:
        segs.append(_seg("RFF", ["VN", resp.seller_order_number]))
    segs += [_nad("BY", resp.buyer_gln), _nad("SU", resp.seller_gln)]
    if resp.currency:
        segs.append(_seg("CUX", ["2", resp.currency, "9"]))
    for index, line in enumerate(resp.lines, start=1):
        action = LINE_ACTION.get(line.status, line.status)
        segs.append(_seg("LIN", str(index), action, [line.mpn or "", "MF"]))
        if line.vendor_part:
            segs.append(_seg("PIA", "1", [line.vendor_part, "SA"]))
        if line.quantity is not None:
            segs.append(_seg("QTY", ["21", _dec(line.quantity), "EA"]))
        if line.ship_date:
            segs.append(_seg("DTM", ["11", _edi_date(line.ship_date), "102"]))
        if line.delivery_date:
            segs.append(_seg("DTM", ["2", _edi_date(line.delivery_date), "102"]))
        if line.unit_price is not None:
            segs.append(_seg("PRI", ["AAA", _dec(line.unit_price)]))
        if line.line_number:
            segs.append(_seg("RFF", ["LI", "", line.line_number]))
    segs += [_seg("UNS", "S"), _seg("CNT", ["2", str(len(resp.lines))])]
    return _interchange(
        resp.seller_gln, resp.buyer_gln, resp.document_id, resp.issued_at, [_message("ORDRSP", segs)]
    )


def _response_from_edifact(edi: _Edi) -> OrderResponse:
    head, groups = _groups(edi.segments, "LIN")
    bgm = next((s for s in head if s.tag == "BGM"), None)
    if bgm is None:
        raise edi.fail("BGM segment is missing")
    code = _el(bgm, 2)
    if code in _FUNCTION_BY_CODE:
        status = _FUNCTION_BY_CODE[code]
    elif code in UBL_RESPONSE_CODES or _el(bgm, 3) in UBL_RESPONSE_CODES:
        # the UBL header codes (UNCL 4343 response type) in 1225 or in BGM's own 4343 element
        status = code if code in UBL_RESPONSE_CODES else _el(bgm, 3)
    else:
        raise edi.fail(f"BGM message function {code!r} is not an order response status", code="BAD_VALUE")
    po_number = _rff(head, "ON")
    if not po_number:
        raise edi.fail("RFF+ON (the buyer's order number) is missing")
    parties = _parties(head)
    cux = next((s for s in head if s.tag == "CUX"), None)
    lines = []
    for group in groups:
        lin = group[0]
        action = _el(lin, 1)
        lines.append(
            ResponseLine(
                line_number=_rff(group, "LI", 2),
                status=_ACTION_BY_CODE.get(action, action),
                mpn=_el(lin, 2, 0) or None,
                vendor_part=_pia(group, "SA"),
                quantity=_qty(group, ("21", "113"), edi),
                unit_price=_price(group, edi),
                ship_date=_dtm(group, "11"),
                delivery_date=_dtm(group, "2"),
            )
        )
    issued = _dtm(head, "137") or date.min
    return OrderResponse(
        document_id=_el(bgm, 1),
        po_number=po_number,
        status=status,
        buyer_gln=_el(parties["BY"], 1, 0) if "BY" in parties else edi.recipient,
        seller_gln=_el(parties["SU"], 1, 0) if "SU" in parties else edi.sender,
        issued_at=datetime(issued.year, issued.month, issued.day),
        lines=tuple(lines),
        seller_order_number=_rff(head, "VN"),
        currency=_el(cux, 0, 1) if cux is not None else None,
    )


def _desadv_edifact(adv: DespatchAdvice) -> bytes:
    tracking = adv.tracking_numbers()
    segs = [
        _seg("BGM", "351", adv.despatch_number, "9"),
        _seg("DTM", ["11", _edi_date(adv.ship_date), "102"]),
        _seg("DTM", ["137", _edi_date(adv.issued_at or adv.ship_date), "102"]),
    ]
    if adv.delivery_date:
        segs.append(_seg("DTM", ["64", _edi_date(adv.delivery_date), "102"]))
    if tracking:
        segs.append(_seg("RFF", ["CN", tracking[0]]))
    segs += [
        _seg("RFF", ["DQ", adv.document_id]),
        _nad("SU", adv.seller_gln),
        _nad("BY", adv.buyer_gln),
        _nad("ST", adv.ship_to_gln),
        _seg("CPS", "1"),
        _seg("PAC", str(len(adv.containers)), "", "CON"),
    ]
    line_no = 0
    for index, container in enumerate(adv.containers, start=2):
        segs += [_seg("CPS", str(index), "1"), _seg("PAC", "1", "", container.package_type)]
        if container.tracking:
            segs.append(_seg("RFF", ["CN", container.tracking]))
        segs.append(_seg("GIN", "BJ", container.sscc))
        for line in container.lines:
            line_no += 1
            segs.append(_seg("LIN", str(line_no), "", [line.vendor_part or line.mpn or "", "SA"]))
            if line.mpn:
                segs.append(_seg("PIA", "1", [line.mpn, "MF"]))
            if line.vendor_part:
                segs.append(_seg("PIA", "1", [line.vendor_part, "VN"]))
            if line.gtin:
                segs.append(_seg("PIA", "1", [line.gtin, "EN"]))
            segs.append(_seg("QTY", ["12", _dec(line.quantity), "EA"]))
            segs.append(_seg("RFF", ["ON", line.po_number]))
            segs.append(_seg("RFF", ["LI", "", line.line_number]))
            for serial in line.serial_numbers:
                segs.append(_seg("GIN", "BN", serial))
    segs.append(_seg("CNT", ["2", str(line_no)]))
    return _interchange(
        adv.seller_gln,
        adv.buyer_gln,
        adv.despatch_number,
        datetime.combine(adv.ship_date, datetime.min.time()),
        [_message("DESADV", segs)],
    )


def _desadv_from_edifact(edi: _Edi) -> DespatchAdvice:
    bgm = next((s for s in edi.segments if s.tag == "BGM"), None)
    if bgm is None:
        raise edi.fail("BGM segment is missing")
    head = []
    for s in edi.segments:
        if s.tag == "CPS":
            break
        head.append(s)
    parties = _parties(head)
    header_tracking = _rff(head, "CN")
    containers: list[Container] = []
    # A CPS with a parent (element 2) is a package; the top CPS (consignment) holds none.
    packages: list[list[Segment]] = []
    for s in edi.segments[len(head) :]:
        if s.tag == "CPS":
            packages.append([s])
        elif packages:
            packages[-1].append(s)
    for package in packages:
        pac = next((s for s in package if s.tag == "PAC"), None)
        _, groups = _groups(package, "LIN", stop=("CNT", "UNT"))
        lines = []
        for group in groups:
            po_number = _rff(group, "ON")
            line_number = _rff(group, "LI", 2) or _rff(group, "LI", 1)
            if not po_number or not line_number:
                raise edi.fail(
                    f"LIN+{_el(group[0], 0)}: RFF+ON (PO number) and RFF+LI (PO line) are required"
                )
            lines.append(
                DespatchLine(
                    po_number=po_number,
                    line_number=line_number,
                    quantity=_qty(group, ("12",), edi) or Decimal(0),
                    mpn=_pia(group, "MF"),
                    vendor_part=_pia(group, "VN")
                    or (None if _pia(group, "MF") else (_el(group[0], 2, 0) or None)),
                    gtin=_pia(group, "EN"),
                    serial_numbers=tuple(_el(s, 1) for s in group if s.tag == "GIN" and _el(s, 0) == "BN"),
                )
            )
        pkg_head = package[: next((i for i, s in enumerate(package) if s.tag == "LIN"), len(package))]
        sscc = next((_el(s, 1) for s in pkg_head if s.tag == "GIN" and _el(s, 0) == "BJ"), "") or "0"
        if not lines and pac is not None and _el(pac, 2) == "CON":
            continue
        containers.append(
            Container(
                sscc=sscc,
                package_type=(_el(pac, 2) if pac is not None else "") or "PACKAGE",
                tracking=_rff(pkg_head, "CN") or header_tracking,
                lines=tuple(lines),
            )
        )
    ship = _dtm(head, "11")
    if ship is None:
        raise edi.fail("DTM+11 (despatch date) is missing")
    issued = _dtm(head, "137")
    return DespatchAdvice(
        document_id=_rff(head, "DQ") or _el(bgm, 1),
        despatch_number=_el(bgm, 1),
        buyer_gln=_el(parties["BY"], 1, 0) if "BY" in parties else edi.recipient,
        seller_gln=_el(parties["SU"], 1, 0) if "SU" in parties else edi.sender,
        ship_to_gln=_el(parties["ST"], 1, 0) if "ST" in parties else "",
        ship_date=ship,
        delivery_date=_dtm(head, "64"),
        containers=tuple(containers),
        issued_at=datetime(issued.year, issued.month, issued.day) if issued else None,
    )


def _invoice_edifact(invoices: Sequence[Invoice]) -> bytes:
    messages = []
    for inv in invoices:
        segs = [
            _seg("BGM", "381" if inv.invoice_type == "CreditNote" else "380", inv.invoice_number, "9"),
            _seg("DTM", ["137", _edi_date(inv.invoice_date), "102"]),
        ]
        if inv.due_date:
            segs.append(_seg("DTM", ["13", _edi_date(inv.due_date), "102"]))
        segs += [_seg("RFF", ["ON", inv.po_number]), _nad("SU", inv.seller_gln), _nad("BY", inv.buyer_gln)]
        if inv.ship_to_gln:
            segs.append(_nad("ST", inv.ship_to_gln))
        segs.append(_seg("CUX", ["2", inv.currency, "4"]))
        if inv.payment_terms:
            segs.append(_seg("PAT", "1", inv.payment_terms))
        for line in inv.lines:
            segs.append(_seg("LIN", line.line_number, "", [line.mpn or "", "MF"]))
            if line.description:
                segs.append(_seg("IMD", "F", "", ["", "", "", line.description]))
            segs += [
                _seg("QTY", ["47", _dec(line.quantity), "EA"]),
                _seg("MOA", ["203", _dec(line.net_amount)]),
                _seg("PRI", ["AAA", _dec(line.unit_price)]),
                _seg("RFF", ["LI", "", line.po_line_number]),
                _seg("TAX", "7", "VAT"),
                _seg("MOA", ["124", _dec(line.tax_amount)]),
            ]
        segs.append(_seg("UNS", "S"))
        for charge in inv.charges:
            segs += [
                _seg("ALC", "C", "", "", "", ["", "", "", charge.charge_type, charge.description or ""]),
                _seg("MOA", ["23", _dec(charge.amount)]),
                _seg("TAX", "7", "VAT"),
                _seg("MOA", ["124", _dec(charge.tax_amount)]),
            ]
        segs += [
            _seg("MOA", ["125", _dec(inv.net_total)]),
            _seg("MOA", ["176", _dec(inv.tax_total)]),
            _seg("MOA", ["77", _dec(inv.total)]),
        ]
        messages.append(_message("INVOIC", segs))
    first = invoices[0]
    return _interchange(
        first.seller_gln,
        first.buyer_gln,
        first.invoice_number,
        datetime.combine(first.invoice_date, datetime.min.time()),
        messages,
    )


def _moa(group: Sequence[Segment], qualifier: str, edi: _Edi) -> Decimal | None:
    for s in group:
        if s.tag == "MOA" and _el(s, 0, 0) == qualifier:
            return _parse_dec(_el(s, 0, 1), f"{edi.name}: MOA+{qualifier}")
    return None


def _invoice_from_edifact(edi: _Edi) -> Invoice:
    head, groups = _groups(edi.segments, "LIN")
    bgm = next((s for s in head if s.tag == "BGM"), None)
    if bgm is None:
        raise edi.fail("BGM segment is missing")
    po_number = _rff(head, "ON")
    if not po_number:
        raise edi.fail(f"invoice {_el(bgm, 1)}: RFF+ON (the buyer's order number) is missing")
    parties = _parties(head)
    cux = next((s for s in head if s.tag == "CUX"), None)
    pat = next((s for s in head if s.tag == "PAT"), None)
    lines = []
    for group in groups:
        lin = group[0]
        po_line = _rff(group, "LI", 2) or _rff(group, "LI", 1)
        if not po_line:
            raise edi.fail(f"invoice {_el(bgm, 1)} LIN+{_el(lin, 0)}: RFF+LI (the PO line) is missing")
        lines.append(
            InvoiceLine(
                line_number=_el(lin, 0),
                po_line_number=po_line,
                mpn=_el(lin, 2, 0) or None,
                description=next((_el(s, 2, 3) for s in group if s.tag == "IMD"), None) or None,
                quantity=_qty(group, ("47",), edi) or Decimal(0),
                unit_price=_price(group, edi) or Decimal(0),
                tax_amount=_moa(group, "124", edi) or Decimal(0),
            )
        )
    tail_start = (
        next(i for i, s in enumerate(edi.segments) if s.tag == "UNS")
        if any(s.tag == "UNS" for s in edi.segments)
        else len(edi.segments)
    )
    tail = edi.segments[tail_start:]
    charges = []
    current: list[Segment] | None = None
    blocks: list[list[Segment]] = []
    for s in tail:
        if s.tag == "ALC":
            current = [s]
            blocks.append(current)
        elif s.tag == "MOA" and _el(s, 0, 0) in ("125", "176", "77"):
            current = None
        elif current is not None:
            current.append(s)
    for block in blocks:
        charges.append(
            InvoiceCharge(
                charge_type=_el(block[0], 4, 3),
                description=_el(block[0], 4, 4) or None,
                amount=_moa(block, "23", edi) or Decimal(0),
                tax_amount=_moa(block, "124", edi) or Decimal(0),
            )
        )
    total = _moa(tail, "77", edi)
    if total is None:
        raise edi.fail(f"invoice {_el(bgm, 1)}: MOA+77 (invoice total) is missing")
    return Invoice(
        invoice_number=_el(bgm, 1),
        invoice_type="CreditNote" if _el(bgm, 0) == "381" else "Invoice",
        amount_type="Credit" if _el(bgm, 0) == "381" else "Debit",
        currency=_el(cux, 0, 1) if cux is not None else "",
        invoice_date=_dtm(head, "137") or date.min,
        due_date=_dtm(head, "13"),
        payment_terms=_el(pat, 1) if pat is not None and _el(pat, 1) else None,
        po_number=po_number,
        seller_gln=_el(parties["SU"], 1, 0) if "SU" in parties else edi.sender,
        buyer_gln=_el(parties["BY"], 1, 0) if "BY" in parties else edi.recipient,
        ship_to_gln=_el(parties["ST"], 1, 0) if "ST" in parties else None,
        lines=tuple(lines),
        charges=tuple(charges),
        tax_total=_moa(tail, "176", edi) or Decimal(0),
        total=total,
    )


_EDIFACT_TYPES: dict[Kind, str] = {
    "order": "ORDERS",
    "order_response": "ORDRSP",
    "despatch_advice": "DESADV",
    "invoice": "INVOIC",
}

# ============================================================================================= API


def dump(document: Any, fmt: DocumentFormat = "xml") -> bytes:
    """Serialise one document (or a list of invoices) to UTF-8 bytes.

    :param document: an :class:`OrderDocument`, :class:`Acknowledgement`, :class:`OrderResponse`,
        :class:`DespatchAdvice` or a list of :class:`Invoice`.
    :param fmt: ``xml`` (Onetrail XML) or ``edifact`` (D96A; no (N)ACK in EDIFACT).
    """
    if isinstance(document, Invoice):
        document = [document]
    if fmt == "xml":
        if isinstance(document, OrderDocument):
            return _order_xml(document)
        if isinstance(document, Acknowledgement):
            return _ack_xml(document)
        if isinstance(document, OrderResponse):
            return _response_xml(document)
        if isinstance(document, DespatchAdvice):
            return _desadv_xml(document)
        if isinstance(document, list) and document and all(isinstance(d, Invoice) for d in document):
            return _invoices_xml(document)
    elif fmt == "edifact":
        if isinstance(document, OrderDocument):
            return _order_edifact(document)
        if isinstance(document, OrderResponse):
            return _response_edifact(document)
        if isinstance(document, DespatchAdvice):
            return _desadv_edifact(document)
        if isinstance(document, list) and document and all(isinstance(d, Invoice) for d in document):
            return _invoice_edifact(document)
    raise ValueError(f"cannot write {type(document).__name__} as {fmt}")


def load(data: bytes, kind: Kind, *, name: str = "<file>", max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse a file as the ``kind`` of document its folder says, in whichever format it is.

    Returns an :class:`OrderDocument`, :class:`Acknowledgement`, :class:`OrderResponse`,
    :class:`DespatchAdvice`, or a list of :class:`Invoice` (a file may hold several).

    :param data: the file's bytes.
    :param kind: ``order``, ``ack``, ``order_response``, ``despatch_advice`` or ``invoice``.
    :param name: the file name, for error messages.
    :param max_bytes: bigger files are refused.
    :raises OnetrailFormatError: the file is not that document, or is hostile or malformed.
    """
    if detect_format(data) == "xml":
        return _load_xml(data, kind, name, max_bytes)
    if kind == "ack":
        raise OnetrailFormatError(f"{name}: Onetrail sends (N)ACKs as XML only", code="WRONG_DOCUMENT")
    messages = _load_edifact(data, _EDIFACT_TYPES[kind], name, max_bytes)
    if kind == "invoice":
        return [_invoice_from_edifact(m) for m in messages]
    if len(messages) != 1:
        raise OnetrailFormatError(
            f"{name}: {len(messages)} messages where one was expected", code="WRONG_DOCUMENT"
        )
    reader = {
        "order": _order_from_edifact,
        "order_response": _response_from_edifact,
        "despatch_advice": _desadv_from_edifact,
    }[kind]
    return reader(messages[0])
