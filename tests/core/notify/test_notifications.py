"""Notifications through a real DAG run: the digest after a run with new bad records, the task-failure
mail, the recipients Variable validated at run time. Mail goes through the SMTP provider to the
sandbox's SMTP sink and is read back from its .eml files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.notify.recipients import VARIABLE, validate
from tests.hotwax.conftest import SMALL_DATA, run_dag

pytestmark = pytest.mark.e2e

FLOW = "hotwax_po_export"
SETTINGS = {
    "default": {"to": ["ops@example.com"]},
    "flows": {FLOW: {"to": ["buyer@example.com"], "cc": ["lead@example.com"]}},
    "digest_limit": 1,
    "airflow_url": "http://airflow.example:8080",
}


@pytest.fixture
def world(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(tmp_path / "sandbox", services=["sftp", "smtp", netsuite]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv(f"AIRFLOW_VAR_{VARIABLE.upper()}", json.dumps(SETTINGS))
        yield sb


def mails(world: Any, kind: str) -> list[Any]:
    return [m for m in world.services["smtp"].messages() if m["X-PO-Sync-Kind"] == kind]


def html_of(msg: Any) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def break_skus(store: Any, po_ids: list[str]) -> None:
    """Give the first item of each PO a SKU with a comma: HotWax's CSV cannot carry it (quarantine)."""
    for po in po_ids:
        item = store.get("purchaseOrder", po)["item"]["items"][0]["item"]["id"]
        store.update("inventoryItem", item, {"itemId": f"SKU,{po}"}, replace=set())


def test_a_run_with_new_quarantined_records_sends_one_capped_digest_and_a_quiet_run_none(
    dagbag, ledger_conn, world
):
    store = world.services["netsuite"].store
    break_skus(store, ["3", "4"])
    assert run_dag(dagbag, FLOW).state == "success"
    (digest,) = mails(world, "digest")
    assert digest["To"] == "buyer@example.com" and digest["Cc"] == "lead@example.com"
    assert digest["X-PO-Sync-Flow"] == FLOW
    assert "new failed/quarantined record(s)" in digest["Subject"]
    body = html_of(digest)
    bad = [s for s in ledger_conn.status_counts(FLOW) if s == "quarantined"]
    assert bad and ledger_conn.status_counts(FLOW)["quarantined"] >= 2
    n = ledger_conn.status_counts(FLOW)["quarantined"]
    assert f"<th align='left'>new quarantined</th><td>{n}</td>" in body
    assert "cannot hold a comma" in body
    assert f"… and {n - 1} more." in body  # capped at digest_limit = 1
    assert "http://airflow.example:8080/po-sync/?flow=hotwax_po_export&amp;run_id=" in body

    # The same bad POs again: nothing new, so no second digest.
    assert run_dag(dagbag, FLOW).state == "success"
    assert len(mails(world, "digest")) == 1


def test_a_failed_task_mails_the_flow_and_is_recorded_for_flow_health(
    dagbag, ledger_conn, world, monkeypatch
):
    from po_sync.ledger.health import flow_health

    sftp = json.loads(world.env()["AIRFLOW_CONN_SFTP_DEFAULT"])
    sftp["port"] = 9  # nothing listens: the export cannot reach HotWax's server
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_DEFAULT", json.dumps(sftp))
    assert run_dag(dagbag, FLOW).state == "failed"
    (mail,) = mails(world, "task_failure")
    assert mail["To"] == "buyer@example.com"
    assert mail["Subject"] == f"[po-sync] {FLOW}: task export_purchase_orders failed"
    body = html_of(mail)
    assert (
        "http://airflow.example:8080/dags/hotwax_po_export/runs/" in body
        and "/tasks/export_purchase_orders" in body
    )
    assert "Error" in body or "refused" in body
    (health,) = [h for h in flow_health(ledger_conn) if h["flow"] == FLOW]
    assert health["consecutive_failed_runs"] == 1 and health["failures"][0]["count"] >= 1


def test_the_recipients_variable_is_checked_against_its_schema():
    assert validate(SETTINGS).recipients(FLOW, "digest").to == ["buyer@example.com"]
    assert validate(SETTINGS).recipients("other_flow", "task_failure").to == ["ops@example.com"]
    only_digest = validate({"flows": {FLOW: {"to": ["a@b.c"], "events": ["digest"]}}})
    assert (
        only_digest.recipients(FLOW, "task_failure") is None and only_digest.recipients("x", "digest") is None
    )
    with pytest.raises(ConfigurationError, match=r"at flows/hotwax_po_export/to/0: 'not an address'"):
        validate({"flows": {FLOW: {"to": ["not an address"]}}})
    with pytest.raises(ConfigurationError, match="at default: 'to' is a required property"):
        validate({"default": {"cc": ["a@b.c"]}})
    with pytest.raises(ConfigurationError, match="Additional properties"):
        validate({"recipients": []})
