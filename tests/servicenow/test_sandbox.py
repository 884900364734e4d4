"""The ServiceNow stand-in against a client written from ServiceNow's public docs (plain requests)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from po_sync_sandbox.servicenow.actor import Line, ProcurementActor
from po_sync_sandbox.servicenow.schema import PRIMARY_PO, STAGING_LINE, STAGING_PO
from po_sync_sandbox.servicenow.store import parse_query


def _url(service: Any, path: str) -> str:
    return f"{service.base_url}{path}"


def _seed(service: Any, pos: int = 3) -> list[str]:
    actor = ProcurementActor(service.store)
    actor.seed_mappings()
    return [
        actor.create_po(f"VEND-000{i + 1}", [Line("ITEM-00001", 5), Line("ITEM-00002", 2)])
        for i in range(pos)
    ]


def test_https_only_with_the_published_ca(servicenow: Any) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(_url(servicenow, "/api/now/table/sys_user"), verify=True, timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{servicenow.port}/api/now/table/sys_user", timeout=5)
    info = servicenow.info()
    assert info.endpoints["ca_file"] == str(servicenow.ca_file)
    assert info.connections["servicenow_default"]["host"].startswith("https://")


def test_missing_or_wrong_auth_is_401_with_the_error_body(servicenow: Any) -> None:
    url = _url(servicenow, "/api/now/table/sn_shop_purchase_order")
    anonymous = requests.get(url, verify=str(servicenow.ca_file), timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure",
    }
    wrong = requests.get(url, verify=str(servicenow.ca_file), auth=("s2p.integration", "nope"), timeout=5)
    assert wrong.status_code == 401


def test_list_pages_with_total_count_and_link(servicenow: Any, sn_client: Any) -> None:
    _seed(servicenow, pos=5)
    url = _url(servicenow, f"/api/now/table/{STAGING_LINE}")
    response = sn_client.get(
        url, params={"sysparm_limit": 4, "sysparm_offset": 4, "sysparm_query": "ORDERBYsys_id"}
    )
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "10"
    assert len(response.json()["result"]) == 4
    links = {
        part.split(";rel=")[1].strip('"'): part.split(";")[0].strip("<>")
        for part in response.headers["Link"].split(",")
    }
    assert set(links) == {"first", "prev", "next", "last"}
    nxt = parse_qs(urlsplit(links["next"]).query)
    assert nxt["sysparm_offset"] == ["8"] and nxt["sysparm_limit"] == ["4"]
    assert nxt["sysparm_query"] == ["ORDERBYsys_id"]
    assert parse_qs(urlsplit(links["last"]).query)["sysparm_offset"] == ["8"]
    # following Link rel=next until it ends reads every row exactly once
    seen, next_url = [], url + "?sysparm_limit=3"
    while next_url:
        page = sn_client.get(next_url)
        seen += [r["sys_id"] for r in page.json()["result"]]
        rels = dict(
            (p.split(";rel=")[1].strip('"'), p.split(";")[0].strip("<>"))
            for p in page.headers["Link"].split(",")
        )
        next_url = rels.get("next")
    assert len(seen) == len(set(seen)) == 10
    suppressed = sn_client.get(url, params={"sysparm_suppress_pagination_header": "true"})
    assert "Link" not in suppressed.headers and suppressed.headers["X-Total-Count"] == "10"


def test_encoded_queries_with_dot_walk_or_in_and_order(servicenow: Any, sn_client: Any) -> None:
    numbers = _seed(servicenow, pos=3)
    header = servicenow.store.rows(STAGING_PO, purchase_order_number=numbers[1])[0]
    servicenow.store.update(STAGING_PO, header["sys_id"], {"integration_status": "20"})
    url = _url(servicenow, f"/api/now/table/{STAGING_LINE}")
    walked = sn_client.get(url, params={"sysparm_query": "purchase_order.integration_status=20"}).json()[
        "result"
    ]
    assert {r["purchase_order"]["value"] for r in walked} == {header["sys_id"]}
    assert len(walked) == 2
    either = sn_client.get(
        _url(servicenow, f"/api/now/table/{STAGING_PO}"),
        params={
            "sysparm_query": f"purchase_order_number={numbers[0]}^ORpurchase_order_number={numbers[2]}^ORDERBYDESCpurchase_order_number"
        },
    ).json()["result"]
    assert [r["purchase_order_number"] for r in either] == [numbers[2], numbers[0]]
    listed = sn_client.get(
        _url(servicenow, f"/api/now/table/{STAGING_PO}"),
        params={
            "sysparm_query": "integration_statusIN10,20^purchase_order_numberSTARTSWITHPO^supplier_idLIKE0002"
        },
    ).json()["result"]
    assert [r["purchase_order_number"] for r in listed] == [numbers[1]]
    not_in = sn_client.get(
        _url(servicenow, f"/api/now/table/{STAGING_PO}"), params={"sysparm_query": "integration_status!=10"}
    ).json()["result"]
    assert len(not_in) == 1
    # plain name=value pairs filter too
    plain = sn_client.get(
        _url(servicenow, f"/api/now/table/{STAGING_PO}"), params={"purchase_order_number": numbers[0]}
    )
    assert plain.headers["X-Total-Count"] == "1"


def test_invalid_query_parts_are_ignored_unless_the_property_says_no_rows(
    servicenow: Any, sn_client: Any
) -> None:
    _seed(servicenow, pos=2)
    url = _url(servicenow, f"/api/now/table/{STAGING_PO}")
    assert sn_client.get(url, params={"sysparm_query": "no_such_field=1"}).headers["X-Total-Count"] == "2"
    servicenow.set_knobs(invalid_query_returns_no_rows=True)
    assert sn_client.get(url, params={"sysparm_query": "no_such_field=1"}).headers["X-Total-Count"] == "0"


def test_display_values_fields_and_reference_links(servicenow: Any, sn_client: Any) -> None:
    numbers = _seed(servicenow, pos=1)
    url = _url(servicenow, f"/api/now/table/{STAGING_LINE}")
    fields = "purchase_order,integration_status,purchase_order.purchase_order_number,no_such"
    raw = sn_client.get(url, params={"sysparm_fields": fields, "sysparm_limit": 1}).json()["result"][0]
    assert set(raw) == {"purchase_order", "integration_status", "purchase_order.purchase_order_number"}
    assert raw["integration_status"] == "10"
    assert raw["purchase_order"]["link"].startswith(f"{servicenow.base_url}/api/now/table/{STAGING_PO}/")
    assert raw["purchase_order.purchase_order_number"] == numbers[0]
    shown = sn_client.get(
        url,
        params={
            "sysparm_fields": fields,
            "sysparm_limit": 1,
            "sysparm_display_value": "true",
            "sysparm_exclude_reference_link": "true",
        },
    ).json()["result"][0]
    assert shown["integration_status"] == "New" and shown["purchase_order"] == numbers[0]
    both = sn_client.get(
        url, params={"sysparm_fields": fields, "sysparm_limit": 1, "sysparm_display_value": "all"}
    ).json()["result"][0]
    assert both["integration_status"] == {"display_value": "New", "value": "10"}
    assert both["purchase_order"]["display_value"] == numbers[0] and "link" in both["purchase_order"]


def test_record_crud_status_codes(servicenow: Any, sn_client: Any) -> None:
    url = _url(servicenow, "/api/now/table/sn_shop_purchasing_task")
    created = sn_client.post(url, json={"short_description": "Integration error", "priority": 2})
    assert created.status_code == 201
    record = created.json()["result"]
    assert record["priority"] == "2" and record["number"].startswith("PTSK")
    assert created.headers["Location"] == f"{url}/{record['sys_id']}"
    patched = sn_client.patch(f"{url}/{record['sys_id']}", json={"state": "3"})
    assert patched.status_code == 200 and patched.json()["result"]["state"] == "3"
    quiet = sn_client.patch(
        f"{url}/{record['sys_id']}", json={"state": "4"}, headers={"X-no-response-body": "true"}
    )
    assert quiet.status_code == 200 and quiet.content == b""
    assert sn_client.delete(f"{url}/{record['sys_id']}").status_code == 204
    missing = sn_client.get(f"{url}/{record['sys_id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No Record found" and missing.json()["status"] == "failure"
    assert sn_client.get(_url(servicenow, "/api/now/table/no_such_table")).status_code == 400
    assert (
        sn_client.post(url, data="not json", headers={"Content-Type": "application/json"}).status_code == 400
    )


def test_empty_list_is_200_on_v2_and_404_on_v1(servicenow: Any, sn_client: Any) -> None:
    query = {"sysparm_query": "number=NOPE"}
    assert sn_client.get(_url(servicenow, f"/api/now/v2/table/{PRIMARY_PO}"), params=query).json() == {
        "result": []
    }
    assert sn_client.get(_url(servicenow, f"/api/now/v1/table/{PRIMARY_PO}"), params=query).status_code == 404


def test_oauth_password_grant_refresh_and_form_encoding(servicenow: Any) -> None:
    creds = servicenow.credentials
    token_url = _url(servicenow, "/oauth_token.do")
    form = {
        "grant_type": "password",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "username": creds["username"],
        "password": creds["password"],
    }
    as_json = requests.post(token_url, json=form, verify=str(servicenow.ca_file), timeout=5)
    assert as_json.status_code == 400
    token = requests.post(token_url, data=form, verify=str(servicenow.ca_file), timeout=5).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1800 and token["refresh_token"]
    url = _url(servicenow, f"/api/now/table/{PRIMARY_PO}")
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(url, headers=bearer, verify=str(servicenow.ca_file), timeout=5).status_code == 200
    servicenow.auth.expire_tokens()
    assert requests.get(url, headers=bearer, verify=str(servicenow.ca_file), timeout=5).status_code == 401
    refreshed = requests.post(
        token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": token["refresh_token"],
        },
        verify=str(servicenow.ca_file),
        timeout=5,
    ).json()
    again = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert requests.get(url, headers=again, verify=str(servicenow.ca_file), timeout=5).status_code == 200
    cc = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        verify=str(servicenow.ca_file),
        timeout=5,
    )
    assert cc.status_code == 400  # off unless the instance property enables it


def test_rate_limit_rule_answers_429_with_retry_after_seconds(servicenow: Any, sn_client: Any) -> None:
    servicenow.set_knobs(rate_limit_per_hour=2, retry_after_seconds=7)
    url = _url(servicenow, f"/api/now/table/{PRIMARY_PO}")
    first = sn_client.get(url)
    assert first.status_code == 200 and first.headers["X-RateLimit-Limit"] == "2"
    assert int(first.headers["X-RateLimit-Reset"]) > 0 and first.headers["X-RateLimit-Rule"]
    assert sn_client.get(url).status_code == 200
    limited = sn_client.get(url)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json()["status"] == "failure"


def test_batch_api_services_table_requests(servicenow: Any, sn_client: Any) -> None:
    numbers = _seed(servicenow, pos=2)
    header = servicenow.store.rows(STAGING_PO, purchase_order_number=numbers[0])[0]
    body = base64.b64encode(json.dumps({"integration_status": "20"}).encode()).decode()
    batch = {
        "batch_request_id": "1",
        "rest_requests": [
            {
                "id": "a",
                "method": "PATCH",
                "url": f"/api/now/table/{STAGING_PO}/{header['sys_id']}",
                "headers": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Accept", "value": "application/json"},
                ],
                "body": body,
            },
            {
                "id": "b",
                "method": "GET",
                "url": f"/api/now/table/{STAGING_PO}?sysparm_query=integration_status=20",
                "headers": [],
            },
            {"id": "c", "method": "GET", "url": f"/api/now/table/{STAGING_PO}/nope", "headers": []},
        ],
    }
    answer = sn_client.post(_url(servicenow, "/api/now/v1/batch"), json=batch).json()
    assert answer["batch_request_id"] == "1" and answer["unserviced_requests"] == []
    by_id = {r["id"]: r for r in answer["serviced_requests"]}
    assert by_id["a"]["status_code"] == 200
    listed = json.loads(base64.b64decode(by_id["b"]["body"]))
    assert [r["sys_id"] for r in listed["result"]] == [header["sys_id"]]
    assert {"name": "X-Total-Count", "value": "1"} in by_id["b"]["headers"]
    assert by_id["c"]["status_code"] == 404
    assert servicenow.store.get(STAGING_PO, header["sys_id"])["integration_status"] == "20"


def test_business_rules_move_the_po_when_staging_is_processed(servicenow: Any, sn_client: Any) -> None:
    numbers = _seed(servicenow, pos=1)
    header = servicenow.store.rows(STAGING_PO, purchase_order_number=numbers[0])[0]
    sn_client.patch(
        _url(servicenow, f"/api/now/table/{STAGING_PO}/{header['sys_id']}"), json={"integration_status": "40"}
    )
    assert servicenow.store.get(PRIMARY_PO, header["purchase_order"])["status"] == "pending_submission"
    sn_client.patch(
        _url(servicenow, f"/api/now/table/{STAGING_PO}/{header['sys_id']}"), json={"integration_status": "30"}
    )
    assert servicenow.store.get(PRIMARY_PO, header["purchase_order"])["status"] == "ordered"


def test_query_parser_reads_or_binding_and_order() -> None:
    query = parse_query("a=1^b=2^ORc!=3^ORDERBYDESCd^eISEMPTY")
    assert [[(t.field, t.op, t.value) for t in g] for g in query.disjuncts[0]] == [
        [("a", "=", "1")],
        [("b", "=", "2"), ("c", "!=", "3")],
        [("e", "ISEMPTY", "")],
    ]
    assert query.order == [("d", True)]


def test_import_set_api_shapes(servicenow: Any, sn_client: Any) -> None:
    url = _url(servicenow, "/api/now/import/sn_fcms_intg_imp_order")
    created = sn_client.post(url, json={"number": "PO5", "erp_number": 4500000005})
    assert created.status_code == 201
    body = created.json()
    assert body["staging_table"] == "sn_fcms_intg_imp_order" and body["import_set"]
    (result,) = body["result"]
    assert result["status"] == "inserted" and result["table"] == PRIMARY_PO
    assert result["display_name"] == "number" and result["display_value"] == "PO5"
    assert result["record_link"].endswith(f"/api/now/table/{PRIMARY_PO}/{result['sys_id']}")
    staged = servicenow.store.rows("sn_fcms_intg_imp_order")[0]
    again = sn_client.get(f"{url}/{staged['sys_id']}").json()
    assert again["result"][0]["sys_id"] == result["sys_id"]
    assert sn_client.post(_url(servicenow, "/api/now/import/sys_user"), json={}).status_code == 400
