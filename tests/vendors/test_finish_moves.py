"""A stop between a vendor file's ledger outcome and its move is finished by the rerun, exactly once.

Merge and import record a file's outcome first (``synced`` with the archive key as target, or
``quarantined`` with the kept key as trace_key and the object's ETag as payload hash), then move it.
A crash at ``before_move`` leaves the file where the flow reads; the rerun must only move it: the
archive and quarantine hold it once, its note once, nothing is merged or written to NetSuite twice,
no record stays ``in_progress``, and the rerun does not count it as quarantined again.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from po_sync import faults
from po_sync.ledger import RecordStatus
from po_sync.ledger.schema import sync_record
from tests.ledger_rows import last_counts
from tests.vendors.test_export_dag import run_dag
from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE, ns_counts
from tests.vendors.test_merge_import import standard_pos

pytestmark = pytest.mark.e2e


def _records(ledger, flow: str) -> list[tuple[str, str, str, str | None]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(sync_record).where(sync_record.c.flow == flow)).all()
    return [(r.entity_type, r.source_id, r.status, r.trace_key) for r in rows]


def _crash_then_rerun(dagbag, dag_id: str, conf: dict, point: str, monkeypatch) -> None:
    faults.reset()
    monkeypatch.setenv(faults.CRASH_ENV, point)
    assert run_dag(dagbag, dag_id, conf, retries=0).state == "failed"
    assert faults.fired == [point.split("@", 1)[0]]
    monkeypatch.delenv(faults.CRASH_ENV)


def _names(world, bucket: str, prefix: str) -> list[str]:
    return [k.rsplit("/", 1)[-1] for k in world.keys(bucket, prefix)]


@pytest.mark.parametrize("which", ["quarantine", "archive"])
def test_merge_rerun_only_finishes_the_move(which, dagbag, ledger_conn, world, netsuite, monkeypatch):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    number = standard_pos(actor)[0]
    good = actor.ship(number).rsplit("/", 1)[-1]
    bad = actor.malformed("bad_json", number).rsplit("/", 1)[-1]
    conf = {"wait_minutes": 0}
    # the bad file is refused while the files are read, before any merge: it is the first to move
    _crash_then_rerun(
        dagbag, MERGE, conf, f"{MERGE}.before_move@{1 if which == 'quarantine' else 2}", monkeypatch
    )
    stopped = bad if which == "quarantine" else good
    assert stopped in _names(world, actor.bucket, f"{actor.prefix}inbound/"), "the crash came before the move"
    assert RecordStatus.IN_PROGRESS.value not in [s for _, _, s, _ in _records(ledger_conn, MERGE)]

    assert run_dag(dagbag, MERGE, conf).state == "success"
    assert actor.inbound_keys() == []
    assert _names(world, actor.bucket, f"{actor.prefix}archive/") == [good], "archived once"
    assert sorted(_names(world, actor.bucket, f"{actor.prefix}quarantine/")) == [bad, f"{bad}.error.txt"]
    receipts = [m for m in world.merged() if m["kind"] == "item_receipt"]
    assert len(receipts) == 1, "merged once"
    records = _records(ledger_conn, MERGE)
    assert RecordStatus.IN_PROGRESS.value not in [s for _, _, s, _ in records]
    (file_record,) = [r for r in records if r[0] == "vendor_file"]
    assert file_record[2] == "quarantined" and file_record[3].endswith(f"quarantine/{bad}")
    read, synced, ignored, quarantined = last_counts(ledger_conn, MERGE, "merge_vendor_files")
    if which == "quarantine":  # the bad file only moved (uncounted); the good one merged and archived
        assert quarantined == 0 and synced >= 2
    else:  # the good file recognised (same content, merged before): ignored, archived; nothing else
        assert (read, synced, ignored, quarantined) == (1, 0, 1, 0)


@pytest.mark.parametrize("which", ["quarantine", "done"])
def test_import_rerun_only_finishes_the_move(which, dagbag, ledger_conn, world, netsuite, monkeypatch):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor = world.actors["V0001"]
    actor.ship(standard_pos(actor)[0])
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    (merged,) = world.merged("ready/")
    name = f"{merged['merged_id']}.json"
    bucket = world.config["merge_bucket"]
    world.s3.put_object(Bucket=bucket, Key="ready/item_receipt/BAD-1.json", Body=b'{"kind": ')
    assert sorted(["BAD-1.json", name]) == ["BAD-1.json", name], "the bad document is read first"
    before = ns_counts(netsuite)["ItemRcpt"]

    _crash_then_rerun(
        dagbag, IMPORT, {}, f"{IMPORT}.before_move@{1 if which == 'quarantine' else 2}", monkeypatch
    )
    stopped = "BAD-1.json" if which == "quarantine" else name
    assert stopped in _names(world, bucket, "ready/"), "the crash came before the move"

    assert run_dag(dagbag, IMPORT).state == "success"
    assert _names(world, bucket, "ready/") == []
    assert _names(world, bucket, "done/") == [name], "done once"
    assert sorted(_names(world, bucket, "quarantine/")) == ["BAD-1.json", "BAD-1.json.error.txt"]
    assert ns_counts(netsuite)["ItemRcpt"] == before + 1, "written to NetSuite once"
    records = _records(ledger_conn, IMPORT)
    assert RecordStatus.IN_PROGRESS.value not in [s for _, _, s, _ in records]
    (bad,) = [r for r in records if r[1] == "BAD-1"]
    assert bad[2] == "quarantined" and bad[3] == "quarantine/BAD-1.json"
    read, synced, ignored, quarantined = last_counts(ledger_conn, IMPORT, "import_merged_documents")
    if which == "quarantine":  # BAD-1 only moved (uncounted); the receipt written once
        assert (read, synced, ignored, quarantined) == (1, 1, 0, 0)
    else:  # the receipt recognised as written (ignored) and moved; BAD-1 was done before the crash
        assert (read, synced, ignored, quarantined) == (1, 0, 1, 0)


def test_import_retry_takes_the_document_from_where_its_record_says_it_was_kept(
    dagbag, ledger_conn, world, netsuite
):
    """A second bad document under the same name is kept under a tagged name (the plain one holds
    the first); its record's trace_key names that key, and the queue's Retry puts back that one,
    never the first document that only shares its name."""
    from tests.core.ui.queue_client import queue_action

    bucket = world.config["merge_bucket"]
    ready = "ready/item_receipt/BAD-1.json"
    world.s3.put_object(Bucket=bucket, Key=ready, Body=b'{"kind": ')
    assert run_dag(dagbag, IMPORT).state == "success"
    world.s3.put_object(Bucket=bucket, Key=ready, Body=b'{"kind": "second"')
    assert run_dag(dagbag, IMPORT).state == "success"
    kept = [k for k in world.keys(bucket, "quarantine/") if not k.endswith(".error.txt")]
    assert len(kept) == 2 and "quarantine/BAD-1.json" in kept
    (tagged,) = [k for k in kept if k != "quarantine/BAD-1.json"]
    (record,) = [r for r in _records(ledger_conn, IMPORT) if r[1] == "BAD-1"]
    assert record[2] == "quarantined" and record[3] == tagged

    state = ledger_conn.get(ledger_conn_key(IMPORT, "item_receipt", "vendor_merge", "BAD-1"))
    queue_action("retry", [state.id])
    assert run_dag(dagbag, IMPORT).state == "success"  # still bad: quarantined again
    assert world.read(bucket, "quarantine/BAD-1.json") == b'{"kind": ', "the first document stayed"
    assert world.read(bucket, tagged) == b'{"kind": "second"', "the retried one went back, and back again"
    assert _names(world, bucket, "ready/") == []
    (retried_note,) = [k for k in world.keys(bucket, "quarantine/") if ".retried-" in k]
    assert retried_note.startswith(tagged + ".retried-"), "the note kept is the retried document's"


def ledger_conn_key(flow: str, entity_type: str, source_system: str, source_id: str):
    from po_sync.ledger import RecordKey

    return RecordKey(flow, entity_type, source_system, source_id)
