"""What the queue needs from Airflow itself: the flows' DAG runs, their params, missing pools, and a
way to trigger a run. The api-server calls its own REST API (``/api/v2``) with the caller's token,
so Airflow's own permission checks and validation apply to a run the queue triggers.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from po_sync.ledger.health import DagRunInfo

log = logging.getLogger(__name__)

#: how many recent DAG runs per flow the health view reads
RUNS_PER_FLOW = 50


def recent_dag_runs(dag_ids: list[str]) -> list[DagRunInfo] | None:
    """Recent runs of ``dag_ids`` from Airflow's metadata database; None when it cannot be read."""
    if not dag_ids:
        return []
    try:
        import sqlalchemy as sa
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        ranked = (
            sa.select(
                DagRun.dag_id,
                DagRun.run_id,
                DagRun.state,
                DagRun.run_after,
                sa.func.row_number()
                .over(partition_by=DagRun.dag_id, order_by=DagRun.run_after.desc())
                .label("n"),
            )
            .where(DagRun.dag_id.in_(dag_ids))
            .subquery()
        )
        with create_session() as session:
            rows = session.execute(sa.select(ranked).where(ranked.c.n <= RUNS_PER_FLOW)).all()
        return [DagRunInfo(r.dag_id, r.run_id, str(r.state), r.run_after) for r in rows]
    except Exception:  # noqa: BLE001 - the ledger's own run history stands in
        log.warning("could not read DAG runs from Airflow's database", exc_info=True)
        return None


def po_sync_dag_ids(tag: str = "po-sync") -> list[str]:
    """The DAGs tagged ``po-sync`` in Airflow (every flow of this bundle carries the tag)."""
    try:
        import sqlalchemy as sa
        from airflow.models.dag import DagTag
        from airflow.utils.session import create_session

        with create_session() as session:
            return sorted(set(session.scalars(sa.select(DagTag.dag_id).where(DagTag.name == tag))))
    except Exception:  # noqa: BLE001
        log.warning("could not read DAG tags from Airflow's database", exc_info=True)
        return []


def missing_pools(dag_ids: list[str]) -> dict[str, list[str]]:
    """``{dag_id: [pool, ...]}`` for pools the DAGs' tasks use that do not exist in Airflow."""
    try:
        import sqlalchemy as sa
        from airflow.models.pool import Pool
        from airflow.models.serialized_dag import SerializedDagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            pools = set(session.scalars(sa.select(Pool.pool)))
            out: dict[str, list[str]] = {}
            for dag_id in dag_ids:
                dag = SerializedDagModel.get_dag(dag_id, session=session)
                if dag is None:
                    continue
                used = {str(p) for t in dag.tasks if (p := getattr(t, "pool", None))}
                if missing := sorted(p for p in used if p not in pools):
                    out[dag_id] = missing
            return out
    except Exception:  # noqa: BLE001
        log.warning("could not read pools from Airflow's database", exc_info=True)
        return {}


def api_base(request_base: str) -> str:
    """Airflow's own URL: ``[api] base_url`` when it is absolute, else the URL the caller used."""
    try:
        from airflow.configuration import conf

        configured = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    except Exception:  # noqa: BLE001
        configured = ""
    return configured if configured.startswith("http") else request_base.rstrip("/")


def _call(method: str, url: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None, method=method
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def dag_params(base: str, token: str | None, dag_id: str) -> set[str]:
    status, body = _call("GET", f"{base}/api/v2/dags/{quote(dag_id, safe='')}/details", token)
    if status != 200 or not isinstance(body, dict):
        return set()
    return set((body.get("params") or {}).keys())


def trigger_dag_run(base: str, token: str | None, dag_id: str, conf: dict[str, Any]) -> str:
    """``POST /api/v2/dags/{dag_id}/dagRuns``; returns the run id or raises with Airflow's answer."""
    status, body = _call(
        "POST",
        f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns",
        token,
        {"logical_date": None, "conf": conf},
    )
    if status != 200 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else body
        raise RuntimeError(f"Airflow refused to trigger {dag_id}: HTTP {status} {detail}")
    return str(body["dag_run_id"])


def retry_conf(params: set[str], records: list[dict[str, Any]], actor: str) -> dict[str, Any]:
    """The conf of a retry run: names the records; export flows also get ``resync_po_numbers``."""
    conf: dict[str, Any] = {}
    if "resync_po_numbers" in params:
        conf["resync_po_numbers"] = sorted(
            {str(r["source_id"]) for r in records if r.get("entity_type") == "purchase_order"}
        )
    # Airflow keeps conf keys a DAG does not declare (they become params of the run).
    conf["po_sync_retry"] = {"record_ids": [int(r["id"]) for r in records], "requested_by": actor}
    return conf
