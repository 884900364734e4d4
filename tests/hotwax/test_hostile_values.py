"""Issue 16 audit defects in HotWax's files at the formats level: formula injection in the PO CSV
and in the ``errors.csv`` reports people open; hostile receipt JSON refused with a reason."""

from __future__ import annotations

import csv
import io

import pytest

from po_sync.hotwax.formats import (
    HotWaxPoRow,
    ReceiptFeedError,
    error_report_csv,
    parse_receipt_feed,
    write_po_csv,
)


def test_po_csv_skus_never_start_a_formula():
    rows = [
        HotWaxPoRow("7", "=cmd|' /C calc'!A0", "2", "1", "11", ""),
        HotWaxPoRow("7", "@SUM(A1)", "1", "1", "12", ""),
        HotWaxPoRow("7", "-2+3", "1", "1", "13", ""),
        HotWaxPoRow("7", "\t=1+1", "1", "1", "14", ""),
    ]
    lines = write_po_csv(rows).decode().splitlines()[1:]
    skus = [line.split(",")[1] for line in lines]
    assert skus == ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "'-2+3", "'\t=1+1"]


def test_error_reports_for_people_never_start_a_formula():
    data = error_report_csv([("=1+1", "+cmd|' /C calc'!A0"), ("42", "-bad"), ("43", "fine")])
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[1:] == [["'=1+1", "'+cmd|' /C calc'!A0"], ["42", "'-bad"], ["43", "fine"]]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'[{"order_id": "1", "items": [{"line_id": "1", "quantity": 1e999999999}]}]', "implausibly large"),
        (
            b'[{"order_id": "1", "items": [{"line_id": "1", "quantity": ' + b"9" * 5000 + b"}]}]",
            "implausibly large",
        ),
        (b'[{"order_id": "1", "items": [{"line_id": "1", "quantity": NaN}]}]', "not a number"),
        (b'[{"order_id": "1", "items": [{"line_id": "1", "quantity": Infinity}]}]', "not a number"),
    ],
)
def test_hostile_numbers_are_a_problem_with_the_order_or_the_file(data, words):
    try:
        feed = parse_receipt_feed(data, max_bytes=100_000)
    except ReceiptFeedError as exc:
        assert words in str(exc)
        return
    assert feed.orders == () and words in feed.problems[0].message


def test_deep_nesting_and_oversize_are_refused_as_a_file():
    with pytest.raises(ReceiptFeedError, match="nested too deeply"):
        parse_receipt_feed(b"[" * 100_000 + b"]" * 100_000, max_bytes=1_000_000)
    with pytest.raises(ReceiptFeedError, match="byte limit"):
        parse_receipt_feed(b"[" + b" " * 2000 + b"]", max_bytes=1000)
