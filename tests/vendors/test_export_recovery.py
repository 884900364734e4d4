"""netsuite_vendor_po_export loses no PO (issue 10, items 1-4 and 5a), end to end through dag.test().

* a failed PO is retried by the next run, whatever its window (1);
* a scheduled run after a scheduler outage reads from the vendor's cursor (2);
* a scheduled run reads the 10-minute overlap before its interval (3);
* windows are sent in the account's time zone, across a DST change (4);
* a worker killed right after the ledger claimed a PO: the PO is still sent (5a).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from tests.dags.conftest import DAGS
from tests.vendors.test_export_dag import exported, run_dag

pytestmark = pytest.mark.e2e

DAG_ID = "netsuite_vendor_po_export"
LONG_AGO = "2025-06-01 00:00:00"


def _set_lastmod(netsuite, numbers, stamp):
    marks = ",".join("?" * len(numbers))
    netsuite.store.db.execute(
        f'UPDATE "transaction" SET lastmodifieddate = ? WHERE tranid IN ({marks})', (stamp, *numbers)
    )
    netsuite.store.version += 1


def _quiet(netsuite):
    """Every PO last modified long ago: only the ones a test stamps fall in its windows."""
    netsuite.store.db.execute(
        "UPDATE \"transaction\" SET lastmodifieddate = ? WHERE type = 'PurchOrd'", (LONG_AGO,)
    )
    netsuite.store.version += 1


def _pos_of(netsuite, vendor_id):
    rows = netsuite.store.query(
        'SELECT t.tranid FROM "transaction" t JOIN vendor v ON v.id = t.entity '
        f"WHERE t.type = 'PurchOrd' AND t.status IN ('B', 'D', 'E') AND v.entityid = '{vendor_id}' ORDER BY t.id"
    )
    return [r["tranid"] for r in rows]


def _key(number):
    return RecordKey(DAG_ID, "purchase_order", "netsuite", number)


@pytest.fixture
def scheduled(monkeypatch):
    """Make dag.test() create its run as the scheduler does: run type SCHEDULED, data interval =
    [logical date, + 1 hour) of the hourly CronDataIntervalTimetable. (dag.test() itself only makes
    MANUAL runs; everything after the run's creation is Airflow's own code.)"""
    import airflow.models.dagrun as dagrun_module
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    DagRun = dagrun_module.DagRun

    def get_or_create_dagrun(*, dag, logical_date, conf, session, start_date, **_):
        old = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date)
        )
        if old is not None:
            session.delete(old)
            session.commit()
        end = logical_date + timedelta(hours=1)
        return dag.create_dagrun(
            run_id=DagRun.generate_run_id(
                run_type=DagRunType.SCHEDULED, logical_date=logical_date, run_after=end
            ),
            logical_date=logical_date,
            data_interval=(logical_date, end),
            run_after=end,
            conf=conf,
            run_type=DagRunType.SCHEDULED,
            state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.TIMETABLE,
            triggering_user_name=None,
            start_date=start_date,
            session=session,
        )

    monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", get_or_create_dagrun)

    def run(dagbag, hour: datetime, conf=None):
        dag_run = run_dag(dagbag, DAG_ID, conf, logical_date=hour)
        assert str(getattr(dag_run.run_type, "value", dag_run.run_type)) == "scheduled"
        return dag_run

    return run


# -- item 3 -------------------------------------------------------------------------------------


def test_scheduled_run_reads_the_overlap_before_its_interval(dagbag, ledger_conn, world, netsuite, scheduled):
    _quiet(netsuite)
    _set_lastmod(netsuite, ["PO000001"], "2026-02-02 08:55:00")  # saved 5 minutes before the interval
    _set_lastmod(netsuite, ["PO000002"], "2026-02-02 08:45:00")  # 15 minutes before: outside the overlap
    _set_lastmod(netsuite, ["PO000003"], "2026-02-02 09:30:00")
    run = scheduled(dagbag, datetime(2026, 2, 2, 9, tzinfo=UTC))
    assert run.state == "success"
    assert set(exported(world)) == {"PO000001", "PO000003"}


# -- item 2 -------------------------------------------------------------------------------------


def test_scheduled_run_after_an_outage_reads_from_the_cursor(dagbag, ledger_conn, world, netsuite, scheduled):
    _quiet(netsuite)
    assert scheduled(dagbag, datetime(2026, 2, 2, 5, tzinfo=UTC)).state == "success"
    assert ledger_conn.get_cursor(DAG_ID, "V0001") == datetime(2026, 2, 2, 6, tzinfo=UTC)
    # the scheduler is down from 06:00 to 09:00 (catchup=False: those runs never happen)...
    _set_lastmod(netsuite, ["PO000004", "PO000005"], "2026-02-02 07:30:00")
    _set_lastmod(
        netsuite, ["PO000006"], "2026-02-02 05:55:00"
    )  # saved late: in the overlap before the cursor
    # ...and its next run is the 09:00 one
    run = scheduled(dagbag, datetime(2026, 2, 2, 9, tzinfo=UTC))
    assert run.state == "success"
    assert set(exported(world)) == {"PO000004", "PO000005", "PO000006"}
    assert ledger_conn.get_cursor(DAG_ID, "V0001") == datetime(2026, 2, 2, 10, tzinfo=UTC)
    # the ledger says which window the run really covered
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_run

    with ledger_conn.engine.connect() as conn:
        starts = {
            r.window_start
            for r in conn.execute(
                sa.select(sync_run).where(sync_run.c.window_end == datetime(2026, 2, 2, 10, tzinfo=UTC))
            )
        }
    assert starts == {datetime(2026, 2, 2, 5, 50, tzinfo=UTC)}


# -- item 1 -------------------------------------------------------------------------------------


def test_failed_po_is_retried_by_a_later_run_whatever_its_window(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    import boto3

    _quiet(netsuite)
    mine = _pos_of(netsuite, "V0001")[:3]
    other = _pos_of(netsuite, "V0002")[:1]
    _set_lastmod(netsuite, mine + other, "2026-02-03 09:15:00")
    # V0001's SQS queue is missing: each of its POs is written, its notice refused -> failed
    broken = json.loads(json.dumps(world.config))
    broken["vendors"][0]["sqs_queue"] = "no-such-queue"
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", json.dumps(broken))
    first = run_dag(dagbag, DAG_ID, logical_date=datetime(2026, 2, 3, 10, tzinfo=UTC))
    assert first.state == "success"  # a bad record never stops the run (rule 3)
    assert {ledger_conn.get(_key(n)).status for n in mine} == {RecordStatus.FAILED}
    assert ledger_conn.get(_key(other[0])).status is RecordStatus.SYNCED
    # a failed export of a PO that NetSuite no longer has (deleted since)
    from po_sync.ledger import RunContext
    from po_sync.sync import SyncRun

    with SyncRun(ledger=ledger_conn, flow=DAG_ID, context=RunContext()) as old:
        decision = old.begin(_key("PO999999"), payload_hash="h")
        old.failed(decision, code="NoSuchBucket", message="S3 PUT failed")

    # the queue is back; the next run's window holds none of those POs
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", json.dumps(world.config))
    second = run_dag(dagbag, DAG_ID, logical_date=datetime(2026, 2, 3, 15, tzinfo=UTC))
    assert second.state == "success"
    states = {n: ledger_conn.get(_key(n)) for n in mine}
    assert {s.status for s in states.values()} == {RecordStatus.SYNCED}, states
    assert all(s.attempts == 2 for s in states.values())  # one claim = one attempt
    gone = ledger_conn.get(_key("PO999999"))
    assert gone.status is RecordStatus.RESOLVED and "no longer in NetSuite" in gone.last_error_message
    sqs = boto3.client("sqs", endpoint_url=world.endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="y")  # fmt: skip
    url = sqs.get_queue_url(QueueName=world.config["vendors"][0]["sqs_queue"])["QueueUrl"]
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"])["po_number"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    assert sorted(bodies) == sorted(mine)  # each notice sent once, by the retry
    assert set(exported(world)) == set(mine + other)
    # nothing is left to retry: a third run sends nothing again
    third = run_dag(dagbag, DAG_ID, logical_date=datetime(2026, 2, 3, 16, tzinfo=UTC))
    assert third.state == "success"
    assert {ledger_conn.get(_key(n)).attempts for n in mine} == {2}


# -- item 4 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "inside", "outside"),
    [
        # fall back: 2026-11-01 09:00Z, 02:00 PDT -> 01:00 PST; 01:30 happens twice
        (
            [datetime(2026, 11, 1, 8, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC)],
            {"PO000001": "2026-11-01 08:30:00", "PO000002": "2026-11-01 09:30:00"},
            {"PO000003": "2026-11-01 05:30:00", "PO000004": "2026-11-01 11:30:00"},
        ),
        # spring forward: 2026-03-08 10:00Z, 02:00 PST -> 03:00 PDT
        (
            [datetime(2026, 3, 8, 9, tzinfo=UTC), datetime(2026, 3, 8, 10, tzinfo=UTC)],
            {"PO000001": "2026-03-08 09:30:00", "PO000002": "2026-03-08 10:30:00"},
            {"PO000003": "2026-03-08 08:30:00", "PO000004": "2026-03-08 11:30:00"},
        ),
        # an ordinary summer hour: exact (16:00Z = 09:00 PDT); a UTC reading would take PO000003
        (
            [datetime(2026, 7, 15, 16, tzinfo=UTC)],
            {"PO000001": "2026-07-15 16:05:00", "PO000002": "2026-07-15 16:55:00"},
            {"PO000003": "2026-07-15 23:30:00", "PO000004": "2026-07-15 15:55:00"},
        ),
    ],
    ids=["fall-back", "spring-forward", "summer"],
)
def test_windows_follow_the_account_time_zone_across_dst(
    dagbag, ledger_conn, world, netsuite, monkeypatch, hours, inside, outside
):
    """The account is in America/Los_Angeles: SuiteQL shows and compares local wall-clock times. The
    stamps above are the instants (UTC, as the record service gives them); each hourly backfill run
    must read the POs modified in its hour and none from hours away."""
    netsuite.set_knobs(account_timezone="America/Los_Angeles")
    monkeypatch.setenv(
        "AIRFLOW_CONN_NETSUITE_DEFAULT",
        json.dumps(netsuite.connection("tba", concurrency=4, account_timezone="America/Los_Angeles")),
    )
    _quiet(netsuite)
    for number, stamp in {**inside, **outside}.items():
        _set_lastmod(netsuite, [number], stamp)
    for hour in hours:
        run = run_dag(dagbag, DAG_ID, logical_date=hour + timedelta(hours=1))
        assert run.state == "success"
    seen = set(exported(world))
    assert set(inside) <= seen, seen
    assert not seen & set(outside), seen
    assert set(ledger_conn.status_counts(DAG_ID)) <= {"synced", "ignored"}


def test_export_without_the_account_time_zone_fails_naming_the_field(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    connection = netsuite.connection("tba", concurrency=4)
    del connection["extra"]["account_timezone"]
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(connection))
    run = run_dag(dagbag, DAG_ID, {"vendor": "V0001"}, retries=0)
    assert run.state == "failed"
    assert exported(world) == {}
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_run

    with ledger_conn.engine.connect() as conn:
        messages = [r.message for r in conn.execute(sa.select(sync_run))]
    assert messages and all("needs account_timezone" in (m or "") for m in messages), messages


# -- item 5a ------------------------------------------------------------------------------------

_KILLED_RUN = textwrap.dedent(
    """
    import copy, os, sys
    from airflow.dag_processing.dagbag import DagBag
    dag = copy.deepcopy(DagBag(dag_folder=sys.argv[1]).get_dag("netsuite_vendor_po_export"))
    for task in dag.tasks:
        task.retries = 0
    dag.test(run_conf={**dag.params.dump(), "vendor": "V0001"}, logical_date=None)
    """
)


def _mark_task_failed(dag_id, run_id, task_id, map_index):
    """What the scheduler does to a task instance whose heartbeat stopped (its worker died)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index == map_index,
            )
            .values(state="failed")
        )


def test_worker_killed_at_the_claim_loses_no_po(dagbag, ledger_conn, world, netsuite):
    """Reproduces the issue: the worker dies (os._exit) right after the ledger claimed a PO, then
    three more runs. The PO must be sent by the first of them, once."""
    _quiet(netsuite)
    mine = _pos_of(netsuite, "V0001")
    env = {**os.environ, "PO_SYNC_EXIT_AT_CLAIM": DAG_ID}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(DAGS)], env=env, capture_output=True, text=True, timeout=900
    )
    assert killed.returncode == 137, killed.stderr[-3000:]
    assert ledger_conn.status_counts(DAG_ID) == {"in_progress": 1}
    (dead,) = ledger_conn.processing_runs(DAG_ID)
    held = ledger_conn.find(DAG_ID, statuses=(RecordStatus.IN_PROGRESS,))[0].key.source_id
    _mark_task_failed(dead["dag_id"], dead["run_id"], dead["task_id"], dead["map_index"])

    for _ in range(3):
        assert run_dag(dagbag, DAG_ID, {"vendor": "V0001"}).state == "success"

    assert ledger_conn.get_run(dead["id"])["status"] == "incomplete"
    assert "the worker died" in ledger_conn.get_run(dead["id"])["message"]
    files = exported(world)
    assert held in files and set(files) == set(mine)
    assert ledger_conn.status_counts(DAG_ID) == {"synced": len(mine)}
    actor = world.actors["V0001"]
    key = files[held][1]
    assert len(world.s3.list_object_versions(Bucket=actor.bucket, Prefix=key)["Versions"]) == 1


def test_claim_of_a_running_task_is_respected_and_holds_the_cursor(dagbag, ledger_conn, world, netsuite):
    """While Airflow still has the claiming task instance ``running``, its PO is ``busy``: not sent
    twice, and the vendor's cursor stays put (rule 6). Once Airflow marks it failed, the next run
    takes the PO over at once (not after the 1-hour lease) and then moves the cursor."""
    _quiet(netsuite)
    mine = _pos_of(netsuite, "V0001")
    _set_lastmod(netsuite, mine, "2026-02-04 09:30:00")
    env = {**os.environ, "PO_SYNC_EXIT_AT_CLAIM": DAG_ID}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(DAGS)], env=env, capture_output=True, text=True, timeout=900
    )
    assert killed.returncode == 137, killed.stderr[-3000:]
    (dead,) = ledger_conn.processing_runs(DAG_ID)
    held = ledger_conn.find(DAG_ID, statuses=(RecordStatus.IN_PROGRESS,))[0].key.source_id
    hour = datetime(
        2026, 2, 4, 10, tzinfo=UTC
    )  # backfill [09:00, 10:00): leaves the killed run's dag run alone

    alive = run_dag(dagbag, DAG_ID, {"vendor": "V0001"}, logical_date=hour)  # Airflow: still "running"
    assert alive.state == "success"
    assert held not in exported(world) and set(exported(world)) == set(mine) - {held}
    assert ledger_conn.get(_key(held)).status is RecordStatus.IN_PROGRESS
    assert ledger_conn.get_cursor(DAG_ID, "V0001") is None  # held back by the busy PO

    _mark_task_failed(dead["dag_id"], dead["run_id"], dead["task_id"], dead["map_index"])
    after = run_dag(dagbag, DAG_ID, {"vendor": "V0001"}, logical_date=hour)
    assert after.state == "success"
    assert set(exported(world)) == set(mine)
    assert ledger_conn.get(_key(held)).status is RecordStatus.SYNCED
    assert ledger_conn.status_counts(DAG_ID) == {"synced": 1, "ignored": len(mine) - 1}  # the rest: unchanged
    assert ledger_conn.get_cursor(DAG_ID, "V0001") == hour
    key = exported(world)[held][1]
    assert (
        len(world.s3.list_object_versions(Bucket=world.actors["V0001"].bucket, Prefix=key)["Versions"]) == 1
    )
