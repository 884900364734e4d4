"""Check that every connection a flow depends on opens, and keep the result in the ledger.

Testing a connection makes the worker open a socket to whatever host the connection names, so it is
limited twice: only the bundle's own connections are tested (the ids its flows use, or a connection
of a type the bundle registers in ``provider_info``), never any id a trigger's conf names; and when
Airflow's ``[core] test_connection`` is ``Disabled`` (its default) nothing is tested at all, as
Airflow's own *Test* button is refused then.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from po_sync import faults
from po_sync.exceptions import ConfigurationError, FatalError
from po_sync.ledger import Action, Decision
from po_sync.sync import SyncOperator, SyncRun, as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Longest test message kept: provider messages can carry whole tracebacks.
MAX_MESSAGE = 500

#: The connection ids the bundle's flows use (their operators' defaults and the DAG files').
BUNDLE_CONNECTION_IDS = frozenset(
    {
        "po_sync_db",
        "netsuite_default",
        "aws_default",
        "sftp_default",
        "smtp_default",
        "onetrail_sftp",
        "xseries_default",
        "servicenow_default",
    }
)


def bundle_connection_types() -> frozenset[str]:
    """The connection types the bundle registers (``provider_info``): any connection of one is ours."""
    from po_sync.provider_info import connection_types

    return frozenset(str(c["connection-type"]) for c in connection_types())


def connection_testing_enabled() -> bool:
    """Whether Airflow's ``[core] test_connection`` allows testing connections (``Enabled``)."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - older task SDKs
        from airflow.configuration import conf
    value = conf.get("core", "test_connection", fallback="Disabled")
    return str(value).strip().lower() == "enabled"


faults.declare_ledger_points("po_sync_healthcheck")  # its only side effects are ledger commits


class ConnectionCheckOperator(SyncOperator):
    """Run each connection's own ``test_connection()`` and record it as a ledger record.

    Each connection is one record (entity type ``connection``, source system = its connection
    type, source id = its id): ``synced`` when the check passed, ``failed`` with the hook's message
    when it did not. A failing connection does not fail the task; the counts say how many failed.

    Only the bundle's own connections are tested (:data:`BUNDLE_CONNECTION_IDS`, or a connection of a
    type in :func:`bundle_connection_types`); any other id is recorded ``quarantined`` (bad conf) with code
    ``CONNECTION_NOT_ALLOWED``, untested. With ``[core] test_connection`` not ``Enabled`` nothing is
    tested: each connection is recorded ``ignored`` with code ``TEST_CONNECTION_DISABLED``.

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
        enabled = connection_testing_enabled()
        if not enabled:
            self.log.warning(
                "[core] test_connection is not Enabled in Airflow's configuration: no connection is "
                "tested (set AIRFLOW__CORE__TEST_CONNECTION=Enabled to use this check)"
            )
        own_types = bundle_connection_types()
        for conn_id in self._conn_ids():
            try:
                conn = BaseHook.get_connection(conn_id)
                conn_type = conn.conn_type or "unknown"
            except Exception:  # the connection does not exist anywhere Airflow looks
                conn, conn_type = None, "missing"
            key = run.key("connection", conn_type, conn_id)
            if conn_id not in BUNDLE_CONNECTION_IDS and conn_type not in own_types:
                run.quarantine_input(
                    key,
                    code="CONNECTION_NOT_ALLOWED",
                    message=(
                        f"connection {conn_id!r} is not one of po-sync's own connections; "
                        "the health check does not test it"
                    ),
                )
                continue
            if not enabled:
                decision = run.begin(key, payload_hash=None, force=True)
                if decision.action is not Action.BUSY:
                    run.ignored(
                        decision,
                        code="TEST_CONNECTION_DISABLED",
                        reason="not tested: [core] test_connection is not Enabled in Airflow",
                    )
                continue
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
