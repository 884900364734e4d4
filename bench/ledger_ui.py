"""The error queue with 100,000 ledger rows: first page and a filtered page, on SQLite and PostgreSQL.

Fills a ledger with 100,000 ``sync_record`` rows over 10 flows (8 % failed or quarantined, each
with its ``sync_error``), 2,000 ``sync_run`` rows, then serves the queue through the real app
(mounted under ``/po-sync`` as the api-server mounts it; the Airflow user resolved as in the UI, the
metadata DB a fresh SQLite one) and times: the first page (``GET /po-sync/``, the whole HTML page
with counts, flow health and 50 records), a filtered page (flow + status + error code + text), and
the same two through the JSON API. Median of 7 after one warm-up. Limit: 300 ms each.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import result

ROWS = 100_000
FLOWS = [f"flow_{i:02d}" for i in range(10)]
LIMIT_MS = 300.0
RUNS = 7
PG_ADMIN_URL = os.environ.get("PO_SYNC_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _fill(url: str) -> None:
    import sqlalchemy as sa

    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine
    from po_sync.ledger.schema import sync_error, sync_record, sync_run

    ledger = Ledger(get_engine(url))
    rnd = random.Random(11)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    runs = []
    for i in range(2000):
        flow = FLOWS[i % len(FLOWS)]
        runs.append(
            {
                "id": i + 1,
                "flow": flow,
                "dag_id": flow,
                "run_id": f"scheduled__{i // len(FLOWS)}",
                "task_id": "sync",
                "status": "failed" if i % 50 == 0 else "completed",
                "message": "NoSuchBucket: bucket vendor-v0001 missing" if i % 50 == 0 else None,
                "started_at": start + timedelta(minutes=15 * (i // len(FLOWS))),
            }
        )
    records, errors = [], []
    for i in range(ROWS):
        flow = FLOWS[i % len(FLOWS)]
        roll = rnd.random()
        status = (
            "failed"
            if roll < 0.03
            else "quarantined"
            if roll < 0.08
            else "ignored"
            if roll < 0.16
            else "synced"
        )
        when = start + timedelta(seconds=25 * i)
        code = (
            rnd.choice(["VALIDATION_ERROR", "HOTWAX_FORMAT", "USER_ERROR"])
            if status in ("failed", "quarantined")
            else None
        )
        records.append(
            {
                "id": i + 1,
                "flow": flow,
                "entity_type": "purchase_order" if i % 3 else "item_receipt",
                "source_system": "netsuite",
                "source_id": f"PO{i:07d}",
                "target_system": "hotwax",
                "target_id": f"file-{i // 100}.csv",
                "status": status,
                "attempts": 1,
                "last_error_code": code,
                "last_error_message": f"PO{i:07d}: line 2 quantity is not a number" if code else None,
                "trace_key": f"PurchaseOrder-{i // 100}.csv",
                "dag_id": flow,
                "run_id": f"scheduled__{i // 500}",
                "task_id": "sync",
                "sync_run_id": (i % 2000) + 1,
                "created_at": when,
                "updated_at": when,
            }
        )
        if code:
            errors.append(
                {
                    "record_id": i + 1,
                    "sync_run_id": (i % 2000) + 1,
                    "status": status,
                    "error_code": code,
                    "error_message": records[-1]["last_error_message"],
                    "created_at": when,
                }
            )
    with ledger.engine.begin() as conn:
        conn.execute(sync_run.insert(), runs)
        for chunk in range(0, ROWS, 10_000):
            conn.execute(sync_record.insert(), records[chunk : chunk + 10_000])
        conn.execute(sync_error.insert(), errors)
    with ledger.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
            for table in ("sync_record", "sync_run"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
        else:
            conn.exec_driver_sql("ANALYZE")


def _client() -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from po_sync.ui.ledger_app import create_app

    app = create_app(auth_dependency=lambda: None)
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="bench", role="admin")
    root = FastAPI()
    root.mount("/po-sync", app)
    return TestClient(root)


def _time(client: Any, path: str, params: dict[str, Any]) -> float:
    response = client.get(path, params=params)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(samples)


FILTERED = {"flow": "flow_03", "status": "quarantined", "error_code": "HOTWAX_FORMAT", "q": "PO00"}


def _measure(db: str, conn: dict[str, Any], url: str) -> list[dict[str, Any]]:
    os.environ["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(conn)
    _fill(url)
    client = _client()
    probe = client.get("/po-sync/api/records", params=FILTERED).json()
    assert probe["total"] > 0, probe
    out = []
    for name, path, params in (
        ("first_page_ms", "/po-sync/", {}),
        ("filtered_page_ms", "/po-sync/", FILTERED),
        ("api_first_page_ms", "/po-sync/api/records", {}),
        ("api_filtered_page_ms", "/po-sync/api/records", FILTERED),
    ):
        out.append(
            result(
                f"ledger_ui.{name}.{db}", _time(client, path, params), "ms", LIMIT_MS, higher_is_better=False
            )
        )
    return out


def run() -> list[dict[str, Any]]:
    home = Path(tempfile.mkdtemp(prefix="po_sync_bench_ui_"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.utils import db

    db.initdb()
    results = _measure(
        "sqlite", {"conn_type": "sqlite", "host": str(home / "ledger.db")}, f"sqlite:///{home / 'ledger.db'}"
    )

    import sqlalchemy as sa

    name = f"po_sync_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    pg = sa.make_url(PG_ADMIN_URL).set(database=name)
    try:
        results += _measure(
            "postgresql",
            {"conn_type": "postgres", "host": pg.host, "port": pg.port, "login": pg.username, "schema": name},
            pg.render_as_string(hide_password=False),
        )
    finally:
        from po_sync.ledger import engine as engine_module

        for key, engine in list(engine_module._engines.items()):
            if name in key:
                engine.dispose()
                del engine_module._engines[key]
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return results
