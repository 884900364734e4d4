"""Production-shape check: the bundle on PostgreSQL + CeleryExecutor + Redis, every component its own process.

Run by ``.ci/run`` after ``make test`` (``python tests/production/production_shape.py``). It:

1. creates two fresh PostgreSQL databases (Airflow's metadata and the po-sync ledger);
2. migrates the metadata DB and starts ``api-server``, ``scheduler``, ``dag-processor``,
   ``triggerer`` and ``celery worker`` as separate processes on loopback ports;
3. logs in through ``POST /auth/token``, unpauses a DAG of the bundle and triggers it through
   ``POST /api/v2/dags/{dag_id}/dagRuns`` with conf, then waits for the run to succeed;
4. checks the task ran on the Celery worker and wrote its rows to the ledger in PostgreSQL;
5. stops every process by its own pid (and its process group) and drops the databases.

Where PostgreSQL or Redis does not answer (a laptop), it says so and exits 0, unless ``CI`` is
set, where it must run and a missing service is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def http(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
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


def wait_for(what: str, check, timeout: float, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Stack:
    """The Airflow processes of one production-shape run, each started in its own session."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str, timeout: float = 300) -> None:
        subprocess.run([str(BIN / "airflow"), *args], env=self.env, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=open(self.logs / f"{args[0]}-{args[-1]}.log", "wb"))

    def start(self, name: str, args: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        say(f"started {name} (pid {self.procs[name].pid})")

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"component(s) exited early: {dead}; see logs in {self.logs}")

    def stop(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
            say(f"stopped {name} (pid {proc.pid}, exit {proc.returncode})")


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
    logs.mkdir()
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    meta_url = pg_url.set(database=meta_db).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/7",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CELERY__FLOWER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
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
    stack = Stack(env, logs)
    started = time.monotonic()
    create_database(admin, meta_db)
    create_database(admin, ledger_db)
    try:
        say(f"metadata DB {meta_db}, ledger DB {ledger_db}, AIRFLOW_HOME {home}")
        stack.airflow("db", "migrate")
        say("metadata DB migrated")
        for name, args in COMPONENTS.items():
            stack.start(name, args)

        def health() -> bool:
            stack.check_alive()
            status, body = http("GET", f"{api}/api/v2/monitor/health")
            if status != 200:
                return False
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return all((body.get(p) or {}).get("status") == "healthy" for p in parts)

        wait_for("every component healthy", health, timeout=240)
        say("api-server, scheduler, triggerer and dag-processor report healthy")

        status, body = http("POST", f"{api}/auth/token", body={"username": "admin", "password": password})
        assert status == 201, f"POST /auth/token -> {status} {body}"
        token = body["access_token"]
        status, _ = http("GET", f"{api}/api/v2/dags")
        assert status == 401, f"the API must refuse calls without a token, got {status}"

        wait_for(f"{DAG_ID} parsed", lambda: http("GET", f"{api}/api/v2/dags/{DAG_ID}", token=token)[0] == 200, 180)
        status, body = http("PATCH", f"{api}/api/v2/dags/{DAG_ID}", token=token, body={"is_paused": False})
        assert status == 200, f"unpause -> {status} {body}"

        status, body = http(
            "POST", f"{api}/api/v2/dags/{DAG_ID}/dagRuns", token=token, body={"logical_date": None, "conf": CONF}
        )
        assert status == 200, f"trigger -> {status} {body}"
        run_id = body["dag_run_id"]
        say(f"triggered {DAG_ID} run {run_id} with conf {CONF}")

        def finished() -> str | None:
            stack.check_alive()
            state = http("GET", f"{api}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token=token)[1]["state"]
            return state if state in ("success", "failed") else None

        state = wait_for("the DAG run to finish", finished, timeout=300)
        tis = http("GET", f"{api}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", token=token)[1]
        ti_summary = {ti["task_id"]: (ti["state"], ti.get("executor"), ti.get("queue")) for ti in tis["task_instances"]}
        say(f"run finished: {state}; task instances: {ti_summary}")
        assert state == "success", f"run ended {state}; see {logs}"

        worker_log = (logs / "celery-worker.log").read_text(errors="replace")
        assert "check_connections" in worker_log or run_id in worker_log, "the Celery worker never ran the task"

        ledger = sa.create_engine(pg_url.set(database=ledger_db))
        with ledger.connect() as conn:
            run_row = conn.execute(
                sa.text("SELECT status, count_read, count_synced, count_failed FROM sync_run WHERE dag_id=:d AND run_id=:r"),
                {"d": DAG_ID, "r": run_id},
            ).one()
            record = conn.execute(
                sa.text(
                    "SELECT status, target_system FROM sync_record WHERE flow=:d AND source_id='po_sync_db' AND run_id=:r"
                ),
                {"d": DAG_ID, "r": run_id},
            ).one()
        ledger.dispose()
        assert tuple(run_row) == ("completed", 1, 1, 0), f"unexpected sync_run row {tuple(run_row)}"
        assert record.status == "synced", f"unexpected sync_record status {record.status}"
        say(f"ledger in PostgreSQL: sync_run {tuple(run_row)}, sync_record {record.status}")
        say(f"PASSED in {time.monotonic() - started:.0f}s")
        return 0
    except Exception as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        for log in sorted(logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-25:]
            print(f"----- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail), flush=True)
        return 1
    finally:
        stack.stop()
        for name in (meta_db, ledger_db):
            drop_database(admin, name)
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
