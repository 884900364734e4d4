"""Per-order errors: kept in the ledger, written back to NetSuite (the order's ``custbody_vend_error`` or
the proposal's error custom record, a NetSuite sandbox knob), cleared when the order later syncs, and
mailed to the flow's people in the run's digest (the sandbox's SMTP sink, read back from its files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from po_sync.faults import CRASH_ENV
from po_sync.ledger import RecordKey, RecordStatus, RunContext
from po_sync.notify.recipients import VARIABLE
from po_sync.xseries.writeback import ERROR_FIELD, ERROR_RECORD, ErrorWriteBack, record_external_id
from tests.xseries.conftest import SMALL, pos, run

pytestmark = pytest.mark.e2e

FLOW = "vend_purchase_order_sync"
SETTINGS = {
    "default": {"to": ["ops@example.com"]},
    "flows": {FLOW: {"to": ["buyer@example.com"], "cc": ["store-lead@example.com"]}},
    "airflow_url": "http://airflow.example:8080",
}


@pytest.fixture
def world(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """NetSuite (4 POs), X-Series and the SMTP sink; the recipients Variable names the flow's people."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox
    from po_sync_sandbox.xseries import XSeriesService

    with Sandbox(
        tmp_path / "sb",
        services=[NetSuiteService(generate_spec=GenerateSpec(**SMALL)), XSeriesService(), "smtp"],
    ) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv(CRASH_ENV, raising=False)
        monkeypatch.setenv(f"AIRFLOW_VAR_{VARIABLE.upper()}", json.dumps(SETTINGS))
        sb.services["xseries"].set_knobs(registers=10)
        yield sb


def digests(world: Any) -> list[Any]:
    return [m for m in world.services["smtp"].messages() if m["X-PO-Sync-Kind"] == "digest"]


def test_an_order_error_is_written_on_the_po_mailed_and_cleared_when_it_syncs(world, dagbag, ledger_conn):
    ns = world.services["netsuite"]
    ids = sorted(pos(ns), key=int)
    bad = ids[-1]
    home = pos(ns)[bad]["location"]["id"]
    popup = ns.store.create("location", {"name": "Pop-up"})
    ns.store.update("purchaseOrder", bad, {"location": {"id": str(popup)}}, replace=set())

    assert run(dagbag, FLOW).state == "success"
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", bad))
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "UNMAPPED_OUTLET"
    # NetSuite: the error on the PO itself, nothing on the good ones
    error = pos(ns)[bad].get(ERROR_FIELD)
    assert error and error.startswith("UNMAPPED_OUTLET: ") and state.last_error_message in error
    assert not any(pos(ns)[i].get(ERROR_FIELD) for i in ids[:-1])
    # the mail: one digest to the flow's people naming the order, its code and its message
    (mail,) = digests(world)
    assert mail["To"] == "buyer@example.com" and mail["Cc"] == "store-lead@example.com"
    assert mail["X-PO-Sync-Flow"] == FLOW and "1 new failed/quarantined record(s)" in mail["Subject"]
    body = mail.get_body(preferencelist=("html",)).get_content()
    assert f"purchase_order netsuite:{bad}" in body and "UNMAPPED_OUTLET" in body
    assert "has no X-Series outlet" in body or "outlet" in body
    assert "<th align='left'>new quarantined</th><td>1</td>" in body

    # a second run with the same problem: no new mail, the NetSuite error is not rewritten
    version = ns.store.get("purchaseOrder", bad).get("lastModifiedDate")
    assert run(dagbag, FLOW).state == "success"
    assert len(digests(world)) == 1
    assert ns.store.get("purchaseOrder", bad).get("lastModifiedDate") == version

    # corrected in NetSuite: the order syncs and its error is cleared there
    ns.store.update("purchaseOrder", bad, {"location": {"id": str(home)}}, replace=set())
    assert run(dagbag, FLOW).state == "success"
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", bad))
    assert state.status is RecordStatus.SYNCED
    assert not pos(ns)[bad].get(ERROR_FIELD)
    assert len(digests(world)) == 1  # nothing new went wrong


@pytest.fixture
def netsuite_only(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    with Sandbox(tmp_path / "ns", services=[NetSuiteService(generate_spec=GenerateSpec(**SMALL))]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        yield sb.services["netsuite"]


def _one_order(ledger: Any, writeback_target: str, ns_service: Any, outcome: Exception | None) -> Any:
    """Process one PO through a real SyncRun inside the write-back, as the operators do."""
    from po_sync.netsuite import NetSuiteHook
    from po_sync.sync import SyncRun

    po = sorted(pos(ns_service), key=int)[0]
    ctx = RunContext(FLOW, "manual__1", "push_purchase_orders")

    def send(decision: Any) -> str:
        if outcome is not None:
            raise outcome
        return "cons-1"

    ns = NetSuiteHook("netsuite_default")
    try:
        with SyncRun(ledger=ledger, flow=FLOW, context=ctx) as sync_run:
            key = sync_run.key("purchase_order", "netsuite", po)
            with ErrorWriteBack(ns, sync_run, target=writeback_target).around(
                key, record_type="purchaseOrder", order_id=po
            ):
                sync_run.process(key, payload_hash="h", send=send, target_system="xseries", force=True)
    finally:
        ns.close()
    return po, sync_run.notes


def test_the_error_record_knob_one_instance_per_order_cleared_on_success(netsuite_only, ledger_conn):
    from po_sync.exceptions import RecordValidationError

    netsuite_only.set_knobs(vend_error_record=True)
    bad = RecordValidationError("PO 1: item 'X' has no X-Series product", code="UNKNOWN_SKU")
    po, notes = _one_order(ledger_conn, "record", netsuite_only, bad)
    assert notes["error_writeback_written"] == 1
    (doc,) = list(netsuite_only.store.iter_docs(ERROR_RECORD))
    assert doc["externalId"] == record_external_id("purchaseOrder", po)
    assert doc["custrecord_vend_sync_order"]["id"] == po
    assert doc["custrecord_vend_sync_error"] == "UNKNOWN_SKU: PO 1: item 'X' has no X-Series product"
    assert not pos(netsuite_only)[po].get(ERROR_FIELD)  # record mode leaves the field alone
    _po, notes = _one_order(ledger_conn, "record", netsuite_only, None)
    (doc,) = list(netsuite_only.store.iter_docs(ERROR_RECORD))  # the same instance, emptied
    assert doc["custrecord_vend_sync_error"] == "" and notes["error_writeback_cleared"] == 1


def test_an_account_without_the_error_record_keeps_the_error_in_the_ledger(netsuite_only, ledger_conn):
    from po_sync.exceptions import RecordValidationError

    bad = RecordValidationError("bad count", code="BAD_QUANTITY")
    po, notes = _one_order(ledger_conn, "record", netsuite_only, bad)  # knob off: the type is unknown
    assert notes["error_writeback_failed"] == 1 and "error_writeback_written" not in notes
    state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po))
    assert state.status is RecordStatus.QUARANTINED and state.last_error_code == "BAD_QUANTITY"


def test_a_revoked_refresh_token_fails_the_refresh_names_the_connection_and_alerts(
    world, dagbag, ledger_conn
):
    import sqlalchemy as sa
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from po_sync.ledger.credentials import CredentialStore

    xs = world.services["xseries"]
    ok = run(dagbag, "vend_token_refresh")
    assert ok.state == "success"
    row = CredentialStore(ledger_conn, conn_id="xseries_default", kind="xseries_oauth")
    before_info, before = row.info(), row.read()
    assert before_info["generation"] == 1 and before is not None
    with create_session() as session:  # the task's XCom: generation and expiry, never a token
        pushed = repr(list(session.scalars(sa.select(XComModel.value).where(XComModel.run_id == ok.run_id))))
    assert "generation" in pushed
    assert before["access_token"] not in pushed and before["refresh_token"] not in pushed
    xs.oauth.revoke_all_refresh_tokens()  # the app was disconnected in the store

    assert run(dagbag, "vend_token_refresh").state == "failed"
    assert row.info() == before_info and row.read() == before  # nothing half-written
    failures = [m for m in world.services["smtp"].messages() if m["X-PO-Sync-Kind"] == "task_failure"]
    (mail,) = failures
    assert mail["To"] == "ops@example.com" and "vend_token_refresh" in mail["Subject"]
    body = mail.get_body(preferencelist=("html",)).get_content()
    assert "XSeriesAuthError" in body and "xseries_default" in body and "authorize" in body
    assert "invalid_grant" in body
    everything = "".join(m.as_string() for m in world.services["smtp"].messages())
    for secret in (before["access_token"], before["refresh_token"]):
        assert secret not in everything
    login = [m for m in world.services["smtp"].messages() if "login failed" in (m["Subject"] or "")]
    assert len(login) == 1  # the login alert too
