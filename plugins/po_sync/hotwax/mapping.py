"""NetSuite ↔ canonical ↔ HotWax for the PO flow: pure functions, no I/O.

* Export: SuiteQL rows of Pending Receipt PO lines (:data:`PO_LINE_COLUMNS`) → :class:`PurchaseOrder`
  → :class:`~po_sync.hotwax.formats.HotWaxPoRow` (one per line), as HotWax's
  ``HC_MR_ExportedPurchaseOrderCSV`` maps them: PO internal id → ``external-id``, item name →
  ``product-sku``, location → ``external-facility-id``, line id → ``item-external-id``.
* Import: a feed order (:class:`~po_sync.hotwax.formats.ReceiptOrder`) plus the PO as NetSuite has it
  → :class:`ItemReceipt` → the body of ``purchaseOrder/<id>/!transform/itemReceipt`` with lines matched
  on ``orderLine`` (``HC_SC_ImportPurchaseOrderReceipts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from po_sync.exceptions import RecordValidationError
from po_sync.hotwax.formats import HotWaxPoRow, ReceiptOrder, format_arrival_date
from po_sync.models import (
    DocumentRef,
    DocumentType,
    ItemReceipt,
    ItemReceiptLine,
    ItemRef,
    PurchaseOrder,
    RecordRef,
    normalize_decimal,
)
from po_sync.validation import is_internal_id, suiteql_int

__all__ = [
    "PO_LINE_COLUMNS",
    "RECEIPT_MEMO",
    "PoLineState",
    "group_po_rows",
    "hotwax_rows",
    "item_receipt",
    "parse_netsuite_date",
    "po_line_states",
    "purchase_order_from_rows",
    "receipt_external_id",
    "receipt_problems",
    "transform_body",
]

#: The columns the export's SuiteQL returns for each PO line (lower-case, as SuiteQL rows come).
PO_LINE_COLUMNS = (
    "po_id", "tranid", "trandate", "vendor_id", "po_location", "line_id", "item_id", "sku", "quantity",
    "rate", "line_location",
)  # fmt: skip
#: HotWax's own memo on the item receipts it creates.
RECEIPT_MEMO = "Item Receipt is created by HotWax"
DEFAULT_UNIT = "EA"


def parse_netsuite_date(value: str | None) -> date | None:
    """A SuiteQL / REST date: ``M/D/YYYY`` (account style), ``YYYY-MM-DD`` or an ISO timestamp.

    :param value: the text, or None.
    :raises ValueError: for text in neither form.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if "/" in text:
        return datetime.strptime(text, "%m/%d/%Y").date()
    return date.fromisoformat(text[:10])


def group_po_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """SuiteQL line rows grouped by PO id, keeping the query's order.

    :param rows: rows with at least ``po_id``.
    """
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["po_id"]), []).append(row)
    return grouped


def _ref(value: Any) -> RecordRef | None:
    return RecordRef(id=str(value)) if value not in (None, "") else None


def purchase_order_from_rows(
    rows: list[Mapping[str, Any]],
    *,
    currency: str,
    expected_receipt_date: date | None = None,
    unit: str = DEFAULT_UNIT,
) -> PurchaseOrder:
    """One canonical PO from its SuiteQL line rows.

    :param rows: the PO's rows (:data:`PO_LINE_COLUMNS`), every one with the same ``po_id``.
    :param currency: ISO 4217 currency of the PO (HotWax does not use it; the model requires it).
    :param expected_receipt_date: the PO's expected receipt date (HotWax ``arrival-date``).
    :param unit: unit code of the lines (HotWax counts in the item's base unit).
    :raises pydantic.ValidationError: for rows the canonical model refuses.
    """
    head = rows[0]
    lines = [
        {
            "line_id": str(row.get("line_id") or ""),
            "item": {"id": row.get("item_id") or None, "sku": row.get("sku") or None},
            "quantity": row.get("quantity") if row.get("quantity") is not None else "",
            "unit": unit,
            "rate": row.get("rate") if row.get("rate") not in (None, "") else "0",
            "location": _ref(row.get("line_location")),
        }
        for row in rows
    ]
    vendor = {"id": str(head["vendor_id"])} if head.get("vendor_id") else {"name": "(unknown vendor)"}
    return PurchaseOrder.model_validate(
        {
            "source_system": "netsuite",
            "source_id": str(head["po_id"]),
            "number": str(head.get("tranid") or head["po_id"]),
            "vendor": vendor,
            "location": _ref(head.get("po_location")),
            "tran_date": parse_netsuite_date(head.get("trandate")) or date(1970, 1, 1),
            "expected_receipt_date": expected_receipt_date,
            "status": "B",
            "currency": currency,
            "lines": lines,
        }
    )


def hotwax_rows(po: PurchaseOrder) -> list[HotWaxPoRow]:
    """HotWax CSV rows for a PO: one per line, facility = line location, else the PO's.

    :param po: the canonical PO (source ``netsuite``).
    """
    rows = []
    for line in po.lines:
        facility = line.location or po.location
        rows.append(
            HotWaxPoRow(
                external_id=po.source_id,
                product_sku=line.item.sku or line.item.id or "",
                quantity=normalize_decimal(line.quantity),
                external_facility_id=(facility.id or "") if facility else "",
                item_external_id=line.line_id,
                arrival_date=format_arrival_date(line.expected_receipt_date or po.expected_receipt_date),
            )
        )
    return rows


# --------------------------------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoLineState:
    """What NetSuite says about one PO line, as the receipt checks need it.

    :param line_id: the line (``line`` of the REST item sublist).
    :param item_id: the item's internal id.
    :param quantity: ordered.
    :param received: received so far.
    :param closed: closed lines take no receipts.
    """

    line_id: str
    item_id: str | None
    quantity: Decimal
    received: Decimal
    closed: bool

    @property
    def remaining(self) -> Decimal:
        """Still to be received (never below zero)."""
        return max(self.quantity - self.received, Decimal(0))


def po_line_states(lines: Iterable[Mapping[str, Any]]) -> dict[str, PoLineState]:
    """The ``item`` sublist of a REST ``purchaseOrder`` as :class:`PoLineState` by line id.

    :param lines: ``NetSuiteRecord.lines``.
    """
    states = {}
    for line in lines:
        item = line.get("item")
        item_id = str(item.get("id")) if isinstance(item, Mapping) and item.get("id") is not None else None
        state = PoLineState(
            line_id=str(line.get("line")),
            item_id=item_id,
            quantity=Decimal(str(line.get("quantity") or 0)),
            received=Decimal(str(line.get("quantityReceived") or 0)),
            closed=bool(line.get("isClosed")),
        )
        states[state.line_id] = state
    return states


#: PO ids per prefetch query (the IN list stays short; two lines a PO fit one 1,000-row page).
RECEIPT_LINES_BATCH = 400


def receipt_lines_query(po_ids: Sequence[str]) -> str:
    """SuiteQL for the receivable state of the lines of POs ``po_ids`` (digits only, or ValueError).

    One query serves a whole feed file's orders instead of one ``GET purchaseOrder`` per order; the
    line id is ``transactionline.id``, as the HotWax export sends it.
    """
    if not po_ids or not all(is_internal_id(po_id) for po_id in po_ids):
        raise ValueError("receipt_lines_query needs PO internal ids (digits)")
    return (
        "SELECT tl.transaction AS po_id, tl.id AS line_id, tl.item AS item_id, tl.quantity AS quantity, "
        "tl.quantityshiprecv AS received, tl.isclosed AS closed "
        "FROM transactionline tl JOIN transaction t ON t.id = tl.transaction "
        f"WHERE t.type = 'PurchOrd' AND tl.transaction IN ({', '.join(suiteql_int(i) for i in po_ids)}) "
        "AND tl.mainline = 'F' AND tl.taxline = 'F' ORDER BY tl.transaction, tl.id"
    )


def po_line_states_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, PoLineState]]:
    """Rows of :func:`receipt_lines_query` as :class:`PoLineState` by PO id, then line id.

    Quantities are taken as magnitudes: SuiteQL signs line quantities by accounting direction.
    """
    out: dict[str, dict[str, PoLineState]] = {}
    for row in rows:
        state = PoLineState(
            line_id=str(row.get("line_id")),
            item_id=str(row["item_id"]) if row.get("item_id") is not None else None,
            quantity=abs(Decimal(str(row.get("quantity") or 0))),
            received=abs(Decimal(str(row.get("received") or 0))),
            closed=row.get("closed") == "T",
        )
        out.setdefault(str(row.get("po_id")), {})[state.line_id] = state
    return out


def item_receipt(
    order: ReceiptOrder,
    po_lines: Mapping[str, PoLineState],
    *,
    tran_date: date,
    source: str,
    external_id: str,
) -> ItemReceipt:
    """The canonical receipt for one feed order, lines matched to the PO's lines.

    Lines with a zero quantity are left out (HotWax's importer sets ``itemreceive=false`` on them).

    :param order: the validated feed order (with at least one positive quantity).
    :param po_lines: the PO's lines (:func:`po_line_states`).
    :param tran_date: the receipt date (from the file, so that a rerun hashes the same).
    :param source: the file name, for messages.
    :param external_id: the receipt's NetSuite ``externalId`` (:func:`receipt_external_id`).
    :raises RecordValidationError: a line the PO does not have.
    """
    unknown = [line.line_id for line in order.lines if line.line_id not in po_lines]
    if unknown:
        raise RecordValidationError(
            f"receipt for PO {order.order_id} (file {source}): "
            f"line(s) {', '.join(unknown)} are not on the PO "
            f"(its lines: {', '.join(sorted(po_lines, key=_line_sort)) or 'none'})",
            code="UNKNOWN_LINE",
            record_id=order.order_id,
        )
    lines = tuple(
        ItemReceiptLine(
            line_id=line.line_id,
            order_line=line.line_id,
            item=ItemRef(id=po_lines[line.line_id].item_id or f"line-{line.line_id}"),
            quantity=line.quantity,
            unit=DEFAULT_UNIT,
        )
        for line in order.lines
        if line.quantity > 0
    )
    return ItemReceipt(
        source_system="hotwax",
        source_id=order.order_id,
        external_id=external_id,
        created_from=DocumentRef(type=DocumentType.PURCHASE_ORDER, id=order.order_id),
        tran_date=tran_date,
        memo=RECEIPT_MEMO,
        lines=lines,
    )


def _line_sort(line_id: str) -> tuple[int, str]:
    return (int(line_id), "") if line_id.isdigit() else (1 << 62, line_id)


def receipt_problems(receipt: ItemReceipt, po_lines: Mapping[str, PoLineState]) -> list[str]:
    """Over-receipts and receipts on closed lines, one sentence each (empty when the receipt fits).

    :param receipt: the canonical receipt.
    :param po_lines: the PO's lines as NetSuite has them now.
    """
    problems = []
    for line in receipt.lines:
        state = po_lines[line.order_line]
        if state.closed:
            problems.append(f"line {line.order_line} is closed")
        elif line.quantity > state.remaining:
            problems.append(
                f"line {line.order_line} receives {normalize_decimal(line.quantity)} but only "
                f"{normalize_decimal(state.remaining)} of {normalize_decimal(state.quantity)} "
                "remain (over-receipt)"
            )
    return problems


def receipt_external_id(file_name: str, checksum: str, order_id: str) -> str:
    """A deterministic NetSuite ``externalId`` for the receipt of ``order_id`` from one file.

    :param file_name: the feed file's name.
    :param checksum: its SHA-256 (hex).
    :param order_id: the PO internal id.
    """
    digest = hashlib.sha256(f"{file_name}|{checksum}|{order_id}".encode()).hexdigest()[:24]
    return f"HWRCPT-{order_id}-{digest}"


def transform_body(receipt: ItemReceipt) -> dict[str, Any]:
    """The body of ``POST purchaseOrder/<id>/!transform/itemReceipt``.

    :param receipt: the canonical receipt.
    """
    return {
        "externalId": receipt.external_id,
        "memo": receipt.memo,
        "tranDate": receipt.tran_date.isoformat(),
        "item": {
            "items": [
                {
                    "orderLine": int(line.order_line) if line.order_line.isdigit() else line.order_line,
                    "itemReceive": True,
                    "quantity": float(line.quantity) if line.quantity % 1 else int(line.quantity),
                }
                for line in receipt.lines
            ]
        },
    }
