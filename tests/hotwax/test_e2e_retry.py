"""The queue's Retry for HotWax receipt files: quarantined input goes back, is read once more, and
what it causes reaches NetSuite exactly once (``po_sync.retry``, ``po_sync.hotwax.retries``)."""

from __future__ import annotations

import os

import pytest

from po_sync import retry
from po_sync.ledger import RecordStatus
from po_sync.ledger.actions import record_history
from po_sync_sandbox.hotwax import RECEIPT_DIR
from po_sync_sandbox.hotwax.actor import SETTLED_MTIME
from tests.core.ui.queue_client import open_records, queue_action, queue_client
from tests.hotwax.conftest import receipts_of, run_dag
from tests.hotwax.test_e2e_bad_input import failed_name
from tests.hotwax.test_e2e_receipts import EXPORT, IMPORT

pytestmark = pytest.mark.e2e


def register_hotwax_links() -> None:
    """What ``plugins/po_sync_plugin.py`` wires in the api-server."""
    import functools

    from po_sync.hotwax import retries
    from po_sync.hotwax.operators import DEFAULT_RECEIPT_DIR
    from po_sync.ui import files

    where = {"conn_id": "sftp_default", "folder": DEFAULT_RECEIPT_DIR}
    files.register(
        "hotwax_receipt_import", functools.partial(retries.files_of, **where), retries.roots(**where)
    )


def _record(records: list[dict], entity_type: str) -> dict:
    (found,) = [r for r in records if r["entity_type"] == entity_type]
    return found


def test_retry_of_a_refused_order_and_of_a_refused_file_after_the_cause_is_fixed(
    dagbag, ledger_conn, actor, netsuite_store
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor.import_purchase_orders()
    line_id, line = sorted(actor.orders["4"].items(), key=lambda kv: int(kv[0]))[0]
    ordered = int(line.quantity)
    # One order receives more than PO 4's first line holds (refused: over-receipt), next to a good one.
    mixed = actor.write_feed(
        [
            {"order_id": "4", "items": [{"line_id": line_id, "quantity": str(ordered + 3)}]},
            {"order_id": "5", "items": [{"line_id": "1", "quantity": "1"}]},
        ]
    )
    assert run_dag(dagbag, IMPORT).state == "success"
    # A good feed for PO 3, refused whole by a run whose byte limit is too low for it.
    big = actor.write_feed([{"order_id": "3", "items": [{"line_id": "1", "quantity": "1"}]}])
    assert run_dag(dagbag, IMPORT, {"max_file_bytes": 40}).state == "success"
    assert receipts_of(netsuite_store, "4") == [] and len(receipts_of(netsuite_store, "5")) == 1
    assert set(actor.files(RECEIPT_DIR / "archive")) == {mixed}
    client = queue_client()
    records = open_records(IMPORT, client)
    order = _record(records, "item_receipt")
    whole = _record(records, "receipt_file")
    assert order["last_error_code"] == "OVER_RECEIPT" and whole["last_error_code"] == "FILE_TOO_LARGE"

    # The record's page links the quarantined file; the link streams it through the plugin app.
    register_hotwax_links()
    linked = client.get(f"/po-sync/api/records/{whole['id']}").json()["files"]
    assert [f["label"] for f in linked] == ["quarantined file", "quarantine note"]
    got = client.get(f"/po-sync/records/{whole['id']}/file", params={"loc": linked[0]["location"]})
    assert got.status_code == 200 and got.content == actor.path(RECEIPT_DIR / "error" / big).read_bytes()
    assert "attachment" in got.headers["content-disposition"]
    assert "/file?loc=" in client.get(f"/po-sync/records/{whole['id']}").text

    # The buyer raises the PO line in NetSuite, the byte limit is back to normal; Retry both.
    netsuite_store.update(
        "purchaseOrder",
        "4",
        {"item": {"items": [{"line": int(line_id), "quantity": ordered + 3}]}},
        replace=set(),
    )
    body = queue_action("retry", [order["id"], whole["id"]], client=client)
    assert sorted(d["id"] for d in body["done"]) == sorted([order["id"], whole["id"]])
    assert ledger_conn.get_by_id(order["id"]).status is RecordStatus.PENDING

    assert run_dag(dagbag, IMPORT).state == "success"

    # PO 4 received once; PO 5 not again; both records synced, with the requeue in their history.
    (receipt,) = receipts_of(netsuite_store, "4")
    assert len(receipts_of(netsuite_store, "5")) == 1
    assert ledger_conn.get_by_id(order["id"]).status is RecordStatus.SYNCED
    assert ledger_conn.get_by_id(order["id"]).target_id == str(receipt["id"])
    assert ledger_conn.get_by_id(whole["id"]).status is RecordStatus.SYNCED
    story = [e.get("action") for e in record_history(ledger_conn, order["id"]) if e["kind"] == "action"]
    assert story == ["retry", "requeue", "auto_resolve"], story
    requeue = [e for e in record_history(ledger_conn, whole["id"]) if e.get("action") == "requeue"][0]
    assert "byte limit" in requeue["note"] and big in requeue["note"]
    assert len(receipts_of(netsuite_store, "3")) == 1

    # Files: the big one and the retry file archived once each; the notes kept, marked as retried.
    archived = set(actor.files(RECEIPT_DIR / "archive"))
    retry_file = mixed.removesuffix(".json") + f".retry-{_retry_action(ledger_conn, order['id'])}.json"
    assert archived == {mixed, big, retry_file}, archived
    errors = set(actor.files(RECEIPT_DIR / "error"))
    assert big not in errors and f"{big}.errors.csv" not in errors
    kept = [n for n in errors if n.startswith(big) and ".retried-" in n]
    assert kept and "retried at" in actor.path(RECEIPT_DIR / "error" / kept[0]).read_text()
    assert failed_name(errors, mixed) in errors  # what failed, kept as it was
    assert actor.files(RECEIPT_DIR) == []

    # Nothing is left waiting for another run: no retry request, no pending record.
    assert retry.retry_requests(ledger_conn, IMPORT) == []
    assert ledger_conn.status_counts(IMPORT).get("pending", 0) == 0
    assert len(receipts_of(netsuite_store, "4")) == 1 and len(receipts_of(netsuite_store, "3")) == 1


def _retry_action(ledger, record_id: int) -> int:
    return [e["id"] for e in record_history(ledger, record_id) if e.get("action") == "retry"][0]


def test_retry_of_a_file_no_longer_in_error_says_why(dagbag, ledger_conn, actor):
    bad = actor.bad_feed("malformed", po_id="4")
    sent = actor.path(RECEIPT_DIR / bad).read_bytes()
    assert run_dag(dagbag, IMPORT).state == "success"
    (record,) = [r for r in open_records(IMPORT) if r["entity_type"] == "receipt_file"]
    actor.path(RECEIPT_DIR / "error" / bad).unlink()  # a person removed it by hand
    queue_action("retry", [record["id"]])
    actor.write_feed([{"order_id": "5", "items": [{"line_id": "1", "quantity": "1"}]}])  # the run's input
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "RETRY_NOT_POSSIBLE"
    assert "no longer there" in state.last_error_message and "new name" in state.last_error_message
    # HotWax sends the very same file again: it is read (and refused again, with a new report), not
    # taken for a move a stopped run left to finish
    again = actor.path(RECEIPT_DIR / bad)
    again.write_bytes(sent)
    os.utime(again, (SETTLED_MTIME, SETTLED_MTIME))  # written completely a while ago
    assert run_dag(dagbag, IMPORT).state == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert (state.status, state.last_error_code) == (RecordStatus.QUARANTINED, "BAD_FILE")
    kept = state.trace_key.lstrip("/")
    assert actor.path(kept).exists() and actor.path(f"{kept}.errors.csv").exists()
