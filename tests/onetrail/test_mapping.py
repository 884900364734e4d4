"""Submission rules (GLN, MPN, special bid/deal, partial shipments), PO versions, and order-response effects."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.onetrail.formats import OrderResponse, ResponseLine, dump, load
from po_sync.onetrail.mapping import (
    ACCEPTED,
    ADDED,
    CHANGED,
    DELETED,
    REJECTED,
    PoLine,
    document_id_for,
    header_label,
    line_label,
    order_document,
    order_version,
    response_effects,
    submit_order_from_records,
    validation_problems,
)
from po_sync.onetrail.settings import gln_problem, load_settings

BUYER, SELLER = "8714253023366", "8714253023236"
SETTINGS = load_settings({"buyer_gln": BUYER, "location_glns": {"2": "8714253023380"}})


def records(**po_fields):
    po = {
        "id": "7",
        "tranId": "PO000007",
        "tranDate": "2026-01-05",
        "entity": {"id": "3"},
        "location": {"id": "2"},
        "custbody_onetrail_submit": True,
        "item": {
            "items": [
                {"line": 1, "item": {"id": "11"}, "quantity": 4, "rate": 2.5},
                {"line": 2, "item": {"id": "12"}, "quantity": 1, "rate": 10},
            ]
        },
        **po_fields,
    }
    vendor = {
        "id": "3",
        "companyName": "Ingram",
        "custentity_onetrail_enabled": True,
        "custentity_onetrail_gln": SELLER,
    }
    items = {"11": {"itemId": "SKU-11", "mpn": "MPN-11"}, "12": {"itemId": "SKU-12", "mpn": "MPN-12"}}
    return po, vendor, items


def build(po=None, vendor=None, items=None, **po_fields):
    p, v, i = records(**po_fields)
    return submit_order_from_records(po or p, vendor or v, items or i, currency="EUR")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("8714253023236", True),
        ("8714253023366", True),
        ("8714253023380", True),
        ("4000001000005", True),
        ("8714253023237", False),
        ("871425302323", False),
        ("87142530232366", False),
        ("871425302323A", False),
        ("", False),
    ],
)
def test_gln_is_13_digits_with_gs1_check_digit(value, ok):
    assert (gln_problem(value) is None) is ok


def test_a_valid_po_has_no_problems_and_maps_to_a_request():
    order = build()
    assert validation_problems(order) == []
    doc = order_document(order, SETTINGS, change=False, created_at=datetime(2026, 1, 5, 8))
    assert (doc.function, doc.seller_gln, doc.buyer_gln, doc.ship_to_gln, doc.order_type) == (
        "Request",
        SELLER,
        BUYER,
        "8714253023380",
        "Standard",
    )
    assert [(line.line_number, line.mpn, line.quantity) for line in doc.lines] == [
        ("1", "MPN-11", Decimal(4)),
        ("2", "MPN-12", Decimal(1)),
    ]
    assert doc.partial_shipments is False


def test_vendor_not_enabled_or_without_valid_gln_fails():
    p, v, i = records()
    assert "not enabled" in validation_problems(build(vendor={**v, "custentity_onetrail_enabled": False}))[0]
    assert "has no GLN" in validation_problems(build(vendor={**v, "custentity_onetrail_gln": ""}))[0]
    [problem] = validation_problems(build(vendor={**v, "custentity_onetrail_gln": "8714253023237"}))
    assert "check digit 7, GS1 says 6" in problem and "Ingram (3)" in problem


def test_every_open_line_needs_an_mpn():
    p, v, i = records()
    [problem] = validation_problems(build(items={**i, "12": {"itemId": "SKU-12"}}))
    assert problem == "line 2: item SKU-12 (12) has no MPN"


def test_special_bid_and_deal_need_type_and_reference():
    assert (
        "without custbody_onetrail_special_reference"
        in validation_problems(build(custbody_onetrail_special_order_type="Special Bid"))[0]
    )
    assert (
        "is not Special Bid or Special Deal"
        in validation_problems(build(custbody_onetrail_special_reference="BID-1"))[0]
    )
    assert (
        "expected Special Bid or Special Deal"
        in validation_problems(
            build(custbody_onetrail_special_order_type="Bulk", custbody_onetrail_special_reference="X")
        )[0]
    )
    order = build(
        custbody_onetrail_special_order_type="Special Deal", custbody_onetrail_special_reference="DL-9"
    )
    assert validation_problems(order) == []
    doc = order_document(order, SETTINGS, change=False, created_at=datetime(2026, 1, 5), document_id="ORD-1")
    assert (doc.order_type, doc.special_reference) == ("SpecialDeal", "DL-9")
    assert load(dump(doc), "order").special_reference == "DL-9"


def test_allow_partial_shipments_sets_the_indicator():
    doc = order_document(
        build(custbody_onetrail_allow_partial=True), SETTINGS, change=False, created_at=datetime(2026, 1, 5)
    )
    assert doc.partial_shipments is True
    assert b"<isPartialShipmentAllowed>true</isPartialShipmentAllowed>" in dump(doc)


def test_version_ignores_status_and_time_but_not_content():
    a = build()
    b = build(custbody_onetrail_submit_status="Submitted")
    assert order_version(a, SETTINGS) == order_version(b, SETTINGS)
    p, _, _ = records()
    p["item"]["items"][0]["quantity"] = 5
    assert order_version(build(po=p), SETTINGS) != order_version(a, SETTINGS)
    assert document_id_for("PO/7 x", "abcdef0123456789") == "ORD-PO_7_x-abcdef012345"


def test_cancelled_and_closed_lines_go_as_change_with_delete():
    p, _, _ = records()
    for line in p["item"]["items"]:
        line["isClosed"] = True
    doc = order_document(build(po=p), SETTINGS, change=True, created_at=datetime(2026, 1, 5))
    assert (doc.function, doc.status) == ("Change", "Delete")
    p["item"]["items"][1]["isClosed"] = False
    doc = order_document(build(po=p), SETTINGS, change=True, created_at=datetime(2026, 1, 5))
    assert doc.status == "Open" and [line.status for line in doc.lines] == ["Delete", "Open"]


def test_settings_refuse_bad_gln_and_unknown_auto_accept():
    with pytest.raises(ConfigurationError, match="buyer_gln"):
        load_settings({"buyer_gln": "123"})
    with pytest.raises(ConfigurationError, match="auto_accept"):
        load_settings({"buyer_gln": BUYER, "auto_accept": ["colour"]})
    assert load_settings({"buyer_gln": BUYER, "test": True}).folder("In/Orders") == f"/{BUYER}/Test/In/Orders"


# ---------------------------------------------------------------------------------- order responses

LINES = [
    PoLine("1", "11", "MPN-11", Decimal(10), Decimal("2.5"), date(2026, 1, 20)),
    PoLine("2", "12", "MPN-12", Decimal(1), Decimal(10), date(2026, 1, 20)),
]


def rsp(status, *lines):
    return OrderResponse("RSP-1", "PO000007", status, BUYER, SELLER, datetime(2026, 1, 6), lines=tuple(lines))


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("Accept", ACCEPTED),
        ("Change", CHANGED),
        ("Reject", REJECTED),
        ("Delete", DELETED),
        ("AP", ACCEPTED),
        ("AB", ACCEPTED),
        ("CA", CHANGED),
        ("RE", REJECTED),
    ],
)
def test_header_codes(code, label):
    assert header_label(code) == label


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("Accept", ACCEPTED),
        ("Change", CHANGED),
        ("Add", ADDED),
        ("Reject", REJECTED),
        ("Delete", DELETED),
        ("5", ACCEPTED),
        ("3", CHANGED),
        ("1", ADDED),
        ("7", REJECTED),
        ("9", DELETED),
        ("42", ACCEPTED),
    ],
)
def test_line_codes(code, label):
    assert line_label(code) == label


def test_confirmed_without_changes():
    fx = response_effects(
        rsp("Accept", ResponseLine("1", "Accept"), ResponseLine("2", "Accept")),
        LINES,
        auto_accept=(),
        item_for_mpn={},
    )
    assert (fx.header_status, fx.line_status, fx.amendments, fx.line_updates) == (
        ACCEPTED,
        {"1": ACCEPTED, "2": ACCEPTED},
        [],
        {},
    )


def test_confirmed_with_changes_records_amendments_and_applies_only_accepted_kinds():
    response = rsp(
        "Change",
        ResponseLine(
            "1", "Change", quantity=Decimal(8), unit_price=Decimal("2.4"), delivery_date=date(2026, 1, 25)
        ),
        ResponseLine("2", "Accept"),
    )
    fx = response_effects(response, LINES, auto_accept=("quantity",), item_for_mpn={})
    assert fx.header_status == CHANGED and fx.line_status == {"1": CHANGED, "2": ACCEPTED}
    assert [(a.change, a.old_value, a.new_value, a.applied) for a in fx.amendments] == [
        ("quantity", "10", "8", True),
        ("price", "2.5", "2.4", False),
        ("date", "2026-01-20", "2026-01-25", False),
    ]
    assert fx.line_updates == {"1": {"quantity": 8}}


def test_order_on_hold_and_deleted():
    fx = response_effects(rsp("Reject"), LINES, auto_accept=("deleted",), item_for_mpn={})
    assert fx.header_status == REJECTED and set(fx.line_status.values()) == {REJECTED} and not fx.line_updates
    fx = response_effects(rsp("Delete"), LINES, auto_accept=("deleted",), item_for_mpn={})
    assert fx.header_status == DELETED and fx.line_updates == {
        "1": {"isClosed": True},
        "2": {"isClosed": True},
    }


def test_line_on_hold_line_deleted_line_added_line_split():
    response = rsp(
        "Change",
        ResponseLine("1", "Change", quantity=Decimal(6), ship_date=date(2026, 1, 21)),
        ResponseLine("1", "Change", quantity=Decimal(4), ship_date=date(2026, 2, 1)),
        ResponseLine("2", "Reject"),
        ResponseLine(None, "Add", mpn="MPN-13", quantity=Decimal(2), unit_price=Decimal(3)),
    )
    fx = response_effects(response, LINES, auto_accept=("split", "added"), item_for_mpn={"MPN-13": "13"})
    assert fx.line_status == {"1": CHANGED, "2": REJECTED}
    assert [a.change for a in fx.amendments] == ["added", "split", "rejected"]
    assert fx.line_updates == {"1": {"quantity": 6}}
    assert [(n["item_id"], n["quantity"], n["status"]) for n in fx.new_lines] == [
        ("13", Decimal(2), ADDED),
        ("11", Decimal(4), CHANGED),
    ]
    deleted = response_effects(rsp("Change", ResponseLine("2", "9")), LINES, auto_accept=(), item_for_mpn={})
    assert (
        deleted.line_status["2"] == DELETED
        and deleted.amendments[0].applied is False
        and not deleted.line_updates
    )


def test_unknown_codes_lines_and_items_are_problems():
    assert response_effects(rsp("Maybe"), LINES, auto_accept=(), item_for_mpn={}).problems
    fx = response_effects(
        rsp(
            "Change",
            ResponseLine("9", "Accept"),
            ResponseLine("1", "X"),
            ResponseLine(None, "Add", mpn="NOPE"),
        ),
        LINES,
        auto_accept=(),
        item_for_mpn={},
    )
    assert len(fx.problems) == 3 and "LineNumber '9'" in fx.problems[0] and "NOPE" in fx.problems[2]


# ------------------------------------------------------------------------------ despatch and invoices


def snapshot():
    from po_sync.netsuite.mapping import OrderLine, OrderSnapshot

    return OrderSnapshot(
        number="PO000007",
        id="7",
        vendor_id="V1",
        vendor_ref="3",
        currency="EUR",
        lines=(
            OrderLine("1", "SKU-11", Decimal(4), rate=Decimal("2.5")),
            OrderLine("2", "SKU-12", Decimal(1)),
        ),
    )


def advice(*lines):
    from po_sync.onetrail.formats import Container, DespatchAdvice

    return DespatchAdvice(
        "D1", "DN-1", BUYER, SELLER, BUYER, date(2026, 1, 9), (Container("0", tuple(lines), tracking="1Z1"),)
    )


def test_despatch_receipt_sums_lines_and_keeps_serials_and_tracking():
    from po_sync.onetrail.formats import DespatchLine
    from po_sync.onetrail.mapping import despatch_external_id, receipt_from_despatch

    adv = advice(
        DespatchLine("PO000007", "1", Decimal(1), serial_numbers=("A",)),
        DespatchLine("PO000007", "1", Decimal(1), serial_numbers=("B",)),
        DespatchLine("PO000008", "1", Decimal(9)),
        DespatchLine("PO000007", "2", Decimal(0)),
    )
    receipt = receipt_from_despatch(
        adv, snapshot(), external_id=despatch_external_id(adv, "PO000007"), where="f"
    )
    assert [(line.order_line, line.quantity, line.serial_numbers) for line in receipt.lines] == [
        ("1", Decimal(2), ("A", "B"))
    ]
    assert receipt.source_id == "OT-DSP-DN-1-PO000007" and "tracking 1Z1" in receipt.memo
    from po_sync.exceptions import RecordValidationError

    with pytest.raises(RecordValidationError, match="PO PO000007 has no line 9"):
        receipt_from_despatch(
            advice(DespatchLine("PO000007", "9", Decimal(1))), snapshot(), external_id="x", where="f"
        )


def invoice(**overrides):
    from po_sync.onetrail.formats import Invoice, InvoiceCharge, InvoiceLine

    values = dict(
        invoice_number="INV-1",
        po_number="PO000007",
        currency="EUR",
        invoice_date=date(2026, 1, 12),
        due_date=date(2026, 2, 11),
        seller_gln=SELLER,
        buyer_gln=BUYER,
        lines=(InvoiceLine("1", "1", Decimal(4), Decimal("2.5"), Decimal("2.10")),),
        charges=(InvoiceCharge("FREIGHT", Decimal(15), Decimal("3.15")),),
        tax_total=Decimal("5.25"),
        total=Decimal("30.25"),
        payment_terms="NET30",
    )
    values.update(overrides)
    return Invoice(**values)


INVOICE_SETTINGS = load_settings(
    {"buyer_gln": BUYER, "charge_types": {"FREIGHT": "601"}, "payment_terms": {"NET30": "2"}}
)


def test_invoice_bill_has_expense_terms_due_date_and_reconciles():
    from po_sync.onetrail.mapping import bill_extras, bill_from_invoice

    bill = bill_from_invoice(invoice(), snapshot(), INVOICE_SETTINGS, where="inv")
    assert bill.total == Decimal("30.25") and bill.tax_total == Decimal("5.25")
    extras = bill_extras(bill, invoice(), INVOICE_SETTINGS)
    assert extras["expense"]["items"] == [
        {"account": {"id": "601"}, "amount": 15.0, "memo": "FREIGHT", "tax1Amt": 3.15}
    ]
    assert extras["terms"] == {"id": "2"} and extras["dueDate"] == "2026-02-11"
    assert "terms" not in bill_extras(bill, invoice(payment_terms="NET99"), INVOICE_SETTINGS)


@pytest.mark.parametrize(
    ("overrides", "code", "text"),
    [
        ({"charges": ()}, "VALIDATION_ERROR", "total"),
        ({"total": Decimal("31.00")}, "VALIDATION_ERROR", "total"),
        ({"tax_total": Decimal("1")}, "TAX_MISMATCH", "add up to 5.25"),
        ({"currency": "GBP"}, "CURRENCY_MISMATCH", "PO PO000007 is in EUR"),
        ({"invoice_type": "CreditNote", "amount_type": "Credit"}, "CREDIT_NOTE", "credit notes"),
    ],
)
def test_invoice_refusals_name_the_field(overrides, code, text):
    from po_sync.exceptions import RecordValidationError
    from po_sync.onetrail.formats import InvoiceCharge
    from po_sync.onetrail.mapping import bill_from_invoice

    if overrides == {"charges": ()}:
        overrides = {"charges": (InvoiceCharge("FREIGHT", Decimal(14), Decimal("3.15")),)}
    with pytest.raises(RecordValidationError) as info:
        bill_from_invoice(invoice(**overrides), snapshot(), INVOICE_SETTINGS, where="inv")
    assert text in info.value.message
    if code != "VALIDATION_ERROR":
        assert info.value.code == code


def test_unconfigured_charge_type_is_named():
    from po_sync.exceptions import RecordValidationError
    from po_sync.onetrail.formats import InvoiceCharge
    from po_sync.onetrail.mapping import bill_from_invoice

    with pytest.raises(RecordValidationError, match=r"charge type\(s\) INSURANCE not configured") as info:
        bill_from_invoice(
            invoice(charges=(InvoiceCharge("INSURANCE", Decimal(15), Decimal("3.15")),)),
            snapshot(),
            INVOICE_SETTINGS,
            where="inv",
        )
    assert info.value.code == "UNCONFIGURED_CHARGE"


def test_settings_take_only_known_xml_name_renames():
    from po_sync.exceptions import ConfigurationError
    from po_sync.onetrail.settings import resolve_settings

    base = resolve_settings(None).model_dump(mode="json")
    ok = resolve_settings({**base, "xml_names": {"SerialNumber": "SerialIdentifier"}})
    assert ok.xml_names == {"SerialNumber": "SerialIdentifier"}
    with pytest.raises(ConfigurationError, match="not renamable"):
        resolve_settings({**base, "xml_names": {"Pip3A4PurchaseOrderRequest": "X"}})
