"""The procurement side of S2P, played deterministically: the ERP mapping tables a procurement
administrator keeps, and a procurement specialist whose approved requisitions become purchase orders
(with capitalised lines and their fixed assets), revisions, cancellations, blanket orders and releases.

Each action writes what S2P writes: the primary records (``sn_shop_*``) and a new outbound staging
header with its lines at integration status ``10`` New, which is what triggers the ERP integration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from po_sync_sandbox.servicenow.schema import (
    ACCOUNT_ASSIGNMENT_MAP,
    ADDRESS_MAP,
    ASSET_CATEGORY_MAP,
    FIXED_ASSET,
    MATERIAL_GROUP_MAP,
    PRIMARY_LINE,
    PRIMARY_PO,
    REQUISITION,
    STAGING_LINE,
    STAGING_PO,
    SUPPLIER,
)
from po_sync_sandbox.servicenow.store import Store

#: The ERP mapping the administrator keeps: S2P value -> NetSuite value (external ids / ids).
ADDRESSES = {
    "HQ Receiving": {"erp_plant": "1000", "erp_location": "LOC-1", "erp_subsidiary": "1"},
    "Downtown Store": {"erp_plant": "2000", "erp_location": "LOC-2", "erp_subsidiary": "1"},
}
ASSET_CATEGORIES = {"IT hardware >= 1000": "COMPUTER_EQUIPMENT", "Furniture": "FURNITURE_FIXTURES"}
MATERIAL_GROUPS = {"Computers": "MG-IT-01", "Office supplies": "MG-OF-02", "Furniture": "MG-FU-03"}
ACCOUNT_ASSIGNMENTS = {"K": "cost_center", "A": "asset", "P": "prepayment"}


@dataclass
class Line:
    """One line a specialist orders.

    :param sku: the product's ERP item id (NetSuite item external id, e.g. ``ITEM-00001``).
    :param quantity: purchased quantity.
    :param unit_price: price per unit.
    :param capitalization_policy: set when the purchase is capitalised (fixed assets are created).
    """

    sku: str
    quantity: int | str
    unit_price: Decimal | str = Decimal("10.00")
    model_category: str = "Office supplies"
    location: str = "HQ Receiving"
    account_assignment: str = "K"
    capitalization_policy: str = ""
    product_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ProcurementActor:
    """Plays S2P's procurement administrator and specialist against a :class:`Store`.

    :param store: the instance's records (``ServiceNowService.store``).
    :param order_date: the order date on every PO (deterministic).
    """

    def __init__(self, store: Store, *, order_date: str = "2026-03-02 09:00:00") -> None:
        self.store = store
        self.order_date = order_date
        self._po_seq = 0
        self._line_seq = 0

    @classmethod
    def from_service(cls, service: Any) -> ProcurementActor:
        return cls(service.store)

    # -- the administrator ------------------------------------------------------------------------

    def seed_mappings(self, *, skip: tuple[str, ...] = ()) -> None:
        """Fill the ERP mapping tables (``skip`` leaves out S2P values, to play a missing mapping)."""
        rows: list[tuple[str, dict[str, Any]]] = []
        rows += [(ADDRESS_MAP, {"location": k, **v}) for k, v in ADDRESSES.items() if k not in skip]
        rows += [
            (ASSET_CATEGORY_MAP, {"capitalization_policy": k, "erp_asset_class": v})
            for k, v in ASSET_CATEGORIES.items()
            if k not in skip
        ]
        rows += [
            (MATERIAL_GROUP_MAP, {"model_category": k, "erp_material_group": v})
            for k, v in MATERIAL_GROUPS.items()
            if k not in skip
        ]
        rows += [
            (ACCOUNT_ASSIGNMENT_MAP, {"account_assignment_category": k, "erp_account_assignment": v})
            for k, v in ACCOUNT_ASSIGNMENTS.items()
            if k not in skip
        ]
        self.store.bulk(rows)

    def add_mapping(self, table: str, values: dict[str, Any]) -> None:
        """Add one mapping row (the administrator fixing a missing mapping)."""
        self.store.insert(table, values)

    def add_supplier(self, supplier_id: str, name: str) -> None:
        self.store.insert(SUPPLIER, {"number": supplier_id, "name": name})

    # -- the specialist ---------------------------------------------------------------------------

    def create_po(
        self,
        supplier_id: str,
        lines: list[Line],
        *,
        order_type: str = "standard",
        blanket_order: str = "",
        currency: str = "USD",
        stage: bool = True,
    ) -> str:
        """A requisition approved into a PO: primary records, fixed assets, and (``stage``) the outbound
        staging records at ``10`` New. Returns the PO number."""
        self._po_seq += 1
        requisition = self.store.insert(
            REQUISITION, {"status": "pending_submission", "short_description": "order"}
        )
        number = f"PO{self._po_seq + 1000:07d}"
        po = self.store.insert(
            PRIMARY_PO,
            {
                "number": number,
                "status": "pending_submission",
                "order_type": order_type,
                "supplier_id": supplier_id,
                "purchase_requisition": requisition["sys_id"],
                "currency": currency,
                "blanket_order": blanket_order,
                "revision": "0",
                "erp_number": "",
            },
        )
        for index, line in enumerate(lines, start=1):
            self._line_seq += 1
            primary = self.store.insert(
                PRIMARY_LINE,
                {
                    "purchase_order": po["sys_id"],
                    "line_number": str(index),
                    "purchase_line": f"PL{self._line_seq + 1000:07d}",
                    "sku": line.sku,
                    "purchased_quantity": str(line.quantity),
                    "unit_price": str(line.unit_price),
                    "capitalization_policy": line.capitalization_policy,
                    "erp_line_number": "",
                },
            )
            if line.capitalization_policy and str(line.quantity).isdigit():
                self.store.bulk(
                    (
                        FIXED_ASSET,
                        {
                            "purchase_order_line": primary["sys_id"],
                            "asset_tag": f"FA-{primary['number']}-{n:04d}",
                        },
                    )
                    for n in range(1, int(line.quantity) + 1)
                )
        if stage:
            self.stage(number, lines=lines)
        return number

    def po(self, number: str) -> dict[str, str]:
        found = self.store.rows(PRIMARY_PO, number=number)
        if not found:
            raise KeyError(number)
        return found[0]

    def primary_lines(self, number: str) -> list[dict[str, str]]:
        rows = self.store.rows(PRIMARY_LINE, purchase_order=self.po(number)["sys_id"])
        return sorted(rows, key=lambda r: int(r["line_number"]))

    def stage(self, number: str, *, lines: list[Line] | None = None, cancel: bool = False) -> str:
        """Write the outbound staging header and lines for the PO as it stands (the S2P trigger).
        Returns the staging header's sys_id."""
        po = self.po(number)
        primary_lines = self.primary_lines(number)
        specs = lines or [Line(sku=p["sku"], quantity=p["purchased_quantity"]) for p in primary_lines]
        amount = sum(
            Decimal(p["unit_price"] or "0") * Decimal(p["purchased_quantity"] or "0") for p in primary_lines
        )
        header = self.store.insert(
            STAGING_PO,
            {
                "purchase_order": po["sys_id"],
                "purchase_order_number": number,
                "order_type": po["order_type"],
                "order_date": self.order_date,
                "supplier_id": po["supplier_id"],
                "supplier_name": po["supplier_id"],
                "legal_entity": "US01",
                "purchasing_org": "P100",
                "payment_term": "NET30",
                "po_amount": str(amount),
                "po_amount_currency": po.get("currency", "USD"),
                "purchase_order_status": "canceled" if cancel else po["status"],
                "revision": po.get("revision", "0"),
                "blanket_order": po.get("blanket_order", ""),
                "erp_number": po.get("erp_number", ""),
                "erp_source": "NetSuite",
                "integration_status": "10",
                "processing_message": "",
            },
        )
        for primary, spec in zip(primary_lines, specs, strict=False):
            self.store.insert(STAGING_LINE, self._staging_line(header["sys_id"], primary, spec))
        return str(header["sys_id"])

    @staticmethod
    def _staging_line(header_id: str, primary: dict[str, str], spec: Line) -> dict[str, Any]:
        return {
            "purchase_order": header_id,
            "purchase_order_line": primary["sys_id"],
            "purchase_order_line_number": primary["line_number"],
            "purchase_line": primary["purchase_line"],
            "sku": primary["sku"],
            "product_name": spec.product_name or primary["sku"],
            "supplier_part_number": primary["sku"],
            "purchased_quantity": primary["purchased_quantity"],
            "unit": "each",
            "unit_price": primary["unit_price"],
            "unit_price_currency": "USD",
            "expected_del_date": "2026-03-20",
            "product_type": "10",
            "asset_category": spec.capitalization_policy,
            "model_category": spec.model_category,
            "location_name": spec.location,
            "account_assignment_category": spec.account_assignment,
            "cost_center": "CC-100",
            "erp_line_number": primary.get("erp_line_number", ""),
            "integration_status": "10",
            "processing_message": "",
            **spec.extra,
        }

    def revise(
        self, number: str, *, quantities: dict[int, int] | None = None, lines: list[Line] | None = None
    ) -> str:
        """Change line quantities (by S2P line number) and stage the revision. Returns the staging sys_id."""
        po = self.po(number)
        for primary in self.primary_lines(number):
            new = (quantities or {}).get(int(primary["line_number"]))
            if new is not None:
                self.store.update(PRIMARY_LINE, primary["sys_id"], {"purchased_quantity": str(new)})
        self.store.update(
            PRIMARY_PO,
            po["sys_id"],
            {"revision": str(int(po.get("revision") or 0) + 1), "status": "pending_submission"},
        )
        return self.stage(number, lines=lines)

    def cancel(self, number: str) -> str:
        """Cancel in S2P: the PO goes to Pending Submission and a cancellation is staged."""
        po = self.po(number)
        self.store.update(PRIMARY_PO, po["sys_id"], {"status": "pending_submission"})
        return self.stage(number, cancel=True)

    def orphan_line(self, number: str) -> str:
        """A staging line at ``10`` whose header is not there (yet): the ERP-side "line without its PO"."""
        primary = self.primary_lines(number)[0]
        row = self.store.insert(
            STAGING_LINE, self._staging_line("", primary, Line(sku=primary["sku"], quantity=1))
        )
        return str(row["sys_id"])

    def reset_failed(self, number: str) -> list[str]:
        """After fixing the cause, set the PO's failed staging records back to ``10`` New."""
        reset = []
        for header in self.store.rows(STAGING_PO, purchase_order_number=number, integration_status="40"):
            self.store.update(
                STAGING_PO, header["sys_id"], {"integration_status": "10", "processing_message": ""}
            )
            for line in self.store.rows(STAGING_LINE, purchase_order=header["sys_id"]):
                self.store.update(
                    STAGING_LINE, line["sys_id"], {"integration_status": "10", "processing_message": ""}
                )
            reset.append(header["sys_id"])
        return reset

    def bulk_pos(self, count: int, lines_per_po: int, skus: list[str], supplier_ids: list[str]) -> list[str]:
        """Many standard POs at once (benchmarks)."""
        numbers = []
        for i in range(count):
            lines = [
                Line(sku=skus[(i * lines_per_po + j) % len(skus)], quantity=1 + (i + j) % 20)
                for j in range(lines_per_po)
            ]
            numbers.append(self.create_po(supplier_ids[i % len(supplier_ids)], lines))
        return numbers
