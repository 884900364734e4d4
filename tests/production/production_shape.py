"""Production-shape check: the bundle on PostgreSQL + CeleryExecutor + Redis, every component its own process.

Run by ``.ci/run`` after ``make test`` (``python tests/production/production_shape.py``). It:

1. creates two fresh PostgreSQL databases (Airflow's metadata and the po-sync ledger) and starts the
   sandbox's NetSuite and SFTP stand-ins;
2. migrates the metadata DB and starts ``api-server``, ``scheduler``, ``dag-processor``,
   ``triggerer`` and **two** ``celery worker`` processes (each its own Celery hostname and log
   server port) as separate processes on loopback ports;
3. logs in through ``POST /auth/token``, unpauses a DAG of the bundle and triggers it through
   ``POST /api/v2/dags/{dag_id}/dagRuns`` with conf, then waits for the run to succeed;
4. checks the task ran on a Celery worker and wrote its rows to the ledger in PostgreSQL, and
   that the plugin's ledger page on the api-server shows them (and refuses anonymous callers);
5. runs the whole HotWax family on the workers, twice, as ``make demo`` does (PO export, HotWax
   imports and receives, receipt import; pass 2 finds nothing new and refuses a repeated file), and
   asserts every record exists once: one ledger row per PO and receipt, one NetSuite item receipt
   per synced ledger receipt (no externalId twice), every PO imported by HotWax exactly once;
6. triggers two ``hotwax_receipt_import`` runs at once over the REST API over the same new feeds (a
   manual trigger next to another; ``max_active_runs=1`` queues the second behind the first, and
   HotWax sends one more feed when the first is done, so the second has work and must not import
   the first's feeds again): both succeed, every receipt is in NetSuite once, every feed archived
   once, and the two runs' synced counts add up to the feeds and orders (none counted twice);
7. stops every process by its own pid (and its process group), the sandbox, and drops the databases.

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
from typing import Any

import sqlalchemy as sa

from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port, http
from po_sync_sandbox.demo import run_flow
from po_sync_sandbox.hotwax.demo import HOTWAX_DEMO_FLOWS
from po_sync_sandbox.runner import Sandbox

PG = os.environ.get("PO_SYNC_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "po_sync_healthcheck"
CONF = {"connections": ["po_sync_db"], "fail_on_unhealthy": True}
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}
#: Two Celery workers, as two machines would run them: each its own hostname and log server port.
WORKERS = ("worker1", "worker2")
#: What a Celery worker logs when it takes a task from the queue.
TASK_RECEIVED = "execute_workload"


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


def ledger_queries(ledger_url: str, *queries: tuple[str, dict[str, Any]]) -> list[list[Any]]:
    """The rows of each ``(sql, params)`` read from the ledger on one short-lived connection."""
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            return [conn.execute(sa.text(sql), params).all() for sql, params in queries]
    finally:
        engine.dispose()


def worker_tasks(logs: Path) -> dict[str, int]:
    """How many task workloads each Celery worker took (from its log)."""
    return {w: (logs / f"{w}.log").read_text(errors="replace").count(TASK_RECEIVED) for w in WORKERS}


def run_hotwax_family(stack: AirflowStack, sandbox: Sandbox, ledger_url: str) -> None:
    """HotWax PO export and receipt import, two passes, on the workers; then every record exactly once."""
    stack.ensure_pool(NETSUITE_POOL, 5, "NetSuite account concurrency (sandbox limit)")
    for flow in HOTWAX_DEMO_FLOWS:
        stack.wait_dag(flow.dag_id)
        stack.unpause(flow.dag_id)
    for pass_no in (1, 2):
        for flow in HOTWAX_DEMO_FLOWS:
            result = run_flow(stack, flow, sandbox, ledger_url, pass_no)
            say(
                f"pass {pass_no} {flow.dag_id}: {result['state']} {result['records']} in {result['seconds']}s"
            )
            assert result["state"] == "success", f"{flow.dag_id} pass {pass_no}: {result['tasks']}"
            assert not result["problems"], f"{flow.dag_id} pass {pass_no}: {result['problems']}"
    assert_every_record_once(sandbox, ledger_url)


def _first_done(stack: AirflowStack, dag_id: str, runs: list[str], timeout: float = 600) -> str:
    """The first of ``runs`` to end (it must succeed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_id in runs:
            status, body = stack.api_call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if status == 200 and body.get("state") in ("success", "failed"):
                assert body["state"] == "success", f"{run_id} ended {body['state']}"
                return run_id
        time.sleep(2)
    raise TimeoutError(f"neither of {runs} ended within {timeout}s")


def run_twin_receipt_imports(stack: AirflowStack, sandbox: Sandbox, ledger_url: str) -> None:
    """Step 6: new POs exported and received by HotWax in one feed each, then two receipt imports
    triggered together over the REST API; every receipt once in NetSuite, every feed archived once."""
    from po_sync_sandbox.hotwax import RECEIPT_DIR
    from po_sync_sandbox.hotwax.demo import _STATE

    actor = _STATE["actor"]
    store: Any = sandbox.services["netsuite"].store
    vendor = store.query("SELECT id FROM vendor ORDER BY id LIMIT 1")[0]["id"]
    location = store.query("SELECT id FROM location ORDER BY id LIMIT 1")[0]["id"]
    items = [r["id"] for r in store.query("SELECT id FROM item ORDER BY id LIMIT 2")]
    for _ in range(4):
        store.create(
            "purchaseOrder",
            {
                "entity": {"id": str(vendor)},
                "location": {"id": str(location)},
                "item": {"items": [{"item": {"id": str(i)}, "quantity": 4, "rate": 2.5} for i in items]},
            },
        )
    export = stack.trigger("hotwax_po_export", {})
    assert stack.wait_run("hotwax_po_export", export, timeout=300) == "success", "export before the twins"
    new = actor.import_purchase_orders()
    assert len(new) == 4, f"HotWax imported {new}, expected the 4 new POs"
    feeds = actor.receive(new, partial=True, files=len(new))
    conf = {"dry_run": False, "min_file_age_seconds": 0}
    runs = [stack.trigger("hotwax_receipt_import", conf), stack.trigger("hotwax_receipt_import", conf)]
    say(f"twin receipt imports triggered together: {runs} over {len(feeds)} feeds")
    # max_active_runs=1 queues one behind the other. The first takes every feed; HotWax sends the
    # rest of the goods once it is done, so the second has a feed to wait for (else its sensor waits
    # out its 14 minutes): it must import that one and nothing of the first's again.
    first = _first_done(stack, "hotwax_receipt_import", runs)
    feeds += actor.receive(new)
    states = [stack.wait_run("hotwax_receipt_import", r, timeout=600) for r in runs]
    assert states == ["success", "success"], f"twin imports ended {states}: " + str(
        [stack.task_states("hotwax_receipt_import", r) for r in runs]
    )
    say(f"twin receipt imports: {first} ended first; both success")
    receipts = {
        po: [d for d in store.iter_docs("itemReceipt") if (d.get("createdFrom") or {}).get("id") == po]
        for po in new
    }
    # a partial receipt and the rest: two per PO, never a third
    assert all(len(r) == 2 for r in receipts.values()), {po: len(r) for po, r in receipts.items()}
    archive = actor.files(RECEIPT_DIR / "archive")
    for feed in feeds:
        stem = feed.rsplit(".", 1)[0]
        kept = [n for n in archive if n.startswith(stem)]
        assert kept == [feed], f"{feed} archived as {kept}"
    assert not set(feeds) & set(actor.files(RECEIPT_DIR)), "a feed left in receipt/"
    assert not [n for n in actor.files(RECEIPT_DIR / "error") if any(n.startswith(f[:-5]) for f in feeds)]
    (counts,) = ledger_queries(
        ledger_url,
        (
            "SELECT run_id, sum(count_synced) FROM sync_run WHERE flow = 'hotwax_receipt_import' "
            "AND task_id = 'import_receipts' AND run_id IN (:a, :b) GROUP BY run_id",
            {"a": runs[0], "b": runs[1]},
        ),
    )
    synced = sum(int(c[1] or 0) for c in counts)
    # every feed file and every order (a partial receipt and the rest per PO), each counted by one
    # of the two runs, never by both
    assert synced == len(feeds) + 2 * len(new), f"the twin runs counted {synced} synced ({counts})"
    say(
        f"twin receipt imports: {len(new)} POs, a partial receipt and the rest each once in NetSuite; "
        f"{len(feeds)} feeds archived once; synced per run {counts}"
    )


def assert_every_record_once(sandbox: Sandbox, ledger_url: str) -> None:
    """The ledger and NetSuite agree, and nothing exists twice on either side."""
    from po_sync_sandbox.hotwax.demo import _STATE

    actor = _STATE["actor"]
    netsuite: Any = sandbox.services["netsuite"]
    store = netsuite.store
    rows, twice = ledger_queries(
        ledger_url,
        (
            "SELECT flow, entity_type, status, source_id, target_id FROM sync_record "
            "WHERE flow IN ('hotwax_po_export', 'hotwax_receipt_import')",
            {},
        ),
        (
            "SELECT flow, entity_type, source_id, count(*) FROM sync_record "
            "GROUP BY flow, entity_type, source_system, source_id HAVING count(*) > 1",
            {},
        ),
    )
    assert not twice, f"ledger rows twice: {twice}"
    exported = [r for r in rows if r.flow == "hotwax_po_export" and r.entity_type == "purchase_order"]
    receipts = [r for r in rows if r.flow == "hotwax_receipt_import" and r.entity_type == "item_receipt"]
    synced_receipts = [r for r in receipts if r.status == "synced"]
    assert exported and all(r.status == "synced" for r in exported), f"exported POs: {exported}"
    # HotWax imports a PO twice if it appears in two files: every PO it holds came exactly once.
    assert actor.import_counts and set(actor.import_counts.values()) == {1}, actor.import_counts
    assert set(actor.import_counts) == {r.source_id for r in exported}, (
        "HotWax holds other POs than the ledger sent"
    )
    docs = list(store.iter_docs("itemReceipt"))
    external_ids = [d.get("externalId") for d in docs]
    assert len(external_ids) == len(set(external_ids)), "an item receipt was created twice in NetSuite"
    assert len(docs) == len(synced_receipts), (
        f"NetSuite holds {len(docs)} item receipts, the ledger {len(synced_receipts)} synced ones"
    )
    ids = {str(d.get("id")) for d in docs}
    assert {str(r.target_id) for r in synced_receipts} <= ids, "a ledger receipt points at no NetSuite record"
    say(
        f"every record once: {len(exported)} POs exported (each imported once by HotWax), "
        f"{len(synced_receipts)} item receipts in the ledger = {len(docs)} in NetSuite"
    )


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
    ledger_url = pg_url.set(database=ledger_db).render_as_string(hide_password=False)
    # A queue of this run's own: other runs on the same Redis never take (or give) its tasks.
    queue = f"po_sync_{tag}"
    sandbox = Sandbox(home / "sandbox", services=["sftp", "netsuite"])
    sandbox.start()
    say(f"sandbox up: {', '.join(sandbox.infos)}")
    extra = {
        **sandbox.env(),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        # Only this check's own runs: an unpaused DAG's scheduled run would change the counts it reads.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
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
        for worker in WORKERS:
            args = [
                "celery",
                "worker",
                "--concurrency",
                "2",
                "--queues",
                queue,
                "--celery-hostname",
                f"{worker}@%h",
            ]
            own = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            say(f"started celery {worker} (pid {stack.start(worker, args, env=own)})")
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

        assert sum(worker_tasks(logs).values()) >= 1, "no Celery worker ran the task"

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

        run_hotwax_family(stack, sandbox, ledger_url)
        run_twin_receipt_imports(stack, sandbox, ledger_url)
        assert_every_record_once(sandbox, ledger_url)
        tasks = worker_tasks(logs)
        say(f"tasks taken per Celery worker: {tasks}")
        assert all(f"{w}@" in (logs / f"{w}.log").read_text(errors="replace") for w in WORKERS), (
            "both workers must have joined under their own hostname"
        )
        say(f"PASSED in {time.monotonic() - started:.0f}s")
        return 0
    except Exception as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        print(stack.log_tails(), flush=True)
        return 1
    finally:
        for name, code in stack.stop().items():
            say(f"stopped {name} (pid {stack.procs[name].pid}, exit {code})")
        sandbox.stop()
        for name in (meta_db, ledger_db):
            drop_database(admin, name)
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
