"""vendor_fulfillment_import's rules against the sandbox (issue 10): receiving ownership (item 9),
vendor bills with charges, tax, terms and a total check (item 8), corrections (item 7), retries and
the dead-letter prefix (item 6)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE, ns_counts

pytestmark = pytest.mark.e2e


def standard_po(actor) -> str:
    return sorted(n for n, d in actor.purchase_orders().items() if d.get("drop_ship") != "true")[0]


def test_a_po_hotwax_receives_is_ignored_with_a_reason_by_the_vendor_import(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_VAR_PO_SYNC_RECEIVING",
        json.dumps({"default": "vendor_files", "vendors": {"V0001": "hotwax"}}),
    )
    assert run_dag(dagbag, EXPORT).state == "success"
    hotwax_vendor, vendor = world.actors["V0001"], world.actors["V0002"]
    hotwax_vendor.ship(standard_po(hotwax_vendor))
    vendor.ship(standard_po(vendor))
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    merged = {m["sources"][0]["vendor_id"]: m["merged_id"] for m in world.merged("ready/")}
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ns_counts(netsuite)["ItemRcpt"] == 1  # only V0002's
    skipped = ledger_conn.get(RecordKey(IMPORT, "item_receipt", "vendor_merge", merged["V0001"]))
    assert skipped.status is RecordStatus.IGNORED and skipped.last_error_code == "RECEIVED_BY_OTHER_FLOW"
    assert "hotwax_receipt_import" in skipped.last_error_message
    assert "po_sync_receiving.vendors['V0001']" in skipped.last_error_message
    assert ledger_conn.get(RecordKey(IMPORT, "item_receipt", "vendor_merge", merged["V0002"])).status is (
        RecordStatus.SYNCED
    )
    assert world.merged("ready/") == []  # nothing left to fail again
    assert ledger_conn.errors(skipped.id) == []  # not an error


def _bill_doc(netsuite):
    (row,) = netsuite.store.query("SELECT id FROM \"transaction\" WHERE type = 'VendBill'")
    return netsuite.store.get("vendorBill", row["id"])


def _shipped_and_received(dagbag, world, actor) -> str:
    assert run_dag(dagbag, EXPORT).state == "success"
    number = standard_po(actor)
    actor.ship(number)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    return number


def test_bill_carries_charges_tax_terms_and_due_date_and_its_total_is_the_invoice_total(
    dagbag, ledger_conn, world, netsuite
):
    actor = world.actors["V0002"]
    number = _shipped_and_received(dagbag, world, actor)
    actor.invoice(
        number, freight="12.50", charges={"handling": "2.00"}, tax="1.10", terms="Net 30", total=True
    )
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (doc,) = world.merged("ready/")
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get(RecordKey(IMPORT, "vendor_bill", "vendor_merge", doc["merged_id"]))
    assert state.status is RecordStatus.SYNCED, state.last_error_message
    bill = _bill_doc(netsuite)
    expense = [(e["account"]["id"], e["amount"]) for e in bill["expense"]["items"]]
    assert expense == [("54", 12.5), ("55", 2), ("60", 1.1)]
    assert bill["terms"] == {"id": "2"} and bill["dueDate"] == doc["document"]["due_date"]
    assert f"{bill['total']:.2f}" == doc["document"]["total"]


def test_unmapped_charge_type_quarantines_the_invoice_naming_it(dagbag, ledger_conn, world, netsuite):
    actor = world.actors["V0002"]
    number = _shipped_and_received(dagbag, world, actor)
    key = actor.invoice(number, charges={"pallet_fee": "7.00"})
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    name = key.rsplit("/", 1)[-1]
    note = world.read(actor.bucket, f"{actor.prefix}quarantine/{name}.error.txt").decode()
    assert note.startswith("UNMAPPED_CHARGE") and "charge_pallet_fee" in note and name in note
    assert world.merged("ready/") == []


def test_a_bill_whose_netsuite_total_differs_from_the_invoice_is_failed_with_both_figures(
    dagbag, ledger_conn, world, netsuite
):
    actor = world.actors["V0002"]
    number = _shipped_and_received(dagbag, world, actor)
    po = actor.purchase_orders()[number]
    first = po["lines"][0]
    # the vendor bills a higher price; this account's bill form keeps the PO's rate
    netsuite.set_knobs(bill_rate_source="order")
    actor.invoice(number, rates={str(first["line"]): str(Decimal(first["rate"]) + 1)}, total=True)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (doc,) = world.merged("ready/")
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get(RecordKey(IMPORT, "vendor_bill", "vendor_merge", doc["merged_id"]))
    assert state.status is RecordStatus.FAILED and state.last_error_code == "BILL_TOTAL_MISMATCH"
    bill = _bill_doc(netsuite)
    expected = Decimal(doc["document"]["total"])
    assert f"totals {Decimal(str(bill['total'])).normalize():f}" in state.last_error_message
    assert f"invoice totals {expected.normalize():f}" in state.last_error_message
    # the next run compares again and writes no second bill
    assert run_dag(dagbag, IMPORT).state == "success"
    assert ns_counts(netsuite)["VendBill"] == 1
    assert ledger_conn.get(state.key).status is RecordStatus.FAILED


# ------------------------------------------------------------------------- item 7: corrections


def test_a_corrected_invoice_updates_the_bill_it_made(dagbag, ledger_conn, world, netsuite):
    actor = world.actors["V0002"]
    number = _shipped_and_received(dagbag, world, actor)
    actor.invoice(number, freight="5.00", total=True, document_id="INV-CORR-1")
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    (first,) = world.merged("done/vendor_bill/")
    key = RecordKey(IMPORT, "vendor_bill", "vendor_merge", first["merged_id"])
    bill_id = ledger_conn.get(key).target_id

    # the vendor corrects the invoice: same document id, more freight and a handling charge
    actor.invoice(number, freight="8.00", charges={"handling": "2.00"}, total=True, document_id="INV-CORR-1")
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert world.keys(actor.bucket, f"{actor.prefix}quarantine/") == []  # not refused as a duplicate
    (corrected,) = world.merged("ready/vendor_bill/")
    assert corrected["merged_id"] == first["merged_id"]
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get(key)
    assert state.status is RecordStatus.SYNCED and state.target_id == bill_id, state.last_error_message
    assert ns_counts(netsuite)["VendBill"] == 1  # updated, not a second bill
    bill = _bill_doc(netsuite)
    assert sorted((e["account"]["id"], e["amount"]) for e in bill["expense"]["items"]) == [
        ("54", 8),
        ("55", 2),
    ]
    assert f"{bill['total']:.2f}" == corrected["document"]["total"]


def test_a_corrected_ship_notice_for_a_receipt_in_netsuite_is_quarantined_with_what_to_do(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]  # JSON files
    number = standard_po(actor)
    key = actor.ship(number)
    original = json.loads(world.read(actor.bucket, key))
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    (receipt,) = world.merged("done/item_receipt/")
    record = RecordKey(IMPORT, "item_receipt", "vendor_merge", receipt["merged_id"])
    receipt_id = ledger_conn.get(record).target_id

    corrected = dict(original)
    corrected["lines"] = [{**original["lines"][0], "quantity_shipped": "1"}, *original["lines"][1:]]
    world.s3.put_object(
        Bucket=actor.bucket, Key=key.replace(".json", "-corrected.json"), Body=json.dumps(corrected).encode()
    )
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert world.keys(actor.bucket, f"{actor.prefix}quarantine/") == []
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get(record)
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "CORRECTION_NEEDS_PERSON"
    assert (
        f"itemReceipt/{receipt_id}" in state.last_error_message
        and "resolve this record" in state.last_error_message
    )
    assert ns_counts(netsuite)["ItemRcpt"] == 1
    bucket = world.config["merge_bucket"]
    assert f"quarantine/{receipt['merged_id']}.json.error.txt" in world.keys(bucket, "quarantine/")


# ------------------------------------------------------------------------- item 6: retries, dead letter


def _import_with(dagbag, max_attempts: int):
    import copy

    dag = copy.deepcopy(dagbag.get_dag(IMPORT))
    dag.get_task("import_merged_documents").max_attempts = max_attempts
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf=dag.params.dump(), logical_date=None)


def test_the_import_runs_on_the_merge_asset_or_the_clock(dagbag):
    from airflow.sdk import AssetOrTimeSchedule

    dag = dagbag.get_dag(IMPORT)
    assert (
        isinstance(dag.timetable, AssetOrTimeSchedule)
        or type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    )
    assert "po_sync_vendor_merged_documents" in str(dag.timetable.asset_condition)


def test_a_permanent_refusal_goes_to_dead_letter_after_max_attempts(dagbag, ledger_conn, world, netsuite):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    number = standard_po(actor)
    actor.ship(number)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    po_id = netsuite.store.query('SELECT id FROM "transaction" WHERE tranid = ?', (number,))[0]["id"]
    netsuite.store.transform("purchaseOrder", str(po_id), "itemReceipt", {})  # received by hand first
    (doc,) = world.merged("ready/")
    record = RecordKey(IMPORT, "item_receipt", "vendor_merge", doc["merged_id"])
    bucket = world.config["merge_bucket"]

    assert _import_with(dagbag, 2).state == "success"
    assert ledger_conn.get(record).status is RecordStatus.FAILED and len(world.merged("ready/")) == 1
    assert _import_with(dagbag, 2).state == "success"
    state = ledger_conn.get(record)
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "DEAD_LETTER"
    assert "OVER_RECEIPT" in state.last_error_message and "move it back to ready/" in state.last_error_message
    assert world.merged("ready/") == []
    dead = world.keys(bucket, "dead-letter/")
    assert f"dead-letter/item_receipt/{doc['merged_id']}.json" in dead
    note = world.read(bucket, f"dead-letter/item_receipt/{doc['merged_id']}.json.error.txt").decode()
    assert note.startswith("DEAD_LETTER") and "OVER_RECEIPT" in note
    errors = len(ledger_conn.errors(state.id))
    assert _import_with(dagbag, 2).state == "success"  # not retried forever: no new error row
    assert len(ledger_conn.errors(state.id)) == errors == 3


def test_retriable_failures_never_count_towards_the_dead_letter(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    actor.ship(standard_po(actor))
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (doc,) = world.merged("ready/")
    monkeypatch.setenv(
        "AIRFLOW_CONN_NETSUITE_DEFAULT",
        json.dumps(netsuite.connection("tba", concurrency=4, max_attempts=1, max_retry_seconds=1)),
    )
    netsuite.inject_fault("503", count=100, method="POST", path_contains="!transform")
    for _ in range(2):
        assert _import_with(dagbag, 1).state == "success"
        state = ledger_conn.get(RecordKey(IMPORT, "item_receipt", "vendor_merge", doc["merged_id"]))
        assert state.status is RecordStatus.FAILED
        assert (
            len(world.merged("ready/")) == 1
            and world.keys(world.config["merge_bucket"], "dead-letter/") == []
        )
    netsuite.faults.clear()
    assert _import_with(dagbag, 1).state == "success"
    assert ledger_conn.get(state.key).status is RecordStatus.SYNCED


# ------------------------------------------------------------------------- item 5b: system faults


def test_a_refused_login_stops_the_import_and_leaves_the_documents_in_ready(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]
    actor.ship(standard_po(actor))
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (doc,) = world.merged("ready/")
    monkeypatch.setenv(
        "AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(netsuite.connection("tba", token_secret="wrong-secret"))
    )
    assert run_dag(dagbag, IMPORT, retries=0).state == "failed"
    assert len(world.merged("ready/")) == 1 and ns_counts(netsuite)["ItemRcpt"] == 0
    state = ledger_conn.get(RecordKey(IMPORT, "item_receipt", "vendor_merge", doc["merged_id"]))
    assert state is None or state.status is not RecordStatus.FAILED  # not the document's fault
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(netsuite.connection("tba", concurrency=4)))
    assert run_dag(dagbag, IMPORT).state == "success"
    assert world.merged("ready/") == [] and ns_counts(netsuite)["ItemRcpt"] == 1


def test_a_correction_of_a_notice_merged_with_others_is_quarantined_with_what_to_do(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0002"]  # JSON files
    number = standard_po(actor)
    lines = actor.purchase_orders()[number]["lines"]
    first = actor.ship(number, quantities={str(lines[0]["line"]): 1})
    actor.ship(number, quantities={str(lines[1]["line"]): 1}, day=1)
    original = json.loads(world.read(actor.bucket, first))
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"  # one receipt from both
    corrected = {**original, "carrier": "DHL", "lines": [{**original["lines"][0], "quantity_shipped": "2"}]}
    again = first.replace(".json", "-v2.json")
    world.s3.put_object(Bucket=actor.bucket, Key=again, Body=json.dumps(corrected).encode())
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    name = again.rsplit("/", 1)[-1]
    note = world.read(actor.bucket, f"{actor.prefix}quarantine/{name}.error.txt").decode()
    assert note.startswith("CORRECTION_NEEDS_PERSON") and "by hand" in note
    assert len(world.merged("ready/item_receipt/")) == 1  # nothing merged twice
