"""The error queue: filters, paging, a record's history, actions with permission and CSRF checks.

Identity and permission come from Airflow's real auth manager (SimpleAuthManager, Airflow 3's
default): tokens are JWTs it signs, roles are its own (``viewer`` may read, ``admin`` may edit DAGs).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from po_sync.ledger import Ledger, RecordKey, RecordStatus, RunContext
from po_sync.ledger.engine import get_engine
from po_sync.ui.ledger_app import create_app

FLOW = "hotwax_receipt_import"
OTHER = "hotwax_po_export"


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Ledger:
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("AIRFLOW_CONN_PO_SYNC_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_NETSUITE_DEFAULT",
        json.dumps({"conn_type": "netsuite", "extra": {"account_id": "1234567_SB1"}}),
    )
    ledger = Ledger(get_engine(f"sqlite:///{path}"))
    run = ledger.open_run(flow=FLOW, context=RunContext(FLOW, "r1", "import_receipts", map_index=2))
    ok = ledger.begin(RecordKey(FLOW, "receipt", "hotwax", "R-1"), payload_hash="a", sync_run_id=run)
    ledger.mark_synced(ok.record_id, sync_run_id=run, target_system="netsuite", target_id="9")
    bad = ledger.begin(
        RecordKey(FLOW, "receipt", "hotwax", "R-2"),
        payload_hash="b",
        sync_run_id=run,
        context=RunContext(FLOW, "r1", "import_receipts", map_index=2),
        trace_key="receipts-1.json",
    )
    ledger.mark_quarantined(
        bad.record_id,
        sync_run_id=run,
        code="VALIDATION_ERROR",
        message="items.0.quantity = '<script>x</script>'",
    )
    other_run = ledger.open_run(flow=OTHER, context=RunContext(OTHER, "r9", "export_purchase_orders"))
    for po in ("101", "102"):
        d = ledger.begin(
            RecordKey(OTHER, "purchase_order", "netsuite", po),
            payload_hash=po,
            sync_run_id=other_run,
            context=RunContext(OTHER, "r9", "export_purchase_orders"),
        )
        ledger.mark_failed(
            d.record_id, sync_run_id=other_run, code="HOTWAX_FORMAT", message=f"PO {po}: comma"
        )
    return ledger


@pytest.fixture(scope="module")
def auth_manager(airflow_db):
    from airflow.api_fastapi.app import create_auth_manager

    manager = create_auth_manager()
    manager.init()
    return manager


def token(auth_manager: Any, role: str) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role))


def client_as(auth_manager: Any, role: str | None, *, cookie: bool = True) -> TestClient:
    """A client of the app mounted at /po-sync, as Airflow's api-server mounts plugin apps."""
    root = FastAPI()
    root.mount("/po-sync", create_app())
    client = TestClient(root, base_url="http://airflow.test")
    if role is not None:
        if cookie:
            client.cookies.set("_token", token(auth_manager, role))
        else:
            client.headers["Authorization"] = f"Bearer {token(auth_manager, role)}"
    return client


def record_id(ledger: Ledger, flow: str, source_id: str) -> int:
    state = ledger.get(
        RecordKey(
            flow,
            "receipt" if flow == FLOW else "purchase_order",
            "hotwax" if flow == FLOW else "netsuite",
            source_id,
        )
    )
    assert state is not None
    return state.id


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match
    return match.group(1)


def test_queue_shows_counts_health_and_open_records_escaped(ledger, auth_manager):
    page = client_as(auth_manager, "viewer").get("/po-sync/")
    assert page.status_code == 200
    assert "VALIDATION_ERROR" in page.text and "HOTWAX_FORMAT" in page.text
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
    # the open tab lists failed + quarantined only: R-1 (synced) is not a row
    assert 'data-source="R-2"' in page.text and 'data-source="R-1"' not in page.text
    assert "3 record(s)" in page.text


def test_json_queue_filters_pages_and_sorts(ledger, auth_manager):
    client = client_as(auth_manager, "viewer", cookie=False)
    body = client.get(
        "/po-sync/api/records", params={"flow": OTHER, "page_size": 1, "sort": "source_id", "order": "asc"}
    ).json()
    assert (body["total"], body["pages"], [r["source_id"] for r in body["records"]]) == (2, 2, ["101"])
    page2 = client.get(
        "/po-sync/api/records",
        params={"flow": OTHER, "page_size": 1, "page": 2, "sort": "source_id", "order": "asc"},
    ).json()
    assert [r["source_id"] for r in page2["records"]] == ["102"]
    assert client.get("/po-sync/api/records", params={"q": "10", "status": "failed"}).json()["total"] == 2
    assert client.get("/po-sync/api/records", params={"error_code": "VALIDATION_ERROR"}).json()["total"] == 1
    assert client.get("/po-sync/api/records", params={"tab": "all", "flow": FLOW}).json()["total"] == 2
    assert (
        client.get("/po-sync/api/records", params={"q": "receipts-1"}).json()["records"][0]["source_id"]
        == "R-2"
    )
    assert client.get("/po-sync/api/records", params={"status": "bogus"}).status_code == 422
    counts = client.get("/po-sync/api/counts").json()["flows"]
    assert counts == {OTHER: {"failed": 2}, FLOW: {"synced": 1, "quarantined": 1}}


def test_record_page_tells_its_story_with_links(ledger, auth_manager):
    rid = record_id(ledger, FLOW, "R-2")
    page = client_as(auth_manager, "viewer").get(f"/po-sync/records/{rid}")
    assert page.status_code == 200
    assert (
        "http://airflow.test/dags/hotwax_receipt_import/runs/r1/tasks/import_receipts/mapped/2" in page.text
    )
    assert "receipts-1.json" in page.text and "&lt;script&gt;" in page.text
    ns = (
        client_as(auth_manager, "viewer", cookie=False)
        .get(f"/po-sync/api/records/{record_id(ledger, OTHER, '101')}")
        .json()
    )
    assert (
        ns["links"]["netsuite"]
        == "https://1234567-sb1.app.netsuite.com/app/accounting/transactions/purchord.nl?id=101"
    )
    assert [e["error_code"] for e in ns["history"]] == ["HOTWAX_FORMAT"]


def test_resolve_with_a_note_is_recorded_and_shown(ledger, auth_manager):
    client = client_as(auth_manager, "admin")
    rid = record_id(ledger, FLOW, "R-2")
    csrf = csrf_of(client.get("/po-sync/").text)
    answer = client.post(
        "/po-sync/actions",
        data={
            "action": "resolve",
            "record_ids": [str(rid)],
            "note": "fixed by hand in NetSuite",
            "csrf_token": csrf,
            "back": f"/po-sync/records/{rid}",
        },
        headers={"Origin": "http://airflow.test"},
    )
    assert answer.status_code == 200 and "resolve: 1 record(s) done" in answer.text
    assert ledger.get_by_id(rid).status is RecordStatus.RESOLVED
    assert "fixed by hand in NetSuite" in answer.text and "admin" in answer.text
    assert all(e["resolved_at"] is not None for e in ledger.errors(rid))


def test_retry_and_ignore_a_selection_through_the_json_api(ledger, auth_manager):
    client = client_as(auth_manager, "admin", cookie=False)
    ids = [record_id(ledger, OTHER, "101"), record_id(ledger, OTHER, "102"), record_id(ledger, FLOW, "R-1")]
    body = client.post("/po-sync/api/records/actions", json={"action": "retry", "record_ids": ids}).json()
    assert sorted(d["source_id"] for d in body["done"]) == ["101", "102"]
    assert [r["reason"] for r in body["refused"]] == ["retry does not apply to a synced record"]
    assert ledger.get_by_id(ids[0]).status is RecordStatus.PENDING
    refused = client.post("/po-sync/api/records/actions", json={"action": "ignore", "record_ids": ids[:1]})
    assert refused.status_code == 422 and "needs a note" in refused.json()["detail"]
    ok = client.post(
        "/po-sync/api/records/actions",
        json={"action": "ignore", "record_ids": ids[:1], "note": "duplicate PO"},
    )
    assert ok.json()["done"][0]["id"] == ids[0] and ledger.get_by_id(ids[0]).status is RecordStatus.IGNORED
    history = client.get(f"/po-sync/api/records/{ids[0]}").json()["history"]
    assert [(e["kind"], e.get("action")) for e in history] == [
        ("attempt", None),
        ("action", "retry"),
        ("action", "ignore"),
    ]


def test_a_viewer_may_read_but_not_act(ledger, auth_manager):
    client = client_as(auth_manager, "viewer")
    rid = record_id(ledger, FLOW, "R-2")
    csrf = csrf_of(client.get("/po-sync/").text)
    answer = client.post(
        "/po-sync/actions",
        data={"action": "retry", "record_ids": [str(rid)], "csrf_token": csrf},
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 403
    assert "viewer may not act on records of hotwax_receipt_import" in answer.text
    assert ledger.get_by_id(rid).status is RecordStatus.QUARANTINED


def test_cross_site_posts_are_refused(ledger, auth_manager):
    client = client_as(auth_manager, "admin")
    rid = record_id(ledger, FLOW, "R-2")
    no_token = client.post("/po-sync/actions", data={"action": "retry", "record_ids": [str(rid)]})
    assert no_token.status_code == 403 and "token is missing" in no_token.json()["detail"]
    forged = client.post(
        "/po-sync/actions", data={"action": "retry", "record_ids": [str(rid)], "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    csrf = csrf_of(client.get("/po-sync/").text)
    other_site = client.post(
        "/po-sync/actions",
        data={"action": "retry", "record_ids": [str(rid)], "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403 and "Origin" in other_site.json()["detail"]
    # A cookie-authenticated JSON call without the token is refused too.
    assert (
        client.post("/po-sync/api/records/actions", json={"action": "retry", "record_ids": [rid]}).status_code
        == 403
    )
    assert (
        client.get("/po-sync/").status_code == 200
        and ledger.get_by_id(rid).status is RecordStatus.QUARANTINED
    )
    assert client.get("/po-sync/actions").status_code == 405


def test_anonymous_callers_get_nothing(ledger, auth_manager):
    client = client_as(auth_manager, None)
    for path in ("/po-sync/", "/po-sync/api/records", "/po-sync/api/summary", "/po-sync/api/health"):
        assert client.get(path).status_code == 401, path
    assert (
        client.post("/po-sync/api/records/actions", json={"action": "retry", "record_ids": [1]}).status_code
        == 401
    )


def test_summary_json_filters_by_flow(ledger):
    client = TestClient(create_app(auth_dependency=lambda: None))
    body = client.get("/api/summary", params={"flow": FLOW}).json()
    (flow,) = [f for f in body["flows"] if f["flow"] == FLOW]
    assert flow["records"] == {"synced": 1, "quarantined": 1}
    assert [p["source_id"] for p in body["problems"]] == ["R-2"]


def test_callers_the_auth_dependency_refuses_get_nothing(ledger):
    def refuse():
        raise HTTPException(status_code=401, detail="Not authenticated")

    client = TestClient(create_app(auth_dependency=refuse))
    assert client.get("/").status_code == 401
    assert client.get("/api/summary").status_code == 401


def test_no_api_description_is_served_and_anonymous_callers_learn_nothing(ledger, auth_manager):
    """FastAPI's /docs, /redoc and /openapi.json sit outside the app's auth dependency: they are off."""
    for role in (None, "admin"):
        client = client_as(auth_manager, role)
        for path in (
            "/po-sync/docs",
            "/po-sync/redoc",
            "/po-sync/openapi.json",
            "/po-sync/docs/oauth2-redirect",
        ):
            response = client.get(path)
            assert response.status_code in (401, 404), (role, path, response.status_code)
            assert "swagger" not in response.text.lower() and '"openapi"' not in response.text, path


def test_every_response_carries_the_security_headers(ledger, auth_manager):
    admin = client_as(auth_manager, "admin")
    rid = record_id(ledger, FLOW, "R-2")
    responses = [
        admin.get("/po-sync/"),
        admin.get(f"/po-sync/records/{rid}"),
        admin.get("/po-sync/api/records"),
        admin.get("/po-sync/api/records/999999"),
        client_as(auth_manager, None).get("/po-sync/", headers={"accept": "text/html"}),
        client_as(auth_manager, None).get("/po-sync/api/records"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 401, 401]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, csp
        # Airflow's UI frames the page (external view): same origin only, no other site
        assert "frame-ancestors 'self'" in csp
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_file_endpoint_serves_no_location_the_record_does_not_name(ledger, auth_manager):
    rid = record_id(ledger, FLOW, "R-2")
    client = client_as(auth_manager, "viewer")
    for loc in (
        "sftp:sftp_default:netsuite/purchaseorder/receipt/../../../etc/passwd",
        "sftp:sftp_default:/etc/passwd",
        "s3://any-bucket/secret.txt",
    ):
        refused = client.get(f"/po-sync/records/{rid}/file", params={"loc": loc})
        assert refused.status_code == 404 and refused.json()["detail"] == "not a file of this record"
    anonymous = client_as(auth_manager, None).get(f"/po-sync/records/{rid}/file", params={"loc": "s3://b/k"})
    assert anonymous.status_code in (401, 403)
    assert "files" in client.get(f"/po-sync/api/records/{rid}").json()


def test_health_window_is_a_query_parameter(ledger, auth_manager):
    client = client_as(auth_manager, "viewer")
    body = client.get("/po-sync/api/health", params={"health_days": 3}).json()
    assert body["window_days"] == 3 and {f["flow"] for f in body["flows"]} >= {FLOW, OTHER}
    assert client.get("/po-sync/api/health", params={"health_days": 0}).status_code == 422
    assert "last 30 days" in client.get("/po-sync/", params={"health_days": 30}).text
