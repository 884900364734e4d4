"""Property tests (hypothesis): whatever a vendor puts in a file, or a person in a conf, the parsers and
query builders give a clean record or a quarantine (a ``RecordValidationError`` naming the file) -
never an unhandled exception, and never a value in a SuiteQL literal that ``sql_literal`` refuses
(issue 10, item 5: ``PO#000002`` once failed every merge run)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from po_sync.exceptions import ConfigurationError, RecordError, RecordValidationError
from po_sync.netsuite.mapping import OrderLine, OrderSnapshot, po_lines_query, sql_literal
from po_sync.vendors.formats import dump_document, load_document
from po_sync.vendors.mapping import (
    ShipNotice,
    check_against_order,
    merge_id,
    merge_receipt,
    parse_vendor_document,
    vendor_bill_from_invoice,
)

KEY = "vendor-a/inbound/Generated.json"
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Values people and vendors really send, hostile ones included.
NASTY = [
    "PO#000002",
    "PO'000001",
    "PO000001' OR '1'='1",
    "PO000001\n",
    "PO000001; DROP TABLE transaction",
    "../../etc/passwd",
    "%2e%2e%2f",
    "",
    " ",
    "x" * 101,
    "PO 000001",
    "ÜMLAUT-1",
    "PO\x00001",
    "1e9",
    "-1",
]
any_text = st.text(max_size=24)
identifier = st.one_of(
    st.from_regex(r"PO[0-9]{6}", fullmatch=True), st.sampled_from(NASTY), any_text, st.integers()
)
good_quantity = st.sampled_from(["1", "2", "3", "0"])
quantity = st.one_of(
    good_quantity,
    good_quantity,
    good_quantity,
    st.decimals(min_value=-5, max_value=50, places=2, allow_nan=False).map(str),
    st.sampled_from(["NaN", "Infinity", "1e400", "-0", "", "abc", "1,5"]),
    st.integers(min_value=-3, max_value=10),
)


def is_safe_identifier(value: str) -> bool:
    try:
        sql_literal(value)
    except RecordError:
        return False
    return True


ORDER = OrderSnapshot(
    number="PO000001",
    id="11",
    vendor_id="V0001",
    vendor_ref="7",
    lines=(
        OrderLine(line="1", sku="SKU-1", quantity=Decimal(5)),
        OrderLine(line="2", sku="SKU-2", quantity=Decimal(3)),
    ),
)


@st.composite
def vendor_documents(draw: st.DrawFn) -> dict:
    doc_type = draw(st.sampled_from(["ship_notice", "invoice", "invoice", "ship_notice", "other"]))
    po_number = draw(st.one_of(st.just("PO000001"), identifier))
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=3)) if draw(st.booleans()) else 0):
        line = {
            "line": draw(st.sampled_from([str(len(lines) + 1), "9"]) if draw(st.booleans()) else identifier),
            "sku": draw(st.one_of(st.sampled_from(["SKU-1", "SKU-2"]), any_text)),
        }
        if doc_type == "invoice":
            line.update(quantity=draw(quantity), rate=draw(quantity), amount=draw(quantity))
        else:
            line.update(quantity_shipped=draw(quantity), quantity_cancelled=draw(quantity))
        lines.append(line)
    doc = {
        "document_type": doc_type,
        "document_id": draw(identifier),
        "vendor_id": draw(st.sampled_from(["V0001", "V0001", "V0001", "V0002"])),
        "po_number": po_number,
        "lines": lines,
    }
    if doc_type == "invoice":
        doc.update(
            invoice_number=draw(identifier),
            invoice_date=draw(st.sampled_from(["2026-01-08", "2026-01-08", "2026-13-01", "yesterday", ""])),
            currency=draw(st.sampled_from(["USD", "USD", "usd", "US", "€"])),
            freight=draw(st.one_of(st.none(), quantity)),
        )
    else:
        doc.update(
            ship_date=draw(st.sampled_from(["2026-01-06", "2026-01-06", "2026-02-30", "", "06/01/2026"])),
            carrier=draw(st.one_of(st.none(), any_text)),
        )
    return doc


def _through_the_merge(data: bytes, fmt: str) -> None:
    """What the merge does with one file's bytes, short of S3: load, validate, look up, map."""
    key = KEY.replace(".json", f".{fmt}")
    try:
        raw = load_document(data, fmt, source=key, max_bytes=65_536)
        document = parse_vendor_document(raw, source=key, vendor_id="V0001")
    except RecordValidationError as exc:  # a quarantine: the note names the file
        assert exc.code and key in exc.message, exc.message
        return
    # A clean record: every value that reaches a query or a key is fit for it.
    assert is_safe_identifier(document.po_number), document.po_number
    assert sql_literal(document.po_number) in po_lines_query(numbers=[document.po_number])
    order = ORDER if document.po_number == ORDER.number else None
    if order is None:
        return  # the merge quarantines it as UNKNOWN_PO (a message, not an exception)
    try:
        check_against_order(document, order, source=key)
    except RecordValidationError as exc:
        assert key in exc.message
        return
    merged = merge_id("R", order.number, [document])
    assert is_safe_identifier(merged)
    if isinstance(document, ShipNotice):
        merge_receipt(order, [document], merged_id=merged)
    else:
        vendor_bill_from_invoice(document, order, merged_id=merged)


HASH_PO = {
    "document_type": "ship_notice",
    "document_id": "SN-1",
    "vendor_id": "V0001",
    "po_number": "PO#000002",
    "ship_date": "2026-01-06",
    "lines": [{"line": "1", "sku": "SKU-1", "quantity_shipped": "1"}],
}


@PROPERTY
@given(document=vendor_documents())
@example(document=HASH_PO)
@example(document={**HASH_PO, "po_number": "PO000001\n"})
def test_generated_json_vendor_files_are_clean_or_quarantined(document: dict) -> None:
    _through_the_merge(json.dumps(document, default=str).encode(), "json")


@PROPERTY
@given(document=vendor_documents(), fmt=st.sampled_from(["csv", "xml"]))
def test_generated_csv_and_xml_vendor_files_are_clean_or_quarantined(document: dict, fmt: str) -> None:
    try:
        data = dump_document(document, fmt)
    except (ValueError, TypeError):  # our own writer refuses the value: nothing to feed the reader
        return
    _through_the_merge(data, fmt)


@PROPERTY
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["json", "csv", "xml"]))
def test_arbitrary_bytes_are_quarantined_never_raised(data: bytes, fmt: str) -> None:
    _through_the_merge(data, fmt)


def test_the_po_number_that_failed_every_merge_run_is_now_a_quarantine() -> None:
    with pytest.raises(RecordValidationError) as caught:
        parse_vendor_document(HASH_PO, source=KEY, vendor_id="V0001")
    assert "po_number = 'PO#000002'" in caught.value.message and KEY in caught.value.message


# ---------------------------------------------------------------------------------------- conf


@PROPERTY
@given(
    value=st.one_of(
        st.lists(st.one_of(identifier, st.none()), max_size=4),
        any_text,
        st.none(),
        st.sampled_from(["[", "[1, 2", '["PO#1"]', "PO000001, PO#2", '{"a": 1}']),
    )
)
def test_resync_po_numbers_conf_is_a_query_or_a_configuration_error(value: object) -> None:
    from po_sync.vendors.operators.po_export import VendorPOExportOperator

    op = VendorPOExportOperator(task_id="export", vendor_id="V0001", resync_po_numbers=value)
    try:
        numbers = op._resync()
    except ConfigurationError as exc:  # the task fails naming the param; nothing half-done
        assert "resync_po_numbers" in str(exc)
        return
    if numbers:
        query = po_lines_query(vendor_id="V0001", numbers=numbers)
        assert all(sql_literal(n) in query for n in numbers)


# ------------------------------------------------------------------------ merged documents (import)


@PROPERTY
@given(
    kind=st.sampled_from(["item_receipt", "vendor_bill", "item_fulfillment"]),
    number=st.one_of(st.none(), identifier),
    so_id=st.one_of(st.sampled_from(["12", "0012", "1" * 19]), identifier),
    line_ids=st.lists(st.one_of(st.just("PO000001:1:SN-1"), identifier.map(str)), max_size=3),
)
def test_merged_documents_read_back_from_s3_are_checked_before_any_query_or_url(
    kind: str, number: object, so_id: object, line_ids: list[str]
) -> None:
    """The import reads ``ready/`` files anyone with bucket access can write: a value that would reach
    SuiteQL or a record URL is refused (the document is quarantined) or is safe there."""
    from types import SimpleNamespace

    from po_sync.vendors.operators.fulfillment_import import _identifier_problem

    model = SimpleNamespace(
        created_from=SimpleNamespace(number=number, id=so_id),
        lines=[SimpleNamespace(line_id=line) for line in line_ids],
    )
    problem = _identifier_problem(kind, model)
    if problem is not None:
        assert "=" in problem  # names the field and the value
        return
    if kind == "item_fulfillment":
        assert isinstance(so_id, str) and so_id.isascii() and so_id.isdigit()
        numbers = sorted({line.split(":", 1)[0] for line in line_ids})
        if numbers:
            po_lines_query(numbers=numbers)  # no RecordError
    elif number is not None:
        po_lines_query(numbers=[number])
