"""Item receipts, item fulfilments, vendor bills, transfer orders and master data."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from po_sync.models import (
    Item,
    ItemFulfillment,
    ItemFulfillmentShipStatus,
    ItemReceipt,
    Location,
    TransferOrder,
    TransferOrderStatus,
    VendorBill,
    describe_validation_error,
)

# --------------------------------------------------------------------------------------------------
# Item receipt
# --------------------------------------------------------------------------------------------------


def receipt_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_system": "hotwax",
        "source_id": "8302919-20231226161000",
        "created_from": {"type": "purchase_order", "id": "8302919"},
        "location": {"id": "1"},
        "tran_date": "2023-12-26",
        "memo": "Item Receipt is created by HotWax",
        "lines": [
            {"line_id": "1", "order_line": "1", "item": {"sku": "CNC-1"}, "quantity": "100", "unit": "EA"},
            {
                "line_id": "2",
                "order_line": "2",
                "item": {"sku": "PHONE"},
                "quantity": "2",
                "unit": "EA",
                "serial_numbers": ["SN-1", "SN-2"],
            },
        ],
    }
    data.update(overrides)
    return data


def receipt_with_line(index: int, **changes: Any) -> dict[str, Any]:
    data = receipt_data()
    data["lines"] = copy.deepcopy(data["lines"])
    data["lines"][index].update(changes)
    return data


def test_receipt_valid() -> None:
    receipt = ItemReceipt.model_validate(receipt_data())
    assert receipt.total_quantity == Decimal(102)
    assert receipt.lines[1].serial_numbers == ("SN-1", "SN-2")
    assert str(receipt.document_key()) == "item_receipt/hotwax/8302919-20231226161000"
    assert ItemReceipt.model_validate_json(receipt.model_dump_json()) == receipt


def test_receipt_zero_quantity_allowed() -> None:
    # HotWax sends lines already received with empty or zero quantities; the mapper decides.
    assert ItemReceipt.model_validate(receipt_with_line(0, quantity="0")).lines[0].quantity == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            receipt_with_line(0, quantity="-1"), "lines.0.quantity = '-1': must be >= 0", id="negative"
        ),
        pytest.param(
            receipt_with_line(1, serial_numbers=["SN-1"]),
            "lines.1.serial_numbers: 1 serial numbers for a quantity of 2",
            id="serial-count",
        ),
        pytest.param(
            receipt_with_line(1, serial_numbers=["SN-1", "SN-1"]),
            "lines.1.serial_numbers.1 = 'SN-1': duplicate serial number",
            id="serial-duplicate",
        ),
        pytest.param(
            receipt_with_line(0, quantity="1", serial_numbers=["SN-2"]),
            "lines.1.serial_numbers.1 = 'SN-2': serial number also on lines.0",
            id="serial-on-two-lines",
        ),
        pytest.param(
            receipt_data(created_from={"type": "sales_order", "id": "5"}),
            "created_from.type = 'sales_order': an item receipt is created from a purchase_order or a"
            " transfer_order",
            id="wrong-created-from",
        ),
        pytest.param(
            receipt_with_line(0, rate="12.00"),
            "currency: is required when a line has a rate (lines.0.rate)",
            id="rate-needs-currency",
        ),
        pytest.param(
            receipt_with_line(0, order_line=None), "lines.0.order_line = None:", id="order-line-required"
        ),
        pytest.param(receipt_data(lines=[]), "lines = []:", id="no-lines"),
    ],
)
def test_receipt_rejections(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        ItemReceipt.model_validate(data)
    message = describe_validation_error(info.value, record="receipt 8302919", source="receipt/feed.json")
    assert message.startswith("receipt 8302919 (file receipt/feed.json): ")
    assert expected in message


# --------------------------------------------------------------------------------------------------
# Item fulfilment
# --------------------------------------------------------------------------------------------------


def fulfillment_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_system": "vendor_a",
        "source_id": "SHIP-77",
        "number": "SHIP-77",
        "created_from": {"type": "sales_order", "id": "9001"},
        "purchase_order": {"type": "purchase_order", "number": "PO-1001"},
        "ship_status": "C",
        "tran_date": "2026-01-03",
        "packages": [
            {"tracking_number": "1Z999", "carrier": "UPS", "weight": "2.5", "weight_unit": "KG"},
            {"tracking_number": "1Z998", "carrier": "UPS"},
        ],
        "lines": [
            {
                "line_id": "1",
                "order_line": "1",
                "item": {"sku": "PHONE"},
                "quantity": 2,
                "unit": "EA",
                "serial_numbers": ["A1", "A2"],
                "tracking_numbers": ["1Z999"],
            },
            {"line_id": "2", "order_line": "2", "item": {"sku": "CASE"}, "quantity": "1", "unit": "EA"},
        ],
        "shipped_at": "2026-01-03T10:00:00-05:00",
    }
    data.update(overrides)
    return data


def test_fulfillment_valid() -> None:
    fulfillment = ItemFulfillment.model_validate(fulfillment_data())
    assert fulfillment.ship_status is ItemFulfillmentShipStatus.SHIPPED
    assert fulfillment.tracking_numbers == ("1Z999", "1Z998")
    assert fulfillment.serial_numbers == ("A1", "A2")
    assert ItemFulfillment.model_validate_json(fulfillment.model_dump_json()) == fulfillment


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"packages": [{"weight": "2"}]},
            "packages.0.weight_unit: is required when weight is given",
            id="weight-unit",
        ),
        pytest.param(
            {"ship_status": "ItemShip:X"},
            "ship_status = 'ItemShip:X': is not a ItemFulfillmentShipStatus",
            id="status",
        ),
        pytest.param(
            {"purchase_order": {"type": "transfer_order", "id": "1"}},
            "purchase_order.type = 'transfer_order': must refer to a purchase_order",
            id="po-ref-type",
        ),
        pytest.param(
            {"shipped_at": "2026-01-03T10:00:00"},
            "shipped_at = '2026-01-03T10:00:00': Input should have timezone info",
            id="naive",
        ),
    ],
)
def test_fulfillment_rejections(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        ItemFulfillment.model_validate(fulfillment_data(**changes))
    assert expected in describe_validation_error(info.value, record="shipment SHIP-77")


# --------------------------------------------------------------------------------------------------
# Vendor bill
# --------------------------------------------------------------------------------------------------


def bill_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_system": "vendor_a",
        "source_id": "INV-555",
        "number": "INV-555",
        "vendor": {"id": "12"},
        "created_from": {"type": "purchase_order", "id": "607632"},
        "tran_date": "2026-01-04",
        "due_date": "2026-02-03",
        "currency": "EUR",
        "item_lines": [
            {
                "line_id": "1",
                "order_line": "1",
                "item": {"sku": "CNC-1"},
                "quantity": "3",
                "unit": "EA",
                "rate": "33.333",
                "amount": "100.00",
            },
        ],
        "expense_lines": [
            {"line_id": "F1", "account": {"name": "Freight"}, "amount": "12.50", "memo": "freight"}
        ],
        "tax_total": "21.00",
    }
    data.update(overrides)
    return data


def test_bill_total_computed_from_items_expenses_and_tax() -> None:
    bill = VendorBill.model_validate(bill_data())
    assert bill.total == Decimal("133.50")
    assert str(bill.total_money) == "133.50 EUR"
    assert VendorBill.model_validate(bill_data(total="133.50")).payload_hash() == bill.payload_hash()
    assert VendorBill.model_validate_json(bill.model_dump_json()) == bill


def test_bill_with_only_expense_lines() -> None:
    bill = VendorBill.model_validate(bill_data(item_lines=[], tax_total=None))
    assert bill.total == Decimal("12.50")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"total": "140"},
            "total = '140': does not match item + expense line amounts + tax_total (133.50)",
            id="total",
        ),
        pytest.param(
            {"item_lines": [], "expense_lines": []},
            "item_lines: a bill needs at least one item or expense line",
            id="no-lines",
        ),
        pytest.param(
            {"expense_lines": [{"line_id": "1", "account": {"id": "6000"}, "amount": "1"}]},
            "expense_lines.0.line_id = '1': line_id also used by an item line",
            id="line-id-shared",
        ),
        pytest.param(
            {"created_from": {"type": "transfer_order", "id": "1"}},
            "created_from.type = 'transfer_order'",
            id="created-from",
        ),
        pytest.param({"status": "Paid"}, "status = 'Paid': is not a VendorBillStatus", id="status"),
        pytest.param({"currency": None}, "currency = None", id="currency-required"),
    ],
)
def test_bill_rejections(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        VendorBill.model_validate(bill_data(**changes))
    assert expected in describe_validation_error(info.value, record="bill INV-555")


# --------------------------------------------------------------------------------------------------
# Transfer order
# --------------------------------------------------------------------------------------------------


def to_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_system": "xseries",
        "source_id": "0af7b240-ab24-11e4-ede4-1b8e5bc4e4f2",
        "number": "TO-42",
        "from_location": {"id": "outlet-a"},
        "to_location": {"id": "outlet-b"},
        "tran_date": "2026-01-02",
        "status": "TrnfrOrd:F",
        "lines": [
            {
                "line_id": "p-1",
                "item": {"id": "p-1", "sku": "CNC-1"},
                "quantity": "5",
                "unit": "EA",
                "quantity_fulfilled": "5",
                "quantity_received": "2",
            }
        ],
    }
    data.update(overrides)
    return data


def test_transfer_order_valid() -> None:
    order = TransferOrder.model_validate(to_data())
    assert order.status is TransferOrderStatus.PENDING_RECEIPT
    assert order.lines[0].quantity_received == Decimal(2)
    assert TransferOrder.model_validate_json(order.model_dump_json()) == order


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"to_location": {"id": "outlet-a"}},
            "to_location = 'outlet-a': must differ from from_location",
            id="same-location",
        ),
        pytest.param(
            {
                "lines": [
                    {
                        "line_id": "1",
                        "item": {"id": "1"},
                        "quantity": "5",
                        "unit": "EA",
                        "quantity_fulfilled": "1",
                        "quantity_received": "2",
                    }
                ]
            },
            "lines.0.quantity_received = '2': is more than quantity_fulfilled (1)",
            id="received-more-than-shipped",
        ),
        pytest.param(
            {"lines": [{"line_id": "1", "item": {"id": "1"}, "quantity": "5", "unit": "EA", "rate": "3"}]},
            "currency: is required when a line has a rate",
            id="rate-needs-currency",
        ),
        pytest.param({"status": "PurchOrd:B"}, "status = 'PurchOrd:B'", id="po-status-prefix"),
    ],
)
def test_transfer_order_rejections(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        TransferOrder.model_validate(to_data(**changes))
    assert expected in describe_validation_error(
        info.value, record="TO TO-42", source="xseries", source_kind=""
    )


# --------------------------------------------------------------------------------------------------
# Master data
# --------------------------------------------------------------------------------------------------


def test_item_and_location_refs() -> None:
    item = Item(
        source_system="netsuite",
        source_id="13861",
        sku="CNC-1",
        unit="EA",
        purchase_price=Decimal("3800"),
        currency="USD",
    )
    assert item.ref().model_dump() == {"id": "13861", "sku": "CNC-1", "name": None}
    location = Location(source_system="netsuite", source_id="1", name="Laguna Texas")
    assert location.ref().id == "1"


def test_item_price_needs_currency() -> None:
    with pytest.raises(ValidationError) as info:
        Item.model_validate(
            {"source_system": "netsuite", "source_id": "1", "sku": "X", "unit": "EA", "purchase_price": "1"}
        )
    assert "currency: is required when purchase_price is given" in describe_validation_error(
        info.value, record="item X"
    )
