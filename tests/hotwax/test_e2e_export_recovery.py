"""hotwax_po_export after a crash, when the rerun's query no longer returns a PO the crashed run held.

The export reads only Pending Receipt POs not yet flagged: a PO flagged before the crash, or one that
moved on, is not read again, so its ledger record is settled from NetSuite and the SFTP server at the
start of the next run (``po_sync.hotwax.stuck_exports``). A new run writes under a new file name, so
the hidden upload a crashed run left is removed by name, and only that one.
"""

from __future__ import annotations

import time

import pytest

from po_sync import faults
from po_sync.hotwax.formats import parse_po_csv
from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.hotwax import PO_DIR
from tests.hotwax.conftest import run_dag
from tests.hotwax.test_e2e_export import FLOW, REGULAR_POS, csv_files, flagged

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _fresh_crash_counts():
    """``@1`` counts hits per process: each test's first hit is its crash."""
    faults.reset()
    yield
    faults.reset()


def _state(ledger, po: str):
    return ledger.get(RecordKey(FLOW, "purchase_order", "netsuite", po))


def _next_second() -> None:
    """Wait for the next wall-clock second: the new run's file name (which carries it) differs."""
    time.sleep(1.05 - (time.time() % 1))


def test_a_po_flagged_before_the_crash_is_settled_by_the_new_run(
    dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    monkeypatch.setenv("PO_SYNC_CRASH", "hotwax_po_export.after_flag@1")
    assert run_dag(dagbag, FLOW).state == "failed"
    (name,) = csv_files(actor)
    assert flagged(netsuite_store) == {"1"}
    assert _state(ledger_conn, "1").status is RecordStatus.IN_PROGRESS
    assert actor.import_purchase_orders() == REGULAR_POS
    monkeypatch.delenv("PO_SYNC_CRASH")

    assert run_dag(dagbag, FLOW).state == "success"
    assert csv_files(actor) == [], "every PO already went out: no second file"
    assert flagged(netsuite_store) == set(REGULAR_POS)
    for po in REGULAR_POS:
        state = _state(ledger_conn, po)
        assert (state.status, state.target_id) == (RecordStatus.SYNCED, name), po
    assert actor.duplicates() == {}


def test_a_new_run_removes_the_hidden_upload_a_crash_left_and_nothing_else(
    dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    monkeypatch.setenv("PO_SYNC_CRASH", "hotwax_po_export.after_temp_upload@1")
    assert run_dag(dagbag, FLOW).state == "failed"
    (part,) = [n for n in actor.files(PO_DIR) if n.startswith(".")]
    old_name = _state(ledger_conn, "1").trace_key
    assert part.startswith(f".{old_name}.") and part.endswith(".part")
    # hidden files that are not that upload: another name, another shape
    foreign = [
        ".PurchaseOrder-2020-01-01-00_00_00-0123456789ab.csv.0123456789ab.part",
        f".{old_name}.part.keep",
        f".{old_name}.xyz.part",
    ]
    for other in foreign:
        actor.path(PO_DIR / other).write_bytes(b"not ours to remove")
    monkeypatch.delenv("PO_SYNC_CRASH")
    _next_second()

    assert run_dag(dagbag, FLOW).state == "success"
    (name,) = csv_files(actor)
    assert name != old_name, "the new run writes under its own name"
    assert sorted(n for n in actor.files(PO_DIR) if n.startswith(".")) == sorted(foreign)
    assert sorted({r.external_id for r in parse_po_csv(actor.path(PO_DIR / name).read_bytes())}) == (
        REGULAR_POS
    )
    assert actor.import_purchase_orders() == REGULAR_POS
    assert all(_state(ledger_conn, po).status is RecordStatus.SYNCED for po in REGULAR_POS)


def test_a_po_that_moved_on_or_was_flagged_elsewhere_before_its_file_went_out(
    dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    """The crash came before the file reached HotWax. PO 2 is then closed (no longer Pending
    Receipt): ignored, and exported after all when it is reopened unchanged. PO 3 is flagged by
    someone else: the ledger cannot confirm HotWax has it, so it is failed with what to do."""
    monkeypatch.setenv("PO_SYNC_CRASH", "hotwax_po_export.after_temp_upload@1")
    assert run_dag(dagbag, FLOW).state == "failed"
    monkeypatch.delenv("PO_SYNC_CRASH")
    lines = netsuite_store.get("purchaseOrder", "2")["item"]["items"]
    netsuite_store.update(
        "purchaseOrder", "2", {"item": {"items": [ln | {"isClosed": True} for ln in lines]}}, replace={"item"}
    )
    netsuite_store.update("purchaseOrder", "3", {"custbody_hc_order_exported": True}, replace=set())
    _next_second()

    assert run_dag(dagbag, FLOW).state == "success"
    assert actor.import_purchase_orders() == ["1", "4", "5"]
    assert not [n for n in actor.files(PO_DIR) if n.startswith(".")]
    moved = _state(ledger_conn, "2")
    assert (moved.status, moved.last_error_code) == (RecordStatus.IGNORED, "NO_LONGER_PENDING")
    assert "left Pending Receipt" in moved.last_error_message
    unconfirmed = _state(ledger_conn, "3")
    assert unconfirmed.status is RecordStatus.FAILED and unconfirmed.last_error_code == "EXPORT_UNCONFIRMED"
    assert "resync_po_numbers" in unconfirmed.last_error_message
    assert not ledger_conn.find(FLOW, statuses=(RecordStatus.IN_PROGRESS,))

    # reopened as it was: it never reached HotWax, so it goes out now (not "already exported")
    netsuite_store.update(
        "purchaseOrder",
        "2",
        {"item": {"items": [ln | {"isClosed": False} for ln in lines]}},
        replace={"item"},
    )
    assert run_dag(dagbag, FLOW).state == "success"
    assert actor.import_purchase_orders() == ["2"]
    assert _state(ledger_conn, "2").status is RecordStatus.SYNCED
    assert actor.duplicates() == {}
