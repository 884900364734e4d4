"""S2P outbound staging records -> NetSuite purchase-order writes (pure functions, no I/O).

One staged PO becomes one :class:`Plan`: ``upsert`` (a new PO, a revision or a blanket release: PUT by
external id = the S2P PO number, so a rerun or a revision never makes a second PO), ``cancel`` (close
every line of the existing PO) or ``ignore`` (a blanket order: S2P keeps no financial documents for it).
ERP values come from the ERP mapping tables; a missing mapping, a bad quantity or price fails the PO
with a message naming the record, the table and the value.

Line split (S2P docs, "Purchase order line split scenario"): a capitalised line (an asset category /
capitalisation policy is set) with a quantity of ``split_threshold`` (100) or more becomes NetSuite lines
of at most ``max_line_quantity`` (99) each (250 -> 99, 99, 52), every part carrying the same S2P
purchase line; fixed asset *k* (in asset-tag order) of that line belongs to part ``k // 99``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from po_sync.exceptions import RecordValidationError
from po_sync.models import canonical_json
from po_sync.servicenow.settings import S2PSettings

_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class ErpMappings:
    """The ERP mapping tables, read once per run: S2P value -> ERP row (field -> value).

    :param addresses: ``sn_shop_erp_address_map`` by ``location`` (erp_location, erp_subsidiary, erp_plant).
    :param asset_categories: ``sn_shop_erp_asset_category_map`` by ``capitalization_policy``.
    :param material_groups: ``sn_shop_erp_material_group_map`` by ``model_category``.
    :param account_assignments: the account assignment category table by ``account_assignment_category``.
    """

    addresses: Mapping[str, Mapping[str, str]]
    asset_categories: Mapping[str, Mapping[str, str]]
    material_groups: Mapping[str, Mapping[str, str]]
    account_assignments: Mapping[str, Mapping[str, str]]
    tables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LinePart:
    """One NetSuite line: which S2P staging line it comes from and its quantity."""

    erp_line: int
    staging_line: str
    primary_line: str
    purchase_line: str
    quantity: Decimal
    part: int  # 0 for an unsplit line, else the index of the split part


@dataclass(frozen=True)
class Plan:
    """What to do in NetSuite for one staged PO.

    :param action: ``upsert``, ``cancel`` or ``ignore``.
    :param external_id: the NetSuite PO's external id (the S2P PO number).
    :param body: the NetSuite body (``upsert``).
    :param parts: the NetSuite lines in order (``upsert``).
    :param reason: why nothing is sent (``ignore``).
    """

    action: str
    external_id: str
    po_number: str
    body: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[LinePart, ...] = ()
    reason: str = ""

    @property
    def payload_hash(self) -> str:
        """The ledger's hash: what would be sent (an unchanged restage is recognised)."""
        data = {
            "action": self.action,
            "external_id": self.external_id,
            "body": self.body,
            "reason": self.reason,
        }
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()

    def erp_lines_of(self, staging_line: str) -> list[int]:
        """The NetSuite line numbers made from one staging line (several when it was split)."""
        return [p.erp_line for p in self.parts if p.staging_line == staging_line]


def split_quantity(quantity: Decimal, *, threshold: int, max_quantity: int) -> list[Decimal]:
    """``250 -> [99, 99, 52]`` when ``quantity >= threshold``; otherwise ``[quantity]``."""
    if quantity < threshold:
        return [quantity]
    parts = []
    left = quantity
    while left > 0:
        take = min(left, Decimal(max_quantity))
        parts.append(take)
        left -= take
    return parts


def asset_parts(asset_count: int, max_quantity: int) -> list[int]:
    """For each fixed asset (in order) the index of the split part it belongs to."""
    return [index // max_quantity for index in range(asset_count)]


def _decimal(value: str, *, where: str, field_name: str, positive: bool) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise RecordValidationError(
            f"{where}: {field_name} {value!r} is not a number", code="BAD_NUMBER"
        ) from None
    if not number.is_finite() or (positive and number <= 0) or number < 0:
        raise RecordValidationError(
            f"{where}: {field_name} must be {'greater than 0' if positive else 'at least 0'}, got {value!r}",
            code="BAD_QUANTITY" if field_name == "purchased_quantity" else "BAD_NUMBER",
        )
    return number


def _mapped(
    mappings: ErpMappings, kind: str, value: str, *, where: str, field_name: str
) -> Mapping[str, str]:
    table_rows: Mapping[str, Mapping[str, str]] = getattr(mappings, kind)
    found = table_rows.get(value)
    if found is None:
        table = mappings.tables.get(kind, kind)
        raise RecordValidationError(
            f"{where}: no ERP mapping in {table} for {field_name} {value!r}; add it in S2P "
            "(ERP mapping tables) and set the staging record back to New",
            code="MISSING_ERP_MAPPING",
        )
    return found


def plan_purchase_order(
    header: Mapping[str, str],
    lines: Sequence[Mapping[str, str]],
    mappings: ErpMappings,
    settings: S2PSettings,
) -> Plan:
    """Turn one staged PO (header and its staging lines) into a :class:`Plan`.

    :param header: the staging header's fields (``sn_spend_intg_outbound_purchase_order``).
    :param lines: its staging lines (``..._line``), any order.
    :raises RecordValidationError: naming the PO, the staging record, the field and the value.
    """
    number = header.get("purchase_order_number") or ""
    staging_table = settings.tables.staging_po
    where_po = f"PO {number or '?'} ({staging_table} {header.get('sys_id', '?')})"
    if not number or not _EXTERNAL_ID_RE.fullmatch(number):
        raise RecordValidationError(
            f"{where_po}: purchase_order_number {number!r} is empty or not usable as a NetSuite external id",
            code="BAD_PO_NUMBER",
        )
    if (header.get("order_type") or "standard").lower() == "blanket":
        return Plan(
            "ignore",
            number,
            number,
            reason="blanket order: not created in the ERP (pre-approved buying with no financial documents); "
            "its releases are created as standard POs",
        )
    if (header.get("purchase_order_status") or "").lower() == "canceled":
        return Plan("cancel", number, number, body={"cancel": True})
    supplier = header.get("supplier_id") or ""
    if not supplier or not _EXTERNAL_ID_RE.fullmatch(supplier):
        raise RecordValidationError(
            f"{where_po}: supplier_id {supplier!r} is empty or not a supplier id", code="BAD_SUPPLIER"
        )
    if not lines:
        raise RecordValidationError(f"{where_po}: the staged PO has no lines", code="NO_LINES")
    ordered = sorted(lines, key=lambda r: (_int_or(r.get("purchase_order_line_number")), r.get("sys_id", "")))
    fields = settings.custom_line_fields
    items: list[dict[str, Any]] = []
    parts: list[LinePart] = []
    first_address: Mapping[str, str] | None = None
    for line in ordered:
        where = f"PO {number} line {line.get('purchase_order_line_number') or '?'} ({settings.tables.staging_line} {line.get('sys_id', '?')})"
        quantity = _decimal(
            line.get("purchased_quantity", ""), where=where, field_name="purchased_quantity", positive=True
        )
        rate = _decimal(
            line.get("unit_price", "") or "0", where=where, field_name="unit_price", positive=False
        )
        sku = line.get("sku") or ""
        if not sku or not _EXTERNAL_ID_RE.fullmatch(sku):
            raise RecordValidationError(
                f"{where}: sku {sku!r} is empty or not an ERP item id", code="BAD_SKU"
            )
        location = line.get("location_name") or ""
        if not location:
            raise RecordValidationError(
                f"{where}: location_name is empty (no delivery address)", code="NO_ADDRESS"
            )
        address = _mapped(mappings, "addresses", location, where=where, field_name="location_name")
        first_address = first_address or address
        custom: dict[str, Any] = {}
        policy = line.get("asset_category") or ""
        if policy:
            asset = _mapped(mappings, "asset_categories", policy, where=where, field_name="asset_category")
            custom[fields["asset_class"]] = asset.get("erp_asset_class", "")
        category = line.get("model_category") or ""
        if category:
            group = _mapped(mappings, "material_groups", category, where=where, field_name="model_category")
            custom[fields["material_group"]] = group.get("erp_material_group", "")
        assignment = line.get("account_assignment_category") or ""
        if assignment:
            account = _mapped(
                mappings,
                "account_assignments",
                assignment,
                where=where,
                field_name="account_assignment_category",
            )
            custom[fields["account_assignment"]] = account.get("erp_account_assignment", "")
        if policy and quantity != quantity.to_integral_value():
            raise RecordValidationError(
                f"{where}: a capitalised line needs a whole purchased_quantity, got {quantity}",
                code="BAD_QUANTITY",
            )
        quantities = (
            split_quantity(
                quantity, threshold=settings.split_threshold, max_quantity=settings.max_line_quantity
            )
            if policy
            else [quantity]
        )
        for index, part_quantity in enumerate(quantities):
            erp_line = len(items) + 1
            item: dict[str, Any] = {
                "line": erp_line,
                "item": {"externalId": sku},
                "quantity": _json_number(part_quantity),
                "rate": _json_number(rate),
                "description": (line.get("product_name") or sku)[:300],
                "location": {"externalId": address.get("erp_location", "")},
                settings.line_ref_field: line.get("purchase_line") or line.get("purchase_order_line", ""),
                **custom,
            }
            if line.get("expected_del_date"):
                item["expectedReceiptDate"] = line["expected_del_date"][:10]
            items.append(item)
            parts.append(
                LinePart(
                    erp_line=erp_line,
                    staging_line=line.get("sys_id", ""),
                    primary_line=line.get("purchase_order_line", ""),
                    purchase_line=line.get("purchase_line", ""),
                    quantity=part_quantity,
                    part=index if len(quantities) > 1 else 0,
                )
            )
    assert first_address is not None
    memo = f"S2P {number} revision {header.get('revision') or '0'}"
    body: dict[str, Any] = {
        "entity": {"externalId": supplier},
        "location": {"externalId": first_address.get("erp_location", "")},
        "memo": memo,
        "custbody_s2p_po_number": number,
        "item": {"items": items},
    }
    if first_address.get("erp_subsidiary"):
        body["subsidiary"] = {"id": first_address["erp_subsidiary"]}
    if header.get("order_date"):
        body["tranDate"] = header["order_date"][:10]
    if header.get("blanket_order"):
        body["custbody_s2p_blanket_order"] = header["blanket_order"]
        body["memo"] = f"{memo}, release of blanket order {header['blanket_order']}"
    return Plan("upsert", number, number, body=body, parts=tuple(parts))


def _json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number (NetSuite takes numbers; ``requests`` cannot encode Decimal)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _int_or(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def mappings_from_rows(rows: Mapping[str, Sequence[Mapping[str, str]]], settings: S2PSettings) -> ErpMappings:
    """Index the mapping tables' rows by their S2P key column."""
    tables = settings.tables
    keyed = {
        "addresses": (tables.address_map, "location"),
        "asset_categories": (tables.asset_category_map, "capitalization_policy"),
        "material_groups": (tables.material_group_map, "model_category"),
        "account_assignments": (tables.account_assignment_map, "account_assignment_category"),
    }
    indexed = {
        kind: {row.get(key, ""): dict(row) for row in rows.get(table, ()) if row.get(key)}
        for kind, (table, key) in keyed.items()
    }
    return ErpMappings(**indexed, tables={kind: table for kind, (table, _) in keyed.items()})
