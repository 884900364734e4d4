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
