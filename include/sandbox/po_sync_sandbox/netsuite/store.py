"""The sandbox's data: REST records as JSON documents plus the SuiteQL tables projected from them.

Everything lives in one in-memory SQLite database guarded by one lock. The JSON document of a record is
the truth; every write re-projects it into the SuiteQL tables (``transaction``, ``transactionline``,
``vendor``, ``customer``, ``item``, ``location``), so SuiteQL always sees what REST wrote.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from po_sync_sandbox.netsuite.knobs import Knobs
from po_sync_sandbox.netsuite.nserrors import NsError, invalid_content, nonexistent_id, user_error
from po_sync_sandbox.netsuite.schema import (
    CANONICAL_FIELDS,
    CUSTOM,
    CUSTOM_BODY_FIELDS,
    CUSTOM_RECORD_TYPES,
    DDL,
    ENTITY,
    FIXED_NAMES,
    ITEM,
    LOCATION,
    RECORD_TYPES,
    REFERENCE_FAMILY,
    STATUS_TEXT,
    TRANSACTION,
    RecordType,
)

READ_ONLY_LINE_FIELDS = ("quantityReceived", "quantityBilled", "quantityFulfilled")


def now_iso() -> str:
    """Now as NetSuite writes datetimes: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_datetime(iso: str | None) -> str | None:
    """``2026-01-05T10:00:00Z`` -> ``2026-01-05 10:00:00`` (sortable, comparable with TO_DATE values)."""
    return iso.replace("T", " ").rstrip("Z") if iso else None


def normalize_fields(value: Any) -> Any:
    """Canonical camelCase for known field names (input names are case-insensitive)."""
    if isinstance(value, dict):
        return {CANONICAL_FIELDS.get(k.lower(), k): normalize_fields(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_fields(v) for v in value]
    return value


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_content(
            f"Error while accessing resource: You have entered an Invalid Field Value {value} for the following field: {path.rsplit('.', 1)[-1]}",
            path,
        )
    try:
        return float(value)
    except ValueError:
        raise invalid_content(
            f"Error while accessing resource: You have entered an Invalid Field Value {value} for the following field: {path.rsplit('.', 1)[-1]}",
            path,
        ) from None


def _num_out(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class Store:
    """Records, id sequences, SuiteQL tables and the transaction state machine.

    :param knobs: the sandbox knobs (read for status rules and transform defaults).
    """

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.lock = threading.RLock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(DDL)
        self.custom_body_columns: set[str] = set()
        for column in CUSTOM_BODY_FIELDS:
            self._ensure_custom_column(column)
        self.custom_types: dict[str, RecordType] = {}
        self.next_id: dict[str, int] = {TRANSACTION: 1, ENTITY: 1, ITEM: 1, LOCATION: 1}
        for script_id in CUSTOM_RECORD_TYPES:
            self.define_custom_record_type(script_id)
        self.next_uniquekey = 1
        self.tranid_counters: dict[str, int] = {}
        self.names: dict[str, dict[str, str]] = {
            ENTITY: {},
            ITEM: {},
            LOCATION: {},
            TRANSACTION: {},
            **FIXED_NAMES,
        }
        self.types_by_id: dict[str, dict[str, str]] = {ENTITY: {}, TRANSACTION: {}}
        self.version = 0

    # -- types ------------------------------------------------------------------------------------

    def define_custom_record_type(self, script_id: str) -> RecordType:
        """Create a custom record type (``customrecord_...``); REST cannot create types, only instances."""
        key = script_id.lower()
        if not key.startswith("customrecord"):
            raise ValueError("custom record script ids start with customrecord")
        with self.lock:
            rtype = self.custom_types.get(key) or RecordType(key, CUSTOM)
            self.custom_types[key] = rtype
            self.next_id.setdefault(key, 1)
            return rtype

    def record_type(self, name: str) -> RecordType:
        """Look a record type up case-insensitively.

        :raises NsError: 404 when it does not exist.
        """
        rtype = RECORD_TYPES.get(name.lower()) or self.custom_types.get(name.lower())
        if rtype is None:
            raise NsError(404, "NONEXISTENT_ID", f"Record type '{name}' does not exist.")
        return rtype

    def _sequence(self, rtype: RecordType) -> str:
        return rtype.key if rtype.family == CUSTOM else rtype.family

    def _new_id(self, rtype: RecordType) -> int:
        seq = self._sequence(rtype)
        value = self.next_id[seq]
        self.next_id[seq] = value + 1
        return value

    def _new_tranid(self, rtype: RecordType) -> str:
        value = self.tranid_counters.get(rtype.key, 0) + 1
        self.tranid_counters[rtype.key] = value
        return f"{rtype.tranid_prefix}{value:06d}"

    # -- reads ------------------------------------------------------------------------------------

    def resolve_id(self, rtype: RecordType, record_id: str) -> int:
        """An internal id from ``123`` or ``eid:ABC``.

        :raises NsError: 404 ``NONEXISTENT_ID``; 400 ``USER_ERROR`` for an id of another transaction type.
        """
        with self.lock:
            if record_id.lower().startswith("eid:"):
                row = self.db.execute(
                    "SELECT id FROM ns_record WHERE type = ? AND externalid = ?", (rtype.key, record_id[4:])
                ).fetchone()
                if row is None:
                    raise nonexistent_id()
                return int(row[0])
            if not record_id.isdigit():
                raise nonexistent_id()
            row = self.db.execute(
                "SELECT 1 FROM ns_record WHERE type = ? AND id = ?", (rtype.key, int(record_id))
            ).fetchone()
            if row is None:
                if rtype.family == TRANSACTION and record_id in self.types_by_id[TRANSACTION]:
                    raise user_error("Transaction type specified is incorrect.")
                raise nonexistent_id()
            return int(record_id)

    def get(self, record_type: str, record_id: str | int) -> dict[str, Any]:
        """A record's stored document (a copy).

        :param record_type: any casing.
        :param record_id: internal id or ``eid:X``.
        """
        rtype = self.record_type(record_type)
        with self.lock:
            rid = self.resolve_id(rtype, str(record_id))
            row = self.db.execute(
                "SELECT body FROM ns_record WHERE type = ? AND id = ?", (rtype.key, rid)
            ).fetchone()
            return json.loads(row[0])

    def count(self, record_type: str) -> int:
        """How many records of a type exist."""
        rtype = self.record_type(record_type)
        with self.lock:
            return int(
                self.db.execute("SELECT COUNT(*) FROM ns_record WHERE type = ?", (rtype.key,)).fetchone()[0]
            )

    def ids(self, record_type: str, *, limit: int, offset: int) -> tuple[list[int], int]:
        """A page of ids of one type in id order, and the total."""
        rtype = self.record_type(record_type)
        with self.lock:
            total = int(
                self.db.execute("SELECT COUNT(*) FROM ns_record WHERE type = ?", (rtype.key,)).fetchone()[0]
            )
            rows = self.db.execute(
                "SELECT id FROM ns_record WHERE type = ? ORDER BY id LIMIT ? OFFSET ?",
                (rtype.key, limit, offset),
            ).fetchall()
            return [int(r[0]) for r in rows], total

    def iter_docs(self, record_type: str) -> Iterator[dict[str, Any]]:
        """Every document of a type in id order (a snapshot)."""
        rtype = self.record_type(record_type)
        with self.lock:
            rows = self.db.execute(
                "SELECT body FROM ns_record WHERE type = ? ORDER BY id", (rtype.key,)
            ).fetchall()
        for (body,) in rows:
            yield json.loads(body)

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run raw SQL over the sandbox tables (tests and actors; not SuiteQL)."""
        with self.lock:
            cur = self.db.execute(sql, tuple(params))
            cols = [d[0].lower() for d in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def name_of(self, family: str, ref_id: str) -> str | None:
        """The display name (``refName``) of a referenced record."""
        return self.names.get(family, {}).get(str(ref_id))

    def type_of(self, family: str, ref_id: str) -> str | None:
        """The record type key of an entity or transaction id."""
        return self.types_by_id.get(family, {}).get(str(ref_id))

    # -- writes -----------------------------------------------------------------------------------

    def create(self, record_type: str, body: dict[str, Any]) -> int:
        """Create a record from a REST body; returns its internal id.

        :raises NsError: 400 ``INVALID_CONTENT`` / ``USER_ERROR`` for bad bodies.
        """
        rtype = self.record_type(record_type)
        if rtype.key in ("itemreceipt", "itemfulfillment", "vendorbill"):
            raise user_error(
                f"A {rtype.name} is created by transforming its order (!transform/{rtype.name})."
            )
        with self.lock:
            doc = self._validate(rtype, normalize_fields(body), existing=None)
            rid = self._new_id(rtype)
            self._insert(rtype, rid, doc)
            return rid

    def upsert(self, record_type: str, external_id: str, body: dict[str, Any]) -> tuple[int, bool]:
        """PUT ``eid:X``: create or update by external id; returns (id, created)."""
        rtype = self.record_type(record_type)
        with self.lock:
            row = self.db.execute(
                "SELECT id FROM ns_record WHERE type = ? AND externalid = ?", (rtype.key, external_id)
            ).fetchone()
            body = dict(normalize_fields(body))
            body["externalId"] = external_id
            if row is None:
                return self.create(record_type, body), True
            self.update(record_type, str(row[0]), body, replace=set(rtype.sublists))
            return int(row[0]), False

    def update(self, record_type: str, record_id: str, body: dict[str, Any], *, replace: set[str]) -> int:
        """PATCH: body fields set; keyed sublist lines (``line``) merged, other lines appended; ``replace``
        sublists replaced; ``{"items": null}`` clears a sublist."""
        rtype = self.record_type(record_type)
        with self.lock:
            rid = self.resolve_id(rtype, record_id)
            doc = self.get(rtype.key, rid)
            patch = normalize_fields(body)
            patch.pop("id", None)
            merged = dict(doc)
            for key, value in patch.items():
                if key in rtype.sublists:
                    merged[key] = self._merge_sublist(
                        doc.get(key, {}).get("items", []), value, key in replace
                    )
                else:
                    merged[key] = value
            new_doc = self._validate(rtype, merged, existing=doc)
            self._write(rtype, rid, new_doc)
            return rid

    def delete(self, record_type: str, record_id: str) -> None:
        """DELETE; refuses records others were created from; deleting a receipt/bill/fulfilment gives its
        quantities back to the order."""
        rtype = self.record_type(record_type)
        with self.lock:
            rid = self.resolve_id(rtype, record_id)
            if rtype.family == TRANSACTION:
                dependent = self.db.execute(
                    'SELECT 1 FROM "transaction" WHERE createdfrom = ? LIMIT 1', (rid,)
                ).fetchone()
                if dependent:
                    raise user_error("This record cannot be deleted because it has dependent records.")
                doc = self.get(rtype.key, rid)
                self._reverse(rtype, doc)
                self.db.execute('DELETE FROM "transaction" WHERE id = ?', (rid,))
                self.db.execute('DELETE FROM transactionline WHERE "transaction" = ?', (rid,))
                self.types_by_id[TRANSACTION].pop(str(rid), None)
            elif rtype.family in (ENTITY, ITEM, LOCATION):
                self.db.execute(
                    f"DELETE FROM {rtype.key if rtype.family == ENTITY else rtype.family} WHERE id = ?",
                    (rid,),
                )
            self.db.execute("DELETE FROM ns_record WHERE type = ? AND id = ?", (rtype.key, rid))
            self.version += 1

    # -- validation -------------------------------------------------------------------------------

    def _ref(self, value: Any, family: str, path: str, field_name: str) -> dict[str, str]:
        if isinstance(value, dict) and "externalId" in value and "id" not in value:
            table = {ENTITY: ("vendor", "customer"), ITEM: ("inventoryitem",), LOCATION: ("location",)}.get(
                family, ()
            )
            for key in table:
                row = self.db.execute(
                    "SELECT id FROM ns_record WHERE type = ? AND externalid = ?",
                    (key, str(value["externalId"])),
                ).fetchone()
                if row:
                    return {"id": str(row[0])}
            raise invalid_content(
                f"Error while accessing resource: You have entered an Invalid Field Value {value['externalId']} for the following field: {field_name}",
                path,
            )
        ref_id = value.get("id") if isinstance(value, dict) else None
        if ref_id is None or str(ref_id) not in self.names.get(family, {}):
            shown = ref_id if ref_id is not None else value
            raise invalid_content(
                f"Error while accessing resource: You have entered an Invalid Field Value {shown} for the following field: {field_name}",
                path,
            )
        return {"id": str(ref_id)}

    def _validate(
        self, rtype: RecordType, doc: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        doc = {k: v for k, v in doc.items() if k not in ("links", "status", "orderStatus", "refName")}
        if existing:
            for key in ("_status", "createdDate", "tranId", "_uniquekeys"):
                if key in existing and key not in doc:
                    doc[key] = existing[key]
        for key, family in REFERENCE_FAMILY.items():
            if key in doc and key not in rtype.sublists and doc[key] is not None:
                if family == TRANSACTION:
                    continue
                doc[key] = self._ref(doc[key], family, key, key)
        if rtype.family == ENTITY and not (doc.get("companyName") or doc.get("entityId")):
            raise invalid_content("Please enter value(s) for: Company Name", "companyName")
        if rtype.family == ITEM and not doc.get("itemId"):
            raise invalid_content("Please enter value(s) for: Item Name/Number", "itemId")
        if rtype.family == LOCATION and not doc.get("name"):
            raise invalid_content("Please enter value(s) for: Name", "name")
        if rtype.family == TRANSACTION:
            if "entity" not in doc and rtype.key in ("purchaseorder", "salesorder"):
                raise invalid_content(
                    "Please enter value(s) for: Vendor"
                    if rtype.key == "purchaseorder"
                    else "Please enter value(s) for: Customer",
                    "entity",
                )
            expected = (
                "vendor"
                if rtype.key == "purchaseorder"
                else "customer"
                if rtype.key == "salesorder"
                else None
            )
            if expected and self.type_of(ENTITY, doc["entity"]["id"]) != expected:
                raise invalid_content(
                    f"Error while accessing resource: You have entered an Invalid Field Value {doc['entity']['id']} for the following field: entity",
                    "entity",
                )
            if rtype.key == "transferorder":
                self._check_transfer_locations(doc)
            lines = (doc.get("item") or {}).get("items") or []
            if not lines:
                raise user_error("You must enter at least one line item for this transaction.")
            clean = []
            for index, line in enumerate(lines):
                path = f"item.items[{index}]"
                if not isinstance(line, dict) or "item" not in line:
                    raise invalid_content("Please enter value(s) for: Item", f"{path}.item")
                line = dict(line)
                line.pop("links", None)
                line["item"] = self._ref(line["item"], ITEM, f"{path}.item", "item")
                if "location" in line and line["location"] is not None:
                    line["location"] = self._ref(line["location"], LOCATION, f"{path}.location", "location")
                quantity = _num(line.get("quantity", 1), f"{path}.quantity")
                if quantity <= 0:
                    raise invalid_content(
                        f"Error while accessing resource: You have entered an Invalid Field Value {line.get('quantity')} for the following field: quantity",
                        f"{path}.quantity",
                    )
                rate = _num(line.get("rate", 0), f"{path}.rate")
                line["quantity"] = _num_out(quantity)
                line["rate"] = _num_out(rate)
                line["amount"] = _num_out(round(quantity * rate, 2))
                line["isClosed"] = bool(line.get("isClosed", False))
                for key in READ_ONLY_LINE_FIELDS:
                    line[key] = _num_out(float(line.get(key, 0) or 0)) if existing is not None else 0
                clean.append(line)
            used = {
                int(line["line"])
                for line in clean
                if isinstance(line.get("line"), int | str) and str(line["line"]).isdigit()
            }
            next_line = max(used, default=0) + 1
            for line in clean:
                if not (isinstance(line.get("line"), int | str) and str(line.get("line")).isdigit()):
                    line["line"] = next_line
                    next_line += 1
                else:
                    line["line"] = int(line["line"])
            doc["item"] = {"items": clean}
            expenses = self._expense_lines(doc.get("expense"))
            if expenses:
                doc["expense"] = {"items": expenses}
            doc["total"] = _num_out(
                round(
                    sum(float(line["amount"]) for line in clean)
                    + sum(float(line["amount"]) for line in expenses),
                    2,
                )
            )
            doc.setdefault("subsidiary", {"id": "1"})
            doc.setdefault("currency", {"id": "1"})
            doc.setdefault("tranDate", datetime.now(UTC).strftime("%Y-%m-%d"))
            if "_status" not in doc:
                doc["_status"] = "B"
            if rtype.key == "purchaseorder":
                doc["_status"] = self._po_status(doc)
            elif rtype.key in ("salesorder", "transferorder"):
                doc["_status"] = self._order_status(rtype, doc)
        return doc

    @staticmethod
    def _check_transfer_locations(doc: dict[str, Any]) -> None:
        """A transfer order ships from ``location`` to ``transferLocation``: both required, and different."""
        for key, label in (("location", "From Location"), ("transferLocation", "To Location")):
            if not doc.get(key):
                raise invalid_content(f"Please enter value(s) for: {label}", key)
        if doc["location"]["id"] == doc["transferLocation"]["id"]:
            raise user_error("The From Location and the To Location of a transfer order must be different.")

    def _expense_lines(self, value: Any) -> list[dict[str, Any]]:
        """The ``expense`` sublist: each line an account of the chart and an amount."""
        lines = (value or {}).get("items") if isinstance(value, dict) else None
        out = []
        for index, line in enumerate(lines or []):
            path = f"expense.items[{index}]"
            if not isinstance(line, dict) or "account" not in line:
                raise invalid_content("Please enter value(s) for: Account", f"{path}.account")
            clean = {k: v for k, v in line.items() if k != "links"}
            clean["account"] = self._ref(line["account"], "account", f"{path}.account", "account")
            clean["amount"] = _num_out(round(_num(line.get("amount", 0), f"{path}.amount"), 2))
            clean["line"] = index + 1
            out.append(clean)
        return out

    @staticmethod
    def _merge_sublist(current: list[dict[str, Any]], value: Any, replace: bool) -> dict[str, Any]:
        if value is None or (isinstance(value, dict) and value.get("items") is None):
            return {"items": []}
        new_lines = value.get("items") if isinstance(value, dict) else value
        if not isinstance(new_lines, list):
            raise invalid_content("Invalid content in the request body", "item")
        if replace:
            return {"items": [dict(line) for line in new_lines]}
        merged = [dict(line) for line in current]
        by_line = {int(line["line"]): line for line in merged if "line" in line}
        for line in new_lines:
            key = line.get("line")
            if key is not None and str(key).isdigit() and int(key) in by_line:
                by_line[int(key)].update({k: v for k, v in line.items() if k != "line"})
            else:
                merged.append({k: v for k, v in line.items() if k != "line"})
        return {"items": merged}

    # -- status -----------------------------------------------------------------------------------

    def _po_status(self, doc: dict[str, Any]) -> str:
        current = doc.get("_status", "B")
        if current in ("A", "C"):
            return current
        lines = doc["item"]["items"]
        open_lines = [line for line in lines if not line.get("isClosed")]
        if not open_lines:
            return "H"
        received = [float(line.get("quantityReceived", 0)) for line in open_lines]
        billed = [float(line.get("quantityBilled", 0)) for line in open_lines]
        ordered = [float(line["quantity"]) for line in open_lines]
        all_received = all(r >= q for r, q in zip(received, ordered, strict=True))
        all_billed = all(b >= q for b, q in zip(billed, ordered, strict=True))
        if all_received and all_billed:
            return "G"
        if all_received:
            return "F"
        if not any(r > 0 for r in received):
            return "B"
        if any(b > 0 for b in billed):
            return "E"
        return self.knobs.partial_receipt_status

    def _order_status(self, rtype: RecordType, doc: dict[str, Any]) -> str:
        current = doc.get("_status", "B")
        if current in ("A", "C"):
            return current
        open_lines = [line for line in doc["item"]["items"] if not line.get("isClosed")]
        if not open_lines:
            return "H"
        ordered = [float(line["quantity"]) for line in open_lines]
        done = [float(line.get("quantityFulfilled", 0)) for line in open_lines]
        if rtype.key == "transferorder":
            received = [float(line.get("quantityReceived", 0)) for line in open_lines]
            if all(r >= q for r, q in zip(received, ordered, strict=True)):
                return "G"
            if all(d >= q for d, q in zip(done, ordered, strict=True)):
                return "F"
            return "D" if any(d > 0 for d in done) else "B"
        billed = [float(line.get("quantityBilled", 0)) for line in open_lines]
        if all(d >= q for d, q in zip(done, ordered, strict=True)):
            return "G" if all(b >= q for b, q in zip(billed, ordered, strict=True)) else "F"
        return "D" if any(d > 0 for d in done) else "B"

    def status_text(self, rtype: RecordType, letter: str) -> str:
        """The display text of a status letter."""
        return STATUS_TEXT.get(rtype.code or "", {}).get(letter, letter)

    # -- transforms -------------------------------------------------------------------------------

    TRANSFORMS: dict[tuple[str, str], tuple[str, str, bool]] = {
        # (from, to): (line field raised on the order, field capping it, needs itemReceive)
        ("purchaseorder", "itemreceipt"): ("quantityReceived", "quantity", True),
        ("purchaseorder", "vendorbill"): ("quantityBilled", "quantityReceived", False),
        ("salesorder", "itemfulfillment"): ("quantityFulfilled", "quantity", True),
        ("transferorder", "itemfulfillment"): ("quantityFulfilled", "quantity", True),
        ("transferorder", "itemreceipt"): ("quantityReceived", "quantityFulfilled", True),
    }

    def transform(self, from_type: str, record_id: str, to_type: str, body: dict[str, Any]) -> int:
        """``!transform``: create the target from the order's open lines and move the order's quantities
        and status. Returns the new record's id."""
        source_type = self.record_type(from_type)
        target_type = self.record_type(to_type)
        rule = self.TRANSFORMS.get((source_type.key, target_type.key))
        if rule is None:
            raise user_error(f"You cannot transform a {source_type.name} into a {target_type.name}.")
        raised_field, cap_field, needs_flag = rule
        body = normalize_fields(body or {})
        with self.lock:
            sid = self.resolve_id(source_type, record_id)
            order = self.get(source_type.key, sid)
            if order.get("_status") in ("A", "C", "H"):
                raise user_error(f"The {source_type.name} status does not allow this transaction.")
            lines = order["item"]["items"]
            by_line = {int(line["line"]): line for line in lines}
            requested = (body.get("item") or {}).get("items")
            picks: list[tuple[dict[str, Any], float]] = []
            line_details: dict[int, Any] = {}
            line_rates: dict[int, float] = {}  # the bill's own rate per picked order line
            line_extras: dict[int, dict[str, Any]] = {}  # the bill's own tax / description per line
            if requested is None:
                if self.knobs.transform_default_lines == "all":
                    for line in lines:
                        remaining = float(line.get(cap_field, 0)) - float(line.get(raised_field, 0))
                        if not line.get("isClosed") and remaining > 0:
                            picks.append((line, remaining))
            else:
                for index, want in enumerate(requested):
                    path = f"item.items[{index}]"
                    order_line = want.get("orderLine", want.get("line"))
                    if order_line is None or not str(order_line).isdigit() or int(order_line) not in by_line:
                        raise invalid_content(
                            f"Error while accessing resource: You have entered an Invalid Field Value {order_line} for the following field: orderLine",
                            f"{path}.orderLine",
                        )
                    if needs_flag and not want.get("itemReceive", False):
                        continue
                    line = by_line[int(order_line)]
                    if want.get("inventoryDetail"):  # serial / lot numbers travel with the line
                        line_details[int(order_line)] = want["inventoryDetail"]
                    # The rate follows the bill_rate_source knob (line_rates below); tax and text always.
                    extras = {k: want[k] for k in ("tax1Amt", "description") if want.get(k) is not None}
                    if extras and target_type.key == "vendorbill":  # the vendor's price and tax on a bill
                        line_extras[int(order_line)] = extras
                    remaining = float(line.get(cap_field, 0)) - float(line.get(raised_field, 0))
                    quantity = _num(want.get("quantity", remaining), f"{path}.quantity")
                    if line.get("isClosed") or quantity <= 0 or quantity > remaining + 1e-9:
                        raise user_error(
                            f"The quantity {_num_out(quantity)} on line {order_line} exceeds the remaining quantity {_num_out(max(remaining, 0))}."
                        )
                    picks.append((line, quantity))
                    if (
                        target_type.key == "vendorbill"
                        and self.knobs.bill_rate_source == "body"
                        and want.get("rate") is not None
                    ):
                        line_rates[id(line)] = _num(want["rate"], f"{path}.rate")
            if not picks:
                raise user_error("You must enter at least one line item for this transaction.")
            new_lines = []
            for index, (line, quantity) in enumerate(picks, start=1):
                line[raised_field] = _num_out(float(line.get(raised_field, 0)) + quantity)
                new_line: dict[str, Any] = {
                    "line": index,
                    "orderLine": int(line["line"]),
                    "item": dict(line["item"]),
                    "quantity": _num_out(quantity),
                    "rate": _num_out(line_rates[id(line)]) if id(line) in line_rates else line.get("rate", 0),
                    "amount": _num_out(
                        round(quantity * line_rates.get(id(line), float(line.get("rate", 0))), 2)
                    ),
                    "quantityRemaining": _num_out(float(line.get(cap_field, 0)) - float(line[raised_field])),
                }
                if needs_flag:
                    new_line["itemReceive"] = True
                if line.get("location"):
                    new_line["location"] = dict(line["location"])
                if source_type.key == "transferorder" and target_type.key == "itemreceipt":
                    new_line["location"] = dict(order["transferLocation"])  # received at the destination
                if line.get("isDropShipment"):
                    new_line["isDropShipment"] = True
                if int(line["line"]) in line_details:
                    new_line["inventoryDetail"] = line_details[int(line["line"])]
                if int(line["line"]) in line_extras:
                    new_line.update(line_extras[int(line["line"])])
                    new_line["amount"] = _num_out(round(quantity * float(new_line.get("rate", 0)), 2))
                new_lines.append(new_line)
                self._drop_ship_effect(source_type, target_type, line, quantity)
            target: dict[str, Any] = {
                k: v for k, v in body.items() if k not in ("item", "id", "createdFrom", "entity", "links")
            }
            target.update(
                {
                    "createdFrom": {"id": str(sid)},
                    "entity": dict(order["entity"]) if order.get("entity") else None,
                    "location": self._transform_location(source_type, target_type, order),
                    "subsidiary": dict(order.get("subsidiary") or {"id": "1"}),
                    "currency": dict(order.get("currency") or {"id": "1"}),
                    "tranDate": body.get("tranDate") or datetime.now(UTC).strftime("%Y-%m-%d"),
                    "_status": "C" if target_type.key == "itemfulfillment" else "A",
                    "item": {"items": new_lines},
                }
            )
            target = {k: v for k, v in target.items() if v is not None}
            target = self._validate(target_type, target, existing=None)
            new_id = self._new_id(target_type)
            self._insert(target_type, new_id, target)
            self._restatus(source_type, order)
            self._write(source_type, sid, order)
            return new_id

    @staticmethod
    def _transform_location(
        source: RecordType, target: RecordType, order: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Where the new record happens: a transfer order is received at its ``transferLocation`` (the
        destination) and fulfilled at its ``location``; every other order at its ``location``."""
        key = (
            "transferLocation"
            if source.key == "transferorder" and target.key == "itemreceipt"
            else "location"
        )
        return dict(order[key]) if order.get(key) else None

    def _drop_ship_effect(
        self, source: RecordType, target: RecordType, line: dict[str, Any], quantity: float
    ) -> None:
        """Fulfilling a drop-ship sales-order line ("Mark Shipped") receives the linked PO line."""
        if source.key != "salesorder" or target.key != "itemfulfillment" or not line.get("linkedOrder"):
            return
        po_id = str(line["linkedOrder"]["id"])
        po = self.get("purchaseorder", po_id)
        for po_line in po["item"]["items"]:
            if (
                int(po_line["line"]) == int(line.get("_linkedLine", po_line["line"]))
                and po_line["item"] == line["item"]
            ):
                po_line["quantityReceived"] = _num_out(
                    min(float(po_line["quantity"]), float(po_line.get("quantityReceived", 0)) + quantity)
                )
                break
        self._restatus(RECORD_TYPES["purchaseorder"], po)
        self._write(RECORD_TYPES["purchaseorder"], int(po_id), po)

    def _restatus(self, rtype: RecordType, doc: dict[str, Any]) -> None:
        if rtype.key == "purchaseorder":
            doc["_status"] = self._po_status(doc)
        elif rtype.key in ("salesorder", "transferorder"):
            doc["_status"] = self._order_status(rtype, doc)

    def _reverse(self, rtype: RecordType, doc: dict[str, Any]) -> None:
        source_id = (doc.get("createdFrom") or {}).get("id")
        if not source_id:
            return
        source_key = self.type_of(TRANSACTION, source_id)
        if not source_key:
            return
        rule = self.TRANSFORMS.get((source_key, rtype.key))
        if rule is None:
            return
        source_type = RECORD_TYPES[source_key]
        order = self.get(source_key, source_id)
        by_line = {int(line["line"]): line for line in order["item"]["items"]}
        for line in doc["item"]["items"]:
            target = by_line.get(int(line.get("orderLine", 0)))
            if target is not None:
                target[rule[0]] = _num_out(max(0.0, float(target.get(rule[0], 0)) - float(line["quantity"])))
        self._restatus(source_type, order)
        self._write(source_type, int(source_id), order)

    # -- persistence and projection ---------------------------------------------------------------

    def _insert(self, rtype: RecordType, rid: int, doc: dict[str, Any]) -> None:
        stamp = now_iso()
        doc.setdefault("createdDate", stamp)
        doc["lastModifiedDate"] = stamp
        if rtype.family == TRANSACTION and not doc.get("tranId"):
            doc["tranId"] = self._new_tranid(rtype)
        self._write(rtype, rid, doc, touch=False)

    def _write(self, rtype: RecordType, rid: int, doc: dict[str, Any], *, touch: bool = True) -> None:
        doc["id"] = str(rid)
        if touch:
            doc["lastModifiedDate"] = now_iso()
        if rtype.family == TRANSACTION:
            keys = doc.setdefault("_uniquekeys", {})
            for line in doc["item"]["items"]:
                if str(line["line"]) not in keys:
                    keys[str(line["line"])] = self.next_uniquekey
                    self.next_uniquekey += 1
            if "0" not in keys:
                keys["0"] = self.next_uniquekey
                self.next_uniquekey += 1
        self.db.execute(
            "INSERT OR REPLACE INTO ns_record (type, id, externalid, body) VALUES (?, ?, ?, ?)",
            (rtype.key, rid, doc.get("externalId"), json.dumps(doc, separators=(",", ":"))),
        )
        self.project(rtype, rid, doc)
        self.version += 1

    def project(self, rtype: RecordType, rid: int, doc: dict[str, Any]) -> None:
        """Write a document's SuiteQL rows (replacing earlier ones)."""
        for sql, rows in self.projection_rows(rtype, rid, doc):
            if rtype.family == TRANSACTION and sql.startswith('INSERT INTO "transaction"'):
                self.db.execute('DELETE FROM "transaction" WHERE id = ?', (rid,))
                self.db.execute('DELETE FROM transactionline WHERE "transaction" = ?', (rid,))
            self.db.executemany(sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1), rows)
        if rtype.family == TRANSACTION:
            self.project_custom_body_fields(rid, doc)

    def project_custom_body_fields(self, rid: int, doc: dict[str, Any]) -> None:
        """Copy a transaction's ``custbody*`` values to their SuiteQL columns (checkboxes as T/F)."""
        for name, value in doc.items():
            column = name.lower()
            if not re.fullmatch(r"custbody[a-z0-9_]+", column):
                continue
            self._ensure_custom_column(column)
            if isinstance(value, bool):
                value = "T" if value else "F"
            elif isinstance(value, dict):
                value = value.get("id")
            self.db.execute(f'UPDATE "transaction" SET {column} = ? WHERE id = ?', (value, rid))

    def _ensure_custom_column(self, column: str) -> None:
        if column not in self.custom_body_columns:
            self.db.execute(f'ALTER TABLE "transaction" ADD COLUMN {column} TEXT')
            self.custom_body_columns.add(column)

    def projection_rows(
        self, rtype: RecordType, rid: int, doc: dict[str, Any]
    ) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The SQL statements and rows projecting one document; also updates the name caches."""
        sid = str(rid)

        def ref(value: Any) -> int | None:
            return int(value["id"]) if isinstance(value, dict) and value.get("id") is not None else None

        if rtype.family == ENTITY:
            self.names[ENTITY][sid] = str(doc.get("companyName") or doc.get("entityId"))
            self.types_by_id[ENTITY][sid] = rtype.key
            return [
                (
                    f"INSERT INTO {rtype.key} (id, entityid, companyname, email, externalid, isinactive, datecreated, lastmodifieddate) VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (
                            rid,
                            doc.get("entityId") or doc.get("companyName"),
                            doc.get("companyName"),
                            doc.get("email"),
                            doc.get("externalId"),
                            "T" if doc.get("isInactive") else "F",
                            sql_datetime(doc.get("createdDate")),
                            sql_datetime(doc.get("lastModifiedDate")),
                        )
                    ],
                )
            ]
        if rtype.family == ITEM:
            self.names[ITEM][sid] = str(doc.get("itemId"))
            return [
                (
                    "INSERT INTO item (id, itemid, displayname, itemtype, externalid, cost, isinactive, lastmodifieddate, mpn) VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            rid,
                            doc.get("itemId"),
                            doc.get("displayName"),
                            rtype.code,
                            doc.get("externalId"),
                            doc.get("cost"),
                            "T" if doc.get("isInactive") else "F",
                            sql_datetime(doc.get("lastModifiedDate")),
                            doc.get("mpn"),  # the standard MPN field (Onetrail's product key)
                        )
                    ],
                )
            ]
        if rtype.family == LOCATION:
            self.names[LOCATION][sid] = str(doc.get("name"))
            return [
                (
                    "INSERT INTO location (id, name, externalid, isinactive) VALUES (?,?,?,?)",
                    [(rid, doc.get("name"), doc.get("externalId"), "T" if doc.get("isInactive") else "F")],
                )
            ]
        if rtype.family != TRANSACTION:
            return []
        self.names[TRANSACTION][sid] = str(doc.get("tranId"))
        self.types_by_id[TRANSACTION][sid] = rtype.key
        keys = doc["_uniquekeys"]
        created_from = ref(doc.get("createdFrom"))
        header = (
            rid,
            doc.get("tranId"),
            rtype.code,
            doc.get("_status"),
            doc.get("tranDate"),
            ref(doc.get("entity")),
            ref(doc.get("location")),
            ref(doc.get("transferLocation")),
            doc.get("memo"),
            doc.get("externalId"),
            sql_datetime(doc.get("createdDate")),
            sql_datetime(doc.get("lastModifiedDate")),
            created_from,
            doc.get("total"),
            ref(doc.get("currency")),
            ref(doc.get("subsidiary")),
        )
        line_rows: list[tuple[Any, ...]] = [
            (
                keys["0"],
                rid,
                0,
                0,
                "T",
                "F",
                None,
                None,
                None,
                None,
                None,
                doc.get("total"),
                "F",
                ref(doc.get("location")),
                created_from,
                "F",
                doc.get("memo"),
                doc.get("expectedReceiptDate"),
            )
        ]
        receiving = rtype.key in ("itemreceipt", "itemfulfillment")
        for line in doc["item"]["items"]:
            shiprecv = (
                line.get("quantity")
                if receiving
                else (
                    line.get("quantityFulfilled", 0)
                    if rtype.key in ("salesorder",)
                    else line.get("quantityReceived", 0)
                )
            )
            if rtype.key == "transferorder":
                shiprecv = line.get("quantityFulfilled", 0)
            line_rows.append(
                (
                    keys[str(line["line"])],
                    rid,
                    int(line["line"]),
                    int(line["line"]),
                    "F",
                    "F",
                    ref(line.get("item")),
                    line.get("quantity"),
                    shiprecv,
                    line.get("quantityBilled", 0),
                    line.get("rate"),
                    line.get("amount"),
                    "T" if line.get("isClosed") else "F",
                    ref(line.get("location")) or ref(doc.get("location")),
                    created_from,
                    "T" if line.get("isDropShipment") else "F",
                    line.get("description"),
                    line.get("expectedReceiptDate") or doc.get("expectedReceiptDate"),
                )
            )
        return [
            (
                'INSERT INTO "transaction" (id, tranid, type, status, trandate, entity, location, transferlocation, memo, '
                "externalid, createddate, lastmodifieddate, createdfrom, foreigntotal, currency, subsidiary) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [header],
            ),
            (
                'INSERT INTO transactionline (uniquekey, "transaction", id, linesequencenumber, mainline, taxline, item, '
                "quantity, quantityshiprecv, quantitybilled, rate, netamount, isclosed, location, createdfrom, isdropship, memo, "
                "expectedreceiptdate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                line_rows,
            ),
        ]

    def bulk_insert(self, record_type: str, docs: list[dict[str, Any]]) -> list[int]:
        """Insert many prepared documents at once (the data generator); returns their ids."""
        rtype = self.record_type(record_type)
        with self.lock:
            ids: list[int] = []
            record_rows: list[tuple[Any, ...]] = []
            grouped: dict[str, list[tuple[Any, ...]]] = {}
            for doc in docs:
                doc = (
                    self._validate(rtype, doc, existing=None)
                    if rtype.family != TRANSACTION or "_status" not in doc
                    else doc
                )
                rid = self._new_id(rtype)
                ids.append(rid)
                doc["id"] = str(rid)
                doc.setdefault("createdDate", now_iso())
                doc.setdefault("lastModifiedDate", doc["createdDate"])
                if rtype.family == TRANSACTION:
                    if not doc.get("tranId"):
                        doc["tranId"] = self._new_tranid(rtype)
                    keys = doc.setdefault("_uniquekeys", {})
                    for line_no in ["0"] + [str(line["line"]) for line in doc["item"]["items"]]:
                        keys[line_no] = self.next_uniquekey
                        self.next_uniquekey += 1
                record_rows.append(
                    (rtype.key, rid, doc.get("externalId"), json.dumps(doc, separators=(",", ":")))
                )
                for sql, rows in self.projection_rows(rtype, rid, doc):
                    grouped.setdefault(sql, []).extend(rows)
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO ns_record (type, id, externalid, body) VALUES (?, ?, ?, ?)", record_rows
            )
            for sql, rows in grouped.items():
                self.db.executemany(sql, rows)
            if rtype.family == TRANSACTION:
                for rid, doc in zip(ids, docs, strict=True):
                    self.project_custom_body_fields(rid, doc)
            self.db.execute("COMMIT")
            self.version += 1
            return ids
