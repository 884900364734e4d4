"""vend_transfer_order_sync and the transfer-order task of vend_item_receipt_sync through Airflow (dag.test)
against the NetSuite and X-Series sandboxes: both directions, twice, crashes after each side effect,
unmapped outlets and bad input, receiving only once every receipt exists."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from po_sync.faults import CRASH_ENV
from po_sync.ledger import RecordKey, RecordStatus
from po_sync.xseries.operators import CONSIGNMENT_FIELD, SYNCED_FIELD
from po_sync.xseries.settings import VARIABLE_KEY

pytestmark = pytest.mark.e2e

FLOW = "vend_transfer_order_sync"
RECEIPTS = "vend_item_receipt_sync"
CONF = {FLOW: {"resync_to_numbers": [], "dry_run": False}, RECEIPTS: {"dry_run": False}}
#: Three transfer orders Main Warehouse (location 1) -> Store Downtown (location 2), two lines each.
SPEC = {
    "vendors": 2,
    "customers": 0,
    "items": 20,
    "locations": 3,
    "purchase_orders": 0,
    "lines_per_po": 2,
    "drop_ship_orders": 0,
    "transfer_orders": 3,
    "custom_records": 0,
}
VAR_ENV = f"AIRFLOW_VAR_{VARIABLE_KEY.upper()}"


@contextlib.contextmanager
def transfer_sandboxes(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """NetSuite with the three transfer orders of :data:`SPEC` and X-Series with ten registers, the
    environment pointing Airflow at them, no crash armed and the settings from the shipped file."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox
    from po_sync_sandbox.xseries import XSeriesService

    with Sandbox(
        tmp_path / "sb", services=[NetSuiteService(generate_spec=GenerateSpec(**SPEC)), XSeriesService()]
    ) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv(CRASH_ENV, raising=False)
        monkeypatch.delenv(VAR_ENV, raising=False)
        sb.services["xseries"].set_knobs(registers=10)
        yield sb


@pytest.fixture
def vend(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with transfer_sandboxes(tmp_path, monkeypatch) as sb:
        yield sb


def run(bag: Any, dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    dag = copy.deepcopy(bag.get_dag(dag_id))
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf={**CONF[dag_id], **(conf or {})})


def tos(ns: Any) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in ns.store.iter_docs("transferOrder")}


def transfers(xs: Any) -> dict[str, dict[str, Any]]:
    """Live OUTLET consignments by id."""
    return {
        c["id"]: c for c in xs.store.consignments.values() if c["type"] == "OUTLET" and not c["deleted_at"]
    }


def counts_by_sku(xs: Any, cid: str, field: str = "count") -> dict[str, Decimal]:
    return {
        ln["product_sku"]: Decimal(ln[field] or "0") for ln in xs.store.lines_of(cid) if not ln["deleted_at"]
    }


def ns_counts(ns: Any, doc: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in doc["item"]["items"]:
        sku = ns.store.get("inventoryItem", line["item"]["id"])["itemId"]
        out[sku] = out.get(sku, Decimal(0)) + Decimal(str(line["quantity"]))
    return out


def outlet_id(xs: Any, name: str) -> str:
    return xs.store.outlet_by_name(name)["id"]


def ship_and_receive(ns: Any, to_id: str, quantities: dict[int, float] | None = None) -> None:
    """The warehouse ships the whole TO; the store saves one item receipt (all, or ``{line: qty}``)."""
    doc = ns.store.get("transferOrder", to_id)
    if any(float(ln.get("quantityFulfilled", 0)) < float(ln["quantity"]) for ln in doc["item"]["items"]):
        ns.store.transform("transferOrder", to_id, "itemFulfillment", {})
    body = {}
    if quantities:
        body = {
            "item": {
                "items": [
                    {"orderLine": ln, "quantity": q, "itemReceive": True} for ln, q in quantities.items()
                ]
            }
        }
    ns.store.transform("transferOrder", to_id, "itemReceipt", body)


# -- NetSuite -> X-Series ----------------------------------------------------------------------------


def test_transfer_orders_become_outlet_consignments_once(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    orders = tos(ns)
    assert len(orders) == 3
    made = transfers(xs)
    assert len(made) == 3 and sorted(xs.store.created_via_api) == sorted(made)
    for to_id, doc in orders.items():
        cid = doc[CONSIGNMENT_FIELD]
        cons = made[cid]
        assert cons["reference"] == doc["tranId"] and cons["status"] == "OPEN"
        assert cons["source_outlet_id"] == outlet_id(xs, "Main Warehouse")
        assert cons["outlet_id"] == outlet_id(xs, "Store Downtown")
        assert counts_by_sku(xs, cid) == ns_counts(ns, doc)
        state = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", to_id))
        assert state.status is RecordStatus.SYNCED and state.target_id == cid
    assert xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0) == 3  # one per TO

    created = list(xs.store.created_via_api)
    assert run(dagbag, FLOW).state == "success"
    assert xs.store.created_via_api == created
    for to_id in orders:
        state = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", to_id))
        assert state.attempts == 1 and state.status is RecordStatus.IGNORED


def test_line_changes_deletion_and_sent_transfers_follow_the_rules(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    first, second, third = sorted(tos(ns), key=int)
    doc = ns.store.get("transferOrder", first)
    lines = doc["item"]["items"]
    extra_item = next(
        str(i["id"])
        for i in ns.store.query("SELECT id FROM item ORDER BY id")
        if str(i["id"]) not in {ln["item"]["id"] for ln in lines}
    )
    # first: one line changed, one removed, one added
    ns.store.update(
        "transferOrder",
        first,
        {"item": {"items": [lines[0] | {"quantity": 17}, {"item": {"id": extra_item}, "quantity": 2}]}},
        replace={"item"},
    )
    # second: deleted in NetSuite; third: sent by the warehouse staff in the POS, then changed in NetSuite
    second_cid = ns.store.get("transferOrder", second)[CONSIGNMENT_FIELD]
    ns.store.delete("transferOrder", second)
    third_doc = ns.store.get("transferOrder", third)
    xs.store.update_consignment(third_doc[CONSIGNMENT_FIELD], {"status": "SENT"})
    third_lines = third_doc["item"]["items"]
    ns.store.update(
        "transferOrder", third, {"item": {"items": [third_lines[0] | {"quantity": 50}]}}, replace={"item"}
    )

    assert run(dagbag, FLOW).state == "success"
    first_doc = ns.store.get("transferOrder", first)
    assert counts_by_sku(xs, first_doc[CONSIGNMENT_FIELD]) == ns_counts(ns, first_doc)
    assert xs.store.consignments[second_cid]["deleted_at"]
    assert (
        ledger_conn.get(RecordKey(FLOW, "transfer_order_deletion", "netsuite", second)).status
        is RecordStatus.SYNCED
    )
    locked = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", third))
    assert locked.status is RecordStatus.FAILED and locked.last_error_code == "CONSIGNMENT_LOCKED"
    assert third_doc["tranId"] in locked.last_error_message and "SENT" in locked.last_error_message
    assert len(xs.store.created_via_api) == 3  # updated in place, nothing recreated


# -- X-Series -> NetSuite ----------------------------------------------------------------------------


def test_pos_transfers_become_netsuite_transfer_orders_once(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    sent = xs.staff.create_transfer(
        source="Store Downtown",
        destination="Store Airport",
        lines={"SKU-00003": 4, "SKU-00007": 2},
        send=True,
    )
    still_open = xs.staff.create_transfer(
        source="Store Airport", destination="Main Warehouse", lines={"SKU-00005": 1}
    )
    before = set(tos(ns))
    assert run(dagbag, FLOW).state == "success"
    made = {doc[CONSIGNMENT_FIELD]: doc for tid, doc in tos(ns).items() if tid not in before}
    assert set(made) == {sent["id"], still_open["id"]}
    doc = made[sent["id"]]
    assert doc["externalId"] == f"VEND-{sent['id']}" and doc[SYNCED_FIELD] is True
    assert doc["location"]["id"] == "2" and doc["transferLocation"]["id"] == "3"
    assert ns_counts(ns, doc) == {"SKU-00003": Decimal(4), "SKU-00007": Decimal(2)}
    assert made[still_open["id"]]["location"]["id"] == "3"
    assert made[still_open["id"]]["transferLocation"]["id"] == "1"

    created = list(xs.store.created_via_api)
    assert run(dagbag, FLOW).state == "success"
    assert len(tos(ns)) == len(before) + 2  # not twice
    assert xs.store.created_via_api == created  # and the new TOs did not come back as consignments
    for cid in made:
        state = ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", cid))
        assert state.status is RecordStatus.SYNCED and state.attempts == 1
    # the push side now keeps the POS-made TO in step with its consignment (same id, nothing to send)
    tid = made[sent["id"]]["id"]
    assert ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", tid)).target_id == sent["id"]


def test_unmapped_outlet_and_location_are_quarantined_by_name(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    # the Variable maps Main Warehouse and Store Airport only: Store Downtown (location 2) is unmapped
    monkeypatch.setenv(VAR_ENV, json.dumps({"locations": {"1": "Main Warehouse", "3": "Store Airport"}}))
    pos_transfer = xs.staff.create_transfer(
        source="Store Downtown", destination="Store Airport", lines={"SKU-00002": 3}
    )
    mapped = xs.staff.create_transfer(
        source="Store Airport", destination="Main Warehouse", lines={"SKU-00004": 1}
    )
    assert run(dagbag, FLOW).state == "success"
    for to_id, doc in tos(ns).items():
        if doc.get("externalId", "").startswith("VEND-"):
            continue
        state = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", to_id))
        assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "UNMAPPED_OUTLET"
        assert doc["tranId"] in state.last_error_message and "to location 2" in state.last_error_message
    pulled = ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", pos_transfer["id"]))
    assert pulled.status is RecordStatus.QUARANTINED and pulled.last_error_code == "UNMAPPED_OUTLET"
    assert pos_transfer["id"] in pulled.last_error_message
    assert f"source outlet {outlet_id(xs, 'Store Downtown')}" in pulled.last_error_message
    assert (
        ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", mapped["id"])).status is RecordStatus.SYNCED
    )
    assert not transfers(xs).keys() - {pos_transfer["id"], mapped["id"]}  # no consignment pushed

    # a person fixes the map: the next run sends what was quarantined, the feed's cursor notwithstanding
    monkeypatch.setenv(
        VAR_ENV,
        json.dumps({"locations": {"1": "Main Warehouse", "2": "Store Downtown", "3": "Store Airport"}}),
    )
    assert run(dagbag, FLOW).state == "success"
    assert len(xs.store.created_via_api) == 3
    assert (
        ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", pos_transfer["id"])).status
        is RecordStatus.SYNCED
    )
    assert sum(1 for d in tos(ns).values() if d.get("externalId", "").startswith("VEND-")) == 2


def test_an_invalid_variable_stops_the_run_naming_it(vend, dagbag, ledger_conn, monkeypatch):
    xs = vend.services["xseries"]
    monkeypatch.setenv(VAR_ENV, json.dumps({"locations": {"1": "Main Warehouse", "2": "Main Warehouse"}}))
    result = run(dagbag, FLOW)
    assert result.state == "failed"
    assert xs.store.created_via_api == []


def test_unknown_sku_and_bad_counts_are_quarantined_and_the_rest_goes(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    first, second, third = sorted(tos(ns), key=int)
    # first: an item with no X-Series product; second: a negative quantity saved on a line
    sku = ns_counts(ns, ns.store.get("transferOrder", first))
    renamed = sorted(sku)[0]
    xs.store.products[xs.store.product_by_sku(renamed)["id"]]["sku"] = "RENAMED-1"
    ns.store.db.execute(
        'UPDATE transactionline SET quantity = -4 WHERE "transaction" = ? AND mainline = ?',
        (int(second), "F"),
    )
    # a POS transfer with a zero count
    zero_sku, other_sku = [f"SKU-{n:05d}" for n in range(1, 21) if f"SKU-{n:05d}" != renamed][:2]
    zero = xs.staff.create_transfer(
        source="Store Airport", destination="Main Warehouse", lines={zero_sku: 0, other_sku: 2}
    )
    assert run(dagbag, FLOW).state == "success"
    bad_sku = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", first))
    assert bad_sku.status is RecordStatus.QUARANTINED and bad_sku.last_error_code == "UNKNOWN_SKU"
    assert renamed in bad_sku.last_error_message
    negative = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", second))
    assert negative.status is RecordStatus.QUARANTINED and negative.last_error_code == "BAD_QUANTITY"
    assert ns.store.get("transferOrder", second)["tranId"] in negative.last_error_message
    good = ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", third))
    assert good.status is RecordStatus.SYNCED
    pulled = ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", zero["id"]))
    assert pulled.status is RecordStatus.QUARANTINED and pulled.last_error_code == "BAD_QUANTITY"
    assert zero_sku in pulled.last_error_message
    assert len(xs.store.created_via_api) == 1


def test_crash_after_each_side_effect_then_rerun_duplicates_nothing(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    pos_made = xs.staff.create_transfer(
        source="Store Downtown", destination="Main Warehouse", lines={"SKU-00008": 5}
    )
    failures = 0
    for _ in range(15):  # a crash after a write, again and again, until the run gets through
        monkeypatch.setenv(CRASH_ENV, FLOW)
        if run(dagbag, FLOW).state == "success":
            break
        failures += 1
    monkeypatch.delenv(CRASH_ENV)
    assert failures >= 3 * 3 + 1  # create, bulk, NetSuite field for each TO, and the TO made from the POS
    assert run(dagbag, FLOW).state == "success"
    orders = tos(ns)
    from_netsuite = [d for d in orders.values() if not d.get("externalId", "").startswith("VEND-")]
    assert len(from_netsuite) == 3
    assert len(xs.store.created_via_api) == 3  # one consignment per NetSuite TO, never a second
    assert len(transfers(xs)) == 4
    for doc in from_netsuite:
        assert counts_by_sku(xs, doc[CONSIGNMENT_FIELD]) == ns_counts(ns, doc)  # not doubled
    pulled = [d for d in orders.values() if d.get("externalId") == f"VEND-{pos_made['id']}"]
    assert len(pulled) == 1


# -- receipts ----------------------------------------------------------------------------------------


def consignment_of(ns: Any, xs: Any, to_id: str) -> dict[str, Any]:
    return xs.store.consignments[ns.store.get("transferOrder", to_id)[CONSIGNMENT_FIELD]]


def test_received_only_when_every_receipt_of_the_transfer_exists(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    full, partial, shipped_only = sorted(tos(ns), key=int)
    ship_and_receive(ns, full)
    first_line = ns.store.get("transferOrder", partial)["item"]["items"][0]
    ship_and_receive(ns, partial, {first_line["line"]: first_line["quantity"]})
    ns.store.transform("transferOrder", shipped_only, "itemFulfillment", {})
    assert run(dagbag, RECEIPTS).state == "success"

    cons = consignment_of(ns, xs, full)
    assert cons["status"] == "RECEIVED"
    assert counts_by_sku(xs, cons["id"], "received") == counts_by_sku(xs, cons["id"])
    assert consignment_of(ns, xs, partial)["status"] == "OPEN"  # one receipt of two lines: wait
    assert consignment_of(ns, xs, shipped_only)["status"] == "OPEN"  # shipped, not received
    state = ledger_conn.get(RecordKey(RECEIPTS, "transfer_order_receipt", "netsuite", full))
    assert state.status is RecordStatus.SYNCED and state.target_id == cons["id"]
    assert ledger_conn.get(RecordKey(RECEIPTS, "transfer_order_receipt", "netsuite", partial)) is None

    ship_and_receive(ns, partial)  # the last receipt
    assert run(dagbag, RECEIPTS).state == "success"
    assert consignment_of(ns, xs, partial)["status"] == "RECEIVED"
    bulk_calls = xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0)
    assert run(dagbag, RECEIPTS).state == "success"  # nothing new
    assert xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0) == bulk_calls
    # the received TO left the push's query; it is not mistaken for a deleted one
    assert run(dagbag, FLOW).state == "success"
    assert not consignment_of(ns, xs, full)["deleted_at"]


def test_crash_after_each_receipt_write_then_rerun_receives_exactly_once(
    vend, dagbag, ledger_conn, monkeypatch
):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    to_id = sorted(tos(ns), key=int)[0]
    ship_and_receive(ns, to_id)
    monkeypatch.setenv(CRASH_ENV, RECEIPTS)
    assert run(dagbag, RECEIPTS).state == "failed"  # after OPEN -> SENT
    assert consignment_of(ns, xs, to_id)["status"] == "SENT"
    assert run(dagbag, RECEIPTS).state == "failed"  # after the received counts
    cons = consignment_of(ns, xs, to_id)
    assert cons["status"] == "SENT" and counts_by_sku(xs, cons["id"], "received") == counts_by_sku(
        xs, cons["id"]
    )
    assert run(dagbag, RECEIPTS).state == "failed"  # after RECEIVED, before the ledger
    assert consignment_of(ns, xs, to_id)["status"] == "RECEIVED"
    monkeypatch.delenv(CRASH_ENV)
    assert run(dagbag, RECEIPTS).state == "success"
    cons = consignment_of(ns, xs, to_id)
    assert cons["status"] == "RECEIVED"
    assert counts_by_sku(xs, cons["id"], "received") == counts_by_sku(xs, cons["id"])  # not doubled
    state = ledger_conn.get(RecordKey(RECEIPTS, "transfer_order_receipt", "netsuite", to_id))
    assert state.status is RecordStatus.SYNCED


def test_more_received_in_the_pos_than_in_netsuite_is_quarantined(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"
    to_id = sorted(tos(ns), key=int)[0]
    cons = consignment_of(ns, xs, to_id)
    xs.store.update_consignment(cons["id"], {"status": "SENT"})
    line = xs.store.lines_of(cons["id"])[0]
    xs.store.bulk(
        cons["id"], [{"product_id": line["product_id"], "received": Decimal(line["count"]) + 5}], 500
    )
    ship_and_receive(ns, to_id)
    assert run(dagbag, RECEIPTS).state == "success"
    state = ledger_conn.get(RecordKey(RECEIPTS, "transfer_order_receipt", "netsuite", to_id))
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "BAD_QUANTITY"
    assert line["product_sku"] in state.last_error_message
    assert ns.store.get("transferOrder", to_id)["tranId"] in state.last_error_message
    assert consignment_of(ns, xs, to_id)["status"] == "SENT"  # not RECEIVED


def test_a_pos_transfer_already_sent_is_received_once_netsuite_receives_it(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    sent = xs.staff.create_transfer(
        source="Store Downtown",
        destination="Store Airport",
        lines={"SKU-00003": 4, "SKU-00007": 2},
        send=True,
    )
    assert run(dagbag, FLOW).state == "success"
    (to_id,) = [tid for tid, d in tos(ns).items() if d.get("externalId") == f"VEND-{sent['id']}"]
    ship_and_receive(ns, to_id)
    assert run(dagbag, RECEIPTS).state == "success"
    cons = xs.store.consignments[sent["id"]]
    assert cons["status"] == "RECEIVED"
    assert counts_by_sku(xs, sent["id"], "received") == {"SKU-00003": Decimal(4), "SKU-00007": Decimal(2)}
    puts = xs.stats.as_dict()["by_route"].get("PUT consignments/{id}", 0)
    assert puts == 1  # SENT already: only RECEIVED was sent


def test_dry_run_reads_and_writes_nothing(vend, dagbag, ledger_conn):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    xs.staff.create_transfer(source="Store Downtown", destination="Store Airport", lines={"SKU-00003": 1})
    before = {tid: d.get(CONSIGNMENT_FIELD) for tid, d in tos(ns).items()}
    assert run(dagbag, FLOW, {"dry_run": True}).state == "success"
    assert xs.store.created_via_api == []
    assert {tid: d.get(CONSIGNMENT_FIELD) for tid, d in tos(ns).items()} == before
    for to_id in before:
        assert ledger_conn.get(RecordKey(FLOW, "transfer_order", "netsuite", to_id)) is None
