"""describe_validation_error / record_validation_error: one readable line per failed record."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from po_sync.exceptions import RecordValidationError
from po_sync.models import PurchaseOrder, describe_validation_error, record_validation_error

_BASE: dict[str, Any] = {
    "source_system": "vendor_a",
    "source_id": "1001",
    "number": "PO-1001",
    "vendor": {"id": "12"},
    "tran_date": "2026-01-01",
    "status": "B",
    "currency": "USD",
    "lines": [{"line_id": "1", "item": {"sku": "A"}, "quantity": "1", "unit": "EA", "rate": "1"}],
}


def _error(**changes: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        PurchaseOrder.model_validate(_BASE | changes)
    return info.value


@pytest.mark.parametrize(
    ("kwargs", "head"),
    [
        pytest.param({}, "PO PO-1001: ", id="no-source"),
        pytest.param({"source": "vendor_a/f.json"}, "PO PO-1001 (file vendor_a/f.json): ", id="file"),
        pytest.param(
            {"source": "netsuite purchaseOrder/1", "source_kind": ""},
            "PO PO-1001 (netsuite purchaseOrder/1): ",
            id="no-kind",
        ),
        pytest.param(
            {"source": "inbox/x.edi", "source_kind": "message"},
            "PO PO-1001 (message inbox/x.edi): ",
            id="kind",
        ),
    ],
)
def test_head(kwargs: dict[str, Any], head: str) -> None:
    message = describe_validation_error(_error(currency="US"), record="PO PO-1001", **kwargs)
    assert message.startswith(head)


def test_every_error_listed_in_order() -> None:
    exc = _error(currency="US", tran_date="not a date", memo=3)
    message = describe_validation_error(exc, record="PO PO-1001")
    parts = message.removeprefix("PO PO-1001: ").split("; ")
    assert [p.split(" = ")[0] for p in parts] == ["tran_date", "currency", "memo"]
    assert parts[0].startswith("tran_date = 'not a date': Input should be a valid date")


def test_long_values_truncated() -> None:
    message = describe_validation_error(_error(currency="X" * 500), record="PO")
    assert len(message) < 250
    assert "..." in message


def test_record_validation_error() -> None:
    error = record_validation_error(
        _error(currency="US"), record="PO PO-1001", source="f.json", record_id="1001"
    )
    assert isinstance(error, RecordValidationError)
    assert error.code == "VALIDATION_ERROR"
    assert error.record_id == "1001"
    assert str(error).startswith("PO PO-1001 (file f.json): currency = 'US': ")
