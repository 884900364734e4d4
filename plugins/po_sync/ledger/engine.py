"""SQLAlchemy engines for the ledger, set up so concurrent writers stay correct on both databases.

SQLite allows one writer at a time. Python's sqlite3 driver opens transactions lazily (``BEGIN``
DEFERRED), so two processes can both read a row and then both try to claim it; the second then fails
with "database is locked" instead of waiting. Starting every transaction with ``BEGIN IMMEDIATE``
takes the write lock up front, which turns a read-then-update into one atomic step, and
``busy_timeout`` makes the other process wait for the lock rather than fail. WAL mode lets readers
go on while a writer holds it. This is the SQLAlchemy documentation's own recipe for pysqlite.

PostgreSQL needs nothing special here; claiming uses ``FOR UPDATE SKIP LOCKED`` (see ``store``).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

#: How long a SQLite writer waits for the lock before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    # Threads of one process queue on a lock of their own for the write lock: SQLite's busy handler
    # would make them sleep in growing steps (up to 100 ms) while the lock is taken and freed many
    # times a second by a flow's worker threads. Other processes still wait through busy_timeout.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        writer.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: sa.Connection) -> None:
        if writer.locked():
            writer.release()


def create_ledger_engine(url: str | sa.URL) -> sa.Engine:
    """Create an engine for ``url`` with the concurrency settings described in this module."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(url: str | sa.URL) -> sa.Engine:
    """Return one shared engine per database URL for this process (pools are per engine)."""
    key = sa.make_url(url).render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_ledger_engine(url)
        return engine
