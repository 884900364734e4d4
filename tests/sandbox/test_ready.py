"""``make airflow``'s sandbox world: what every scheduled DAG expects exists before Airflow starts."""

from __future__ import annotations

from typing import Any

import boto3

from po_sync_sandbox.ready import example_vendors, netsuite_pool_slots, prepare_world


def _client(sandbox: Any, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=sandbox.infos["s3"].endpoints["s3"],
        region_name="us-east-1",
        aws_access_key_id="sandbox-access-key",
        aws_secret_access_key="sandbox-secret-key",
    )


def test_buckets_queues_and_folders_exist_and_setup_is_idempotent(sandbox: Any) -> None:
    vendors = example_vendors()
    first = prepare_world(sandbox, vendors)
    again = prepare_world(sandbox, vendors)  # a restart finds them there
    assert first == again
    buckets = {b["Name"] for b in _client(sandbox, "s3").list_buckets()["Buckets"]}
    expected = {v["bucket"] for v in vendors["vendors"]} | {vendors["merge_bucket"]}
    assert expected <= buckets and set(first["buckets"]) == expected
    s3 = _client(sandbox, "s3")
    for bucket in expected:
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    queues = _client(sandbox, "sqs").list_queues().get("QueueUrls", [])
    for name in first["queues"]:
        assert any(url.endswith(f"/{name}") for url in queues), name
    root = sandbox.services["sftp"].root
    for folder in first["sftp_folders"]:
        assert (root / folder).is_dir()
        assert (root / folder / "archive").is_dir()


def test_pool_slots_come_from_the_sandbox_account(sandbox: Any) -> None:
    knobs = sandbox.services["netsuite"].knobs
    expected = knobs.integration_concurrency_limit or knobs.account_concurrency_limit
    assert netsuite_pool_slots(sandbox, fallback=expected + 7) == expected
