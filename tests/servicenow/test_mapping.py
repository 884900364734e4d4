"""Pure mapping: staged S2P records -> NetSuite PO plans (no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from po_sync.exceptions import RecordValidationError
from po_sync.servicenow.mapping import asset_parts, mappings_from_rows, plan_purchase_order, split_quantity
from po_sync.servicenow.settings import S2PSettings

SETTINGS = S2PSettings()
MAPS = mappings_from_rows(
    {
        "sn_shop_erp_address_map": [{"location": "HQ", "erp_location": "LOC-1", "erp_subsidiary": "1"}],
        "sn_shop_erp_asset_category_map": [{"capitalization_policy": "IT", "erp_asset_class": "COMP"}],
        "sn_shop_erp_material_group_map": [{"model_category": "Computers", "erp_material_group": "MG1"}],
        "sn_shop_erp_account_assignment_category": [
            {"account_assignment_category": "A", "erp_account_assignment": "asset"}
        ],
    },
    SETTINGS,
)
HEADER = {
    "sys_id": "h1",
    "purchase_order_number": "PO0001",
    "supplier_id": "VEND-0001",
    "order_type": "standard",
    "order_date": "2026-03-02 09:00:00",
    "purchase_order_status": "ordered",
}


def line(n: int, **values: Any) -> dict[str, str]:
    base = {
        "sys_id": f"l{n}",
        "purchase_order_line_number": str(n),
        "purchase_line": f"PL{n}",
        "sku": "ITEM-00001",
        "purchased_quantity": "5",
        "unit_price": "2.50",
        "location_name": "HQ",
    }
    base.update({k: str(v) for k, v in values.items()})
    return base


@pytest.mark.parametrize(
    ("quantity", "parts"),
    [(250, [99, 99, 52]), (100, [99, 1]), (99, [99]), (198, [99, 99]), (1, [1])],
)
def test_split_quantity(quantity: int, parts: list[int]) -> None:
    assert split_quantity(Decimal(quantity), threshold=100, max_quantity=99) == [Decimal(p) for p in parts]


def test_asset_parts_follow_the_split() -> None:
    parts = asset_parts(250, 99)
    assert parts[:99] == [0] * 99 and parts[99:198] == [1] * 99 and parts[198:] == [2] * 52


def test_plan_maps_lines_and_splits_only_capitalised_ones() -> None:
    plan = plan_purchase_order(
        HEADER,
        [
            line(2, purchased_quantity=150),
            line(
                1,
                purchased_quantity=250,
                asset_category="IT",
                model_category="Computers",
                account_assignment_category="A",
            ),
        ],
        MAPS,
        SETTINGS,
    )
    assert plan.action == "upsert" and plan.external_id == "PO0001"
    items = plan.body["item"]["items"]
    assert [(i["line"], i["quantity"]) for i in items] == [(1, 99), (2, 99), (3, 52), (4, 150)]
    assert [i["custcol_s2p_purchase_line"] for i in items] == ["PL1", "PL1", "PL1", "PL2"]
    assert items[0]["custcol_s2p_asset_class"] == "COMP" and items[0]["custcol_s2p_material_group"] == "MG1"
    assert plan.erp_lines_of("l1") == [1, 2, 3] and plan.erp_lines_of("l2") == [4]
    assert plan.body["entity"] == {"externalId": "VEND-0001"} and plan.body["tranDate"] == "2026-03-02"
    assert plan.body["location"] == {"externalId": "LOC-1"} and plan.body["subsidiary"] == {"id": "1"}


def test_same_input_same_hash_and_a_change_changes_it() -> None:
    one = plan_purchase_order(HEADER, [line(1)], MAPS, SETTINGS)
    assert one.payload_hash == plan_purchase_order(HEADER, [line(1)], MAPS, SETTINGS).payload_hash
    assert (
        one.payload_hash
        != plan_purchase_order(HEADER, [line(1, purchased_quantity=6)], MAPS, SETTINGS).payload_hash
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"location_name": "Mars"}, "no ERP mapping in sn_shop_erp_address_map for location_name 'Mars'"),
        ({"asset_category": "Boats"}, "sn_shop_erp_asset_category_map for asset_category 'Boats'"),
        ({"model_category": "Toys"}, "sn_shop_erp_material_group_map for model_category 'Toys'"),
        (
            {"account_assignment_category": "Z"},
            "sn_shop_erp_account_assignment_category for account_assignment_category 'Z'",
        ),
        ({"purchased_quantity": "0"}, "purchased_quantity must be greater than 0"),
        ({"purchased_quantity": "abc"}, "purchased_quantity 'abc' is not a number"),
        ({"unit_price": "-1"}, "unit_price must be at least 0"),
        ({"sku": ""}, "sku '' is empty"),
        ({"asset_category": "IT", "purchased_quantity": "2.5"}, "whole purchased_quantity"),
    ],
)
def test_bad_lines_name_the_po_line_record_field_and_value(values: dict[str, str], message: str) -> None:
    with pytest.raises(RecordValidationError) as caught:
        plan_purchase_order(HEADER, [line(1, **values)], MAPS, SETTINGS)
    assert message in caught.value.message
    assert "PO PO0001 line 1 (sn_spend_intg_outbound_purchase_order_line l1)" in caught.value.message


def test_blanket_is_ignored_cancellation_closes_release_is_standard() -> None:
    blanket = plan_purchase_order({**HEADER, "order_type": "blanket"}, [line(1)], MAPS, SETTINGS)
    assert blanket.action == "ignore" and "blanket order" in blanket.reason
    cancel = plan_purchase_order({**HEADER, "purchase_order_status": "canceled"}, [line(1)], MAPS, SETTINGS)
    assert cancel.action == "cancel"
    release = plan_purchase_order({**HEADER, "blanket_order": "PO0000900"}, [line(1)], MAPS, SETTINGS)
    assert release.action == "upsert" and release.body["custbody_s2p_blanket_order"] == "PO0000900"


def test_header_problems() -> None:
    with pytest.raises(RecordValidationError, match="no lines"):
        plan_purchase_order(HEADER, [], MAPS, SETTINGS)
    with pytest.raises(RecordValidationError, match="supplier_id"):
        plan_purchase_order({**HEADER, "supplier_id": ""}, [line(1)], MAPS, SETTINGS)
    with pytest.raises(RecordValidationError, match="purchase_order_number"):
        plan_purchase_order({**HEADER, "purchase_order_number": "PO 1/2"}, [line(1)], MAPS, SETTINGS)


def test_waves_keep_order_and_hold_a_revision_back_to_a_later_wave() -> None:
    from po_sync.servicenow.hooks import Record
    from po_sync.servicenow.operators import waves

    def header(sys_id: str, number: str) -> Record:
        return Record("t", {"sys_id": sys_id, "purchase_order_number": number})

    headers = [
        header("a", "PO1"),
        header("b", "PO2"),
        header("c", "PO1"),
        header("d", "PO3"),
        header("e", "PO1"),
    ]
    got = [[h.sys_id for h in wave] for wave in waves(headers, 10)]
    assert got == [["a", "b", "d"], ["c"], ["e"]]
    assert [[h.sys_id for h in wave] for wave in waves(headers[:4], 2)] == [["a", "b"], ["c", "d"]]
