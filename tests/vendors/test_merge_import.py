"""Merge and import against the sandbox: bad files, duplicates, crashes, failures resent after correction."""

from __future__ import annotations

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.vendors import MALFORMED_KINDS
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE, ns_counts

pytestmark = pytest.mark.e2e


def standard_pos(actor):
    return sorted(n for n, d in actor.purchase_orders().items() if d.get("drop_ship") != "true")


def test_every_kind_of_bad_file_is_quarantined_and_the_good_one_still_merges(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    good = actor.ship(number)
    bad = [actor.malformed(kind, number) for kind in MALFORMED_KINDS]
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert actor.inbound_keys() == []
    quarantined = world.keys(actor.bucket, f"{actor.prefix}quarantine/")
    for key in bad:
        name = key.rsplit("/", 1)[-1]
        assert f"{actor.prefix}quarantine/{name}" in quarantined
        assert f"{actor.prefix}quarantine/{name}.error.txt" in quarantined
    notes = {k: world.read(actor.bucket, k).decode() for k in quarantined if k.endswith(".error.txt")}
    codes = {note.split(":", 1)[0] for note in notes.values()}
    assert {
        "HOSTILE_XML",
        "MALFORMED_XML",
        "MALFORMED_JSON",
        "DUPLICATE_KEY",
        "MALFORMED_CSV",
        "BAD_ENCODING",
        "FILE_TOO_LARGE",
        "VALIDATION_ERROR",
        "EXCESS_QUANTITY",
        "UNKNOWN_PO",
        "VENDOR_MISMATCH",
    } <= codes, codes
    counts = ledger_conn.status_counts(MERGE)
    assert counts["quarantined"] == len(MALFORMED_KINDS)
    assert [m["kind"] for m in world.merged("ready/")] == ["item_receipt"]
    archived = world.keys(actor.bucket, f"{actor.prefix}archive/")
    assert [k.rsplit("/", 1)[-1] for k in archived] == [good.rsplit("/", 1)[-1]]
    # a negative quantity names file, line and field
    negative = next(n for k, n in notes.items() if "negative_quantity" in k)
    assert "lines.0.quantity_shipped" in negative and ">= 0" in negative


def test_duplicate_and_redelivered_documents(dagbag, ledger_conn, world, netsuite):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    number = standard_pos(actor)[0]
    key = actor.ship(number)
    body = world.read(actor.bucket, key)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    # the same file again: recognised, ignored, archived; a different file with the same document id: quarantined
    world.s3.put_object(Bucket=actor.bucket, Key=key, Body=body)
    changed = body.replace(b'"carrier": "UPS"', b'"carrier": "DHL"')
    assert changed != body
    world.s3.put_object(Bucket=actor.bucket, Key=key.replace(".json", "-again.json"), Body=changed)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert actor.inbound_keys() == []
    # issue 10 item 7: a changed document with the same id is a correction, not a duplicate; this one
    # changes nothing the receipt carries (the carrier), so the merged receipt stays as it was
    assert world.keys(actor.bucket, f"{actor.prefix}quarantine/") == []
    assert len(world.merged("ready/")) == 1


def test_crash_between_netsuite_write_and_ledger_update_leaves_no_duplicate(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    actor.ship(number)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (merged,) = world.merged("ready/")
    before = ns_counts(netsuite)["ItemRcpt"]

    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", IMPORT)
    assert run_dag(dagbag, IMPORT, retries=0).state == "failed"
    assert ns_counts(netsuite)["ItemRcpt"] == before + 1  # the write reached NetSuite...
    key = RecordKey(IMPORT, "item_receipt", "vendor_merge", merged["merged_id"])
    assert ledger_conn.get(key).status is RecordStatus.IN_PROGRESS  # ...the ledger never heard of it

    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ns_counts(netsuite)["ItemRcpt"] == before + 1
    state = ledger_conn.get(key)
    assert state.status is RecordStatus.SYNCED and state.attempts == 2
    receipt = netsuite.store.query("SELECT id, externalid FROM \"transaction\" WHERE type = 'ItemRcpt'")
    assert [r["externalid"] for r in receipt].count(merged["merged_id"]) == 1
    assert str(receipt[-1]["id"]) == state.target_id
    assert world.merged("ready/") == []


def test_crash_in_merge_after_the_merged_write_rewrites_the_same_document(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0003"]
    actor.ship(standard_pos(actor)[0])
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", MERGE)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}, retries=0).state == "failed"
    assert len(actor.inbound_keys()) == 1  # not archived: the merged write was not committed
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert actor.inbound_keys() == [] and len(world.merged("ready/")) == 1


def test_failed_bill_is_resent_after_the_goods_arrive(dagbag, ledger_conn, world, netsuite):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    po = actor.purchase_orders()[number]
    actor.invoice(
        number, quantities={str(line["line"]): line["quantity"] for line in po["lines"]}
    )  # billed before shipped
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"  # one bad record does not fail the run
    (bill,) = world.merged("ready/")  # still waiting in ready/
    key = RecordKey(IMPORT, "vendor_bill", "vendor_merge", bill["merged_id"])
    state = ledger_conn.get(key)
    assert state.status is RecordStatus.FAILED
    assert bill["merged_id"] in state.last_error_message and state.last_error_code
    assert ns_counts(netsuite)["VendBill"] == 0

    actor.ship(number)  # the vendor ships; the next runs receive the goods and resend the bill
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ledger_conn.get(key).status is RecordStatus.SYNCED
    assert ns_counts(netsuite)["VendBill"] == 1 and ns_counts(netsuite)["ItemRcpt"] == 1
    assert world.merged("ready/") == []
    check = ledger_conn.status_counts(IMPORT)
    assert check == {"synced": 2}, check


def test_over_receipt_fails_with_a_message_naming_document_line_and_field(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    number = standard_pos(actor)[0]
    actor.ship(number)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    # someone receives the PO by hand in NetSuite before the import runs
    po_id = netsuite.store.query('SELECT id FROM "transaction" WHERE tranid = ?', (number,))[0]["id"]
    netsuite.store.transform("purchaseOrder", str(po_id), "itemReceipt", {})
    assert run_dag(dagbag, IMPORT).state == "success"
    (doc,) = world.merged("ready/")
    state = ledger_conn.get(RecordKey(IMPORT, "item_receipt", "vendor_merge", doc["merged_id"]))
    assert state.status is RecordStatus.FAILED and state.last_error_code == "OVER_RECEIPT"
    assert "lines.0.quantity" in state.last_error_message and number in state.last_error_message
    assert doc["merged_id"] in state.last_error_message


def test_deferred_wait_skips_the_merge_when_nothing_arrives(dagbag, ledger_conn, world):
    run = run_dag(dagbag, MERGE, {"wait_minutes": 0})
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "requeue_retried_files": "success",  # nothing retried: nothing done
        "wait_for_vendor_files": "skipped",
        "merge_vendor_files": "skipped",
    }, states


def test_deferred_wait_wakes_up_when_a_file_lands(dagbag, ledger_conn, world, netsuite):
    import threading

    from po_sync.vendors.triggers import S3PrefixesTrigger

    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    trigger = S3PrefixesTrigger(
        [[actor.bucket, f"{actor.prefix}inbound/"]], "aws_default", 0.2, "2999-01-01T00:00:00+00:00"
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "po_sync.vendors.triggers.S3PrefixesTrigger" and kwargs["poke_interval"] == 0.2
    threading.Timer(0.5, lambda: actor.ship(standard_pos(actor)[0])).start()

    import asyncio

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(asyncio.wait_for(first_event(), timeout=30))
    assert payload["status"] == "found"


def test_a_po_number_unfit_for_a_query_quarantines_its_file_and_every_other_vendor_merges(
    dagbag, ledger_conn, world, netsuite
):
    """Issue 10 item 5: ``PO#000002`` used to reach ``sql_literal`` outside the per-file handling and
    fail the whole merge run, every run, for every vendor."""
    assert run_dag(dagbag, EXPORT).state == "success"
    bad_actor, good_actor = world.actors["V0001"], world.actors["V0002"]
    bad = bad_actor.malformed("hash_po_number")
    good = good_actor.ship(standard_pos(good_actor)[0])
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    name = bad.rsplit("/", 1)[-1]
    note = world.read(bad_actor.bucket, f"{bad_actor.prefix}quarantine/{name}.error.txt").decode()
    assert "po_number = 'PO#000002'" in note and name in note, note
    assert bad_actor.inbound_keys() == [] and good_actor.inbound_keys() == []
    archived = world.keys(good_actor.bucket, f"{good_actor.prefix}archive/")
    assert [k.rsplit("/", 1)[-1] for k in archived] == [good.rsplit("/", 1)[-1]]
    assert [m["kind"] for m in world.merged("ready/")] == ["item_receipt"]
    assert ledger_conn.status_counts(MERGE) == {"quarantined": 1, "synced": 2}
