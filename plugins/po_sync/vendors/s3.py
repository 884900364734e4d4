"""S3 helpers the vendor flows share: boto errors mapped to the package's errors, list, move, quarantine.

S3 has no rename: :func:`move` copies then deletes, so a rerun after a crash between the two finds
the copy already made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from po_sync.exceptions import ExternalSystemError, FatalError, RetriableError

__all__ = ["list_keys", "move", "quarantine_file", "first_files", "s3_client", "s3_error"]


def s3_error(exc: Exception, *, action: str, key: str) -> ExternalSystemError:
    """Turn a boto3/botocore error into the package's retriable or fatal error (no secrets in it)."""
    response = getattr(exc, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    message = f"S3 {action} {key} failed: {code or type(exc).__name__}"
    if status is None or status >= 500 or status == 429 or code in ("SlowDown", "RequestTimeout"):
        return RetriableError(message, system="s3", status=status, code=code or "S3_UNAVAILABLE", path=key)
    return FatalError(message, system="s3", status=status, code=code, path=key)


def s3_client(aws_conn_id: str) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


def list_keys(client: Any, bucket: str, prefix: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Objects under ``prefix`` (not "folders"), oldest key first."""
    out: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o for o in page.get("Contents", []) if not o["Key"].endswith("/")]
            if limit and len(out) >= limit:
                break
    except Exception as exc:  # noqa: BLE001 - botocore errors are mapped
        raise s3_error(exc, action="LIST", key=f"{bucket}/{prefix}") from exc
    return sorted(out, key=lambda o: o["Key"])


def move(
    client: Any,
    bucket: str,
    key: str,
    new_key: str,
    *,
    to_bucket: str | None = None,
    after_copy: Callable[[], None] | None = None,
) -> str:
    """Copy then delete (S3 has no rename); a rerun after a crash between the two finds the copy done.

    ``after_copy`` runs between the two (a crash point, :mod:`po_sync.faults`)."""
    target = to_bucket or bucket
    client.copy_object(Bucket=target, Key=new_key, CopySource={"Bucket": bucket, "Key": key})
    if after_copy is not None:
        after_copy()
    client.delete_object(Bucket=bucket, Key=key)
    return new_key


def quarantine_file(
    client: Any,
    bucket: str,
    key: str,
    quarantine_prefix: str,
    message: str,
    code: str,
    *,
    after_note: Callable[[], None] | None = None,
    after_copy: Callable[[], None] | None = None,
) -> str:
    """Move a bad file to ``quarantine_prefix`` with ``<name>.error.txt`` (code + message) beside it.

    ``after_note`` / ``after_copy`` run after the note and after the copy (crash points)."""
    name = key.rsplit("/", 1)[-1]
    new_key = f"{quarantine_prefix}{name}"
    note = f"{code}: {message}\nfile: s3://{bucket}/{key}\nquarantined at: {datetime.now(UTC).isoformat()}\n"
    client.put_object(
        Bucket=bucket, Key=f"{new_key}.error.txt", Body=note.encode("utf-8"), ContentType="text/plain"
    )
    if after_note is not None:
        after_note()
    return move(client, bucket, key, new_key, after_copy=after_copy)


def first_files(aws_conn_id: str, locations: Sequence[Sequence[str]]) -> list[str]:
    """``bucket/prefix`` of each location that holds at least one object."""
    client = s3_client(aws_conn_id)
    found = []
    for bucket, prefix in locations:
        try:
            body = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except Exception:  # noqa: BLE001 - a missing bucket is reported by the merge, not the wait
            continue
        if body.get("KeyCount", 0):
            found.append(f"{bucket}/{prefix}")
    return found
