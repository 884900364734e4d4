"""Mapping: NetSuite rows → canonical POs → vendor documents; vendor files → receipts, fulfilments, bills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from po_sync.exceptions import RecordError, RecordValidationError
from po_sync.models import PurchaseOrder
from po_sync.netsuite.mapping import (
    fulfillment_body,
    item_receipt_body,
    order_snapshots,
    po_lines_query,
    purchase_orders_from_rows,
    sql_literal,
    vendor_bill_body,
)
from po_sync.vendors.mapping import (
    check_against_order,
    document_hash,
    drop_ship_complete,
    merge_fulfillment,
    merge_id,
    merge_receipt,
    parse_vendor_document,
    purchase_order_document,
    vendor_bill_from_invoice,
)


def rows(
    po_id="1",
    tranid="PO1",
    vendor="V0001",
    created_from=None,
    lines=((1, "SKU-1", "4", "2.5"), (2, "SKU-2", "1", "10")),
):
    out = []
    for line, sku, qty, rate in lines:
        row = {
            "id": po_id,
            "tranid": tranid,
            "status": "B",
            "lastmod": "2026-01-05 08:29:00",
            "trandate": "1/5/2026",
            "entity": "7",
            "vendor": vendor,
            "foreigntotal": "20",
            "currency": "1",
            "line": str(line),
            "sku": sku,
            "quantity": qty,
            "quantityshiprecv": "0",
            "quantitybilled": "0",
            "rate": rate,
            "isclosed": "F",
            "isdropship": "F",
        }
        if created_from:
            row.update(createdfrom=created_from, sonumber="SO1", isdropship="T")
        out.append(row)
    return out


def test_rows_to_po_and_vendor_document():
    (po,) = purchase_orders_from_rows(rows())
    assert isinstance(po, PurchaseOrder)
    assert po.number == "PO1" and po.total == Decimal("20") and po.currency == "USD"
    assert po.last_modified == datetime(2026, 1, 5, 8, 29, tzinfo=UTC)
    doc = purchase_order_document(po, vendor_id="V0001")
    assert doc["status"] == "Pending Receipt" and doc["lines"][0] == {
        "line": "1",
        "sku": "SKU-1",
        "description": None,
        "quantity": "4",
        "unit": "EA",
        "rate": "2.5",
        "amount": "10",
    }
    assert document_hash(doc) == document_hash(
        purchase_order_document(purchase_orders_from_rows(rows())[0], vendor_id="V0001")
    )


def test_bad_po_is_an_error_in_place_not_an_exception():
    bad = rows(po_id="2", tranid="PO2", lines=((1, "SKU-1", "-4", "2"),))
    result = purchase_orders_from_rows(rows() + bad)
    assert isinstance(result[0], PurchaseOrder)
    assert (
        isinstance(result[1], RecordValidationError)
        and "PO PO2" in result[1].message
        and "quantity" in result[1].message
    )
    assert result[1].record_id == "PO2"


def test_query_refuses_injection_and_builds_window():
    with pytest.raises(RecordError):
        sql_literal("PO1' OR '1'='1")
    q = po_lines_query(
        vendor_id="V0001",
        statuses=["Pending Receipt", "D"],
        modified_from=datetime(2026, 1, 5, 8, tzinfo=UTC),
        modified_to=datetime(2026, 1, 5, 9, tzinfo=UTC),
    )
    assert (
        "t.status IN ('B', 'D')" in q
        and ">= TO_TIMESTAMP('2026-01-05 08:00:00'" in q
        and "< TO_TIMESTAMP('2026-01-05 09:00:00'" in q
    )


def notice(po="PO1", doc_id="SN-1", lines=None, vendor="V0001", day="2026-01-06"):
    return {
        "document_type": "ship_notice",
        "document_id": doc_id,
        "vendor_id": vendor,
        "po_number": po,
        "ship_date": day,
        "tracking_numbers": ["1Z9"],
        "lines": lines or [{"line": "1", "sku": "SKU-1", "quantity_shipped": "4"}],
    }


def test_parse_notice_errors_name_file_and_field():
    with pytest.raises(RecordValidationError) as caught:
        parse_vendor_document(
            notice(lines=[{"line": "1", "sku": "SKU-1", "quantity_shipped": "-3"}]), source="in/a.json"
        )
    assert (
        "in/a.json" in caught.value.message
        and "lines.0.quantity_shipped" in caught.value.message
        and ">= 0" in caught.value.message
    )
    with pytest.raises(RecordValidationError, match="reported twice"):
        parse_vendor_document(
            notice(lines=[{"line": "1", "sku": "S", "quantity_shipped": "1"}] * 2), source="a"
        )
    with pytest.raises(RecordValidationError) as caught:
        parse_vendor_document(notice(vendor="V9"), source="a", vendor_id="V0001")
    assert caught.value.code == "VENDOR_MISMATCH"
    with pytest.raises(RecordValidationError) as caught:
        parse_vendor_document({"document_type": "order"}, source="a")
    assert caught.value.code == "UNKNOWN_DOCUMENT"
    with pytest.raises(RecordValidationError, match="ship or cancel"):
        parse_vendor_document(notice(lines=[{"line": "1", "sku": "S"}]), source="a")


def test_excess_and_unknown_lines_against_the_order():
    order = order_snapshots(rows())["PO1"]
    with pytest.raises(RecordValidationError) as caught:
        check_against_order(
            parse_vendor_document(
                notice(lines=[{"line": "1", "sku": "SKU-1", "quantity_shipped": "5"}]), source="f"
            ),
            order,
            source="f",
        )
    assert caught.value.code == "EXCESS_QUANTITY" and "4 ordered" in caught.value.message
    with pytest.raises(RecordValidationError) as caught:
        check_against_order(
            parse_vendor_document(
                notice(lines=[{"line": "9", "sku": "SKU-1", "quantity_shipped": "1"}]), source="f"
            ),
            order,
            source="f",
        )
    assert caught.value.code == "UNKNOWN_LINE"
    with pytest.raises(RecordValidationError) as caught:
        check_against_order(
            parse_vendor_document(
                notice(lines=[{"line": "1", "sku": "SKU-X", "quantity_shipped": "1"}]), source="f"
            ),
            order,
            source="f",
        )
    assert caught.value.code == "UNKNOWN_ITEM"


def test_split_notices_merge_into_one_receipt_and_body_checks_remaining():
    order = order_snapshots(rows())["PO1"]
    n1 = parse_vendor_document(
        notice(lines=[{"line": "1", "sku": "SKU-1", "quantity_shipped": "1"}]), source="a"
    )
    n2 = parse_vendor_document(
        notice(
            doc_id="SN-2",
            day="2026-01-07",
            lines=[
                {"line": "1", "sku": "SKU-1", "quantity_shipped": "2"},
                {"line": "2", "sku": "SKU-2", "quantity_cancelled": "1"},
            ],
        ),
        source="b",
    )
    merged = merge_id("R", "PO1", [n1, n2])
    assert merged == merge_id("R", "PO1", [n2, n1])
    receipt = merge_receipt(order, [n1, n2], merged_id=merged)
    assert [(ln.order_line, ln.quantity) for ln in receipt.lines] == [("1", Decimal(3))]
    body = item_receipt_body(receipt, order, document="doc")
    assert (
        body["item"]["items"] == [{"orderLine": 1, "itemReceive": True, "quantity": 3}]
        and body["externalId"] == merged
    )
    received = order_snapshots([{**r, "quantityshiprecv": "2"} for r in rows()])["PO1"]
    with pytest.raises(RecordError) as caught:
        item_receipt_body(receipt, received, document="doc")
    assert caught.value.code == "OVER_RECEIPT" and "lines.0.quantity" in caught.value.message


def test_drop_ship_waits_for_every_vendor():
    orders = order_snapshots(
        rows(created_from="50")
        + rows(po_id="2", tranid="PO2", vendor="V0002", created_from="50", lines=((1, "SKU-3", "2", "1"),))
    )
    mine = parse_vendor_document(
        notice(
            lines=[
                {"line": "1", "sku": "SKU-1", "quantity_shipped": "4"},
                {"line": "2", "sku": "SKU-2", "quantity_cancelled": "1"},
            ]
        ),
        source="a",
    )
    assert drop_ship_complete(orders.values(), [mine]) == ["PO2 line 1: 0 of 2"]
    theirs = parse_vendor_document(
        notice(
            po="PO2",
            doc_id="SN-9",
            vendor="V0002",
            lines=[{"line": "1", "sku": "SKU-3", "quantity_shipped": "2", "serial_numbers": ["S1", "S2"]}],
        ),
        source="b",
    )
    assert drop_ship_complete(orders.values(), [mine, theirs]) == []
    f = merge_fulfillment("50", "SO1", list(orders.values()), [mine, theirs], merged_id="F-SO1-x")
    assert {ln.line_id.split(":")[0] for ln in f.lines} == {"PO1", "PO2"} and f.tracking_numbers == ("1Z9",)
    so_lines = [
        {
            "line": 1,
            "item": {"refName": "SKU-1"},
            "linkedOrder": {"id": "1"},
            "quantity": 4,
            "quantityFulfilled": 0,
        },
        {
            "line": 2,
            "item": {"refName": "SKU-2"},
            "linkedOrder": {"id": "1"},
            "quantity": 1,
            "quantityFulfilled": 0,
        },
        {
            "line": 3,
            "item": {"refName": "SKU-3"},
            "linkedOrder": {"id": "2"},
            "quantity": 2,
            "quantityFulfilled": 0,
        },
    ]
    body = fulfillment_body(f, so_lines, {"PO1": "1", "PO2": "2"}, document="d")
    assert [(i["orderLine"], i["quantity"]) for i in body["item"]["items"]] == [(1, 4), (3, 2)]
    assert body["package"]["items"][0]["packageTrackingNumber"] == "1Z9"
    serials = body["item"]["items"][1]["inventoryDetail"]["inventoryAssignment"]["items"]
    assert [(s["issueInventoryNumber"], s["quantity"]) for s in serials] == [("S1", 1), ("S2", 1)]
    with pytest.raises(RecordError) as caught:
        fulfillment_body(
            f,
            [{**ln, "quantityFulfilled": ln["quantity"]} for ln in so_lines],
            {"PO1": "1", "PO2": "2"},
            document="d",
        )
    assert caught.value.code == "OVER_FULFILLMENT"


def test_invoice_to_bill():
    order = order_snapshots(rows())["PO1"]
    inv = parse_vendor_document(
        {
            "document_type": "invoice",
            "document_id": "I1",
            "vendor_id": "V0001",
            "po_number": "PO1",
            "invoice_number": "INV-1",
            "invoice_date": "2026-01-08",
            "currency": "usd",
            "freight": "5",
            "lines": [{"line": "1", "sku": "SKU-1", "quantity": "4", "rate": "2.5"}],
        },
        source="i",
    )
    from po_sync.vendors.settings import BillSettings

    bills = BillSettings(charge_accounts={"freight": "54"})
    bill = vendor_bill_from_invoice(inv, order, merged_id="B-PO1-x", bills=bills)
    assert bill.total == Decimal("15") and bill.currency == "USD"
    body = vendor_bill_body(bill, order, document="d")
    assert body["item"]["items"] == [{"orderLine": 1, "quantity": 4, "rate": 2.5}]
    # issue 10 item 8: freight used to be built and never sent
    assert body["expense"]["items"] == [{"account": {"id": "54"}, "amount": 5, "memo": "freight"}]
    with pytest.raises(RecordValidationError, match="positive"):
        parse_vendor_document(
            {
                "document_type": "invoice",
                "document_id": "I1",
                "vendor_id": "V0001",
                "po_number": "PO1",
                "invoice_number": "INV-1",
                "invoice_date": "2026-01-08",
                "currency": "USD",
                "lines": [{"line": "1", "sku": "SKU-1", "quantity": "0", "rate": "2.5"}],
            },
            source="i",
        )


def _invoice(**extra):
    return parse_vendor_document(
        {
            "document_type": "invoice",
            "document_id": "I2",
            "vendor_id": "V0001",
            "po_number": "PO1",
            "invoice_number": "INV-2",
            "invoice_date": "2026-01-08",
            "due_date": "2026-02-07",
            "currency": "USD",
            **extra,
            "lines": [{"line": "1", "sku": "SKU-1", "quantity": "4", "rate": "2.5"}],
        },
        source="inbound/Invoice_I2.json",
    )


def test_charges_tax_terms_and_due_date_reach_the_bill_body():
    """Issue 10 item 8: every charge an expense line by the configured map, tax and terms as invoiced."""
    from po_sync.vendors.settings import BillSettings

    order = order_snapshots(rows())["PO1"]
    bills = BillSettings(
        charge_accounts={"freight": "54", "handling": "55"}, tax_account="60", terms={"Net 30": "2"}
    )
    inv = _invoice(freight="5", charge_handling="1.50", tax="0.83", terms="Net 30", total="17.33")
    bill = vendor_bill_from_invoice(inv, order, merged_id="B-PO1-y", bills=bills, source="f")
    body = vendor_bill_body(bill, order, document="d")
    assert body["expense"]["items"] == [
        {"account": {"id": "54"}, "amount": 5, "memo": "freight"},
        {"account": {"id": "55"}, "amount": 1.5, "memo": "handling"},
        {"account": {"id": "60"}, "amount": 0.83, "memo": "tax"},
    ]
    assert body["terms"] == {"id": "2"} and body["dueDate"] == "2026-02-07"
    assert bill.total == Decimal("17.33")


@pytest.mark.parametrize(
    ("extra", "code", "named"),
    [
        ({"charge_fuel_surcharge": "3"}, "UNMAPPED_CHARGE", "charge_fuel_surcharge"),
        ({"tax": "1"}, "UNMAPPED_CHARGE", "tax_account"),
        ({"terms": "Net 90"}, "UNMAPPED_TERMS", "'Net 90'"),
        ({"freight": "5", "total": "99"}, "VALIDATION_ERROR", "total"),
    ],
)
def test_an_unmapped_charge_or_terms_or_a_wrong_total_is_a_quarantine_naming_it(extra, code, named):
    from po_sync.vendors.settings import BillSettings

    order = order_snapshots(rows())["PO1"]
    bills = BillSettings(charge_accounts={"freight": "54"}, terms={"Net 30": "2"})
    with pytest.raises(RecordValidationError) as caught:
        vendor_bill_from_invoice(
            _invoice(**extra), order, merged_id="B-PO1-z", bills=bills, source="inbound/Invoice_I2.json"
        )
    assert caught.value.code == code and named in caught.value.message
    assert "inbound/Invoice_I2.json" in caught.value.message
