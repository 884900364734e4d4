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
        "AIRFLOW_VAR_PO_SYNC_RECEIVING", json.dumps({"default": "vendor_files", "vendors": {"V0001": "hotwax"}})
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
