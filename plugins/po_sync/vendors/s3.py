"""S3 helpers the vendor flows share: boto errors mapped to the package's errors, list, move, quarantine.

S3 has no rename: :func:`move` copies then deletes, so a rerun after a crash between the two finds
the copy already made.

Files we keep (archive, quarantine, dead-letter) are never overwritten (DESIGN.md, ledger rule 4):
:func:`kept_key` picks the first free name in the target folder (the file's own name, then the name
tagged with a hash of its whole source key, then numbered), where "free" also means "already holding
this very content" (the copy a crashed run made). Our notes end in :data:`NOTE_SUFFIX` and a kept
file never does, so a vendor file named ``x.json.error.txt`` cannot replace the note about ``x.json``.
A source another run has already moved (``NoSuchKey``) is "taken", not an error: :func:`move` says so
by returning None.

Ledger first, move last: a flow plans where a bad file goes (:func:`quarantine_plan`: the kept key,
and :func:`etag_hash` of the object as the record's payload hash), records it ``quarantined`` with
that key as ``trace_key``, writes the note, and only then moves it (:func:`move_to_kept`). A crash
in between leaves the file where the flow reads; the rerun knows it by the record (same key, same
ETag) and only finishes the move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from po_sync.exceptions import ExternalSystemError, FatalError, RetriableError

__all__ = [
    "NOTE_SUFFIX",
    "etag_hash",
    "has_note",
    "first_files",
    "is_missing",
    "kept_key",
    "list_keys",
    "move",
    "move_to_kept",
    "quarantine_file",
    "quarantine_plan",
    "write_quarantine_note",
    "s3_client",
    "s3_error",
]

#: The ending of our notes beside kept files; a kept vendor file never ends with it.
NOTE_SUFFIX = ".error.txt"
_MAX_TRIES = 50


def is_missing(exc: Exception) -> bool:
    """Whether a boto error says the object (or its source) does not exist (any more)."""
    response = getattr(exc, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in ("NoSuchKey", "404", "NotFound") or status == 404


def _etag(client: Any, bucket: str, key: str) -> str | None:
    """The object's ETag, or None when it does not exist."""
    try:
        return str(client.head_object(Bucket=bucket, Key=key).get("ETag") or "")
    except Exception as exc:
        if is_missing(exc):
            return None
        raise


def _names(source_key: str) -> Iterator[str]:
    name = source_key.rsplit("/", 1)[-1] or "unnamed"
    if not name.endswith(NOTE_SUFFIX):
        yield name
    stem, dot, ext = name.rpartition(".")
    if not stem or len(ext) > 16:
        stem, dot, ext = name, "", ""
    tag = hashlib.sha256(source_key.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    yield f"{stem}.{tag}{dot}{ext}"
    for n in range(2, _MAX_TRIES):
        yield f"{stem}.{tag}-{n}{dot}{ext}"


def kept_key(
    client: Any, bucket: str, source_key: str, folder: str, *, to_bucket: str | None = None
) -> str | None:
    """The key to keep ``source_key`` under in ``folder`` (a prefix ending in ``/``), never another file's.

    The first of: the file's own name (unless it ends in :data:`NOTE_SUFFIX`), ``<stem>.<tag>.<ext>``
    with ``tag`` from the whole source key (``inbound/sub/X`` and ``inbound/X`` differ), then numbered
    ones; a name is taken unless it is free or already holds the source's content (same ETag: the
    copy of a run that crashed before deleting the source). None when the source is gone.
    """
    source_tag = _etag(client, bucket, source_key)
    if source_tag is None:
        return None
    for name in _names(source_key):
        key = f"{folder}{name}"
        held = _etag(client, to_bucket or bucket, key)
        if held is None or held == source_tag:
            return key
    raise RetriableError(f"no free name to keep {source_key} in {folder}", system="s3", path=folder)


def etag_hash(etag: str) -> str:
    """The ledger's payload hash for an object known by its ETag (listings carry it): a rerun tells
    the very object a record was about from a new delivery under the same key without reading it."""
    return "etag:" + str(etag).strip('"')


def quarantine_plan(client: Any, bucket: str, key: str, folder: str) -> tuple[str, str] | None:
    """``(kept key, etag_hash)`` for quarantining ``key`` into ``folder`` (see :func:`kept_key`),
    before anything moves; None when the source is gone (another run took it)."""
    etag = _etag(client, bucket, key)
    new_key = kept_key(client, bucket, key, folder) if etag is not None else None
    if etag is None or new_key is None:
        return None
    return new_key, etag_hash(etag)


def write_quarantine_note(client: Any, bucket: str, key: str, new_key: str, message: str, code: str) -> None:
    """``<new_key>.error.txt`` (code, message, where the file came from), written before the move so
    a kept file is never without its note."""
    note = f"{code}: {message}\nfile: s3://{bucket}/{key}\nquarantined at: {datetime.now(UTC).isoformat()}\n"
    client.put_object(
        Bucket=bucket, Key=f"{new_key}{NOTE_SUFFIX}", Body=note.encode("utf-8"), ContentType="text/plain"
    )


def has_note(client: Any, bucket: str, new_key: str) -> bool:
    """Whether ``new_key``'s note is there."""
    return _etag(client, bucket, f"{new_key}{NOTE_SUFFIX}") is not None


def move_to_kept(
    client: Any,
    bucket: str,
    key: str,
    planned: str,
    folder: str,
    *,
    after_copy: Callable[[], None] | None = None,
) -> str | None:
    """Move ``key`` to ``planned`` (a :func:`kept_key` chosen before the ledger recorded it); when
    another file took ``planned`` since, to the next free kept name in ``folder`` instead (never
    over another file). None when ``key`` is gone."""
    source = _etag(client, bucket, key)
    if source is None:
        return None
    held = _etag(client, bucket, planned)
    target = planned if held is None or held == source else kept_key(client, bucket, key, folder)
    if target is None:
        return None
    return move(client, bucket, key, target, after_copy=after_copy)


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
) -> str | None:
    """Copy then delete (S3 has no rename); a rerun after a crash between the two finds the copy done.

    ``after_copy`` runs between the two (a crash point, :mod:`po_sync.faults`).

    :returns: ``new_key``, or None when ``key`` no longer exists (another run took it first).
    """
    target = to_bucket or bucket
    try:
        client.copy_object(Bucket=target, Key=new_key, CopySource={"Bucket": bucket, "Key": key})
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
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
) -> str | None:
    """Move a bad file to ``quarantine_prefix`` (under :func:`kept_key`'s name) with ``<name>.error.txt``
    (code + message) beside it; None when another run took the file first (no note is left then).

    ``after_note`` / ``after_copy`` run after the note and after the copy (crash points)."""
    new_key = kept_key(client, bucket, key, quarantine_prefix)
    if new_key is None:
        return None
    note = f"{code}: {message}\nfile: s3://{bucket}/{key}\nquarantined at: {datetime.now(UTC).isoformat()}\n"
    client.put_object(
        Bucket=bucket, Key=f"{new_key}{NOTE_SUFFIX}", Body=note.encode("utf-8"), ContentType="text/plain"
    )
    if after_note is not None:
        after_note()
    moved = move(client, bucket, key, new_key, after_copy=after_copy)
    if moved is None:
        client.delete_object(Bucket=bucket, Key=f"{new_key}{NOTE_SUFFIX}")
    return moved


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
