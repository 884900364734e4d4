"""Vendor settings: validation, the example file, the Variable override read at run time."""

from __future__ import annotations

import json

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.vendors.settings import EXAMPLE_FILE, load_vendors_config, parse_vendors_config


def test_example_file_is_valid():
    config = parse_vendors_config(EXAMPLE_FILE.read_text())
    assert [v.format for v in config.vendors] == ["xml", "json", "csv"]
    assert config.vendors[2].po_key("PO1") == "edi/acme/PurchaseOrder/PO1.csv"
    assert config.vendors[0].sqs_queue == "vendor-v0001-notices"


def test_variable_overrides_the_example(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_VAR_PO_SYNC_VENDORS",
        json.dumps({"vendors": [{"vendor_id": "X1", "bucket": "bucket-x", "format": "XML"}]}),
    )
    config = load_vendors_config()
    assert [v.vendor_id for v in config.vendors] == ["X1"] and config.vendors[0].format == "xml"


def test_unset_variable_in_a_sandbox_falls_back_to_the_example(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_PO_SYNC_VENDORS", raising=False)
    monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", "True")
    assert load_vendors_config() == parse_vendors_config(EXAMPLE_FILE.read_text())


@pytest.mark.parametrize("value", [None, ""])
def test_unset_variable_outside_a_sandbox_names_it(monkeypatch, value):
    monkeypatch.delenv("AIRFLOW__PO_SYNC__DEV_MODE", raising=False)
    if value is None:
        monkeypatch.delenv("AIRFLOW_VAR_PO_SYNC_VENDORS", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", value)
    with pytest.raises(ConfigurationError, match="Airflow Variable 'po_sync_vendors' .* is not set"):
        load_vendors_config()


def test_broken_variable_outside_a_sandbox_names_it_and_never_uses_the_example(monkeypatch):
    monkeypatch.delenv("AIRFLOW__PO_SYNC__DEV_MODE", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", '{"vendors": [{"vendor_id": "A"')
    with pytest.raises(ConfigurationError, match="po_sync_vendors.*not JSON"):
        load_vendors_config()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"vendors": [{"vendor_id": "A", "bucket": "Bad_Bucket"}]}, "bucket"),
        ({"vendors": [{"vendor_id": "A", "bucket": "bucket-a", "format": "pdf"}]}, "format"),
        ({"vendors": [{"vendor_id": "A", "bucket": "bucket-a", "statuses": ["Shipped"]}]}, "statuses"),
        ({"vendors": [{"vendor_id": "A", "bucket": "bucket-a", "prefix": "../x"}]}, "prefix"),
        (
            {"vendors": [{"vendor_id": "A", "bucket": "bucket-a"}, {"vendor_id": "A", "bucket": "bucket-b"}]},
            "twice",
        ),
        ({"vendors": [{"vendor_id": "A", "bucket": "bucket-a", "colour": "red"}]}, "colour"),
        ("{not json", "not JSON"),
    ],
)
def test_bad_settings_name_the_field(raw, needle):
    with pytest.raises(ConfigurationError, match=needle):
        parse_vendors_config(raw if isinstance(raw, str) else json.dumps(raw))


def test_unknown_vendor_lists_the_known_ones():
    config = parse_vendors_config(EXAMPLE_FILE.read_text())
    with pytest.raises(ConfigurationError, match="V0001, V0002, V0003"):
        config.active("V9")
