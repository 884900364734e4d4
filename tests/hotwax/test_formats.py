"""HotWax PO CSV writer and receipt feed parser."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from po_sync.hotwax.formats import (
    PO_CSV_HEADER,
    FormatError,
    HotWaxPoRow,
    ReceiptFeedError,
    error_report_csv,
    format_arrival_date,
    parse_po_csv,
    parse_receipt_feed,
    write_po_csv,
)


def row(**overrides):
    values = {
        "external_id": "8302919",
        "product_sku": "SKU-1",
        "quantity": "100",
        "external_facility_id": "3",
        "item_external_id": "1",
        "arrival_date": "01/31/2026",
    }
    values.update(overrides)
    return HotWaxPoRow(**values)


def test_csv_is_hotwax_format_verbatim():
    data = write_po_csv([row(), row(item_external_id="2", quantity="2.5", arrival_date="")])
    assert data == (
        b"external-id,product-sku,quantity,external-facility-id,item-external-id,arrival-date\n"
        b"8302919,SKU-1,100,3,1,01/31/2026\n8302919,SKU-1,2.5,3,2,\n"
    )
    assert parse_po_csv(data)[1].quantity == "2.5"
    assert ",".join(PO_CSV_HEADER).encode() in data


def test_arrival_date_is_mm_dd_yyyy():
    assert format_arrival_date(date(2026, 3, 7)) == "03/07/2026"
    assert format_arrival_date(None) == ""


@pytest.mark.parametrize("sku", ["A,B", 'say "x"', "two\nlines"])
def test_values_that_unquoted_csv_cannot_carry_are_refused(sku):
    with pytest.raises(FormatError, match="product-sku"):
        write_po_csv([row(product_sku=sku)])


def test_empty_required_value_is_refused():
    with pytest.raises(FormatError, match="external-facility-id is empty"):
        write_po_csv([row(external_facility_id="")])


def feed(orders):
    return json.dumps(orders).encode()


def test_feed_parses_strings_and_tolerates_empty_and_zero_quantities():
    parsed = parse_receipt_feed(
        feed(
            [
                {
                    "order_id": "8302919",
                    "items": [
                        {"line_id": "1", "quantity": "100"},
                        {"line_id": "2", "quantity": ""},
                        {"line_id": "3", "quantity": "0"},
                        {"line_id": "4"},
                    ],
                },
                {"order_id": "7", "items": [{"line_id": "1", "quantity": "0.5"}]},
            ]
        )
    )
    assert parsed.problems == ()
    first, second = parsed.orders
    assert [ln.quantity for ln in first.lines] == [Decimal(100), 0, 0, 0]
    assert first.receives_anything and second.lines[0].quantity == Decimal("0.5")
    assert first.as_feed()["items"][1] == {"line_id": "2", "quantity": "0"}


@pytest.mark.parametrize(
    ("order", "words"),
    [
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": "-3"}]}, "must not be negative"),
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": "three"}]}, "is not a number"),
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": "NaN"}]}, "is not a number"),
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": True}]}, "written as a string"),
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": "1e30"}]}, "implausibly large"),
        ({"order_id": "../1", "items": [{"line_id": "1", "quantity": "1"}]}, "string of digits"),
        ({"order_id": "1", "items": [{"line_id": "x", "quantity": "1"}]}, "items.0.line_id"),
        ({"order_id": "1", "items": []}, "non-empty list"),
        (
            {
                "order_id": "1",
                "items": [{"line_id": "1", "quantity": "1"}, {"line_id": "1", "quantity": "1"}],
            },
            "twice",
        ),
        ({"order_id": "1", "items": [{"line_id": "1", "quantity": "1", "sku": "x"}]}, "unknown field"),
        ("not an order", "must be an object"),
    ],
)
def test_one_bad_order_is_a_problem_and_the_others_still_parse(order, words):
    parsed = parse_receipt_feed(
        feed([order, {"order_id": "2", "items": [{"line_id": "1", "quantity": "1"}]}])
    )
    assert [o.order_id for o in parsed.orders] == ["2"]
    (problem,) = parsed.problems
    assert words in problem.message and problem.index == 0 and problem.raw == order


def test_the_same_order_twice_in_a_file_is_a_problem():
    order = {"order_id": "2", "items": [{"line_id": "1", "quantity": "1"}]}
    parsed = parse_receipt_feed(feed([order, order]))
    assert len(parsed.orders) == 1 and "appears again" in parsed.problems[0].message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'[{"order_id": "1", "items": [', "ends early"),
        (b"", "empty"),
        (b'{"order_id": "1"}', "top level must be a list"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[NaN]", "NaN"),
    ],
)
def test_unusable_files_raise(data, words):
    with pytest.raises(ReceiptFeedError, match=words):
        parse_receipt_feed(data)


def test_size_limit():
    with pytest.raises(ReceiptFeedError, match="byte limit"):
        parse_receipt_feed(b"[]" + b" " * 100, max_bytes=50)


def test_error_report_quotes_for_people():
    assert error_report_csv([("1", "bad, very")]) == b'orderId,errorMessage\n1,"bad, very"\n'
