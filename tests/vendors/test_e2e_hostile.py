"""Issue 16 through the vendor DAGs (dag.test, NetSuite sandbox, moto): a PO number that is not one
S3 key component, and hostile XML / JSON files next to a good one."""

from __future__ import annotations

import json

import pytest

from po_sync.vendors.formats import dump_document
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE, ns_counts
from tests.vendors.test_merge_import import standard_pos

pytestmark = pytest.mark.e2e

SLASHED = "PO/2026/7"


def test_a_po_number_with_slashes_is_quarantined_not_split_into_folders(dagbag, ledger_conn, world, netsuite):
    """Audit: ``PO/2026/7`` became ``ready/item_receipt/R-PO/2026/7-….json``; the import could not tell
    the document's kind from that key (0 receipts) and the vendor's file was already archived."""
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    po = actor.purchase_orders()[number]
    (row,) = netsuite.store.query('SELECT id FROM "transaction" WHERE tranid = ?', (number,))
    netsuite.store.update("purchaseOrder", str(row["id"]), {"tranId": SLASHED}, replace=set())
    notice = {
        "document_type": "ship_notice",
        "document_id": "SN-SLASHED-1",
        "vendor_id": actor.vendor_id,
        "po_number": SLASHED,
        "ship_date": "2026-01-06",
        "lines": [
            {"line": str(line["line"]), "sku": line["sku"], "quantity_shipped": str(line["quantity"])}
            for line in po["lines"]
        ],
    }
    key = actor._put("ShipNotice_SN-SLASHED-1.json", dump_document(notice, "json"))
    receipts_before = ns_counts(netsuite)["ItemRcpt"]

    assert run_dag(dagbag, EXPORT, {"resync_po_numbers": [SLASHED]}).state == "success"
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"

    # no key holds the number's slashes: not the vendor's PO document, not a merged document
    assert not [k for k in world.keys(actor.bucket) if "PO/2026" in k]
    merge_bucket = world.config["merge_bucket"]
    assert not [k for k in world.keys(merge_bucket) if "2026/7" in k]
    # the vendor's file is kept in quarantine with a note naming the number and the rule
    name = key.rsplit("/", 1)[-1]
    assert world.keys(actor.bucket, f"{actor.prefix}archive/") == []
    note = world.read(actor.bucket, f"{actor.prefix}quarantine/{name}.error.txt").decode()
    assert SLASHED in note and name in note, note
    assert ns_counts(netsuite)["ItemRcpt"] == receipts_before
    export_counts = ledger_conn.status_counts(EXPORT)
    assert export_counts.get("quarantined", 0) >= 1, export_counts


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><ShipNotice><po_number>&lol9;</po_number><lines/></ShipNotice>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<ShipNotice><po_number>&x;</po_number><lines/></ShipNotice>"
)
HOSTILE_FILES = {
    "laughs.xml": (BILLION_LAUGHS, "HOSTILE_XML"),
    "xxe.xml": (EXTERNAL_ENTITY, "HOSTILE_XML"),
    "deep.xml": (
        b"<ShipNotice>" + b"<a>" * 8_000 + b"</a>" * 8_000 + b"<lines/></ShipNotice>",
        "MALFORMED_XML",
    ),
    "huge_number.json": (
        b'{"document_type": "ship_notice", "total": 1e999999999, "lines": []}',
        "MALFORMED_JSON",
    ),
    "long_number.json": (
        b'{"document_type": "ship_notice", "total": ' + b"9" * 5000 + b', "lines": []}',
        "MALFORMED_JSON",
    ),
    "nan.json": (b'{"document_type": "ship_notice", "total": NaN, "lines": []}', "MALFORMED_JSON"),
    "infinity.json": (b'{"document_type": "ship_notice", "total": -Infinity, "lines": []}', "MALFORMED_JSON"),
    "deep.json": (b"[" * 30_000 + b"]" * 30_000, "MALFORMED_JSON"),
}


def test_hostile_xml_and_json_are_quarantined_with_a_note_and_the_good_file_merges(
    dagbag, ledger_conn, world, netsuite
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    good = actor.ship(standard_pos(actor)[0])
    bad = {name: actor._put(f"Hostile_{name}", data) for name, (data, _) in HOSTILE_FILES.items()}
    oversize = actor._put(
        "Hostile_oversize.json",
        b'{"lines": []' + b" " * (world.config.get("max_file_bytes", 5 * 1024 * 1024) + 10) + b"}",
    )

    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"

    assert actor.inbound_keys() == []
    for name, (_, code) in HOSTILE_FILES.items():
        file_name = bad[name].rsplit("/", 1)[-1]
        note = world.read(actor.bucket, f"{actor.prefix}quarantine/{file_name}.error.txt").decode()
        assert note.startswith(code + ":") and file_name in note, (name, note)
    note = world.read(actor.bucket, f"{actor.prefix}quarantine/Hostile_oversize.json.error.txt").decode()
    assert note.startswith("FILE_TOO_LARGE:") and "Hostile_oversize.json" in note
    assert oversize not in world.keys(actor.bucket, f"{actor.prefix}archive/")
    archived = world.keys(actor.bucket, f"{actor.prefix}archive/")
    assert [k.rsplit("/", 1)[-1] for k in archived] == [good.rsplit("/", 1)[-1]]
    assert [m["kind"] for m in world.merged("ready/")] == ["item_receipt"]
    assert ledger_conn.status_counts(MERGE)["quarantined"] == len(HOSTILE_FILES) + 1
    assert "/etc/passwd" not in json.dumps(world.merged("ready/"))
