"""The queue's Retry for Onetrail's inbound files (see :mod:`po_sync.retry` for the rules).

A refused file of an ``Out/*`` folder is in that folder's ``error/`` (under its own name, or a
tagged one when that was taken: :func:`po_sync.sftp.kept_names`) with ``<kept name>.error.txt``
beside it; the file's record names that path in its ``trace_key`` (recorded before the move,
:mod:`po_sync.onetrail.kept`), and the Retry takes the file from there. Its records:

- the file's own (``order_response`` / ``despatch_advice_file`` / ``invoice_file``, id
  ``<name>@<sha256>``);
- the documents in it a rule refused (``despatch_advice`` ``<advice>/<PO>``, ``invoice``
  ``<GLN>/<number>``): their file is the one named in their ``trace_key``, or the file record of the
  same run whose message holds theirs.

Retrying any of them moves the file back into the ``Out`` folder once. Re-read, the documents of it
already applied (a receipt made, a bill written) are recognised by their ledger record and skipped,
not applied again; the others are applied now. ``*_duplicate`` records are never retried: the file
was processed before.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from po_sync import retry
from po_sync import sftp as remote
from po_sync.ledger.schema import sync_record

if TYPE_CHECKING:
    from paramiko import SFTPClient

    from po_sync.sync import SyncRun

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def location(conn_id: str, path: str) -> str:
    """How the ledger names a file on Onetrail's sFTP (also what the UI links)."""
    return f"sftp:{conn_id}:{path}"


def _file_of(
    run: SyncRun, request: retry.RetryRequest, file_entity: str, error_dir: str
) -> tuple[str, str, str | None] | None:
    """``(name, sha256, kept path)`` of the file a record came from, or None when it cannot be told.

    The kept path is the ``error/`` path the file's record names (None for records kept before
    files were recorded with their path)."""
    if request.entity_type == file_entity:
        name, _, checksum = request.source_id.rpartition("@")
        return (name, checksum, retry.kept_path(request.trace_key, error_dir)) if name else None
    # a document of a file: the file record of the same run whose message names it
    with run.ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                sync_record.c.source_id, sync_record.c.last_error_message, sync_record.c.trace_key
            ).where(
                sync_record.c.flow == run.flow,
                sync_record.c.entity_type == file_entity,
                sync_record.c.sync_run_id == request.sync_run_id,
            )
        ).all()
    for source_id, message, trace_key in rows:
        name, _, checksum = source_id.rpartition("@")
        if name and request.error_message and request.error_message in (message or ""):
            return name, checksum, retry.kept_path(trace_key, error_dir)
    if request.trace_key and _NAME_RE.fullmatch(request.trace_key):
        return request.trace_key, "", None
    return None


def _kept_candidates(error_dir: str, name: str, checksum: str, kept: str | None) -> list[str]:
    """Where in ``error/`` the file may be, best first: the path its record names, then the names it
    would have been kept under (its own, the tagged one), then the older ``<stem>.<sha12><ext>``."""
    out = [kept] if kept else []
    names = remote.kept_names(name, checksum or None)
    out += [posixpath.join(error_dir, n) for n in (next(names, name), next(names, name))]
    if checksum:
        stem, ext = posixpath.splitext(name)
        out.append(posixpath.join(error_dir, f"{stem}.{checksum[:12]}{ext}"))
    return list(dict.fromkeys(out))


def requeue(
    run: SyncRun, client: SFTPClient, *, conn_id: str, folder: str, file_entity: str, doc_entity: str
) -> set[str]:
    """Put back the files of this folder's retried records; return the paths they went back to."""
    error_dir = posixpath.join(folder, "error")
    wanted = (file_entity, f"{file_entity}_duplicate", doc_entity, f"{doc_entity}_duplicate")
    files: dict[tuple[str, str, str | None], list[retry.RetryRequest]] = defaultdict(list)
    for request in retry.retry_requests(run.ledger, run.flow, entity_types=set(wanted)):
        if request.entity_type.endswith("_duplicate"):
            retry.refuse(
                run.ledger,
                request,
                sync_run_id=run.id,
                message="not retried: that file (or document) was processed before; applying it again would "
                "duplicate what it made in NetSuite; resolve this record",
            )
            continue
        found = _file_of(run, request, file_entity, error_dir)
        if found is None:
            retry.refuse(
                run.ledger,
                request,
                sync_run_id=run.id,
                message=f"not retried: the file this record came from is not known; put a corrected file into {folder}/",
            )
            continue
        files[found].append(request)
    back: set[str] = set()
    for (name, checksum, kept), requests in sorted(files.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        stem, ext = posixpath.splitext(name)
        candidates = _kept_candidates(error_dir, name, checksum, kept)
        source = next((c for c in candidates if remote.exists(client, c)), None)
        action_id = min(r.action_id for r in requests)
        if source is None:
            again = [
                p
                for p in (
                    posixpath.join(folder, name),
                    posixpath.join(folder, f"{stem}.retry-{action_id}{ext}"),
                )
            ]
            present = next((p for p in again if remote.exists(client, p)), None)
            for request in requests:
                if present is not None:  # a run that died after the move
                    retry.mark_requeued(run.ledger, request, location=location(conn_id, present), note=None)
                else:
                    archived = remote.exists(client, posixpath.join(folder, "archive", name))
                    where = f"it is in {folder}/archive/ (processed)" if archived else "it is no longer there"
                    retry.refuse(
                        run.ledger,
                        request,
                        sync_run_id=run.id,
                        message=f"not retried: {candidates[0]} was the file to read again, but {where}; "
                        f"to process it, put a corrected copy into {folder}/ under a new name",
                    )
            if present is not None:
                back.add(present)
            continue
        target = posixpath.join(
            folder,
            retry.retry_name(name, action_id, lambda n: remote.exists(client, posixpath.join(folder, n))),
        )
        note_path = source + ".error.txt"
        note = ""
        if remote.exists(client, note_path):
            note = remote.read(client, note_path, max_bytes=1_000_000).decode("utf-8", "replace")
            kept = posixpath.join(
                error_dir, retry.retried_note_name(posixpath.basename(note_path), action_id)
            )
            remote.write_atomic(client, kept, retry.retried_note(note, requests[0], target).encode())
            client.remove(note_path)
        for request in requests:
            retry.mark_requeued(run.ledger, request, location=location(conn_id, target), note=note)
        remote.move(client, source, target)
        back.add(target)
    return back


#: file entity -> the ``Out`` folder it comes from
FOLDERS = {
    "order_response": "Out/OrdRsp",
    "despatch_advice_file": "Out/Desadv",
    "invoice_file": "Out/Invoice",
}


def files_of(record: dict[str, Any], *, conn_id: str) -> list[tuple[str, str]]:
    """The queue's links for an Onetrail file record: the file in ``error/`` and its note."""
    from po_sync.onetrail.settings import resolve_settings

    entity = str(record.get("entity_type") or "").removesuffix("_duplicate")
    folder = FOLDERS.get(entity)
    name = str(record.get("source_id") or "").rpartition("@")[0]
    if folder is None or not name:
        return []
    error_dir = posixpath.join(resolve_settings(None).folder(folder), "error")
    # the path the file was recorded to go to, else its own name there (records from before that)
    path = retry.kept_path(record.get("trace_key"), error_dir) or posixpath.join(error_dir, name)
    return [
        ("quarantined file", location(conn_id, path)),
        ("quarantine note", location(conn_id, path + ".error.txt")),
    ]


def roots(*, conn_id: str) -> list[str]:
    """Onetrail's ``Out`` folders: what the queue may serve."""
    from po_sync.onetrail.settings import resolve_settings

    settings = resolve_settings(None)
    return [location(conn_id, settings.folder(f).rstrip("/") + "/") for f in FOLDERS.values()]
