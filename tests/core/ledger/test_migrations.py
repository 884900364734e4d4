"""The ledger's Alembic migrations, on SQLite and PostgreSQL.

A database made by the hand-rolled migrations of earlier releases (``legacy_schema_v1``, a frozen
copy) upgrades in place with every row kept; a fresh one is built by the revisions alone; either way
the result is exactly the tables ``schema.metadata`` describes, and Alembic's bookkeeping stays in
its own table, away from Airflow's ``alembic_version``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from po_sync.exceptions import LedgerError
from po_sync.ledger import Action, Ledger, RecordKey, RecordStatus, RunContext
from po_sync.ledger.engine import create_ledger_engine, get_engine
from po_sync.ledger.schema import (
    VERSION_TABLE,
    _alembic_config,
    current_revisions,
    ensure_schema,
    head_revisions,
    metadata,
)
from tests.core.ledger import legacy_schema_v1 as legacy

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LEDGER_TABLES = ("sync_record", "sync_error", "sync_run", "sync_cursor")


def _fill_legacy(engine: sa.Engine, records: int = 25) -> None:
    """Rows of every kind, written through the old release's own tables."""
    with engine.begin() as conn:
        conn.execute(
            legacy.sync_run.insert(),
            [
                {"flow": "vendor_po_export", "dag_id": "d", "run_id": f"r{n}", "task_id": "t",
                 "status": "completed", "window_start": T0, "window_end": T0, "count_read": n,
                 "count_synced": n, "message": f"run {n}", "finished_at": T0}
                for n in range(3)
            ],
        )  # fmt: skip
        conn.execute(
            legacy.sync_record.insert(),
            [
                {"flow": "vendor_po_export", "entity_type": "purchaseOrder", "source_system": "netsuite",
                 "source_id": f"PO{n:06d}", "target_system": "s3", "target_id": f"PO{n:06d}.xml",
                 "payload_hash": f"h{n}", "status": ("synced", "failed", "quarantined")[n % 3],
                 "attempts": 1 + n % 3, "idempotency_key": f"k{n}", "last_error_code": None if n % 3 == 0 else "E",
                 "last_error_message": None if n % 3 == 0 else f"line {n}: bad", "trace_key": f"PO{n:06d}",
                 "sync_run_id": 1, "synced_at": T0 if n % 3 == 0 else None}
                for n in range(records)
            ],
        )  # fmt: skip
        conn.execute(
            legacy.sync_error.insert(),
            [
                {"record_id": n + 1, "sync_run_id": 1, "status": "failed", "error_code": "E", "error_message": "x"}
                for n in range(records) if n % 3
            ],
        )  # fmt: skip
        conn.execute(
            legacy.sync_cursor.insert(),
            [{"flow": "vendor_po_export", "cursor_key": "acme", "value": T0, "sync_run_id": 1}],
        )


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(sa.select(legacy.metadata.tables[name]))]
            for name in LEDGER_TABLES
        }


def _schema_diff(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        return compare_metadata(context, metadata)


def test_fresh_ledger_is_built_by_the_revisions_and_matches_the_tables(ledger_url):
    engine = get_engine(ledger_url)
    assert ensure_schema(engine) == frozenset()
    with engine.connect() as conn:
        assert current_revisions(conn) == head_revisions()
        tables = set(sa.inspect(conn).get_table_names())
    assert set(LEDGER_TABLES) | {VERSION_TABLE} <= tables
    assert _schema_diff(engine) == []  # the revisions and schema.metadata describe the same schema
    assert ensure_schema(engine) == head_revisions()  # a second start changes nothing


def test_database_of_the_hand_rolled_migrations_upgrades_without_losing_rows(ledger_url):
    engine = get_engine(ledger_url)
    assert legacy.ensure_schema(engine) == 0
    _fill_legacy(engine)
    before = _snapshot(engine)

    ledger = Ledger(engine)

    assert _snapshot(engine) == before
    assert sum(len(rows) for rows in before.values()) == 3 + 25 + 16 + 1
    with engine.connect() as conn:
        assert current_revisions(conn) == head_revisions()
    assert _schema_diff(engine) == []
    # The old rows are live ledger state: an unchanged synced PO is skipped, a failed one resent,
    # a new record gets the next id, and the vendor's cursor is where it was.
    run = ledger.open_run(flow="vendor_po_export", context=RunContext(dag_id="d", run_id="after-upgrade"))
    synced = RecordKey("vendor_po_export", "purchaseOrder", "netsuite", "PO000000")
    failed = RecordKey("vendor_po_export", "purchaseOrder", "netsuite", "PO000001")
    assert ledger.begin(synced, payload_hash="h0", sync_run_id=run).action is Action.SKIP
    assert ledger.begin(failed, payload_hash="h1", sync_run_id=run).action is Action.SEND
    new = ledger.begin(dataclasses.replace(synced, source_id="PO999999"), payload_hash="n", sync_run_id=run)
    assert new.record_id > 25  # the id sequence goes on after the old rows (PostgreSQL may skip some)
    assert ledger.get_cursor("vendor_po_export", "acme") == T0
    assert ledger.get(failed).status is RecordStatus.IN_PROGRESS


def test_a_po_sync_from_before_alembic_refuses_the_upgraded_ledger(ledger_url):
    engine = get_engine(ledger_url)
    Ledger(engine)
    with pytest.raises(LedgerError, match="version 2, newer than this po_sync"):
        legacy.ensure_schema(engine)


def test_alembic_keeps_its_own_version_table_beside_airflows(ledger_url):
    engine = get_engine(ledger_url)
    with engine.begin() as conn:  # Airflow's metadata DB in the same database, at its own revision
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('5f2621c13b39')"))
    Ledger(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [
            "5f2621c13b39"
        ]
        ours = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    assert set(ours) == head_revisions()


def test_a_ledger_at_a_revision_this_po_sync_does_not_know_is_refused(ledger_url):
    engine = get_engine(ledger_url)
    Ledger(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(LedgerError, match="ffff_from_the_future.*upgrade po_sync on every Airflow component"):
        Ledger(engine)


def test_every_revision_downgrades_and_upgrades_again(ledger_url):
    engine = get_engine(ledger_url)
    Ledger(engine)
    with engine.begin() as conn:
        alembic_command.downgrade(_alembic_config(conn), "base")
    with engine.connect() as conn:
        assert current_revisions(conn) == frozenset()
        assert not set(LEDGER_TABLES) & set(sa.inspect(conn).get_table_names())
    Ledger(engine)
    assert _schema_diff(engine) == []


def test_processes_upgrading_an_old_ledger_at_once_keep_every_row(ledger_url):
    engine = create_ledger_engine(ledger_url)
    legacy.ensure_schema(engine)
    _fill_legacy(engine, records=200)
    before = _snapshot(engine)
    engine.dispose()
    code = textwrap.dedent(
        f"""
        from po_sync.ledger import Ledger
        from po_sync.ledger.engine import create_ledger_engine
        Ledger(create_ledger_engine({ledger_url!r}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    engine = get_engine(ledger_url)
    assert _snapshot(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == len(
            head_revisions()
        )
