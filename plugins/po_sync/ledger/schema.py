"""The ledger's tables (SQLAlchemy Core) and :func:`ensure_schema`, which creates and upgrades them.

The migrations are Alembic revisions in ``po_sync/ledger/migrations/versions`` (how to add one:
``po_sync/ledger/migrations/__init__.py``). Alembic keeps its version in ``po_sync_alembic_version``,
never Airflow's ``alembic_version``, so the ledger may share Airflow's metadata database.
:func:`ensure_schema` upgrades under a lock, so two processes that start at once (a scheduler
parsing and a worker running, two mapped tasks) never race each other into a half-made schema:
PostgreSQL takes a transaction-level advisory lock, SQLite a ``BEGIN IMMEDIATE`` write lock.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:  # Alembic is imported when a schema is checked, not when a DAG file is parsed
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

metadata = sa.MetaData()

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

# ---- the error queue (issue 11): what people did to records, which notices went out ----
# Created by revision 0003.

sync_action = sa.Table(
    "sync_action",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # retry, resolve, ignore, auto_resolve
    sa.Column("actor", sa.String(250), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20)),
    sa.Column("dag_run_id", sa.String(250)),  # the run a retry triggered, if any
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.Index("ix_sync_action_record", "record_id"),
)

sync_notice = sa.Table(
    "sync_notice",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("kind", sa.String(20), nullable=False),  # task_failure, digest
    sa.Column("flow", sa.String(100), nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False, server_default=""),
    sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
    sa.Column("try_number", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Column("recipients", sa.Text),
    sa.Column("record_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=_now()),
    sa.UniqueConstraint(
        "kind", "dag_id", "run_id", "task_id", "map_index", "try_number", name="uq_sync_notice_once"
    ),
    sa.Index("ix_sync_notice_flow", "flow", "kind", "created_at"),
)

#: the queue's default sort (newest first) and its date-range filter; the digest's per-run lookup
sa.Index("ix_sync_record_updated", sync_record.c.updated_at, sync_record.c.id)
sa.Index("ix_sync_error_run", sync_error.c.sync_run_id)

#: The hand-rolled migrations' version table, kept as a tombstone at version 2 by revision 0002 so
#: that a pre-Alembic po_sync refuses to run on a newer schema. Nothing here reads it for versioning.
legacy_schema_version = sa.Table(
    "po_sync_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

#: Alembic's version table for the ledger (its own name: Airflow's metadata DB has ``alembic_version``).
VERSION_TABLE = "po_sync_alembic_version"
#: The revision the hand-rolled migrations' version 1 equals: such a database is stamped here.
LEGACY_V1_REVISION = "0001"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    # SQLite: the engine opens every transaction with BEGIN IMMEDIATE (see ledger.engine), which
    # already holds the database's single write lock until commit.


def _alembic_config(conn: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@functools.cache
def script_directory() -> ScriptDirectory:
    """The ledger's revisions (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def head_revisions() -> frozenset[str]:
    """The revisions a current ledger is at (more than one while parallel branches are unmerged)."""
    return frozenset(script_directory().get_heads())


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this po_sync ships."""
    return frozenset(script.revision for script in script_directory().walk_revisions())


def current_revisions(conn: Connection) -> frozenset[str]:
    """The revisions the database is at; empty when Alembic never ran on it."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return frozenset(context.get_current_heads())


def _legacy_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table(legacy_schema_version.name):
        return 0
    return int(conn.execute(sa.select(legacy_schema_version.c.version)).scalar() or 0)


def ensure_schema(engine: sa.Engine) -> frozenset[str]:
    """Create or upgrade the ledger's tables to the newest revisions; return the revisions found before.

    Safe to call from any number of processes at once: the first one to take the lock migrates,
    the others find the schema current once they get the lock and do nothing. A database made by
    the hand-rolled migrations (version 1) is stamped at the baseline revision and upgraded on.
    """
    from alembic import command as alembic_command
    from alembic.runtime.migration import MigrationContext

    script = script_directory()
    with engine.begin() as conn:
        _lock(conn)
        found = current_revisions(conn)
        unknown = found - known_revisions()
        if unknown:
            from po_sync.exceptions import LedgerError

            raise LedgerError(
                f"The ledger schema is at revision {', '.join(sorted(unknown))}, which this po_sync does "
                f"not know (its newest: {', '.join(sorted(head_revisions()))}); upgrade po_sync on every "
                "Airflow component."
            )
        if found == head_revisions():
            return found
        if not found and _legacy_version(conn) == 1 and sa.inspect(conn).has_table(sync_record.name):
            MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(
                script, LEGACY_V1_REVISION
            )
        alembic_command.upgrade(_alembic_config(conn), "heads")
        return found


# ---- secrets a flow must rotate itself (issue 13): one row per connection, encrypted ----
# Created by revision 0004_i13c. Airflow 3 tasks cannot write Airflow connections (the Execution API
# only reads them), so rotating OAuth tokens live here, Fernet-encrypted with Airflow's own key
# (``[core] fernet_key``); see :mod:`po_sync.ledger.credentials`.

sync_credential = sa.Table(
    "sync_credential",
    metadata,
    sa.Column("conn_id", sa.String(250), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),  # what the secret is, e.g. xseries_oauth
    sa.Column("secret", sa.Text),  # Fernet token of the JSON secret; NULL until first stored
    sa.Column("encrypted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expires_at", UtcDateTime()),
    sa.Column("updated_by", sa.String(250)),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=_now()),
)
