"""Retire the hand-rolled ``po_sync_schema_version`` table: Alembic keeps the version now.

The table stays, with version 2, as a tombstone: a po_sync from before Alembic that still runs on
some worker during a rolling upgrade reads 2 > its own 1 and refuses to start ("upgrade po_sync on
every Airflow component") instead of working on a schema it does not know.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: What a pre-Alembic po_sync compares with its own version (1) before it touches the ledger.
TOMBSTONE_VERSION = 2

_legacy = sa.table("po_sync_schema_version", sa.column("id", sa.Integer), sa.column("version", sa.Integer))


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("po_sync_schema_version"):
        op.create_table(
            "po_sync_schema_version",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
        )
    op.execute(_legacy.delete())
    op.execute(_legacy.insert().values(id=1, version=TOMBSTONE_VERSION))


def downgrade() -> None:
    op.execute(_legacy.update().where(_legacy.c.id == 1).values(version=1))
