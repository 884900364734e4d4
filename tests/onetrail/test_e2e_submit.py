"""onetrail_po_submit end to end: NetSuite sandbox → real asyncssh sFTP → the Onetrail hub actor."""

from __future__ import annotations

import pytest

from tests.onetrail.conftest import flagged_pos, run_dag, task_states

pytestmark = pytest.mark.timeout(300)


def order_files(hub):
    inbox = hub.folder("In/Orders")
    return sorted(p.name for p in inbox.iterdir()) if inbox.exists() else []


def record(ledger, po_id):
    from po_sync.ledger import RecordKey

    return ledger.get(RecordKey("onetrail_po_submit", "purchase_order", "netsuite", str(po_id)))


def test_submits_each_po_once_validated_then_acknowledged(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    pos = flagged_pos(store)
    assert len(pos) >= 3 and {p["status"] for p in pos} == {"Not Submitted"}
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    after = flagged_pos(store)
    assert {p["status"] for p in after} == {"Submitted"}
    names = order_files(hub)
    assert len(names) == len(pos) and not [n for n in names if n.startswith(".")]
    assert {n.rsplit(".", 1)[1] for n in names} == {"xml", "edi"}  # one XML and one EDIFACT partner
    taken = hub.poll()
    assert len(taken) == len(pos) and order_files(hub) == []
    for po in pos:
        assert hub.requests_received(po["tranid"]) == 1
        state = record(ledger_conn, po["id"])
        assert str(state.status) == "synced" and state.target_id.startswith(f"ORD-{po['tranid']}-")
    # Second pass: nothing new to send; the ACKs are read and archived.
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    assert order_files(hub) == []
    assert not [p for p in hub.folder("Out/RC").iterdir() if p.is_file()]
    assert len(list((hub.folder("Out/RC") / "archive").iterdir())) == len(pos)
    assert hub.poll() == [] and hub.duplicates == 0
    assert {p["status"] for p in flagged_pos(store)} == {"Submitted"}
    order = hub.latest(pos[0]["tranid"])
    assert order.function == "Request" and all(line.mpn.startswith("MPN-") for line in order.lines)


def test_failed_checks_mark_the_po_failed_and_send_nothing(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    pos = flagged_pos(store)
    bad_gln_po, no_mpn_po, special_po = pos[0], pos[1], pos[2]
    # The third vendor is enabled but its GLN fails the GS1 check digit; the first PO moves to it.
    vendor = str(store.query("SELECT id FROM vendor ORDER BY id")[2]["id"])
    store.update(
        "vendor",
        vendor,
        {"custentity_onetrail_enabled": True, "custentity_onetrail_gln": "8714253023237"},
        replace=set(),
    )
    store.update("purchaseOrder", bad_gln_po["id"], {"entity": {"id": vendor}}, replace=set())
    others_of_vendor = [bad_gln_po["id"]]
    item = store.get("purchaseOrder", no_mpn_po["id"])["item"]["items"][0]["item"]["id"]
    store.update("inventoryItem", item, {"mpn": ""}, replace=set())
    store.update(
        "purchaseOrder",
        special_po["id"],
        {"custbody_onetrail_special_order_type": "Special Bid"},
        replace=set(),
    )
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    status = {p["id"]: p for p in flagged_pos(store)}
    for po_id in others_of_vendor:
        assert status[po_id]["status"] == "Failed"
        assert "check digit 7, GS1 says 6" in status[po_id]["error"]
    assert status[no_mpn_po["id"]]["status"] == "Failed" and "has no MPN" in status[no_mpn_po["id"]]["error"]
    assert status[special_po["id"]]["status"] == "Failed"
    assert "Special Bid/Deal Reference" in status[special_po["id"]]["error"]
    failed = [p for p in status.values() if p["status"] == "Failed"]
    sent = order_files(hub)
    assert sent and len(sent) == len(pos) - len(failed)
    assert not any(p["tranid"] in name for p in failed for name in sent)
    assert {p["status"] for p in status.values()} == {"Failed", "Submitted"}
    state = record(ledger_conn, bad_gln_po["id"])
    assert str(state.status) == "quarantined" and state.last_error_code == "VALIDATION_FAILED"
    assert f"PO {bad_gln_po['tranid']}" in state.last_error_message
    # Fixed, the PO goes on the next run, and the ledger resolves it.
    store.update("vendor", vendor, {"custentity_onetrail_gln": "8714253023236"}, replace=set())
    store.update(
        "purchaseOrder",
        special_po["id"],
        {"custbody_onetrail_special_reference": "BID-42", "custbody_onetrail_allow_partial": True},
        replace=set(),
    )
    run_dag(dagbag, "onetrail_po_submit")
    assert str(record(ledger_conn, bad_gln_po["id"]).status) == "synced"
    hub.poll()
    special = hub.latest(special_po["tranid"])
    assert (special.order_type, special.special_reference, special.partial_shipments) == (
        "SpecialBid",
        "BID-42",
        True,
    )


def test_negative_ack_fails_the_po_with_its_code(dagbag, ledger_conn, onetrail_sandbox, store):
    from po_sync_sandbox.onetrail import OnetrailHub

    hub = OnetrailHub.from_sandbox(onetrail_sandbox, known_ship_to=())  # every ship-to unknown
    run_dag(dagbag, "onetrail_po_submit")
    pos = flagged_pos(store)
    hub.poll()
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    for po in flagged_pos(store):
        assert po["status"] == "Failed"
        assert "504E%" in po["error"] and "invalid ship-to" in po["error"]
        state = record(ledger_conn, po["id"])
        assert str(state.status) == "failed" and state.last_error_code.startswith("NACK_504E%")
    # The refused version is not resent until the PO changes.
    run_dag(dagbag, "onetrail_po_submit")
    assert order_files(hub) == []
    assert len(pos) == len(list((hub.folder("Out/RC") / "archive").iterdir()))


def test_change_and_cancel_go_as_change_documents(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    run_dag(dagbag, "onetrail_po_submit")
    hub.poll()
    pos = flagged_pos(store)
    changed, cancelled = pos[0], pos[1]
    doc = store.get("purchaseOrder", changed["id"])
    store.update(
        "purchaseOrder", changed["id"], {"item": {"items": [{"line": 1, "quantity": 99}]}}, replace=set()
    )
    lines = store.get("purchaseOrder", cancelled["id"])["item"]["items"]
    store.update(
        "purchaseOrder",
        cancelled["id"],
        {"item": {"items": [{"line": line["line"], "isClosed": True} for line in lines]}},
        replace=set(),
    )
    run_dag(dagbag, "onetrail_po_submit")
    assert len(order_files(hub)) == 2
    hub.poll()
    new = hub.latest(changed["tranid"])
    assert new.function == "Change" and new.status == "Open"
    assert new.lines[0].quantity == 99 and len(new.lines) == len(doc["item"]["items"])
    gone = hub.latest(cancelled["tranid"])
    assert (gone.function, gone.status) == ("Change", "Delete")
    assert {line.status for line in gone.lines} == {"Delete"}
    assert hub.requests_received(changed["tranid"]) == 1


def test_crash_after_upload_then_rerun_sends_once(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "onetrail_po_submit")
    run = run_dag(dagbag, "onetrail_po_submit")
    assert task_states(run)["submit_purchase_orders"] == "failed"
    first = flagged_pos(store)[0]
    assert first["status"] == "Submitting"
    assert len(order_files(hub)) == 1  # written, renamed, then the worker died
    assert str(record(ledger_conn, first["id"]).status) == "in_progress"
    hub.poll()  # Onetrail took the file and ACKed it before the rerun
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    hub.poll()
    assert hub.duplicates == 0
    for po in flagged_pos(store):
        assert po["status"] == "Submitted"
        assert hub.requests_received(po["tranid"]) == 1
        assert str(record(ledger_conn, po["id"]).status) == "synced"
