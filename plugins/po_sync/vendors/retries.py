"""The queue's Retry for the vendor flows' S3 files (see :mod:`po_sync.retry` for the rules).

- Merge (``vendor_file`` records, id = the inbound key): the file is in the vendor's
  ``<prefix>quarantine/<name>`` with ``<name>.error.txt`` beside it; it goes back to
  ``<prefix>inbound/`` (``<stem>.retry-<n><ext>`` when a new file of that name waits there).
- Import (``item_receipt`` / ``item_fulfillment`` / ``vendor_bill`` / ``merged_document`` records, id =
  the merged id): the document is in the merge bucket's ``quarantine/`` under the key its record's
  trace_key names (``<id>.json``, or a tagged name when that one held another document), or in
  ``dead-letter/<kind>/<id>.json``; it goes back to ``ready/<kind>/<id>.json``. The name is the merged
  id, its identity in NetSuite (``externalId``), so it is never renamed: when ``ready/`` already holds
  a newer version of that document, the newer one is imported instead and the quarantined one stays.
  A ``failed`` document never left ``ready/``: its retry only marks it.

Never retried: a vendor's correction of a document already written to NetSuite
(``CORRECTION_NEEDS_PERSON``): changing received quantities needs a person in NetSuite.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from po_sync import retry

if TYPE_CHECKING:
    from po_sync.sync import SyncRun
    from po_sync.vendors.settings import VendorSettings

IMPORT_TYPES = ("item_receipt", "item_fulfillment", "vendor_bill", "merged_document")
NEEDS_PERSON = "CORRECTION_NEEDS_PERSON"


def kept_key_of(trace_key: str | None, vendor: VendorSettings) -> str | None:
    """The key a quarantined file was kept under (the record's ``trace_key``), if it says one."""
    if trace_key and trace_key.startswith(vendor.quarantine_prefix) and not trace_key.endswith("/"):
        return trace_key
    return None


def location(bucket: str, key: str) -> str:
    """How the ledger names an S3 object (also what the UI links)."""
    return f"s3://{bucket}/{key}"


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - botocore's 404 is a ClientError
        status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or "404" in str(exc) or "Not Found" in str(exc):
            return False
        raise
    return True


def _inbound_exists(client: Any, vendor: Any, name: str) -> bool:
    """Whether ``name`` is taken in the vendor's inbound prefix (a requeued file must not replace one)."""
    return _exists(client, vendor.bucket, vendor.inbound_prefix + name)


def _move_note(client: Any, bucket: str, note_key: str, request: retry.RetryRequest, went_to: str) -> str:
    """Keep our quarantine note (renamed, with the retry appended); return its text."""
    try:
        text = client.get_object(Bucket=bucket, Key=note_key)["Body"].read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - no note: nothing to keep
        return ""
    folder, _, name = note_key.rpartition("/")
    kept = (
        f"{folder}/{retry.retried_note_name(name, request.action_id)}"
        if folder
        else retry.retried_note_name(name, request.action_id)
    )
    client.put_object(
        Bucket=bucket,
        Key=kept,
        Body=retry.retried_note(text, request, went_to).encode(),
        ContentType="text/plain",
    )
    client.delete_object(Bucket=bucket, Key=note_key)
    return text


def _refuse_correction(run: SyncRun, request: retry.RetryRequest) -> bool:
    if request.error_code != NEEDS_PERSON:
        return False
    retry.refuse(
        run.ledger,
        request,
        sync_run_id=run.id,
        message=(
            "not retried: this corrects a document already written to NetSuite; change that record in "
            f"NetSuite by hand, then resolve this one (was: {request.error_message})"
        ),
    )
    return True


def requeue_merge(run: SyncRun, client: Any, vendors: list[VendorSettings]) -> int:
    """Put the retried vendor files back into their inbound folders; return how many."""
    from po_sync.vendors.s3 import move

    by_id = {v.vendor_id: v for v in vendors}
    done = 0
    for request in retry.retry_requests(run.ledger, run.flow, entity_types=("vendor_file",)):
        vendor = by_id.get(request.source_system)
        if vendor is None:
            continue  # a vendor not in this run (disabled, or another mapped task's): its own run
        if _refuse_correction(run, request):
            continue
        name = request.source_id.rsplit("/", 1)[-1]
        source = kept_key_of(request.trace_key, vendor) or f"{vendor.quarantine_prefix}{name}"
        stem, dot, ext = name.rpartition(".")
        retry_key = f"{vendor.inbound_prefix}{stem}.retry-{request.action_id}.{ext}" if dot else ""
        if not _exists(client, vendor.bucket, source):
            for candidate in (f"{vendor.inbound_prefix}{name}", retry_key):
                if candidate and _exists(client, vendor.bucket, candidate):  # a run that died after the move
                    retry.mark_requeued(
                        run.ledger, request, location=location(vendor.bucket, candidate), note=None
                    )
                    done += 1
                    break
            else:
                retry.refuse(
                    run.ledger,
                    request,
                    sync_run_id=run.id,
                    message=(
                        f"not retried: s3://{vendor.bucket}/{source} is no longer in quarantine (archived under "
                        f"{vendor.archive_prefix} once merged, or removed); to merge it again, put a corrected "
                        f"copy into {vendor.inbound_prefix} under a new name"
                    ),
                )
            continue
        target = vendor.inbound_prefix + retry.retry_name(
            name, request.action_id, functools.partial(_inbound_exists, client, vendor)
        )
        note = _move_note(
            client, vendor.bucket, f"{source}.error.txt", request, location(vendor.bucket, target)
        )
        retry.mark_requeued(run.ledger, request, location=location(vendor.bucket, target), note=note)
        move(client, vendor.bucket, source, target)
        done += 1
    return done


def requeue_import(run: SyncRun, client: Any, bucket: str) -> int:
    """Put the retried merged documents back into ``ready/``; return how many."""
    from po_sync.vendors.s3 import move

    done = 0
    for request in retry.retry_requests(run.ledger, run.flow, entity_types=IMPORT_TYPES):
        if _refuse_correction(run, request):
            continue
        kind, merged = request.entity_type, request.source_id
        ready = f"ready/{kind}/{merged}.json"
        if _exists(client, bucket, ready):
            # still there (a failed document), put back before, or a newer version: that one is read
            retry.mark_requeued(run.ledger, request, location=location(bucket, ready), note=None)
            done += 1
            continue
        # where the import kept it (its trace_key; another file may have held the plain name), else
        # the plain names of older records
        kept = request.trace_key if (request.trace_key or "").startswith("quarantine/") else None
        plain = (f"quarantine/{merged}.json", f"dead-letter/{kind}/{merged}.json")
        for source in (kept, *plain) if kept and kept not in plain else plain:
            if _exists(client, bucket, source):
                note = _move_note(client, bucket, f"{source}.error.txt", request, location(bucket, ready))
                retry.mark_requeued(run.ledger, request, location=location(bucket, ready), note=note)
                move(client, bucket, source, ready)
                done += 1
                break
        else:
            retry.refuse(
                run.ledger,
                request,
                sync_run_id=run.id,
                message=(
                    f"not retried: document {merged} is in neither s3://{bucket}/quarantine/ nor dead-letter/ "
                    "(in done/ once imported, or removed); the merge writes it again when the vendor's "
                    "files are delivered again"
                ),
            )
    return done


def merge_files_of(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The queue's links for a merge record: the quarantined file and its note (``po_sync.ui.files``)."""
    from po_sync.vendors.settings import load_vendors_config

    if record.get("entity_type") != "vendor_file":
        return []
    vendors = {v.vendor_id: v for v in load_vendors_config().vendors}
    vendor = vendors.get(str(record.get("source_system")))
    if vendor is None:
        return []
    name = str(record.get("source_id") or "").rsplit("/", 1)[-1]
    quarantined = kept_key_of(record.get("trace_key"), vendor) or vendor.quarantine_prefix + name
    return [
        ("quarantined file", location(vendor.bucket, quarantined)),
        ("quarantine note", location(vendor.bucket, quarantined + ".error.txt")),
    ]


def merge_roots() -> list[str]:
    """The vendors' folders: what the queue may serve for the merge."""
    from po_sync.vendors.settings import load_vendors_config

    return [location(v.bucket, v.prefix) for v in load_vendors_config().vendors if v.prefix.endswith("/")]


def import_files_of(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The queue's links for an import record: the merged document wherever it is now."""
    from po_sync.vendors.settings import load_vendors_config

    kind, merged = record.get("entity_type"), str(record.get("source_id") or "")
    if kind not in IMPORT_TYPES or not merged:
        return []
    bucket = load_vendors_config().merge_bucket
    return [
        ("quarantined document", location(bucket, f"quarantine/{merged}.json")),
        ("quarantine note", location(bucket, f"quarantine/{merged}.json.error.txt")),
        ("dead-letter document", location(bucket, f"dead-letter/{kind}/{merged}.json")),
        ("inbound document (ready/)", location(bucket, f"ready/{kind}/{merged}.json")),
        ("imported document (done/)", location(bucket, f"done/{kind}/{merged}.json")),
    ]


def import_roots() -> list[str]:
    """The merge bucket's folders the queue may serve."""
    from po_sync.vendors.settings import load_vendors_config

    bucket = load_vendors_config().merge_bucket
    return [location(bucket, p) for p in ("quarantine/", "dead-letter/", "ready/", "done/")]
