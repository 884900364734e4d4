"""A crash between the vendor's S3 write and the ledger update must not send the SQS notice twice.

``PO_SYNC_CRASH_AFTER_WRITE`` kills the export right after the first PO's write and notice, before
the ledger says ``synced``; the rerun resumes that PO. Before the fix the rerun sent its notice again
(two notices for one file); now the notice is a ledger record of its own and goes out once.
"""

from __future__ import annotations

import json

import pytest

from tests.vendors.test_export_dag import exported, run_dag

pytestmark = pytest.mark.e2e

FLOW = "netsuite_vendor_po_export"


def _drain(world, queue: str) -> list[dict]:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=world.endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="y")  # fmt: skip
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages: list[dict] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch]
        )
    return messages


def test_a_crash_after_the_notice_does_not_send_it_again(dagbag, ledger_conn, world, netsuite, monkeypatch):
    queue = world.config["vendors"][0]["sqs_queue"]
    assert queue and not queue.endswith(".fifo"), "a standard queue: no deduplication by SQS itself"
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", FLOW)
    assert run_dag(dagbag, FLOW, {"vendor": "V0001"}, retries=0).state == "failed"
    assert ledger_conn.status_counts(FLOW) == {"in_progress": 1}
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    assert run_dag(dagbag, FLOW, {"vendor": "V0001"}).state == "success"

    files = sorted(k for v, k in exported(world).values() if v == "V0001")
    keys = sorted(json.loads(m["Body"])["key"] for m in _drain(world, queue))
    assert keys == files, "one notice per file, none twice"
    assert ledger_conn.status_counts(FLOW) == {"synced": len(files)}
    assert ledger_conn.status_counts(f"{FLOW}.sqs_notice") == {"synced": len(files)}


def test_a_resync_sends_its_notice_again(dagbag, ledger_conn, world, netsuite):
    """A person asking for a PO again gets a new notice: idempotent per send, not per PO forever."""
    queue = world.config["vendors"][0]["sqs_queue"]
    assert run_dag(dagbag, FLOW, {"vendor": "V0001"}).state == "success"
    files = sorted(k for v, k in exported(world).values() if v == "V0001")
    assert len(_drain(world, queue)) == len(files)
    number = files[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    assert run_dag(dagbag, FLOW, {"vendor": "V0001", "resync_po_numbers": [number]}).state == "success"
    assert [json.loads(m["Body"])["key"] for m in _drain(world, queue)] == [files[0]]


def test_every_notice_carries_its_sends_idempotency_key(dagbag, ledger_conn, world, netsuite):
    """A standard queue may deliver a notice twice (at-least-once); each carries the ledger's
    idempotency key of its PO version as the message attribute ``po_sync_idempotency_key``, so the
    vendor's consumer can drop a repeat."""
    from po_sync.ledger import RecordStatus

    queue = world.config["vendors"][0]["sqs_queue"]
    assert run_dag(dagbag, FLOW, {"vendor": "V0001"}).state == "success"
    sent = {
        json.loads(m["Body"])["po_number"]: m["MessageAttributes"]["po_sync_idempotency_key"]
        for m in _drain(world, queue)
    }
    synced = ledger_conn.find(FLOW, statuses=(RecordStatus.SYNCED,))
    assert sent and len(sent) == len(synced)
    assert {n: a["StringValue"] for n, a in sent.items()} == {
        s.trace_key.rsplit("/", 1)[-1].rsplit(".", 1)[0]: s.idempotency_key for s in synced
    }
    assert {a["DataType"] for a in sent.values()} == {"String"}
