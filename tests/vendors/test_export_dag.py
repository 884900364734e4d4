"""netsuite_vendor_po_export end to end: NetSuite sandbox → moto buckets, through dag.test()."""

from __future__ import annotations

import copy

import pytest

pytestmark = pytest.mark.e2e


def run_dag(dagbag, dag_id, conf=None, *, retries=None, **kwargs):
    """``dag.test()`` on a fresh copy of the DAG with every param given: in-process runs render
    templates onto the task objects and reuse an earlier run's params for those a conf leaves out,
    which would leak one test's params into the next (separate worker processes do not)."""
    dag = copy.deepcopy(dagbag.get_dag(dag_id))
    conf = {**dag.params.dump(), **(conf or {})}
    if retries is not None:  # dag.test() waits out real retry delays; a failing case needs none
        for task in dag.tasks:
            task.retries = retries
    kwargs.setdefault("logical_date", None)
    return dag.test(run_conf=conf, **kwargs)


def exported(world):
    out = {}
    for vendor_id, actor in world.actors.items():
        for key in world.keys(actor.bucket, f"{actor.prefix}PurchaseOrder/"):
            out[key.rsplit("/", 1)[-1].rsplit(".", 1)[0]] = (vendor_id, key)
    return out


def test_export_twice_writes_each_po_once(dagbag, ledger_conn, world, netsuite):
    run = run_dag(dagbag, "netsuite_vendor_po_export")
    assert run.state == "success"
    files = exported(world)
    pos = netsuite.store.query("SELECT tranid FROM \"transaction\" WHERE type = 'PurchOrd'")
    assert set(files) == {p["tranid"] for p in pos}
    counts = ledger_conn.status_counts("netsuite_vendor_po_export")
    assert counts == {"synced": len(pos)}
    run2 = run_dag(dagbag, "netsuite_vendor_po_export", {"resync_po_numbers": []})
    assert run2.state == "success"
    assert exported(world) == files
    for actor in world.actors.values():
        for key in world.keys(actor.bucket, f"{actor.prefix}PurchaseOrder/"):
            versions = world.s3.list_object_versions(Bucket=actor.bucket, Prefix=key)["Versions"]
            assert len(versions) == 1, key


def _set_lastmod(netsuite, numbers, stamp):
    marks = ",".join("?" * len(numbers))
    netsuite.store.db.execute(
        f'UPDATE "transaction" SET lastmodifieddate = ? WHERE tranid IN ({marks})', (stamp, *numbers)
    )
    netsuite.store.version += 1


def test_backfill_exports_exactly_its_range(dagbag, ledger_conn, world, netsuite):
    from datetime import UTC, datetime

    _set_lastmod(netsuite, ["PO000001", "PO000002", "PO000003"], "2026-01-05 09:15:00")
    _set_lastmod(netsuite, ["PO000004", "PO000005"], "2026-01-05 10:00:00")  # the next hour's first second
    _set_lastmod(netsuite, ["PO000006"], "2026-01-05 08:59:59")
    run = run_dag(dagbag, "netsuite_vendor_po_export", logical_date=datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    assert (start.hour, end.hour) in ((9, 10), (8, 9)), (start, end)
    expected = (
        {"PO000001", "PO000002", "PO000003"}
        if start.hour == 9
        else {
            p["tranid"]
            for p in netsuite.store.query(
                "SELECT tranid FROM \"transaction\" WHERE type = 'PurchOrd' AND lastmodifieddate >= '2026-01-05 08:00:00' AND lastmodifieddate < '2026-01-05 09:00:00'"
            )
        }
    )
    assert set(exported(world)) == expected
    # the same backfill again writes nothing new
    again = run_dag(dagbag, "netsuite_vendor_po_export", logical_date=datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert again.state == "success"
    assert ledger_conn.status_counts("netsuite_vendor_po_export") == {"ignored": len(expected)}


def test_trigger_params_dry_run_one_vendor_resync(dagbag, ledger_conn, world, netsuite):
    dry = run_dag(dagbag, "netsuite_vendor_po_export", {"dry_run": True})
    assert dry.state == "success" and exported(world) == {}
    assert ledger_conn.status_counts("netsuite_vendor_po_export") == {}
    assert ledger_conn.get_cursor("netsuite_vendor_po_export", "V0001") is None

    only = run_dag(dagbag, "netsuite_vendor_po_export", {"vendor": "V0002"})
    assert only.state == "success"
    assert {vendor for vendor, _ in exported(world).values()} == {"V0002"}
    assert ledger_conn.get_cursor("netsuite_vendor_po_export", "V0002") is not None
    assert ledger_conn.get_cursor("netsuite_vendor_po_export", "V0001") is None

    run_dag(dagbag, "netsuite_vendor_po_export")
    files = exported(world)
    number = sorted(files)[0]
    vendor_id, key = files[number]
    bucket = world.actors[vendor_id].bucket
    resync = run_dag(
        dagbag, "netsuite_vendor_po_export", {"resync_po_numbers": [number], "vendor": vendor_id}
    )
    assert resync.state == "success"
    versions = world.s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 2  # sent again on request, to the same key
    from po_sync.ledger import RecordKey

    state = ledger_conn.get(RecordKey("netsuite_vendor_po_export", "purchase_order", "netsuite", number))
    assert state.status.value == "synced" and state.attempts == 2
    assert exported(world) == files


def test_unknown_vendor_param_fails_the_plan(dagbag, ledger_conn, world):
    run = run_dag(dagbag, "netsuite_vendor_po_export", {"vendor": "NOPE"}, retries=0)
    assert run.state == "failed"


def test_unset_vendor_settings_outside_a_sandbox_fail_the_plan_at_once(dagbag, ledger_conn, monkeypatch):
    """No fallback to the example vendors (fake buckets) in production, and no retries that cannot help."""
    monkeypatch.delenv("AIRFLOW_VAR_PO_SYNC_VENDORS", raising=False)
    monkeypatch.delenv("AIRFLOW__PO_SYNC__DEV_MODE", raising=False)
    run = run_dag(dagbag, "netsuite_vendor_po_export", retries=1)
    assert run.state == "failed"
    plan = run.get_task_instance("plan_vendors")
    assert (plan.state, plan.try_number) == ("failed", 1)
    assert {ti.task_id for ti in run.get_task_instances() if ti.state == "success"} <= {"report"}


def test_crash_after_s3_write_leaves_one_file(dagbag, ledger_conn, world, netsuite, monkeypatch):
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "netsuite_vendor_po_export")
    crashed = run_dag(dagbag, "netsuite_vendor_po_export", {"vendor": "V0001"}, retries=0)
    assert crashed.state == "failed"
    assert ledger_conn.status_counts("netsuite_vendor_po_export") == {"in_progress": 1}
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    assert run_dag(dagbag, "netsuite_vendor_po_export", {"vendor": "V0001"}).state == "success"
    files = exported(world)
    counts = ledger_conn.status_counts("netsuite_vendor_po_export")
    assert counts == {"synced": len(files)}


def test_sqs_notice_once_per_new_file(dagbag, ledger_conn, world, netsuite):
    import boto3

    queue = world.config["vendors"][0]["sqs_queue"]
    sqs = boto3.client("sqs", endpoint_url=world.endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="y")  # fmt: skip
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for _ in range(2):
        assert run_dag(dagbag, "netsuite_vendor_po_export").state == "success"
    files = [k for v, k in exported(world).values() if v == "V0001"]
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    assert sorted(__import__("json").loads(m["Body"])["key"] for m in messages) == sorted(files)


def test_one_vendors_broken_bucket_does_not_hold_up_the_others(
    dagbag, ledger_conn, world, netsuite, monkeypatch
):
    import json

    config = json.loads(json.dumps(world.config))
    config["vendors"][1]["bucket"] = "no-such-bucket-anywhere"
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", json.dumps(config))
    run = run_dag(dagbag, "netsuite_vendor_po_export", retries=0)
    assert run.state == "failed"  # the run says so...
    assert {vendor for vendor, _ in exported(world).values()} == {"V0001", "V0003"}  # ...the others delivered
    assert ledger_conn.get_cursor("netsuite_vendor_po_export", "V0002") is None
    assert ledger_conn.get_cursor("netsuite_vendor_po_export", "V0001") is not None
