"""The queue's Retry for onetrail_inbound: a refused invoice file goes back to ``Out/Invoice`` once the
cause is fixed, and NetSuite gets one bill (``po_sync.onetrail.retries``)."""

from __future__ import annotations

import hashlib
import json

import pytest

from po_sync.ledger import RecordStatus
from po_sync.ledger.actions import record_history
from po_sync.onetrail import retries
from tests.core.ui.queue_client import open_records, queue_action
from tests.onetrail.conftest import run_dag, task_states
from tests.onetrail.test_e2e_invoices import GROUP, bills_of, received_orders

pytestmark = pytest.mark.timeout(600)
FLOW = "onetrail_inbound"


@pytest.mark.parametrize("entity", ["invoice_file", "invoice"])
def test_retry_of_a_refused_invoice_after_its_charge_type_is_configured(
    entity, dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    """Retry of the file's record, or of the invoice's own (its file, still recorded as kept in
    ``error/``, is read again, not taken for a move a stopped run left to finish)."""
    po = received_orders(dagbag, hub, store)[0]
    path = hub.invoice(po["tranid"], charge_type="INSURANCE")  # no account for it yet: refused
    assert task_states(run_dag(dagbag, FLOW))[GROUP] == "success"
    assert bills_of(store, po["id"]) == []
    error_dir = hub.folder("Out/Invoice") / "error"
    assert (error_dir / path.name).exists()
    (record,) = [r for r in open_records(FLOW) if r["entity_type"] == entity]

    # The integration team maps INSURANCE to an expense account, then presses Retry.
    settings = dict(onetrail_sandbox.onetrail_settings)
    settings["charge_types"] = {**settings.get("charge_types", {}), "INSURANCE": "601"}
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_ONETRAIL", json.dumps(settings))
    queue_action("retry", [record["id"]])
    run = run_dag(dagbag, FLOW)
    assert task_states(run)["requeue_retried_files"] == "success"
    assert task_states(run)[GROUP] == "success"

    (bill,) = bills_of(store, po["id"])
    state = ledger_conn.get_by_id(record["id"])
    assert state.status is RecordStatus.SYNCED, state
    assert (hub.folder("Out/Invoice") / "archive" / path.name).exists()
    assert not (error_dir / path.name).exists() and not (error_dir / f"{path.name}.error.txt").exists()
    (kept,) = [p for p in error_dir.iterdir() if ".retried-" in p.name]
    assert "INSURANCE" in kept.read_text() and "retried at" in kept.read_text()
    actions = [e.get("action") for e in record_history(ledger_conn, record["id"]) if e["kind"] == "action"]
    assert actions[:2] == ["retry", "requeue"], actions
    # Once only: another run bills nothing more.
    run_dag(dagbag, FLOW)
    assert [b["id"] for b in bills_of(store, po["id"])] == [bill["id"]]


def test_retry_takes_the_file_its_record_names_when_an_earlier_one_holds_its_name(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    """Two refused deliveries of one file name: the first is kept as ``error/<name>``, the second under
    a tagged name. Retrying the second moves back the file its record names (``trace_key``), not the
    first one that holds the plain name; the first stays in ``error/`` with its note."""
    po = received_orders(dagbag, hub, store)[0]
    path = hub.invoice(po["tranid"], charge_type="INSURANCE")  # no account for it yet: refused
    first = path.read_bytes()
    assert task_states(run_dag(dagbag, FLOW))[GROUP] == "success"
    error_dir = hub.folder("Out/Invoice") / "error"
    assert (error_dir / path.name).read_bytes() == first
    second = first + b"\n<!-- sent again -->\n"  # the same invoice, delivered again: other bytes
    path.write_bytes(second)
    assert task_states(run_dag(dagbag, FLOW))[GROUP] == "success"
    assert bills_of(store, po["id"]) == []
    (kept,) = [p for p in error_dir.iterdir() if p.read_bytes() == second]
    assert kept.name != path.name and kept.name.endswith(path.suffix)
    digest = hashlib.sha256(second).hexdigest()
    (record,) = [
        r
        for r in open_records(FLOW)
        if r["entity_type"] == "invoice_file" and r["source_id"].endswith(digest)
    ]
    state = ledger_conn.get_by_id(record["id"])
    assert str(state.trace_key).endswith(f"error/{kept.name}")
    # the queue's links name that file and its note, not the plain name's
    row = {"entity_type": "invoice_file", "source_id": record["source_id"], "trace_key": state.trace_key}
    links = [loc for _, loc in retries.files_of(row, conn_id="onetrail_sftp")]
    assert links[0].endswith(f"error/{kept.name}") and links[1].endswith(f"error/{kept.name}.error.txt")

    settings = dict(onetrail_sandbox.onetrail_settings)
    settings["charge_types"] = {**settings.get("charge_types", {}), "INSURANCE": "601"}
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_ONETRAIL", json.dumps(settings))
    queue_action("retry", [record["id"]])
    run = run_dag(dagbag, FLOW)
    assert task_states(run)["requeue_retried_files"] == "success" and task_states(run)[GROUP] == "success"

    assert len(bills_of(store, po["id"])) == 1
    assert ledger_conn.get_by_id(record["id"]).status is RecordStatus.SYNCED
    assert (hub.folder("Out/Invoice") / "archive" / path.name).read_bytes() == second
    assert not kept.exists()
    assert (error_dir / path.name).read_bytes() == first, "the earlier file stays where it was"
    assert (error_dir / f"{path.name}.error.txt").exists()


def test_an_identical_redelivery_after_a_refused_retry_is_read_again(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    """A person removed a refused invoice from ``error/``, so the queue's Retry could not put it back
    (``RETRY_NOT_POSSIBLE``). The supplier then sends the very same file again once its charge type is
    configured: it is a new delivery to read, not a move a stopped run left to finish (its record still
    names the ``error/`` path, but no run is about to move it there)."""
    po = received_orders(dagbag, hub, store)[0]
    path = hub.invoice(po["tranid"], charge_type="INSURANCE")  # no account for it yet: refused
    sent = path.read_bytes()
    assert task_states(run_dag(dagbag, FLOW))[GROUP] == "success"
    error_dir = hub.folder("Out/Invoice") / "error"
    for kept in error_dir.iterdir():
        kept.unlink()  # a person cleared error/ by hand
    (record,) = [r for r in open_records(FLOW) if r["entity_type"] == "invoice_file"]
    queue_action("retry", [record["id"]])
    assert task_states(run_dag(dagbag, FLOW))["requeue_retried_files"] == "success"
    state = ledger_conn.get_by_id(record["id"])
    assert (state.status, state.last_error_code) == (RecordStatus.QUARANTINED, "RETRY_NOT_POSSIBLE")

    settings = dict(onetrail_sandbox.onetrail_settings)
    settings["charge_types"] = {**settings.get("charge_types", {}), "INSURANCE": "601"}
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_ONETRAIL", json.dumps(settings))
    path.write_bytes(sent)  # the same bytes, under the same name
    assert task_states(run_dag(dagbag, FLOW))[GROUP] == "success"
    assert len(bills_of(store, po["id"])) == 1
    assert (hub.folder("Out/Invoice") / "archive" / path.name).read_bytes() == sent
    assert list(error_dir.iterdir()) == []
