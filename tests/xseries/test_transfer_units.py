"""Pieces of the transfer-order flow without Airflow runs: the outlet map Variable, the checks that name an
order, the TO body, and the NetSuite sandbox's transfer-order rules (locations, receipts at the destination)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from po_sync.exceptions import ConfigurationError, RecordValidationError
from po_sync.xseries.mapping import OrderPlan, PlanLine
from po_sync.xseries.models import Consignment, ConsignmentProduct
from po_sync.xseries.settings import VARIABLE_KEY, OutletMap, load_settings_table
from po_sync.xseries.transfers import check_transfer, transfer_order_body, transfer_order_query

VAR_ENV = f"AIRFLOW_VAR_{VARIABLE_KEY.upper()}"
MAP = {"locations": {"1": "out-a", "2": "out-b"}}


def test_the_variable_is_the_table_and_explicit_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR_ENV, json.dumps(MAP))
    assert load_settings_table().locations == {"1": "out-a", "2": "out-b"}
    assert load_settings_table({"locations": {"9": "x"}}).locations == {"9": "x"}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"locations": {"1": "out-a", "2": "out-a"}}, "out-a"),  # one outlet for two locations
        ({"locations": {"Main": "out-a"}}, "Main"),  # not an internal id
        ({"locations": {"1": " "}}, "empty outlet"),
        ({"locations": {}, "outlets": {}}, "outlets"),  # unknown key
    ],
)
def test_an_invalid_variable_is_named(monkeypatch: pytest.MonkeyPatch, value: Any, words: str) -> None:
    monkeypatch.setenv(VAR_ENV, json.dumps(value))
    with pytest.raises(ConfigurationError) as info:
        load_settings_table()
    assert VARIABLE_KEY in str(info.value) and words in str(info.value)


def test_unset_variable_falls_back_to_the_example_only_in_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR_ENV, raising=False)
    assert load_settings_table().locations["2"] == "Store Downtown"  # tests run with dev_mode on
    monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", "False")
    with pytest.raises(ConfigurationError, match=VARIABLE_KEY):
        load_settings_table()


def plan(source: str | None, destination: str | None, *lines: tuple[str, str]) -> OrderPlan:
    return OrderPlan(
        order_id="7",
        tran_id="TO000007",
        location_id=destination,
        source_location_id=source,
        lines=[
            PlanLine(sku=s, quantity=Decimal(q), rate=Decimal(1), line_id=str(n))
            for n, (s, q) in enumerate(lines)
        ],
    )


def test_check_transfer_names_the_order_and_the_unmapped_side() -> None:
    outlets = OutletMap({"1": "out-a", "2": "out-b"})
    assert check_transfer(plan("1", "2"), outlets) == ("out-a", "out-b")
    with pytest.raises(RecordValidationError) as info:
        check_transfer(plan("1", "5"), outlets)
    assert info.value.code == "UNMAPPED_OUTLET" and "TO000007" in info.value.message
    assert "to location 5" in info.value.message
    with pytest.raises(RecordValidationError, match="from location 6"):
        check_transfer(plan("6", "2"), outlets)
    with pytest.raises(RecordValidationError) as same:
        check_transfer(plan("1", "1"), outlets)
    assert same.value.code == "SAME_OUTLET"


def test_transfer_order_body_and_its_bad_lines() -> None:
    cons = Consignment(
        id="c-1", type="OUTLET", status="SENT", outlet_id="b", source_outlet_id="a", reference="T1"
    )
    lines = [ConsignmentProduct(product_id="p1", product_sku="SKU-1", count=Decimal(3), cost=Decimal("2.5"))]
    body = transfer_order_body(
        cons,
        lines,
        source_location_id="1",
        location_id="2",
        items={"SKU-1": "11"},
        consignment_field="custbody_vend_consignment_id",
        synced_field="custbody_vend_synced",
    )
    assert body["location"] == {"id": "1"} and body["transferLocation"] == {"id": "2"}
    assert body["item"]["items"] == [{"item": {"id": "11"}, "quantity": 3.0, "rate": 2.5}]
    assert body["custbody_vend_consignment_id"] == "c-1" and body["custbody_vend_synced"] is True
    kwargs: dict[str, Any] = {
        "source_location_id": "1",
        "location_id": "2",
        "consignment_field": "custbody_vend_consignment_id",
        "synced_field": "custbody_vend_synced",
    }
    with pytest.raises(RecordValidationError, match="SKU-1") as unknown:
        transfer_order_body(cons, lines, items={}, **kwargs)
    assert unknown.value.code == "UNKNOWN_SKU"
    negative = [ConsignmentProduct(product_id="p1", product_sku="SKU-1", count=Decimal(-2))]
    with pytest.raises(RecordValidationError) as bad:
        transfer_order_body(cons, negative, items={"SKU-1": "11"}, **kwargs)
    assert bad.value.code == "BAD_QUANTITY" and "-2" in bad.value.message


def test_the_query_reads_approved_transfer_orders_from_and_to() -> None:
    query = transfer_order_query("custbody_vend_consignment_id", order_id="12")
    assert "t.type = 'TrnfrOrd'" in query and "'B', 'D', 'E', 'F'" in query
    assert "t.location AS source_location" in query and "t.transferlocation AS location" in query
    assert "t.id = 12" in query and query.rstrip().endswith("ORDER BY t.id, tl.id")
    with pytest.raises(ValueError):
        transfer_order_query("custbody_vend_consignment_id", order_id="1 OR 1=1")


# -- the NetSuite sandbox's transfer orders -----------------------------------------------------------


@pytest.fixture
def ns_store() -> Any:
    from po_sync_sandbox.netsuite.generator import GenerateSpec, generate
    from po_sync_sandbox.netsuite.knobs import Knobs
    from po_sync_sandbox.netsuite.store import Store

    store = Store(Knobs())
    generate(
        store,
        GenerateSpec(
            vendors=1,
            customers=0,
            items=5,
            purchase_orders=0,
            drop_ship_orders=0,
            transfer_orders=0,
            custom_records=0,
        ),
    )
    return store


def test_a_transfer_order_needs_two_different_locations(ns_store: Any) -> None:
    from po_sync_sandbox.netsuite.nserrors import NsError

    lines = {"item": {"items": [{"item": {"id": "1"}, "quantity": 2}]}}
    with pytest.raises(NsError, match="To Location"):
        ns_store.create("transferOrder", {"location": {"id": "1"}, **lines})
    with pytest.raises(NsError, match="different"):
        ns_store.create("transferOrder", {"location": {"id": "1"}, "transferLocation": {"id": "1"}, **lines})
    to_id = ns_store.create(
        "transferOrder", {"location": {"id": "1"}, "transferLocation": {"id": "2"}, **lines}
    )
    assert ns_store.get("transferOrder", to_id)["_status"] == "B"


def test_transfer_order_receipts_happen_at_the_destination_after_shipping(ns_store: Any) -> None:
    from po_sync_sandbox.netsuite.nserrors import NsError

    lines = {"item": {"items": [{"item": {"id": "1"}, "quantity": 2}, {"item": {"id": "2"}, "quantity": 1}]}}
    to_id = ns_store.create(
        "transferOrder", {"location": {"id": "1"}, "transferLocation": {"id": "2"}, **lines}
    )
    with pytest.raises(NsError):  # nothing shipped yet: nothing to receive
        ns_store.transform("transferOrder", str(to_id), "itemReceipt", {})
    ship = ns_store.transform("transferOrder", str(to_id), "itemFulfillment", {})
    assert ns_store.get("itemFulfillment", ship)["location"] == {"id": "1"}
    assert ns_store.get("transferOrder", to_id)["_status"] == "F"  # Pending Receipt
    receipt = ns_store.transform(
        "transferOrder",
        str(to_id),
        "itemReceipt",
        {"item": {"items": [{"orderLine": 1, "itemReceive": True}]}},
    )
    doc = ns_store.get("itemReceipt", receipt)
    assert doc["location"] == {"id": "2"} and doc["item"]["items"][0]["location"] == {"id": "2"}
    assert ns_store.get("transferOrder", to_id)["_status"] == "F"  # one line of two
    ns_store.transform("transferOrder", str(to_id), "itemReceipt", {})
    assert ns_store.get("transferOrder", to_id)["_status"] == "G"  # Received
    rows = ns_store.query(
        'SELECT t.createdfrom AS createdfrom, SUM(tl.quantity) AS q FROM "transaction" t JOIN transactionline tl '
        'ON tl."transaction" = t.id WHERE t.type = ? AND tl.mainline = ? GROUP BY t.createdfrom',
        ("ItemRcpt", "F"),
    )
    assert rows == [{"createdfrom": to_id, "q": 3}]
