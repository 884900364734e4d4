"""Check that every connection a flow depends on opens, and keep the result in the ledger."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from po_sync import faults
from po_sync.exceptions import ConfigurationError, FatalError
from po_sync.ledger import Decision
from po_sync.sync import SyncOperator, SyncRun, as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Longest test message kept: provider messages can carry whole tracebacks.
MAX_MESSAGE = 500


faults.declare_ledger_points("po_sync_healthcheck")  # its only side effects are ledger commits


class ConnectionCheckOperator(SyncOperator):
    """Run each connection's own ``test_connection()`` and record it as a ledger record.

    Each connection is one record (entity type ``connection``, source system = its connection
    type, source id = its id): ``synced`` when the check passed, ``failed`` with the hook's message
    when it did not. A failing connection does not fail the task; the counts say how many failed.

    :param conn_ids: the connection ids to check (templated, so a trigger param can choose).
    :param fail_on_unhealthy: fail the task when any connection is unhealthy (after recording all);
        templated, so a trigger param can set it.
    """

    template_fields: Sequence[str] = ("conn_ids", "fail_on_unhealthy")

    def __init__(
        self, *, conn_ids: Sequence[str] | str, fail_on_unhealthy: bool | str = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.conn_ids = conn_ids
        self.fail_on_unhealthy = fail_on_unhealthy

    def _conn_ids(self) -> list[str]:
        ids = self.conn_ids
        if isinstance(ids, str):
            ids = [part.strip() for part in ids.split(",")]
        cleaned = [str(i).strip() for i in ids if str(i).strip()]
        if not cleaned:
            raise ConfigurationError(f"{self.task_id}: no connection ids to check")
        return list(dict.fromkeys(cleaned))

    def sync(self, context: Context, run: SyncRun) -> None:
        for conn_id in self._conn_ids():
            try:
                conn = BaseHook.get_connection(conn_id)
                conn_type = conn.conn_type or "unknown"
            except Exception:  # the connection does not exist anywhere Airflow looks
                conn, conn_type = None, "missing"
            key = run.key("connection", conn_type, conn_id)
            # Force: a health check is worth recording every time, even when nothing changed.
            run.process(
                key,
                payload_hash=hashlib.sha256(f"{conn_id}:{conn_type}".encode()).hexdigest(),
                send=functools.partial(self._check, conn, conn_id),
                target_system="airflow",
                trace_key=f"connection:{conn_id}",
                force=True,
            )
        if as_bool(self.fail_on_unhealthy) and run.counts["failed"]:
            raise FatalError(f"{run.counts['failed']} connection(s) failed their check", system="airflow")

    def _check(self, conn: Any, conn_id: str, decision: Decision) -> str:
        if conn is None:
            raise FatalError(
                f"connection {conn_id!r} is not defined", system="airflow", code="CONNECTION_MISSING"
            )
        hook = conn.get_hook()
        ok, message = hook.test_connection()
        if not ok:
            raise FatalError(
                f"connection {conn_id!r} failed its check: {str(message)[:MAX_MESSAGE]}",
                system=conn.conn_type or "",
                code="CONNECTION_UNHEALTHY",
            )
        self.log.info("connection %s (%s): %s", conn_id, conn.conn_type, message)
        return conn_id
