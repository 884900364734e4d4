"""Onetrail XML and EDIFACT D96A: the reference's samples parse, every document round-trips, hostile XML is refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from po_sync.onetrail.formats import (
    AckException,
    Acknowledgement,
    Address,
    Container,
    DespatchAdvice,
    DespatchLine,
    Invoice,
    InvoiceCharge,
    InvoiceLine,
    OnetrailFormatError,
    OrderDocument,
    OrderLine,
    OrderResponse,
    ResponseLine,
    detect_format,
    dump,
    load,
)

BUYER, SELLER, SHIP_TO = "8714253023366", "8714253023236", "8714253023380"

#: The reference's DESADV D96A sample (external-systems.md §2.2), its segments verbatim.
DESADV_SAMPLE = (
    b"UNB+UNOC:2+8714253023236:14+8714253023366:14+150612:1538+PKB-20150612T153843-1++DESADV'"
    b"UNH+1+DESADV:D:96A:UN'BGM+351+PKB-20150612T153843-1+9'DTM+11:20150613:102'DTM+137:20150612:102'"
    b"RFF+CN:OT_Simulator_Scenario_5_1'NAD+SU+8714253023236::9'NAD+BY+8714253023366::9'NAD+ST+8714253023380::9'"
    b"CPS+PKB-20150612T153843-1'PAC+2.0++CON'CPS+0+PKB-20150612T153843-1'PAC+1++PK'"
    b"LIN+1++2741922:SA'PIA+1+2741922:VN'PIA+1+887758297704:EN'QTY+12:0.0:EA'"
    b"RFF+ON:MS_Warehouse'RFF+LI::1'RFF+VN:SIM-MS_Warehouse'RFF+DQ:PKB-20150612T153843-1'"
    b"UNT+20+1'UNZ+1+PKB-20150612T153843-1'"
)

#: The Onetrail INV format's header as the reference quotes it.
INVOICE_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<invoices><invoice amountTypeCode="Debit" currency="GBP" id="INV-2015-0515" invoiceTypeCode="Invoice">
<invoiceDate>20150515T000000</invoiceDate>
<orderReference>PO000001</orderReference>
<addresses><address partnerID="8714253023236" type="BillFrom"/><address partnerID="8714253023236" type="TradingPartnerFrom"/>
<address partnerID="8714253023366" type="TradingPartnerTo"/><address partnerID="8714253023366" type="BillTo"/>
<address partnerID="8714253023380" type="ShipTo"/></addresses>
<lines><line number="1"><orderLineNumber>1</orderLineNumber><quantity>2</quantity><unitPrice>10.50</unitPrice>
<taxAmount>4.20</taxAmount></line></lines>
<totals><taxAmount>4.20</taxAmount><totalAmount>25.20</totalAmount></totals>
</invoice></invoices>"""

#: A negative ACK with the reference's example code (invalid ship-to 21120).
NACK_SAMPLE = b"""<OTNACK xmlns="http://www.onetrail.net"><thisDocumentIdentifier>ACK-1</thisDocumentIdentifier>
<OriginalDocumentIdentifier>ORD-PO000001-abc</OriginalDocumentIdentifier>
<Exceptions><ExceptionDescription><errorClassification><GlobalMessageExceptionCode>504E%21120</GlobalMessageExceptionCode>
</errorClassification><GlobalExceptionTypeCode>Receipt Acknowledgement Exception</GlobalExceptionTypeCode>
</ExceptionDescription></Exceptions></OTNACK>"""

#: An order response as the sample declares it (``xmlns:tns="OTRSP"``, ORDRSP 3.1) with a Ship date.
RESPONSE_SAMPLE = b"""<tns:Pip3A4PurchaseOrderConfirmation xmlns:tns="OTRSP">
<tns:thisDocumentIdentifier>RSP-1</tns:thisDocumentIdentifier>
<tns:thisDocumentGenerationDateTime>20140306T101500</tns:thisDocumentGenerationDateTime>
<tns:GlobalDocumentFunctionCode>Response</tns:GlobalDocumentFunctionCode>
<tns:fromRole><tns:PartnerRoleDescription><tns:PartnerDescription><tns:GlobalBusinessIdentifier>8714253023236</tns:GlobalBusinessIdentifier></tns:PartnerDescription></tns:PartnerRoleDescription></tns:fromRole>
<tns:toRole><tns:PartnerRoleDescription><tns:PartnerDescription><tns:GlobalBusinessIdentifier>8714253023366</tns:GlobalBusinessIdentifier></tns:PartnerDescription></tns:PartnerRoleDescription></tns:toRole>
<tns:PurchaseOrder><tns:PurchaseOrderIdentifier>PO000001</tns:PurchaseOrderIdentifier>
<tns:GlobalPurchaseOrderStatusCode>Change</tns:GlobalPurchaseOrderStatusCode>
<tns:ProductLineItem><tns:LineNumber>1</tns:LineNumber><tns:GlobalLineItemStatusCode>Change</tns:GlobalLineItemStatusCode>
<tns:OrderQuantity>3</tns:OrderQuantity>
<tns:scheduledEvent><tns:TransportationEvent><tns:DateStamp>20140307T000000</tns:DateStamp><tns:GlobalTransportEventCode>Ship</tns:GlobalTransportEventCode></tns:TransportationEvent></tns:scheduledEvent>
</tns:ProductLineItem></tns:PurchaseOrder></tns:Pip3A4PurchaseOrderConfirmation>"""


def order(**overrides) -> OrderDocument:
    values = dict(
        document_id="ORD-PO000001-0123456789ab",
        function="Request",
        po_number="PO000001",
        buyer_gln=BUYER,
        seller_gln=SELLER,
        bill_to_gln=BUYER,
        ship_to_gln=SHIP_TO,
        order_date=date(2026, 1, 5),
        currency="EUR",
        lines=(
            OrderLine(
                "1",
                "MPN-A",
                Decimal("5"),
                Decimal("12.5"),
                vendor_part="VP-A",
                gtin="887758297704",
                description='Laptop 14"',
                requested_date=date(2026, 1, 20),
            ),
            OrderLine("2", "MPN:B+'?", Decimal("1"), Decimal("99.99")),
        ),
        order_type="SpecialBid",
        special_reference="BID-7781",
        partial_shipments=True,
        drop_ship=True,
        ship_to_address=Address("Jane's Shop", "1 Main St", "Utrecht", "3511", "NL"),
        created_at=datetime(2026, 1, 5, 8, 0, 0),
    )
    values.update(overrides)
    return OrderDocument(**values)


def response() -> OrderResponse:
    return OrderResponse(
        document_id="RSP-9",
        po_number="PO000001",
        status="Change",
        buyer_gln=BUYER,
        seller_gln=SELLER,
        issued_at=datetime(2026, 1, 6),
        seller_order_number="SO-55",
        currency="EUR",
        lines=(
            ResponseLine(
                "1",
                "Change",
                mpn="MPN-A",
                quantity=Decimal(3),
                unit_price=Decimal("12.5"),
                ship_date=date(2026, 1, 9),
                delivery_date=date(2026, 1, 10),
            ),
            ResponseLine(
                "1",
                "Change",
                mpn="MPN-A",
                quantity=Decimal(2),
                unit_price=Decimal("12.5"),
                ship_date=date(2026, 1, 19),
            ),
            ResponseLine(None, "Add", mpn="MPN-C", quantity=Decimal(1), unit_price=Decimal(4)),
            ResponseLine("2", "Delete", mpn="MPN:B+'?"),
        ),
    )


def despatch() -> DespatchAdvice:
    return DespatchAdvice(
        document_id="DSP-1",
        despatch_number="DN-1",
        buyer_gln=BUYER,
        seller_gln=SELLER,
        ship_to_gln=SHIP_TO,
        ship_date=date(2026, 1, 9),
        delivery_date=date(2026, 1, 10),
        issued_at=datetime(2026, 1, 9),
        containers=(
            Container(
                "376543210000000016",
                (DespatchLine("PO000001", "1", Decimal(2), mpn="MPN-A", serial_numbers=("SN1", "SN2")),),
                package_type="PACKAGE",
                tracking="1Z999",
            ),
            Container(
                "376543210000000023",
                (
                    DespatchLine("PO000001", "2", Decimal(1), mpn="MPN-B"),
                    DespatchLine("PO000002", "1", Decimal(4), mpn="MPN-C", gtin="887758297704"),
                ),
                package_type="PALLET",
                tracking="1Z999",
            ),
        ),
    )


def invoice() -> Invoice:
    return Invoice(
        invoice_number="INV-1",
        po_number="PO000001",
        currency="EUR",
        invoice_date=date(2026, 1, 12),
        due_date=date(2026, 2, 11),
        seller_gln=SELLER,
        buyer_gln=BUYER,
        ship_to_gln=SHIP_TO,
        payment_terms="NET30",
        lines=(
            InvoiceLine(
                "1", "1", Decimal(2), Decimal("12.5"), Decimal("5.25"), mpn="MPN-A", description="Laptop"
            ),
        ),
        charges=(InvoiceCharge("FREIGHT", Decimal("15"), Decimal("3.15"), "Freight"),),
        tax_total=Decimal("8.40"),
        total=Decimal("48.40"),
    )


@pytest.mark.parametrize("fmt", ["xml", "edifact"])
def test_order_round_trips(fmt):
    doc = order()
    data = dump(doc, fmt)
    assert detect_format(data) == fmt
    back = load(data, "order", name="o")
    assert back.lines == doc.lines
    assert back.ship_to_address == doc.ship_to_address
    for name in (
        "po_number",
        "function",
        "buyer_gln",
        "seller_gln",
        "bill_to_gln",
        "ship_to_gln",
        "order_date",
        "currency",
        "order_type",
        "special_reference",
        "partial_shipments",
        "drop_ship",
        "status",
        "document_id",
    ):
        assert getattr(back, name) == getattr(doc, name), name


@pytest.mark.parametrize("fmt", ["xml", "edifact"])
def test_change_and_delete_round_trip(fmt):
    doc = order(
        function="Change",
        status="Delete",
        drop_ship=False,
        ship_to_address=None,
        special_reference=None,
        order_type="Standard",
        partial_shipments=False,
        lines=(OrderLine("1", "MPN-A", Decimal(5), Decimal(1), status="Delete"),),
    )
    back = load(dump(doc, fmt), "order", name="o")
    assert (back.function, back.status, back.lines[0].status) == ("Change", "Delete", "Delete")
    assert back.partial_shipments is False


def test_order_xml_uses_the_onetrail_names():
    data = dump(order(), "xml").decode()
    assert data.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Pip3A4PurchaseOrderRequest xmlns="http://www.onetrail.net">'
    )
    for needle in (
        "<GlobalDocumentFunctionCode>Request</GlobalDocumentFunctionCode>",
        "<fromRole>",
        "<toRole>",
        "<billTo>",
        "<ShipTo>",
        "<ProductLineItem>",
        f"<GlobalBusinessIdentifier>{SELLER}<",
    ):
        assert needle in data


def test_edifact_order_envelope_and_escaping():
    data = dump(order(), "edifact").decode()
    assert data.startswith(f"UNB+UNOC:3+{BUYER}:14+{SELLER}:14+260105:0800+PO000001'UNH+1+ORDERS:D:96A:UN'")
    assert f"NAD+BY+{BUYER}::9'" in data and f"NAD+SU+{SELLER}::9'" in data
    assert "LIN+2++MPN?:B?+?'??:MF'" in data  # EDIFACT release character on : + ' ?


@pytest.mark.parametrize("fmt", ["xml", "edifact"])
def test_order_response_round_trips(fmt):
    doc = response()
    back = load(dump(doc, fmt), "order_response", name="r")
    assert back.lines == doc.lines
    assert (
        back.po_number,
        back.status,
        back.seller_order_number,
        back.buyer_gln,
        back.seller_gln,
        back.currency,
    ) == ("PO000001", "Change", "SO-55", BUYER, SELLER, "EUR")


@pytest.mark.parametrize("fmt", ["xml", "edifact"])
def test_despatch_advice_round_trips(fmt):
    doc = despatch()
    back = load(dump(doc, fmt), "despatch_advice", name="d")
    assert back.containers == doc.containers
    assert (back.ship_date, back.delivery_date, back.ship_to_gln, back.despatch_number) == (
        doc.ship_date,
        doc.delivery_date,
        SHIP_TO,
        "DN-1",
    )
    assert back.lines[0].serial_numbers == ("SN1", "SN2")


@pytest.mark.parametrize("fmt", ["xml", "edifact"])
def test_invoice_round_trips(fmt):
    doc = invoice()
    [back] = load(dump([doc], fmt), "invoice", name="i")
    assert back == doc
    assert back.net_total + back.tax_total == back.total


def test_ack_round_trips_and_positive_ack():
    nack = Acknowledgement("A1", "ORD-1", (AckException("504E%21120", description="invalid ship-to 21120"),))
    back = load(dump(nack), "ack")
    assert back == nack and not back.positive and back.errors[0].code == "504E%21120"
    ok = load(dump(Acknowledgement("A2", "ORD-1")), "ack")
    assert ok.positive and ok.exceptions[0].code == "000E"
    assert dump(nack).startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<OTNACK')


def test_reference_desadv_sample_parses():
    adv = load(DESADV_SAMPLE, "despatch_advice", name="sample.edi")
    assert (adv.seller_gln, adv.buyer_gln, adv.ship_to_gln) == (SELLER, BUYER, SHIP_TO)
    assert adv.ship_date == date(2015, 6, 13) and adv.despatch_number == "PKB-20150612T153843-1"
    [line] = adv.lines
    assert (line.po_number, line.line_number, line.vendor_part, line.gtin, line.quantity) == (
        "MS_Warehouse",
        "1",
        "2741922",
        "887758297704",
        Decimal("0.0"),
    )
    assert adv.containers[0].tracking == "OT_Simulator_Scenario_5_1"
    assert adv.containers[0].package_type == "PK"


def test_reference_invoice_nack_and_response_samples_parse():
    [inv] = load(INVOICE_SAMPLE, "invoice", name="inv.xml")
    assert (inv.invoice_number, inv.currency, inv.invoice_date, inv.amount_type, inv.invoice_type) == (
        "INV-2015-0515",
        "GBP",
        date(2015, 5, 15),
        "Debit",
        "Invoice",
    )
    assert (inv.seller_gln, inv.buyer_gln, inv.ship_to_gln) == (SELLER, BUYER, SHIP_TO)
    assert inv.net_total + inv.tax_total == inv.total == Decimal("25.20")
    nack = load(NACK_SAMPLE, "ack", name="nack.xml")
    assert not nack.positive and nack.errors[0].code == "504E%21120"
    rsp = load(RESPONSE_SAMPLE, "order_response", name="rsp.xml")
    assert rsp.status == "Change" and rsp.lines[0].ship_date == date(2014, 3, 7)
    assert rsp.lines[0].quantity == Decimal(3)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><invoices>&b;</invoices>',
            "HOSTILE_XML",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><invoices>&e;</invoices>',
            "HOSTILE_XML",
        ),
        (  # billion laughs: ten levels of ten, refused before anything expands
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(
                b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                for i in range(1, 10)
            )
            + b"]><invoices>&lol9;</invoices>",
            "HOSTILE_XML",
        ),
        (b"<invoices>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</invoices>", "HOSTILE_XML"),  # deep nesting
        (b"<invoices><invoice>", "MALFORMED_XML"),
        ("<invoices>caf\xe9</invoices>".encode("latin-1"), "NOT_UTF8"),
        (b"<Pip3A4PurchaseOrderRequest/>", "WRONG_DOCUMENT"),
        (b"<invoices/>", "MISSING_FIELD"),
        (
            b"UNB+UNOC:3+1:14+2:14+260101:0000+R'UNH+1+ORDERS:D:96A:UN'BGM+220+X+9'UNT+3+1'UNZ+1+R'",
            "WRONG_DOCUMENT",
        ),
    ],
)
def test_bad_and_hostile_files_are_refused_naming_the_file(data, code):
    with pytest.raises(OnetrailFormatError) as info:
        load(data, "invoice", name="bad.xml")
    assert info.value.code == code
    assert "bad.xml" in str(info.value)


def test_oversized_file_is_refused_unread():
    with pytest.raises(OnetrailFormatError) as info:
        load(b"<invoices>" + b" " * 100 + b"</invoices>", "invoice", name="big.xml", max_bytes=50)
    assert info.value.code == "FILE_TOO_LARGE"


def test_missing_field_is_named_with_its_path():
    data = dump(despatch()).replace(b"<ShippedQuantity>2</ShippedQuantity>", b"")
    with pytest.raises(OnetrailFormatError, match=r"ShippingContainerItem\[1\]/ShippedQuantity is missing"):
        load(data, "despatch_advice", name="d.xml")


@pytest.mark.parametrize(
    ("header", "lines", "label", "line_labels"),
    [
        ("AP", ("5", "42"), "Accepted", ["Accepted", "Accepted"]),
        (
            "CA",
            ("3", "1", "7", "9"),
            "Changed and Accepted",
            ["Changed and Accepted", "Added", "Rejected", "Deleted"],
        ),
        ("RE", ("7",), "Rejected", ["Rejected"]),
        ("AB", ("5",), "Accepted", ["Accepted"]),
    ],
)
def test_ubl_response_codes_read_from_xml_and_edifact(header, lines, label, line_labels):
    """The reference's UBL codes (header AB / AP / CA / RE, lines 1 / 3 / 5 / 7 / 9 / 42) are read in
    Onetrail XML as sent, and in EDIFACT from BGM's 1225 or 4343 element and LIN's 1229."""
    from dataclasses import replace

    from po_sync.onetrail.mapping import header_label, line_label

    doc = replace(
        response(),
        status=header,
        lines=tuple(
            ResponseLine(str(i), code, mpn="MPN-A", quantity=Decimal(1)) for i, code in enumerate(lines, 1)
        ),
    )
    xml = load(dump(doc, "xml"), "order_response", name="r.xml")
    assert (xml.status, [line.status for line in xml.lines]) == (header, list(lines))
    edi = load(dump(doc, "edifact"), "order_response", name="r.edi")
    assert (
        header_label(edi.status) == label and [line_label(line.status) for line in edi.lines] == line_labels
    )
    # a partner writing the UBL code in BGM's 1225 (or as 4343 after a 1225 we do not know)
    for bgm in (f"BGM+231+RSP-9+{header}'", f"BGM+231+RSP-9+9+{header}'"):
        raw = dump(doc, "edifact").decode()
        start = raw.index("BGM+")
        raw = raw[:start] + bgm + raw[raw.index("'", start) + 1 :]
        assert header_label(load(raw.encode(), "order_response", name="r.edi").status) == label


def test_unverified_element_names_are_knobs():
    """Each name the reference does not publish can be renamed (settings ``xml_names``), on the way
    out and on the way in; the default names stay as they were."""
    from po_sync.onetrail.formats import UNVERIFIED_NAMES, check_xml_names, xml_names

    doc = despatch()
    plain = dump(doc, "xml")
    assert b"<SerialNumber>SN1</SerialNumber>" in plain
    with xml_names({"SerialNumber": "SerialIdentifier"}):
        renamed = dump(doc, "xml")
        assert b"<SerialIdentifier>SN1</SerialIdentifier>" in renamed and b"SerialNumber" not in renamed
        assert load(renamed, "despatch_advice", name="d").lines[0].serial_numbers == ("SN1", "SN2")
    assert load(renamed, "despatch_advice", name="d").lines[0].serial_numbers == ()  # back to the default
    doc_order = order(order_type="SpecialBid", special_reference="BID-7")
    names = {"GlobalPurchaseOrderTypeCode": "OrderTypeCode", "SpecialBidReference": "BidReference"}
    with xml_names(names):
        data = dump(doc_order, "xml")
        back = load(data, "order", name="o")
    assert b"<OrderTypeCode>SpecialBid<" in data and b"<BidReference>BID-7<" in data
    assert (back.order_type, back.special_reference) == ("SpecialBid", "BID-7")
    assert set(UNVERIFIED_NAMES) == {
        "SerialNumber",
        "isPartialShipmentAllowed",
        "GlobalPurchaseOrderTypeCode",
        "SpecialBidReference",
        "GlobalPurchaseOrderStatusCode",
        "GlobalLineItemStatusCode",
    }
    with pytest.raises(ValueError, match="not renamable"):
        check_xml_names({"ProductLineItem": "Line"})
    with pytest.raises(ValueError, match="not XML element names"):
        check_xml_names({"SerialNumber": "<x>"})
