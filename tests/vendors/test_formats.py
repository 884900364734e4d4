"""Vendor file formats: round trips and hostile or broken input."""

from __future__ import annotations

import json

import pytest

from po_sync.vendors.formats import (
    DocumentFormatError,
    dump_document,
    format_from_key,
    load_document,
)

NOTICE = {
    "document_type": "ship_notice",
    "document_id": "SN-1",
    "vendor_id": "V0001",
    "po_number": "PO000001",
    "ship_date": "2026-01-06",
    "carrier": "UPS",
    "tracking_numbers": ["1Z1", "1Z2"],
    "lines": [
        {
            "line": "1",
            "sku": "SKU-1",
            "quantity_shipped": "3",
            "quantity_cancelled": "0",
            "serial_numbers": ["A", "B", "C"],
        },
        {
            "line": "2",
            "sku": "SKU-2",
            "quantity_shipped": "0",
            "quantity_cancelled": "2",
            "serial_numbers": [],
        },
    ],
}


@pytest.mark.parametrize("fmt", ["xml", "json", "csv"])
def test_round_trip(fmt):
    loaded = load_document(dump_document(NOTICE, fmt), fmt, source=f"x.{fmt}")
    assert loaded["document_type"] == "ship_notice"
    assert loaded["tracking_numbers"] == ["1Z1", "1Z2"]
    assert loaded["lines"][0]["serial_numbers"] == ["A", "B", "C"]
    assert loaded["lines"][1]["quantity_cancelled"] == "2"
    assert loaded["po_number"] == "PO000001"


def test_json_numbers_stay_exact_strings():
    data = json.dumps({"document_type": "invoice", "lines": [{"rate": 0.1, "quantity": 3}]}).encode()
    assert load_document(data, "json")["lines"][0] == {"rate": "0.1", "quantity": "3"}


def test_format_from_key():
    assert format_from_key("a/b/C.XML") == "xml" and format_from_key("a/b.txt") is None


XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ShipNotice><po_number>&x;</po_number><lines/></ShipNotice>'
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><ShipNotice><po_number>&c;</po_number><lines/></ShipNotice>'
)
PARAM_ENTITY = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><ShipNotice><lines/></ShipNotice>'


@pytest.mark.parametrize(
    ("data", "fmt", "code"),
    [
        (XXE, "xml", "HOSTILE_XML"),
        (BOMB, "xml", "HOSTILE_XML"),
        (PARAM_ENTITY, "xml", "HOSTILE_XML"),
        (b"<ShipNotice><lines>", "xml", "MALFORMED_XML"),
        (b"<Order><lines/></Order>", "xml", "UNKNOWN_DOCUMENT"),
        (
            b"<ShipNotice><po_number>1</po_number><po_number>2</po_number><lines/></ShipNotice>",
            "xml",
            "MALFORMED_XML",
        ),
        (b'{"document_type": "ship_notice", "lines": [', "json", "MALFORMED_JSON"),
        (b'{"po_number": "A", "po_number": "B", "lines": []}', "json", "DUPLICATE_KEY"),
        (b'{"quantity": NaN, "lines": []}', "json", "MALFORMED_JSON"),
        (b"[1, 2]", "json", "MALFORMED_JSON"),
        (b'{"lines": "x"}', "json", "MALFORMED_JSON"),
        (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "json", "MALFORMED_JSON"),
        (
            b'{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}, "lines": []}',
            "json",
            "MALFORMED_JSON",
        ),
        ('{"carrier": "Ü", "lines": []}'.encode("latin-1"), "json", "BAD_ENCODING"),
        ("<ShipNotice><carrier>Ü</carrier><lines/></ShipNotice>".encode("utf-16"), "xml", "BAD_ENCODING"),
        (b"document_type,po_number,line\nship_notice,PO1,1,extra\n", "csv", "MALFORMED_CSV"),
        (b"document_type,line,line\nship_notice,1,2\n", "csv", "MALFORMED_CSV"),
        (b"po_number,line\nPO1,1\n", "csv", "MALFORMED_CSV"),
        (b"document_type,po_number,line\nship_notice,PO1,1\nship_notice,PO2,2\n", "csv", "MALFORMED_CSV"),
        (b"document_type,po_number\n", "csv", "MALFORMED_CSV"),
        (b'document_type,po_number\n"ship_notice,PO1\n', "csv", "MALFORMED_CSV"),
        (b"", "json", "EMPTY_FILE"),
    ],
)
def test_bad_input_is_refused_with_a_code(data, fmt, code):
    with pytest.raises(DocumentFormatError) as caught:
        load_document(data, fmt, source="inbound/f")
    assert caught.value.code == code, caught.value.message
    assert "inbound/f" in caught.value.message


def test_oversized_file_is_refused_before_parsing():
    with pytest.raises(DocumentFormatError) as caught:
        load_document(b"{" + b" " * 2000 + b"}", "json", source="big.json", max_bytes=1024)
    assert caught.value.code == "FILE_TOO_LARGE" and "1024" in caught.value.message


def test_utf8_bom_is_accepted():
    data = "\ufeff".encode() + dump_document(NOTICE, "json")
    assert load_document(data, "json")["document_id"] == "SN-1"


def test_a_wide_header_with_duplicates_names_a_few_and_counts_the_rest():
    """10,000 columns, 5,000 of them repeated: the error names the first duplicates (sorted) and says
    how many more, instead of carrying every name into the ledger and the quarantine note."""
    names = [f"c{i:05d}" for i in range(5000)]
    header = ",".join(["document_type", *names, *names])
    data = f"{header}\n{','.join(['ship_notice'] + ['1'] * 10000)}\n".encode()
    with pytest.raises(DocumentFormatError) as caught:
        load_document(data, "csv", source="inbound/wide.csv")
    message = caught.value.message
    assert caught.value.code == "MALFORMED_CSV"
    assert "duplicate CSV columns" in message and "'c00000'" in message and "'c00009'" in message
    assert "'c00010'" not in message and "and 4990 more" in message
    assert len(message) < 500


def test_a_header_wider_than_any_vendor_document_is_refused():
    from po_sync.vendors.formats import MAX_CSV_COLUMNS

    header = ",".join(["document_type", "po_number", *(f"x{i}" for i in range(MAX_CSV_COLUMNS))])
    data = f"{header}\n{','.join(['ship_notice', 'PO1'] + [''] * MAX_CSV_COLUMNS)}\n".encode()
    with pytest.raises(DocumentFormatError) as caught:
        load_document(data, "csv", source="inbound/wide.csv")
    assert caught.value.code == "MALFORMED_CSV"
    assert f"{MAX_CSV_COLUMNS + 2} columns" in caught.value.message
