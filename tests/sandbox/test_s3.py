"""moto server mode answers the Amazon provider's S3Hook and SqsHook over HTTP."""

from __future__ import annotations

import uuid

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sqs import SqsHook
from botocore.exceptions import ClientError


def test_aws_connection_points_at_loopback(airflow_conns):
    conn = airflow_conns["aws_default"]
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"].startswith("http://127.0.0.1:")
    assert conn["extra"]["region_name"] == "us-east-1"
    assert conn["login"] and conn["password"]


def test_s3_put_get_list(airflow_conns):
    hook = S3Hook(aws_conn_id="aws_default")
    bucket = f"po-sync-{uuid.uuid4().hex[:8]}"
    hook.create_bucket(bucket_name=bucket)
    hook.load_string("po,qty\nPO-1,3\n", key="merge/2026/po.csv", bucket_name=bucket)
    hook.load_string("other", key="elsewhere.txt", bucket_name=bucket)

    assert hook.read_key("merge/2026/po.csv", bucket_name=bucket) == "po,qty\nPO-1,3\n"
    assert hook.list_keys(bucket_name=bucket, prefix="merge/") == ["merge/2026/po.csv"]
    assert hook.check_for_key("merge/2026/missing.csv", bucket_name=bucket) is False


def test_s3_missing_bucket_is_an_error(airflow_conns):
    hook = S3Hook(aws_conn_id="aws_default")
    with pytest.raises(ClientError) as err:
        hook.get_conn().get_object(Bucket=f"absent-{uuid.uuid4().hex[:8]}", Key="x")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"


def test_sqs_send_receive_delete(airflow_conns):
    hook = SqsHook(aws_conn_id="aws_default")
    queue_url = hook.create_queue(f"po-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    assert queue_url.startswith(airflow_conns["aws_default"]["extra"]["endpoint_url"])

    hook.send_message(
        queue_url, '{"po": "PO-1"}', message_attributes={"kind": {"DataType": "String", "StringValue": "po"}}
    )
    client = hook.get_conn()
    received = client.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1)
    [message] = received["Messages"]
    assert message["Body"] == '{"po": "PO-1"}'
    assert message["MessageAttributes"]["kind"]["StringValue"] == "po"

    client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in client.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)


def test_the_aws_connection_passes_the_providers_own_test(airflow_conns):
    """The UI's Test button (STS GetCallerIdentity) must reach moto, not AWS."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    ok, message = AwsBaseHook(aws_conn_id="aws_default", client_type="sts").test_connection()
    assert ok, message
    assert "us-east-1" in message
