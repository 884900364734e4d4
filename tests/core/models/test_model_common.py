"""Decimals, codes, references and hashing shared by every canonical model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from po_sync.models import (
    Amount,
    CurrencyCode,
    ItemRef,
    Money,
    Quantity,
    RecordRef,
    Timestamp,
    Vendor,
    amount_tolerance,
    canonical_json,
    normalize_decimal,
)


class _Holder(BaseModel):
    amount: Amount | None = None
    quantity: Quantity | None = None
    currency: CurrencyCode | None = None
    at: Timestamp | None = None


def _hold(**data: Any) -> _Holder:
    """Validate wire-shaped input (str, int, float) the way mappers do."""
    return _Holder.model_validate(data)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("10.50", "10.50", id="str-keeps-trailing-zero"),
        pytest.param("0.1", "0.1", id="str-tenth"),
        pytest.param(" 3 ", "3", id="str-whitespace"),
        pytest.param(7, "7", id="int"),
        pytest.param(Decimal("12.34567"), "12.34567", id="decimal-5dp-xseries"),
        pytest.param(
            "123456789012345.123456789", "123456789012345.123456789", id="str-beyond-float-precision"
        ),
        pytest.param(0.1, "0.1", id="float-short-repr-exact"),
        pytest.param(12.5, "12.5", id="float-half"),
        pytest.param(1e-05, "0.00001", id="float-small"),
        pytest.param("-0.00", "0.00", id="negative-zero-folded"),
    ],
)
def test_amount_accepts_and_keeps_precision(raw: Any, expected: str) -> None:
    value = _hold(amount=raw).amount
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)
    assert str(value) == str(Decimal(expected))  # exponent kept: "10.50" stays "10.50"


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        pytest.param("NaN", "decimal_not_finite", id="nan-str"),
        pytest.param("Infinity", "decimal_not_finite", id="inf-str"),
        pytest.param(float("nan"), "decimal_not_finite", id="nan-float"),
        pytest.param(float("-inf"), "decimal_not_finite", id="inf-float"),
        pytest.param(Decimal("sNaN"), "decimal_not_finite", id="snan-decimal"),
        pytest.param(0.1 + 0.2, "decimal_float_precision", id="float-lossy-0.30000000000000004"),
        pytest.param(1234567890.1234567, "decimal_float_precision", id="float-17-digits"),
        pytest.param(True, "decimal_type", id="bool"),
        pytest.param("1_000", "decimal_parsing", id="underscore"),
        pytest.param("12,50", "decimal_parsing", id="comma-decimal"),
        pytest.param("", "decimal_parsing", id="empty"),
        pytest.param([1], "decimal_type", id="list"),
        pytest.param("1E+30", "decimal_range", id="huge"),
        pytest.param("1E-30", "decimal_range", id="tiny"),
    ],
)
def test_amount_rejects(raw: Any, error_type: str) -> None:
    with pytest.raises(ValidationError) as info:
        _hold(amount=raw)
    (error,) = info.value.errors()
    assert error["type"] == error_type
    assert error["loc"] == ("amount",)


def test_quantity_rejects_negative_with_message() -> None:
    with pytest.raises(ValidationError) as info:
        _hold(quantity="-3")
    (error,) = info.value.errors()
    assert error["msg"] == "must be >= 0"
    assert error["input"] == "-3"


def test_amount_may_be_negative() -> None:
    assert _hold(amount="-5.00").amount == Decimal("-5.00")


def test_decimals_serialise_as_json_strings() -> None:
    holder = _hold(amount="10.50", quantity=3)
    assert holder.model_dump_json(exclude_none=True) == '{"amount":"10.50","quantity":"3"}'
    assert holder.model_dump()["amount"] == Decimal("10.50")  # python mode keeps Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("usd", "USD", id="lower"),
        pytest.param(" EUR ", "EUR", id="spaces"),
    ],
)
def test_currency_normalised(raw: str, expected: str) -> None:
    assert _hold(currency=raw).currency == expected


@pytest.mark.parametrize("raw", [pytest.param(v, id=v or "empty") for v in ["US", "USDX", "U$D", "", "12A"]])
def test_currency_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        _hold(currency=raw)


def test_naive_timestamp_rejected_aware_accepted() -> None:
    with pytest.raises(ValidationError) as info:
        _hold(at=datetime(2025, 12, 19, 15, 23))
    assert info.value.errors()[0]["type"] == "timezone_aware"
    with pytest.raises(ValidationError):
        _hold(at="2025-12-19T15:23:00")
    assert _hold(at="2025-12-19T15:23:00Z").at == datetime(2025, 12, 19, 15, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10", "10", id="int"),
        pytest.param("10.0", "10", id="trailing-zero"),
        pytest.param("10.50", "10.5", id="trailing-zero-fraction"),
        pytest.param("1E+1", "10", id="exponent"),
        pytest.param("0.000", "0", id="zero"),
        pytest.param("-0.0010", "-0.001", id="negative-fraction"),
    ],
)
def test_normalize_decimal(value: str, expected: str) -> None:
    assert normalize_decimal(Decimal(value)) == expected


def test_canonical_json_sorted_and_normalised() -> None:
    left = canonical_json({"b": Decimal("10.0"), "a": [Decimal("1.50")]})
    right = canonical_json({"a": [Decimal("1.5")], "b": Decimal("10")})
    assert left == right == '{"a":["1.5"],"b":"10"}'


def test_canonical_json_timestamps_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    same_instant = [datetime(2025, 1, 1, 12, tzinfo=UTC), datetime(2025, 1, 1, 14, tzinfo=plus_two)]
    assert canonical_json(same_instant[0]) == canonical_json(same_instant[1])


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        pytest.param("USD", "0.01", id="two-decimals"),
        pytest.param("JPY", "0.5", id="zero-decimals-half-yen"),
        pytest.param("KWD", "0.01", id="three-decimals-keeps-cent"),
    ],
)
def test_amount_tolerance(currency: str, expected: str) -> None:
    assert amount_tolerance(currency) == Decimal(expected)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        pytest.param(RecordRef, {}, id="record-ref-empty"),
        pytest.param(ItemRef, {"name": "only a name"}, id="item-ref-name-only"),
    ],
)
def test_refs_need_an_identifier(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_money_str_and_frozen() -> None:
    money = Money.model_validate({"amount": "12.30", "currency": "eur"})
    assert str(money) == "12.30 EUR"
    with pytest.raises(ValidationError):
        money.amount = Decimal(1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("source_system", "NetSuite", id="source-system-uppercase"),
        pytest.param("source_system", "net suite", id="source-system-space"),
        pytest.param("source_id", "", id="source-id-empty"),
        pytest.param("source_id", "x" * 201, id="source-id-too-long"),
        pytest.param("unknown", "x", id="extra-field"),
    ],
)
def test_identity_validated(field: str, value: str) -> None:
    data = {"source_system": "xseries", "source_id": "v-1", "name": "Acme"} | {field: value}
    with pytest.raises(ValidationError) as info:
        Vendor.model_validate(data)
    assert info.value.errors()[0]["loc"] == (field,)


def test_vendor_document_key() -> None:
    vendor = Vendor(source_system="xseries", source_id="v-1", name="Acme")
    key = vendor.document_key()
    assert tuple(key) == ("vendor", "xseries", "v-1")
    assert str(key) == "vendor/xseries/v-1"
