"""The error queue's Retry for file-based inbound flows: the file goes back to be read again.

Retry in the queue (:mod:`po_sync.ledger.actions`) sets a record ``pending`` and writes a ``retry``
row to ``sync_action``; a triggered run also names the records in its conf (``po_sync_retry``). A
file-based inbound flow (HotWax receipts, vendor merge and import, Onetrail inbound) takes those
requests at the start of its next run, before it lists its inbound folder, whatever triggered the
run:

- it finds the file the record came from in its quarantine / ``error/`` folder (each flow knows
  its folders) and moves it back into the inbound folder, under its own name, or under
  ``<stem>.retry-<n><ext>`` (``n`` = the retry's action id) when a new file of that name is waiting
  there, so nothing is overwritten;
- our quarantine note beside it is kept, renamed ``<note stem>.retried-<n><ext>`` so that a later
  quarantine of the same name cannot overwrite it, and its text is copied into the record's history
  (a ``requeue`` action) with where the file went;
- the record stays ``pending`` with ``trace_key = retry:<where the file went>``; when the run
  archives that file (or the order of it the record is about), :func:`settle` marks the record
  ``synced`` (its errors auto-resolve); when the file is refused again, ``quarantined`` with the
  new reason.

A record whose file is no longer in quarantine is **not** retried: it goes back to ``quarantined``
with code ``RETRY_NOT_POSSIBLE`` and a message naming where the file is and what to do; the same
file delivered again is then read as a new delivery (:func:`gave_up`). An archived
file is never re-read from the archive: archiving means what it caused is committed in NetSuite,
so reading it again could only duplicate that or be refused as a duplicate; a person who needs it
again copies it (corrected) into the inbound folder, where it is a new file.

Exactly once: a file back in the inbound folder is keyed again by name and checksum, NetSuite
writes keep their deterministic ``externalId`` (looked up before writing on every attempt after
the first), and the parts of a file already committed are recognised and skipped, not written again.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from po_sync.ledger.schema import RecordStatus, sync_action, sync_record
from po_sync.ledger.store import Ledger, utcnow

if TYPE_CHECKING:
    from po_sync.ledger.store import RecordState
    from po_sync.sync import SyncRun

#: The trace_key prefix of a record whose file was put back for another read.
RETRY_PREFIX = "retry:"
#: Error code of a retry that cannot be done (the file is no longer in quarantine).
NOT_RETRIABLE = "RETRY_NOT_POSSIBLE"
#: The sync_action kinds this module writes.
REQUEUE_ACTION = "requeue"
REFUSED_ACTION = "retry_refused"
ACTOR = "po-sync"
#: The conf key a triggered retry run carries (see ``po_sync.ui.airflow_state.retry_conf``).
CONF_KEY = "po_sync_retry"


@dataclass(frozen=True)
class RetryRequest:
    """One record a person asked to retry, with what a flow needs to find its file."""

    record_id: int
    entity_type: str
    source_system: str
    source_id: str
    trace_key: str | None
    sync_run_id: int | None
    error_code: str | None
    error_message: str | None
    requested_by: str
    #: the ``sync_action`` id of the retry: names the file put back when its name is taken
    action_id: int

    @property
    def label(self) -> str:
        return f"{self.entity_type} {self.source_system}:{self.source_id}"


def trace_for(location: str) -> str:
    """The ``trace_key`` of a record whose file went back to ``location`` (fits the 200-char column)."""
    value = RETRY_PREFIX + location
    if len(value) <= 200:
        return value
    return RETRY_PREFIX + "sha256:" + hashlib.sha256(location.encode()).hexdigest()


def conf_record_ids(context: Any) -> set[int]:
    """The record ids a triggered retry run names in its conf (empty for any other run)."""
    dag_run = context.get("dag_run") if hasattr(context, "get") else None
    conf = getattr(dag_run, "conf", None) or {}
    wanted = conf.get(CONF_KEY) if isinstance(conf, dict) else None
    ids = wanted.get("record_ids") if isinstance(wanted, dict) else None
    out: set[int] = set()
    for value in ids if isinstance(ids, list) else []:
        try:
            out.add(int(value))
        except (TypeError, ValueError):
            continue
    return out


def conf_report(context: Any, requests: Collection[RetryRequest]) -> dict[str, list[int]]:
    """For a run the queue triggered: which records its conf names that it takes now, and which it
    does not (already taken by an earlier run, or acted on since). Every run takes every request of
    its flow, triggered or not, so a retry is never lost when the triggered run is not the next one."""
    asked = conf_record_ids(context)
    taken = {r.record_id for r in requests}
    return {"retry_taken": sorted(asked & taken), "retry_not_pending": sorted(asked - taken)}


def retry_requests(
    ledger: Ledger, flow: str, *, entity_types: Collection[str] | None = None
) -> list[RetryRequest]:
    """The flow's records a person marked for retry and no run took yet, oldest request first.

    That is: ``pending`` records whose newest ``sync_action`` is ``retry`` (a requeued record's
    newest is ``requeue``, so it is taken once).
    """
    newest = (
        sa.select(sync_action.c.record_id, sa.func.max(sync_action.c.id).label("action_id"))
        .join(sync_record, sync_record.c.id == sync_action.c.record_id)
        .where(sync_record.c.flow == flow, sync_record.c.status == RecordStatus.PENDING.value)
        .group_by(sync_action.c.record_id)
        .subquery()
    )
    query = (
        sa.select(sync_record, sync_action.c.actor, sync_action.c.id.label("action_id"))
        .join(newest, newest.c.record_id == sync_record.c.id)
        .join(sync_action, sync_action.c.id == newest.c.action_id)
        .where(sync_action.c.action == "retry")
        .order_by(sync_action.c.id)
    )
    if entity_types is not None:
        query = query.where(sync_record.c.entity_type.in_(sorted(entity_types)))
    with ledger.engine.connect() as conn:
        return [
            RetryRequest(
                record_id=int(r.id),
                entity_type=r.entity_type,
                source_system=r.source_system,
                source_id=r.source_id,
                trace_key=r.trace_key,
                sync_run_id=r.sync_run_id,
                error_code=r.last_error_code,
                error_message=r.last_error_message,
                requested_by=r.actor,
                action_id=int(r.action_id),
            )
            for r in conn.execute(query)
        ]


def retry_name(name: str, action_id: int, taken: Callable[[str], bool]) -> str:
    """``name`` if free in the inbound folder, else ``<stem>.retry-<action_id><ext>`` (deterministic,
    so a run that died after the move finds the file where it put it)."""
    if not taken(name):
        return name
    stem, ext = posixpath.splitext(name)
    return f"{stem}.retry-{action_id}{ext}"


def retried_note_name(note_name: str, action_id: int) -> str:
    """``x.json.errors.csv`` → ``x.json.retried-<n>.errors.csv``: kept, never overwritten."""
    for suffix in (".errors.csv", ".error.txt"):
        if note_name.endswith(suffix):
            return f"{note_name.removesuffix(suffix)}.retried-{action_id}{suffix}"
    return f"{note_name}.retried-{action_id}"


def retried_note(text: str, request: RetryRequest, location: str) -> str:
    """The quarantine note with a line saying who retried it and where the file went."""
    line = (
        f"retried at {utcnow():%Y-%m-%d %H:%M:%S} UTC by {request.requested_by} "
        f"(ledger record {request.record_id}): moved back to {location}\n"
    )
    return (text if text.endswith("\n") or not text else text + "\n") + line


def _action(conn: sa.Connection, record_id: int, kind: str, note: str, status: str) -> None:
    conn.execute(
        sync_action.insert().values(
            record_id=record_id,
            action=kind,
            actor=ACTOR,
            note=note[:2000],
            from_status=RecordStatus.PENDING.value,
            to_status=status,
            created_at=utcnow(),
        )
    )


def mark_requeued(ledger: Ledger, request: RetryRequest, *, location: str, note: str | None) -> None:
    """The record's file is back at ``location``: the record waits (``pending``) for that file's read."""
    with ledger.engine.begin() as conn:
        conn.execute(
            sync_record.update()
            .where(sync_record.c.id == request.record_id)
            .values(trace_key=trace_for(location), updated_at=utcnow())
        )
        text = f"file moved back to {location} to be read again"
        if note:
            text += f"; our quarantine note said: {note.strip()}"
        _action(conn, request.record_id, REQUEUE_ACTION, text, RecordStatus.PENDING.value)


def kept_path(trace_key: str | None, error_dir: str) -> str | None:
    """The path a refused file was kept under in ``error_dir`` (its record's ``trace_key``), if any."""
    if trace_key and trace_key.startswith(error_dir.rstrip("/") + "/"):
        return trace_key
    return None


def gave_up(state: RecordState) -> bool:
    """Whether a person's Retry found this record's kept file gone (``RETRY_NOT_POSSIBLE``: removed by
    hand). Its record still names the kept path, but no run is about to move a file there: the same
    file delivered again is a new delivery to read, not a stopped run's move to finish."""
    return state.last_error_code == NOT_RETRIABLE


def refuse(ledger: Ledger, request: RetryRequest, *, message: str, sync_run_id: int | None) -> None:
    """The retry cannot be done: back to ``quarantined`` with ``RETRY_NOT_POSSIBLE`` and why."""
    ledger.mark_quarantined(request.record_id, sync_run_id=sync_run_id, code=NOT_RETRIABLE, message=message)
    with ledger.engine.begin() as conn:
        _action(conn, request.record_id, REFUSED_ACTION, message, RecordStatus.QUARANTINED.value)


def requeued(ledger: Ledger, flow: str, locations: Iterable[str]) -> set[str]:
    """Which of ``locations`` hold a file a retry put back (a record still waits for its read, for
    the whole file or for one part of it, ``<location>#<part>``)."""
    wanted = {trace_for(loc): loc for loc in locations}
    if not wanted:
        return set()
    with ledger.engine.connect() as conn:
        traces = conn.execute(
            sa.select(sync_record.c.trace_key).where(
                sync_record.c.flow == flow,
                sync_record.c.status == RecordStatus.PENDING.value,
                sync_record.c.trace_key.like(RETRY_PREFIX + "%"),
            )
        )
        return {wanted[t.split("#", 1)[0]] for (t,) in traces if t.split("#", 1)[0] in wanted}


def settle(
    run: SyncRun,
    location: str,
    *,
    target_id: str | None = None,
    target_system: str = "netsuite",
    error: tuple[str, str] | None = None,
) -> int:
    """The file (or part) a retry put back at ``location`` was read: close the records waiting for it.

    :param target_id: where it ended (the archive path, NetSuite ids): the records become ``synced``.
    :param error: ``(code, message)`` when it was refused again: the records become ``quarantined``.
    :returns: how many records were waiting.
    """
    ledger = run.ledger
    ids = ledger.ids_where(
        sync_record.c.flow == run.flow,
        sync_record.c.status == RecordStatus.PENDING.value,
        sync_record.c.trace_key == trace_for(location),
    )
    for record_id in ids:
        if error is not None:
            code, message = error
            ledger.mark_quarantined(record_id, sync_run_id=run.id, code=code, message=message)
        else:
            ledger.mark_synced(
                record_id, sync_run_id=run.id, target_system=target_system, target_id=target_id
            )
    return len(ids)
