"""ServiceNow's own Python client (pysnc 1.2.1) against the stand-in, unchanged: proof that a client
written from ServiceNow's docs works (reference/external-systems.md §3.4 lists what it sends)."""

from __future__ import annotations

from typing import Any

import pytest
from pysnc import ServiceNowClient
from pysnc.auth import ServiceNowPasswordGrantFlow

from po_sync_sandbox.servicenow.actor import Line, ProcurementActor
from po_sync_sandbox.servicenow.schema import PURCHASING_TASK, STAGING_LINE, STAGING_PO


@pytest.fixture
def client(servicenow: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    # pysnc builds requests with verify=None, so REQUESTS_CA_BUNDLE decides what is trusted (§3.4)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(servicenow.ca_file))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    creds = servicenow.credentials
    return ServiceNowClient(servicenow.base_url, (creds["username"], creds["password"]))


def _seed(servicenow: Any, pos: int) -> list[str]:
    actor = ProcurementActor(servicenow.store)
    actor.seed_mappings()
    return [actor.create_po("VEND-0001", [Line("ITEM-00001", 2), Line("ITEM-00002", 3)]) for _ in range(pos)]


def test_glide_record_query_pages_with_display_values(servicenow: Any, client: Any) -> None:
    numbers = _seed(servicenow, 3)
    gr = client.GlideRecord(STAGING_LINE, batch_size=4)
    gr.add_encoded_query("purchase_order.integration_status=10")
    gr.query()
    assert gr.get_row_count() == 6
    seen = []
    while gr.next():
        seen.append(gr.get_value("sys_id"))
        assert gr.get_display_value("integration_status") == "New"
        assert gr.get_display_value("purchase_order") in numbers
    assert len(seen) == len(set(seen)) == 6


def test_glide_record_get_update_insert_delete(servicenow: Any, client: Any) -> None:
    (number,) = _seed(servicenow, 1)
    header = servicenow.store.rows(STAGING_PO, purchase_order_number=number)[0]
    gr = client.GlideRecord(STAGING_PO)
    assert gr.get(header["sys_id"])
    gr.set_value("integration_status", "20")
    gr.update()
    assert servicenow.store.get(STAGING_PO, header["sys_id"])["integration_status"] == "20"
    task = client.GlideRecord(PURCHASING_TASK)
    task.initialize()
    task.set_value("short_description", "from pysnc")
    sys_id = task.insert()
    assert servicenow.store.get(PURCHASING_TASK, str(sys_id))["short_description"] == "from pysnc"
    assert task.delete()
    assert servicenow.store.get(PURCHASING_TASK, str(sys_id)) is None
    missing = client.GlideRecord(STAGING_PO)
    assert not missing.get("0" * 32)


def test_delete_multiple_goes_through_the_batch_api(servicenow: Any, client: Any) -> None:
    for n in range(3):
        servicenow.store.insert(PURCHASING_TASK, {"short_description": f"t{n}"})
    servicenow.stats.reset()
    gr = client.GlideRecord(PURCHASING_TASK)
    gr.add_encoded_query("short_descriptionSTARTSWITHt")
    gr.query()
    assert gr.delete_multiple()
    assert servicenow.store.rows(PURCHASING_TASK) == []
    assert servicenow.stats.as_dict()["by_route"].get("batch", 0) >= 1


def test_password_grant_flow(servicenow: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(servicenow.ca_file))
    _seed(servicenow, 1)
    creds = servicenow.credentials
    flow = ServiceNowPasswordGrantFlow(
        creds["username"], creds["password"], creds["client_id"], creds["client_secret"]
    )
    client = ServiceNowClient(servicenow.base_url, flow)
    gr = client.GlideRecord(STAGING_PO)
    gr.query()
    assert gr.get_row_count() == 1
    assert servicenow.auth.token_requests == 1
