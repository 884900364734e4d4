"""Store staff of the X-Series retailer, as explicit deterministic steps (the sandbox's people).

They work on the store directly, as a person in the POS does (no API budget is spent): receive a
supplier order or a transfer, create an OUTLET transfer, create a SUPPLIER order that NetSuite has never
seen. Each returns the consignment as the API would show it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from po_sync_sandbox.xseries.store import ApiError, Store, dstr


class StoreStaff:
    """The people in the shops.

    :param store: the retailer's data.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def _outlet(self, name_or_id: str) -> dict[str, Any]:
        outlet = self.store.outlets.get(name_or_id) or self.store.outlet_by_name(name_or_id)
        if outlet is None:
            raise ApiError(400, "Bad Request", f"no outlet {name_or_id!r}")
        return outlet

    def _lines(self, cid: str, lines: dict[str, float | int]) -> None:
        items = []
        for sku, count in lines.items():
            product = self.store.product_by_sku(sku)
            if product is None:
                raise ApiError(400, "Bad Request", f"no product with SKU {sku!r}")
            items.append({"product_id": product["id"], "count": count})
        self.store.bulk(cid, items, bulk_max=10_000)

    def create_supplier_order(
        self,
        *,
        outlet: str,
        supplier: str | None,
        lines: dict[str, float | int],
        reference: str | None = None,
    ) -> dict[str, Any]:
        """A stock order typed in the POS (status OPEN, type SUPPLIER).

        :param outlet: outlet name or id that receives the goods.
        :param supplier: supplier name or id (None = no supplier).
        :param lines: ``{sku: count}``.
        :param reference: the order number staff type in.
        """
        with self.store.lock:
            supplier_row = None
            if supplier:
                supplier_row = self.store.suppliers.get(supplier) or self.store.supplier_by_name(supplier)
                if supplier_row is None:
                    raise ApiError(400, "Bad Request", f"no supplier {supplier!r}")
            row = self.store.create_consignment(
                {
                    "type": "SUPPLIER",
                    "status": "OPEN",
                    "outlet_id": self._outlet(outlet)["id"],
                    "supplier_id": supplier_row["id"] if supplier_row else None,
                    "name": "Ordered in store",
                    "reference": reference,
                },
                via_api=False,
            )
            self._lines(row["id"], lines)
            return dict(self.store.consignment(row["id"]))

    def create_transfer(
        self, *, source: str, destination: str, lines: dict[str, float | int], send: bool = False
    ) -> dict[str, Any]:
        """An OUTLET consignment between two outlets (OPEN, or SENT when ``send``)."""
        with self.store.lock:
            row = self.store.create_consignment(
                {
                    "type": "OUTLET",
                    "status": "OPEN",
                    "source_outlet_id": self._outlet(source)["id"],
                    "outlet_id": self._outlet(destination)["id"],
                    "name": "Transfer made in store",
                },
                via_api=False,
            )
            self._lines(row["id"], lines)
            if send:
                self.store.update_consignment(row["id"], {"status": "SENT"})
            return dict(self.store.consignment(row["id"]))

    def receive(self, consignment_id: str, received: dict[str, float | int] | None = None) -> dict[str, Any]:
        """Count the goods in and mark the consignment RECEIVED.

        :param consignment_id: the consignment.
        :param received: ``{sku: received}``; None = every line in full.
        """
        with self.store.lock:
            row = self.store.consignment(consignment_id)
            if row["type"] == "OUTLET" and row["status"] == "OPEN":
                self.store.update_consignment(consignment_id, {"status": "SENT"})
            items = []
            for line in self.store.lines_of(consignment_id):
                if line["deleted_at"]:
                    continue
                want = (
                    Decimal(str(received.get(line["product_sku"], 0)))
                    if received
                    else Decimal(line["count"] or "0")
                )
                delta = want - Decimal(line["received"] or "0")
                if delta:
                    items.append({"product_id": line["product_id"], "received": dstr(delta)})
            if items:
                self.store.bulk(consignment_id, items, bulk_max=10_000)
            return dict(self.store.update_consignment(consignment_id, {"status": "RECEIVED"}))
