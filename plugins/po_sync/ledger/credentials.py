"""Secrets a flow rotates itself (OAuth token pairs), encrypted with Airflow's Fernet key, one row per
connection in the ledger's ``sync_credential`` table, changed one process at a time.

Why here and not in the Airflow connection: in Airflow 3 a task has no metadata-database access; it
reads connections through the api-server's Execution API, which has no route to write one (only
Variables can be written, and they cannot be locked). A secret that rotates (X-Series revokes a
refresh token as soon as it issues the next one) must be stored by the task that rotated it, before
it is used, under a lock every worker honours. The ledger database is the one store every task
already writes, it can be Airflow's own metadata database, and its rows can be locked:

- **Encryption**: the secret is a Fernet token made with ``airflow.models.crypto.get_fernet()``,
  Airflow's own key (``[core] fernet_key``, the key that encrypts connection passwords). Without a key
  the store refuses, except in a sandbox (``[po_sync] dev_mode``), where it keeps the secret in clear
  and says so in the ``encrypted`` column.
- **One writer at a time**: :meth:`CredentialStore.locked` opens a transaction that holds the row:
  ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the ledger engine starts every transaction with
  ``BEGIN IMMEDIATE`` (see :mod:`po_sync.ledger.engine`), which takes the database's write lock.
  A process that waited reads the row again and sees what the winner wrote.
- **Atomic**: the new secret is committed when the ``locked`` block ends; an exception inside it rolls
  back, so a failed rotation leaves the previous secret exactly as it was.

No method logs or returns the secret in a message; ``repr`` of what it returns shows no value.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from po_sync.dev_mode import dev_mode
from po_sync.exceptions import ConfigurationError
from po_sync.ledger.schema import sync_credential
from po_sync.ledger.store import Ledger

log = logging.getLogger(__name__)


def _fernet(conn_id: str) -> Any:
    """Airflow's Fernet (a ``MultiFernet`` over ``[core] fernet_key``), or its null stand-in in a sandbox."""
    from airflow.models.crypto import get_fernet

    fernet = get_fernet()
    if not fernet.is_encrypted and not dev_mode():
        raise ConfigurationError(
            f"cannot store the rotating credential of connection {conn_id!r}: Airflow has no "
            "[core] fernet_key to encrypt it with (set AIRFLOW__CORE__FERNET_KEY on every component)"
        )
    return fernet


class LockedCredential:
    """The row of one connection while its transaction holds it (see :meth:`CredentialStore.locked`)."""

    def __init__(self, store: CredentialStore, conn: sa.Connection) -> None:
        self._store = store
        self._conn = conn

    def read(self) -> dict[str, Any] | None:
        """The stored secret as committed by the last writer, or None when nothing is stored yet."""
        row = self._conn.execute(
            sa.select(sync_credential.c.secret, sync_credential.c.encrypted).where(
                sync_credential.c.conn_id == self._store.conn_id
            )
        ).first()
        return self._store._decode(row)

    def write(
        self,
        secret: dict[str, Any],
        *,
        generation: int,
        expires_at: datetime | None,
        updated_by: str,
    ) -> None:
        """Replace the secret (committed when the ``locked`` block ends without an exception)."""
        fernet = _fernet(self._store.conn_id)
        token = fernet.encrypt(json.dumps(secret, sort_keys=True).encode()).decode()
        self._conn.execute(
            sa.update(sync_credential)
            .where(sync_credential.c.conn_id == self._store.conn_id)
            .values(
                secret=token,
                encrypted=bool(fernet.is_encrypted),
                generation=generation,
                expires_at=expires_at,
                updated_by=updated_by[:250],
                updated_at=datetime.now(UTC),
            )
        )


class CredentialStore:
    """One connection's rotating secret in the ledger.

    :param ledger: the ledger (its schema is migrated when it is opened).
    :param conn_id: the Airflow connection the secret belongs to (the row's key).
    :param kind: what the secret is (``xseries_oauth``); a row of another kind is refused.
    """

    def __init__(self, ledger: Ledger, *, conn_id: str, kind: str) -> None:
        self.engine = ledger.engine
        self.conn_id = conn_id
        self.kind = kind

    def __repr__(self) -> str:
        return f"CredentialStore(conn_id={self.conn_id!r}, kind={self.kind!r})"

    def _decode(self, row: Any) -> dict[str, Any] | None:
        if row is None or row.secret is None:
            return None
        raw = row.secret.encode()
        try:
            plain = _fernet(self.conn_id).decrypt(raw) if row.encrypted else raw
            value = json.loads(plain)
        except Exception as exc:  # noqa: BLE001 - InvalidToken, bad JSON: never show the value
            raise ConfigurationError(
                f"the stored credential of connection {self.conn_id!r} cannot be read ({type(exc).__name__}): "
                "was [core] fernet_key changed without keeping the old key? Authorize the connection again."
            ) from None
        if not isinstance(value, dict):
            raise ConfigurationError(f"the stored credential of connection {self.conn_id!r} is not an object")
        return value

    def read(self) -> dict[str, Any] | None:
        """The committed secret without taking the lock (a reader never waits for a rotation)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sync_credential.c.secret, sync_credential.c.encrypted).where(
                    sync_credential.c.conn_id == self.conn_id
                )
            ).first()
            conn.rollback()
        return self._decode(row)

    def info(self) -> dict[str, Any] | None:
        """What may be shown about the row (generation, expiry, who wrote it), never the secret."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    sync_credential.c.kind,
                    sync_credential.c.generation,
                    sync_credential.c.expires_at,
                    sync_credential.c.updated_by,
                    sync_credential.c.updated_at,
                    sync_credential.c.encrypted,
                    sync_credential.c.secret.is_not(None).label("stored"),
                ).where(sync_credential.c.conn_id == self.conn_id)
            ).first()
            conn.rollback()
        return dict(row._mapping) if row is not None else None

    def _ensure_row(self, conn: sa.Connection) -> None:
        values = {"conn_id": self.conn_id, "kind": self.kind, "encrypted": False, "generation": 0}
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(sync_credential).values(values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(sqlite_insert(sync_credential).values(values).on_conflict_do_nothing())

    @contextlib.contextmanager
    def locked(self) -> Iterator[LockedCredential]:
        """Hold this connection's row until the block ends; commit what it wrote, or roll back."""
        with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE (the write lock) starts here
            self._ensure_row(conn)
            kind = conn.execute(
                sa.select(sync_credential.c.kind)
                .where(sync_credential.c.conn_id == self.conn_id)
                .with_for_update()  # PostgreSQL: the row lock; a second refresher waits here
            ).scalar_one()
            if kind != self.kind:
                raise ConfigurationError(
                    f"connection {self.conn_id!r} has a stored credential of kind {kind!r}, not {self.kind!r}"
                )
            yield LockedCredential(self, conn)
