"""One NetSuite account concurrency limit shared by every task, process and worker.

Each hook's :class:`~po_sync.netsuite.limiter.ConcurrencyLimiter` keeps its own threads within the
account's limit; without more, three tasks running at once would send three times the limit and
meet 429s. :class:`SharedSlots` adds the cross-process part: an account with limit *n* has *n*
numbered slots, and a request is sent only while its thread holds one of them. The slots live where
every worker already meets, the ledger's database (the ``po_sync_db`` connection):

- PostgreSQL (production, several machines): session advisory locks, ``pg_try_advisory_lock(account,
  slot)`` on a connection kept for that slot. A worker that dies loses its connection, and
  PostgreSQL frees its slots at once.
- SQLite (one machine): ``flock`` on one small file per slot beside the ledger file. The kernel frees
  the lock when the holding process ends, however it ends.

Taking a slot: try every slot once from a random start (no wait when one is free); when all are
held, wait on one of them with the blocking form of the same lock, so a freed slot is handed to a
waiter at once instead of being polled for. Per process a slot is also guarded by a thread lock (a
lock on one file descriptor or one connection is shared by its threads).

Keys are per account *and* base URL, so two sandboxes (or a sandbox and production) never share.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from po_sync.exceptions import ConfigurationError

#: ``shared_limit`` values of the ``netsuite`` connection.
SHARED_LIMIT_LEDGER = "ledger"
SHARED_LIMIT_OFF = "off"
SHARED_LIMIT_MODES = (SHARED_LIMIT_LEDGER, SHARED_LIMIT_OFF)

log = logging.getLogger(__name__)


def account_key(realm: str, base_url: str) -> str:
    """A short stable key for one account at one address."""
    return hashlib.sha256(f"{realm}|{base_url}".encode()).hexdigest()[:16]


class SharedSlots(ABC):
    """``limit`` numbered slots that threads of any process on the same store take and give back.

    :param key: the account key (:func:`account_key`).
    :param limit: how many slots exist (the account's concurrency limit).
    """

    def __init__(self, key: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("shared limit must be at least 1")
        self.key = key
        self._limit = limit
        self._pid = os.getpid()
        self._guard = threading.Lock()
        self._local: list[threading.Lock] = []

    @property
    def limit(self) -> int:
        """How many slots exist."""
        return self._limit

    def resize(self, limit: int) -> None:
        """Change the number of slots (held ones are given back normally)."""
        if limit < 1:
            raise ValueError("shared limit must be at least 1")
        self._limit = limit

    @contextmanager
    def slot(self) -> Iterator[int]:
        """Hold one slot for the duration of one request; yields its number."""
        index = self._acquire()
        try:
            yield index
        finally:
            self._release(index)

    # -- the algorithm, the same on every store

    def _local_lock(self, index: int) -> threading.Lock:
        with self._guard:
            if self._pid != os.getpid():  # forked: nothing held here is ours any more
                self._pid = os.getpid()
                self._local = []
                self._after_fork()
            while len(self._local) <= index:
                self._local.append(threading.Lock())
            return self._local[index]

    def _acquire(self) -> int:
        limit = self._limit
        start = random.randrange(limit)
        for step in range(limit):
            index = (start + step) % limit
            local = self._local_lock(index)
            if not local.acquire(blocking=False):
                continue
            try:
                if self._try_lock(index):
                    return index
            except BaseException:
                local.release()
                raise
            local.release()
        # Every slot is held: queue on one of them (randomly, so waiters spread over the slots).
        index = random.randrange(limit)
        local = self._local_lock(index)
        local.acquire()
        try:
            self._lock(index)
        except BaseException:
            local.release()
            raise
        return index

    def _release(self, index: int) -> None:
        try:
            self._unlock(index)
        except Exception as exc:  # noqa: BLE001 - the request is done; a lost lock is free anyway
            log.warning(
                "could not give NetSuite slot %s back (%s); its lock went with its handle", index, exc
            )
        finally:
            self._local_lock(index).release()

    # -- the store

    @abstractmethod
    def _try_lock(self, index: int) -> bool:
        """Take slot ``index`` if it is free; never wait."""

    @abstractmethod
    def _lock(self, index: int) -> None:
        """Take slot ``index``, waiting until it is free."""

    @abstractmethod
    def _unlock(self, index: int) -> None:
        """Give slot ``index`` back."""

    @abstractmethod
    def _after_fork(self) -> None:
        """Forget handles inherited from the parent process (called with the guard held)."""


class FileSlots(SharedSlots):
    """Slots as ``flock`` locks on files in ``directory`` (every process on one machine).

    :param directory: where the slot files live (beside the SQLite ledger).
    """

    def __init__(self, directory: Path, key: str, limit: int) -> None:
        super().__init__(key, limit)
        self.directory = directory
        self._fds: dict[int, int] = {}

    def _fd(self, index: int) -> int:
        fd = self._fds.get(index)
        if fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"netsuite-{self.key}-{index}.lock"
            fd = self._fds[index] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return fd

    def _try_lock(self, index: int) -> bool:
        try:
            fcntl.flock(self._fd(index), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(self, index: int) -> None:
        fcntl.flock(self._fd(index), fcntl.LOCK_EX)  # releases the GIL while it waits

    def _unlock(self, index: int) -> None:
        fcntl.flock(self._fd(index), fcntl.LOCK_UN)

    def _after_fork(self) -> None:
        # An inherited descriptor shares its lock with the parent's: open our own.
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}


class PostgresSlots(SharedSlots):
    """Slots as PostgreSQL session advisory locks ``(account, slot)`` (every worker of a deployment).

    One connection per slot per process holds that slot's lock, so a dead process frees its slots
    when its connections drop.

    :param url: the ledger database's URL.
    """

    def __init__(self, url: sa.URL, key: str, limit: int) -> None:
        super().__init__(key, limit)
        self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        # advisory locks take (int4, int4): the account, then the slot number
        self._account = int(key[:8], 16) - 2**31
        self._conns: dict[int, Any] = {}

    def _conn(self, index: int) -> Any:
        conn = self._conns.get(index)
        if conn is None:
            conn = self._engine.raw_connection()
            driver = conn.driver_connection
            assert driver is not None
            driver.autocommit = True  # each lock call stands alone; the lock outlives no transaction
            self._conns[index] = conn
        return conn

    def _call(self, index: int, function: str) -> Any:
        conn = self._conn(index)
        try:
            cursor = conn.cursor()
            cursor.execute(f"SELECT {function}(%s, %s)", (self._account, index))
            value = cursor.fetchone()[0]
            cursor.close()
            return value
        except Exception:
            # A broken connection has lost its locks with it; start the next call on a new one.
            self._conns.pop(index, None)
            try:
                conn.invalidate()
            finally:
                raise

    def _try_lock(self, index: int) -> bool:
        return bool(self._call(index, "pg_try_advisory_lock"))

    def _lock(self, index: int) -> None:
        self._call(index, "pg_advisory_lock")

    def _unlock(self, index: int) -> None:
        self._call(index, "pg_advisory_unlock")

    def _after_fork(self) -> None:
        # The parent's connections are not ours to use (or close); open new ones.
        self._conns = {}
        self._engine.dispose(close=False)


_registry: dict[tuple[str, str], SharedSlots] = {}
_registry_lock = threading.Lock()


def shared_slots(ledger_url: sa.URL, key: str, limit: int) -> SharedSlots:
    """The process-wide :class:`SharedSlots` of account ``key`` on the ledger's database.

    :param ledger_url: the ``po_sync_db`` database: PostgreSQL locks there, SQLite files beside it.
    :param key: the account key.
    :param limit: the account's concurrency limit (the number of slots).
    """
    backend = ledger_url.get_backend_name()
    if backend == "postgresql":
        location = ledger_url.render_as_string(hide_password=False)
    elif backend == "sqlite" and ledger_url.database and ledger_url.database != ":memory:":
        location = str(Path(ledger_url.database).resolve().parent / ".po_sync_slots")
    else:
        raise ConfigurationError(
            f"the NetSuite shared limit needs a PostgreSQL or SQLite-file ledger, not {backend!r}; "
            "set shared_limit to 'off' on the netsuite connection to keep the limit per task"
        )
    with _registry_lock:
        slots = _registry.get((location, key))
        if slots is None:
            if backend == "postgresql":
                slots = PostgresSlots(ledger_url, key, limit)
            else:
                slots = FileSlots(Path(location), key, limit)
            _registry[(location, key)] = slots
        elif slots.limit != limit:
            slots.resize(limit)
        return slots
