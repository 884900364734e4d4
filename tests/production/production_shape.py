"""Production-shape check: the bundle on PostgreSQL + CeleryExecutor + Redis, every component its own process.

Run by ``.ci/run`` after ``make test`` (``python tests/production/production_shape.py``). It:

1. creates two fresh PostgreSQL databases (Airflow's metadata and the po-sync ledger);
2. migrates the metadata DB and starts ``api-server``, ``scheduler``, ``dag-processor``,
   ``triggerer`` and ``celery worker`` as separate processes on loopback ports;
3. logs in through ``POST /auth/token``, unpauses a DAG of the bundle and triggers it through
   ``POST /api/v2/dags/{dag_id}/dagRuns`` with conf, then waits for the run to succeed;
4. checks the task ran on the Celery worker and wrote its rows to the ledger in PostgreSQL, and
   that the plugin's ledger page on the api-server shows them (and refuses anonymous callers);
5. stops every process by its own pid (and its process group) and drops the databases.

Where PostgreSQL or Redis does not answer (a laptop), it says so and exits 0, unless ``CI`` is
set, where it must run and a missing service is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port, http

PG = os.environ.get("PO_SYNC_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "po_sync_healthcheck"
CONF = {"connections": ["po_sync_db"], "fail_on_unhealthy": True}
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "celery-worker": ["celery", "worker", "--concurrency", "2"],
}


def say(message: str) -> None:
    print(f"[production-shape] {message}", flush=True)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def create_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    in_ci = bool(os.environ.get("CI"))
    pg_url = sa.make_url(PG)
    missing = [
        name
        for name, (host, port) in {
            "PostgreSQL": (pg_url.host or "127.0.0.1", pg_url.port or 5432),
            "Redis": (REDIS_HOST, REDIS_PORT),
        }.items()
        if not reachable(host, port)
    ]
    if missing:
        say(f"{' and '.join(missing)} not reachable on this machine")
        if in_ci:
            say("FAILED: CI must run the production-shape test")
            return 1
        say("skipped (not CI)")
        return 0

    tag = secrets.token_hex(4)
    meta_db, ledger_db = f"po_sync_af_{tag}", f"po_sync_ledger_{tag}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    home = Path(tempfile.mkdtemp(prefix="po_sync_prod_"))
    logs = home / "logs-components"
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    meta_url = pg_url.set(database=meta_db).render_as_string(hide_password=False)
    extra = {
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/7",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY__FLOWER_PORT": str(free_port()),
        "AIRFLOW_CONN_PO_SYNC_DB": json.dumps(
            {
                "conn_type": "po_sync_ledger",
                "host": pg_url.host or "127.0.0.1",
                "port": pg_url.port or 5432,
                "login": pg_url.username or "postgres",
                "schema": ledger_db,
                "extra": {"dialect": "postgresql"},
            }
        ),
    }
    env = airflow_env(
        home,
        executor="CeleryExecutor",
        sql_alchemy_conn=meta_url,
        api_port=free_port(),
        password_file=home / "passwords.json",
        extra=extra,
    )
    stack = AirflowStack(env, logs)
    api = stack.api
    started = time.monotonic()
    create_database(admin, meta_db)
    create_database(admin, ledger_db)
    try:
        say(f"metadata DB {meta_db}, ledger DB {ledger_db}, AIRFLOW_HOME {home}")
        stack.run_cli("db", "migrate")
        say("metadata DB migrated")
        for name, args in COMPONENTS.items():
            say(f"started {name} (pid {stack.start(name, args)})")
        stack.wait_healthy()
        say("api-server, scheduler, triggerer and dag-processor report healthy")

        status, _ = http("GET", f"{api}/api/v2/dags")
        assert status == 401, f"the API must refuse calls without a token, got {status}"
        stack.login("admin", password)
        stack.wait_dag(DAG_ID)
        stack.unpause(DAG_ID)
        run_id = stack.trigger(DAG_ID, CONF)
        say(f"triggered {DAG_ID} run {run_id} with conf {CONF}")
        state = stack.wait_run(DAG_ID, run_id, timeout=300)
        say(f"run finished: {state}; task instances: {stack.task_states(DAG_ID, run_id)}")
        assert state == "success", f"run ended {state}; see {logs}"

        worker_log = (logs / "celery-worker.log").read_text(errors="replace")
        assert "check_connections" in worker_log or run_id in worker_log, (
            "the Celery worker never ran the task"
        )

        ledger = sa.create_engine(pg_url.set(database=ledger_db))
        with ledger.connect() as conn:
            run_row = conn.execute(
                sa.text(
                    "SELECT status, count_read, count_synced, count_failed FROM sync_run "
                    "WHERE dag_id=:d AND run_id=:r"
                ),
                {"d": DAG_ID, "r": run_id},
            ).one()
            record = conn.execute(
                sa.text(
                    "SELECT status, target_system FROM sync_record "
                    "WHERE flow=:d AND source_id='po_sync_db' AND run_id=:r"
                ),
                {"d": DAG_ID, "r": run_id},
            ).one()
        ledger.dispose()
        assert tuple(run_row) == ("completed", 1, 1, 0), f"unexpected sync_run row {tuple(run_row)}"
        assert record.status == "synced", f"unexpected sync_record status {record.status}"
        say(f"ledger in PostgreSQL: sync_run {tuple(run_row)}, sync_record {record.status}")

        # The plugin's ledger page on the api-server: refused without a login, right with one.
        assert http("GET", f"{api}/po-sync/api/summary")[0] == 401, "the ledger page must need a login"
        status, summary = stack.api_call("GET", f"/po-sync/api/summary?flow={DAG_ID}")
        assert status == 200, f"GET /po-sync/api/summary -> {status} {summary}"
        (flow,) = summary["flows"]
        assert flow["records"].get("synced") == 1, f"ledger page shows {flow}"
        say(f"ledger page on the api-server shows {flow['records']}")
        say(f"PASSED in {time.monotonic() - started:.0f}s")
        return 0
    except Exception as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        print(stack.log_tails(), flush=True)
        return 1
    finally:
        for name, code in stack.stop().items():
            say(f"stopped {name} (pid {stack.procs[name].pid}, exit {code})")
        for name in (meta_db, ledger_db):
            drop_database(admin, name)
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
