"""Every NetSuite error class, mapped from real responses of the sandbox."""

from __future__ import annotations

import pytest

from po_sync.exceptions import ConfigurationError, FatalError, RetriableError
from po_sync.netsuite.errors import (
    NetSuiteConcurrencyError,
    NetSuiteConnectionError,
    NetSuiteNotFoundError,
    NetSuitePermissionError,
    NetSuiteRequestError,
    NetSuiteServerError,
)
from po_sync.netsuite.transport import RetryPolicy
from po_sync_sandbox.netsuite import NetSuiteService

NO_RETRY = RetryPolicy(max_attempts=1, max_delay=0)


def _po_body(netsuite: NetSuiteService, item: str | None = None) -> dict:
    return {
        "entity": {"id": str(netsuite.created["vendor"][0])},
        "item": {
            "items": [{"item": {"id": item or str(netsuite.created["inventoryItem"][0])}, "quantity": 1}]
        },
    }


def test_invalid_content_keeps_code_detail_and_path(hook, netsuite: NetSuiteService) -> None:
    with pytest.raises(NetSuiteRequestError) as info:
        hook.create_record("purchaseOrder", _po_body(netsuite, item="999999"))
    err = info.value
    assert isinstance(err, FatalError) and err.status == 400 and err.code == "INVALID_CONTENT"
    assert "item.items[0].item" in err.detail and err.path == "/record/v1/purchaseOrder"


def test_user_error_on_an_impossible_transform(hook, netsuite: NetSuiteService) -> None:
    po = netsuite.created["purchaseOrder"][2]
    with pytest.raises(NetSuiteRequestError) as info:
        hook.transform_record(
            "purchaseOrder",
            po,
            "itemReceipt",
            {"item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 10_000}]}},
        )
    assert info.value.code == "USER_ERROR"


def test_not_found_and_wrong_transaction_type(hook, netsuite: NetSuiteService) -> None:
    with pytest.raises(NetSuiteNotFoundError) as info:
        hook.get_record("purchaseOrder", "987654")
    assert info.value.code == "NONEXISTENT_ID" and info.value.status == 404
    with pytest.raises(NetSuiteNotFoundError):
        hook.get_record("file", "1")
    with pytest.raises(NetSuiteRequestError) as info:
        hook.get_record("vendorBill", netsuite.created["purchaseOrder"][0])
    assert info.value.code == "USER_ERROR" and "Transaction type" in info.value.detail


def test_permission_error(hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(forbidden_record_types=["vendorBill"])
    with pytest.raises(NetSuitePermissionError) as info:
        hook.get_record("vendorBill", "1")
    assert info.value.code == "INSUFFICIENT_PERMISSION"


def test_bad_suiteql_is_invalid_parameter(hook) -> None:
    with pytest.raises(NetSuiteRequestError) as info:
        list(hook.suiteql("SELECT nope FROM transactiontablethatdoesnotexist ORDER BY id"))
    assert info.value.code == "INVALID_PARAMETER" and "Invalid search type" in info.value.detail
    with pytest.raises(NetSuiteRequestError) as info:
        list(hook.suiteql("SELECT t.subsidiaryx FROM transaction t ORDER BY t.id"))
    assert "Unknown identifier 'subsidiaryx'" in info.value.detail
    with pytest.raises(NetSuiteRequestError):
        list(hook.suiteql("DELETE FROM transaction ORDER BY id"))


def test_q_date_in_the_wrong_format(hook) -> None:
    with pytest.raises(NetSuiteRequestError) as info:
        list(hook.list_records("purchaseOrder", q='lastModifiedDate AFTER "2026-01-01"'))
    assert info.value.code == "INVALID_PARAMETER" and "failed with date format" in info.value.detail
    assert list(hook.list_records("purchaseOrder", q='lastModifiedDate ON_OR_AFTER "1/1/2020"'))


@pytest.mark.parametrize(
    ("fault", "error", "retriable"),
    [
        ("429", NetSuiteConcurrencyError, True),
        ("503", NetSuiteServerError, True),
        ("500", NetSuiteServerError, True),
        ("drop", NetSuiteConnectionError, True),
    ],
)
def test_transient_errors_are_retriable(
    make_hook, netsuite: NetSuiteService, fault, error, retriable
) -> None:
    hook = make_hook(retry=NO_RETRY, concurrency=2)
    hook.get_conn()
    netsuite.inject_fault(fault)
    with pytest.raises(error) as info:
        hook.get_record("vendor", "1")
    assert isinstance(info.value, RetriableError) is retriable


def test_timeout_is_retriable_connection_error(make_hook, netsuite: NetSuiteService) -> None:
    hook = make_hook(retry=NO_RETRY, concurrency=2, timeout=1)
    hook.get_conn()
    netsuite.set_knobs(timeout_seconds=1.5)
    netsuite.inject_fault("timeout")
    with pytest.raises(NetSuiteConnectionError) as info:
        hook.get_record("vendor", "1")
    assert info.value.code == "ReadTimeout"


def test_non_idempotent_create_is_not_retried_after_a_lost_response(hook, netsuite: NetSuiteService) -> None:
    before = netsuite.store.count("purchaseOrder")
    netsuite.inject_fault("drop_after", method="POST")
    with pytest.raises(NetSuiteConnectionError):
        hook.create_record("purchaseOrder", _po_body(netsuite))
    assert netsuite.store.count("purchaseOrder") == before + 1  # done once, never twice


def test_the_connection_sets_the_retry_budget(make_hook, netsuite: NetSuiteService) -> None:
    hook = make_hook(retry=None, concurrency=2, max_attempts=2, max_retry_seconds=30)
    hook.get_conn()
    netsuite.stats.reset()
    netsuite.inject_fault("503", count=5, path_contains="/vendor/")
    with pytest.raises(NetSuiteServerError):
        hook.get_record("vendor", "1")
    assert netsuite.stats.faults["503"] == 2  # two attempts, as the connection says, then the error

    netsuite.faults.clear()
    netsuite.inject_fault("503", count=1, path_contains="/vendor/")
    assert hook.get_record("vendor", "1").id == "1"  # one failure is within the budget


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_attempts", "0", "max_attempts must be at least 1"),
        ("max_attempts", "2.5", "max_attempts must be a whole number"),
        ("max_retry_seconds", "soon", "max_retry_seconds must be a number"),
        ("concurrency", "1.5", "concurrency must be a whole number"),
    ],
)
def test_bad_retry_and_concurrency_fields_name_the_field(make_hook, field, value, message) -> None:
    hook = make_hook(retry=None, **{field: value})
    with pytest.raises(ConfigurationError, match=message):
        hook.get_conn()
