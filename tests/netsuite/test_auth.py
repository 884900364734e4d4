"""Both of NetSuite's auth modes against the sandbox, and the signature edge cases."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requests_oauthlib import OAuth1

from po_sync.exceptions import AuthenticationError, ConfigurationError
from po_sync.netsuite.account import NetSuiteAccount
from po_sync_sandbox.netsuite import NetSuiteService
from po_sync_sandbox.netsuite.nsauth import hmac_sha256_signature, signature_base_string


def test_account_ids_normalise_to_host_and_realm() -> None:
    account = NetSuiteAccount("1234567_sb1")
    assert account.realm == "1234567_SB1"
    assert account.host == "1234567-sb1.suitetalk.api.netsuite.com"
    assert NetSuiteAccount("1234567-SB1").realm == "1234567_SB1"
    assert (
        NetSuiteAccount("1234567", base_url_override="http://127.0.0.1:9/").rest_root
        == "http://127.0.0.1:9/services/rest"
    )
    with pytest.raises(ConfigurationError):
        NetSuiteAccount("12 34")


def test_sandbox_verifier_matches_the_reference_vector() -> None:
    """The oauthlib-computed vector from reference/netsuite.md §3.1."""
    params = {
        "oauth_consumer_key": "ck",
        "oauth_token": "tk",
        "oauth_nonce": "abc123nonce",
        "oauth_timestamp": "1700000000",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_version": "1.0",
        "realm": "1234567_SB1",
    }
    base = signature_base_string(
        "POST",
        "https",
        "1234567-sb1.suitetalk.api.netsuite.com",
        "/services/rest/query/v1/suiteql",
        "limit=5&offset=0",
        params,
        None,
    )
    assert base.startswith("POST&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservices")
    assert hmac_sha256_signature(base, "cs", "ts") == "REJY8E6t9NM0IfOKxLPW7jrtMH8GP8G4IaBHsFSc280="
    base = signature_base_string(
        "GET",
        "https",
        "1234567-sb1.suitetalk.api.netsuite.com",
        "/services/rest/record/v1/purchaseOrder/101",
        "expandSubResources=true",
        params,
        None,
    )
    assert hmac_sha256_signature(base, "cs", "ts") == "DLyDSE15h90G+5Z91ykrMiWi42StsCEPbUlNealCLxU="


def test_tba_connection_works(make_hook) -> None:
    ok, message = make_hook("tba").test_connection()
    assert ok, message
    assert "1234567_SB1" in message


@pytest.mark.parametrize("algorithm", ["ES256", "PS256"])
def test_m2m_connection_works_and_caches_the_token(
    make_hook, netsuite: NetSuiteService, algorithm: str
) -> None:
    hook = make_hook("m2m", algorithm=algorithm)
    ok, message = hook.test_connection()
    assert ok, message
    for _ in range(3):
        hook.get_record("vendor", "1")
    assert hook.get_conn().session.auth.tokens_fetched == 1


def test_m2m_refetches_a_token_nnetsuite_expired(make_hook, netsuite: NetSuiteService) -> None:
    hook = make_hook("m2m")
    hook.get_record("vendor", "1")
    netsuite.authenticator.expire_tokens()
    assert hook.get_record("vendor", "1").id == "1"
    assert hook.get_conn().session.auth.tokens_fetched == 2


def test_wrong_tba_secret_is_refused_without_leaking_it(make_hook) -> None:
    hook = make_hook("tba", token_secret="not-the-secret-0123456789")
    with pytest.raises(AuthenticationError) as info:
        hook.get_record("vendor", "1")
    assert info.value.code == "INVALID_LOGIN" and info.value.status == 401
    assert "not-the-secret" not in str(info.value) and "not-the-secret" not in repr(info.value.__dict__)
    ok, message = hook.test_connection()
    assert not ok and "INVALID_LOGIN" in message


def test_wrong_m2m_key_is_refused(make_hook) -> None:
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    hook = make_hook("m2m", private_key=other, concurrency=2)
    with pytest.raises(AuthenticationError) as info:
        hook.get_record("vendor", "1")
    assert info.value.status == 400 and info.value.code == "invalid_grant"


def test_transform_path_and_q_with_spaces_and_plus_are_signed_correctly(
    hook, netsuite: NetSuiteService
) -> None:
    po = netsuite.created["purchaseOrder"][1]
    result = hook.transform_record(
        "purchaseOrder",
        po,
        "vendorBill" if False else "itemReceipt",
        {"item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 1}]}},
    )
    assert result.record_type == "itemReceipt"
    # requests sends spaces as '+' and a literal '+' as %2B; both must verify
    assert list(hook.list_records("vendor", q='companyName CONTAIN "a+b c"')) == []
    refs = list(hook.list_records("vendor", q='companyName START_WITH "Hooli Supply"'))
    assert refs and all(ref.href and ref.href.startswith(netsuite.base_url) for ref in refs)


def test_replayed_nonce_and_unsigned_requests_are_refused(netsuite: NetSuiteService) -> None:
    creds = netsuite.credentials
    auth = OAuth1(
        creds.consumer_key,
        creds.consumer_secret,
        creds.token_id,
        creds.token_secret,
        realm=netsuite.realm,
        signature_method="HMAC-SHA256",
    )
    url = f"{netsuite.base_url}/services/rest/record/v1/vendor/1"
    prepared = requests.Request("GET", url, auth=auth).prepare()
    with requests.Session() as session:
        assert session.send(prepared).status_code == 200
        again = session.send(prepared)
        assert again.status_code == 401
        assert again.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
        assert session.get(url).status_code == 401
        wrong_realm = OAuth1(
            creds.consumer_key,
            creds.consumer_secret,
            creds.token_id,
            creds.token_secret,
            realm="1234567",
            signature_method="HMAC-SHA256",
        )
        assert session.get(url, auth=wrong_realm).status_code == 401


def test_oauth_body_hash_is_part_of_the_signed_set(netsuite: NetSuiteService) -> None:
    """authlib-style clients add oauth_body_hash; it must be signed and must match the body.

    The header is built with oauthlib's own RFC 5849 primitives, independent of the sandbox's verifier.
    """
    import time
    import uuid

    from oauthlib.oauth1.rfc5849 import signature as sig
    from oauthlib.oauth1.rfc5849.utils import escape

    creds = netsuite.credentials
    body = json.dumps({"q": "SELECT id FROM vendor ORDER BY id"})
    url = f"{netsuite.base_url}/services/rest/query/v1/suiteql?limit=5&offset=0"
    for hashed_body, sent_body, expected in ((body, body, 200), (body, body + " ", 401)):
        oauth = [
            ("oauth_consumer_key", creds.consumer_key),
            ("oauth_token", creds.token_id),
            ("oauth_nonce", uuid.uuid4().hex),
            ("oauth_timestamp", str(int(time.time()))),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_version", "1.0"),
            ("oauth_body_hash", base64.b64encode(hashlib.sha1(hashed_body.encode()).digest()).decode()),
        ]
        params = (
            sig.collect_parameters(uri_query="limit=5&offset=0", headers={}, exclude_oauth_signature=True)
            + oauth
        )
        base = sig.signature_base_string("POST", sig.base_string_uri(url), sig.normalize_parameters(params))
        signature = sig.sign_hmac_sha256(base, creds.consumer_secret, creds.token_secret)
        header = "OAuth " + ", ".join(
            [f'realm="{netsuite.realm}"']
            + [f'{k}="{escape(v)}"' for k, v in oauth + [("oauth_signature", signature)]]
        )
        headers = {"Authorization": header, "Content-Type": "application/json", "Prefer": "transient"}
        response = requests.post(url, data=sent_body, headers=headers, timeout=10)
        assert response.status_code == expected, response.text


@pytest.mark.parametrize(("fault", "status"), [("503", 503), ("500", 500), ("429", 429)])
def test_token_endpoint_failure_keeps_its_status_and_is_retriable(
    make_hook, netsuite: NetSuiteService, fault: str, status: int
) -> None:
    """Issue 10 item 5b: every non-200 of the token endpoint used to become INVALID_LOGIN (fatal)."""
    from po_sync.exceptions import LoginUnavailableError, RetriableError
    from po_sync.netsuite.transport import RetryPolicy

    hook = make_hook(
        "m2m", concurrency=2, retry=RetryPolicy(max_attempts=3, max_delay=5, base_wait=0.01, max_wait=0.02)
    )
    netsuite.inject_fault(fault, count=50, path_contains="/auth/oauth2/v1/token")
    try:
        with pytest.raises(LoginUnavailableError) as info:
            hook.get_record("vendor", "1")
    finally:
        netsuite.faults.clear()
    assert isinstance(info.value, RetriableError) and not isinstance(info.value, AuthenticationError)
    assert info.value.status == status and info.value.code != "INVALID_LOGIN"
    assert netsuite.faults.pending() == [] and hook.get_record("vendor", "1").id == "1"  # recovers
