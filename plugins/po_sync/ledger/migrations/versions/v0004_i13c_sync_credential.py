"""sync_credential: rotating secrets (X-Series OAuth token pairs), Fernet-encrypted, one row per connection.

Revision ID: 0004_i13c
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_i13c"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_credential",
        sa.Column("conn_id", sa.String(250), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("encrypted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("updated_by", sa.String(250)),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )


def downgrade() -> None:
    op.drop_table("sync_credential")
