"""vend_purchase_order_sync and vend_token_refresh through Airflow (dag.test) against the NetSuite and
X-Series sandboxes: both directions, twice, crashes after each side effect, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from po_sync.faults import CRASH_ENV
from po_sync.ledger import RecordKey, RecordStatus
from po_sync.xseries.operators import CONSIGNMENT_FIELD, SYNCED_FIELD
from tests.ledger_rows import last_task_run
from tests.xseries.conftest import pos, run

pytestmark = pytest.mark.e2e

FLOW = "vend_purchase_order_sync"


def live_supplier_orders(xs: Any) -> dict[str, dict[str, Any]]:
    return {
        c["reference"]: c
        for c in xs.store.consignments.values()
        if c["type"] == "SUPPLIER" and not c["deleted_at"]
    }


def counts_by_sku(xs: Any, cid: str) -> dict[str, Decimal]:
    return {ln["product_sku"]: Decimal(ln["count"]) for ln in xs.store.lines_of(cid) if not ln["deleted_at"]}


def ns_counts(ns: Any, po: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in po["item"]["items"]:
        sku = ns.store.get("inventoryItem", line["item"]["id"])["itemId"]
        out[sku] = out.get(sku, Decimal(0)) + Decimal(str(line["quantity"]))
    return out


def test_pos_become_consignments_once_and_twice_is_nothing_new(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    orders = live_supplier_orders(xs)
    purchase_orders = pos(ns)
    assert set(orders) == {po["tranId"] for po in purchase_orders.values()}
    for po_id, po in purchase_orders.items():
        cons = orders[po["tranId"]]
        assert cons["status"] == "OPEN"
        assert counts_by_sku(xs, cons["id"]) == ns_counts(ns, po)
        assert po[CONSIGNMENT_FIELD] == cons["id"]
        state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po_id))
        assert state.status is RecordStatus.SYNCED and state.target_id == cons["id"]
    created = list(xs.store.created_via_api)
    assert len(created) == 4
    calls = xs.stats.as_dict()["by_route"]
    assert calls.get("POST consignments/{id}/bulk", 0) == 4  # one bulk call per PO, not one per line

    assert run(dagbag, FLOW).state == "success"
    assert xs.store.created_via_api == created
    assert len(live_supplier_orders(xs)) == 4
    for po_id in purchase_orders:
        assert ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po_id)).attempts == 1


def test_line_changes_and_deletion_follow_netsuite(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    first, second = sorted(pos(ns), key=int)[:2]
    po = ns.store.get("purchaseOrder", first)
    lines = po["item"]["items"]
    extra_item = next(
        str(i["id"])
        for i in ns.store.query("SELECT id FROM item ORDER BY id")
        if str(i["id"]) not in {ln["item"]["id"] for ln in lines}
    )
    new_lines = [
        {"line": lines[0]["line"], "quantity": 99},
        {"item": {"id": extra_item}, "quantity": 3, "rate": 1.5},
    ]
    ns.store.update(
        "purchaseOrder",
        first,
        {"item": {"items": [lines[0] | new_lines[0], lines[1], new_lines[1]]}},
        replace={"item"},
    )
    ns.store.delete("purchaseOrder", second)
    second_cid = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", second)).target_id

    assert run(dagbag, FLOW).state == "success"
    cons = live_supplier_orders(xs)[po["tranId"]]
    assert counts_by_sku(xs, cons["id"]) == ns_counts(ns, ns.store.get("purchaseOrder", first))
    assert xs.store.consignments[second_cid]["deleted_at"]
    assert len(xs.store.created_via_api) == 4  # updated in place, nothing recreated


def test_pos_made_in_the_pos_become_netsuite_pos_once(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    order = xs.staff.create_supplier_order(
        outlet="Store Airport",
        supplier="Globex Supply",
        lines={"SKU-00003": 4, "SKU-00007": 2},
        reference="POS-1",
    )
    before = set(pos(ns))
    assert run(dagbag, FLOW).state == "success"
    made = [po for pid, po in pos(ns).items() if pid not in before]
    assert len(made) == 1
    po = made[0]
    assert po["externalId"] == f"VEND-{order['id']}" and po[SYNCED_FIELD] is True
    assert po[CONSIGNMENT_FIELD] == order["id"] and po["location"]["id"] == "3" and po["entity"]["id"] == "2"
    assert ns_counts(ns, po) == {"SKU-00003": Decimal(4), "SKU-00007": Decimal(2)}

    # the pull recorded the PO it made on the push side too: the push has nothing of its own to record
    mirrored = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po["id"]))
    assert mirrored.status is RecordStatus.SYNCED and mirrored.target_id == order["id"]

    created = list(xs.store.created_via_api)
    assert run(dagbag, FLOW).state == "success"
    assert len(pos(ns)) == len(before) + 1  # not twice
    assert xs.store.created_via_api == created  # and the new PO did not go back as a second consignment
    state = ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", order["id"]))
    assert state.status is RecordStatus.SYNCED and state.attempts == 1
    push = last_task_run(ledger_conn, FLOW, "push_purchase_orders")
    assert (push["count_synced"], push["count_ignored"]) == (0, len(before) + 1), push
    assert ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po["id"])).attempts == 1


def test_crash_after_each_side_effect_then_rerun_duplicates_nothing(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    xs.staff.create_supplier_order(outlet="Store Downtown", supplier=None, lines={"SKU-00002": 1})
    for _ in range(12):  # a crash after a write, again and again, until the run gets through
        monkeypatch.setenv(CRASH_ENV, FLOW)
        state = run(dagbag, FLOW).state
        if state == "success":
            break
    monkeypatch.delenv(CRASH_ENV)
    assert run(dagbag, FLOW).state == "success"
    orders = live_supplier_orders(xs)
    purchase_orders = pos(ns)
    made_from_nets = [
        po for po in purchase_orders.values() if not po.get("externalId", "").startswith("VEND-")
    ]
    assert len(made_from_nets) == 4
    assert {po["tranId"] for po in made_from_nets} <= set(orders)
    assert len(xs.store.created_via_api) == 4  # one consignment per NetSuite PO, never a second
    assert len([p for p in purchase_orders.values() if p.get("externalId", "").startswith("VEND-")]) == 1
    for po in made_from_nets:
        assert counts_by_sku(xs, orders[po["tranId"]]["id"]) == ns_counts(ns, po)


def test_bad_input_is_quarantined_by_name_and_the_rest_goes(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    ids = sorted(pos(ns), key=int)
    # an item with no X-Series product, and a location with no outlet
    xs.store.products[xs.store.product_by_sku("SKU-00005")["id"]]["sku"] = "RENAMED-5"
    uses_5 = {pid for pid, po in pos(ns).items() if "SKU-00005" in ns_counts(ns, po)}
    new_loc = ns.store.create("location", {"name": "Pop-up"})
    ns.store.update("purchaseOrder", ids[-1], {"location": {"id": str(new_loc)}}, replace=set())
    assert run(dagbag, FLOW).state == "success"
    bad = uses_5 | {ids[-1]}
    for pid in ids:
        state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", pid))
        if pid in bad:
            assert state.status is RecordStatus.QUARANTINED
            assert state.last_error_code in ("UNKNOWN_SKU", "UNMAPPED_OUTLET")
        else:
            assert state.status is RecordStatus.SYNCED
    quarantined = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", ids[-1]))
    assert "location" in quarantined.last_error_message and "outlet" in quarantined.last_error_message
    assert len(live_supplier_orders(xs)) == len(ids) - len(bad)


def test_token_rotation_mid_run_and_the_refresh_dag(vend, dagbag, ledger_conn):
    xs = vend.services["xseries"]
    assert run(dagbag, "vend_token_refresh").state == "success"
    xs.oauth.expire_access_tokens()  # the server ends the token early, in the middle of the flow's work
    assert run(dagbag, FLOW).state == "success"
    assert len(live_supplier_orders(xs)) == 4
    assert xs.oauth.refresh_reuse_rejected == 0
    xs.oauth.revoke_all_refresh_tokens()
    assert run(dagbag, "vend_token_refresh").state == "failed"
