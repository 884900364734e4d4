"""The error queue: sync_action (people's actions on records), sync_notice (mails sent, task failures),
and the indexes its pages need (records by last change, errors by run).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _now() -> sa.ColumnElement[Any]:
    return sa.func.current_timestamp()


def upgrade() -> None:
    op.create_table(
        "sync_action",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("record_id", _id(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20)),
        sa.Column("dag_run_id", sa.String(250)),
        sa.Column("created_at", _ts(), nullable=False, server_default=_now()),
    )
    op.create_index("ix_sync_action_record", "sync_action", ["record_id"])
    op.create_table(
        "sync_notice",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False, server_default=""),
        sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("try_number", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Column("recipients", sa.Text),
        sa.Column("record_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", _ts(), nullable=False, server_default=_now()),
        sa.UniqueConstraint(
            "kind", "dag_id", "run_id", "task_id", "map_index", "try_number", name="uq_sync_notice_once"
        ),
    )
    op.create_index("ix_sync_notice_flow", "sync_notice", ["flow", "kind", "created_at"])
    op.create_index("ix_sync_record_updated", "sync_record", ["updated_at", "id"])
    op.create_index("ix_sync_error_run", "sync_error", ["sync_run_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_error_run", table_name="sync_error")
    op.drop_index("ix_sync_record_updated", table_name="sync_record")
    op.drop_table("sync_notice")
    op.drop_table("sync_action")
