"""vendor_fulfillment_import's rules against the sandbox (issue 10): receiving ownership (item 9),
vendor bills with charges, tax, terms and a total check (item 8), corrections (item 7), retries and
the dead-letter prefix (item 6)."""

from __future__ import annotations

import json

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
