"""onetrail_inbound despatch advices end to end: receipts and drop-ship fulfilments, partials, repeats, crashes."""

from __future__ import annotations

import pytest

from tests.onetrail.conftest import flagged_pos, run_dag, task_states

pytestmark = pytest.mark.timeout(400)
GROUP = "despatch_advices.process_files"


def receipts_of(store, po_id):
    return [d for d in store.iter_docs("itemReceipt") if (d.get("createdFrom") or {}).get("id") == str(po_id)]


def setup_orders(dagbag, hub, store):
    from po_sync_sandbox.onetrail.world import mark_for_submission

    drop = store.query(
        "SELECT id, createdfrom FROM \"transaction\" WHERE type = 'PurchOrd' AND createdfrom IS NOT NULL"
    )
    assert drop, "the sandbox data has a drop-ship PO"
    drop_id, so_id = str(drop[0]["id"]), str(drop[0]["createdfrom"])
    vendor = str(store.query("SELECT id FROM vendor ORDER BY id")[0]["id"])
    store.update("purchaseOrder", drop_id, {"entity": {"id": vendor}}, replace=set())
    mark_for_submission(store, drop_id)
    run_dag(dagbag, "onetrail_po_submit")
    hub.poll()
    pos = {p["id"]: p for p in flagged_pos(store)}
    assert pos[drop_id]["status"] == "Submitted"
    for po in pos.values():
        hub.answer(po["tranid"], "confirmed")
    return pos, drop_id, so_id


def test_receipts_fulfilments_partials_serials_tracking(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    pos, drop_id, so_id = setup_orders(dagbag, hub, store)
    standard = [p for p in pos.values() if p["id"] != drop_id]
    partial_po, full_po = standard[0], standard[1]
    first = hub.ship(partial_po["tranid"], partial=True)
    hub.ship(full_po["tranid"], containers=2)
    hub.ship(pos[drop_id]["tranid"])
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    assert task_states(run)["order_responses.process_files"] == "success"

    [receipt] = receipts_of(store, partial_po["id"])
    ordered = {
        line["line"]: line["quantity"]
        for line in store.get("purchaseOrder", partial_po["id"])["item"]["items"]
    }
    got = {line["orderLine"]: line["quantity"] for line in receipt["item"]["items"]}
    assert got == {n: max(q // 2, 1) for n, q in ordered.items()}
    serials = receipt["item"]["items"][0]["inventoryDetail"]["inventoryAssignment"]["items"]
    assert len(serials) == receipt["item"]["items"][0]["quantity"]
    assert serials[0]["receiptInventoryNumber"].startswith(f"SN-{partial_po['tranid']}-")
    assert "tracking 1Z" in receipt["memo"] and receipt["externalId"].startswith("OT-DSP-")
    assert store.get("purchaseOrder", partial_po["id"])["_status"] in ("D", "E")

    [full] = receipts_of(store, full_po["id"])
    assert sum(line["quantity"] for line in full["item"]["items"]) == sum(
        line["quantity"] for line in store.get("purchaseOrder", full_po["id"])["item"]["items"]
    )
    assert store.get("purchaseOrder", full_po["id"])["_status"] == "F"

    [fulfilment] = [d for d in store.iter_docs("itemFulfillment") if d["createdFrom"]["id"] == so_id]
    assert fulfilment["shipStatus"] == "C"
    assert fulfilment["package"]["items"][0]["packageTrackingNumber"].startswith("1Z")
    assert fulfilment["item"]["items"][0]["inventoryDetail"]["inventoryAssignment"]["items"][0][
        "issueInventoryNumber"
    ].startswith(f"SN-{pos[drop_id]['tranid']}-")
    assert receipts_of(store, drop_id) == []

    # The rest of the partial shipment follows: receipts accumulate to the full quantity.
    hub.ship(partial_po["tranid"])
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    received = sum(
        line["quantity"] for r in receipts_of(store, partial_po["id"]) for line in r["item"]["items"]
    )
    assert (
        received == sum(ordered.values()) and store.get("purchaseOrder", partial_po["id"])["_status"] == "F"
    )

    # A repeated advice (same file again, or the same advice renamed) is quarantined, not received twice.
    inbox = hub.folder("Out/Desadv")
    archived = inbox / "archive" / first.name
    (inbox / first.name).write_bytes(archived.read_bytes())
    (inbox / f"copy-{first.name}").write_bytes(archived.read_bytes())
    # An advice for lines already received, under a new despatch number.
    despatch = first.stem
    (inbox / f"again.{first.suffix.lstrip('.')}").write_bytes(
        archived.read_bytes().replace(despatch.encode(), b"DSP-999999")
    )
    count = len(list(store.iter_docs("itemReceipt")))
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    assert len(list(store.iter_docs("itemReceipt"))) == count
    notes = {p.name: p.read_text() for p in (inbox / "error").iterdir() if p.name.endswith(".error.txt")}
    assert "already processed" in notes[f"{first.name}.error.txt"]
    assert "already received from this advice" in notes[f"copy-{first.name}.error.txt"]
    assert "left to receive" in notes[f"again.{first.suffix.lstrip('.')}.error.txt"]
    assert not [p for p in inbox.iterdir() if p.is_file()]


def test_crash_after_receipt_then_rerun_receives_once(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    pos, drop_id, _ = setup_orders(dagbag, hub, store)
    po = next(p for p in pos.values() if p["id"] != drop_id)
    path = hub.ship(po["tranid"])
    run_dag(dagbag, "onetrail_inbound")  # order responses first, no despatch waiting yet? it is: crash below
    receipts = receipts_of(store, po["id"])
    assert len(receipts) == 1 and not path.exists()
    second = hub.ship(po["tranid"])
    assert second is None  # nothing left to ship
    other = next(p for p in pos.values() if p["id"] not in (drop_id, po["id"]))
    path = hub.ship(other["tranid"])
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "onetrail_inbound")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "failed"
    assert len(receipts_of(store, other["id"])) == 1 and path.exists()
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    assert len(receipts_of(store, other["id"])) == 1 and not path.exists()
