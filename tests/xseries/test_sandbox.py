"""The X-Series sandbox speaks Lightspeed's documented API: a plain ``requests`` client written from the
docs (``reference/external-systems.md`` §1) works against it, over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from po_sync_sandbox.xseries import XSeriesService


@pytest.fixture
def api(xseries: XSeriesService) -> requests.Session:
    """A session with the personal token, JSON headers and a User-Agent, as the docs ask."""
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {xseries.oauth.app.personal_token}",
            "Accept": "application/json",
            "User-Agent": "po-sync-tests",
        }
    )
    yield session
    session.close()


def url(xseries: XSeriesService, path: str, version: str = "2.0") -> str:
    return f"{xseries.base_url}/api/{version}{path}"


def token(xseries: XSeriesService, **form: str) -> requests.Response:
    app = xseries.oauth.app
    return requests.post(
        f"{xseries.base_url}/api/1.0/token",
        data={"client_id": app.client_id, "client_secret": app.client_secret, **form},
        timeout=5,
    )


def outlet_id(xseries: XSeriesService, name: str = "Store Downtown") -> str:
    outlet = xseries.store.outlet_by_name(name)
    assert outlet
    return str(outlet["id"])


def product_id(xseries: XSeriesService, sku: str) -> str:
    product = xseries.store.product_by_sku(sku)
    assert product
    return str(product["id"])


def new_order(api: requests.Session, xseries: XSeriesService, *, wrapped: bool = True) -> dict[str, Any]:
    body = {"type": "SUPPLIER", "status": "OPEN", "outlet_id": outlet_id(xseries), "name": "PO test"}
    resp = api.post(url(xseries, "/consignments"), json={"data": body} if wrapped else body, timeout=5)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


# -- auth -------------------------------------------------------------------------------------------


def test_bearer_missing_or_wrong_is_401(xseries):
    resp = requests.get(url(xseries, "/products"), timeout=5)
    assert resp.status_code == 401
    assert set(resp.json()) >= {"error", "message"}
    resp = requests.get(url(xseries, "/products"), headers={"Authorization": "Bearer nope"}, timeout=5)
    assert resp.status_code == 401


def test_date_versioned_alias_serves_the_same_api(api, xseries):
    a = api.get(url(xseries, "/outlets"), timeout=5).json()
    b = api.get(url(xseries, "/outlets", "2026-07"), timeout=5).json()
    assert a == b and len(a["data"]) == 3
    assert api.get(f"{xseries.base_url}/api/9.9/outlets", timeout=5).status_code == 404


def test_code_exchange_then_refresh_rotates(xseries):
    code = xseries.oauth.new_code(600)
    resp = token(
        xseries, grant_type="authorization_code", code=code, redirect_uri=xseries.oauth.app.redirect_uri
    )
    assert resp.status_code == 200, resp.text
    pair = resp.json()
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 86400
    assert abs(pair["expires"] - datetime.now(UTC).timestamp() - 86400) < 60
    assert pair["domain_prefix"] == xseries.domain_prefix
    # the code is single-use
    again = token(xseries, grant_type="authorization_code", code=code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    xseries.set_knobs(access_token_ttl_seconds=120)
    rotated = token(xseries, grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
    assert rotated["refresh_token"] != pair["refresh_token"] and rotated["expires_in"] == 120
    # the used refresh token is revoked as soon as the new pair is issued
    reuse = token(xseries, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    ok = requests.get(
        url(xseries, "/outlets"), headers={"Authorization": f"Bearer {rotated['access_token']}"}, timeout=5
    )
    assert ok.status_code == 200


def test_token_endpoint_is_form_encoded_only(xseries):
    app = xseries.oauth.app
    resp = requests.post(
        f"{xseries.base_url}/api/1.0/token",
        json={"client_id": app.client_id, "client_secret": app.client_secret, "grant_type": "refresh_token"},
        timeout=5,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    bad_client = requests.post(
        f"{xseries.base_url}/api/1.0/token",
        data={"client_id": app.client_id, "client_secret": "wrong", "grant_type": "refresh_token"},
        timeout=5,
    )
    assert bad_client.status_code == 401


def test_expired_access_token_is_401(xseries):
    pair = xseries.oauth.seed_pair(3600)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert requests.get(url(xseries, "/outlets"), headers=headers, timeout=5).status_code == 200
    xseries.oauth.expire_access_tokens()
    assert requests.get(url(xseries, "/outlets"), headers=headers, timeout=5).status_code == 401


def test_connect_redirects_with_code_and_state(xseries):
    app = xseries.oauth.app
    resp = requests.get(
        f"{xseries.base_url}/connect",
        params={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "state": "s1",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert (
        location.startswith(app.redirect_uri)
        and "state=s1" in location
        and "domain_prefix=posync" in location
    )


# -- consignments -----------------------------------------------------------------------------------


def test_supplier_order_state_machine(api, xseries):
    order = new_order(api, xseries, wrapped=False)
    cid = order["id"]
    assert order["status"] == "OPEN" and order["type"] == "SUPPLIER"
    # the status cannot change while the order has no products
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "SENT"}, timeout=5).status_code == 422
    )
    p1, p2 = product_id(xseries, "SKU-00001"), product_id(xseries, "SKU-00002")
    bulk = api.post(
        url(xseries, f"/consignments/{cid}/bulk"),
        json=[{"product_id": p1, "count": 10}, {"product_id": p2, "count": "2.5"}],
        timeout=5,
    )
    assert bulk.status_code == 200
    assert bulk.json()["data"][p1]["count"] == "10.00000"
    # count accumulates in OPEN
    again = api.post(
        url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1, "count": 5}], timeout=5
    )
    assert again.json()["data"][p1]["count"] == "15.00000"
    # RECEIVED needs a non-zero received first
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "RECEIVED"}, timeout=5).status_code
        == 422
    )
    # received on an OPEN supplier order auto-marks it DISPATCHED; received then accumulates
    api.post(url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1, "received": 4}], timeout=5)
    assert api.get(url(xseries, f"/consignments/{cid}"), timeout=5).json()["data"]["status"] == "DISPATCHED"
    got = api.post(
        url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1, "received": 6}], timeout=5
    )
    assert got.json()["data"][p1]["received"] == "10.00000"
    # count is frozen after dispatch, and lines cannot be removed
    frozen = api.post(
        url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1, "count": 1}], timeout=5
    )
    assert frozen.status_code == 422
    assert api.delete(url(xseries, f"/consignments/{cid}/products/{p2}"), timeout=5).status_code == 422
    done = api.put(url(xseries, f"/consignments/{cid}"), json={"data": {"status": "RECEIVED"}}, timeout=5)
    assert done.status_code == 200 and done.json()["data"]["received_at"]
    # nothing changes a RECEIVED order
    assert api.put(url(xseries, f"/consignments/{cid}"), json={"name": "x"}, timeout=5).status_code == 422
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "CANCELLED"}, timeout=5).status_code
        == 422
    )
    totals = api.get(url(xseries, f"/consignments/{cid}/totals"), timeout=5).json()["data"][0]
    assert totals["total_received_count"] == "10.00000" and totals["total_sent_count"] == "17.50000"


def test_bulk_is_all_or_nothing_and_refuses_composites(api, xseries):
    cid = new_order(api, xseries)["id"]
    p1 = product_id(xseries, "SKU-00003")
    kit = product_id(xseries, "KIT-00001")
    resp = api.post(
        url(xseries, f"/consignments/{cid}/bulk"),
        json=[{"product_id": p1, "count": 3}, {"product_id": kit, "count": 1}],
        timeout=5,
    )
    assert resp.status_code == 422 and "composite" in resp.json()["message"]
    lines = api.get(url(xseries, f"/consignments/{cid}/products"), timeout=5).json()["data"]
    assert lines == []
    negative = api.post(
        url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1, "count": -1}], timeout=5
    )
    assert negative.status_code == 422
    assert (
        api.post(url(xseries, f"/consignments/{cid}/bulk"), json=[{"product_id": p1}], timeout=5).status_code
        == 400
    )
    xseries.set_knobs(bulk_max=2)
    big = [{"product_id": product_id(xseries, f"SKU-{i:05d}"), "count": 1} for i in range(4, 7)]
    assert api.post(url(xseries, f"/consignments/{cid}/bulk"), json=big, timeout=5).status_code == 400


def test_cannot_create_dispatched_or_received(api, xseries):
    for status in ("DISPATCHED", "RECEIVED"):
        body = {"type": "SUPPLIER", "status": status, "outlet_id": outlet_id(xseries)}
        assert api.post(url(xseries, "/consignments"), json=body, timeout=5).status_code == 422


def test_delete_is_204_without_body_and_refused_once_dispatched(api, xseries):
    cid = new_order(api, xseries)["id"]
    resp = api.delete(url(xseries, f"/consignments/{cid}"), timeout=5)
    assert resp.status_code == 204 and resp.content == b""
    assert api.get(url(xseries, f"/consignments/{cid}"), timeout=5).status_code == 404
    cid2 = new_order(api, xseries)["id"]
    p1 = product_id(xseries, "SKU-00009")
    api.post(
        url(xseries, f"/consignments/{cid2}/bulk"),
        json=[{"product_id": p1, "count": 2, "received": 1}],
        timeout=5,
    )
    assert api.delete(url(xseries, f"/consignments/{cid2}"), timeout=5).status_code == 409


def test_outlet_transfer_state_machine(api, xseries):
    body = {
        "type": "OUTLET",
        "status": "OPEN",
        "outlet_id": outlet_id(xseries, "Store Airport"),
        "source_outlet_id": outlet_id(xseries, "Main Warehouse"),
    }
    cid = api.post(url(xseries, "/consignments"), json=body, timeout=5).json()["data"]["id"]
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "CANCELLED"}, timeout=5).status_code
        == 422
    )
    p1 = product_id(xseries, "SKU-00010")
    line = api.post(
        url(xseries, f"/consignments/{cid}/products"),
        json={"data": {"product_id": p1, "count": 4}},
        timeout=5,
    )
    assert line.status_code == 201 and line.json()["data"]["count"] == "4.00000"
    # received is not allowed before SENT, and OUTLET has no DISPATCHED
    assert (
        api.put(
            url(xseries, f"/consignments/{cid}/products/{p1}"), json={"received": 4}, timeout=5
        ).status_code
        == 422
    )
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "DISPATCHED"}, timeout=5).status_code
        == 422
    )
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "SENT"}, timeout=5).status_code == 200
    )
    assert api.delete(url(xseries, f"/consignments/{cid}/products/{p1}"), timeout=5).status_code == 422
    assert (
        api.put(
            url(xseries, f"/consignments/{cid}/products/{p1}"), json={"received": 4}, timeout=5
        ).status_code
        == 200
    )
    assert (
        api.put(url(xseries, f"/consignments/{cid}"), json={"status": "RECEIVED"}, timeout=5).status_code
        == 200
    )
    missing_source = {"type": "OUTLET", "outlet_id": outlet_id(xseries)}
    assert api.post(url(xseries, "/consignments"), json=missing_source, timeout=5).status_code == 400


# -- the version cursor -----------------------------------------------------------------------------


def test_version_cursor_pages_until_empty(api, xseries):
    seen: list[dict[str, Any]] = []
    after = 0
    pages = 0
    while True:
        body = api.get(url(xseries, "/products"), params={"after": after, "page_size": 7}, timeout=5).json()
        pages += 1
        if not body["data"]:
            assert body["version"] == {"min": None, "max": None}
            break
        versions = [p["version"] for p in body["data"]]
        assert body["version"] == {"min": min(versions), "max": max(versions)}
        seen += body["data"]
        after = body["version"]["max"]
    assert len(seen) == len(xseries.store.products) == len({p["id"] for p in seen})
    assert pages == -(-len(seen) // 7) + 1
    versions = [p["version"] for p in seen]
    assert versions == sorted(versions) and any(
        b - a > 1 for a, b in zip(versions, versions[1:], strict=False)
    )


def test_version_cursor_is_a_change_feed(api, xseries):
    top = (
        api.get(url(xseries, "/consignments"), params={"page_size": 10000}, timeout=5).json()["version"][
            "max"
        ]
        or 0
    )
    cid = new_order(api, xseries)["id"]
    changed = api.get(
        url(xseries, "/consignments"), params={"after": top, "type": "SUPPLIER"}, timeout=5
    ).json()
    assert [c["id"] for c in changed["data"]] == [cid]
    api.delete(url(xseries, f"/consignments/{cid}"), timeout=5)
    quiet = api.get(
        url(xseries, "/consignments"), params={"after": changed["version"]["max"]}, timeout=5
    ).json()
    assert quiet["data"] == []
    with_deleted = api.get(
        url(xseries, "/consignments"),
        params={"after": changed["version"]["max"], "deleted": "true"},
        timeout=5,
    ).json()
    assert [c["id"] for c in with_deleted["data"]] == [cid] and with_deleted["data"][0]["deleted_at"]


# -- rate budget, errors, faults --------------------------------------------------------------------


def test_budget_429_with_http_date_retry_after(api, xseries):
    first = api.get(url(xseries, "/outlets"), timeout=5)
    assert first.headers["X-RateLimit-Limit"] == "350"  # 300 × 1 register + 50
    xseries.budget.reset()
    xseries.set_knobs(rate_limit=3, rate_window_seconds=60)
    codes = [api.get(url(xseries, "/outlets"), timeout=5) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in codes[:3]] == ["2", "1", "0"]
    refused = codes[3]
    assert refused.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
    retry_at = parsedate_to_datetime(refused.headers["Retry-After"])  # an RFC 1123 date, not seconds
    assert refused.headers["Retry-After"].endswith(" GMT")
    assert 0 < (retry_at - datetime.now(UTC)).total_seconds() <= 61


def test_registers_drive_the_budget(api, xseries):
    xseries.set_knobs(registers=3)
    assert api.get(url(xseries, "/registers"), timeout=5).headers["X-RateLimit-Limit"] == "950"
    regs = api.get(url(xseries, "/registers"), timeout=5).json()["data"]
    assert len(regs) == 1


def test_legacy_error_shape_knob(api, xseries):
    xseries.set_knobs(error_shape="legacy")
    resp = api.get(url(xseries, "/consignments/does-not-exist"), timeout=5)
    assert resp.status_code == 404 and "global" in resp.json()["errors"] and resp.json()["reference"]


def test_injected_faults(api, xseries):
    xseries.inject_fault("503", count=1, path_contains="/outlets")
    assert api.get(url(xseries, "/outlets"), timeout=5).status_code == 503
    assert api.get(url(xseries, "/outlets"), timeout=5).status_code == 200
    xseries.inject_fault("drop", path_contains="/outlets")
    with pytest.raises(requests.ConnectionError):
        requests.get(url(xseries, "/outlets"), headers=dict(api.headers), timeout=5)
    xseries.inject_fault("503", path_contains="/api/1.0/token")
    assert token(xseries, grant_type="refresh_token", refresh_token="x").status_code == 503


# -- suppliers and staff ----------------------------------------------------------------------------


def test_suppliers_crud_shapes(api, xseries):
    created = api.post(url(xseries, "/suppliers"), json={"name": "Wonka Supply"}, timeout=5)
    assert created.status_code == 201
    sid = created.json()["data"]
    assert isinstance(sid, str)
    gone = api.delete(url(xseries, f"/suppliers/{sid}"), timeout=5).json()["data"]
    assert gone["id"] == sid and gone["job_id"]


def test_staff_create_and_receive(xseries):
    order = xseries.staff.create_supplier_order(
        outlet="Store Downtown", supplier="Acme Supply", lines={"SKU-00011": 3}
    )
    assert order["status"] == "OPEN" and order["id"] not in xseries.store.created_via_api
    received = xseries.staff.receive(order["id"])
    assert received["status"] == "RECEIVED"
    transfer = xseries.staff.create_transfer(
        source="Main Warehouse", destination="Store Airport", lines={"SKU-00012": 2}
    )
    assert transfer["type"] == "OUTLET" and transfer["status"] == "OPEN"
    assert xseries.staff.receive(transfer["id"], {"SKU-00012": 1})["status"] == "RECEIVED"
