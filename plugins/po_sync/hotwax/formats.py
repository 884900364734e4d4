"""HotWax Commerce file formats: the PO import CSV (out) and the PO receipt feed JSON (in).

Both follow HotWax's own NetSuite SuiteScripts (``reference/external-systems.md`` §4):

* PO CSV: header ``external-id,product-sku,quantity,external-facility-id,item-external-id,arrival-date``,
  values joined with commas **without quoting** (HotWax's importer splits on commas), dates
  ``MM/DD/YYYY``. A value holding a comma, a quote or a line break cannot be written, so
  :func:`write_po_csv` refuses it instead of producing a line HotWax would misread.
* Receipt feed: ``[{"order_id": "...", "items": [{"line_id": "...", "quantity": "..."}]}]`` with
  every value a string. The feed is incremental and may carry empty or zero quantities, which mean
  "nothing received on this line". :func:`parse_receipt_feed` separates problems with the whole
  file (:class:`ReceiptFeedError`) from problems with one order (:class:`OrderProblem`), so one bad
  order never stops the others.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from po_sync.validation import csv_cell

__all__ = [
    "PO_CSV_HEADER",
    "FormatError",
    "HotWaxPoRow",
    "OrderProblem",
    "ReceiptFeed",
    "ReceiptFeedError",
    "ReceiptLine",
    "ReceiptOrder",
    "error_report_csv",
    "format_arrival_date",
    "parse_po_csv",
    "parse_receipt_feed",
    "receipt_feed_json",
    "write_po_csv",
]

#: HotWax's PO import header, verbatim.
PO_CSV_HEADER = (
    "external-id",
    "product-sku",
    "quantity",
    "external-facility-id",
    "item-external-id",
    "arrival-date",
)
_UNWRITABLE = re.compile(r"[,\"\r\n]")
_ID_RE = re.compile(r"^[0-9]{1,18}$")
#: The deepest a receipt feed legitimately nests (list > order > items > line).
_MAX_ORDERS = 100_000


class FormatError(ValueError):
    """A value cannot be written in (or read from) the HotWax format; the message says which and why."""


class ReceiptFeedError(FormatError):
    """The receipt file as a whole is unusable (not JSON, not a list, truncated...)."""


@dataclass(frozen=True)
class HotWaxPoRow:
    """One line of HotWax's PO import CSV (one PO line).

    :param external_id: the NetSuite PO internal id.
    :param product_sku: the item name / SKU.
    :param quantity: ordered quantity, as text.
    :param external_facility_id: the NetSuite location internal id.
    :param item_external_id: the NetSuite PO line id (comes back as ``line_id`` in receipts).
    :param arrival_date: expected receipt date ``MM/DD/YYYY`` (may be empty).
    """

    external_id: str
    product_sku: str
    quantity: str
    external_facility_id: str
    item_external_id: str
    arrival_date: str = ""

    def values(self) -> tuple[str, ...]:
        """The row's values in header order."""
        return (
            self.external_id,
            self.product_sku,
            self.quantity,
            self.external_facility_id,
            self.item_external_id,
            self.arrival_date,
        )


def format_arrival_date(value: date | None) -> str:
    """``MM/DD/YYYY`` as HotWax reads it, or ``""`` when there is no date.

    :param value: the expected receipt date.
    """
    return value.strftime("%m/%d/%Y") if value is not None else ""


def check_row(row: HotWaxPoRow) -> None:
    """Raise :class:`FormatError` when a value cannot be written unquoted.

    :param row: the row to check.
    """
    for name, value in zip(PO_CSV_HEADER, row.values(), strict=True):
        if _UNWRITABLE.search(value):
            raise FormatError(
                f"{name} = {value!r}: HotWax's CSV import does not quote values, so it cannot hold a "
                "comma, a double quote or a line break"
            )
    for name, value in zip(PO_CSV_HEADER[:5], row.values()[:5], strict=True):
        if not value.strip():
            raise FormatError(f"{name} is empty; HotWax needs it on every line")


def write_po_csv(rows: Iterable[HotWaxPoRow]) -> bytes:
    """HotWax's PO import CSV: the header and one comma-joined line per row, ``\\n`` line ends.

    :param rows: the rows, in the order to write them.
    :raises FormatError: for a value that cannot be written unquoted (check rows first with
        :func:`check_row` to reject one PO rather than the whole file).
    """
    lines = [",".join(PO_CSV_HEADER)]
    for row in rows:
        check_row(row)
        # po_sync.validation.csv_cell: a SKU like "=HYPERLINK(..)" goes out as text, not a formula
        lines.append(",".join(csv_cell(value) for value in row.values()))
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_po_csv(data: bytes) -> list[HotWaxPoRow]:
    """Read a PO CSV as HotWax's import job does (the sandbox actor and tests use it).

    :param data: the file's bytes.
    :raises FormatError: wrong header or a line with the wrong number of values.
    """
    text = data.decode("utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or tuple(lines[0].split(",")) != PO_CSV_HEADER:
        raise FormatError(f"header must be {','.join(PO_CSV_HEADER)!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split(",")
        if len(values) != len(PO_CSV_HEADER):
            raise FormatError(f"line {number}: {len(values)} values, expected {len(PO_CSV_HEADER)}")
        rows.append(HotWaxPoRow(*values))
    return rows


# --------------------------------------------------------------------------------------------------
# Receipt feed
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    """One received line: the PO line id and the quantity accepted (0 = nothing received).

    :param line_id: the NetSuite PO line (``item-external-id`` of the export).
    :param quantity: quantity accepted, never negative.
    """

    line_id: str
    quantity: Decimal


@dataclass(frozen=True)
class ReceiptOrder:
    """One order of a receipt feed, validated.

    :param order_id: the NetSuite PO internal id.
    :param lines: the received lines, in file order (zero quantities kept; the mapper drops them).
    :param index: position of the order in the file (0-based), for messages.
    """

    order_id: str
    lines: tuple[ReceiptLine, ...]
    index: int

    @property
    def receives_anything(self) -> bool:
        """Whether any line has a positive quantity."""
        return any(line.quantity > 0 for line in self.lines)

    def as_feed(self) -> dict[str, Any]:
        """This order in the feed's own JSON shape (strings), e.g. to write the failed ones back out."""
        return {
            "order_id": self.order_id,
            "items": [{"line_id": ln.line_id, "quantity": _text(ln.quantity)} for ln in self.lines],
        }


@dataclass(frozen=True)
class OrderProblem:
    """An order of the feed that cannot be used; the rest of the file still can.

    :param order_id: the order id as written (``"?"`` when there is none).
    :param index: position in the file (0-based).
    :param message: what is wrong, naming the field.
    :param raw: the order exactly as read, so it can be written to ``error/`` for a person to fix.
    """

    order_id: str
    index: int
    message: str
    raw: Any


@dataclass(frozen=True)
class ReceiptFeed:
    """A parsed receipt file: the usable orders and the problems, both in file order."""

    orders: tuple[ReceiptOrder, ...]
    problems: tuple[OrderProblem, ...]


def _text(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def _identifier(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FormatError(f"{what} = {value!r}: must be a string of digits (a NetSuite internal id)")
    text = str(value).strip()
    if not _ID_RE.fullmatch(text):
        raise FormatError(f"{what} = {value!r}: must be a string of digits (a NetSuite internal id)")
    return text


def _quantity(value: Any, what: str) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)  # HotWax sends empty receipt details for lines not received yet
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FormatError(f"{what} = {value!r}: must be a number written as a string")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FormatError(f"{what} = {value!r}: is not a number") from None
    if not number.is_finite() or "_" in str(value):
        raise FormatError(f"{what} = {value!r}: is not a number")
    if number < 0:
        raise FormatError(f"{what} = {value!r}: must not be negative")
    if number.adjusted() > 9:
        raise FormatError(f"{what} = {value!r}: is implausibly large")
    return number + 0


def _order(raw: Any, index: int) -> ReceiptOrder:
    if not isinstance(raw, dict):
        raise FormatError(f"order #{index + 1}: must be an object with order_id and items")
    unknown = set(raw) - {"order_id", "items"}
    if unknown:
        raise FormatError(f"order #{index + 1}: unknown field(s) {', '.join(sorted(unknown))}")
    order_id = _identifier(raw.get("order_id"), "order_id")
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise FormatError(f"items = {items!r}: must be a non-empty list")
    lines: list[ReceiptLine] = []
    seen: set[str] = set()
    for position, item in enumerate(items):
        where = f"items.{position}"
        if not isinstance(item, dict):
            raise FormatError(f"{where}: must be an object with line_id and quantity")
        unknown = set(item) - {"line_id", "quantity"}
        if unknown:
            raise FormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        line_id = _identifier(item.get("line_id"), f"{where}.line_id")
        if line_id in seen:
            raise FormatError(f"{where}.line_id = {line_id!r}: the line appears twice in the order")
        seen.add(line_id)
        lines.append(ReceiptLine(line_id, _quantity(item.get("quantity"), f"{where}.quantity")))
    return ReceiptOrder(order_id=order_id, lines=tuple(lines), index=index)


def parse_receipt_feed(data: bytes, *, max_bytes: int | None = None) -> ReceiptFeed:
    """Parse and validate a HotWax PO receipt feed.

    :param data: the file's bytes (UTF-8 JSON).
    :param max_bytes: refuse larger files (the caller should check the size before downloading too).
    :raises ReceiptFeedError: the file as a whole is unusable; per-order problems are returned instead.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise ReceiptFeedError(f"file is {len(data)} bytes, more than the {max_bytes}-byte limit")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReceiptFeedError(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ReceiptFeedError("file is empty")
    try:
        parsed = json.loads(text, parse_float=str, parse_int=str, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        truncated = not text.rstrip().endswith("]") or exc.pos >= len(text.rstrip())
        hint = " (the file ends early: was it still being written when it was sent?)" if truncated else ""
        raise ReceiptFeedError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"
        ) from None
    except RecursionError:
        raise ReceiptFeedError("JSON nested too deeply") from None
    if not isinstance(parsed, list):
        raise ReceiptFeedError(f"top level must be a list of orders, not {type(parsed).__name__}")
    if len(parsed) > _MAX_ORDERS:
        raise ReceiptFeedError(f"{len(parsed)} orders, more than the {_MAX_ORDERS} one file may hold")
    orders: list[ReceiptOrder] = []
    problems: list[OrderProblem] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(parsed):
        raw_id = raw.get("order_id") if isinstance(raw, dict) else None
        shown = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else "?"
        try:
            order = _order(raw, index)
        except FormatError as exc:
            problems.append(OrderProblem(shown, index, f"order {shown} (#{index + 1}): {exc}", raw))
            continue
        if order.order_id in seen:
            problems.append(
                OrderProblem(
                    order.order_id,
                    index,
                    f"order {order.order_id} (#{index + 1}): appears again "
                    f"(first as #{seen[order.order_id] + 1}); "
                    "one file must hold each order once",
                    raw,
                )
            )
            continue
        seen[order.order_id] = index
        orders.append(order)
    return ReceiptFeed(tuple(orders), tuple(problems))


def _refuse_constant(name: str) -> Any:
    raise ReceiptFeedError(f"{name} is not a number JSON allows")


def receipt_feed_json(orders: Sequence[dict[str, Any]]) -> bytes:
    """Write orders in the feed's shape (what HotWax's NiFi flow produces).

    :param orders: ``{"order_id": ..., "items": [{"line_id": ..., "quantity": ...}]}`` dicts.
    """
    return json.dumps(list(orders), indent=1).encode("utf-8")


def error_report_csv(rows: Iterable[tuple[str, str]]) -> bytes:
    """An error report like HotWax's ``ErrorPurchaseOrderReceipts.csv``: ``orderId,errorMessage``.

    Unlike the PO import this is read by people, so values are quoted where needed.

    :param rows: ``(order id, message)`` pairs; use ``"*"`` as the order id for the whole file.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("orderId", "errorMessage"))
    for order_id, message in rows:  # read by people in spreadsheets: no cell may be a formula
        writer.writerow((csv_cell(order_id), csv_cell(message)))
    return buffer.getvalue().encode("utf-8")
