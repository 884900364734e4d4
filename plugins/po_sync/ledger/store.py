"""The ledger's operations: open and close runs, claim records, record outcomes, move cursors.

Every flow follows the same steps for each record (DESIGN.md, "The ledger", rule 1)::

    decision = ledger.begin(key, payload_hash=..., sync_run_id=...)   # in_progress, before any side effect
    if decision.action is Action.SKIP:      ledger.mark_ignored(...)   # same payload already synced
    elif decision.action is Action.BUSY:    ...                         # another live run holds it
    else:                                                               # SEND, or RESUME after a crash
        <write to the target with decision.idempotency_key>
        ledger.mark_synced(decision.record_id, target_id=...)

The idempotency key is derived from the record's key and payload hash, so the rerun after a crash
sends the same key again and the target (NetSuite's ``X-NetSuite-Idempotency-Key``, an S3 object
name, an SFTP file name) recognises the repeat. ``RESUME`` tells the caller that a previous attempt
may already have reached the target, so it must look there (or rely on that key) before resending.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from po_sync.exceptions import LedgerError
from po_sync.ledger.schema import (
    RecordStatus,
    RunStatus,
    ensure_schema,
    sync_action,
    sync_cursor,
    sync_error,
    sync_record,
    sync_run,
)

#: Namespace for deterministic idempotency keys (uuid5), so every process derives the same key.
IDEMPOTENCY_NAMESPACE = uuid.UUID("8a0d7c52-6a52-4d1e-9f0b-5b8f2f1f6c11")

#: A record held ``in_progress`` by a run that is still ``processing`` is left alone for this long;
#: after it the holder is presumed dead (killed worker) and another run may take the record over.
DEFAULT_LEASE = timedelta(hours=1)

#: The longest error message kept per record; the rest is cut, with a note saying so.
MAX_ERROR_MESSAGE = 4000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecordKey:
    """The identity of one record in one flow: (flow, entity type, source system, source id)."""

    flow: str
    entity_type: str
    source_system: str
    source_id: str

    def __str__(self) -> str:
        return f"{self.flow}/{self.entity_type}/{self.source_system}:{self.source_id}"


@dataclass(frozen=True)
class RecordState:
    """A ``sync_record`` row as the ledger last saw it."""

    id: int
    key: RecordKey
    status: RecordStatus
    payload_hash: str | None
    target_system: str | None
    target_id: str | None
    attempts: int
    idempotency_key: str | None
    last_error_code: str | None
    last_error_message: str | None
    trace_key: str | None
    claimed_by: str | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RecordState:
        m = row._mapping
        return cls(
            id=m["id"],
            key=RecordKey(m["flow"], m["entity_type"], m["source_system"], m["source_id"]),
            status=RecordStatus(m["status"]),
            payload_hash=m["payload_hash"],
            target_system=m["target_system"],
            target_id=m["target_id"],
            attempts=m["attempts"],
            idempotency_key=m["idempotency_key"],
            last_error_code=m["last_error_code"],
            last_error_message=m["last_error_message"],
            trace_key=m["trace_key"],
            claimed_by=m["claimed_by"],
            updated_at=m["updated_at"],
        )


class Action(StrEnum):
    """What :meth:`Ledger.begin` tells the caller to do with a record."""

    SEND = "send"  # new, changed or failed: do the side effect
    RESUME = "resume"  # an earlier attempt was interrupted: check the target, then send if missing
    SKIP = "skip"  # synced before with the same payload: nothing to do (record it as ignored)
    BUSY = "busy"  # another live run holds the record: leave it to that run


@dataclass(frozen=True)
class Decision:
    """The answer of :meth:`Ledger.begin`."""

    action: Action
    record_id: int
    idempotency_key: str
    previous: RecordState | None


@dataclass(frozen=True)
class RunContext:
    """Which Airflow task run touches the ledger (stored on every row it writes)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int = -1
    try_number: int | None = None


def idempotency_key_for(key: RecordKey, payload_hash: str | None) -> str:
    """A UUID derived from the record and its payload: the same change always gets the same key."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{key}|{payload_hash or ''}"))


def _clip(message: str | None) -> str | None:
    if message is None or len(message) <= MAX_ERROR_MESSAGE:
        return message
    return message[: MAX_ERROR_MESSAGE - 40] + f"... [{len(message) - MAX_ERROR_MESSAGE + 40} chars cut]"


class Ledger:
    """Operations on the ledger tables of one database.

    :param engine: a SQLAlchemy engine from :func:`po_sync.ledger.engine.get_engine`.
    :param lease: how long a live run's claim on a record is honoured.
    :param migrate: create or upgrade the schema first (safe under concurrency).
    """

    def __init__(self, engine: sa.Engine, *, lease: timedelta = DEFAULT_LEASE, migrate: bool = True) -> None:
        self.engine = engine
        self.lease = lease
        #: this thread's open :meth:`batch` connection, if any
        self._batch = threading.local()
        if migrate:
            ensure_schema(engine)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make this thread's :meth:`begin`, :meth:`get` and ``mark_*`` calls one transaction: one commit.

        A commit is what a ledger write costs most (an fsync on SQLite), so a flow that begins or
        closes many records in a row (a file's documents) does it inside one batch. Nothing the
        records stand for may happen inside the block: a record begun here is ``in_progress`` for
        the world only once the block has committed, so its side effect comes after. On an exception
        nothing of the block is kept. Other ledger methods must not be called inside (on SQLite the
        writer lock is held by the batch). Nested batches join the outer one.
        """
        if getattr(self._batch, "conn", None) is not None:
            yield
            return
        with self.engine.begin() as conn:
            self._batch.conn = conn
            try:
                yield
            finally:
                self._batch.conn = None

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """This thread's batch connection, or a transaction of its own."""
        conn = getattr(self._batch, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as own:
            yield own

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """This thread's batch connection (it sees the batch's writes), or a connection of its own."""
        conn = getattr(self._batch, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own:
            yield own

    def ids_where(self, *conditions: Any) -> list[int]:
        """Ids of the records matching ``conditions`` (SQLAlchemy clauses on ``sync_record``), read on
        this thread's batch connection when there is one (a second connection would wait for the
        batch's writer lock on SQLite for ever)."""
        with self._read() as conn:
            return [int(i) for (i,) in conn.execute(sa.select(sync_record.c.id).where(*conditions))]

    # ------------------------------------------------------------------ runs

    def open_run(
        self,
        *,
        flow: str,
        context: RunContext,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> int:
        """Open a ``sync_run`` in ``processing``; return its id.

        An earlier ``processing`` run of the very same task instance (a retry after a crash or a
        killed worker) is marked ``incomplete`` first, which frees the records it had claimed.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            if context.dag_id and context.run_id and context.task_id:
                conn.execute(
                    sync_run.update()
                    .where(
                        sync_run.c.flow == flow,
                        sync_run.c.dag_id == context.dag_id,
                        sync_run.c.run_id == context.run_id,
                        sync_run.c.task_id == context.task_id,
                        sync_run.c.map_index == context.map_index,
                        sync_run.c.status == RunStatus.PROCESSING.value,
                    )
                    .values(
                        status=RunStatus.INCOMPLETE.value,
                        finished_at=now,
                        message="superseded by a later try of the same task",
                    )
                )
            result = conn.execute(
                sync_run.insert().values(
                    flow=flow,
                    dag_id=context.dag_id,
                    run_id=context.run_id,
                    task_id=context.task_id,
                    map_index=context.map_index,
                    try_number=context.try_number,
                    status=RunStatus.PROCESSING.value,
                    window_start=window_start,
                    window_end=window_end,
                    started_at=now,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover - both databases return the new id
                raise LedgerError("the database did not return the new sync_run id")
            return int(key[0])

    def finish_run(
        self, sync_run_id: int, *, status: RunStatus, counts: dict[str, int], message: str | None = None
    ) -> None:
        """Close a run with its final status and per-outcome counts."""
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow(), "message": _clip(message)}
        for name in ("read", "synced", "ignored", "failed", "quarantined"):
            values[f"count_{name}"] = int(counts.get(name, 0))
        with self.engine.begin() as conn:
            conn.execute(sync_run.update().where(sync_run.c.id == sync_run_id).values(**values))

    def set_run_window(
        self, sync_run_id: int, *, window_start: datetime | None, window_end: datetime | None
    ) -> None:
        """Keep the window a run really covers (widened after it opened, e.g. a catch-up from the cursor)."""
        with self.engine.begin() as conn:
            conn.execute(
                sync_run.update()
                .where(sync_run.c.id == sync_run_id)
                .values(window_start=window_start, window_end=window_end)
            )

    def processing_runs(self, flow: str) -> list[dict[str, Any]]:
        """The flow's runs still ``processing`` (alive, or killed without closing), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sync_run)
                .where(sync_run.c.flow == flow, sync_run.c.status == RunStatus.PROCESSING.value)
                .order_by(sync_run.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def abandon_run(self, sync_run_id: int, *, message: str) -> bool:
        """Close a ``processing`` run whose worker is known dead as ``incomplete``; its claims lapse at once.

        Returns whether the run was still ``processing`` (False: it closed itself meanwhile).
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                sync_run.update()
                .where(sync_run.c.id == sync_run_id, sync_run.c.status == RunStatus.PROCESSING.value)
                .values(status=RunStatus.INCOMPLETE.value, finished_at=utcnow(), message=_clip(message))
            )
            return bool(result.rowcount)

    def get_run(self, sync_run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sync_run).where(sync_run.c.id == sync_run_id)).one_or_none()
        if row is None:
            raise LedgerError(f"sync_run {sync_run_id} does not exist")
        return dict(row._mapping)

    # ------------------------------------------------------------------ records

    def _insert_ignore(self, conn: sa.Connection, values: dict[str, Any]) -> None:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            stmt: Any = postgresql.insert(sync_record).values(**values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite.insert(sync_record).values(**values).on_conflict_do_nothing()
        else:  # pragma: no cover - only the two databases above are supported
            raise LedgerError(f"unsupported ledger database {dialect!r}")
        conn.execute(stmt)

    @staticmethod
    def _key_filter(key: RecordKey) -> sa.ColumnElement[bool]:
        return sa.and_(
            sync_record.c.flow == key.flow,
            sync_record.c.entity_type == key.entity_type,
            sync_record.c.source_system == key.source_system,
            sync_record.c.source_id == key.source_id,
        )

    def get(self, key: RecordKey) -> RecordState | None:
        with self._read() as conn:
            row = conn.execute(sa.select(sync_record).where(self._key_filter(key))).one_or_none()
        return RecordState.from_row(row) if row is not None else None

    def get_by_id(self, record_id: int) -> RecordState:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sync_record).where(sync_record.c.id == record_id)).one_or_none()
        if row is None:
            raise LedgerError(f"sync_record {record_id} does not exist")
        return RecordState.from_row(row)

    def _holder_alive(self, conn: sa.Connection, state: RecordState, now: datetime) -> bool:
        """Whether the run that holds ``state`` in progress may still be working on it."""
        if not state.claimed_by or now - state.updated_at > self.lease:
            return False
        holder = conn.execute(
            sa.select(sync_run.c.status).where(sync_run.c.id == int(state.claimed_by))
        ).scalar_one_or_none()
        return holder == RunStatus.PROCESSING.value

    def begin(
        self,
        key: RecordKey,
        *,
        payload_hash: str | None,
        sync_run_id: int,
        context: RunContext = RunContext(),
        trace_key: str | None = None,
        force: bool = False,
    ) -> Decision:
        """Mark ``key`` ``in_progress`` for this run before its side effect, and say what to do.

        :param payload_hash: hash of the payload about to be sent; equal to the last synced hash
            means there is nothing to send (``SKIP``), unless ``force``.
        :param force: send even when unchanged (a person asked to resync this record).
        """
        now = utcnow()
        with self._write() as conn:
            self._insert_ignore(
                conn,
                {
                    "flow": key.flow,
                    "entity_type": key.entity_type,
                    "source_system": key.source_system,
                    "source_id": key.source_id,
                    "status": RecordStatus.PENDING.value,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            query = sa.select(sync_record).where(self._key_filter(key))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            state = RecordState.from_row(conn.execute(query).one())
            decision, values = self._decide(conn, state, payload_hash, sync_run_id, now, force=force)
            if values is not None:
                values.update(
                    trace_key=trace_key or state.trace_key,
                    dag_id=context.dag_id,
                    run_id=context.run_id,
                    task_id=context.task_id,
                )
                conn.execute(sync_record.update().where(sync_record.c.id == state.id).values(**values))
            return decision

    def _decide(
        self,
        conn: sa.Connection,
        state: RecordState,
        payload_hash: str | None,
        sync_run_id: int,
        now: datetime,
        *,
        force: bool,
    ) -> tuple[Decision, dict[str, Any] | None]:
        """:meth:`begin`'s answer for a row read under the write lock, and the row's new values
        (None: the row stays as it is)."""
        # claimed by this very run (``claim`` of failed records): already counted as an attempt
        own_claim = state.status is RecordStatus.IN_PROGRESS and state.claimed_by == str(sync_run_id)
        if state.status is RecordStatus.IN_PROGRESS and not own_claim:
            if self._holder_alive(conn, state, now):
                return Decision(Action.BUSY, state.id, state.idempotency_key or "", state), None
        unchanged = payload_hash is not None and payload_hash == state.payload_hash
        if (
            not force
            and unchanged
            and state.status in (RecordStatus.SYNCED, RecordStatus.IGNORED, RecordStatus.RESOLVED)
        ):
            return Decision(Action.SKIP, state.id, state.idempotency_key or "", state), None

        interrupted = state.status is RecordStatus.IN_PROGRESS and unchanged and not own_claim
        action = Action.RESUME if interrupted else Action.SEND
        idem = (state.idempotency_key if interrupted else None) or idempotency_key_for(
            state.key, payload_hash
        )
        values = {
            "status": RecordStatus.IN_PROGRESS.value,
            "payload_hash": payload_hash,
            "idempotency_key": idem,
            "attempts": state.attempts + (0 if own_claim else 1),
            "claimed_by": str(sync_run_id),
            "claimed_at": now,
            "sync_run_id": sync_run_id,
            "updated_at": now,
        }
        return Decision(action, state.id, idem, state), values

    def begin_many(
        self,
        items: Sequence[tuple[RecordKey, str | None, str | None]],
        *,
        sync_run_id: int,
        context: RunContext = RunContext(),
    ) -> list[Decision]:
        """:meth:`begin` for many records (``(key, payload_hash, trace_key)``), in one transaction
        and a handful of statements whatever their number: one insert of the rows missing, one read
        of them all, one batched update. The answers are those of as many :meth:`begin` calls in
        that order (a key given twice sees its first claim, as it would).
        """
        if not items:
            return []
        now = utcnow()
        keys = list(dict.fromkeys(key for key, _, _ in items))
        with self._write() as conn:
            rows = [
                {
                    "flow": k.flow,
                    "entity_type": k.entity_type,
                    "source_system": k.source_system,
                    "source_id": k.source_id,
                    "status": RecordStatus.PENDING.value,
                    "created_at": now,
                    "updated_at": now,
                }
                for k in keys
            ]
            if conn.dialect.name == "postgresql":
                conn.execute(postgresql.insert(sync_record).values(rows).on_conflict_do_nothing())
            else:
                conn.execute(sqlite.insert(sync_record).values(rows).on_conflict_do_nothing())
            columns = (
                sync_record.c.flow,
                sync_record.c.entity_type,
                sync_record.c.source_system,
                sync_record.c.source_id,
            )
            query = sa.select(sync_record).where(
                sa.tuple_(*columns).in_([(k.flow, k.entity_type, k.source_system, k.source_id) for k in keys])
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            states = {state.key: state for state in map(RecordState.from_row, conn.execute(query))}
            decisions: list[Decision] = []
            updates: dict[int, dict[str, Any]] = {}
            for key, payload_hash, trace_key in items:
                state = states[key]
                decision, values = self._decide(conn, state, payload_hash, sync_run_id, now, force=False)
                decisions.append(decision)
                if values is None:
                    continue
                values.update(
                    trace_key=trace_key or state.trace_key,
                    dag_id=context.dag_id,
                    run_id=context.run_id,
                    task_id=context.task_id,
                )
                updates[state.id] = values
                states[key] = replace(
                    state,
                    status=RecordStatus.IN_PROGRESS,
                    payload_hash=payload_hash,
                    idempotency_key=values["idempotency_key"],
                    attempts=values["attempts"],
                    trace_key=values["trace_key"],
                    claimed_by=values["claimed_by"],
                    updated_at=now,
                )
            if updates:
                names = next(iter(updates.values())).keys()
                conn.execute(
                    sync_record.update()
                    .where(sync_record.c.id == sa.bindparam("b_id"))
                    .values({name: sa.bindparam(f"b_{name}") for name in names}),
                    [
                        {"b_id": rid, **{f"b_{n}": v for n, v in values.items()}}
                        for rid, values in updates.items()
                    ],
                )
            return decisions

    @staticmethod
    def _select_records(
        flow: str,
        *,
        statuses: Sequence[RecordStatus],
        entity_type: str | None,
        limit: int,
        source_ids: Sequence[str] | None = None,
        oldest_first: bool = False,
    ) -> sa.Select[Any]:
        query = sa.select(sync_record).where(
            sync_record.c.flow == flow, sync_record.c.status.in_([s.value for s in statuses])
        )
        if entity_type is not None:
            query = query.where(sync_record.c.entity_type == entity_type)
        if source_ids is not None:
            query = query.where(sync_record.c.source_id.in_([str(i) for i in source_ids]))
        order = (sync_record.c.updated_at, sync_record.c.id) if oldest_first else (sync_record.c.id,)
        return query.order_by(*order).limit(limit)

    def find(
        self,
        flow: str,
        *,
        statuses: Sequence[RecordStatus],
        entity_type: str | None = None,
        limit: int = 100,
    ) -> list[RecordState]:
        """Up to ``limit`` of the flow's records in ``statuses``, untouched longest first (no claim)."""
        query = self._select_records(
            flow, statuses=statuses, entity_type=entity_type, limit=limit, oldest_first=True
        )
        with self.engine.connect() as conn:
            return [RecordState.from_row(r) for r in conn.execute(query)]

    def claim(
        self,
        flow: str,
        *,
        sync_run_id: int,
        statuses: Sequence[RecordStatus] = (RecordStatus.FAILED, RecordStatus.PENDING),
        entity_type: str | None = None,
        limit: int = 100,
        source_ids: Sequence[str] | None = None,
        oldest_first: bool = False,
    ) -> list[RecordState]:
        """Take up to ``limit`` records in ``statuses`` for this run, marking them ``in_progress``.

        Two runs claiming at once never get the same record: PostgreSQL skips rows another
        transaction has locked (``FOR UPDATE SKIP LOCKED``); SQLite runs the select-and-update
        under its single write lock (``BEGIN IMMEDIATE``, see ``ledger.engine``).

        :param source_ids: only these records (e.g. the failed POs that belong to one vendor).
        :param oldest_first: the records untouched longest first (``updated_at``), so a record that
            keeps failing goes to the back and cannot starve the others; else in creation order.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            query = self._select_records(
                flow,
                statuses=statuses,
                entity_type=entity_type,
                limit=limit,
                source_ids=source_ids,
                oldest_first=oldest_first,
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [RecordState.from_row(r) for r in conn.execute(query)]
            if rows:
                conn.execute(
                    sync_record.update()
                    .where(sync_record.c.id.in_([r.id for r in rows]))
                    .values(
                        status=RecordStatus.IN_PROGRESS.value,
                        claimed_by=str(sync_run_id),
                        claimed_at=now,
                        sync_run_id=sync_run_id,
                        attempts=sync_record.c.attempts + 1,
                        updated_at=now,
                    )
                )
            return rows

    def _finish_record(
        self,
        record_id: int,
        status: RecordStatus,
        *,
        sync_run_id: int | None,
        error_code: str | None = None,
        error_message: str | None = None,
        **values: Any,
    ) -> None:
        now = utcnow()
        message = _clip(error_message)
        with self._write() as conn:
            updated = conn.execute(
                sync_record.update()
                .where(sync_record.c.id == record_id)
                .values(
                    status=status.value,
                    last_error_code=error_code,
                    last_error_message=message,
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                    **({"sync_run_id": sync_run_id} if sync_run_id is not None else {}),
                    **values,
                )
            )
            if updated.rowcount != 1:
                raise LedgerError(f"sync_record {record_id} does not exist")
            if status in (RecordStatus.FAILED, RecordStatus.QUARANTINED):
                conn.execute(
                    sync_error.insert().values(
                        record_id=record_id,
                        sync_run_id=sync_run_id,
                        status=status.value,
                        error_code=error_code,
                        error_message=message,
                        created_at=now,
                    )
                )
            elif status in (RecordStatus.SYNCED, RecordStatus.RESOLVED):
                closed = conn.execute(
                    sync_error.update()
                    .where(sync_error.c.record_id == record_id, sync_error.c.resolved_at.is_(None))
                    .values(resolved_at=now)
                ).rowcount
                if closed and status is RecordStatus.SYNCED:
                    # DESIGN rule 3: a later success resolves the record's earlier errors, and says so.
                    conn.execute(
                        sync_action.insert().values(
                            record_id=record_id,
                            action="auto_resolve",
                            actor="po-sync",
                            note=f"synced by sync_run {sync_run_id}; {closed} earlier error(s) resolved",
                            to_status=status.value,
                            created_at=now,
                        )
                    )

    def mark_synced(
        self, record_id: int, *, sync_run_id: int | None, target_system: str, target_id: str | None
    ) -> None:
        """The side effect is committed in the target: keep its id and resolve earlier errors."""
        self._finish_record(
            record_id,
            RecordStatus.SYNCED,
            sync_run_id=sync_run_id,
            target_system=target_system,
            target_id=target_id,
            synced_at=utcnow(),
        )

    def mark_ignored(
        self, record_id: int, *, sync_run_id: int | None, code: str | None = None, reason: str | None = None
    ) -> None:
        """Nothing was sent: nothing changed since the last successful sync, or (with ``reason``) the
        record is not this flow's to write; the reason shows on the ledger page."""
        self._finish_record(
            record_id, RecordStatus.IGNORED, sync_run_id=sync_run_id, error_code=code, error_message=reason
        )

    def mark_failed(self, record_id: int, *, sync_run_id: int | None, code: str, message: str) -> None:
        """The record could not be synced this time; a later run retries it."""
        self._finish_record(
            record_id, RecordStatus.FAILED, sync_run_id=sync_run_id, error_code=code, error_message=message
        )

    def mark_quarantined(self, record_id: int, *, sync_run_id: int | None, code: str, message: str) -> None:
        """The input is bad; it waits for a person to correct it (it is not retried as is)."""
        self._finish_record(
            record_id,
            RecordStatus.QUARANTINED,
            sync_run_id=sync_run_id,
            error_code=code,
            error_message=message,
        )

    def resolve(self, key: RecordKey, *, note: str) -> None:
        """A person closed the record's errors without a new sync (e.g. fixed it by hand)."""
        state = self.get(key)
        if state is None:
            raise LedgerError(f"no ledger record for {key}")
        self._finish_record(state.id, RecordStatus.RESOLVED, sync_run_id=None, error_message=note)

    def release(self, record_ids: Iterable[int], *, status: RecordStatus = RecordStatus.PENDING) -> None:
        """Hand claimed records back untouched (e.g. a dry run, or a run stopping early)."""
        ids = list(record_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                sync_record.update()
                .where(sync_record.c.id.in_(ids), sync_record.c.status == RecordStatus.IN_PROGRESS.value)
                .values(status=status.value, claimed_by=None, claimed_at=None, updated_at=utcnow())
            )

    def set_trace_key(self, record_ids: Iterable[int], trace_key: str, *, sync_run_id: int) -> None:
        """Name where the records this run holds are going (a file named after its content, known only
        once the claims are made), so a rerun after a crash finds it; records not held by the run
        are left alone. Inside a :meth:`batch` it is part of the batch (a file's kept path named in
        the same commit as its outcome; a transaction of its own would wait for the batch's writer
        lock on SQLite for ever)."""
        ids = list(record_ids)
        if not ids:
            return
        with self._write() as conn:
            conn.execute(
                sync_record.update()
                .where(
                    sync_record.c.id.in_(ids),
                    sync_record.c.status == RecordStatus.IN_PROGRESS.value,
                    sync_record.c.claimed_by == str(sync_run_id),
                )
                .values(trace_key=trace_key, updated_at=utcnow())
            )

    def errors(self, record_id: int) -> list[dict[str, Any]]:
        """The error history of one record, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sync_error).where(sync_error.c.record_id == record_id).order_by(sync_error.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def status_counts(self, flow: str | None = None) -> dict[str, int]:
        """Records per status, for one flow or all (the demo report and the UI use this)."""
        query = sa.select(sync_record.c.status, sa.func.count()).group_by(sync_record.c.status)
        if flow is not None:
            query = query.where(sync_record.c.flow == flow)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    # ------------------------------------------------------------------ cursors

    def get_cursor(self, flow: str, cursor_key: str = "default") -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sync_cursor.c.value).where(
                    sync_cursor.c.flow == flow, sync_cursor.c.cursor_key == cursor_key
                )
            ).scalar_one_or_none()

    def advance_cursor(
        self, flow: str, value: datetime, *, sync_run_id: int, cursor_key: str = "default"
    ) -> datetime:
        """Move the flow's watermark to ``value`` if that is later; return the watermark now kept.

        Only a ``completed`` run may move it (rule 2): a failed or interrupted run must leave the
        window to be read again.
        """
        with self.engine.begin() as conn:
            status = conn.execute(
                sa.select(sync_run.c.status).where(sync_run.c.id == sync_run_id)
            ).scalar_one_or_none()
            if status != RunStatus.COMPLETED.value:
                raise LedgerError(
                    f"sync_run {sync_run_id} is {status!r}; only a completed run may move the {flow!r} cursor"
                )
            current = conn.execute(
                sa.select(sync_cursor.c.value).where(
                    sync_cursor.c.flow == flow, sync_cursor.c.cursor_key == cursor_key
                )
            ).scalar_one_or_none()
            if current is None:
                conn.execute(
                    sync_cursor.insert().values(
                        flow=flow,
                        cursor_key=cursor_key,
                        value=value,
                        sync_run_id=sync_run_id,
                        updated_at=utcnow(),
                    )
                )
                return value
            if value <= current:
                return current
            conn.execute(
                sync_cursor.update()
                .where(sync_cursor.c.flow == flow, sync_cursor.c.cursor_key == cursor_key)
                .values(value=value, sync_run_id=sync_run_id, updated_at=utcnow())
            )
            return value
