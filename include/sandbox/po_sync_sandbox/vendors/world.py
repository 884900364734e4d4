"""The vendors' side of the S3 exchange: deterministic actors that read exported POs and answer with files.

A :class:`VendorWorld` owns the vendors' buckets (in moto) and, optionally, the NetSuite sandbox. Each
:class:`VendorActor` plays one vendor: it reads the PO documents po-sync put in its bucket and writes
ship notices and invoices into its ``inbound/`` folder, in the vendor's configured format — full,
partial, split across days, with cancelled lines, or malformed on request. Everything is explicit
and deterministic (document ids count up per PO), so tests and the demo can say exactly what to expect.

The actors read and write files with po-sync's published format module (the vendor "spec"),
:mod:`po_sync.vendors.formats`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3

from po_sync.vendors.formats import dump_document, load_document

__all__ = ["MALFORMED_KINDS", "VendorActor", "VendorWorld", "create_multi_vendor_drop_ship", "world_config"]

BASE_DAY = date(2026, 1, 6)

MALFORMED_KINDS = (
    "bad_xml", "xxe", "billion_laughs", "bad_json", "duplicate_keys", "bad_csv", "latin1", "oversized",
    "negative_quantity", "excess_quantity", "unknown_po", "wrong_vendor", "hash_po_number",
)  # fmt: skip


def world_config(
    vendor_ids: list[str],
    *,
    formats: tuple[str, ...] = ("xml", "json", "csv"),
    merge_bucket: str = "po-sync-vendor-merge",
    queue_for_first: bool = True,
    suffix: str = "",
) -> dict[str, Any]:
    """Vendor settings (the ``po_sync_vendors`` Variable's JSON) for ``vendor_ids``, formats in rotation."""
    vendors = []
    for index, vendor_id in enumerate(vendor_ids):
        entry: dict[str, Any] = {
            "vendor_id": vendor_id,
            "name": f"Vendor {vendor_id}",
            "bucket": f"vendor-{vendor_id.lower()}{suffix}",
            "prefix": "po-sync" if index % 2 else "",
            "format": formats[index % len(formats)],
            "statuses": ["Pending Receipt", "Partially Received", "Pending Billing/Partially Received"],
        }
        if queue_for_first and index == 0:
            entry["sqs_queue"] = f"vendor-{vendor_id.lower()}{suffix}-notices"
        vendors.append(entry)
    return {
        "merge_bucket": merge_bucket + suffix,
        "max_file_bytes": 65536,
        "vendors": vendors,
        "bills": {  # the sandbox NetSuite's chart of expense accounts and Terms list
            "charge_accounts": {"freight": "54", "handling": "55", "fuel_surcharge": "56"},
            "tax_account": "60",
            "terms": {"Net 15": "1", "Net 30": "2", "Net 60": "3", "Due on receipt": "4"},
        },
    }


def _s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="sandbox-access-key",
        aws_secret_access_key="sandbox-secret-key",
    )


class VendorWorld:
    """The vendors' buckets and queues, and an actor per vendor.

    :param s3_endpoint: moto's URL.
    :param config: vendor settings (see :func:`world_config`).
    :param netsuite: the NetSuite sandbox service, for helpers that create orders.
    """

    def __init__(self, s3_endpoint: str, config: dict[str, Any], netsuite: Any = None) -> None:
        self.endpoint = s3_endpoint
        self.config = config
        self.netsuite = netsuite
        self.s3 = _s3_client(s3_endpoint)
        self.actors = {v["vendor_id"]: VendorActor(self, v) for v in config["vendors"]}

    @classmethod
    def from_sandbox(cls, sandbox: Any, config: dict[str, Any]) -> VendorWorld:
        """Bind to a started :class:`~po_sync_sandbox.runner.Sandbox`."""
        return cls(sandbox.infos["s3"].endpoints["s3"], config, sandbox.services.get("netsuite"))

    def setup(self) -> None:
        """Create every vendor bucket (versioned), the merge bucket and the SQS queues; idempotent."""
        buckets = {v["bucket"] for v in self.config["vendors"]} | {self.config["merge_bucket"]}
        existing = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
        for bucket in sorted(buckets - existing):
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="sandbox-access-key",
            aws_secret_access_key="sandbox-secret-key",
        )
        for vendor in self.config["vendors"]:
            if vendor.get("sqs_queue"):
                attrs = {"FifoQueue": "true"} if vendor["sqs_queue"].endswith(".fifo") else {}
                sqs.create_queue(QueueName=vendor["sqs_queue"], Attributes=attrs)

    def actor(self, vendor_id: str) -> VendorActor:
        return self.actors[vendor_id]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (sorted)."""
        out: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    def read(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def merged(self, folder: str = "") -> list[dict[str, Any]]:
        """The merged documents in the merge bucket (``ready/`` and ``done/``, or one ``folder``)."""
        bucket = self.config["merge_bucket"]
        return [
            json.loads(self.read(bucket, k))
            for k in self.keys(bucket, folder)
            if k.endswith(".json") and "quarantine/" not in k
        ]


@dataclass
class VendorActor:
    """One vendor: reads its POs, ships and invoices them."""

    world: VendorWorld
    settings: dict[str, Any]
    shipped: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)

    @property
    def vendor_id(self) -> str:
        return str(self.settings["vendor_id"])

    @property
    def bucket(self) -> str:
        return str(self.settings["bucket"])

    @property
    def prefix(self) -> str:
        prefix = str(self.settings.get("prefix") or "").strip("/")
        return f"{prefix}/" if prefix else ""

    @property
    def fmt(self) -> str:
        return str(self.settings.get("format", "json")).lower()

    def purchase_orders(self) -> dict[str, dict[str, Any]]:
        """The PO documents po-sync exported to this vendor, by PO number."""
        out = {}
        for key in self.world.keys(self.bucket, f"{self.prefix}PurchaseOrder/"):
            doc = load_document(self.world.read(self.bucket, key), key.rsplit(".", 1)[-1], source=key)
            out[doc["po_number"]] = doc
        return out

    def inbound_keys(self) -> list[str]:
        return self.world.keys(self.bucket, f"{self.prefix}inbound/")

    def _next_id(self, kind: str, po_number: str) -> str:
        n = self.seq.get(f"{kind}:{po_number}", 0) + 1
        self.seq[f"{kind}:{po_number}"] = n
        return f"{kind}-{self.vendor_id}-{po_number}-{n}"

    def _put(self, name: str, body: bytes) -> str:
        key = f"{self.prefix}inbound/{name}"
        self.world.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def ship(
        self,
        po_number: str,
        *,
        quantities: dict[str, Any] | None = None,
        cancel: dict[str, Any] | None = None,
        day: int = 0,
        serials: dict[str, list[str]] | None = None,
        carrier: str = "UPS",
    ) -> str:
        """Write a ship notice for ``po_number``; returns the file key.

        :param quantities: PO line → units shipped now; None ships what this actor has not shipped yet
            (a full shipment), minus ``cancel``.
        :param cancel: PO line → units cancelled.
        :param day: days after 2026-01-06 (split shipments use different days).
        :param serials: PO line → serial numbers.
        """
        po = self.purchase_orders()[po_number]
        cancel = {str(k): Decimal(str(v)) for k, v in (cancel or {}).items()}
        lines = []
        for line in po["lines"]:
            line_no = str(line["line"])
            already = self.shipped.get((po_number, line_no), Decimal(0))
            if quantities is None:
                qty = Decimal(str(line["quantity"])) - already - cancel.get(line_no, Decimal(0))
            else:
                qty = Decimal(
                    str(
                        quantities.get(line_no, quantities.get(int(line_no), 0))
                        if line_no.isdigit()
                        else quantities.get(line_no, 0)
                    )
                )
            cancelled = cancel.get(line_no, Decimal(0))
            if qty <= 0 and not cancelled:
                continue
            self.shipped[(po_number, line_no)] = already + max(qty, Decimal(0)) + cancelled
            entry: dict[str, Any] = {
                "line": line_no,
                "sku": line["sku"],
                "quantity_shipped": str(max(qty, Decimal(0))),
                "quantity_cancelled": str(cancelled),
            }
            if serials and serials.get(line_no):
                entry["serial_numbers"] = serials[line_no]
            lines.append(entry)
        doc_id = self._next_id("SN", po_number)
        document = {
            "document_type": "ship_notice",
            "document_id": doc_id,
            "vendor_id": self.vendor_id,
            "po_number": po_number,
            "ship_date": (BASE_DAY + timedelta(days=day)).isoformat(),
            "carrier": carrier,
            "tracking_numbers": [f"1Z{self.vendor_id}{po_number}{self.seq['SN:' + po_number]:03d}"],
            "lines": lines,
        }
        return self._put(f"ShipNotice_{doc_id}.{self.fmt}", dump_document(document, self.fmt))

    def invoice(
        self,
        po_number: str,
        *,
        quantities: dict[str, Any] | None = None,
        day: int = 2,
        freight: str | None = None,
        charges: dict[str, str] | None = None,
        tax: str | None = None,
        terms: str | None = None,
        total: str | bool | None = None,
        document_id: str | None = None,
        rates: dict[str, str] | None = None,
    ) -> str:
        """Write an invoice for what this actor shipped on ``po_number`` (or ``quantities``).

        :param charges: charge type → amount, written as ``charge_<type>`` fields.
        :param tax: the stated tax.
        :param terms: payment terms text (``Net 30``).
        :param total: the stated total; ``True`` = lines + freight + charges + tax.
        :param document_id: reuse this document id (a corrected invoice).
        :param rates: PO line → the vendor's unit price, when it differs from the PO's.
        """
        po = self.purchase_orders()[po_number]
        lines = []
        for line in po["lines"]:
            line_no = str(line["line"])
            if quantities is not None:
                qty = Decimal(str(quantities.get(line_no, 0)))
            else:
                qty = self.shipped.get((po_number, line_no), Decimal(0))
            if qty > 0:
                rate = (rates or {}).get(line_no, line["rate"])
                lines.append(
                    {
                        "line": line_no,
                        "sku": line["sku"],
                        "quantity": str(qty),
                        "rate": rate,
                        "amount": str((qty * Decimal(rate)).quantize(Decimal("0.01"))),
                    }
                )
        doc_id = document_id or self._next_id("INV", po_number)
        if total is True:
            stated = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
            stated += sum((Decimal(v) for v in [freight, tax, *(charges or {}).values()] if v), Decimal(0))
            total = str(stated)
        extra: dict[str, Any] = {f"charge_{k}": v for k, v in (charges or {}).items()}
        if tax is not None:
            extra["tax"] = tax
        if terms is not None:
            extra["terms"] = terms
        if total is not None:
            extra["total"] = total
        document = {
            "document_type": "invoice",
            "document_id": doc_id,
            "vendor_id": self.vendor_id,
            "po_number": po_number,
            "invoice_number": doc_id,
            "invoice_date": (BASE_DAY + timedelta(days=day)).isoformat(),
            "due_date": (BASE_DAY + timedelta(days=day + 30)).isoformat(),
            "currency": po.get("currency") or "USD",
            "freight": freight,
            **extra,
            "lines": lines,
        }
        return self._put(f"Invoice_{doc_id}.{self.fmt}", dump_document(document, self.fmt))

    def malformed(self, kind: str, po_number: str | None = None) -> str:
        """Write a bad file of ``kind`` (see :data:`MALFORMED_KINDS`); returns its key."""
        po_number = po_number or next(iter(self.purchase_orders()), "PO-NONE")
        name = f"Bad_{kind}_{self.vendor_id}"
        good = {
            "document_type": "ship_notice",
            "document_id": f"BAD-{kind}-{self.vendor_id}",
            "vendor_id": self.vendor_id,
            "po_number": po_number,
            "ship_date": BASE_DAY.isoformat(),
            "lines": [{"line": "1", "sku": "SKU-X", "quantity_shipped": "1"}],
        }
        if kind == "bad_xml":
            return self._put(f"{name}.xml", b"<ShipNotice><po_number>PO1</po_number><lines>")
        if kind == "xxe":
            return self._put(
                f"{name}.xml",
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ShipNotice><po_number>&x;</po_number><lines/></ShipNotice>',
            )
        if kind == "billion_laughs":
            ents = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
            return self._put(
                f"{name}.xml",
                f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "ha">{ents}]><ShipNotice><po_number>&l9;</po_number><lines/></ShipNotice>'.encode(),
            )
        if kind == "bad_json":
            return self._put(f"{name}.json", b'{"document_type": "ship_notice", "lines": [')
        if kind == "duplicate_keys":
            return self._put(
                f"{name}.json",
                b'{"document_type": "ship_notice", "po_number": "A", "po_number": "B", "lines": []}',
            )
        if kind == "bad_csv":
            return self._put(f"{name}.csv", b"document_type,po_number,line\nship_notice,PO1,1,extra\n")
        if kind == "latin1":
            return self._put(
                f"{name}.json", json.dumps({**good, "carrier": "Ü"}, ensure_ascii=False).encode("latin-1")
            )
        if kind == "oversized":
            return self._put(
                f"{name}.json",
                b'{"pad": "' + b"x" * (int(self.world.config.get("max_file_bytes", 65536)) + 10) + b'"}',
            )
        if kind == "negative_quantity":
            bad = {**good, "lines": [{"line": "1", "sku": "SKU-X", "quantity_shipped": "-3"}]}
            return self._put(f"{name}.{self.fmt}", dump_document(bad, self.fmt))
        if kind == "excess_quantity":
            po = self.purchase_orders()[po_number]
            line = po["lines"][0]
            bad = {
                **good,
                "lines": [
                    {
                        "line": str(line["line"]),
                        "sku": line["sku"],
                        "quantity_shipped": str(Decimal(line["quantity"]) + 100),
                    }
                ],
            }
            return self._put(f"{name}.{self.fmt}", dump_document(bad, self.fmt))
        if kind == "unknown_po":
            bad = {**good, "po_number": "PO-DOES-NOT-EXIST"}
            return self._put(f"{name}.{self.fmt}", dump_document(bad, self.fmt))
        if kind == "hash_po_number":  # a PO number NetSuite never has, which must not reach a query
            bad = {**good, "po_number": "PO#000002"}
            return self._put(f"{name}.{self.fmt}", dump_document(bad, self.fmt))
        if kind == "wrong_vendor":
            bad = {**good, "vendor_id": "SOMEONE-ELSE"}
            return self._put(f"{name}.{self.fmt}", dump_document(bad, self.fmt))
        raise ValueError(f"unknown malformed kind {kind!r}; known: {MALFORMED_KINDS}")


def create_multi_vendor_drop_ship(
    netsuite: Any, vendor_entity_ids: list[str], *, lines_per_po: int = 2, seed: int = 1
) -> dict[str, Any]:
    """A sales order whose lines are drop-shipped by several vendors: one PO per vendor, linked both ways.

    Uses the sandbox store directly (a person would create this in the NetSuite UI).
    :returns: ``{"sales_order_id", "sales_order_number", "purchase_orders": {vendor_entity_id: (po_id, po_number)}}``.
    """
    store = netsuite.store
    items = store.query("SELECT id, itemid, cost FROM item ORDER BY id")
    customer = store.query("SELECT id FROM customer ORDER BY id LIMIT 1")[0]["id"]
    location = store.query("SELECT id FROM location ORDER BY id LIMIT 1")[0]["id"]
    so_lines: list[dict[str, Any]] = []
    plan: list[tuple[str, int, list[dict[str, Any]]]] = []
    offset = seed * 7
    for v_index, entity_id in enumerate(vendor_entity_ids):
        vendor = store.query("SELECT id FROM vendor WHERE entityid = ?", (entity_id,))[0]["id"]
        po_lines = []
        for n in range(lines_per_po):
            item = items[(offset + v_index * lines_per_po + n) % len(items)]
            qty = 2 + n + v_index
            rate = float(item["cost"] or 1)
            so_line_no = len(so_lines) + 1
            so_lines.append(
                {
                    "line": so_line_no,
                    "item": {"id": str(item["id"])},
                    "quantity": qty,
                    "rate": rate,
                    "amount": round(qty * rate, 2),
                    "isDropShipment": True,
                    "createPo": "DropShip",
                    "quantityFulfilled": 0,
                    "quantityBilled": 0,
                    "isClosed": False,
                    "location": {"id": str(location)},
                    "_linkedLine": n + 1,
                }
            )
            po_lines.append(
                {
                    "line": n + 1,
                    "item": {"id": str(item["id"])},
                    "quantity": qty,
                    "rate": rate,
                    "amount": round(qty * rate, 2),
                    "quantityReceived": 0,
                    "quantityBilled": 0,
                    "isClosed": False,
                    "isDropShipment": True,
                    "location": {"id": str(location)},
                }
            )
        plan.append((entity_id, int(vendor), po_lines))
    (so_id,) = store.bulk_insert(
        "salesOrder",
        [
            {
                "entity": {"id": str(customer)},
                "location": {"id": str(location)},
                "_status": "B",
                "item": {"items": so_lines},
                "tranDate": BASE_DAY.isoformat(),
                "total": round(sum(x["amount"] for x in so_lines), 2),
                "subsidiary": {"id": "1"},
                "currency": {"id": "1"},
            }
        ],
    )
    pos: dict[str, tuple[int, str]] = {}
    so = store.get("salesOrder", so_id)
    cursor = 0
    for entity_id, vendor, po_lines in plan:
        (po_id,) = store.bulk_insert(
            "purchaseOrder",
            [
                {
                    "entity": {"id": str(vendor)},
                    "location": {"id": str(location)},
                    "createdFrom": {"id": str(so_id)},
                    "shipTo": {"id": str(customer)},
                    "dropShip": True,
                    "_status": "B",
                    "item": {"items": po_lines},
                    "tranDate": BASE_DAY.isoformat(),
                    "total": round(sum(x["amount"] for x in po_lines), 2),
                    "subsidiary": {"id": "1"},
                    "currency": {"id": "1"},
                }
            ],
        )
        for line in so["item"]["items"][cursor : cursor + len(po_lines)]:
            line["linkedOrder"] = {"id": str(po_id)}
        cursor += len(po_lines)
        pos[entity_id] = (po_id, store.get("purchaseOrder", po_id)["tranId"])
    store._write(store.record_type("salesOrder"), so_id, so, touch=False)
    return {"sales_order_id": so_id, "sales_order_number": so["tranId"], "purchase_orders": pos}
