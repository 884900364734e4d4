"""Vendor documents as files: XML, JSON and CSV writers and (hostile-input-safe) parsers.

A vendor document is a *header* of scalar fields plus ``lines``, a list of flat line dicts. List
valued fields (``tracking_numbers`` on a header, ``serial_numbers`` on a line) are the only nesting
besides the lines. Three document types travel between po-sync and the vendors:

``purchase_order``   po-sync → vendor   (``<PurchaseOrder>``)
``ship_notice``      vendor → po-sync   (``<ShipNotice>``: shipped and cancelled quantities per line)
``invoice``          vendor → po-sync   (``<Invoice>``: billed quantities and rates per line)

Shapes per format:

* JSON: ``{"document_type": ..., <header fields>, "lines": [{...}, ...]}``.
* XML: ``<ShipNotice><po_number>..</po_number>...<lines><item><line>1</line>...</item></lines></ShipNotice>``;
  a list field holds ``<value>`` children (``<tracking_numbers><value>1Z..</value></tracking_numbers>``).
  The root element names the document type (DataWald's legacy exports used ``<root>`` + ``<item>``).
* CSV: one row per line; header fields repeat on every row (and must agree); list fields are
  ``;``-separated.

Parsing refuses, with a :class:`DocumentFormatError` naming the file and the problem: files over
``max_bytes``; anything that is not UTF-8; XML with a DTD (which is how external entities and entity
expansion bombs arrive; parsed with ``defusedxml``); JSON with duplicate keys, ``NaN`` or absurd nesting;
CSV with duplicate or missing columns, ragged rows or header fields that differ between rows. All values
come back as strings (JSON numbers too, kept exact), so validation happens once, in the mapping layer.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from po_sync.exceptions import RecordValidationError
from po_sync.validation import csv_cell, csv_cell_value

__all__ = [
    "DOCUMENT_ROOTS",
    "FORMATS",
    "LIST_FIELDS",
    "DocumentFormatError",
    "FileFormat",
    "dump_document",
    "extension",
    "format_from_key",
    "load_document",
]

FileFormat = Literal["xml", "json", "csv"]
FORMATS: tuple[FileFormat, ...] = ("xml", "json", "csv")

#: XML root element per document type.
DOCUMENT_ROOTS = {"purchase_order": "PurchaseOrder", "ship_notice": "ShipNotice", "invoice": "Invoice"}
_TYPE_BY_ROOT = {root: doc_type for doc_type, root in DOCUMENT_ROOTS.items()}
#: Fields whose value is a list of strings (on the header or on a line).
LIST_FIELDS = frozenset({"tracking_numbers", "serial_numbers"})
#: The default ceiling for one vendor file; real ones are a few KB.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_MAX_JSON_DEPTH = 8
_CSV_LIST_SEP = ";"
#: The widest CSV header accepted: a vendor document has a few dozen columns; a 5 MiB file could
#: otherwise hold ~500k, and every one of them would be named in the error.
MAX_CSV_COLUMNS = 1000
#: How many duplicate column names an error message lists (then "and N more").
_NAMED_DUPLICATES = 10


class DocumentFormatError(RecordValidationError):
    """A file cannot be read as a vendor document (its code says why: ``MALFORMED_XML``, ``HOSTILE_XML``...)."""

    default_code = "MALFORMED_FILE"


def extension(fmt: str) -> str:
    """The file extension of a format (``xml``, ``json``, ``csv``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown vendor file format {fmt!r}; expected one of {FORMATS}")
    return fmt


def format_from_key(key: str) -> FileFormat | None:
    """The format a file name's extension says, or None."""
    suffix = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    return suffix if suffix in FORMATS else None


# ------------------------------------------------------------------------------------------ writers


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _split(document: Mapping[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    doc_type = str(document.get("document_type") or "")
    if doc_type not in DOCUMENT_ROOTS:
        raise ValueError(f"document_type must be one of {sorted(DOCUMENT_ROOTS)}, not {doc_type!r}")
    header = {k: v for k, v in document.items() if k not in ("lines", "document_type")}
    lines = [dict(line) for line in document.get("lines") or []]
    return doc_type, header, lines


def dump_document(document: Mapping[str, Any], fmt: str) -> bytes:
    """Serialise one document (header + ``lines``) to UTF-8 bytes in ``fmt``.

    :param document: ``{"document_type": ..., <fields>, "lines": [...]}``; values are str, int,
        Decimal, bool, None or (for :data:`LIST_FIELDS`) lists of those.
    :param fmt: ``xml``, ``json`` or ``csv``.
    """
    doc_type, header, lines = _split(document)
    if fmt == "json":
        body = {"document_type": doc_type, **header, "lines": lines}
        return (json.dumps(body, indent=2, ensure_ascii=False, default=_text) + "\n").encode("utf-8")
    if fmt == "xml":
        root = Element(DOCUMENT_ROOTS[doc_type])
        _xml_fields(root, header)
        container = SubElement(root, "lines")
        for line in lines:
            _xml_fields(SubElement(container, "item"), line)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(
            root, encoding="utf-8", xml_declaration=False
        )
    if fmt == "csv":
        header_cols = ["document_type", *header]
        line_cols: list[str] = []
        for line in lines:
            line_cols += [c for c in line if c not in line_cols]
        clash = set(line_cols) & set(header_cols)
        if clash:
            raise ValueError(f"fields {sorted(clash)} are on both the header and the lines")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header_cols + line_cols)
        head_values = [csv_cell(doc_type)] + [_csv_value(header[c]) for c in header]
        for line in lines or [{}]:
            writer.writerow(head_values + [_csv_value(line.get(c)) for c in line_cols])
        return out.getvalue().encode("utf-8")
    raise ValueError(f"unknown vendor file format {fmt!r}")


def _csv_value(value: Any) -> str:
    # every cell through po_sync.validation.csv_cell: a vendor opening the file in a spreadsheet
    # never runs a formula from an item name, memo or SKU
    if isinstance(value, list | tuple):
        return csv_cell(_CSV_LIST_SEP.join(_text(v) for v in value))
    return csv_cell(_text(value))


def _xml_fields(parent: Element, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        child = SubElement(parent, name)
        if isinstance(value, list | tuple):
            for item in value:
                SubElement(child, "value").text = _text(item)
        elif value is not None:
            child.text = _text(value)


# ------------------------------------------------------------------------------------------ parsers


def load_document(
    data: bytes, fmt: str, *, source: str = "", max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """Parse one vendor file into ``{"document_type", <header fields>, "lines": [...]}`` (values as str).

    :param data: the file's bytes.
    :param fmt: ``xml``, ``json`` or ``csv``.
    :param source: the file's name, used in error messages.
    :param max_bytes: larger files are refused before parsing.
    :raises DocumentFormatError: the file is too large, not UTF-8, malformed or hostile.
    """
    where = f"file {source}" if source else "file"
    if len(data) > max_bytes:
        raise DocumentFormatError(
            f"{where} is {len(data)} bytes, more than the {max_bytes}-byte limit for a vendor document",
            code="FILE_TOO_LARGE",
        )
    if not data.strip():
        raise DocumentFormatError(f"{where} is empty", code="EMPTY_FILE")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentFormatError(
            f"{where} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); vendor files must be UTF-8",
            code="BAD_ENCODING",
        ) from None
    if fmt == "json":
        return _load_json(text, where)
    if fmt == "xml":
        return _load_xml(data, where)
    if fmt == "csv":
        return _load_csv(text, where)
    raise DocumentFormatError(f"{where}: unknown format {fmt!r}", code="UNKNOWN_FORMAT")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


#: The longest JSON number a vendor document may hold, and the largest / smallest magnitude (10**n):
#: quantities and amounts fit easily; "1e999999999" or 5,000 digits are refused while parsing, so
#: they never reach Decimal arithmetic or Python's int-to-string limit.
_MAX_NUMBER_CHARS = 40
_MAX_MAGNITUDE = 15


def _number(text: str) -> Decimal:
    if len(text) > _MAX_NUMBER_CHARS:
        raise ValueError(f"number {text[:20]}... is longer than {_MAX_NUMBER_CHARS} characters")
    value = Decimal(text)
    if value and abs(value.adjusted()) > _MAX_MAGNITUDE:
        raise ValueError(
            f"number {text} is out of range (more than 10^{_MAX_MAGNITUDE} or less than 10^-{_MAX_MAGNITUDE})"
        )
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > _MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _stringify(value: Any, where: str, path: str) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, list):
        return [_stringify(v, where, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        raise DocumentFormatError(f"{where}: {path} must not be an object", code="MALFORMED_JSON")
    return value


def _load_json(text: str, where: str) -> dict[str, Any]:
    try:
        body = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_number,
            parse_int=_number,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise DocumentFormatError(f"{where}: JSON nested too deeply", code="MALFORMED_JSON") from None
    except json.JSONDecodeError as exc:
        raise DocumentFormatError(
            f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="MALFORMED_JSON",
        ) from None
    except ValueError as exc:
        code = "DUPLICATE_KEY" if "duplicate key" in str(exc) else "MALFORMED_JSON"
        raise DocumentFormatError(f"{where}: {exc}", code=code) from None
    if not isinstance(body, dict):
        raise DocumentFormatError(f"{where}: the JSON document must be an object", code="MALFORMED_JSON")
    if _depth(body) > _MAX_JSON_DEPTH:
        raise DocumentFormatError(f"{where}: JSON nested too deeply", code="MALFORMED_JSON")
    lines = body.pop("lines", None)
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise DocumentFormatError(f"{where}: 'lines' must be a list of objects", code="MALFORMED_JSON")
    header = {k: _stringify(v, where, k) for k, v in body.items()}
    out_lines = [
        {k: _stringify(v, where, f"lines.{i}.{k}") for k, v in line.items()} for i, line in enumerate(lines)
    ]
    return {**header, "lines": out_lines}


def _xml_value(element: Element) -> Any:
    children = list(element)
    if element.tag in LIST_FIELDS or (children and all(c.tag == "value" for c in children)):
        return [(c.text or "").strip() for c in children]
    if children:
        raise ValueError(f"element <{element.tag}> has unexpected child <{children[0].tag}>")
    return (element.text or "").strip() or None


def _xml_fields_of(element: Element, where: str, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in element:
        if child.tag in out:
            raise DocumentFormatError(f"{where}: duplicate element <{path}{child.tag}>", code="MALFORMED_XML")
        try:
            out[child.tag] = _xml_value(child)
        except ValueError as exc:
            raise DocumentFormatError(f"{where}: {path}{exc}", code="MALFORMED_XML") from None
    return out


def _load_xml(data: bytes, where: str) -> dict[str, Any]:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise DocumentFormatError(
            f"{where}: refused hostile XML ({type(exc).__name__}: DTDs, entities and external references are "
            "not allowed in vendor documents)",
            code="HOSTILE_XML",
        ) from None
    except SafeET.ParseError as exc:
        raise DocumentFormatError(f"{where}: malformed XML: {exc}", code="MALFORMED_XML") from None
    doc_type = _TYPE_BY_ROOT.get(root.tag)
    if doc_type is None:
        raise DocumentFormatError(
            f"{where}: unknown root element <{root.tag}>; expected one of {sorted(_TYPE_BY_ROOT)}",
            code="UNKNOWN_DOCUMENT",
        )
    lines_el = [child for child in root if child.tag == "lines"]
    if len(lines_el) != 1:
        raise DocumentFormatError(f"{where}: expected exactly one <lines> element", code="MALFORMED_XML")
    header_el = Element(root.tag)
    header_el.extend([child for child in root if child.tag != "lines"])
    header = _xml_fields_of(header_el, where, "")
    lines = []
    for index, item in enumerate(lines_el[0]):
        if item.tag != "item":
            raise DocumentFormatError(
                f"{where}: <lines> holds <{item.tag}>, expected <item>", code="MALFORMED_XML"
            )
        lines.append(_xml_fields_of(item, where, f"lines.{index}."))
    header.pop("document_type", None)
    return {"document_type": doc_type, **header, "lines": lines}


def _load_csv(text: str, where: str) -> dict[str, Any]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise DocumentFormatError(f"{where}: malformed CSV: {exc}", code="MALFORMED_CSV") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise DocumentFormatError(
            f"{where}: CSV needs a header row and at least one data row", code="MALFORMED_CSV"
        )
    columns = [c.strip() for c in rows[0]]
    # One pass (a Counter), not ``columns.count`` per column (quadratic: 40k columns took 16 s).
    dupes = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dupes:
        more = len(dupes) - _NAMED_DUPLICATES
        named = f"{dupes[:_NAMED_DUPLICATES]}" + (f" and {more} more" if more > 0 else "")
        raise DocumentFormatError(f"{where}: duplicate CSV columns {named}", code="MALFORMED_CSV")
    if len(columns) > MAX_CSV_COLUMNS:
        raise DocumentFormatError(
            f"{where}: CSV header has {len(columns)} columns, more than the {MAX_CSV_COLUMNS} accepted",
            code="MALFORMED_CSV",
        )
    if "document_type" not in columns:
        raise DocumentFormatError(f"{where}: CSV has no document_type column", code="MALFORMED_CSV")
    doc_type = None
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns):
            raise DocumentFormatError(
                f"{where}: CSV row {number} has {len(row)} fields, the header has {len(columns)}",
                code="MALFORMED_CSV",
            )
        records.append(dict(zip(columns, (cell.strip() for cell in row), strict=True)))
    doc_type = records[0]["document_type"]
    if doc_type not in DOCUMENT_ROOTS:
        raise DocumentFormatError(f"{where}: unknown document_type {doc_type!r}", code="UNKNOWN_DOCUMENT")
    header_cols, line_cols = _csv_split_columns(doc_type, columns)
    header = {c: records[0][c] for c in header_cols}
    for number, record in enumerate(records[1:], start=3):
        for c in header_cols:
            if record[c] != header[c]:
                raise DocumentFormatError(
                    f"{where}: CSV row {number} has {c}={record[c]!r} but row 2 has {header[c]!r}; one file holds one document",
                    code="MALFORMED_CSV",
                )
    lines = []
    for record in records:
        line = {c: record[c] for c in line_cols}
        lines.append({c: _csv_cell(c, v) for c, v in line.items()})
    out_header = {c: _csv_cell(c, v) for c, v in header.items() if c != "document_type"}
    return {"document_type": doc_type, **out_header, "lines": lines}


#: Which columns of a CSV are line columns (everything else is the header).
CSV_LINE_COLUMNS = frozenset(
    {
        "line", "sku", "vendor_sku", "description", "quantity", "unit", "rate", "amount", "quantity_shipped",
        "quantity_cancelled", "serial_numbers", "line_tracking_number",
    }
)  # fmt: skip


def _csv_split_columns(doc_type: str, columns: Iterable[str]) -> tuple[list[str], list[str]]:
    header = [c for c in columns if c not in CSV_LINE_COLUMNS]
    lines = [c for c in columns if c in CSV_LINE_COLUMNS]
    return header, lines


def _csv_cell(column: str, value: str) -> Any:
    value = csv_cell_value(value)  # a cell we (or a vendor echoing us) neutralised reads as written
    if column in LIST_FIELDS:
        return [v.strip() for v in value.split(_CSV_LIST_SEP) if v.strip()]
    return value if value != "" else None
