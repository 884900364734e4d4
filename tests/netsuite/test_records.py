"""REST records through the hook: CRUD, envelopes, upserts, idempotent creates, transforms and PO status."""

from __future__ import annotations

import uuid

import pytest

from po_sync.netsuite.errors import NetSuiteNotFoundError
from po_sync_sandbox.netsuite import NetSuiteService


def _new_po(hook, netsuite: NetSuiteService, quantities=(4, 6), **fields) -> str:
    items = netsuite.created["inventoryItem"]
    body = {
        "entity": {"id": str(netsuite.created["vendor"][0])},
        "location": {"id": str(netsuite.created["location"][0])},
        "item": {
            "items": [
                {"item": {"id": str(items[i])}, "quantity": q, "rate": 2.5} for i, q in enumerate(quantities)
            ]
        },
        **fields,
    }
    return hook.create_record("purchaseOrder", body).id


def test_get_with_expanded_sublists_and_case_insensitive_type(hook, netsuite: NetSuiteService) -> None:
    po_id = netsuite.created["purchaseOrder"][0]
    record = hook.get_record("PURCHASEORDER", po_id)
    assert record.status == "Pending Receipt" and record.status_letter == "B"
    assert record.ref("entity").ref_name and record.ref("entity").href.startswith(netsuite.base_url)
    assert len(record.lines) == 5 and record.lines[0]["line"] == 1
    assert record.custom_fields == {"custbody_po_sync_exported": False}
    bare = hook.get_record("purchaseorder", po_id, expand_sub_resources=False)
    assert bare.sublists == {} and bare.get("tranid") == record.get("tranId")


def test_list_envelope_has_absolute_links_and_pages(hook, netsuite: NetSuiteService) -> None:
    page = hook.list_page("purchaseOrder", limit=100, offset=100)
    assert page.count == 100 and page.has_more and page.offset == 100
    assert page.total_results == netsuite.store.count("purchaseOrder")
    refs = list(hook.list_records("purchaseOrder", limit=200))
    assert len(refs) == len({r.id for r in refs}) == page.total_results
    assert refs[0].href == f"{netsuite.base_url}/services/rest/record/v1/purchaseorder/{refs[0].id}"


def test_create_update_merge_replace_delete(hook, netsuite: NetSuiteService) -> None:
    po_id = _new_po(hook, netsuite, memo="first")
    po = hook.get_record("purchaseOrder", po_id)
    assert po.get("memo") == "first" and [line["quantity"] for line in po.lines] == [4, 6]
    hook.update_record(
        "purchaseOrder", po_id, {"memo": "second", "item": {"items": [{"line": 1, "quantity": 7}]}}
    )
    po = hook.get_record("purchaseOrder", po_id)
    assert po.get("memo") == "second" and [line["quantity"] for line in po.lines] == [7, 6]
    item = {"id": str(netsuite.created["inventoryItem"][5])}
    hook.update_record("purchaseOrder", po_id, {"item": {"items": [{"item": item, "quantity": 1}]}})
    assert len(hook.get_record("purchaseOrder", po_id).lines) == 3  # unkeyed line appended
    hook.update_record(
        "purchaseOrder", po_id, {"item": {"items": [{"item": item, "quantity": 9}]}}, replace=["item"]
    )
    assert [line["quantity"] for line in hook.get_record("purchaseOrder", po_id).lines] == [9]
    hook.delete_record("purchaseOrder", po_id)
    assert hook.find_record("purchaseOrder", po_id) is None
    with pytest.raises(NetSuiteNotFoundError):
        hook.get_record("purchaseOrder", po_id)


def test_upsert_by_external_id_creates_then_updates(hook, netsuite: NetSuiteService) -> None:
    eid = f"V-{uuid.uuid4().hex[:8]}"
    first = hook.upsert_record("vendor", eid, {"companyName": "Upsert Co", "email": "a@example.com"})
    second = hook.upsert_record("vendor", eid, {"companyName": "Upsert Co 2"})
    assert first.id == second.id
    assert hook.get_record("vendor", f"eid:{eid}").get("companyName") == "Upsert Co 2"
    netsuite.set_knobs(location_on_upsert=False)
    assert hook.upsert_record("vendor", eid, {"companyName": "Upsert Co 3"}).id == first.id


def test_custom_records(hook, netsuite: NetSuiteService) -> None:
    created = hook.create_record(
        "customrecord_po_sync_vendor_config", {"name": "Extra", "custrecord_po_format": "CSV"}
    )
    record = hook.get_record("customrecord_po_sync_vendor_config", created.id)
    assert record.custom_fields["custrecord_po_format"] == "CSV"
    assert len(list(hook.list_records("customrecord_po_sync_vendor_config"))) == 4


def test_idempotent_create_is_not_duplicated_when_the_response_is_lost(
    hook, netsuite: NetSuiteService
) -> None:
    before = netsuite.store.count("purchaseOrder")
    key = str(uuid.uuid4())
    netsuite.inject_fault("drop_after", method="POST", path_contains="/purchaseOrder")
    body = {
        "entity": {"id": str(netsuite.created["vendor"][0])},
        "item": {"items": [{"item": {"id": str(netsuite.created["inventoryItem"][0])}, "quantity": 1}]},
    }
    result = hook.create_record("purchaseOrder", body, idempotency_key=key)
    assert result.replayed  # NetSuite said IDEMPOTENCY_ERROR and pointed at the first result
    assert netsuite.store.count("purchaseOrder") == before + 1
    assert hook.create_record("purchaseOrder", body, idempotency_key=key).id == result.id
    netsuite.set_knobs(idempotency_replay="replay")
    assert hook.create_record("purchaseOrder", body, idempotency_key=key).id == result.id
    assert netsuite.store.count("purchaseOrder") == before + 1


def test_transforms_move_po_quantities_and_status(hook, netsuite: NetSuiteService) -> None:
    po_id = _new_po(hook, netsuite, quantities=(4, 6))
    status = lambda: hook.get_record("purchaseOrder", po_id).status  # noqa: E731
    assert status() == "Pending Receipt"
    first = hook.transform_record(
        "purchaseOrder",
        po_id,
        "itemReceipt",
        {
            "item": {
                "items": [
                    {"orderLine": 1, "itemReceive": True, "quantity": 4},
                    {"orderLine": 2, "itemReceive": False},
                ]
            }
        },
        idempotency_key=str(uuid.uuid4()),
    )
    assert status() == "Partially Received"
    receipt = hook.get_record("itemReceipt", first.id)
    assert receipt.ref("createdFrom").id == po_id and receipt.lines[0]["orderLine"] == 1
    hook.transform_record("purchaseOrder", po_id, "itemReceipt")  # default: every open line's remainder
    po = hook.get_record("purchaseOrder", po_id)
    assert po.status == "Pending Bill" and [line["quantityReceived"] for line in po.lines] == [4, 6]
    rows = list(
        hook.suiteql(
            f"SELECT tl.quantityshiprecv AS r FROM transactionline tl WHERE tl.transaction = {po_id} "
            "AND tl.mainline = 'F' ORDER BY tl.linesequencenumber"
        )
    )
    assert [row["r"] for row in rows] == ["4", "6"]
    bill = hook.transform_record("purchaseOrder", po_id, "vendorBill")
    assert hook.get_record("vendorBill", bill.id).status == "Open"
    assert status() == "Fully Billed"
    assert (
        next(
            hook.suiteql(
                f"SELECT BUILTIN.CF(t.status) cf FROM transaction t WHERE t.id = {po_id} ORDER BY t.id"
            )
        )["cf"]
        == "PurchOrd:G"
    )


def test_closing_every_line_closes_the_po(hook, netsuite: NetSuiteService) -> None:
    po_id = _new_po(hook, netsuite, quantities=(1,))
    hook.update_record("purchaseOrder", po_id, {"item": {"items": [{"line": 1, "isClosed": True}]}})
    assert hook.get_record("purchaseOrder", po_id).status == "Closed"


def test_drop_ship_fulfilment_receives_the_linked_po(hook, netsuite: NetSuiteService) -> None:
    so_id = netsuite.created["salesOrder"][0]
    po_id = netsuite.created["dropShipPurchaseOrder"][0]
    assert hook.get_record("purchaseOrder", po_id).ref("createdFrom").id == str(so_id)
    hook.transform_record("salesOrder", so_id, "itemFulfillment")
    assert hook.get_record("salesOrder", so_id).status == "Pending Billing"
    assert hook.get_record("purchaseOrder", po_id).status == "Pending Bill"


def test_fulfilment_lines_keep_their_serial_numbers(hook, netsuite: NetSuiteService) -> None:
    """``inventoryDetail`` sent on a transform line is stored on the new record's line."""
    so_id = netsuite.created["salesOrder"][1]
    so = hook.get_record("salesOrder", so_id)
    first = so.sublists["item"][0]
    detail = {"inventoryAssignment": {"items": [{"issueInventoryNumber": "SN-1", "quantity": 1}]}}
    written = hook.transform_record(
        "salesOrder",
        so_id,
        "itemFulfillment",
        {
            "item": {
                "items": [
                    {
                        "orderLine": int(first["line"]),
                        "itemReceive": True,
                        "quantity": 1,
                        "inventoryDetail": detail,
                    }
                ]
            }
        },
    )
    (line,) = hook.get_record("itemFulfillment", written.id).sublists["item"]
    assert line["inventoryDetail"] == detail
