"""What a digest lists: the records one DAG run newly made ``failed`` or ``quarantined``.

"New" means the record had no error still open from an earlier run: a record that fails again run
after run is reported once, when it first fails (and again only after it was resolved, synced or
retried and then failed anew). One row per record, its latest error of the run.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from po_sync.ledger.schema import RecordStatus, sync_action, sync_error, sync_notice, sync_record, sync_run
from po_sync.ledger.store import Ledger, utcnow


def new_bad_records(ledger: Ledger, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The records this DAG run newly failed or quarantined, oldest error first."""
    this_run = sa.select(sync_run.c.id).where(sync_run.c.dag_id == dag_id, sync_run.c.run_id == run_id)
    earlier = sync_error.alias("earlier")
    retried = sync_action.alias("retried")
    still_open_before = sa.exists().where(
        earlier.c.record_id == sync_error.c.record_id,
        earlier.c.id < sync_error.c.id,
        earlier.c.sync_run_id.not_in(this_run),
        sa.or_(earlier.c.resolved_at.is_(None), earlier.c.resolved_at > sync_error.c.created_at),
        # a person's retry after that error starts a new story
        ~sa.exists().where(
            retried.c.record_id == sync_error.c.record_id,
            retried.c.action == "retry",
            retried.c.created_at >= earlier.c.created_at,
        ),
    )
    latest = (
        sa.select(sa.func.max(sync_error.c.id))
        .where(sync_error.c.sync_run_id.in_(this_run), ~still_open_before)
        .group_by(sync_error.c.record_id)
    )
    query = (
        sa.select(
            sync_record.c.id,
            sync_record.c.flow,
            sync_record.c.entity_type,
            sync_record.c.source_system,
            sync_record.c.source_id,
            sync_record.c.trace_key,
            sync_error.c.status,
            sync_error.c.error_code,
            sync_error.c.error_message,
            sync_error.c.created_at,
        )
        .select_from(sync_error.join(sync_record, sync_record.c.id == sync_error.c.record_id))
        .where(
            sync_error.c.id.in_(latest),
            sync_error.c.status.in_([RecordStatus.FAILED.value, RecordStatus.QUARANTINED.value]),
        )
        .order_by(sync_error.c.id)
    )
    with ledger.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def claim_notice(
    ledger: Ledger,
    *,
    kind: str,
    flow: str,
    dag_id: str,
    run_id: str,
    task_id: str = "",
    map_index: int = -1,
    try_number: int = 0,
    message: str | None = None,
    recipients: list[str] | None = None,
    record_count: int = 0,
) -> bool:
    """Record that a notice is going out; False when the same notice was recorded before.

    The unique key (kind, DAG, run, task, map index, try) makes a callback that runs twice (a
    retried callback, a second dag-processor) send one mail, not two.
    """
    values = {
        "kind": kind,
        "flow": flow,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "message": (message or "")[:4000] or None,
        "recipients": ", ".join(recipients or []) or None,
        "record_count": record_count,
        "created_at": utcnow(),
    }
    with ledger.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            stmt: Any = postgresql.insert(sync_notice).values(**values).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects import sqlite

            stmt = sqlite.insert(sync_notice).values(**values).on_conflict_do_nothing()
        return bool(conn.execute(stmt).rowcount)
