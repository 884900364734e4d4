"""Reading the ledger the way a test asserts on it: the counts of a flow's last task run."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from po_sync.ledger.schema import sync_run


def last_task_run(ledger: Any, flow: str, task_id: str | None = None) -> dict[str, Any]:
    """The ``sync_run`` row of the flow's latest task run (of ``task_id`` when given), as a dict."""
    query = sa.select(sync_run).where(sync_run.c.flow == flow)
    if task_id is not None:
        query = query.where(sync_run.c.task_id == task_id)
    with ledger.engine.connect() as conn:
        row = conn.execute(query.order_by(sync_run.c.id.desc()).limit(1)).one()
    return dict(row._mapping)


def last_counts(ledger: Any, flow: str, task_id: str) -> tuple[int, int, int, int]:
    """(read, synced, ignored, quarantined) of ``task_id``'s last run in ``flow``."""
    row = last_task_run(ledger, flow, task_id)
    return row["count_read"], row["count_synced"], row["count_ignored"], row["count_quarantined"]


def task_runs(ledger: Any, flow: str, run_ids: set[str]) -> list[dict[str, Any]]:
    """The ``sync_run`` rows of ``flow`` that belong to the given Airflow DAG runs."""
    query = sa.select(sync_run).where(sync_run.c.flow == flow, sync_run.c.run_id.in_(sorted(run_ids)))
    with ledger.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]
