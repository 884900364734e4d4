"""The X-Series transfer-order flows of ``make demo``: ``vend_transfer_order_sync`` then the receipts.

Pass 1: store staff make a transfer in the POS (Store Downtown → Store Airport, sent at once);
``vend_transfer_order_sync`` turns NetSuite's approved transfer orders into OUTLET consignments and the
POS transfer into one NetSuite transfer order. The warehouse then ships and the store receives the
NetSuite transfer orders (item fulfilment, item receipt); ``vend_item_receipt_sync`` moves their
consignments OPEN → SENT → RECEIVED with the received counts.
Pass 2: nothing new on either side: no consignment, transfer order or receipt is sent twice.

Register with ``[*..., *XSERIES_TRANSFER_DEMO_FLOWS]``; the NetSuite and X-Series stand-ins must run.
"""

from __future__ import annotations

from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result

__all__ = ["XSERIES_TRANSFER_DEMO_FLOWS"]

CONSIGNMENT_FIELD = "custbody_vend_consignment_id"
#: Approved, not yet received (the statuses the push reads).
OPEN_STATUSES = {"B", "D", "E", "F"}
_STATE: dict[str, Any] = {}


def _services(sandbox: Any) -> tuple[Any, Any]:
    if _STATE.get("sandbox") is not sandbox:
        _STATE.clear()
        _STATE.update(sandbox=sandbox, pos_transfers=[], received=[], created=None)
    return sandbox.services["netsuite"], sandbox.services["xseries"]


def _transfer_orders(ns: Any) -> list[dict[str, Any]]:
    return list(ns.store.iter_docs("transferOrder"))


def _before_sync(sandbox: Any, pass_no: int) -> None:
    _ns, xs = _services(sandbox)
    if pass_no == 1:
        made = xs.staff.create_transfer(
            source="Store Downtown",
            destination="Store Airport",
            lines={"SKU-00004": 3, "SKU-00009": 1},
            send=True,
        )
        _STATE["pos_transfers"].append(made["id"])
    _STATE["created"] = list(xs.store.created_via_api)


def _check_sync(result: Result, pass_no: int) -> list[str]:
    ns, xs = _services(_STATE["sandbox"])
    records = result["records"]
    problems = []
    if records["failed"] or records["quarantined"]:
        problems.append(f"transfer sync had failures: {records}")
    orders = _transfer_orders(ns)
    for doc in orders:
        if doc.get("_status") not in OPEN_STATUSES:
            continue
        cons = xs.store.consignments.get(doc.get(CONSIGNMENT_FIELD) or "")
        if cons is None or cons["deleted_at"] or cons["type"] != "OUTLET":
            problems.append(f"TO {doc['tranId']} has no live OUTLET consignment")
    for cid in _STATE["pos_transfers"]:
        made = [d for d in orders if d.get("externalId") == f"VEND-{cid}"]
        if len(made) != 1:
            problems.append(f"POS transfer {cid} became {len(made)} NetSuite transfer orders, expected 1")
    outlet_made = [c for c in xs.store.created_via_api if xs.store.consignments[c]["type"] == "OUTLET"]
    if len({xs.store.consignments[c]["reference"] for c in outlet_made}) != len(outlet_made):
        problems.append("a NetSuite transfer order has two consignments")
    if pass_no == 1 and not records["synced"]:
        problems.append(f"pass 1 should sync the transfer orders, got {records}")
    if pass_no > 1 and (records["synced"] or xs.store.created_via_api != _STATE["created"]):
        problems.append(f"pass {pass_no} should find nothing new, got {records}")
    return problems


def _before_receipts(sandbox: Any, pass_no: int) -> None:
    ns, _xs = _services(sandbox)
    if pass_no != 1:
        return
    for doc in _transfer_orders(ns):  # the warehouse ships, the store receives every NetSuite-made TO
        if doc.get("_status") not in OPEN_STATUSES or not doc.get(CONSIGNMENT_FIELD):
            continue
        if str(doc.get("externalId") or "").startswith("VEND-"):
            continue
        if doc["_status"] in ("B", "D"):
            ns.store.transform("transferOrder", doc["id"], "itemFulfillment", {})
        ns.store.transform("transferOrder", doc["id"], "itemReceipt", {})
        _STATE["received"].append(doc["id"])


def _check_receipts(result: Result, pass_no: int) -> list[str]:
    ns, xs = _services(_STATE["sandbox"])
    records = result["records"]  # the DAG's purchase-order task counts here too: judge the TOs by state
    problems = []
    if not _STATE["received"]:
        problems.append("no NetSuite transfer order was there to receive")
    for to_id in _STATE["received"]:
        doc = ns.store.get("transferOrder", to_id)
        cons = xs.store.consignments.get(doc.get(CONSIGNMENT_FIELD) or "")
        if cons is None or cons["status"] != "RECEIVED":
            problems.append(f"TO {doc['tranId']} is received, its consignment is {cons and cons['status']}")
            continue
        for line in xs.store.lines_of(cons["id"]):
            if not line["deleted_at"] and line["received"] != line["count"]:
                problems.append(f"TO {doc['tranId']}: {line['product_sku']} received {line['received']}")
    if pass_no > 1 and records["synced"]:
        problems.append(f"pass {pass_no} should find nothing new, got {records}")
    return problems


XSERIES_TRANSFER_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="xseries_transfers",
        dag_id="vend_transfer_order_sync",
        conf={"resync_to_numbers": [], "dry_run": False},
        before=_before_sync,
        check=_check_sync,
        timeout=600,
    ),
    DemoFlow(
        group="xseries_transfers",
        dag_id="vend_item_receipt_sync",
        conf={"dry_run": False},
        before=_before_receipts,
        check=_check_receipts,
        timeout=600,
    ),
]
