"""Links to a record's files: only locations its flow names, under its folders, never a traversal."""

from __future__ import annotations

import pytest

from po_sync.hotwax import retries as hotwax_retries
from po_sync.ui import files

WHERE = {"conn_id": "sftp_default", "folder": "netsuite/purchaseorder/receipt"}


@pytest.fixture(autouse=True)
def hotwax_registered():
    import functools

    files.register(
        "hotwax_receipt_import",
        functools.partial(hotwax_retries.files_of, **WHERE),
        hotwax_retries.roots(**WHERE),
    )


@pytest.mark.parametrize(
    "location",
    [
        "sftp:sftp_default:netsuite/purchaseorder/receipt/../../../etc/passwd",
        "s3://bucket//etc/passwd",
        "sftp:sftp_default:/x/../etc/passwd",
        "sftp:sftp_default:netsuite/purchaseorder/receipt/a\\..\\b",
        "sftp:sftp_default:netsuite//x",
        "s3://bucket/a/./b",
        "file:///etc/passwd",
        "sftp::x",
    ],
)
def test_unsafe_locations_do_not_parse(location):
    assert files.parse(location) is None


def test_a_quarantined_file_and_its_note_are_linked_and_nothing_else_is_served():
    record = {
        "flow": "hotwax_receipt_import",
        "entity_type": "receipt_file",
        "source_id": "HC_Receipt-2026.json@abc",
        "trace_key": None,
    }
    linked = files.record_files(record)
    assert [f["location"] for f in linked] == [
        "sftp:sftp_default:netsuite/purchaseorder/receipt/error/HC_Receipt-2026.json",
        "sftp:sftp_default:netsuite/purchaseorder/receipt/error/HC_Receipt-2026.json.errors.csv",
    ]
    assert files.allowed(record, linked[0]["location"]).path.endswith("error/HC_Receipt-2026.json")
    assert (
        files.allowed(record, "sftp:sftp_default:netsuite/purchaseorder/receipt/archive/other.json") is None
    )
    # a name from the ledger that would climb out of the folder is never linked
    evil = dict(record, source_id="../../../../etc/passwd@abc")
    assert files.record_files(evil) == []
    # a retried file's inbound location (from the ledger) is linked, inside the folder only
    moved = dict(
        record,
        status="pending",
        trace_key="retry:sftp:sftp_default:netsuite/purchaseorder/receipt/x.retry-4.json",
    )
    assert files.record_files(moved)[0]["label"].startswith("inbound file")
    outside = dict(record, status="pending", trace_key="retry:sftp:sftp_default:home/other/x.json")
    assert all("home/other" not in f["location"] for f in files.record_files(outside))
    absolute = dict(record, status="pending", trace_key="retry:sftp:sftp_default:/etc/passwd")  # no root
    assert all("/etc/passwd" not in f["location"] for f in files.record_files(absolute))
    # a flow that registered nothing links nothing
    assert files.record_files(dict(record, flow="vend_purchase_order_sync")) == []
    # once imported, the archived file is the link
    done = dict(
        record,
        status="synced",
        target_system="sftp",
        target_id="netsuite/purchaseorder/receipt/archive/HC_Receipt-2026.json",
    )
    assert [f["label"] for f in files.record_files(done)] == ["archived file"]
