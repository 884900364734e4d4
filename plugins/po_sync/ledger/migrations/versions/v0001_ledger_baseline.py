"""Ledger baseline: sync_record, sync_error, sync_run, sync_cursor.

The schema as the hand-rolled migrations left it (their version 1). A database made by them is
stamped at this revision instead of running it (see ``ensure_schema``). The tables are written out
here, not taken from ``schema.metadata``: a revision must keep describing the schema of its day.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    # INTEGER on SQLite makes the column the rowid (autoincrement); BIGINT elsewhere.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _now() -> sa.ColumnElement[Any]:
    return sa.func.current_timestamp()


def upgrade() -> None:
    op.create_table(
        "sync_record",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
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
        sa.Column("sync_run_id", _id()),
        sa.Column("claimed_by", sa.String(120)),
        sa.Column("claimed_at", _ts()),
        sa.Column("created_at", _ts(), nullable=False, server_default=_now()),
        sa.Column("updated_at", _ts(), nullable=False, server_default=_now()),
        sa.Column("synced_at", _ts()),
        sa.UniqueConstraint("flow", "entity_type", "source_system", "source_id", name="uq_sync_record_key"),
    )
    op.create_index("ix_sync_record_flow_status", "sync_record", ["flow", "status"])
    op.create_index("ix_sync_record_trace_key", "sync_record", ["trace_key"])

    op.create_table(
        "sync_error",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("record_id", _id(), nullable=False),
        sa.Column("sync_run_id", _id()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(80)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", _ts(), nullable=False, server_default=_now()),
        sa.Column("resolved_at", _ts()),
    )
    op.create_index("ix_sync_error_record", "sync_error", ["record_id"])

    op.create_table(
        "sync_run",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("task_id", sa.String(250)),
        sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("try_number", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("window_start", _ts()),
        sa.Column("window_end", _ts()),
        sa.Column("count_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("count_synced", sa.Integer, nullable=False, server_default="0"),
        sa.Column("count_ignored", sa.Integer, nullable=False, server_default="0"),
        sa.Column("count_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("count_quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("started_at", _ts(), nullable=False, server_default=_now()),
        sa.Column("finished_at", _ts()),
    )
    op.create_index("ix_sync_run_flow", "sync_run", ["flow", "started_at"])

    op.create_table(
        "sync_cursor",
        sa.Column("flow", sa.String(100), primary_key=True),
        sa.Column("cursor_key", sa.String(100), primary_key=True),
        sa.Column("value", _ts(), nullable=False),
        sa.Column("sync_run_id", _id()),
        sa.Column("updated_at", _ts(), nullable=False, server_default=_now()),
    )


def downgrade() -> None:
    # Back to an empty database: the old version table too (revision 0002 set it back to version 1).
    if sa.inspect(op.get_bind()).has_table("po_sync_schema_version"):
        op.drop_table("po_sync_schema_version")
    op.drop_table("sync_cursor")
    op.drop_index("ix_sync_run_flow", table_name="sync_run")
    op.drop_table("sync_run")
    op.drop_index("ix_sync_error_record", table_name="sync_error")
    op.drop_table("sync_error")
    op.drop_index("ix_sync_record_trace_key", table_name="sync_record")
    op.drop_index("ix_sync_record_flow_status", table_name="sync_record")
    op.drop_table("sync_record")
