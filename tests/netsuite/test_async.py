"""Asynchronous writes (``Prefer: respond-async``): the sandbox's jobs and the hook following them."""

from __future__ import annotations

import uuid

import pytest

from po_sync.netsuite.errors import NetSuiteNotFoundError, NetSuiteRequestError
from po_sync_sandbox.netsuite import NetSuiteService


def _receipts_of(netsuite: NetSuiteService, po_id: str | int) -> int:
    rows = netsuite.store.query(
        "SELECT COUNT(*) AS n FROM \"transaction\" WHERE type = 'ItemRcpt' AND createdfrom = ?", (int(po_id),)
    )
    return int(rows[0]["n"])


def _open_po(netsuite: NetSuiteService, index: int) -> int:
    return netsuite.created["purchaseOrder"][-1 - index]


@pytest.fixture
def async_hook(make_hook):
    return make_hook(conn_id="netsuite_async", concurrency=3, async_writes=True)


def test_a_request_with_respond_async_is_a_job_whose_result_is_the_reply(hook, netsuite) -> None:
    netsuite.set_knobs(async_pending_polls=1)
    po_id = _open_po(netsuite, 0)
    transport = hook.get_conn()
    accepted = transport.request(
        "POST",
        f"/record/v1/purchaseOrder/{po_id}/!transform/itemReceipt",
        json_body={},
        headers={"Prefer": "respond-async"},
        idempotent=False,
    )
    assert accepted.status_code == 202 and accepted.headers["Preference-Applied"] == "respond-async"
    job_url = accepted.headers["Location"]
    assert job_url.startswith("/services/rest/async/v1/job/")  # server-relative, as Oracle documents it
    pending = transport.request("GET", job_url, idempotent=True).json()
    assert pending["completed"] is False and pending["progress"] == "pending"
    done = transport.request("GET", job_url, idempotent=True).json()
    assert done["completed"] is True and done["progress"] == "succeeded"
    tasks = transport.request("GET", done["task"]["links"][0]["href"], idempotent=True).json()
    task_url = tasks["items"][0]["links"][0]["href"]
    result = transport.request("GET", f"{task_url}/result", idempotent=True)
    assert result.status_code == 204 and "/itemreceipt/" in result.headers["Location"]
    assert _receipts_of(netsuite, po_id) == 1


def test_async_transform_follows_the_job_to_the_receipt(async_hook, netsuite) -> None:
    netsuite.set_knobs(async_pending_polls=2)
    po_id = _open_po(netsuite, 1)
    result = async_hook.transform_record(
        "purchaseOrder", po_id, "itemReceipt", idempotency_key=str(uuid.uuid4())
    )
    receipt = async_hook.get_record("itemReceipt", result.id)
    assert receipt.ref("createdFrom").id == str(po_id) and not result.replayed
    routes = netsuite.stats.as_dict()["by_route"]
    assert routes["POST async submit"] == 1 and routes["GET async job"] >= 3


def test_a_repeated_key_follows_the_earlier_job(async_hook, netsuite) -> None:
    po_id = _open_po(netsuite, 2)
    key = str(uuid.uuid4())
    first = async_hook.transform_record("purchaseOrder", po_id, "itemReceipt", idempotency_key=key)
    again = async_hook.transform_record("purchaseOrder", po_id, "itemReceipt", idempotency_key=key)
    assert again.replayed and again.id == first.id
    assert _receipts_of(netsuite, po_id) == 1


def test_a_lost_202_is_retried_into_the_same_job(async_hook, netsuite) -> None:
    po_id = _open_po(netsuite, 3)
    netsuite.inject_fault("drop_after", method="POST", path_contains="!transform")
    result = async_hook.transform_record(
        "purchaseOrder", po_id, "itemReceipt", idempotency_key=str(uuid.uuid4())
    )
    assert result.replayed  # the retry met IDEMPOTENCY_ERROR and followed the first job
    assert _receipts_of(netsuite, po_id) == 1


def test_a_failed_job_raises_netsuites_error(async_hook, netsuite) -> None:
    with pytest.raises(NetSuiteNotFoundError):
        async_hook.transform_record(
            "purchaseOrder", 99_999_999, "itemReceipt", idempotency_key=str(uuid.uuid4())
        )


def test_keys_accepted_only_with_async_when_the_account_says_so(hook, async_hook, netsuite) -> None:
    netsuite.set_knobs(idempotency_requires_async=True)
    with pytest.raises(NetSuiteRequestError) as info:
        hook.transform_record("purchaseOrder", _open_po(netsuite, 4), "itemReceipt", idempotency_key="k-sync")
    assert info.value.code == "INVALID_HEADER"
    po_id = _open_po(netsuite, 5)
    assert async_hook.transform_record("purchaseOrder", po_id, "itemReceipt", idempotency_key="k-async").id
    assert _receipts_of(netsuite, po_id) == 1
