"""The error queue as a person drives it, for end-to-end tests: logged in, CSRF token from the page.

A test calls :func:`queue_action` to press Retry / Resolve / Ignore through the real app (mounted at
``/po-sync`` as Airflow's api-server mounts it), with a session cookie signed by Airflow's own auth
manager and the page's CSRF token in ``X-CSRF-Token``, exactly what the queue page's script sends.
"""

from __future__ import annotations

import re
from typing import Any


def queue_client(role: str = "admin") -> Any:
    """A logged-in client of the queue (SimpleAuthManager: ``admin`` may edit every DAG)."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from po_sync.ui.ledger_app import create_app

    manager = create_auth_manager()
    manager.init()
    root = FastAPI()
    root.mount("/po-sync", create_app())
    client = TestClient(root, base_url="http://airflow.test")
    client.cookies.set("_token", manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role)))
    return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match, "the queue page carries no CSRF token"
    return match.group(1)


def queue_action(
    action: str, record_ids: list[int], *, note: str | None = None, client: Any = None
) -> dict[str, Any]:
    """POST /po-sync/api/records/actions with the session cookie and the page's CSRF token."""
    client = client or queue_client()
    csrf = csrf_of(client.get("/po-sync/").text)
    response = client.post(
        "/po-sync/api/records/actions",
        json={"action": action, "record_ids": record_ids, "note": note},
        headers={"X-CSRF-Token": csrf, "Origin": "http://airflow.test"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["refused"], body
    return body


def open_records(flow: str, client: Any = None) -> list[dict[str, Any]]:
    """The queue's open records of one flow (JSON API)."""
    client = client or queue_client()
    response = client.get("/po-sync/api/records", params={"flow": flow, "page_size": 500})
    assert response.status_code == 200, response.text
    return response.json()["records"]
