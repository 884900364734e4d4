"""One NetSuite account limit across tasks: three task processes at once against the sandbox.

The sandbox (own process) allows 5 requests in flight and answers each after 100 ms, so the account
can serve at most 5 / 0.1 s = 50 requests/s whoever sends them. Three processes (as three Airflow
tasks on one or several workers), each with a hook sized to the whole limit (5 threads), send
``REQUESTS_PER_TASK`` requests each at the same moment. Reported, per slot store (lock files beside
a SQLite ledger; PostgreSQL advisory locks when a server answers at 127.0.0.1:5432):

- ``netsuite.shared_limit[.postgres].rate``: aggregate requests/s ÷ 50/s (target ≥ 0.8).
- ``netsuite.shared_limit[.postgres].rate_limited``: 429s the sandbox sent (target 0).
- ``netsuite.shared_limit[.postgres].peak_in_flight``: the most requests the sandbox saw at once (≤ 5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import result

TASKS = 3
LIMIT = 5
LATENCY_MS = 100
REQUESTS_PER_TASK = 200
PG_ADMIN_URL = os.environ.get("PO_SYNC_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")

_TASK = r"""
import json, sys, time
from po_sync.netsuite.hook import NetSuiteHook
requests = int(sys.argv[1])
with NetSuiteHook("bench_shared") as hook:
    transport = hook.get_conn()  # reads governanceLimits; joins the account's shared slots
    def call(n):
        return transport.request("GET", "/record/v1/vendor", params={"limit": 1}, idempotent=True).status_code
    print("ready", flush=True)
    sys.stdin.readline()  # every task starts at once
    started = time.time()
    codes = [code for _, code in hook.map_concurrent(call, range(requests))]
    ended = time.time()
print(json.dumps({"started": started, "ended": ended, "ok": codes.count(200), "calls": transport.calls}), flush=True)
"""


def _ledger_conn(url: sa.URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"conn_type": "po_sync_ledger", "host": url.database, "extra": {"dialect": "sqlite"}}
    return {
        "conn_type": "po_sync_ledger",
        "host": url.host,
        "port": url.port,
        "login": url.username,
        "schema": url.database,
        "extra": {"dialect": "postgresql"},
    }


def _run_tasks(service: Any, ledger: sa.URL) -> dict[str, float]:
    env = dict(os.environ)
    env["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(_ledger_conn(ledger))
    env["AIRFLOW_CONN_BENCH_SHARED"] = json.dumps(service.connection("tba"))
    tasks = [
        subprocess.Popen(
            [sys.executable, "-c", _TASK, str(REQUESTS_PER_TASK)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(TASKS)
    ]
    for task in tasks:  # Airflow's logging shares stdout: wait for our own line
        assert task.stdout is not None
        while (line := task.stdout.readline()) and line.strip() != "ready":
            pass
        if not line:
            raise RuntimeError("a task ended before it was ready")
    service.reset_stats()
    for task in tasks:
        assert task.stdin is not None
        task.stdin.write("go\n")
        task.stdin.flush()
    outs = []
    for task in tasks:
        out, _ = task.communicate(timeout=600)
        if task.returncode != 0:
            raise RuntimeError(f"a task failed (exit {task.returncode})")
        outs.append(json.loads([x for x in out.splitlines() if x.startswith('{"started"')][-1]))
    stats = service.stats()
    ok = sum(o["ok"] for o in outs)
    if ok != TASKS * REQUESTS_PER_TASK:
        raise AssertionError(f"{ok} of {TASKS * REQUESTS_PER_TASK} requests succeeded")
    wall = max(o["ended"] for o in outs) - min(o["started"] for o in outs)
    return {
        "rate": ok / wall,
        "rate_limited": stats["concurrency_rejected"],
        "peak_in_flight": stats.get("peak_in_flight", 0),
    }


def _results(prefix: str, measured: dict[str, float]) -> list[dict[str, Any]]:
    target = LIMIT / (LATENCY_MS / 1000)
    return [
        result(f"{prefix}.rate", measured["rate"], "requests/s", target, higher_is_better=True),
        {"name": f"{prefix}.rate_limited", "value": measured["rate_limited"], "unit": "429s", "limit": 0,
         "ratio": 1.0 if measured["rate_limited"] == 0 else 0.0},
        {"name": f"{prefix}.peak_in_flight", "value": measured["peak_in_flight"], "unit": "requests",
         "limit": LIMIT, "ratio": round(LIMIT / max(measured["peak_in_flight"], 1), 3)},
    ]  # fmt: skip


def _postgres_database() -> tuple[sa.URL, sa.Engine] | None:
    try:
        admin = sa.create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"po_sync_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - no server here: the file-lock figures stand alone
        return None
    return sa.make_url(PG_ADMIN_URL).set(database=name), admin


def run() -> list[dict[str, Any]]:
    from bench.netsuite import RemoteSandbox

    os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / "po_sync_bench_airflow"))
    service = RemoteSandbox({"purchase_orders": 10, "vendors": 5, "items": 10, "drop_ship_orders": 0})
    results: list[dict[str, Any]] = []
    try:
        service.set_knobs(latency_ms=LATENCY_MS, concurrency_limit=LIMIT, account_concurrency_limit=LIMIT)
        state = Path(tempfile.mkdtemp(prefix="bench-shared-limit-"))
        results += _results(
            "netsuite.shared_limit", _run_tasks(service, sa.make_url(f"sqlite:///{state / 'ledger.db'}"))
        )
        pg = _postgres_database()
        if pg is not None:
            url, admin = pg
            try:
                results += _results("netsuite.shared_limit.postgres", _run_tasks(service, url))
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
                admin.dispose()
    finally:
        service.stop()
    return results


if __name__ == "__main__":
    for line in run():
        print(json.dumps(line))
