"""check_netsuite puts drift on the ledger record (issue 10, item 10), so the ledger page shows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from po_sync.vendors.operators.fulfillment_import import DRIFT_CODE, VendorImportCheckOperator
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE

pytestmark = pytest.mark.e2e


def test_a_synced_record_missing_in_netsuite_is_failed_with_a_message_on_the_ledger(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = sorted(n for n, d in actor.purchase_orders().items() if d.get("drop_ship") != "true")[0]
    actor.ship(number)
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (merged,) = world.merged("ready/")
    imported = run_dag(dagbag, IMPORT)
    assert imported.state == "success"
    key = RecordKey(IMPORT, "item_receipt", "vendor_merge", merged["merged_id"])
    state = ledger_conn.get(key)
    assert state.status is RecordStatus.SYNCED

    netsuite.store.delete("itemReceipt", state.target_id)  # someone deletes the receipt in NetSuite
    check = VendorImportCheckOperator(task_id="check_netsuite", import_task_id=None)
    result = check.execute({"ti": SimpleNamespace(run_id=imported.run_id)})  # the import run's check, again
    assert result["missing"] == 1 and result["checked"] == 1

    state = ledger_conn.get(key)
    assert state.status is RecordStatus.FAILED and state.last_error_code == DRIFT_CODE
    assert f"itemReceipt/{state.target_id}" in state.last_error_message
    assert "resolve this record" in state.last_error_message
    assert ledger_conn.errors(state.id)[-1]["error_code"] == DRIFT_CODE  # in the error history too
