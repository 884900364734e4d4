"""Files kept in the vendor buckets (archive, quarantine) never replace each other or our notes, and a
file another merge has already taken is skipped, not an error.

Before the fix: ``inbound/sub/X`` and ``inbound/X`` archived (and quarantined) to the same key, a
vendor file named ``x.json.error.txt`` replaced our note about ``x.json``, and a merge archiving a
file a concurrent merge had already moved failed with ``NoSuchKey``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from po_sync.vendors.operators.merge import VendorMerger
from po_sync.vendors.s3 import quarantine_file
from po_sync.vendors.settings import parse_vendors_config
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, MERGE

pytestmark = pytest.mark.e2e

LOG = logging.getLogger("tests.vendors.kept_keys")


def _vendor(world, vendor_id: str = "V0001") -> Any:
    return parse_vendors_config(world.config).vendor(vendor_id)


def _put(world, bucket: str, key: str, body: bytes) -> str:
    world.s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def _contents(world, bucket: str, prefix: str) -> dict[str, bytes]:
    return {k: world.read(bucket, k) for k in world.keys(bucket, prefix)}


def test_quarantine_keeps_every_file_and_every_note(world):
    vendor = _vendor(world)
    bucket, inbound, quarantine = vendor.bucket, vendor.inbound_prefix, vendor.quarantine_prefix
    cases = [
        (f"{inbound}sub/x.json", b"from sub/", "BAD_A"),
        (f"{inbound}x.json", b"from inbound/", "BAD_B"),
        (f"{inbound}x.json.error.txt", b"a vendor file named like our note", "UNKNOWN_FORMAT"),
    ]
    for key, body, code in cases:
        _put(world, bucket, key, body)
        quarantine_file(world.s3, bucket, key, quarantine, f"{code} happened", code)
    _put(world, bucket, f"{inbound}x.json", b"x.json again, other content")
    quarantine_file(world.s3, bucket, f"{inbound}x.json", quarantine, "again", "BAD_C")

    kept = _contents(world, bucket, quarantine)
    files = {k: v for k, v in kept.items() if not k.endswith(".error.txt")}
    notes = {k: v.decode() for k, v in kept.items() if k.endswith(".error.txt")}
    assert sorted(files.values()) == sorted(
        [b"from sub/", b"from inbound/", b"a vendor file named like our note", b"x.json again, other content"]
    )
    assert len(notes) == 4, notes.keys()
    for key in files:
        assert key + ".error.txt" in notes, f"{key} has its own note"
    assert {n.split(":", 1)[0] for n in notes.values()} == {"BAD_A", "BAD_B", "UNKNOWN_FORMAT", "BAD_C"}
    assert world.keys(bucket, inbound) == []


def test_archive_keeps_same_names_from_different_folders_and_skips_files_taken(world, ledger_conn):
    from po_sync.ledger import RunContext
    from po_sync.sync import SyncRun

    vendor = _vendor(world)
    with SyncRun(ledger=ledger_conn, flow=MERGE, context=RunContext(task_id="archive")) as run:
        _archive_twice(world, vendor, run)


def _archive_twice(world, vendor, run) -> None:
    merger = VendorMerger(run=run, config=None, client=world.s3, netsuite=None, log=LOG)  # type: ignore[arg-type]
    sub = _put(world, vendor.bucket, f"{vendor.inbound_prefix}sub/notice.json", b"sub")
    top = _put(world, vendor.bucket, f"{vendor.inbound_prefix}notice.json", b"top")
    first, second = merger._archive(vendor, sub), merger._archive(vendor, top)
    assert first != second
    assert sorted(_contents(world, vendor.bucket, vendor.archive_prefix).values()) == [b"sub", b"top"]
    # the same key delivered and archived again the same day: the first copy stays
    _put(world, vendor.bucket, top, b"top, second delivery")
    third = merger._archive(vendor, top)
    assert third not in (first, second)
    assert sorted(_contents(world, vendor.bucket, vendor.archive_prefix).values()) == [
        b"sub",
        b"top",
        b"top, second delivery",
    ]
    # a file another run already archived: skipped, no error, nothing archived twice
    assert merger._archive(vendor, top).startswith("taken by another run")
    assert merger.stats["archived"] == 3 and merger.stats["taken_by_other_run"] == 1
    assert quarantine_file(world.s3, vendor.bucket, top, vendor.quarantine_prefix, "x", "X") is None
    assert world.keys(vendor.bucket, vendor.quarantine_prefix) == [], "no note about a file we did not move"


def test_two_merges_at_once_each_file_archived_once_and_no_failure(dagbag, ledger_conn, world, netsuite):
    from po_sync.ledger import RunContext
    from po_sync.netsuite.hook import NetSuiteHook
    from po_sync.sync import SyncRun
    from po_sync.vendors.s3 import s3_client

    assert run_dag(dagbag, EXPORT).state == "success"
    config = parse_vendors_config(world.config)
    shipped = []
    for vendor_id in ("V0001", "V0002"):
        actor = world.actors[vendor_id]
        for number in sorted(actor.purchase_orders())[:3]:
            shipped.append((actor, actor.ship(number)))
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def one(index: int) -> None:
        try:
            with (
                NetSuiteHook("netsuite_default") as ns,
                SyncRun(ledger=ledger_conn, flow=MERGE, context=RunContext(task_id=f"merge{index}")) as run,
            ):
                merger = VendorMerger(
                    run=run, config=config, client=s3_client("aws_default"), netsuite=ns, log=LOG
                )
                barrier.wait()
                results[index] = merger.merge(config.active(None))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert all(isinstance(r, dict) for r in results), results
    for actor, key in shipped:
        name = key.rsplit("/", 1)[-1]
        archived = [k for k in world.keys(actor.bucket, f"{actor.prefix}archive/") if k.endswith(name)]
        assert len(archived) == 1, (key, archived)
        assert actor.inbound_keys() == []
        assert world.keys(actor.bucket, f"{actor.prefix}quarantine/") == []
    merged_sources = [s["key"] for m in world.merged("ready/") for s in m["sources"]]
    assert sorted(merged_sources) == sorted(key for _, key in shipped), "each file merged exactly once"
