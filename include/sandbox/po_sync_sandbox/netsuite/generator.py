"""A deterministic data set: vendors, customers, items, locations, purchase orders with lines, drop-ship
purchase orders linked to sales orders, transfer orders and custom records. Same arguments, same data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from po_sync_sandbox.netsuite.store import Store

CUSTOM_RECORD_TYPE = "customrecord_po_sync_vendor_config"
_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne")


@dataclass(frozen=True)
class GenerateSpec:
    """How much data to generate.

    :param vendors: vendor records.
    :param customers: customer records.
    :param items: inventory items.
    :param locations: locations.
    :param purchase_orders: ordinary POs (Pending Receipt).
    :param lines_per_po: item lines per PO.
    :param drop_ship_orders: sales orders each with a linked drop-ship PO.
    :param transfer_orders: transfer orders between the first two locations.
    :param custom_records: instances of ``customrecord_po_sync_vendor_config``.
    :param seed: the RNG seed.
    :param start: ``createdDate`` of the first record; later ones follow a minute apart.
    """

    vendors: int = 10
    customers: int = 5
    items: int = 50
    locations: int = 3
    purchase_orders: int = 20
    lines_per_po: int = 5
    drop_ship_orders: int = 2
    transfer_orders: int = 1
    custom_records: int = 3
    seed: int = 42
    start: str = "2026-01-05T08:00:00Z"


def _stamp(base: datetime, minutes: int) -> str:
    return (base + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _po_lines(
    rng: random.Random,
    item_ids: list[int],
    costs: dict[int, float],
    count: int,
    location: str,
    drop_ship: bool,
) -> list[dict[str, Any]]:
    lines = []
    for number, item_id in enumerate(rng.sample(item_ids, min(count, len(item_ids))), start=1):
        quantity = rng.randint(1, 20)
        rate = costs[item_id]
        line: dict[str, Any] = {
            "line": number,
            "item": {"id": str(item_id)},
            "quantity": quantity,
            "rate": rate,
            "amount": round(quantity * rate, 2),
            "quantityReceived": 0,
            "quantityBilled": 0,
            "isClosed": False,
            "location": {"id": location},
        }
        if drop_ship:
            line["isDropShipment"] = True
        lines.append(line)
    return lines


def generate(store: Store, spec: GenerateSpec) -> dict[str, list[int]]:
    """Add ``spec``'s records to ``store``; returns the new ids by record type."""
    rng = random.Random(spec.seed)
    base = datetime.strptime(spec.start, "%Y-%m-%dT%H:%M:%SZ")
    minute = 0

    def stamp() -> str:
        nonlocal minute
        minute += 1
        return _stamp(base, minute)

    created: dict[str, list[int]] = {}
    locations = [
        {"name": name, "externalId": f"LOC-{i + 1}"}
        for i, name in enumerate(
            ["Main Warehouse", "Store Downtown", "Store Airport", "Overflow DC", "Returns Center"][
                : spec.locations
            ]
            + [f"Location {n}" for n in range(6, spec.locations + 1)]
        )
    ]
    created["location"] = store.bulk_insert("location", locations)
    vendors = []
    for i in range(1, spec.vendors + 1):
        when = stamp()
        vendors.append(
            {
                "entityId": f"V{i:04d}",
                "companyName": f"{_WORDS[i % len(_WORDS)]} Supply {i:03d}",
                "email": f"orders@vendor{i:03d}.example",
                "externalId": f"VEND-{i:04d}",
                "isInactive": False,
                "createdDate": when,
                "lastModifiedDate": when,
                "custentity_po_format": rng.choice(["XML", "JSON", "CSV"]),
            }
        )
    created["vendor"] = store.bulk_insert("vendor", vendors)
    customers = []
    for i in range(1, spec.customers + 1):
        when = stamp()
        customers.append(
            {
                "entityId": f"C{i:04d}",
                "companyName": f"Customer {i:03d}",
                "email": f"buyer{i:03d}@customer.example",
                "externalId": f"CUST-{i:04d}",
                "createdDate": when,
                "lastModifiedDate": when,
            }
        )
    created["customer"] = store.bulk_insert("customer", customers) if customers else []
    items = []
    for i in range(1, spec.items + 1):
        items.append(
            {
                "itemId": f"SKU-{i:05d}",
                "displayName": f"Item {i:05d}",
                "cost": round(rng.uniform(1, 200), 2),
                "externalId": f"ITEM-{i:05d}",
                "lastModifiedDate": stamp(),
            }
        )
    created["inventoryItem"] = store.bulk_insert("inventoryItem", items)
    item_ids = created["inventoryItem"]
    costs = {iid: float(str(doc["cost"])) for iid, doc in zip(item_ids, items, strict=True)}
    location_ids = [str(x) for x in created["location"]]
    vendor_ids = [str(x) for x in created["vendor"]]

    batch: list[dict[str, Any]] = []
    po_ids: list[int] = []
    for i in range(1, spec.purchase_orders + 1):
        when = _stamp(base, minute + i)
        location = rng.choice(location_ids)
        lines = _po_lines(rng, item_ids, costs, spec.lines_per_po, location, False)
        batch.append(
            {
                "tranId": f"PO{i:06d}",
                "externalId": f"GEN-PO-{i:06d}",
                "entity": {"id": rng.choice(vendor_ids)},
                "location": {"id": location},
                "subsidiary": {"id": "1"},
                "currency": {"id": "1"},
                "tranDate": when[:10],
                "createdDate": when,
                "lastModifiedDate": when,
                "memo": f"Generated PO {i}",
                "_status": "B",
                "total": round(sum(line["amount"] for line in lines), 2),
                "item": {"items": lines},
                "custbody_po_sync_exported": False,
            }
        )
        if len(batch) >= 5000:
            po_ids += store.bulk_insert("purchaseOrder", batch)
            batch = []
    if batch:
        po_ids += store.bulk_insert("purchaseOrder", batch)
    store.tranid_counters["purchaseorder"] = spec.purchase_orders
    minute += spec.purchase_orders
    created["purchaseOrder"] = po_ids

    created["salesOrder"] = []
    created["dropShipPurchaseOrder"] = []
    for i in range(1, spec.drop_ship_orders + 1 if created["customer"] else 1):
        when = stamp()
        location = location_ids[0]
        so_lines = _po_lines(rng, item_ids, costs, 2, location, True)
        for line in so_lines:
            line["createPo"] = "DropShip"
            line["quantityFulfilled"] = 0
            line.pop("quantityReceived")
        customer = str(rng.choice(created["customer"]))
        (so_id,) = store.bulk_insert(
            "salesOrder",
            [
                {
                    "entity": {"id": customer},
                    "location": {"id": location},
                    "tranDate": when[:10],
                    "createdDate": when,
                    "lastModifiedDate": when,
                    "_status": "B",
                    "total": round(sum(x["amount"] for x in so_lines), 2),
                    "item": {"items": so_lines},
                    "subsidiary": {"id": "1"},
                    "currency": {"id": "1"},
                }
            ],
        )
        po_lines = [
            {
                **{k: v for k, v in line.items() if k not in ("createPo", "quantityFulfilled")},
                "quantityReceived": 0,
            }
            for line in so_lines
        ]
        (po_id,) = store.bulk_insert(
            "purchaseOrder",
            [
                {
                    "entity": {"id": rng.choice(vendor_ids)},
                    "location": {"id": location},
                    "createdFrom": {"id": str(so_id)},
                    "shipTo": {"id": customer},
                    "dropShip": True,
                    "tranDate": when[:10],
                    "createdDate": when,
                    "lastModifiedDate": when,
                    "_status": "B",
                    "total": round(sum(x["amount"] for x in po_lines), 2),
                    "item": {"items": po_lines},
                    "subsidiary": {"id": "1"},
                    "currency": {"id": "1"},
                    "externalId": f"GEN-DS-PO-{i:04d}",
                }
            ],
        )
        so = store.get("salesOrder", so_id)
        for line in so["item"]["items"]:
            line["linkedOrder"] = {"id": str(po_id)}
            line["_linkedLine"] = line["line"]
        store._write(store.record_type("salesOrder"), so_id, so, touch=False)
        created["salesOrder"].append(so_id)
        created["dropShipPurchaseOrder"].append(po_id)

    created["transferOrder"] = []
    if len(location_ids) >= 2:
        for _ in range(spec.transfer_orders):
            when = stamp()
            lines = _po_lines(rng, item_ids, costs, 2, location_ids[0], False)
            for line in lines:
                line["quantityFulfilled"] = 0
            created["transferOrder"] += store.bulk_insert(
                "transferOrder",
                [
                    {
                        "location": {"id": location_ids[0]},
                        "transferLocation": {"id": location_ids[1]},
                        "tranDate": when[:10],
                        "createdDate": when,
                        "lastModifiedDate": when,
                        "_status": "B",
                        "item": {"items": lines},
                        "total": round(sum(x["amount"] for x in lines), 2),
                        "subsidiary": {"id": "1"},
                        "currency": {"id": "1"},
                    }
                ],
            )

    store.define_custom_record_type(CUSTOM_RECORD_TYPE)
    created[CUSTOM_RECORD_TYPE] = (
        store.bulk_insert(
            CUSTOM_RECORD_TYPE,
            [
                {
                    "name": f"Config {i}",
                    "externalId": f"CFG-{i}",
                    "custrecord_vendor": {"id": vendor_ids[(i - 1) % len(vendor_ids)]},
                    "custrecord_po_format": rng.choice(["XML", "JSON", "CSV"]),
                    "lastModifiedDate": stamp(),
                }
                for i in range(1, spec.custom_records + 1)
            ],
        )
        if vendor_ids
        else []
    )
    return created
