"""HotWax flows and the system around them (issue 10).

Item 5b: when NetSuite's login fails the receipt import stops, the feed stays, nothing is blamed on
the orders; once the login works again the same feed is imported in full. Item 9: receiving
ownership (``po_sync_receiving``): POs the vendor flows receive are not exported to HotWax, and their
receipts are ``ignored`` with the reason, not failed."""

from __future__ import annotations

import json

import pytest

from po_sync_sandbox.hotwax import RECEIPT_DIR
from tests.hotwax.conftest import receipts_of, run_dag
from tests.ledger_rows import last_task_run

pytestmark = pytest.mark.e2e

EXPORT, IMPORT = "hotwax_po_export", "hotwax_receipt_import"
POS = ["1", "2", "3", "4", "5"]


@pytest.fixture
def feed(dagbag, ledger_conn, actor):
    assert run_dag(dagbag, EXPORT).state == "success"
    assert actor.import_purchase_orders() == POS
    (name,) = actor.receive()
    return name


def _use_connection(monkeypatch, conn: dict) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(conn))


def _assert_untouched(actor, ledger_conn, netsuite_store, name: str) -> None:
    assert actor.files(RECEIPT_DIR) == [name]  # the feed stays where HotWax put it
    assert actor.files(RECEIPT_DIR / "error") == []  # no order is blamed
    assert actor.files(RECEIPT_DIR / "archive") == []
    assert all(receipts_of(netsuite_store, po) == [] for po in POS)
    counts = ledger_conn.status_counts(IMPORT)
    assert not counts.get("failed") and not counts.get("quarantined"), counts


def _assert_recovers(dagbag, actor, ledger_conn, netsuite_store, name: str) -> None:
    assert run_dag(dagbag, IMPORT).state == "success"
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "archive") == [name]
    assert actor.files(RECEIPT_DIR / "error") == []
    assert all(len(receipts_of(netsuite_store, po)) == 1 for po in POS)
    counts = ledger_conn.status_counts(IMPORT)
    assert counts.get("synced") == len(POS) + 1 and not counts.get("failed"), counts


def test_wrong_token_secret_stops_the_run_and_leaves_the_feed(
    dagbag, ledger_conn, hotwax_sandbox, actor, feed, netsuite_store, monkeypatch
):
    netsuite = hotwax_sandbox.services["netsuite"]
    _use_connection(monkeypatch, netsuite.connection("tba", token_secret="not-the-secret"))
    run = run_dag(dagbag, IMPORT)
    assert run.state == "failed"  # the run says it failed: nobody is told "success"
    _assert_untouched(actor, ledger_conn, netsuite_store, feed)
    last = last_task_run(ledger_conn, IMPORT)
    assert last["status"] == "failed" and "INVALID_LOGIN" in (last["message"] or ""), last

    _use_connection(monkeypatch, netsuite.connection("tba"))
    _assert_recovers(dagbag, actor, ledger_conn, netsuite_store, feed)


@pytest.mark.parametrize("status", ["503", "429"])
def test_token_endpoint_down_stops_the_run_and_leaves_the_feed(
    dagbag, ledger_conn, hotwax_sandbox, actor, feed, netsuite_store, monkeypatch, status
):
    netsuite = hotwax_sandbox.services["netsuite"]
    _use_connection(
        monkeypatch, netsuite.connection("m2m", max_attempts=2, max_retry_seconds=5, concurrency=2)
    )
    netsuite.inject_fault(status, count=1000, path_contains="/auth/oauth2/v1/token")
    run = run_dag(dagbag, IMPORT)
    assert run.state == "failed"
    _assert_untouched(actor, ledger_conn, netsuite_store, feed)
    last = last_task_run(ledger_conn, IMPORT)
    assert last["status"] == "failed" and f"status={status}" in (last["message"] or ""), last

    netsuite.faults.clear()
    _assert_recovers(dagbag, actor, ledger_conn, netsuite_store, feed)


def test_token_endpoint_blip_is_retried_inside_the_run(
    dagbag, ledger_conn, hotwax_sandbox, actor, feed, netsuite_store, monkeypatch
):
    netsuite = hotwax_sandbox.services["netsuite"]
    _use_connection(monkeypatch, netsuite.connection("m2m", concurrency=2))
    netsuite.inject_fault("503", count=1, path_contains="/auth/oauth2/v1/token")
    _assert_recovers(dagbag, actor, ledger_conn, netsuite_store, feed)
    assert netsuite.stats.faults["503"] == 1  # the one 503 cost a retry, not a record


def test_pos_the_vendor_flows_receive_are_ignored_with_a_reason_not_failed(
    dagbag, ledger_conn, actor, feed, netsuite_store, monkeypatch
):
    """Issue 10 item 9: receiving ownership is explicit; HotWax skips what the vendor flows receive."""
    from po_sync.ledger import RecordStatus

    row = netsuite_store.query(
        'SELECT v.entityid, t.location FROM "transaction" t JOIN vendor v ON v.id = t.entity WHERE t.id = 1'
    )[0]
    vendor_pos = {
        str(r["id"])
        for r in netsuite_store.query(
            'SELECT t.id FROM "transaction" t JOIN vendor v ON v.id = t.entity '
            "WHERE t.type = 'PurchOrd' AND v.entityid = ?",
            (row["entityid"],),
        )
    } & set(POS)
    monkeypatch.setenv(
        "AIRFLOW_VAR_PO_SYNC_RECEIVING",
        json.dumps({"default": "hotwax", "vendors": {row["entityid"]: "vendor_files"}}),
    )
    assert run_dag(dagbag, IMPORT).state == "success"
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "archive") == [feed]
    assert actor.files(RECEIPT_DIR / "error") == []  # skipped, not failed
    for po in POS:
        assert len(receipts_of(netsuite_store, po)) == (0 if po in vendor_pos else 1), po
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_record

    with ledger_conn.engine.connect() as conn:
        ids = (
            conn.execute(
                sa.select(sync_record.c.id).where(
                    sync_record.c.flow == IMPORT, sync_record.c.status == RecordStatus.IGNORED.value
                )
            )
            .scalars()
            .all()
        )
    ignored = [ledger_conn.get_by_id(i) for i in ids]
    assert len(ignored) == len(vendor_pos) >= 1
    for state in ignored:
        assert state.last_error_code == "RECEIVED_BY_OTHER_FLOW"
        assert "vendor_fulfillment_import" in state.last_error_message
        assert f"po_sync_receiving.vendors[{row['entityid']!r}]" in state.last_error_message


def test_the_export_leaves_out_pos_the_vendor_flows_receive(
    dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    from po_sync.ledger import RecordKey, RecordStatus

    row = netsuite_store.query(
        'SELECT v.entityid FROM "transaction" t JOIN vendor v ON v.id = t.entity WHERE t.id = 1'
    )[0]
    theirs = {
        str(r["id"])
        for r in netsuite_store.query(
            'SELECT t.id FROM "transaction" t JOIN vendor v ON v.id = t.entity '
            "WHERE t.type = 'PurchOrd' AND v.entityid = ?",
            (row["entityid"],),
        )
    } & set(POS)
    monkeypatch.setenv(
        "AIRFLOW_VAR_PO_SYNC_RECEIVING",
        json.dumps({"default": "hotwax", "vendors": {row["entityid"]: "vendor_files"}}),
    )
    assert run_dag(dagbag, EXPORT).state == "success"
    assert sorted(actor.import_purchase_orders()) == sorted(set(POS) - theirs)
    for po in theirs:
        state = ledger_conn.get(RecordKey(EXPORT, "purchase_order", "netsuite", po))
        assert state.status is RecordStatus.IGNORED and state.last_error_code == "RECEIVED_BY_OTHER_FLOW"
        assert "not exported to HotWax" in state.last_error_message
        assert "vendor_fulfillment_import" in state.last_error_message
    attempts = {
        po: ledger_conn.get(RecordKey(EXPORT, "purchase_order", "netsuite", po)).attempts for po in theirs
    }
    assert run_dag(dagbag, EXPORT).state == "success"  # said once, not again every 15 minutes
    assert {
        po: ledger_conn.get(RecordKey(EXPORT, "purchase_order", "netsuite", po)).attempts for po in theirs
    } == attempts
