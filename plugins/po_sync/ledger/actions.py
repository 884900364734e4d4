"""What a person does to records from the error queue: retry, resolve, ignore; every act kept.

Each action changes a record's status and writes one ``sync_action`` row (who, when, note), in one
transaction, so the record's history shows it next to its errors. A record a run holds
(``in_progress``) is never touched: the run owns it until it records an outcome.

- **retry**: back to ``pending``; the flow's next run sends it again (exports re-read it, and a
  triggered run can name it in its conf). Earlier errors stay open until a run succeeds.
- **resolve**: closed by a person (fixed by hand, or not needed); its open errors are resolved.
- **ignore**: leave it alone as is; a later change to its payload sends it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from po_sync.exceptions import LedgerError
from po_sync.ledger.schema import RecordStatus, sync_action, sync_error, sync_record
from po_sync.ledger.store import Ledger, utcnow

#: The longest note kept with an action.
MAX_NOTE = 2000


class RecordAction(StrEnum):
    RETRY = "retry"
    RESOLVE = "resolve"
    IGNORE = "ignore"


#: action -> (statuses it applies to, status it sets)
RULES: dict[RecordAction, tuple[frozenset[str], RecordStatus]] = {
    RecordAction.RETRY: (
        frozenset({"failed", "quarantined", "resolved", "ignored", "pending"}),
        RecordStatus.PENDING,
    ),
    RecordAction.RESOLVE: (frozenset({"failed", "quarantined", "pending"}), RecordStatus.RESOLVED),
    RecordAction.IGNORE: (frozenset({"failed", "quarantined", "pending"}), RecordStatus.IGNORED),
}


@dataclass
class ActionResult:
    """What an action did: the records it changed, and those it refused with the reason."""

    action: RecordAction
    done: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "done": self.done, "refused": self.refused}


def apply_action(
    ledger: Ledger,
    action: RecordAction | str,
    record_ids: Iterable[int],
    *,
    actor: str,
    note: str | None = None,
    dag_run_id: str | None = None,
) -> ActionResult:
    """Apply ``action`` to each record that allows it; refuse the others with a reason.

    :param actor: the Airflow user who asked (kept in ``sync_action``).
    :param note: why; required for resolve and ignore, so the history explains itself.
    :param dag_run_id: the DAG run a retry triggered, kept with the action.
    """
    action = RecordAction(action)
    if not actor.strip():
        raise LedgerError("an action needs the name of the person taking it")
    note = (note or "").strip()[:MAX_NOTE] or None
    if action is not RecordAction.RETRY and not note:
        raise LedgerError(f"{action.value} needs a note saying why")
    allowed, new_status = RULES[action]
    ids = sorted({int(i) for i in record_ids})
    result = ActionResult(action)
    now = utcnow()
    with ledger.engine.begin() as conn:
        query = sa.select(sync_record).where(sync_record.c.id.in_(ids))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {row.id: row for row in conn.execute(query)}
        for record_id in ids:
            row = rows.get(record_id)
            if row is None:
                result.refused.append({"id": record_id, "reason": "no such record"})
                continue
            label = f"{row.entity_type} {row.source_system}:{row.source_id}"
            if row.status not in allowed:
                result.refused.append(
                    {
                        "id": record_id,
                        "record": label,
                        "status": row.status,
                        "reason": f"{action.value} does not apply to a {row.status} record",
                    }
                )
                continue
            conn.execute(
                sync_record.update()
                .where(sync_record.c.id == record_id)
                .values(status=new_status.value, updated_at=now, claimed_by=None, claimed_at=None)
            )
            if action is not RecordAction.RETRY:
                conn.execute(
                    sync_error.update()
                    .where(sync_error.c.record_id == record_id, sync_error.c.resolved_at.is_(None))
                    .values(resolved_at=now)
                )
            conn.execute(
                sync_action.insert().values(
                    record_id=record_id,
                    action=action.value,
                    actor=actor,
                    note=note,
                    from_status=row.status,
                    to_status=new_status.value,
                    dag_run_id=dag_run_id,
                    created_at=now,
                )
            )
            result.done.append(
                {"id": record_id, "record": label, "flow": row.flow, "source_id": row.source_id}
            )
    return result


def set_triggered_run(ledger: Ledger, record_ids: Iterable[int], dag_run_id: str) -> None:
    """Note on the latest retry of each record the DAG run it triggered."""
    ids = list(record_ids)
    if not ids:
        return
    with ledger.engine.begin() as conn:
        latest = (
            sa.select(sa.func.max(sync_action.c.id))
            .where(sync_action.c.record_id.in_(ids), sync_action.c.action == RecordAction.RETRY.value)
            .group_by(sync_action.c.record_id)
        )
        conn.execute(sync_action.update().where(sync_action.c.id.in_(latest)).values(dag_run_id=dag_run_id))


def record_history(ledger: Ledger, record_id: int) -> list[dict[str, Any]]:
    """One record's story, oldest first: every error (with its run) and every action on it."""
    from po_sync.ledger.schema import sync_run

    events: list[dict[str, Any]] = []
    with ledger.engine.connect() as conn:
        errors = conn.execute(
            sa.select(
                sync_error.c.id,
                sync_error.c.status,
                sync_error.c.error_code,
                sync_error.c.error_message,
                sync_error.c.created_at,
                sync_error.c.resolved_at,
                sync_error.c.sync_run_id,
                sync_run.c.dag_id,
                sync_run.c.run_id,
                sync_run.c.task_id,
                sync_run.c.map_index,
                sync_run.c.try_number,
            )
            .select_from(sync_error.outerjoin(sync_run, sync_run.c.id == sync_error.c.sync_run_id))
            .where(sync_error.c.record_id == record_id)
        )
        for row in errors:
            events.append({"kind": "attempt", **dict(row._mapping)})
        actions = conn.execute(sa.select(sync_action).where(sync_action.c.record_id == record_id))
        for row in actions:
            events.append({"kind": "action", **dict(row._mapping)})
    events.sort(key=lambda e: (e["created_at"], 0 if e["kind"] == "attempt" else 1, e["id"]))
    return events
