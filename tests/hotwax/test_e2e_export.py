"""hotwax_po_export through Airflow (dag.test) against the NetSuite and SFTP sandboxes."""

from __future__ import annotations

import pytest

from po_sync.hotwax.formats import PO_CSV_HEADER, parse_po_csv
from po_sync.hotwax.operators import EXPORTED_FIELD
from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.hotwax import PO_DIR
from tests.hotwax.conftest import new_po, run_dag

pytestmark = pytest.mark.e2e

FLOW = "hotwax_po_export"
REGULAR_POS = ["1", "2", "3", "4", "5"]  # the drop-ship PO (7) is never exported to HotWax


def flagged(store) -> set[str]:
    return {d["id"] for d in store.iter_docs("purchaseOrder") if d.get(EXPORTED_FIELD)}


def csv_files(actor) -> list[str]:
    return [n for n in actor.files(PO_DIR) if n.endswith(".csv") and not n.startswith(".")]


def test_exports_every_pending_receipt_po_once_and_flags_it(dagbag, ledger_conn, actor, netsuite_store):
    first = run_dag(dagbag, FLOW)
    assert first.state == "success"
    (name,) = csv_files(actor)
    data = actor.path(PO_DIR / name).read_bytes()
    assert data.decode().splitlines()[0] == ",".join(PO_CSV_HEADER)
    rows = parse_po_csv(data)
    assert sorted({r.external_id for r in rows}, key=int) == REGULAR_POS
    assert len(rows) == 15 and all(r.product_sku.startswith("SKU-") for r in rows)
    po1 = netsuite_store.get("purchaseOrder", "1")
    assert [r.item_external_id for r in rows if r.external_id == "1"] == [
        str(line["line"]) for line in po1["item"]["items"]
    ]
    assert flagged(netsuite_store) == set(REGULAR_POS)
    assert not [n for n in actor.files(PO_DIR) if n.startswith(".")], "no temporary upload left behind"
    assert actor.import_purchase_orders() == REGULAR_POS

    second = run_dag(dagbag, FLOW)
    assert second.state == "success"
    assert csv_files(actor) == [], "the second run finds nothing new and writes no file"
    actor.import_purchase_orders()
    assert actor.duplicates() == {}
    for po in REGULAR_POS:
        state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po))
        assert state.status is RecordStatus.SYNCED and state.target_id == name and state.attempts == 1


def test_crash_after_upload_flags_without_sending_again(
    dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    monkeypatch.setenv("PO_SYNC_HOTWAX_CRASH", "after_upload")
    assert run_dag(dagbag, FLOW).state == "failed"
    assert flagged(netsuite_store) == set(), "crashed before any flag was set"
    (name,) = csv_files(actor)
    actor.import_purchase_orders()  # HotWax already took the file
    monkeypatch.delenv("PO_SYNC_HOTWAX_CRASH")

    assert run_dag(dagbag, FLOW).state == "success"
    assert csv_files(actor) == [], "the POs already went out: no second file"
    assert flagged(netsuite_store) == set(REGULAR_POS)
    assert actor.duplicates() == {}
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", "3"))
    assert state.status is RecordStatus.SYNCED and state.target_id == name


def test_new_po_goes_out_alone_and_resync_and_dry_run(dagbag, ledger_conn, actor, netsuite_store):
    assert run_dag(dagbag, FLOW).state == "success"
    actor.import_purchase_orders()
    new = new_po(netsuite_store)

    assert run_dag(dagbag, FLOW, {"dry_run": True}).state == "success"
    assert csv_files(actor) == [] and new not in flagged(netsuite_store)

    assert run_dag(dagbag, FLOW).state == "success"
    assert [r.external_id for r in parse_po_csv(actor.path(PO_DIR / csv_files(actor)[0]).read_bytes())] == [
        new
    ] * 2
    assert actor.import_purchase_orders() == [new]

    assert run_dag(dagbag, FLOW, {"resync_po_numbers": ["PO000002"]}).state == "success"
    assert actor.import_purchase_orders() == ["2"]
    assert ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", "2")).attempts == 2


def test_a_po_hotwax_cannot_read_is_quarantined_and_the_others_go_out(
    dagbag, ledger_conn, actor, netsuite_store
):
    item = netsuite_store.get("purchaseOrder", "3")["item"]["items"][0]["item"]["id"]
    netsuite_store.update("inventoryItem", item, {"itemId": "SKU,WITH,COMMAS"}, replace=set())
    hit = {
        d["id"]
        for d in netsuite_store.iter_docs("purchaseOrder")
        if any(ln["item"]["id"] == item for ln in d["item"]["items"])
    } & set(REGULAR_POS)
    assert run_dag(dagbag, FLOW).state == "success"
    (name,) = csv_files(actor)
    assert {r.external_id for r in parse_po_csv(actor.path(PO_DIR / name).read_bytes())} == set(
        REGULAR_POS
    ) - hit
    assert flagged(netsuite_store) == set(REGULAR_POS) - hit
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", "3"))
    assert state.status is RecordStatus.QUARANTINED and "cannot hold a comma" in state.last_error_message


def test_an_export_with_nothing_new_costs_one_suiteql_and_no_record_reads(
    dagbag, ledger_conn, actor, hotwax_sandbox
):
    """The exported flag is filtered in SuiteQL: no per-PO GET, however many POs are open."""
    assert run_dag(dagbag, FLOW).state == "success"
    stats = hotwax_sandbox.services["netsuite"].stats
    stats.reset()
    assert run_dag(dagbag, FLOW).state == "success"
    calls = stats.as_dict()["by_route"]
    assert calls == {"GET governanceLimits": 1, "POST suiteql": 1}
