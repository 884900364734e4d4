"""Inbound files and quarantine objects of a record, as links the queue serves itself.

A record's files are named by *locations*: ``s3://<bucket>/<key>`` or ``sftp:<conn id>:<path>``.
They come from the ledger (the place a retry put a file back, ``trace_key`` ``retry:...``) and from
each file-based flow's *locator*, a function ``record -> [(label, location), ...]`` registered per
flow (:func:`register`; the plugin module wires the partner packages' locators, so this core
module imports none of them).

``GET /po-sync/records/{id}/file?loc=...`` streams one of them after the same login as the page. It
never serves a location the record's locators did not name, and every location is checked again
here: no ``..``, no absolute path, no backslash or control character, and under one of the roots
its flow registered (its configured folders or buckets). No credentials or presigned URLs leave the
server: the browser only ever talks to our own endpoint.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from po_sync.retry import RETRY_PREFIX

Locator = Callable[[dict[str, Any]], list[tuple[str, str]]]
#: flow -> how to find a record's files
_LOCATORS: dict[str, Locator] = {}
#: flow -> locations (prefixes) its files may be served from
_ROOTS: dict[str, list[str] | Callable[[], list[str]]] = {}
#: the most bytes one download streams
MAX_BYTES = 50_000_000
_UNSAFE = re.compile(r"[\x00-\x1f\\]")


@dataclass(frozen=True)
class FileRef:
    """A parsed location: ``scheme`` s3 or sftp, ``where`` bucket or connection id, ``path``."""

    scheme: str
    where: str
    path: str

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def register(flow: str, locator: Locator, roots: list[str] | Callable[[], list[str]]) -> None:
    """Let the queue link ``flow``'s files: ``locator`` names them, ``roots`` (or a function giving
    them, for roots read from a setting) bound what is served."""
    _LOCATORS[flow] = locator
    _ROOTS[flow] = roots if callable(roots) else list(roots)


def parse(location: str) -> FileRef | None:
    """The location's parts, or None when it is not a safe, relative, well-formed location."""
    if location.startswith("s3://"):
        bucket, _, key = location[5:].partition("/")
        ref = FileRef("s3", bucket, key)
    elif location.startswith("sftp:"):
        conn_id, _, path = location[5:].partition(":")
        ref = FileRef("sftp", conn_id, path)
    else:
        return None
    if not ref.where or not ref.path or _UNSAFE.search(location):
        return None
    if ref.scheme == "s3" and ref.path.startswith("/"):
        return None
    # an SFTP path may be absolute (Onetrail's home); the flow's roots bound it either way
    if any(part in ("", ".", "..") for part in ref.path.removeprefix("/").split("/")):
        return None
    return ref


def _under_roots(flow: str, location: str) -> bool:
    roots = _ROOTS.get(flow, [])
    if callable(roots):
        try:
            roots = roots()
        except Exception:  # noqa: BLE001 - a setting that cannot be read: nothing is served
            return False
    return any(root.endswith("/") and location.startswith(root) for root in roots)


def record_files(record: dict[str, Any]) -> list[dict[str, str]]:
    """``[{label, location, name}]`` of the record's files that may be served (safe, under a root)."""
    flow = str(record.get("flow") or "")
    found: list[tuple[str, str]] = []
    trace = str(record.get("trace_key") or "")
    waiting = record.get("status") == "pending"  # once read, the file is no longer there
    if waiting and trace.startswith(RETRY_PREFIX) and not trace.startswith(RETRY_PREFIX + "sha256:"):
        found.append(("inbound file (put back by a retry)", trace[len(RETRY_PREFIX) :].split("#")[0]))
    locator = _LOCATORS.get(flow)
    if locator is not None:
        try:
            found += locator(record)
        except Exception:  # noqa: BLE001 - a setting that cannot be read means no link, not no page
            pass
    out, seen = [], set()
    for label, location in found:
        ref = parse(location)
        if ref is None or location in seen or not _under_roots(flow, location):
            continue
        seen.add(location)
        out.append({"label": label, "location": location, "name": ref.name})
    return out


def allowed(record: dict[str, Any], location: str) -> FileRef | None:
    """The location parsed, if it is one of this record's files; None otherwise."""
    if location not in {f["location"] for f in record_files(record)}:
        return None
    return parse(location)


def stream(ref: FileRef, *, aws_conn_id: str = "aws_default") -> Iterator[bytes]:
    """The file's bytes in chunks, read with the flow's own connection (raises FileNotFoundError)."""
    if ref.scheme == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=aws_conn_id).get_conn()
        try:
            body = client.get_object(Bucket=ref.where, Key=ref.path)["Body"]
        except Exception as exc:  # noqa: BLE001 - boto's NoSuchKey
            raise FileNotFoundError(ref.path) from exc
        sent = 0
        while sent < MAX_BYTES and (chunk := body.read(65536)):
            sent += len(chunk)
            yield chunk
        return
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    with SFTPHook(ssh_conn_id=ref.where).get_managed_conn() as client:
        try:
            handle = client.open(ref.path, "rb")
        except OSError as exc:
            raise FileNotFoundError(ref.path) from exc
        with handle:
            sent = 0
            while sent < MAX_BYTES and (chunk := handle.read(65536)):
                sent += len(chunk)
                yield chunk
