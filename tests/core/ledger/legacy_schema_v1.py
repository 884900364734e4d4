"""Frozen copy of ``po_sync/ledger/schema.py`` as released before Alembic (commit b07c2ac).

It makes a ledger database exactly as the hand-rolled migrations did, so the Alembic upgrade can be
tested against the real thing. Never edit it: it is history.

Its own docstring said:

The schema carries its own version in ``po_sync_schema_version``. :func:`ensure_schema` brings any
database up to :data:`SCHEMA_VERSION` under a lock, so two processes that start at once (a scheduler
parsing and a worker running, two mapped tasks) never race each other into a half-made schema:
PostgreSQL takes a transaction-level advisory lock, SQLite a ``BEGIN IMMEDIATE`` write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

SCHEMA_VERSION = 1

#: PostgreSQL advisory-lock key that serialises schema changes (any constant bigint works).
SCHEMA_LOCK_KEY = 0x706F5F73796E63  # "po_sync"


class RecordStatus(StrEnum):
    """Where one record stands. See DESIGN.md, "The ledger"."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SYNCED = "synced"
    IGNORED = "ignored"  # unchanged since the last sync: payload hash matched
    FAILED = "failed"  # retried by a later run
    QUARANTINED = "quarantined"  # bad input: waits for a person to correct it
    RESOLVED = "resolved"  # a person (or a later success) closed it without a new sync


class RunStatus(StrEnum):
    """Where one task run of a flow stands."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite keeps no zone, so values are normalised to UTC on the way in and marked UTC on the way
    out; comparisons in Python then never mix naive and aware datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the ledger; pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> sa.ColumnElement[Any]:
    return sa.func.current_timestamp()


sync_record = sa.Table(
    "sync_record",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("flow", sa.String(100), nullable=False),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("source_system", sa.String(40), nullable=False),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("target_system", sa.String(40)),
    sa.Column("target_id", sa.String(200)),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("idempotency_key", sa.String(120)),
    sa.Column("last_error_code", sa.String(80)),
    sa.Column("last_error_message", sa.Text),
    sa.Column("trace_key", sa.String(200)),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("run_id", sa.String(250)),
    sa.Column("task_id", sa.String(250)),
    sa.Column("sync_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    sa.Column("claimed_by", sa.String(120)),
    sa.Column("claimed_at", UtcDateTime()),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Column("synced_at", UtcDateTime()),
    sa.UniqueConstraint("flow", "entity_type", "source_system", "source_id", name="uq_sync_record_key"),
    sa.Index("ix_sync_record_flow_status", "flow", "status"),
    sa.Index("ix_sync_record_trace_key", "trace_key"),
)

sync_error = sa.Table(
    "sync_error",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("sync_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(80)),
    sa.Column("error_message", sa.Text),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Column("resolved_at", UtcDateTime()),
    sa.Index("ix_sync_error_record", "record_id"),
)

sync_run = sa.Table(
    "sync_run",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("flow", sa.String(100), nullable=False),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("run_id", sa.String(250)),
    sa.Column("task_id", sa.String(250)),
    sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
    sa.Column("try_number", sa.Integer),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("window_start", UtcDateTime()),
    sa.Column("window_end", UtcDateTime()),
    sa.Column("count_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("count_synced", sa.Integer, nullable=False, server_default="0"),
    sa.Column("count_ignored", sa.Integer, nullable=False, server_default="0"),
    sa.Column("count_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("count_quarantined", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Column("started_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Column("finished_at", UtcDateTime()),
    sa.Index("ix_sync_run_flow", "flow", "started_at"),
)

sync_cursor = sa.Table(
    "sync_cursor",
    metadata,
    sa.Column("flow", sa.String(100), primary_key=True),
    sa.Column("cursor_key", sa.String(100), primary_key=True),
    sa.Column("value", UtcDateTime(), nullable=False),
    sa.Column("sync_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=_now()),
)

schema_version = sa.Table(
    "po_sync_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[sync_record, sync_error, sync_run, sync_cursor], checkfirst=True)


#: version -> the step that brings version-1 to version. Append new steps; never edit old ones.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _create_v1}


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    # SQLite: the engine opens every transaction with BEGIN IMMEDIATE (see ledger.engine), which
    # already holds the database's single write lock until commit.


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(sa.select(schema_version.c.version)).scalar() or 0)


def ensure_schema(engine: sa.Engine) -> int:
    """Create or upgrade the ledger's tables to :data:`SCHEMA_VERSION`; return the version found before.

    Safe to call from any number of processes at once: the first one to take the lock migrates,
    the others find the schema current once they get the lock and do nothing.
    """
    with engine.begin() as conn:
        _lock(conn)
        metadata.create_all(conn, tables=[schema_version], checkfirst=True)
        found = current_version(conn)
        if found > SCHEMA_VERSION:
            from po_sync.exceptions import LedgerError

            raise LedgerError(
                f"The ledger schema is version {found}, newer than this po_sync ({SCHEMA_VERSION}); "
                "upgrade po_sync on every Airflow component."
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
        if found == 0:
            conn.execute(schema_version.insert().values(id=1, version=SCHEMA_VERSION))
        elif found < SCHEMA_VERSION:
            conn.execute(
                schema_version.update().where(schema_version.c.id == 1).values(version=SCHEMA_VERSION)
            )
        return found
