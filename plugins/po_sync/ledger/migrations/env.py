"""Alembic's entry point for the ledger's revisions (loaded by Alembic, never imported).

The package runs it through :func:`po_sync.ledger.schema.ensure_schema`, which passes the
connection it already holds (inside the schema lock) in ``config.attributes["connection"]``; the
revisions then run inside that transaction. Run from the ``alembic`` command line (writing a
revision), it opens ``-x url=...`` or the ini file's ``sqlalchemy.url`` itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from po_sync.ledger.schema import VERSION_TABLE, metadata


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: autogenerate writes batch (copy-and-move) operations.
        render_as_batch=True,
        compare_type=True,
    )


def _run() -> None:
    if context.is_offline_mode():
        raise SystemExit("the ledger's revisions run online only (no --sql)")
    shared = context.config.attributes.get("connection")
    if shared is not None:
        _configure(shared)
        with context.begin_transaction():  # joins the caller's transaction: no commit here
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass -x url=<database URL> or set sqlalchemy.url")
    from po_sync.ledger.engine import create_ledger_engine

    engine = create_ledger_engine(url)
    with engine.begin() as connection:
        _configure(connection)
        context.run_migrations()
    engine.dispose()


_run()
