"""The retailer's data in the X-Series sandbox: outlets, registers, suppliers, products, consignments.

Faithful to ``reference/external-systems.md`` §1.3-§1.4:

- every change bumps one global, monotonically increasing ``version`` (steps are not +1), which is the
  paging cursor and the change feed;
- SUPPLIER consignments move ``OPEN -> SENT -> DISPATCHED -> RECEIVED`` (``CANCELLED`` from anything but
  ``RECEIVED``; never created ``DISPATCHED`` or ``RECEIVED``); OUTLET ones ``OPEN -> SENT -> RECEIVED``
  (``CANCELLED`` after ``OPEN``);
- ``received`` on an OPEN/SENT supplier order auto-marks it ``DISPATCHED``; bulk ``count`` accumulates in
  OPEN/SENT, ``received`` in DISPATCHED; RECEIVED/CANCELLED consignments take no changes;
- line numbers are decimal strings with 5 places, timestamps ``2014-07-13T23:22:00+00:00``.

IDs are deterministic (seeded UUIDs) and the clock is injectable, so runs repeat exactly.
"""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

SUPPLIER_FLOW = ["OPEN", "SENT", "DISPATCHED", "RECEIVED"]
OUTLET_FLOW = ["OPEN", "SENT", "RECEIVED"]
CONSIGNMENT_TYPES = ("SUPPLIER", "OUTLET", "RETURN", "STOCKTAKE")
CONSIGNMENT_FIELDS = (
    "outlet_id",
    "name",
    "due_at",
    "supplier_id",
    "source_outlet_id",
    "consignment_date",
    "supplier_invoice",
    "reference",
    "show_inactive",
)
FIVE = Decimal("0.00001")


class ApiError(Exception):
    """An X-Series error answer: HTTP status, ``error`` title and ``message``.

    :param status: HTTP status.
    :param error: short title (``Bad Request``, ``Not Found``...).
    :param message: what is wrong, as the API words it.
    :param details: optional per-field details.
    :param headers: extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "Bad Request", message, details=details or None)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "Not Found", f"{what} {ident} not found")


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", message)


def dec(value: Any, field: str) -> Decimal:
    """A decimal from a JSON number or decimal string; 400 naming ``field`` otherwise."""
    if isinstance(value, bool):
        raise bad_request(f"{field} must be a number", field=field)
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise bad_request(f"{field} must be a number, got {value!r}", field=field) from None
    if not result.is_finite():
        raise bad_request(f"{field} must be a finite number", field=field)
    return result


def dstr(value: Decimal) -> str:
    """Lightspeed's wire form of a line number: a string with 5 decimals (``"10.00000"``)."""
    return str(value.quantize(FIVE))


class Store:
    """Thread-safe retailer data with a global version counter.

    :param clock: returns the current time (injectable for deterministic tests).
    :param seed: seed of the ID and version generator.
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None, seed: int = 13) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)
        self._version = 1_000_000
        self.outlets: dict[str, dict[str, Any]] = {}
        self.registers: dict[str, dict[str, Any]] = {}
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.consignments: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, dict[str, dict[str, Any]]] = {}
        #: consignments created through the API, by who asked (tests prove "never twice")
        self.created_via_api: list[str] = []

    # -- ids, versions, time ----------------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def bump(self) -> int:
        """The next global version (gaps of 1-7: consecutive versions are not +1, as in X-Series)."""
        self._version += self._rng.randint(1, 7)
        return self._version

    def now(self) -> str:
        return self.clock().astimezone(UTC).replace(microsecond=0).isoformat()

    # -- master data ------------------------------------------------------------------------------

    def add_outlet(self, name: str, *, registers: int = 1) -> dict[str, Any]:
        """Create an outlet with ``registers`` registers."""
        with self.lock:
            oid = self.new_id()
            outlet = {
                "id": oid,
                "name": name,
                "time_zone": "Pacific/Auckland",
                "default_tax_id": None,
                "currency": "USD",
                "currency_symbol": "$",
                "display_prices": "inclusive",
                "deleted_at": None,
                "version": self.bump(),
            }
            self.outlets[oid] = outlet
            for n in range(registers):
                rid = self.new_id()
                self.registers[rid] = {
                    "id": rid,
                    "name": f"{name} register {n + 1}",
                    "outlet_id": oid,
                    "is_open": False,
                    "deleted_at": None,
                    "version": self.bump(),
                }
            return outlet

    def add_supplier(self, name: str, *, description: str = "", source: str = "USER") -> dict[str, Any]:
        """Create a supplier."""
        with self.lock:
            sid = self.new_id()
            supplier = {
                "id": sid,
                "name": name,
                "description": description,
                "source": source,
                "default_markup": None,
                "contact": {"company_name": name, "email": None, "phone": None},
                "deleted_at": None,
                "version": self.bump(),
            }
            self.suppliers[sid] = supplier
            return supplier

    def add_product(
        self,
        sku: str,
        name: str,
        *,
        supply_price: float = 1.0,
        supplier_id: str | None = None,
        is_composite: bool = False,
        active: bool = True,
    ) -> dict[str, Any]:
        """Create a product."""
        with self.lock:
            pid = self.new_id()
            supplier = self.suppliers.get(supplier_id or "")
            product = {
                "id": pid,
                "sku": sku,
                "handle": sku.lower(),
                "name": name,
                "source_id": None,
                "supplier_code": sku,
                "supply_price": supply_price,
                "supplier": ({"id": supplier["id"], "name": supplier["name"]} if supplier else None),
                "active": active,
                "has_inventory": True,
                "is_composite": is_composite,
                "variant_parent_id": None,
                "deleted_at": None,
                "version": self.bump(),
            }
            self.products[pid] = product
            return product

    def register_count(self) -> int:
        """Registers not deleted (what the rate budget counts)."""
        with self.lock:
            return sum(1 for r in self.registers.values() if not r["deleted_at"])

    def outlet_by_name(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return next((o for o in self.outlets.values() if o["name"] == name), None)

    def supplier_by_name(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return next((s for s in self.suppliers.values() if s["name"] == name), None)

    def product_by_sku(self, sku: str) -> dict[str, Any] | None:
        with self.lock:
            return next((p for p in self.products.values() if p["sku"] == sku), None)

    def delete_supplier(self, sid: str) -> None:
        with self.lock:
            supplier = self._get(self.suppliers, "supplier", sid)
            supplier["deleted_at"] = self.now()
            supplier["version"] = self.bump()

    def update_supplier(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            supplier = self._get(self.suppliers, "supplier", sid)
            for key in ("name", "description", "source", "default_markup", "contact"):
                if key in body:
                    supplier[key] = body[key]
            supplier["version"] = self.bump()
            return supplier

    @staticmethod
    def _get(table: dict[str, dict[str, Any]], what: str, ident: str) -> dict[str, Any]:
        row = table.get(ident)
        if row is None or row.get("deleted_at"):
            raise not_found(what, ident)
        return row

    # -- paging (the version cursor) --------------------------------------------------------------

    @staticmethod
    def page(
        rows: Iterable[dict[str, Any]],
        *,
        after: int,
        before: int | None,
        page_size: int,
        deleted: bool,
        match: Callable[[dict[str, Any]], bool] = lambda _row: True,
    ) -> dict[str, Any]:
        """``{"data": [...], "version": {"min", "max"}}``: rows with ``after < version (< before)``, oldest
        change first; ``min``/``max`` are ``null`` on an empty page."""
        chosen = sorted(
            (
                r
                for r in rows
                if r["version"] > after
                and (before is None or r["version"] < before)
                and (deleted or not r.get("deleted_at"))
                and match(r)
            ),
            key=lambda r: r["version"],
        )[:page_size]
        versions = [r["version"] for r in chosen]
        return {
            "data": [dict(r) for r in chosen],
            "version": {
                "min": min(versions) if versions else None,
                "max": max(versions) if versions else None,
            },
        }

    # -- consignments -----------------------------------------------------------------------------

    def consignment(self, cid: str) -> dict[str, Any]:
        with self.lock:
            return self._get(self.consignments, "consignment", cid)

    def create_consignment(self, body: dict[str, Any], *, via_api: bool = True) -> dict[str, Any]:
        """Create a consignment (``POST /consignments``); rules of §1.3."""
        with self.lock:
            ctype = str(body.get("type") or "").upper()
            if ctype not in CONSIGNMENT_TYPES:
                raise bad_request(f"type must be one of {', '.join(CONSIGNMENT_TYPES)}", field="type")
            if ctype in ("RETURN", "STOCKTAKE"):
                raise unprocessable(f"{ctype} consignments are not supported by this sandbox")
            status = str(body.get("status") or "OPEN").upper()
            if status not in ("OPEN", "SENT"):
                raise unprocessable(f"a {ctype} consignment cannot be created in status {status}")
            outlet_id = body.get("outlet_id")
            if not outlet_id or outlet_id not in self.outlets:
                raise bad_request(f"outlet_id {outlet_id!r} is not an outlet", field="outlet_id")
            if ctype == "SUPPLIER":
                supplier_id = body.get("supplier_id")
                if supplier_id and supplier_id not in self.suppliers:
                    raise bad_request(f"supplier_id {supplier_id!r} is not a supplier", field="supplier_id")
            if ctype == "OUTLET":
                source = body.get("source_outlet_id")
                if not source or source not in self.outlets:
                    raise bad_request(
                        f"source_outlet_id {source!r} is not an outlet", field="source_outlet_id"
                    )
                if source == outlet_id:
                    raise unprocessable("source_outlet_id and outlet_id must differ")
            cid = self.new_id()
            now = self.now()
            row: dict[str, Any] = {
                "id": cid,
                "type": ctype,
                "status": status,
                "outlet_id": outlet_id,
                "name": body.get("name"),
                "due_at": body.get("due_at"),
                "supplier_id": body.get("supplier_id") if ctype == "SUPPLIER" else None,
                "source_outlet_id": body.get("source_outlet_id") if ctype == "OUTLET" else None,
                "consignment_date": body.get("consignment_date") or now,
                "received_at": None,
                "show_inactive": bool(body.get("show_inactive", False)),
                "supplier_invoice": body.get("supplier_invoice"),
                "reference": body.get("reference"),
                "total_count_gain": dstr(Decimal(0)),
                "total_cost_gain": dstr(Decimal(0)),
                "total_count_loss": dstr(Decimal(0)),
                "total_cost_loss": dstr(Decimal(0)),
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "version": self.bump(),
                "filters": None,
            }
            self.consignments[cid] = row
            self.lines[cid] = {}
            if via_api:
                self.created_via_api.append(cid)
            return row

    @contextlib.contextmanager
    def _atomic(self, cid: str) -> Iterator[dict[str, Any]]:
        """Hold the lock over one consignment change and undo all of it when it raises :class:`ApiError`,
        so a refused call (and its retry) never half-applies."""
        with self.lock:
            row = self.consignment(cid)
            saved_row = dict(row)
            saved_lines = {pid: dict(ln) for pid, ln in self.lines[cid].items()}
            try:
                yield row
            except ApiError:
                row.clear()
                row.update(saved_row)
                self.lines[cid] = saved_lines
                raise

    def _touch(self, row: dict[str, Any]) -> None:
        row["updated_at"] = self.now()
        row["version"] = self.bump()

    @staticmethod
    def _flow(row: dict[str, Any]) -> list[str]:
        return SUPPLIER_FLOW if row["type"] == "SUPPLIER" else OUTLET_FLOW

    def _check_open_for_change(self, row: dict[str, Any]) -> None:
        if row["status"] in ("RECEIVED", "CANCELLED"):
            raise unprocessable(f"consignment {row['id']} is {row['status']} and cannot be changed")

    def update_consignment(self, cid: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /consignments/{id}``: fields and status, with the update rules of §1.3."""
        with self._atomic(cid) as row:
            self._check_open_for_change(row)
            if "type" in body and str(body["type"]).upper() != row["type"]:
                raise unprocessable(f"the type of consignment {cid} cannot change from {row['type']}")
            for key in CONSIGNMENT_FIELDS:
                if key in body and key not in ("outlet_id", "source_outlet_id"):
                    row[key] = body[key]
            if "status" in body and str(body["status"]).upper() != row["status"]:
                self._set_status(row, str(body["status"]).upper())
            self._touch(row)
            return row

    def _set_status(self, row: dict[str, Any], new: str) -> None:
        old = row["status"]
        flow = self._flow(row)
        lines = [ln for ln in self.lines[row["id"]].values() if not ln["deleted_at"]]
        if new == "CANCELLED":
            if row["type"] == "OUTLET" and old == "OPEN":
                raise unprocessable("an OUTLET consignment can be CANCELLED only after OPEN")
            row["status"] = new
            return
        if new not in flow:
            raise unprocessable(f"status {new} is not valid for a {row['type']} consignment")
        if flow.index(new) <= flow.index(old):
            raise unprocessable(f"consignment {row['id']} cannot move from {old} to {new}")
        if not lines:
            raise unprocessable("the status cannot change while the consignment has no products")
        if new == "RECEIVED":
            if not any(Decimal(ln["received"] or "0") != 0 for ln in lines):
                raise unprocessable("at least one product must have a non-zero received count")
            row["received_at"] = self.now()
            for ln in lines:
                ln["status"] = "RECEIVE_SUCCESS"
        row["status"] = new

    def delete_consignment(self, cid: str) -> None:
        """``DELETE /consignments/{id}``: only while nothing depends on it (not DISPATCHED/RECEIVED)."""
        with self.lock:
            row = self.consignment(cid)
            if row["status"] in ("DISPATCHED", "RECEIVED"):
                raise ApiError(
                    409, "Conflict", f"consignment {cid} is {row['status']}: stock movements depend on it"
                )
            row["deleted_at"] = self.now()
            self._touch(row)

    def totals(self, cid: str) -> dict[str, str]:
        with self.lock:
            self.consignment(cid)
            lines = [ln for ln in self.lines[cid].values() if not ln["deleted_at"]]
            sent = sum((Decimal(ln["count"] or "0") for ln in lines), Decimal(0))
            received = sum((Decimal(ln["received"] or "0") for ln in lines), Decimal(0))
            sent_cost = sum(
                (Decimal(ln["count"] or "0") * Decimal(ln["cost"] or "0") for ln in lines), Decimal(0)
            )
            rec_cost = sum(
                (Decimal(ln["received"] or "0") * Decimal(ln["cost"] or "0") for ln in lines), Decimal(0)
            )
            return {
                "total_sent_count": dstr(sent),
                "total_sent_cost": dstr(sent_cost),
                "total_received_count": dstr(received),
                "total_received_cost": dstr(rec_cost),
            }

    # -- consignment lines ------------------------------------------------------------------------

    def _product(self, product_id: Any, where: str) -> dict[str, Any]:
        product = self.products.get(str(product_id or ""))
        if product is None or product.get("deleted_at"):
            raise bad_request(f"{where}: product_id {product_id!r} is not a product", field="product_id")
        if product["is_composite"]:
            raise unprocessable(f"{where}: composite product {product['sku']} cannot be in a consignment")
        return product

    def _new_line(self, cid: str, product: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        line = {
            "product_id": product["id"],
            "product_sku": product["sku"],
            "count": None,
            "received": None,
            "cost": dstr(Decimal(str(product["supply_price"]))),
            "is_included": True,
            "status": "PENDING",
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
            "version": self.bump(),
        }
        self.lines[cid][product["id"]] = line
        return line

    def _apply(
        self, row: dict[str, Any], line: dict[str, Any], item: dict[str, Any], *, accumulate: bool
    ) -> None:
        """Apply ``count`` / ``received`` / ``cost`` of ``item`` to ``line`` by the status rules."""
        where = f"consignment {row['id']} product {line['product_id']}"
        if "count" not in item and "received" not in item and "cost" not in item:
            raise bad_request(f"{where}: each product needs count or received", field="count")
        if "count" in item and item["count"] is not None:
            if row["status"] not in ("OPEN", "SENT"):
                raise unprocessable(f"{where}: count cannot change while {row['status']}")
            value = dec(item["count"], "count")
            base = Decimal(line["count"] or "0") if accumulate else Decimal(0)
            total = base + value
            if total < 0:
                raise unprocessable(f"{where}: count would become negative ({total})")
            line["count"] = dstr(total)
        if "received" in item and item["received"] is not None:
            if row["type"] == "SUPPLIER":
                if row["status"] in ("OPEN", "SENT"):
                    row["status"] = "DISPATCHED"  # documented auto-transition
                receiving = row["status"] == "DISPATCHED"
            else:
                receiving = row["status"] == "SENT"
            if not receiving:
                raise unprocessable(f"{where}: received cannot be set while {row['status']}")
            value = dec(item["received"], "received")
            base = Decimal(line["received"] or "0") if accumulate else Decimal(0)
            total = base + value
            if total < 0:
                raise unprocessable(f"{where}: received would become negative ({total})")
            line["received"] = dstr(total)
        if "cost" in item and item["cost"] is not None:
            cost = dec(item["cost"], "cost")
            if cost < 0:
                raise unprocessable(f"{where}: cost cannot be negative")
            line["cost"] = dstr(cost)
        line["updated_at"] = self.now()
        line["version"] = self.bump()

    def lines_of(self, cid: str) -> list[dict[str, Any]]:
        with self.lock:
            self.consignment(cid)
            return list(self.lines[cid].values())

    def add_line(self, cid: str, item: dict[str, Any]) -> dict[str, Any]:
        """``POST /consignments/{id}/products``: one product (409 when it is already on the order)."""
        with self._atomic(cid) as row:
            self._check_open_for_change(row)
            product = self._product(item.get("product_id"), f"consignment {cid}")
            existing = self.lines[cid].get(product["id"])
            if existing and not existing["deleted_at"]:
                raise ApiError(409, "Conflict", f"product {product['id']} is already in consignment {cid}")
            line = self._new_line(cid, product)
            self._apply(row, line, item, accumulate=False)
            self._touch(row)
            return line

    def update_line(self, cid: str, product_id: str, item: dict[str, Any]) -> dict[str, Any]:
        """``PUT /consignments/{id}/products/{product_id}``: set count / received / cost."""
        with self._atomic(cid) as row:
            self._check_open_for_change(row)
            line = self.lines[cid].get(product_id)
            if line is None or line["deleted_at"]:
                raise not_found("consignment product", product_id)
            self._apply(row, line, item, accumulate=False)
            self._touch(row)
            return line

    def delete_line(self, cid: str, product_id: str) -> None:
        """``DELETE /consignments/{id}/products/{product_id}`` (refused once goods move)."""
        with self.lock:
            row = self.consignment(cid)
            refused = (
                row["type"] == "SUPPLIER" and row["status"] in ("DISPATCHED", "RECEIVED", "CANCELLED")
            ) or (row["type"] == "OUTLET" and row["status"] in ("SENT", "RECEIVED", "CANCELLED"))
            if refused:
                raise unprocessable(
                    f"products cannot be removed from a {row['type']} consignment in {row['status']}"
                )
            line = self.lines[cid].get(product_id)
            if line is None or line["deleted_at"]:
                raise not_found("consignment product", product_id)
            line["deleted_at"] = self.now()
            line["version"] = self.bump()
            self._touch(row)

    def bulk(self, cid: str, items: Any, bulk_max: int) -> dict[str, dict[str, str | None]]:
        """``POST /consignments/{id}/bulk``: accumulate ``count`` (OPEN/SENT) or ``received`` (DISPATCHED).

        All or nothing: a bad item rejects the whole call, so a retry never half-applies.
        """
        if not isinstance(items, list):
            raise bad_request("the bulk body must be an array of consignment products")
        if len(items) > bulk_max:
            raise bad_request(f"at most {bulk_max} products per bulk call, got {len(items)}")
        with self._atomic(cid) as row:
            self._check_open_for_change(row)
            result: dict[str, dict[str, str | None]] = {}
            for n, item in enumerate(items):
                if not isinstance(item, dict):
                    raise bad_request(f"bulk item {n} is not an object")
                product = self._product(item.get("product_id"), f"bulk item {n}")
                line = self.lines[cid].get(product["id"])
                if line is None or line["deleted_at"]:
                    line = self._new_line(cid, product)
                if "count" not in item and "received" not in item:
                    raise bad_request(f"bulk item {n}: each product needs count or received", field="count")
                self._apply(row, line, item, accumulate=True)
                result[product["id"]] = {"count": line["count"], "received": line["received"]}
            self._touch(row)
            return result
