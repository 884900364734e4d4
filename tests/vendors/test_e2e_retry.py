"""The queue's Retry for the vendor flows: a quarantined inbound file goes back to ``inbound/`` once
the cause is fixed, is merged and imported, and NetSuite gets one receipt (``po_sync.vendors.retries``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from po_sync.ledger import RecordStatus
from po_sync.ledger.actions import record_history
from tests.core.ui.queue_client import open_records, queue_action
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE, ns_counts
from tests.vendors.test_merge_import import standard_pos

pytestmark = pytest.mark.e2e


def test_retry_of_a_quarantined_ship_notice_after_the_po_is_corrected(dagbag, ledger_conn, world, netsuite):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    line = actor.purchase_orders()[number]["lines"][0]
    key = actor.malformed("excess_quantity", number)  # ships 100 more than the PO line holds
    name = key.rsplit("/", 1)[-1]
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (record,) = [r for r in open_records(MERGE) if r["entity_type"] == "vendor_file"]
    assert record["status"] == "quarantined"
    assert f"{actor.prefix}quarantine/{name}" in world.keys(actor.bucket, f"{actor.prefix}quarantine/")

    # The buyer corrects the PO in NetSuite (the vendor really ships 100 more), then presses Retry;
    # meanwhile the vendor delivers a new file of the same name, which must not be overwritten.
    po_id = str(netsuite.store.query('SELECT id FROM "transaction" WHERE tranid = ?', (number,))[0]["id"])
    quantity = Decimal(str(line["quantity"])) + 100
    netsuite.store.update(
        "purchaseOrder",
        po_id,
        {"item": {"items": [{"line": int(line["line"]), "quantity": float(quantity)}]}},
        replace=set(),
    )
    queue_action("retry", [record["id"]])
    assert ledger_conn.get_by_id(record["id"]).status is RecordStatus.PENDING

    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert state.status is RecordStatus.SYNCED, state
    assert f"{actor.prefix}archive/" in (state.target_id or "")
    archived = [k.rsplit("/", 1)[-1] for k in world.keys(actor.bucket, f"{actor.prefix}archive/")]
    assert archived == [name]
    quarantine = world.keys(actor.bucket, f"{actor.prefix}quarantine/")
    assert f"{actor.prefix}quarantine/{name}" not in quarantine
    (kept,) = [k for k in quarantine if ".retried-" in k]  # our note, kept with the retry appended
    note = world.read(actor.bucket, kept).decode()
    assert note.startswith("EXCESS_QUANTITY") and "retried at" in note and "admin" in note
    actions = [e.get("action") for e in record_history(ledger_conn, record["id"]) if e["kind"] == "action"]
    assert actions == ["retry", "requeue", "auto_resolve"], actions

    before = ns_counts(netsuite)["ItemRcpt"]
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ns_counts(netsuite)["ItemRcpt"] == before + 1
    # Nothing happens twice: another merge and import make no second receipt.
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ns_counts(netsuite)["ItemRcpt"] == before + 1
    assert ledger_conn.status_counts(MERGE).get("quarantined", 0) == 0


def test_retry_of_a_file_no_longer_in_quarantine_says_why(dagbag, ledger_conn, world, netsuite):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    key = actor.malformed("bad_json")
    sent = world.read(actor.bucket, key)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (record,) = [r for r in open_records(MERGE) if r["entity_type"] == "vendor_file"]
    world.s3.delete_object(Bucket=actor.bucket, Key=f"{actor.prefix}quarantine/{key.rsplit('/', 1)[-1]}")
    queue_action("retry", [record["id"]])
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "RETRY_NOT_POSSIBLE"
    assert "no longer in quarantine" in state.last_error_message
    # the vendor delivers the very same file again: it is read (and refused again, with a new note),
    # not taken for a quarantine a stopped run left to finish
    world.s3.put_object(Bucket=actor.bucket, Key=key, Body=sent)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert (state.status, state.last_error_code) == (RecordStatus.QUARANTINED, "MALFORMED_JSON")
    name = key.rsplit("/", 1)[-1]
    kept = world.keys(actor.bucket, f"{actor.prefix}quarantine/")
    assert [k for k in kept if k.endswith(".json")] and f"{name}.error.txt" in " ".join(kept)
    note = world.read(actor.bucket, f"{state.trace_key}.error.txt").decode()
    assert note.startswith("MALFORMED_JSON")


def test_a_merged_document_delivered_again_after_a_refused_retry_is_read(
    dagbag, ledger_conn, world, netsuite
):
    """The import's side of the same rule: a bad merged document removed from ``quarantine/`` by
    hand (the Retry says RETRY_NOT_POSSIBLE) and written to ``ready/`` again unchanged is read again."""
    bucket, key, sent = world.config["merge_bucket"], "ready/item_receipt/BAD-1.json", b'{"kind": '
    world.s3.put_object(Bucket=bucket, Key=key, Body=sent)
    assert run_dag(dagbag, IMPORT).state == "success"
    (record,) = [r for r in open_records(IMPORT) if r["source_id"] == "BAD-1"]
    world.s3.delete_object(Bucket=bucket, Key=ledger_conn.get_by_id(record["id"]).trace_key)
    queue_action("retry", [record["id"]])
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert (state.status, state.last_error_code) == (RecordStatus.QUARANTINED, "RETRY_NOT_POSSIBLE")

    world.s3.put_object(Bucket=bucket, Key=key, Body=sent)
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert (state.status, state.last_error_code) == (RecordStatus.QUARANTINED, "MALFORMED_JSON")
    assert world.read(bucket, state.trace_key) == sent
    assert world.read(bucket, f"{state.trace_key}.error.txt").decode().startswith("MALFORMED_JSON")
    assert world.keys(bucket, "ready/") == []
