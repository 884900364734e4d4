"""The ledger's rules (DESIGN.md), checked on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from po_sync.exceptions import LedgerError
from po_sync.ledger import Action, Ledger, RecordKey, RecordStatus, RunContext, RunStatus
from po_sync.ledger.engine import get_engine
from po_sync.ledger.schema import VERSION_TABLE, head_revisions, sync_error, sync_run

KEY = RecordKey("vendor_po_export", "purchaseOrder", "netsuite", "PO-1001")
TI = RunContext(dag_id="dag", run_id="run-1", task_id="task", try_number=1)


def open_run(ledger: Ledger, context: RunContext = TI) -> int:
    return ledger.open_run(flow=KEY.flow, context=context)


def test_schema_is_created_once_and_versioned(ledger_url):
    engine = get_engine(ledger_url)
    Ledger(engine)
    Ledger(engine)  # a second start finds the schema current and changes nothing
    with engine.connect() as conn:
        versions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert set(versions) == head_revisions() and len(versions) == len(head_revisions())
    assert {"sync_record", "sync_run", "sync_cursor", "sync_error"} <= tables


def test_processes_starting_at_once_make_one_schema(ledger_url):
    code = textwrap.dedent(
        f"""
        from po_sync.ledger import Ledger
        from po_sync.ledger.engine import create_ledger_engine
        Ledger(create_ledger_engine({ledger_url!r}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with get_engine(ledger_url).connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == len(
            head_revisions()
        )


def test_new_record_is_sent_then_unchanged_payload_is_skipped(ledger):
    run = open_run(ledger)
    first = ledger.begin(KEY, payload_hash="h1", sync_run_id=run, context=TI)
    assert first.action is Action.SEND
    assert ledger.get(KEY).status is RecordStatus.IN_PROGRESS  # recorded before the side effect
    ledger.mark_synced(first.record_id, sync_run_id=run, target_system="s3", target_id="PO-1001.xml")

    second = ledger.begin(KEY, payload_hash="h1", sync_run_id=run, context=TI)
    assert second.action is Action.SKIP
    changed = ledger.begin(KEY, payload_hash="h2", sync_run_id=run, context=TI)
    assert changed.action is Action.SEND
    assert changed.idempotency_key != first.idempotency_key


def test_force_resends_an_unchanged_record(ledger):
    run = open_run(ledger)
    d = ledger.begin(KEY, payload_hash="h1", sync_run_id=run)
    ledger.mark_synced(d.record_id, sync_run_id=run, target_system="s3", target_id="x")
    assert ledger.begin(KEY, payload_hash="h1", sync_run_id=run, force=True).action is Action.SEND


def test_crash_before_the_ledger_update_resumes_with_the_same_idempotency_key(ledger):
    crashed_run = open_run(ledger)
    first = ledger.begin(KEY, payload_hash="h1", sync_run_id=crashed_run, context=TI)
    # ... the side effect happened, then the worker died: no outcome was recorded.
    retry = RunContext(dag_id="dag", run_id="run-1", task_id="task", try_number=2)
    rerun = open_run(ledger, retry)
    assert ledger.get_run(crashed_run)["status"] == RunStatus.INCOMPLETE.value

    again = ledger.begin(KEY, payload_hash="h1", sync_run_id=rerun, context=retry)
    assert again.action is Action.RESUME
    assert again.idempotency_key == first.idempotency_key
    assert ledger.get(KEY).attempts == 2


def test_a_record_held_by_a_live_run_is_busy_until_its_lease_ends(ledger_url):
    ledger = Ledger(get_engine(ledger_url))
    holder = open_run(ledger)
    ledger.begin(KEY, payload_hash="h1", sync_run_id=holder)
    other = open_run(ledger, RunContext(dag_id="dag", run_id="backfill-1", task_id="task"))
    assert ledger.begin(KEY, payload_hash="h1", sync_run_id=other).action is Action.BUSY

    short_lease = Ledger(get_engine(ledger_url), lease=timedelta(0), migrate=False)
    assert short_lease.begin(KEY, payload_hash="h1", sync_run_id=other).action is Action.RESUME


def test_failure_is_kept_then_resolved_by_a_later_success(ledger):
    run = open_run(ledger)
    d = ledger.begin(KEY, payload_hash="h1", sync_run_id=run)
    ledger.mark_failed(d.record_id, sync_run_id=run, code="USER_ERROR", message="line 2: item X unknown")
    state = ledger.get(KEY)
    assert (state.status, state.last_error_code) == (RecordStatus.FAILED, "USER_ERROR")

    # Unchanged payload, but failed: the next run must send it again, not skip it.
    again = ledger.begin(KEY, payload_hash="h1", sync_run_id=run)
    assert again.action is Action.SEND
    ledger.mark_synced(again.record_id, sync_run_id=run, target_system="netsuite", target_id="77")
    state = ledger.get(KEY)
    assert state.status is RecordStatus.SYNCED and state.last_error_code is None
    (error,) = ledger.errors(state.id)
    assert error["error_code"] == "USER_ERROR" and error["resolved_at"] is not None


def test_quarantine_and_manual_resolve(ledger):
    run = open_run(ledger)
    d = ledger.begin(KEY, payload_hash=None, sync_run_id=run)
    ledger.mark_quarantined(d.record_id, sync_run_id=run, code="PARSE_ERROR", message="bad XML")
    assert ledger.get(KEY).status is RecordStatus.QUARANTINED
    ledger.resolve(KEY, note="fixed by hand in NetSuite")
    assert ledger.get(KEY).status is RecordStatus.RESOLVED
    assert all(e["resolved_at"] is not None for e in ledger.errors(d.record_id))


def test_long_error_messages_are_clipped_with_a_note(ledger):
    run = open_run(ledger)
    d = ledger.begin(KEY, payload_hash="h", sync_run_id=run)
    ledger.mark_failed(d.record_id, sync_run_id=run, code="X", message="e" * 10_000)
    message = ledger.get(KEY).last_error_message
    assert len(message) <= 4000 and message.endswith("chars cut]")


def test_concurrent_claims_never_hand_out_a_record_twice(ledger_url):
    ledger = Ledger(get_engine(ledger_url))
    seed = open_run(ledger)
    ids = []
    for n in range(120):
        d = ledger.begin(RecordKey("f", "po", "ns", str(n)), payload_hash="h", sync_run_id=seed)
        ledger.mark_failed(d.record_id, sync_run_id=seed, code="E", message="retry me")
        ids.append(d.record_id)
    ledger.finish_run(seed, status=RunStatus.COMPLETED, counts={})

    claimed: dict[int, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        mine = Ledger(get_engine(ledger_url), migrate=False)
        run = mine.open_run(flow="f", context=RunContext(dag_id="d", run_id=f"r{n}", task_id="t"))
        barrier.wait()
        got: list[int] = []
        while batch := mine.claim("f", sync_run_id=run, limit=7):
            got.extend(r.id for r in batch)
        claimed[n] = got

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    everything = [i for got in claimed.values() for i in got]
    assert sorted(everything) == sorted(ids)  # nothing lost, nothing twice
    assert len(set(everything)) == len(everything)


def test_cursor_moves_forward_only_and_only_for_completed_runs(ledger):
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    run = open_run(ledger)
    with pytest.raises(LedgerError, match="only a completed run"):
        ledger.advance_cursor("flow", t0, sync_run_id=run)
    ledger.finish_run(run, status=RunStatus.COMPLETED, counts={"read": 3, "synced": 3})
    assert ledger.advance_cursor("flow", t0, sync_run_id=run) == t0
    assert ledger.advance_cursor("flow", t0 - timedelta(hours=1), sync_run_id=run) == t0
    assert ledger.advance_cursor("flow", t0 + timedelta(hours=1), sync_run_id=run) == t0 + timedelta(hours=1)
    assert ledger.get_cursor("flow") == t0 + timedelta(hours=1)
    assert ledger.get_cursor("other") is None


def test_run_counts_and_status_are_stored(ledger):
    run = open_run(ledger)
    ledger.finish_run(run, status=RunStatus.COMPLETED, counts={"read": 5, "synced": 3, "failed": 2})
    row = ledger.get_run(run)
    assert (row["status"], row["count_read"], row["count_synced"], row["count_failed"]) == (
        "completed",
        5,
        3,
        2,
    )
    assert row["finished_at"].tzinfo is not None


def test_naive_datetimes_are_refused(ledger):
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        ledger.open_run(flow="f", context=TI, window_start=datetime(2026, 1, 1))


def test_error_rows_are_written_for_every_failure(ledger):
    run = open_run(ledger)
    for attempt in range(3):
        d = ledger.begin(KEY, payload_hash="h", sync_run_id=run)
        ledger.mark_failed(d.record_id, sync_run_id=run, code="E", message=f"attempt {attempt}")
    with ledger.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(sync_error)).scalar()
        runs = conn.execute(sa.select(sa.func.count()).select_from(sync_run)).scalar()
    assert (n, runs) == (3, 1)
    assert ledger.status_counts(KEY.flow) == {"failed": 1}


def test_a_record_held_by_an_abandoned_run_is_taken_over_at_once(ledger):
    """Issue 10, 5a: once the holder's run is closed as abandoned (Airflow says its task is dead),
    the record is free without waiting for the lease."""
    holder = open_run(ledger)
    ledger.begin(KEY, payload_hash="h1", sync_run_id=holder)
    other = open_run(ledger, RunContext(dag_id="dag", run_id="run-2", task_id="task"))
    assert ledger.begin(KEY, payload_hash="h1", sync_run_id=other).action is Action.BUSY
    assert [r["id"] for r in ledger.processing_runs(KEY.flow)] == [holder, other]
    assert ledger.abandon_run(holder, message="its task instance is failed in Airflow") is True
    assert ledger.abandon_run(holder, message="again") is False  # only a processing run is closed
    assert ledger.get_run(holder)["status"] == RunStatus.INCOMPLETE.value
    assert [r["id"] for r in ledger.processing_runs(KEY.flow)] == [other]
    decision = ledger.begin(KEY, payload_hash="h1", sync_run_id=other)
    assert decision.action is Action.RESUME  # the holder may have written: same idempotency key


def test_claim_takes_only_the_named_failed_records_oldest_first(ledger):
    """Issue 10, item 1: ``claim(source_ids=..., oldest_first=True)`` for one vendor's failed POs."""
    run = open_run(ledger)
    keys = {n: RecordKey(KEY.flow, "purchaseOrder", "netsuite", n) for n in ("PO-3", "PO-1", "PO-2", "PO-4")}
    for key in keys.values():
        ledger.begin(key, payload_hash="h", sync_run_id=run)
        ledger.mark_failed(ledger.get(key).id, sync_run_id=run, code="X", message="no")
    ledger.begin(keys["PO-3"], payload_hash="h", sync_run_id=run)  # PO-3 failed again, last
    ledger.mark_failed(ledger.get(keys["PO-3"]).id, sync_run_id=run, code="X", message="no")
    found = ledger.find(KEY.flow, statuses=(RecordStatus.FAILED,), limit=10)
    assert [s.key.source_id for s in found] == ["PO-1", "PO-2", "PO-4", "PO-3"]
    retry = open_run(ledger, RunContext(dag_id="dag", run_id="run-2", task_id="task"))
    claimed = ledger.claim(
        KEY.flow,
        sync_run_id=retry,
        statuses=(RecordStatus.FAILED,),
        source_ids=["PO-3", "PO-4", "PO-2"],
        limit=2,
        oldest_first=True,
    )
    assert [s.key.source_id for s in claimed] == ["PO-2", "PO-4"]
    assert {ledger.get(keys[n]).status for n in ("PO-2", "PO-4")} == {RecordStatus.IN_PROGRESS}
    assert {ledger.get(keys[n]).status for n in ("PO-1", "PO-3")} == {RecordStatus.FAILED}
