"""The ledger page: shows counts and errors, escapes what records carry, refuses anonymous callers."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from po_sync.ledger import Ledger, RecordKey, RunContext
from po_sync.ledger.engine import get_engine
from po_sync.ui.ledger_app import create_app


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Ledger:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("AIRFLOW_CONN_PO_SYNC_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    ledger = Ledger(get_engine(f"sqlite:///{path}"))
    run = ledger.open_run(
        flow="hotwax_receipt_import", context=RunContext("hotwax_receipt_import", "r1", "t")
    )
    ok = ledger.begin(
        RecordKey("hotwax_receipt_import", "receipt", "hotwax", "R-1"), payload_hash="a", sync_run_id=run
    )
    ledger.mark_synced(ok.record_id, sync_run_id=run, target_system="netsuite", target_id="9")
    bad = ledger.begin(
        RecordKey("hotwax_receipt_import", "receipt", "hotwax", "R-2"), payload_hash="b", sync_run_id=run
    )
    ledger.mark_quarantined(
        bad.record_id,
        sync_run_id=run,
        code="VALIDATION_ERROR",
        message="items.0.quantity = '<script>x</script>'",
    )
    return ledger


def test_page_shows_counts_and_escapes_record_content(ledger):
    client = TestClient(create_app(auth_dependency=lambda: None))
    page = client.get("/")
    assert page.status_code == 200
    assert "hotwax_receipt_import" in page.text and "VALIDATION_ERROR" in page.text
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text


def test_summary_json_filters_by_flow(ledger):
    client = TestClient(create_app(auth_dependency=lambda: None))
    body = client.get("/api/summary", params={"flow": "hotwax_receipt_import"}).json()
    (flow,) = body["flows"]
    assert flow["records"] == {"synced": 1, "quarantined": 1}
    assert [p["source_id"] for p in body["problems"]] == ["R-2"]
    assert client.get("/api/summary", params={"flow": "other"}).json()["problems"] == []


def test_callers_the_auth_dependency_refuses_get_nothing(ledger):
    def refuse():
        raise HTTPException(status_code=401, detail="Not authenticated")

    client = TestClient(create_app(auth_dependency=refuse))
    assert client.get("/").status_code == 401
    assert client.get("/api/summary").status_code == 401
