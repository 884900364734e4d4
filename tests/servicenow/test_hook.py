"""ServiceNowHook against the ServiceNow stand-in over real HTTPS sockets (nothing patched)."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    FatalError,
    RateLimitedError,
    RetriableError,
)
from po_sync.servicenow.hooks import BatchOp, ServiceNowHook
from po_sync.servicenow.settings import ServiceNowSettings
from po_sync_sandbox.servicenow.actor import Line, ProcurementActor
from po_sync_sandbox.servicenow.schema import PRIMARY_PO, PURCHASING_TASK, STAGING_LINE, STAGING_PO


def _seed(service: Any, pos: int) -> list[str]:
    actor = ProcurementActor(service.store)
    actor.seed_mappings()
    return [actor.create_po("VEND-0001", [Line("ITEM-00001", 3), Line("ITEM-00002", 4)]) for _ in range(pos)]


def test_query_pages_through_every_row_with_fields_and_dot_walk(servicenow: Any, sn_conn: Any) -> None:
    numbers = _seed(servicenow, 7)
    servicenow.stats.reset()
    with ServiceNowHook() as hook:
        rows = list(
            hook.query(
                STAGING_LINE,
                "purchase_order.integration_status=10",
                fields=["purchase_order", "purchased_quantity", "purchase_order.purchase_order_number"],
                limit=5,
            )
        )
    assert len(rows) == 14 and len({r.sys_id for r in rows}) == 14
    assert {r["purchase_order.purchase_order_number"] for r in rows} == set(numbers)
    assert all(len(r["purchase_order"]) == 32 for r in rows)  # the reference's sys_id, link excluded
    assert servicenow.stats.as_dict()["requests"] == 3  # 14 rows at 5 per page


def test_crud_and_not_found(servicenow: Any, sn_conn: Any) -> None:
    with ServiceNowHook() as hook:
        task = hook.insert(PURCHASING_TASK, {"short_description": "x"})
        assert task["number"].startswith("PTSK")
        assert hook.update(PURCHASING_TASK, task.sys_id, {"state": "3"})["state"] == "3"
        assert hook.get(PURCHASING_TASK, task.sys_id, fields=["state"])["state"] == "3"
        hook.delete(PURCHASING_TASK, task.sys_id)
        assert hook.get(PURCHASING_TASK, task.sys_id) is None
        hook.delete(PURCHASING_TASK, task.sys_id)  # already gone: fine
        with pytest.raises(FatalError, match="Invalid table"):
            hook.insert("no_such_table", {"a": "b"})


def test_oauth_token_is_fetched_once_and_renewed_after_expiry(servicenow: Any, sn_conn: Any) -> None:
    conn_id = sn_conn("servicenow_oauth", "oauth")
    _seed(servicenow, 1)
    with ServiceNowHook(conn_id) as hook:
        assert len(list(hook.query(STAGING_PO))) == 1
        assert len(list(hook.query(STAGING_PO))) == 1
        assert hook.stats["tokens"] == 1
        servicenow.auth.expire_tokens()
        assert len(list(hook.query(STAGING_PO))) == 1
        assert hook.stats["tokens"] == 2  # a 401 on the old token: refreshed once, then served
    assert servicenow.auth.token_requests == 2


def test_wrong_password_is_an_authentication_error_not_retried(
    servicenow: Any, sn_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from po_sync_sandbox.base import connection_env

    conn = servicenow.connection("basic")
    conn["password"] = "wrong"
    for key, value in connection_env({"sn_bad": conn}).items():
        monkeypatch.setenv(key, value)
    servicenow.stats.reset()
    with ServiceNowHook("sn_bad") as hook, pytest.raises(AuthenticationError, match="User Not Authenticated"):
        list(hook.query(STAGING_PO))
    assert servicenow.stats.as_dict()["requests"] == 1
    ok, message = ServiceNowHook("sn_bad").test_connection()
    assert not ok and "401" in message
    assert "wrong" not in message


def test_429_is_retried_after_retry_after_and_a_long_one_stops(servicenow: Any, sn_conn: Any) -> None:
    _seed(servicenow, 1)
    servicenow.set_knobs(retry_after_seconds=0)
    servicenow.inject_fault("429", count=2, method="GET")
    with ServiceNowHook() as hook:
        assert len(list(hook.query(STAGING_PO))) == 1
        assert hook.stats["retries"] == 2
    servicenow.set_knobs(retry_after_seconds=3600)  # longer than the connection's retry budget
    servicenow.inject_fault("429", count=1, method="GET")
    with ServiceNowHook() as hook, pytest.raises(RateLimitedError) as caught:
        list(hook.query(STAGING_PO))
    assert caught.value.retry_after == 3600 and hook.stats["retries"] == 0


def test_rate_limit_rule_from_the_instance(servicenow: Any, sn_conn: Any) -> None:
    servicenow.set_knobs(rate_limit_per_hour=1, retry_after_seconds=5000)
    with ServiceNowHook() as hook:
        hook.get(PRIMARY_PO, "x")
        with pytest.raises(RateLimitedError):
            hook.get(PRIMARY_PO, "x")


def test_5xx_retried_for_reads_not_for_inserts(servicenow: Any, sn_conn: Any) -> None:
    servicenow.inject_fault("503", count=1, method="GET")
    with ServiceNowHook() as hook:
        assert hook.get(PRIMARY_PO, "missing") is None
        assert hook.stats["retries"] == 1
        servicenow.inject_fault("500", count=1, method="POST")
        with pytest.raises(RetriableError):
            hook.insert(PURCHASING_TASK, {"short_description": "once"})
    assert servicenow.store.rows(PURCHASING_TASK) == []


def test_batch_runs_mixed_ops_in_order_across_calls(servicenow: Any, sn_conn: Any) -> None:
    numbers = _seed(servicenow, 3)
    headers = {h["purchase_order_number"]: h for h in servicenow.store.rows(STAGING_PO)}
    sn_conn(batch_size=2)
    ops = [BatchOp("PATCH", STAGING_PO, headers[n]["sys_id"], {"integration_status": "20"}) for n in numbers]
    ops.append(BatchOp("POST", PURCHASING_TASK, body={"short_description": "from batch"}))
    ops.append(BatchOp("PATCH", STAGING_PO, "does-not-exist", {"integration_status": "20"}))
    servicenow.stats.reset()
    with ServiceNowHook() as hook:
        results = hook.batch(ops)
        assert [r.status for r in results] == [200, 200, 200, 201, 404]
        assert results[3].record is not None and results[3].record["short_description"] == "from batch"
        assert "No Record found" in (results[4].error or "")
        with pytest.raises(FatalError, match="1 of 5"):
            hook.batch_checked(ops)
    assert servicenow.stats.as_dict()["by_route"]["batch"] == 6  # 5 ops, 2 per call, twice
    assert all(
        servicenow.store.get(STAGING_PO, headers[n]["sys_id"])["integration_status"] == "20" for n in numbers
    )


def test_explicit_ca_wins_over_requests_ca_bundle(
    servicenow: Any, sn_conn: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    ok, message = ServiceNowHook().test_connection()
    assert ok, message


def test_settings_refuse_http_and_missing_oauth_client() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        ServiceNowSettings.from_connection(
            host="http://dev1.service-now.com", login="u", password="p", extra={}
        )
    with pytest.raises(ConfigurationError, match="client_id"):
        ServiceNowSettings.from_connection(host="dev1", login="u", password="p", extra={"auth_type": "oauth"})
    settings = ServiceNowSettings.from_connection(host="dev1", login="u", password="secret-pw", extra={})
    assert settings.instance_url == "https://dev1.service-now.com"
    assert "secret-pw" not in repr(settings)


def test_connection_type_is_registered_with_its_form() -> None:
    from airflow.providers_manager import ProvidersManager

    providers = ProvidersManager()
    assert providers.hooks["servicenow"].hook_class_name == "po_sync.servicenow.hooks.ServiceNowHook"
    assert "extra__servicenow__auth_type" in providers.connection_form_widgets


def test_healthcheck_dag_checks_both_servicenow_connections(dagbag: Any, ledger_conn: Any, s2p: Any) -> None:
    import copy

    dag = copy.deepcopy(dagbag.get_dag("po_sync_healthcheck"))
    for task in dag.tasks:
        task.retries = 0
    run = dag.test(run_conf={"connections": ["servicenow_default", "servicenow_oauth"]})
    assert run.state == "success"
    assert ledger_conn.status_counts("po_sync_healthcheck") == {"synced": 2}


def test_dropped_connection_is_retried_for_reads(servicenow: Any, sn_conn: Any) -> None:
    _seed(servicenow, 1)
    servicenow.inject_fault("drop", count=1, method="GET")
    with ServiceNowHook() as hook:
        assert len(list(hook.query(STAGING_PO))) == 1
        assert hook.stats["retries"] == 1


def test_import_set_api_transforms_rows_and_reports_a_line_without_its_po(
    servicenow: Any, sn_conn: Any
) -> None:
    from po_sync_sandbox.servicenow.schema import IMPORT_ORDER, IMPORT_ORDER_LINE, PRIMARY_LINE

    with ServiceNowHook() as hook:
        orphan = hook.import_row(
            IMPORT_ORDER_LINE, {"purchase_order_number": "PO7", "line_number": 1, "erp_line_number": 10}
        )
        assert orphan.status == "error" and not orphan.ok and "PO7" in orphan.message
        created = hook.import_row(IMPORT_ORDER, {"number": "PO7", "erp_number": "4500000007"})
        assert created.status == "inserted" and created.table == PRIMARY_PO
        updated = hook.import_row(IMPORT_ORDER, {"number": "PO7", "erp_number": "4500000008"})
        assert updated.status == "updated" and updated.sys_id == created.sys_id
        assert servicenow.store.get(PRIMARY_PO, created.sys_id)["erp_number"] == "4500000008"
        # the retrigger: the same line imported again once its PO exists
        line = hook.import_row(
            IMPORT_ORDER_LINE, {"purchase_order_number": "PO7", "line_number": 1, "erp_line_number": 10}
        )
        assert line.status == "inserted"
        assert servicenow.store.get(PRIMARY_LINE, line.sys_id)["purchase_order"] == created.sys_id
        ids = hook.import_multiple(IMPORT_ORDER, [{"number": "PO8"}, {"number": "PO9"}])
        assert set(ids) == {"import_set_id", "multi_import_set_id"}
    assert {r["number"] for r in servicenow.store.rows(PRIMARY_PO)} == {"PO7", "PO8", "PO9"}
