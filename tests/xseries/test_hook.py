"""The X-Series hook against the sandbox over real sockets: auth modes, rotating tokens (including two
processes refreshing at once), the version cursor, the shared rate budget and error mapping."""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from email.utils import formatdate
from pathlib import Path

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.xseries.connection import XSeriesSettings
from po_sync.xseries.errors import (
    DEFAULT_RETRY_AFTER,
    XSeriesAuthError,
    XSeriesRequestError,
    XSeriesUnavailable,
    retry_after_seconds,
)
from po_sync.xseries.tokens import FileTokenStore, TokenPair
from tests.xseries._workers import get_token


def _sku_id(xseries, sku):
    return xseries.store.product_by_sku(sku)["id"]


def _order_body(xseries, reference="PO-T"):
    return {
        "type": "SUPPLIER",
        "status": "OPEN",
        "outlet_id": xseries.store.outlet_by_name("Store Downtown")["id"],
        "reference": reference,
    }


# -- auth -------------------------------------------------------------------------------------------


def test_personal_token_mode(make_hook):
    hook = make_hook("personal")
    ok, message = hook.test_connection()
    assert ok and "3 outlet(s)" in message
    assert {o.name for o in hook.outlets()} == {"Main Warehouse", "Store Downtown", "Store Airport"}


def stored(hook) -> TokenPair | None:
    """The pair the hook's token store holds now (the ledger row, decrypted)."""
    return hook.token_store().read()


def store(hook, pair: TokenPair) -> None:
    with hook.token_store().locked() as held:
        held.write(pair)


def ledger_dump(url: str) -> str:
    """Every row of every ledger table as text: what someone reading the database would see."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return "\n".join(
                repr(tuple(row)) for name in names for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            )
    finally:
        engine.dispose()


def test_oauth_bootstraps_once_then_keeps_the_pair_encrypted_in_the_ledger(make_hook, xseries, ledger_conn):
    hook = make_hook("oauth")
    before = xseries.oauth.refreshed
    assert len(hook.outlets()) == 3
    pair = stored(hook)
    assert pair is not None and pair.generation == 1
    hook.outlets()
    hook.suppliers()
    assert xseries.oauth.refreshed == before + 1  # no refresh while the token is fresh
    # the bootstrap refresh token was rotated away: it is revoked now
    assert hook.settings.bootstrap_refresh_token not in xseries.oauth.refresh
    assert pair.refresh_token in xseries.oauth.refresh
    # in the ledger: the connection's row, Fernet-encrypted; no token in any row of any table
    info = hook.token_store().credentials.info()
    assert info["encrypted"] and info["generation"] == 1 and info["updated_by"] == "refresh:expiring"
    dump = ledger_dump(str(ledger_conn.engine.url))
    for secret in (pair.access_token, pair.refresh_token, hook.settings.client_secret):
        assert secret not in dump
    assert not Path(hook.settings.token_store_path).exists()  # the file store is not used


def test_refresh_before_expiry(make_hook, xseries):
    hook = make_hook("oauth")
    hook.outlets()
    pair = stored(hook)
    assert pair
    # five minutes left of a day-long token: inside the 10-minute margin, so refresh before use
    now = time.time()
    store(hook, TokenPair(pair.access_token, pair.refresh_token, now + 300, now - 86100, pair.generation))
    fresh = make_hook("oauth", conn_id="xseries_test", refresh_token="unused")  # a new process's view
    fresh.outlets()
    new = stored(hook)
    assert new and new.generation == pair.generation + 1 and new.access_token != pair.access_token


def test_a_401_refreshes_once_and_retries(make_hook, xseries):
    hook = make_hook("oauth")
    hook.outlets()
    generation = stored(hook).generation
    xseries.oauth.expire_access_tokens()  # the server ends them early; our clock still thinks they are good
    assert len(hook.outlets()) == 3
    assert stored(hook).generation == generation + 1


def test_revoked_refresh_token_is_a_clear_auth_error_and_nothing_is_half_written(
    make_hook, xseries, token_ledger, caplog
):
    hook = make_hook("oauth", conn_id="xseries_shop")
    hook.outlets()
    before, info = stored(hook), hook.token_store().credentials.info()
    xseries.oauth.revoke_all_refresh_tokens()
    xseries.oauth.expire_access_tokens()
    with pytest.raises(XSeriesAuthError) as info_:
        hook.outlets()
    err = info_.value
    assert err.code == "invalid_grant" and err.status == 400
    assert "xseries_shop" in str(err) and "authorize" in str(err)  # names the connection and the fix
    for secret in (before.access_token, before.refresh_token):
        assert secret not in str(err) and secret not in caplog.text
    assert stored(hook) == before and hook.token_store().credentials.info() == info  # untouched
    assert before.refresh_token not in ledger_dump(token_ledger)


def test_token_endpoint_down_is_retriable_and_keeps_the_refresh_token(make_hook, xseries):
    hook = make_hook("oauth")
    hook.outlets()
    pair = stored(hook)
    xseries.inject_fault("503", count=1, path_contains="/api/1.0/token")
    with pytest.raises(XSeriesUnavailable):
        hook.refresh_tokens()
    assert stored(hook) == pair and pair.refresh_token in xseries.oauth.refresh
    assert hook.refresh_tokens().generation == pair.generation + 1


def test_two_processes_refreshing_at_once_one_wins_no_lockout(make_hook, xseries, tmp_path, token_ledger):
    hook = make_hook("oauth", conn_id="xseries_race")
    hook.outlets()
    pair = stored(hook)
    now = time.time()
    store(hook, TokenPair(pair.access_token, pair.refresh_token, now + 5, now - 86000, pair.generation))
    conn = xseries.connection("oauth", refresh_token="not-used")
    barrier = tmp_path / "go"
    refreshed, rejected = xseries.oauth.refreshed, xseries.oauth.refresh_reuse_rejected
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(get_token, conn, token_ledger, str(barrier)) for _ in range(4)]
        time.sleep(1.0)  # let the workers start (not a timing assertion: they wait for the file)
        barrier.touch()
        tokens = {f.result(timeout=120) for f in futures}
    assert xseries.oauth.refreshed == refreshed + 1  # exactly one refresh
    assert xseries.oauth.refresh_reuse_rejected == rejected  # nobody used a rotated-away token
    winner = stored(hook)
    assert len(tokens) == 1 and tokens == {winner.access_token}  # the losers re-read the winner's pair
    assert winner.generation == pair.generation + 1
    assert (
        len(make_hook("oauth", conn_id="xseries_race", refresh_token="unused").outlets()) == 3
    )  # no lockout


def test_authorize_step_exchanges_the_code_and_stores_the_pair(make_hook, xseries):
    import requests

    hook = make_hook("oauth", refresh_token=None)
    url = hook.tokens.authorization_url(state="xyz", connect_url=f"{xseries.base_url}/connect")
    redirect = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(redirect).query)
    assert query["state"] == ["xyz"]
    pair = hook.tokens.exchange_code(query["code"][0], actor="alice")
    assert pair.generation == 0 and stored(hook) == pair
    assert hook.token_store().credentials.info()["updated_by"] == "authorize:alice"
    assert len(hook.outlets()) == 3


def test_no_refresh_token_at_all_says_authorize(make_hook):
    hook = make_hook("oauth", refresh_token=None, conn_id="xseries_new")
    with pytest.raises(XSeriesAuthError, match="xseries_new has no refresh token.*authorize"):
        hook.outlets()


def test_file_token_store_is_still_an_explicit_option(make_hook, xseries, tmp_path):
    path = tmp_path / "tokens.json"
    hook = make_hook("oauth", token_store="file", token_store_path=str(path))
    assert len(hook.outlets()) == 3
    pair = FileTokenStore(path).read()
    assert pair is not None and pair.generation == 1 and path.stat().st_mode & 0o077 == 0
    assert isinstance(hook.token_store(), FileTokenStore)


def test_a_ledger_store_without_fernet_key_is_refused_outside_a_sandbox(make_hook, monkeypatch):
    from airflow.models.crypto import get_fernet

    hook = make_hook("oauth")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", "False")
    get_fernet.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="fernet_key"):
            hook.outlets()
    finally:
        monkeypatch.undo()
        get_fernet.cache_clear()
    assert stored(hook) is None  # nothing half-written: the refresh never ran


# -- paging, budget, errors -------------------------------------------------------------------------


def test_version_cursor_reads_everything_once(make_hook, xseries):
    hook = make_hook("personal")
    pages = list(hook.pages("/products", page_size=8))
    ids = [p["id"] for page in pages for p in page.data]
    assert len(ids) == len(set(ids)) == len(xseries.store.products)
    assert pages[-1].max_version == max(p["version"] for p in xseries.store.products.values())
    assert hook.by_route["GET /products"] == len(pages) + 1  # the last call met the empty page


def test_rate_budget_is_spent_without_429s(make_hook, xseries):
    xseries.set_knobs(rate_limit=6, rate_window_seconds=0.5)
    hook = make_hook("personal", rate_window_seconds=0.5, registers=0)
    for _ in range(20):
        hook.outlets()
    assert xseries.budget.rejected <= 1  # at most the first window, before the client learnt the limit
    assert hook.budget.limit == 6
    assert hook.budget.waited_seconds > 0


def test_a_429_storm_is_waited_out(make_hook, xseries):
    hook = make_hook("personal")
    xseries.inject_fault("429", count=2, path_contains="/outlets")
    assert len(hook.outlets()) == 3
    assert hook.rate_limited == 2


def test_budget_is_shared_by_hooks_of_one_connection(make_hook, xseries, tmp_path):
    xseries.set_knobs(rate_limit=5, rate_window_seconds=0.4)
    shared = str(tmp_path / "shared.json")
    a = make_hook("personal", conn_id="xs_a", token_store_path=shared, registers=0, rate_window_seconds=0.4)
    b = make_hook("personal", conn_id="xs_b", token_store_path=shared, registers=0, rate_window_seconds=0.4)
    a.budget.limit = b.budget.limit = 5
    for _ in range(8):
        a.outlets()
        b.outlets()
    assert xseries.budget.rejected == 0
    state = json.loads(Path(a.settings.budget_path).read_text())
    assert state["used"] >= 1


def test_errors_keep_their_code_in_either_shape(make_hook, xseries):
    hook = make_hook("personal")
    cid = hook.create_consignment(_order_body(xseries)).id
    with pytest.raises(XSeriesRequestError) as info:
        hook.update_consignment(cid, {"status": "RECEIVED"})
    assert info.value.status == 422 and info.value.code == "Unprocessable Entity"
    xseries.set_knobs(error_shape="legacy")
    with pytest.raises(XSeriesRequestError) as legacy:
        hook.update_consignment(cid, {"status": "RECEIVED"})
    assert legacy.value.status == 422 and "no products" in (legacy.value.detail or "")
    assert legacy.value.code  # the legacy shape's reference is kept as the code
    assert hook.consignment("no-such-id") is None
    assert hook.delete_consignment(cid) is True and hook.delete_consignment(cid) is False


def test_reads_retry_on_5xx_but_a_post_is_not_resent_after_a_lost_answer(make_hook, xseries):
    hook = make_hook("personal")
    xseries.inject_fault("500", count=2, path_contains="/outlets")
    assert len(hook.outlets()) == 3
    before = len(xseries.store.created_via_api)
    xseries.inject_fault("drop_after", count=1, method="POST", path_contains="/consignments")
    with pytest.raises(XSeriesUnavailable):
        hook.create_consignment(_order_body(xseries, "PO-LOST"))
    assert len(xseries.store.created_via_api) == before + 1  # it was created once, and not again


def test_bulk_lines_go_in_chunks_of_500(make_hook, xseries):
    hook = make_hook("personal")
    for i in range(51, 651):
        xseries.store.add_product(f"BULK-{i:05d}", f"Bulk {i}")
    cid = hook.create_consignment(_order_body(xseries, "PO-BULK")).id
    items = [{"product_id": _sku_id(xseries, f"BULK-{i:05d}"), "count": 1} for i in range(51, 651)]
    result = hook.bulk_products(cid, items)
    assert len(result) == 600 and hook.by_route[f"POST /consignments/{cid}/bulk"] == 2
    assert len(hook.consignment_products(cid)) == 600


# -- units ------------------------------------------------------------------------------------------


def test_retry_after_is_an_http_date():
    now = time.time()
    assert 9 <= retry_after_seconds(formatdate(now + 10, usegmt=True), now=now) <= 10
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("soon") == DEFAULT_RETRY_AFTER == retry_after_seconds(None)


@pytest.mark.parametrize(
    ("host", "extra", "message"),
    [
        (None, {}, "needs domain_prefix"),
        ("http://example.com", {"domain_prefix": "x"}, "https"),
        (None, {"domain_prefix": "x", "auth_mode": "basic"}, "auth_mode"),
        (None, {"domain_prefix": "x", "registers": "many"}, "registers must be a number"),
    ],
)
def test_connection_is_validated(host, extra, message):
    with pytest.raises(ConfigurationError, match=message):
        XSeriesSettings.from_connection(conn_id="c", host=host, login="id", password="secret", extra=extra)


def test_settings_default_to_the_lightspeed_host_and_hide_secrets():
    settings = XSeriesSettings.from_connection(
        conn_id="c", host=None, login="id", password="s3cret", extra={"domain_prefix": "shop"}
    )
    assert settings.api_root == "https://shop.retail.lightspeed.app/api/2.0"
    assert settings.token_url == "https://shop.retail.lightspeed.app/api/1.0/token"
    assert "s3cret" not in repr(settings)


def test_authorize_cli_prints_the_consent_url_then_stores_the_pair(make_hook, xseries, tmp_path, capsys):
    from po_sync.xseries.authorize import main

    hook = make_hook("oauth", conn_id="xseries_cli", refresh_token=None)
    assert main(["--conn-id", "xseries_cli", "--connect-url", f"{xseries.base_url}/connect"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"{xseries.base_url}/connect?") and "response_type=code" in url
    assert main(["--conn-id", "xseries_cli", "--code", xseries.oauth.new_code(600)]) == 0
    out = capsys.readouterr().out
    assert stored(hook) is not None and "lsxs_" not in out
    assert main(["--conn-id", "xseries_cli", "--code", "used-or-wrong"]) == 1
