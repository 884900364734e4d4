"""The ledger's schema migrations (Alembic), shipped inside the package.

:func:`po_sync.ledger.schema.ensure_schema` runs them on first use in every process, under the
ledger's schema lock, with Alembic's version kept in its own table ``po_sync_alembic_version`` (so
it never meets Airflow's ``alembic_version`` when both live in one database).

Adding a table or column (one revision per change, never edit a released one):

1. Change the tables in ``po_sync/ledger/schema.py`` (or your own module on the same ``metadata``).
2. Write the revision: ``.venv/bin/alembic -c plugins/po_sync/ledger/migrations/alembic.ini revision
   -m "add sync_foo" --rev-id 0003`` (next number), or ``--autogenerate`` with
   ``-x url=sqlite:////tmp/ledger.db`` pointing at a database already at head; then read and fix
   ``upgrade()`` / ``downgrade()``. Use ``op.batch_alter_table`` to change columns (SQLite).
3. ``tests/core/ledger/test_migrations.py`` checks that the migrated schema equals ``metadata`` on
   SQLite and PostgreSQL, and that a database of every earlier release upgrades without losing rows.

Two revisions written in parallel on the same parent are two heads; :func:`ensure_schema` upgrades
to every head, and ``alembic merge heads`` joins them when convenient.
"""
