"""The queue's Retry for HotWax receipt files (see :mod:`po_sync.retry` for the rules).

Where a retried record's input waits:

- ``receipt_file`` (the whole file was refused: too big, not a feed, unsafe name): the file itself is
  in ``error/<name>`` with ``<name>.errors.csv`` beside it. It goes back to the receipt folder.
- ``item_receipt`` (one order of a file was refused: unknown PO or line, over-receipt): the file was
  archived with its good orders received; the refused orders are in ``error/<stem>.failed.json``.
  The retried orders (only those: an order a person resolved by hand is never sent again) are
  written to ``<stem>.retry-<n>.json`` in the receipt folder; the failed file and its report stay.
- ``receipt_file_duplicate`` (a file imported before, delivered again): never retried, since reading it
  again would receive its orders twice.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from po_sync import retry
from po_sync.exceptions import VanishedFileError
from po_sync.hotwax import sftp as remote
from po_sync.hotwax.formats import receipt_feed_json

if TYPE_CHECKING:
    from paramiko import SFTPClient

    from po_sync.sync import SyncRun

ENTITY_TYPES = ("receipt_file", "receipt_file_duplicate", "item_receipt")


def location(conn_id: str, path: str) -> str:
    """How the ledger names a file on the HotWax SFTP server (also what the UI links)."""
    return f"sftp:{conn_id}:{path}"


def order_location(conn_id: str, path: str, order_id: str) -> str:
    return f"{location(conn_id, path)}#{order_id}"


def failed_orders_name(name: str, checksum: str) -> str:
    """``<stem>.<tag>.failed.json``: where a receipt file's refused orders are kept in ``error/``.

    The tag comes from the file's name and the first 16 hex characters of its checksum, the part its
    orders' ledger keys carry (``<order>@<name>@<checksum[:16]>``), so the queue's Retry and its
    links find the file from a record alone; a partner file called ``<stem>.failed.json`` is kept
    under another name (:func:`po_sync.sftp.kept_names`).
    """
    stem, _ = posixpath.splitext(remote.safe_name(name))
    return f"{stem}.{remote.name_tag(name, checksum[:16])}.failed.json"


def _read_text(client: SFTPClient, path: str) -> str:
    try:
        return remote.read(client, path, max_bytes=1_000_000).decode("utf-8", "replace")
    except (OSError, VanishedFileError):
        return ""


def requeue(run: SyncRun, client: SFTPClient, *, conn_id: str, folder: str, error_dir: str) -> set[str]:
    """Put back the files of this flow's retried records; return the paths they went to (files we
    wrote or moved ourselves: complete, so read now whatever their age)."""
    done: set[str] = set()
    orders: dict[str, list[retry.RetryRequest]] = defaultdict(list)
    for request in retry.retry_requests(run.ledger, run.flow, entity_types=ENTITY_TYPES):
        if request.entity_type == "receipt_file_duplicate":
            retry.refuse(
                run.ledger,
                request,
                sync_run_id=run.id,
                message=(
                    f"not retried: {request.source_id.split('@')[0]} was imported before with the same "
                    "content, so reading it again would receive its orders twice; resolve this record"
                ),
            )
        elif request.entity_type == "receipt_file":
            done |= _requeue_file(run, client, request, conn_id=conn_id, folder=folder, error_dir=error_dir)
        else:
            parts = request.source_id.split("@")
            if len(parts) < 3:
                retry.refuse(
                    run.ledger,
                    request,
                    sync_run_id=run.id,
                    message="not retried: no file named in the record",
                )
                continue
            orders[parts[1]].append(request)
    for name, requests in sorted(orders.items()):
        done |= _requeue_orders(
            run, client, name, requests, conn_id=conn_id, folder=folder, error_dir=error_dir
        )
    return done


def _requeue_file(
    run: SyncRun,
    client: SFTPClient,
    request: retry.RetryRequest,
    *,
    conn_id: str,
    folder: str,
    error_dir: str,
) -> set[str]:
    name = request.source_id.rsplit("@", 1)[0]
    source = retry.kept_path(request.trace_key, error_dir) or posixpath.join(error_dir, name)
    back = posixpath.join(
        folder, f"{posixpath.splitext(name)[0]}.retry-{request.action_id}{posixpath.splitext(name)[1]}"
    )
    if not remote.exists(client, source):
        for candidate in (posixpath.join(folder, name), back):  # a run that died after the move
            if remote.exists(client, candidate):
                retry.mark_requeued(run.ledger, request, location=location(conn_id, candidate), note=None)
                return {candidate}
        archived = remote.exists(client, posixpath.join(folder, "archive", name))
        where = f"it is in {folder}/archive/ (imported)" if archived else "it is no longer there"
        retry.refuse(
            run.ledger,
            request,
            sync_run_id=run.id,
            message=(
                f"not retried: {source} was the file to read again, but {where}; to import it, put a "
                f"corrected copy into {folder}/ under a new name"
            ),
        )
        return set()
    target = posixpath.join(
        folder,
        retry.retry_name(name, request.action_id, lambda n: remote.exists(client, posixpath.join(folder, n))),
    )
    note_path = source + ".errors.csv"
    note = _read_text(client, note_path)
    if note:
        kept = posixpath.join(error_dir, retry.retried_note_name(name + ".errors.csv", request.action_id))
        remote.write_atomic(client, kept, retry.retried_note(note, request, target).encode())
        client.remove(note_path)
    retry.mark_requeued(run.ledger, request, location=location(conn_id, target), note=note)
    remote.move(client, source, target)
    return {target}


def _requeue_orders(
    run: SyncRun,
    client: SFTPClient,
    name: str,
    requests: Sequence[retry.RetryRequest],
    *,
    conn_id: str,
    folder: str,
    error_dir: str,
) -> set[str]:
    stem, ext = posixpath.splitext(name)
    checksum = requests[0].source_id.split("@")[2]
    failed_path = posixpath.join(error_dir, failed_orders_name(name, checksum))
    target = posixpath.join(folder, f"{stem}.retry-{min(r.action_id for r in requests)}{ext}")
    wanted = {r.source_id.split("@")[0]: r for r in requests}
    if remote.exists(client, target):  # a run that died after writing it
        for order_id, request in wanted.items():
            retry.mark_requeued(
                run.ledger, request, location=order_location(conn_id, target, order_id), note=None
            )
        return {target}
    raw: list[Any] = []
    if remote.exists(client, failed_path):
        try:
            loaded = json.loads(remote.read(client, failed_path, max_bytes=50_000_000))
            raw = loaded if isinstance(loaded, list) else []
        except ValueError:
            raw = []
    picked = [o for o in raw if isinstance(o, dict) and str(o.get("order_id")) in wanted]
    found = {str(o.get("order_id")) for o in picked}
    for order_id, request in wanted.items():
        if order_id not in found:
            retry.refuse(
                run.ledger,
                request,
                sync_run_id=run.id,
                message=(
                    f"not retried: order {order_id} of {name} is not in {failed_path} (the refused orders "
                    f"of that file); put a corrected receipt for it into {folder}/ as a new file"
                ),
            )
    if not picked:
        return set()
    note = _read_text(client, failed_path + ".errors.csv")
    for order_id in sorted(found):
        retry.mark_requeued(
            run.ledger,
            wanted[order_id],
            location=order_location(conn_id, target, order_id),
            note=f"{failed_path}: {note}" if note else None,
        )
    remote.write_atomic(client, target, receipt_feed_json(picked))
    return {target}


def files_of(record: dict[str, Any], *, conn_id: str, folder: str) -> list[tuple[str, str]]:
    """The queue's links for a HotWax receipt record: ``[(label, location)]`` (see ``po_sync.ui.files``)."""
    entity, source_id = record.get("entity_type"), str(record.get("source_id") or "")
    at = lambda *parts: location(conn_id, posixpath.join(folder, *parts))  # noqa: E731
    archived = str(record.get("target_id") or "")
    if record.get("target_system") == "sftp" and archived.startswith(folder.rstrip("/") + "/archive/"):
        return [("archived file", location(conn_id, archived))]
    if entity in ("receipt_file", "receipt_file_duplicate"):
        error_dir = posixpath.join(folder, "error")
        kept = retry.kept_path(record.get("trace_key"), error_dir)
        name = source_id.rsplit("@", 1)[0]
        path = kept or posixpath.join(error_dir, name)
        return [
            ("quarantined file", location(conn_id, path)),
            ("quarantine note", location(conn_id, path + ".errors.csv")),
        ]
    if entity == "item_receipt" and source_id.count("@") >= 2:
        _, name, checksum = source_id.split("@")[:3]
        failed = failed_orders_name(name, checksum)
        return [
            ("inbound file (archived)", at("archive", name)),
            ("refused orders", at("error", failed)),
            ("quarantine note", at("error", failed + ".errors.csv")),
        ]
    return []


def roots(*, conn_id: str, folder: str) -> list[str]:
    """Where the queue may serve HotWax receipt files from (the receipt folder and its subfolders)."""
    return [location(conn_id, folder.rstrip("/") + "/")]
