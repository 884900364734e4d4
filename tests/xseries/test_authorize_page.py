"""The authorize page under ``/po-sync/xseries``: the authorization-code grant against the sandbox's real
consent page and token endpoint, the state (CSRF) check, and who may authorize (Airflow's auth manager:
``admin`` may edit connections, ``viewer`` may not)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient

from po_sync.ui.ledger_app import create_app
from po_sync.xseries.authorize_page import STATE_COOKIE, create_router, make_state

CONN = "xseries_shop"


@pytest.fixture(scope="module")
def auth_manager(airflow_db):
    from airflow.api_fastapi.app import create_auth_manager

    manager = create_auth_manager()
    manager.init()
    return manager


def client_as(auth_manager: Any, role: str | None) -> TestClient:
    """The plugin's app mounted at /po-sync as the api-server mounts it, logged in through the cookie."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    root = FastAPI()
    root.mount("/po-sync", create_app(routers=[create_router()]))
    client = TestClient(root, base_url="http://localhost:8080", follow_redirects=False)
    if role is not None:
        client.cookies.set(
            "_token", auth_manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role))
        )
    return client


@pytest.fixture
def hook(make_hook):
    return make_hook("oauth", conn_id=CONN, refresh_token=None)


def consent(location: str) -> str:
    """The person clicks "Allow" on the sandbox's real consent page: where it sends the browser back."""
    answer = requests.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def test_admin_authorizes_through_the_store_and_the_pair_is_stored(auth_manager, hook, xseries):
    client = client_as(auth_manager, "admin")
    start = client.get("/po-sync/xseries/authorize", params={"conn_id": CONN})
    assert start.status_code == 302
    location = start.headers["location"]
    assert location.startswith(f"{xseries.base_url}/connect?")
    query = parse_qs(urlsplit(location).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [hook.settings.client_id]
    assert query["state"][0].startswith(f"{CONN}.")
    assert STATE_COOKIE in start.headers["set-cookie"] and "HttpOnly" in start.headers["set-cookie"]
    back = consent(location)
    assert back.startswith("http://localhost:8080/po-sync/xseries/callback?")  # the registered redirect URI
    issued = xseries.oauth.issued
    done = client.get(back.removeprefix("http://localhost:8080"))
    assert done.status_code == 200, done.text
    assert f"Connection {CONN} is authorized" in done.text
    assert xseries.oauth.issued == issued + 1
    pair = hook.token_store().read()
    assert pair is not None and pair.access_token not in done.text and pair.refresh_token not in done.text
    assert hook.token_store().credentials.info()["updated_by"] == "authorize:admin"
    assert len(hook.outlets()) == 3  # the flows use the stored pair
    # the state was single use: the same answer again is refused before any token request
    again = client.get(back.removeprefix("http://localhost:8080"))
    assert again.status_code == 400 and xseries.oauth.issued == issued + 1


def test_a_viewer_may_not_authorize(auth_manager, hook):
    client = client_as(auth_manager, "viewer")
    start = client.get("/po-sync/xseries/authorize", params={"conn_id": CONN})
    assert start.status_code == 403 and CONN in start.text
    assert client_as(auth_manager, None).get("/po-sync/xseries/authorize").status_code in (401, 403)


def _callback(client: TestClient, state: str, code: str, nonce: str | None) -> Any:
    if nonce is not None:
        client.cookies.set(STATE_COOKIE, nonce, path="/po-sync/xseries")
    return client.get("/po-sync/xseries/callback", params={"state": state, "code": code})


@pytest.mark.parametrize("case", ["forged", "other_user", "no_cookie", "wrong_cookie", "stale"])
def test_a_callback_with_a_bad_state_stores_nothing(auth_manager, hook, xseries, case):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    admin = SimpleAuthManagerUser(username="admin", role="admin")
    other = SimpleAuthManagerUser(username="mallory", role="admin")
    now = time.time() - (3600 if case == "stale" else 0)
    state, nonce = make_state(other if case == "other_user" else admin, CONN, now=now)
    if case == "forged":
        state = state[:-4] + "0000"
    cookie = {"no_cookie": None, "wrong_cookie": "not-the-nonce"}.get(case, nonce)
    issued = xseries.oauth.issued
    answer = _callback(client_as(auth_manager, "admin"), state, xseries.oauth.new_code(600), cookie)
    assert answer.status_code == 400 and "state check failed" in answer.text
    assert xseries.oauth.issued == issued and hook.token_store().read() is None


def test_the_store_refusing_the_code_is_shown_and_nothing_is_stored(auth_manager, hook, xseries):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    state, nonce = make_state(SimpleAuthManagerUser(username="admin", role="admin"), CONN)
    answer = _callback(client_as(auth_manager, "admin"), state, "a-code-nobody-issued", nonce)
    assert answer.status_code == 502 and CONN in answer.text and "invalid_grant" in answer.text
    assert hook.token_store().read() is None
