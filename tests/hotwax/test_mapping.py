"""NetSuite rows <-> canonical <-> HotWax mapping (pure functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from po_sync.exceptions import RecordValidationError
from po_sync.hotwax.formats import ReceiptLine, ReceiptOrder
from po_sync.hotwax.mapping import (
    RECEIPT_MEMO,
    hotwax_rows,
    item_receipt,
    parse_netsuite_date,
    po_line_states,
    purchase_order_from_rows,
    receipt_external_id,
    receipt_problems,
    transform_body,
)

ROWS = [
    {
        "po_id": "42",
        "tranid": "PO000042",
        "trandate": "1/5/2026",
        "vendor_id": "7",
        "po_location": "3",
        "line_id": "1",
        "item_id": "11",
        "sku": "SKU-00011",
        "quantity": "10",
        "rate": "2.5",
    },
    {
        "po_id": "42",
        "tranid": "PO000042",
        "trandate": "1/5/2026",
        "vendor_id": "7",
        "po_location": "3",
        "line_id": "2",
        "item_id": "12",
        "sku": "SKU-00012",
        "quantity": "4",
        "rate": "1",
        "line_location": "5",
    },
]


def test_rows_to_canonical_to_hotwax():
    po = purchase_order_from_rows(ROWS, currency="USD", expected_receipt_date=date(2026, 2, 1))
    assert po.source_id == "42" and po.number == "PO000042" and po.tran_date == date(2026, 1, 5)
    assert po.total == Decimal("29")
    rows = hotwax_rows(po)
    assert [r.values() for r in rows] == [
        ("42", "SKU-00011", "10", "3", "1", "02/01/2026"),
        ("42", "SKU-00012", "4", "5", "2", "02/01/2026"),  # the line's own location wins
    ]


def test_bad_rows_raise_validation_errors():
    with pytest.raises(ValidationError):
        purchase_order_from_rows([{**ROWS[0], "quantity": "-1"}], currency="USD")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1/5/2026", date(2026, 1, 5)),
        ("2026-01-05", date(2026, 1, 5)),
        ("2026-01-05T10:00:00Z", date(2026, 1, 5)),
        (None, None),
        ("", None),
    ],
)
def test_netsuite_dates(text, expected):
    assert parse_netsuite_date(text) == expected


PO_LINES = po_line_states(
    [
        {"line": 1, "item": {"id": "11"}, "quantity": 10, "quantityReceived": 4, "isClosed": False},
        {"line": 2, "item": {"id": "12"}, "quantity": 4, "quantityReceived": 0, "isClosed": True},
    ]
)


def order(*lines):
    return ReceiptOrder("42", tuple(ReceiptLine(lid, Decimal(q)) for lid, q in lines), 0)


def test_receipt_matches_order_lines_and_drops_zero_quantities():
    ext = receipt_external_id("f.json", "ab" * 32, "42")
    receipt = item_receipt(
        order(("1", "6"), ("2", "0")), PO_LINES, tran_date=date(2026, 1, 5), source="f.json", external_id=ext
    )
    assert [(ln.order_line, ln.quantity) for ln in receipt.lines] == [("1", Decimal(6))]
    assert receipt_problems(receipt, PO_LINES) == []
    assert transform_body(receipt) == {
        "externalId": ext,
        "memo": RECEIPT_MEMO,
        "tranDate": "2026-01-05",
        "item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 6}]},
    }
    assert (
        ext
        == receipt_external_id("f.json", "ab" * 32, "42")
        != receipt_external_id("g.json", "ab" * 32, "42")
    )


def test_over_receipt_and_closed_lines_are_problems():
    receipt = item_receipt(
        order(("1", "7"), ("2", "1")), PO_LINES, tran_date=date(2026, 1, 5), source="f", external_id="x"
    )
    assert receipt_problems(receipt, PO_LINES) == [
        "line 1 receives 7 but only 6 of 10 remain (over-receipt)",
        "line 2 is closed",
    ]


def test_unknown_line_is_a_validation_error():
    with pytest.raises(RecordValidationError, match="line\\(s\\) 9 are not on the PO") as info:
        item_receipt(order(("9", "1")), PO_LINES, tran_date=date(2026, 1, 5), source="f", external_id="x")
    assert info.value.code == "UNKNOWN_LINE"
