"""Ledger fixtures: every ledger test runs on SQLite and on PostgreSQL.

PostgreSQL is the one at 127.0.0.1:5432 (trust auth), as on the CI machine. Each test gets a
database of its own. Where no server answers (a laptop), the PostgreSQL cases are skipped, unless
``PO_SYNC_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("PO_SYNC_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"{type(exc).__name__}: {exc}"


def require_postgres() -> None:
    problem = _postgres_available()
    if problem is None:
        return
    if os.environ.get("PO_SYNC_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here but not reachable at {PG_ADMIN_URL}: {problem}")
    pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL}: {problem}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards."""
    require_postgres()
    name = f"po_sync_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    from po_sync.ledger import engine as engine_module

    for key, engine in list(engine_module._engines.items()):
        if name in key:
            engine.dispose()
            del engine_module._engines[key]
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request) -> str:
    """The URL of an empty ledger database, once per supported database."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def ledger(ledger_url):
    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine

    return Ledger(get_engine(ledger_url))
