"""``GET /rest/tokeninfo`` and SuiteQL's Oracle row limits (``FETCH FIRST n ROWS ONLY``, ``ROWNUM``), called
as a client written from Oracle's docs does: raw requests, signed with TBA or carrying an M2M bearer token."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from po_sync_sandbox.netsuite import NetSuiteService


def _auth(netsuite: NetSuiteService) -> OAuth1:
    creds = netsuite.credentials
    return OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        creds.token_secret,
        realm=netsuite.realm,
        signature_method="HMAC-SHA256",
    )


# -- tokeninfo --------------------------------------------------------------------------------------


def test_tokeninfo_with_tba(netsuite: NetSuiteService) -> None:
    response = requests.get(f"{netsuite.base_url}/rest/tokeninfo", auth=_auth(netsuite), timeout=30)
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["companyId"] == netsuite.realm
    assert {"companyName", "roleId", "roleName", "entityId", "entityName"} <= set(info)
    assert isinstance(info["roleId"], int) and info["roleName"]
    assert info["authenticationType"] == "Token-based Authentication"
    assert netsuite.stats.by_route["GET tokeninfo"] == 1


def test_tokeninfo_with_an_m2m_bearer_token(make_hook, netsuite: NetSuiteService) -> None:
    hook = make_hook("m2m")
    bearer = hook.get_conn().session.auth  # the hook's M2M auth: fetches a token from the token endpoint
    response = requests.get(f"{netsuite.base_url}/rest/tokeninfo", auth=bearer, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["authenticationType"] == "OAuth 2.0"
    assert response.json()["companyId"] == netsuite.realm


def test_tokeninfo_refuses_bad_credentials(netsuite: NetSuiteService) -> None:
    url = f"{netsuite.base_url}/rest/tokeninfo"
    assert requests.get(url, timeout=30).status_code == 401
    response = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert response.status_code == 401
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    creds = netsuite.credentials
    wrong = OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        "not-the-secret",
        realm=netsuite.realm,
        signature_method="HMAC-SHA256",
    )
    assert requests.get(url, auth=wrong, timeout=30).status_code == 401


# -- SuiteQL row limits -----------------------------------------------------------------------------


def _suiteql(netsuite: NetSuiteService, q: str, **params: Any) -> requests.Response:
    return requests.post(
        f"{netsuite.base_url}/services/rest/query/v1/suiteql",
        params=params or None,
        json={"q": q},
        headers={"Prefer": "transient"},
        auth=_auth(netsuite),
        timeout=60,
    )


def _rows(netsuite: NetSuiteService, q: str, **params: Any) -> dict[str, Any]:
    response = _suiteql(netsuite, q, **params)
    assert response.status_code == 200, response.text
    return response.json()


def _po_ids(netsuite: NetSuiteService) -> list[int]:
    """Every purchase order id, ascending (other tests of the session add some)."""
    return sorted(
        int(r["id"]) for r in netsuite.store.query("SELECT id FROM \"transaction\" WHERE type = 'PurchOrd'")
    )


POS = "SELECT t.id FROM transaction t WHERE t.type = 'PurchOrd'"


def test_fetch_first_limits_the_result(netsuite: NetSuiteService) -> None:
    body = _rows(netsuite, f"{POS} ORDER BY t.id DESC FETCH FIRST 7 ROWS ONLY")
    assert [int(r["id"]) for r in body["items"]] == _po_ids(netsuite)[::-1][:7]
    assert body["totalResults"] == 7 and body["hasMore"] is False
    one = _rows(netsuite, f"{POS} ORDER BY t.id FETCH FIRST ROW ONLY")
    assert [int(r["id"]) for r in one["items"]] == _po_ids(netsuite)[:1]
    nxt = _rows(netsuite, f"{POS} ORDER BY t.id OFFSET 5 ROWS FETCH NEXT 3 ROWS ONLY")
    assert [int(r["id"]) for r in nxt["items"]] == _po_ids(netsuite)[5:8]
    # a string literal that looks like the clause stays a string
    text = _rows(
        netsuite,
        "SELECT 'FETCH FIRST 2 ROWS ONLY' AS s FROM transaction t WHERE t.type = 'PurchOrd' FETCH FIRST 2 ROWS ONLY",
    )
    assert [r["s"] for r in text["items"]] == ["FETCH FIRST 2 ROWS ONLY"] * 2


def test_fetch_first_pages_with_limit_and_offset(netsuite: NetSuiteService) -> None:
    """The REST ``limit``/``offset`` page over the FETCH-limited result, never past it."""
    q = f"{POS} ORDER BY t.id FETCH FIRST 25 ROWS ONLY"
    first = _rows(netsuite, q, limit=10, offset=0)
    assert first["count"] == 10 and first["totalResults"] == 25 and first["hasMore"] is True
    last = _rows(netsuite, q, limit=10, offset=20)
    assert last["count"] == 5 and last["hasMore"] is False
    pages = [first, _rows(netsuite, q, limit=10, offset=10), last]
    assert [int(r["id"]) for p in pages for r in p["items"]] == _po_ids(netsuite)[:25]
    assert not any(link["rel"] == "next" for link in last["links"])
    beyond = _rows(netsuite, q, limit=10, offset=30)
    assert beyond["count"] == 0 and beyond["items"] == []


def test_rownum_in_where_counts_rows_that_pass_the_other_conditions(netsuite: NetSuiteService) -> None:
    body = _rows(netsuite, f"{POS} AND t.id > 10 AND ROWNUM <= 5")
    ids = [int(r["id"]) for r in body["items"]]
    assert len(ids) == 5 and all(i > 10 for i in ids)
    assert set(ids) <= set(_po_ids(netsuite))
    assert body["totalResults"] == 5
    # Oracle's semantics: the first row tried is ROWNUM 1, so ROWNUM > 1 never matches and ROWNUM = 1 is one row
    assert _rows(netsuite, f"{POS} AND ROWNUM > 1")["totalResults"] == 0
    assert _rows(netsuite, f"{POS} AND ROWNUM = 1")["totalResults"] == 1
    assert (
        _rows(netsuite, "SELECT t.id FROM transaction t WHERE 3 >= ROWNUM AND t.type = 'PurchOrd'")["count"]
        == 3
    )
    # counted after a join's rows are filtered, before ORDER BY (the rows are then sorted)
    joined = _rows(
        netsuite,
        "SELECT tl.transaction, tl.linesequencenumber FROM transaction t JOIN transactionline tl "
        "ON tl.transaction = t.id WHERE t.type = 'PurchOrd' AND tl.mainline = 'F' AND ROWNUM < 4 "
        "ORDER BY tl.transaction DESC, tl.linesequencenumber DESC",
    )
    keys = [(int(r["transaction"]), int(r["linesequencenumber"])) for r in joined["items"]]
    assert len(keys) == 3 and keys == sorted(keys, reverse=True) and all(k[1] > 0 for k in keys)


def test_rownum_counts_again_for_each_query_and_each_page(netsuite: NetSuiteService) -> None:
    q = f"{POS} AND ROWNUM <= 12"
    first = _rows(netsuite, q, limit=5, offset=0)
    assert first["totalResults"] == 12 and first["count"] == 5
    rest = [_rows(netsuite, q, limit=5, offset=o) for o in (5, 10)]
    ids = [int(r["id"]) for p in (first, *rest) for r in p["items"]]
    assert len(ids) == len(set(ids)) == 12
    assert _rows(netsuite, f"{POS} AND ROWNUM <= 2")["totalResults"] == 2  # a new statement, a new count


def test_rownum_paging_pattern_from_the_suiteql_guides(netsuite: NetSuiteService) -> None:
    """ROWNUM numbered in a subquery over an ordered result, filtered outside: rows 11-20 of the order."""
    q = (
        "SELECT * FROM (SELECT ROWNUM AS rn, x.id FROM "
        "(SELECT t.id FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id DESC) x) "
        "WHERE rn BETWEEN 11 AND 20"
    )
    body = _rows(netsuite, q)
    assert [int(r["rn"]) for r in body["items"]] == list(range(11, 21))
    assert [int(r["id"]) for r in body["items"]] == _po_ids(netsuite)[::-1][10:20]
    plain = _rows(
        netsuite, "SELECT ROWNUM, t.id FROM transaction t WHERE t.type = 'PurchOrd' AND ROWNUM <= 3"
    )
    assert [r["rownum"] for r in plain["items"]] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "q",
    [
        f"{POS} AND ROWNUM <= t.id",  # ROWNUM against a column: not translated
        f"{POS} ORDER BY ROWNUM",
    ],
)
def test_untranslated_rownum_uses_are_invalid_parameter(netsuite: NetSuiteService, q: str) -> None:
    response = _suiteql(netsuite, q)
    assert response.status_code == 400
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_PARAMETER" and detail["o:errorQueryParam"] == "q"
