"""The canonical purchase order: totals, statuses, identity, hashing, immutability, JSON."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from po_sync.models import (
    ApprovalStatus,
    PurchaseOrder,
    PurchaseOrderStatus,
    describe_validation_error,
)


def po_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_system": "netsuite",
        "source_id": "607632",
        "external_id": "PO-1001",
        "last_modified": "2025-12-19T15:23:00Z",
        "number": "PO-1001",
        "vendor": {"id": "12", "name": "Acme Supply"},
        "location": {"id": "1", "name": "Laguna Texas"},
        "tran_date": "2025-12-19",
        "expected_receipt_date": "2026-01-05",
        "status": {"id": "Pending Receipt", "refName": "Pending Receipt"},
        "approval_status": {"id": "2", "refName": "Approved"},
        "currency": "USD",
        "memo": "restock",
        "lines": [
            {
                "line_id": "1",
                "item": {"id": "13861", "sku": "CNC-1"},
                "quantity": "10",
                "unit": "EA",
                "rate": "3800",
            },
            {"line_id": "2", "item": {"sku": "BOLT-8"}, "quantity": "2.5", "unit": "KG", "rate": "0.10"},
            {
                "line_id": "3",
                "item": {"id": "77"},
                "quantity": 4,
                "unit": "EA",
                "rate": "19.99",
                "amount": "79.96",
            },
        ],
    }
    data.update(overrides)
    return data


def with_line(index: int, **changes: Any) -> dict[str, Any]:
    data = po_data()
    data["lines"] = copy.deepcopy(data["lines"])
    data["lines"][index].update(changes)
    return data


def test_valid_po_types_and_computed_values() -> None:
    po = PurchaseOrder.model_validate(po_data())
    assert po.status is PurchaseOrderStatus.PENDING_RECEIPT
    assert po.status.code == "B"
    assert po.approval_status is ApprovalStatus.APPROVED
    assert po.tran_date == date(2025, 12, 19)
    assert po.lines[0].amount == Decimal("38000")
    assert po.lines[1].amount == Decimal("0.250")  # exact product, not rounded
    assert po.total == Decimal("38080.21")
    assert str(po.total_money) == "38080.210 USD"
    assert po.lines[0].quantity_remaining == Decimal(10)
    assert po.line("3").item.id == "77"
    with pytest.raises(KeyError):
        po.line("9")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("B", PurchaseOrderStatus.PENDING_RECEIPT, id="letter"),
        pytest.param("PurchOrd:F", PurchaseOrderStatus.PENDING_BILL, id="search-prefix"),
        pytest.param(
            "pending billing/partially received",
            PurchaseOrderStatus.PENDING_BILLING_PARTIALLY_RECEIVED,
            id="name-casefold",
        ),
        pytest.param({"id": "H", "refName": "H"}, PurchaseOrderStatus.CLOSED, id="netsuite-orderStatus-ref"),
        pytest.param(
            "Pending Supervisor Approval", PurchaseOrderStatus.PENDING_SUPERVISOR_APPROVAL, id="name-A"
        ),
        pytest.param("G", PurchaseOrderStatus.FULLY_BILLED, id="letter-G"),
    ],
)
def test_status_parsing(raw: Any, expected: PurchaseOrderStatus) -> None:
    assert PurchaseOrder.model_validate(po_data(status=raw)).status is expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("Received", id="advanced-receiving-off-unverified"),
        pytest.param("Z", id="unknown-letter"),
        pytest.param("TrnfrOrd:B", id="wrong-prefix"),
        pytest.param(None, id="none"),
    ],
)
def test_status_rejected(raw: Any) -> None:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(po_data(status=raw))
    assert info.value.errors()[0]["loc"] == ("status",)


def test_status_letters_a_to_h() -> None:
    assert [s.code for s in PurchaseOrderStatus] == list("ABCDEFGH")
    assert {s for s in PurchaseOrderStatus if s.is_receivable} == {
        PurchaseOrderStatus.PENDING_RECEIPT,
        PurchaseOrderStatus.PARTIALLY_RECEIVED,
        PurchaseOrderStatus.PENDING_BILLING_PARTIALLY_RECEIVED,
    }


def test_negative_quantity_message_names_record_file_field_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(with_line(2, quantity="-3"))
    message = describe_validation_error(info.value, record="PO PO-1001", source="vendor_a/fulfilment_1.json")
    assert message == "PO PO-1001 (file vendor_a/fulfilment_1.json): lines.2.quantity = '-3': must be >= 0"


@pytest.mark.parametrize(
    ("total", "ok"),
    [
        pytest.param("38080.21", True, id="exact"),
        pytest.param("38080.22", True, id="within-a-cent"),
        pytest.param("38080.20", True, id="cent-below"),
        pytest.param("38080.23", False, id="two-cents-off"),
        pytest.param("38000", False, id="line-missing"),
    ],
)
def test_total_checked_against_lines(total: str, ok: bool) -> None:
    data = po_data(total=total)
    if ok:
        assert PurchaseOrder.model_validate(data).total == Decimal(total)
        return
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(data)
    message = describe_validation_error(info.value, record="PO PO-1001")
    assert message.startswith(f"PO PO-1001: total = '{total}': does not match the sum of the line amounts")


def test_line_amount_checked_against_quantity_times_rate() -> None:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(with_line(2, amount="80.00"))
    message = describe_validation_error(info.value, record="PO PO-1001", source="s3://bucket/po.json")
    assert "lines.2.amount = '80.00': does not match quantity * rate (4 * 19.99 = 79.96)" in message


def test_zero_decimal_currency_allows_whole_unit_rounding() -> None:
    data = po_data(
        currency="JPY",
        lines=[
            {
                "line_id": "1",
                "item": {"id": "1"},
                "quantity": "1.5",
                "unit": "EA",
                "rate": "101",
                "amount": "152",
            }
        ],
    )
    assert PurchaseOrder.model_validate(data).total == Decimal("152")
    with pytest.raises(ValidationError):
        PurchaseOrder.model_validate(data | {"currency": "USD"})


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"lines": []}, "lines", id="no-lines"),
        pytest.param({"tran_date": "19/12/2025"}, "tran_date", id="bad-date"),
        pytest.param({"created_at": "2025-12-19T15:23:00"}, "created_at", id="naive-timestamp"),
        pytest.param({"last_modified": "2025-12-19 15:23:00"}, "last_modified", id="naive-last-modified"),
        pytest.param({"currency": "dollars"}, "currency", id="bad-currency"),
        pytest.param({"vendor": {}}, "vendor", id="empty-vendor-ref"),
        pytest.param({"approval_status": "9"}, "approval_status", id="bad-approval"),
        pytest.param({"tranId": "PO-1"}, "tranId", id="unknown-field"),
    ],
)
def test_document_level_rejections(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(po_data(**changes))
    assert info.value.errors()[0]["loc"][0] == path


def test_missing_unit_rejected() -> None:
    data = po_data()
    data["lines"] = copy.deepcopy(data["lines"])
    del data["lines"][0]["unit"]
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(data)
    assert (
        describe_validation_error(info.value, record="PO PO-1001")
        == "PO PO-1001: lines.0.unit: Field required"
    )


def test_duplicate_line_ids_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(with_line(1, line_id="1"))
    assert "lines.1.line_id = '1': duplicate line_id" in describe_validation_error(info.value, record="PO")


def test_frozen() -> None:
    po = PurchaseOrder.model_validate(po_data())
    with pytest.raises(ValidationError):
        po.memo = "changed"
    with pytest.raises(ValidationError):
        po.lines[0].quantity = Decimal(1)
    assert isinstance(po.lines, tuple)
    assert hash(po) == hash(PurchaseOrder.model_validate(po_data()))


def test_json_round_trip() -> None:
    po = PurchaseOrder.model_validate(po_data())
    text = po.model_dump_json()
    assert '"quantity":"2.5"' in text and '"rate":"0.10"' in text and '"total":"38080.210"' in text
    assert '"status":"Pending Receipt"' in text
    again = PurchaseOrder.model_validate_json(text)
    assert again == po
    assert again.payload_hash() == po.payload_hash()
    assert again.lines[1].rate == Decimal("0.10")


def test_payload_hash_stable_and_normalised() -> None:
    first = PurchaseOrder.model_validate(po_data())
    same = PurchaseOrder.model_validate(po_data())
    assert first.payload_hash() == same.payload_hash()
    assert len(first.payload_hash()) == 64
    # "10.0" vs "10", an explicit total vs a computed one, the status written as a letter, and a
    # later last_modified (bookkeeping, not content) all describe the same PO.
    variant = with_line(0, quantity="10.000", rate=Decimal("3800.0"))
    variant.update(total="38080.21", status="B", last_modified="2026-01-01T00:00:00+02:00")
    assert PurchaseOrder.model_validate(variant).payload_hash() == first.payload_hash()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(with_line(0, quantity="11"), id="quantity"),
        pytest.param(with_line(1, unit="LB"), id="unit"),
        pytest.param(with_line(2, item={"id": "78"}), id="item"),
        pytest.param(po_data(memo="restock!"), id="memo"),
        pytest.param(po_data(status="D"), id="status"),
        pytest.param(po_data(expected_receipt_date="2026-01-06"), id="date"),
        pytest.param(po_data(source_id="607633"), id="identity"),
    ],
)
def test_payload_hash_changes_with_content(data: dict[str, Any]) -> None:
    assert (
        PurchaseOrder.model_validate(data).payload_hash()
        != PurchaseOrder.model_validate(po_data()).payload_hash()
    )


def test_document_key() -> None:
    po = PurchaseOrder.model_validate(po_data())
    assert tuple(po.document_key()) == ("purchase_order", "netsuite", "607632")
    assert str(po.document_key()) == "purchase_order/netsuite/607632"
