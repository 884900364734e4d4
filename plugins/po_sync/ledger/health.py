"""Flow health: is each flow running, since when is it failing, and why (grouped, with hints).

Record-level errors live in ``sync_record``; run-level failures (a missing bucket, a rejected login)
do not make records, so they are gathered here from three places: Airflow's own DAG runs (when the
caller can read them: the api-server can), the ledger's failed ``sync_run`` rows, and the
``task_failure`` notices the failure callback writes for every failed task (also tasks that never
opened a ledger run, such as sensors). Failures are grouped by their message, so 27 failed tasks
with one cause read as one line with "× 27" and a hint where the cause is known.

Only *current* failures are grouped: those inside the health window (the last
:data:`DEFAULT_WINDOW`, 7 days, unless the caller asks for another) and, per flow, after that flow's
last successful run. A cause fixed last month, or fixed before the last green run, no longer
dominates the list however many rows it left. Both queries use indexes (``sync_notice`` on
``(flow, kind, created_at)``, ``sync_run`` on ``(flow, started_at)``), so the cost follows the
failures in the window, not the size of the ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from po_sync.ledger.schema import RunStatus, sync_notice, sync_run
from po_sync.ledger.store import Ledger, utcnow

#: How far back flow health looks for failures unless asked otherwise.
DEFAULT_WINDOW = timedelta(days=7)

#: (pattern, hint) for causes a person can fix without reading a log
KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"NoSuchBucket|bucket\b.*\b(missing|does not exist|not found)", re.I),
        "The S3 bucket is missing: create it, or fix the bucket name in the po_sync_vendors Variable.",
    ),
    (
        re.compile(r"INVALID_LOGIN|invalid_client|invalid_grant|\b401\b|Unauthorized|login.*rejected", re.I),
        "The login was rejected: check the connection's credentials (Admin → Connections).",
    ),
    (
        re.compile(r"\bpool\b.*(not found|does not exist|missing)|no such pool", re.I),
        "A pool the DAG uses does not exist: create it under Admin → Pools.",
    ),
    (
        re.compile(r"conn(ection)?[_ ]id\b.*(isn't defined|not defined|not found)|isn't defined", re.I),
        "A connection is missing: add it under Admin → Connections.",
    ),
    (
        re.compile(r"\b429\b|rate limit|too many requests", re.I),
        "The remote system is rate-limiting us: lower the pool's slots or the schedule's frequency.",
    ),
    (
        re.compile(r"Connection refused|timed out|timeout|Name or service not known|\b50[234]\b", re.I),
        "The remote system did not answer: check that it is up and reachable from the workers.",
    ),
)

_VOLATILE = re.compile(r"\b(?:[0-9a-f]{8}-[0-9a-f-]{27}|\d{4}-\d\d-\d\dT[\d:.+]+|0x[0-9a-f]+)\b", re.I)


def hint_for(message: str) -> str | None:
    for pattern, hint in KNOWN_CAUSES:
        if pattern.search(message):
            return hint
    return None


def group_key(message: str) -> str:
    """The message's first line, without values that differ per occurrence (uuids, timestamps)."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else "(no message)"
    return _VOLATILE.sub("…", first)[:300]


@dataclass(frozen=True)
class DagRunInfo:
    """One Airflow DAG run, as the health view needs it."""

    dag_id: str
    run_id: str
    state: str
    when: datetime | None


def _summarise_runs(runs: list[DagRunInfo]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: (r.when is not None, r.when), reverse=True)
    finished = [r for r in runs if r.state in ("success", "failed")]
    last_success = next((r for r in finished if r.state == "success"), None)
    failing: list[DagRunInfo] = []
    for run in finished:
        if run.state == "success":
            break
        failing.append(run)
    return {
        "last_run": runs[0].when if runs else None,
        "last_run_state": runs[0].state if runs else None,
        "last_run_id": runs[0].run_id if runs else None,
        "last_success": last_success.when if last_success else None,
        "consecutive_failed_runs": len(failing),
        "failing_since": failing[-1].when if failing else None,
    }


def _runs_from_ledger(ledger: Ledger) -> list[DagRunInfo]:
    """DAG runs as the ledger saw them: a DAG run failed if any of its task runs failed."""
    failed = sa.func.sum(sa.case((sync_run.c.status == RunStatus.FAILED.value, 1), else_=0))
    query = (
        sa.select(
            sync_run.c.flow,
            sync_run.c.run_id,
            sa.func.min(sync_run.c.started_at).label("started"),
            failed.label("failed"),
            sa.func.sum(sa.case((sync_run.c.status == RunStatus.PROCESSING.value, 1), else_=0)).label("live"),
        )
        .where(sync_run.c.run_id.is_not(None))
        .group_by(sync_run.c.flow, sync_run.c.run_id)
    )
    with ledger.engine.connect() as conn:
        return [
            DagRunInfo(
                r.flow,
                r.run_id,
                "failed" if r.failed else ("running" if r.live else "success"),
                r.started,
            )
            for r in conn.execute(query)
        ]


def flow_health(
    ledger: Ledger,
    *,
    dag_runs: list[DagRunInfo] | None = None,
    missing_pools: dict[str, list[str]] | None = None,
    flows: list[str] | None = None,
    failure_limit: int = 20_000,
    window: timedelta = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One entry per flow: run summary plus failures grouped by message with hints.

    :param dag_runs: Airflow's DAG runs of the flows (recent ones); without them the ledger's
        own ``sync_run`` rows stand in.
    :param missing_pools: ``{dag_id: [pool, ...]}`` pools a DAG's tasks use that do not exist;
        such tasks never start, so nothing else would report them.
    :param flows: flows to list even if they never ran (the DAGs of this bundle).
    :param failure_limit: a safety cap on the failures read from each table (newest first).
    :param window: only failures this recent are grouped; per flow, only those after its last
        successful run as well (a fixed cause stops showing once the flow runs green).
    """
    since = (now or utcnow()) - window
    runs = dag_runs if dag_runs is not None else _runs_from_ledger(ledger)
    by_flow: dict[str, list[DagRunInfo]] = {}
    for run in runs:
        by_flow.setdefault(run.dag_id, []).append(run)

    failures: dict[str, dict[str, dict[str, Any]]] = {}
    summaries = {flow: _summarise_runs(flow_runs) for flow, flow_runs in by_flow.items()}

    def add(flow: str, message: str, when: datetime | None, source: str) -> None:
        last_success = (summaries.get(flow) or {}).get("last_success")
        if when is not None and last_success is not None and when < last_success:
            return  # before the flow's last green run: that cause is fixed
        key = group_key(message)
        group = failures.setdefault(flow, {}).setdefault(
            key, {"message": key, "count": 0, "last_seen": when, "hint": hint_for(message), "source": source}
        )
        group["count"] += 1
        if when and (group["last_seen"] is None or when > group["last_seen"]):
            group["last_seen"] = when

    with ledger.engine.connect() as conn:
        notices = conn.execute(
            sa.select(
                sync_notice.c.flow,
                sync_notice.c.dag_id,
                sync_notice.c.run_id,
                sync_notice.c.task_id,
                sync_notice.c.map_index,
                sync_notice.c.message,
                sync_notice.c.created_at,
            )
            .where(sync_notice.c.kind == "task_failure", sync_notice.c.created_at >= since)
            .order_by(sync_notice.c.id.desc())
            .limit(failure_limit)
        ).all()
        noticed = {(n.dag_id, n.run_id, n.task_id, n.map_index) for n in notices}
        for n in notices:
            add(n.flow, n.message or "", n.created_at, "task")
        failed_runs = conn.execute(
            sa.select(
                sync_run.c.flow,
                sync_run.c.dag_id,
                sync_run.c.run_id,
                sync_run.c.task_id,
                sync_run.c.map_index,
                sync_run.c.message,
                sync_run.c.finished_at,
            )
            .where(sync_run.c.status == RunStatus.FAILED.value, sync_run.c.started_at >= since)
            .order_by(sync_run.c.id.desc())
            .limit(failure_limit)
        ).all()
        for r in failed_runs:
            if (r.dag_id, r.run_id, r.task_id, r.map_index) not in noticed:
                add(r.flow, r.message or "", r.finished_at, "ledger")
        ledger_flows = {f for (f,) in conn.execute(sa.select(sync_run.c.flow).group_by(sync_run.c.flow))}

    names = sorted(set(by_flow) | set(failures) | ledger_flows | set(missing_pools or {}) | set(flows or ()))
    out = []
    for flow in names:
        entry: dict[str, Any] = {
            "flow": flow,
            **(summaries.get(flow) or _summarise_runs([])),
            "failures_since": since,
            "runs_from": "airflow" if dag_runs is not None else "ledger",
        }
        groups = sorted(
            failures.get(flow, {}).values(),
            key=lambda g: (g["count"], g["last_seen"].timestamp() if g["last_seen"] else 0.0),
            reverse=True,
        )
        for pool in (missing_pools or {}).get(flow, []):
            groups.insert(
                0,
                {
                    "message": f"pool {pool} does not exist",
                    "count": 1,
                    "last_seen": None,
                    "hint": hint_for(f"pool {pool} does not exist"),
                    "source": "airflow",
                },
            )
        entry["failures"] = groups
        entry["healthy"] = not entry["consecutive_failed_runs"] and not (missing_pools or {}).get(flow)
        out.append(entry)
    return out
