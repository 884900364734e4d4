"""Airflow hook that opens the ledger named by the ``po_sync_db`` connection."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from airflow.sdk import BaseHook

from po_sync.dev_mode import OPTION, SECTION, dev_mode
from po_sync.exceptions import ConfigurationError
from po_sync.ledger.engine import get_engine
from po_sync.ledger.store import Ledger

#: Connection types accepted for the ledger: our own, and Airflow's generic ones.
_SQLITE_TYPES = {"sqlite"}
_POSTGRES_TYPES = {"postgres", "postgresql"}


def default_sqlite_path() -> Path:
    """Where the embedded ledger lives when no ``po_sync_db`` connection is defined (dev mode only)."""
    return Path(os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))) / "po_sync_ledger.db"


class LedgerHook(BaseHook):
    """Open the po_sync ledger (status table) on SQLite or PostgreSQL.

    The connection may be of type ``po_sync_ledger`` (with the ``dialect`` field), ``sqlite``
    (``host`` = file path) or ``postgres``. When the connection does not exist the hook fails with
    a :class:`ConfigurationError` naming it, except in a sandbox (``[po_sync] dev_mode``, see
    :mod:`po_sync.dev_mode`), where it falls back to a SQLite file in ``$AIRFLOW_HOME``.

    :param ledger_conn_id: the connection id, ``po_sync_db`` by default.

    Pitfalls:

    - A SQLite ledger only works when every task runs on one machine (LocalExecutor). Use
      PostgreSQL with CeleryExecutor or Kubernetes.
    """

    conn_name_attr = "ledger_conn_id"
    default_conn_name = "po_sync_db"
    conn_type = "po_sync_ledger"
    hook_name = "po-sync ledger (status table)"

    def __init__(self, ledger_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger_conn_id = ledger_conn_id
        self._ledger: Ledger | None = None

    def get_url(self) -> sa.URL:
        """Build the SQLAlchemy URL from the connection (password kept out of any message)."""
        try:
            conn = self.get_connection(self.ledger_conn_id)
        except Exception as exc:  # Airflow raises AirflowNotFoundException (several import paths)
            if type(exc).__name__ != "AirflowNotFoundException":
                raise
            if not dev_mode():
                raise ConfigurationError(
                    f"the ledger connection {self.ledger_conn_id!r} is not defined: create it (type "
                    "po_sync_ledger, postgres or sqlite; PostgreSQL when tasks run on more than one machine). "
                    f"Only a sandbox ([{SECTION}] {OPTION} = True) falls back to a SQLite file in $AIRFLOW_HOME."
                ) from None
            return sa.URL.create("sqlite", database=str(default_sqlite_path()))
        extra = conn.extra_dejson
        conn_type = (conn.conn_type or "").lower()
        dialect = str(extra.get("dialect") or "").lower()
        if conn_type in _SQLITE_TYPES or (conn_type == self.conn_type and dialect in ("", "sqlite")):
            path = conn.host or conn.schema
            if not path:
                raise ConfigurationError(
                    f"connection {self.ledger_conn_id!r}: a SQLite ledger needs the file path in 'host'"
                )
            return sa.URL.create("sqlite", database=path)
        if conn_type in _POSTGRES_TYPES or dialect in _POSTGRES_TYPES:
            return sa.URL.create(
                "postgresql+psycopg2",
                username=conn.login or None,
                password=conn.password or None,
                host=conn.host or "localhost",
                port=conn.port or 5432,
                database=conn.schema or "po_sync",
            )
        raise ConfigurationError(
            f"connection {self.ledger_conn_id!r} has type {conn.conn_type!r}; "
            "use po_sync_ledger, sqlite or postgres"
        )

    def get_conn(self) -> Ledger:
        """Return the ledger, creating or upgrading its schema on first use in this process."""
        if self._ledger is None:
            self._ledger = Ledger(get_engine(self.get_url()))
        return self._ledger

    def test_connection(self) -> tuple[bool, str]:
        """Open the database and read the schema version (the UI's Test button)."""
        try:
            ledger = self.get_conn()
            with ledger.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True, f"ledger reachable ({ledger.engine.dialect.name})"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
