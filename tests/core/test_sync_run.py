"""SyncRun: one bad record is counted, never fatal; a dead target stops the run; counts are honest."""

from __future__ import annotations

import pytest

from po_sync.exceptions import FatalError, RecordError, RecordValidationError, RetriableError
from po_sync.ledger import Action, Ledger, RecordStatus, RunContext
from po_sync.ledger.engine import get_engine
from po_sync.sync import SyncRun, SystemUnavailableError


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    return Ledger(get_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))


def new_run(ledger: Ledger, **kwargs) -> SyncRun:
    return SyncRun(
        ledger=ledger, flow="flow", context=RunContext(dag_id="d", run_id="r", task_id="t"), **kwargs
    )


def test_each_outcome_is_recorded_and_counted(ledger):
    def send(n):
        def _send(decision):
            if n == 1:
                raise RecordValidationError("PO 1 (file a.json): lines.0.quantity = '-3': must be >= 0")
            if n == 2:
                raise RecordError("item X unknown", code="UNKNOWN_ITEM")
            if n == 3:
                raise FatalError("rejected", code="USER_ERROR", status=400)
            return f"target-{n}"

        return _send

    with new_run(ledger) as run:
        for n in range(5):
            run.process(run.key("po", "ns", str(n)), payload_hash=f"h{n}", send=send(n), target_system="x")
    assert run.counts == {"read": 5, "synced": 2, "ignored": 0, "failed": 2, "quarantined": 1, "busy": 0}
    stored = ledger.get_run(run.id)
    assert stored["status"] == "completed"
    assert (stored["count_read"], stored["count_synced"], stored["count_failed"]) == (5, 2, 2)
    assert ledger.get(run.key("po", "ns", "0")).target_id == "target-0"
    assert ledger.get(run.key("po", "ns", "1")).status is RecordStatus.QUARANTINED
    assert ledger.get(run.key("po", "ns", "2")).last_error_code == "UNKNOWN_ITEM"
    assert ledger.get(run.key("po", "ns", "3")).last_error_code == "USER_ERROR"


def test_second_run_ignores_unchanged_and_retries_failed(ledger):
    attempts: list[str] = []

    def flaky(decision):
        attempts.append(decision.idempotency_key)
        if len(attempts) == 1:
            raise RetriableError("503 from target", status=503)
        return "ok"

    with new_run(ledger) as first:
        first.process(first.key("po", "ns", "a"), payload_hash="h", send=lambda d: "A", target_system="x")
        first.process(first.key("po", "ns", "b"), payload_hash="h", send=flaky, target_system="x")
    with new_run(ledger) as second:
        assert (
            second.process(
                second.key("po", "ns", "a"), payload_hash="h", send=lambda d: 1 / 0, target_system="x"
            )
            is Action.SKIP
        )
        second.process(second.key("po", "ns", "b"), payload_hash="h", send=flaky, target_system="x")
    assert second.counts["ignored"] == 1 and second.counts["synced"] == 1
    assert attempts[0] == attempts[1]  # the resend carries the same idempotency key
    assert ledger.get(second.key("po", "ns", "b")).status is RecordStatus.SYNCED


def test_consecutive_transient_failures_stop_the_run(ledger):
    def down(decision):
        raise RetriableError("connection reset", code="CONNECTION_RESET")

    run = new_run(ledger, max_consecutive_retriable=3)
    with pytest.raises(SystemUnavailableError, match="3 records in a row"):
        with run:
            for n in range(10):
                run.process(run.key("po", "ns", str(n)), payload_hash="h", send=down, target_system="x")
    assert run.counts["failed"] == 3  # stopped early: 7 records untouched, to be read again
    assert ledger.get_run(run.id)["status"] == "failed"
    assert ledger.status_counts("flow") == {"failed": 3}


def test_a_record_begun_without_an_outcome_makes_the_run_incomplete(ledger):
    with new_run(ledger) as run:
        run.begin(run.key("po", "ns", "x"), payload_hash="h")
    assert ledger.get_run(run.id)["status"] == "incomplete"
    assert run.summary()["status"] == "incomplete"


def test_quarantine_input_records_unparseable_files(ledger):
    with new_run(ledger) as run:
        run.quarantine_input(
            run.key("file", "s3", "in/bad.xml"), code="PARSE_ERROR", message="line 3: not XML"
        )
    state = ledger.get(run.key("file", "s3", "in/bad.xml"))
    assert (state.status, state.last_error_message) == (RecordStatus.QUARANTINED, "line 3: not XML")
    assert run.counts["quarantined"] == 1 and run.counts["read"] == 1


def test_cursor_moves_only_when_the_run_completes_and_notes_reach_the_summary(ledger):
    from datetime import UTC, datetime

    mark = datetime(2026, 11, 1, tzinfo=UTC)
    with new_run(ledger) as done:
        done.notes["file"] = "PurchaseOrder-1.csv"
        done.advance_cursor_on_completion(mark, cursor_key="V1")
    assert ledger.get_cursor("flow", "V1") == mark
    assert done.summary()["file"] == "PurchaseOrder-1.csv" and done.summary()["status"] == "completed"

    broken = new_run(ledger)
    with pytest.raises(RuntimeError):
        with broken:
            broken.advance_cursor_on_completion(datetime(2026, 12, 1, tzinfo=UTC), cursor_key="V1")
            raise RuntimeError("S3 is down")
    assert ledger.get_cursor("flow", "V1") == mark  # a failed run leaves the window to be read again


def test_a_run_that_met_a_busy_record_leaves_the_cursor(ledger):
    """Rule 6 (issue 10, 5a): the cursor never passes a record another live run still holds."""
    from datetime import UTC, datetime

    holder = SyncRun(ledger=ledger, flow="flow", context=RunContext(dag_id="d", run_id="r0", task_id="t"))
    holder.__enter__()  # a live run of another task, still processing, holding "x"
    holder.begin(holder.key("po", "ns", "x"), payload_hash="h")
    mark = datetime(2026, 11, 1, tzinfo=UTC)
    with new_run(ledger) as meets_busy:
        assert meets_busy.begin(meets_busy.key("po", "ns", "x"), payload_hash="h").action is Action.BUSY
        meets_busy.advance_cursor_on_completion(mark, cursor_key="V1")
    assert ledger.get_run(meets_busy.id)["status"] == "completed"
    assert ledger.get_cursor("flow", "V1") is None  # held: the next run reads the window again
    assert meets_busy.summary()["cursor_held"] == "1 record(s) busy in another run"
    holder.__exit__(None, None, None)


def test_failed_records_are_claimed_oldest_first_bounded_and_only_those_named(ledger):
    """Issue 10, item 1: ``Ledger.claim`` takes a flow's failed records, the longest-waiting first."""

    def fail(run, name):
        run.failed(run.begin(run.key("po", "ns", name), payload_hash=name), code="X", message="no")

    with new_run(ledger) as first:
        for name in ("c", "a", "b", "d"):
            fail(first, name)
    with new_run(ledger) as again:  # "c" failed again: it goes to the back of the queue
        fail(again, "c")
    with new_run(ledger) as retry:
        assert retry.failed_ids("po", limit=10) == ["a", "b", "d", "c"]
        claimed = retry.claim_failed("po", ["c", "a", "d"], limit=2)
        assert [s.key.source_id for s in claimed] == ["a", "d"]
        assert retry.claim_failed("po", ["a"], limit=5) == []  # already this run's: not claimed twice
        decision = retry.begin(retry.key("po", "ns", "a"), payload_hash="a")
        assert decision.action is Action.SEND  # this run's own claim: no "busy", no "resume"
        retry.synced(decision, target_system="x", target_id="A")
        ledger.release([s.id for s in claimed], status=RecordStatus.FAILED)
    assert ledger.get(retry.key("po", "ns", "a")).attempts == 2  # the claim was the attempt
    assert ledger.get(retry.key("po", "ns", "d")).status is RecordStatus.FAILED  # handed back


def test_scheduled_runs_are_told_apart_by_the_run_type_value():
    """Issue 10, item 3: a task's ``dag_run.run_type`` is the Task SDK's ``DagRunType``, a
    ``(str, Enum)`` whose ``str()`` is ``"DagRunType.SCHEDULED"``; its value is ``"scheduled"``."""
    from types import SimpleNamespace

    from airflow.sdk.api.datamodels._generated import DagRunType

    from po_sync.sync import is_scheduled

    assert str(DagRunType.SCHEDULED) != "scheduled"
    assert is_scheduled(SimpleNamespace(run_type=DagRunType.SCHEDULED))
    assert is_scheduled(SimpleNamespace(run_type="scheduled"))
    for other in (*(t for t in DagRunType if t.value != "scheduled"), None):
        assert not is_scheduled(SimpleNamespace(run_type=other))
    assert not is_scheduled(None)


def test_catch_up_window_starts_at_an_earlier_cursor():
    """Issue 10, item 2: after an outage the window starts at the cursor (less the overlap)."""
    from datetime import UTC, datetime, timedelta

    from po_sync.sync import SyncWindow, catch_up_window

    window = SyncWindow(datetime(2026, 1, 5, 8, 50, tzinfo=UTC), datetime(2026, 1, 5, 10, tzinfo=UTC))
    overlap = timedelta(minutes=10)
    behind = catch_up_window(window, datetime(2026, 1, 5, 6, tzinfo=UTC), overlap=overlap)
    assert behind == SyncWindow(datetime(2026, 1, 5, 5, 50, tzinfo=UTC), window.end)
    assert catch_up_window(window, datetime(2026, 1, 5, 9, tzinfo=UTC), overlap=overlap) == window
    assert catch_up_window(window, None, overlap=overlap) == window


def test_records_processed_from_several_threads_are_all_counted(ledger):
    """A flow may send records side by side (the HotWax import does): no outcome may be lost."""
    from concurrent.futures import ThreadPoolExecutor

    with new_run(ledger) as run:

        def one(n: int) -> None:
            run.process(
                run.key("po", "ns", str(n)), payload_hash=f"h{n}", send=lambda d: "ok", target_system="x"
            )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(400)))
    assert run.counts == {"read": 400, "synced": 400, "ignored": 0, "failed": 0, "quarantined": 0, "busy": 0}
    stored = ledger.get_run(run.id)
    assert (stored["status"], stored["count_read"], stored["count_synced"]) == ("completed", 400, 400)
