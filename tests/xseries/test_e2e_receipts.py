"""vend_item_receipt_sync through Airflow against the sandboxes: a consignment is RECEIVED only once
every receipt of its PO exists in NetSuite; crash after each write; bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from po_sync.faults import CRASH_ENV
from po_sync.ledger import RecordKey, RecordStatus
from tests.xseries.conftest import pos, run

pytestmark = pytest.mark.e2e

FLOW = "vend_item_receipt_sync"


def receive(ns, po_id, quantities=None):
    """Save one item receipt for a PO (all open lines, or ``{line: quantity}``)."""
    body = {}
    if quantities:
        body = {
            "item": {
                "items": [
                    {"orderLine": ln, "quantity": q, "itemReceive": True} for ln, q in quantities.items()
                ]
            }
        }
    return ns.store.transform("purchaseOrder", po_id, "itemReceipt", body)


def consignment_of(ns, xs, po_id):
    cid = ns.store.get("purchaseOrder", po_id)["custbody_vend_consignment_id"]
    return xs.store.consignments[cid]


def test_received_only_when_every_receipt_exists(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, "vend_purchase_order_sync").state == "success"
    full, partial = sorted(pos(ns), key=int)[:2]
    receive(ns, full)
    first_line = ns.store.get("purchaseOrder", partial)["item"]["items"][0]
    receive(ns, partial, {first_line["line"]: first_line["quantity"]})
    assert run(dagbag, FLOW).state == "success"
    cons = consignment_of(ns, xs, full)
    assert cons["status"] == "RECEIVED"
    po = ns.store.get("purchaseOrder", full)
    for line in xs.store.lines_of(cons["id"]):
        assert Decimal(line["received"]) == Decimal(line["count"])
    assert consignment_of(ns, xs, partial)["status"] == "OPEN"  # one receipt of several: wait
    assert (
        ledger_conn.get(RecordKey(FLOW, "purchase_order_receipt", "netsuite", full)).status
        is RecordStatus.SYNCED
    )
    assert po["_status"] != "B"

    receive(ns, partial)  # the last receipt
    assert run(dagbag, FLOW).state == "success"
    assert consignment_of(ns, xs, partial)["status"] == "RECEIVED"
    bulk_calls = xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0)
    assert run(dagbag, FLOW).state == "success"  # nothing new
    assert xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0) == bulk_calls


def test_crash_after_each_write_then_rerun_receives_exactly_once(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, "vend_purchase_order_sync").state == "success"
    po_id = sorted(pos(ns), key=int)[0]
    receive(ns, po_id)
    monkeypatch.setenv(CRASH_ENV, FLOW)
    assert run(dagbag, FLOW).state == "failed"  # after the received counts, before the status
    cons = consignment_of(ns, xs, po_id)
    assert cons["status"] == "DISPATCHED"
    assert run(dagbag, FLOW).state == "failed"  # after the status, before the ledger
    monkeypatch.delenv(CRASH_ENV)
    assert run(dagbag, FLOW).state == "success"
    cons = consignment_of(ns, xs, po_id)
    assert cons["status"] == "RECEIVED"
    for line in xs.store.lines_of(cons["id"]):
        assert Decimal(line["received"]) == Decimal(line["count"])  # not doubled by the reruns


def test_more_received_in_the_pos_than_in_netsuite_is_quarantined(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, "vend_purchase_order_sync").state == "success"
    po_id = sorted(pos(ns), key=int)[0]
    cons = consignment_of(ns, xs, po_id)
    line = xs.store.lines_of(cons["id"])[0]
    xs.store.bulk(
        cons["id"], [{"product_id": line["product_id"], "received": Decimal(line["count"]) + 5}], 500
    )
    receive(ns, po_id)
    assert run(dagbag, FLOW).state == "success"
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order_receipt", "netsuite", po_id))
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "BAD_QUANTITY"
    assert line["product_sku"] in state.last_error_message
    assert consignment_of(ns, xs, po_id)["status"] == "DISPATCHED"
