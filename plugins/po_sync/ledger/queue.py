"""The error queue's reads: filtered, sorted, paged records, and counts per status per flow.

Built for a ledger of hundreds of thousands of rows: every page is one ``LIMIT/OFFSET`` query on an
indexed order (``updated_at, id`` or the key columns) plus one ``COUNT`` with the same filters;
nothing loads the whole table. ``bench/ledger_ui.py`` measures it on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from po_sync.ledger.schema import RecordStatus, sync_record, sync_run
from po_sync.ledger.store import Ledger

#: Statuses a person may have to act on: the queue's "open" tab.
OPEN_STATUSES = (RecordStatus.FAILED.value, RecordStatus.QUARANTINED.value)

#: column name -> what the queue can be sorted by
SORTABLE: dict[str, Any] = {
    "updated_at": sync_record.c.updated_at,
    "created_at": sync_record.c.created_at,
    "flow": sync_record.c.flow,
    "status": sync_record.c.status,
    "source_id": sync_record.c.source_id,
    "attempts": sync_record.c.attempts,
    "error_code": sync_record.c.last_error_code,
}

QUEUE_COLUMNS = (
    sync_record.c.id,
    sync_record.c.flow,
    sync_record.c.entity_type,
    sync_record.c.source_system,
    sync_record.c.source_id,
    sync_record.c.target_system,
    sync_record.c.target_id,
    sync_record.c.status,
    sync_record.c.attempts,
    sync_record.c.last_error_code,
    sync_record.c.last_error_message,
    sync_record.c.trace_key,
    sync_record.c.dag_id,
    sync_record.c.run_id,
    sync_record.c.task_id,
    sync_record.c.updated_at,
)

MAX_PAGE_SIZE = 500


@dataclass
class QueueFilter:
    """What the queue shows. Empty fields do not filter.

    :param statuses: e.g. ``["failed", "quarantined"]``; empty means every status.
    :param text: part of the source id, target id (PO number, file) or trace key (file name).
    :param since: records last touched at or after this time; ``until`` before it.
    :param run_id: records last touched by this DAG run (the digest mail links to it).
    """

    flow: str | None = None
    statuses: list[str] = field(default_factory=list)
    error_code: str | None = None
    entity_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    run_id: str | None = None
    sort: str = "updated_at"
    descending: bool = True
    page: int = 1
    page_size: int = 50

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = sync_record.c
        clauses: list[sa.ColumnElement[bool]] = []
        if self.flow:
            clauses.append(c.flow == self.flow)
        if self.statuses:
            clauses.append(c.status.in_(self.statuses))
        if self.error_code:
            clauses.append(c.last_error_code == self.error_code)
        if self.entity_type:
            clauses.append(c.entity_type == self.entity_type)
        if self.since:
            clauses.append(c.updated_at >= self.since)
        if self.until:
            clauses.append(c.updated_at < self.until)
        if self.run_id:
            clauses.append(c.run_id == self.run_id)
        if self.text:
            like = f"%{_escape_like(self.text)}%"
            clauses.append(
                sa.or_(
                    c.source_id.like(like, escape="\\"),
                    c.target_id.like(like, escape="\\"),
                    c.trace_key.like(like, escape="\\"),
                )
            )
        return clauses


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def queue_page(ledger: Ledger, flt: QueueFilter) -> QueuePage:
    """One page of records matching ``flt``, in its order, with the total that match."""
    size = max(1, min(int(flt.page_size), MAX_PAGE_SIZE))
    page = max(1, int(flt.page))
    order_col = SORTABLE.get(flt.sort, sync_record.c.updated_at)
    order = [order_col.desc(), sync_record.c.id.desc()] if flt.descending else [order_col, sync_record.c.id]
    where = flt.where()
    query = sa.select(*QUEUE_COLUMNS).where(*where).order_by(*order).limit(size).offset((page - 1) * size)
    count = sa.select(sa.func.count()).select_from(sync_record).where(*where)
    with ledger.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        total = int(conn.execute(count).scalar_one())
    return QueuePage(rows=rows, total=total, page=page, page_size=size)


def status_counts_by_flow(ledger: Ledger) -> dict[str, dict[str, int]]:
    """``{flow: {status: n}}`` for the counts at the top of the queue."""
    query = sa.select(sync_record.c.flow, sync_record.c.status, sa.func.count()).group_by(
        sync_record.c.flow, sync_record.c.status
    )
    counts: dict[str, dict[str, int]] = {}
    with ledger.engine.connect() as conn:
        for flow, status, n in conn.execute(query):
            counts.setdefault(flow, {})[status] = int(n)
    return dict(sorted(counts.items()))


def filter_choices(ledger: Ledger, flow: str | None = None) -> dict[str, list[str]]:
    """The values the filter drop-downs offer: error codes and entity types seen (for ``flow``)."""
    out: dict[str, list[str]] = {}
    with ledger.engine.connect() as conn:
        for name, col in (
            ("error_codes", sync_record.c.last_error_code),
            ("entity_types", sync_record.c.entity_type),
        ):
            query = sa.select(col).where(col.is_not(None)).group_by(col).order_by(col).limit(200)
            if flow:
                query = query.where(sync_record.c.flow == flow)
            out[name] = [str(v) for v in conn.execute(query).scalars()]
    return out


def get_record(ledger: Ledger, record_id: int) -> dict[str, Any] | None:
    """One record with the task run that last touched it (its map index and try)."""
    query = (
        sa.select(
            sync_record,
            sync_run.c.map_index.label("last_map_index"),
            sync_run.c.try_number.label("last_try_number"),
            sync_run.c.started_at.label("last_run_started_at"),
        )
        .select_from(sync_record.outerjoin(sync_run, sync_run.c.id == sync_record.c.sync_run_id))
        .where(sync_record.c.id == record_id)
    )
    with ledger.engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    return dict(row._mapping) if row is not None else None
