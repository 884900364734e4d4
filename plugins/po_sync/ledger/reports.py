"""Read-only views of the ledger for people: per-flow counts, recent runs, records that need a look."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from po_sync.ledger.schema import RecordStatus, sync_record, sync_run
from po_sync.ledger.store import Ledger

#: Statuses a person may have to act on.
NEEDS_ATTENTION = (RecordStatus.FAILED.value, RecordStatus.QUARANTINED.value, RecordStatus.IN_PROGRESS.value)


def flow_summary(ledger: Ledger) -> list[dict[str, Any]]:
    """One row per flow: records per status and when the flow last ran."""
    counts = (
        sa.select(sync_record.c.flow, sync_record.c.status, sa.func.count().label("n"))
        .group_by(sync_record.c.flow, sync_record.c.status)
        .order_by(sync_record.c.flow)
    )
    last_runs = sa.select(sync_run.c.flow, sa.func.max(sync_run.c.started_at).label("last_run")).group_by(
        sync_run.c.flow
    )
    flows: dict[str, dict[str, Any]] = {}
    with ledger.engine.connect() as conn:
        for row in conn.execute(counts):
            flows.setdefault(row.flow, {"flow": row.flow, "records": {}, "last_run": None})
            flows[row.flow]["records"][row.status] = int(row.n)
        for row in conn.execute(last_runs):
            flows.setdefault(row.flow, {"flow": row.flow, "records": {}, "last_run": None})
            flows[row.flow]["last_run"] = row.last_run
    return sorted(flows.values(), key=lambda f: f["flow"])


def recent_runs(ledger: Ledger, *, flow: str | None = None, limit: int = 25) -> list[dict[str, Any]]:
    """The latest task runs, newest first, with their counts."""
    query = sa.select(sync_run).order_by(sync_run.c.id.desc()).limit(limit)
    if flow:
        query = query.where(sync_run.c.flow == flow)
    with ledger.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def records_needing_attention(
    ledger: Ledger, *, flow: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Failed, quarantined and stuck records, most recently touched first, with their last error."""
    query = (
        sa.select(
            sync_record.c.flow,
            sync_record.c.entity_type,
            sync_record.c.source_system,
            sync_record.c.source_id,
            sync_record.c.status,
            sync_record.c.attempts,
            sync_record.c.last_error_code,
            sync_record.c.last_error_message,
            sync_record.c.dag_id,
            sync_record.c.run_id,
            sync_record.c.updated_at,
        )
        .where(sync_record.c.status.in_(NEEDS_ATTENTION))
        .order_by(sync_record.c.updated_at.desc())
        .limit(limit)
    )
    if flow:
        query = query.where(sync_record.c.flow == flow)
    with ledger.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
