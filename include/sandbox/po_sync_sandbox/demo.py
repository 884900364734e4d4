"""``make demo``: every flow of the bundle, end to end, through a real Airflow on the embedded default.

It starts the sandbox, then Airflow's api-server, scheduler, dag-processor and triggerer on SQLite
with the LocalExecutor (what ``airflow standalone`` runs), and drives each flow as a user would:
trigger with conf over the REST API, wait, read the outcome. The sandbox's actors (vendors, store
staff, suppliers) act between the runs. Every flow runs twice (a group of related flows runs pass 1, then pass 2): the second pass must find nothing
new to send (``ignored``) and nothing duplicated. It prints a summary and writes a JSON report.

Scheduling is switched off (``[scheduler] use_job_schedule = False``) so only the demo's own runs
happen and the counts in the report belong to them.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet

from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port
from po_sync_sandbox.demo_flows import DemoFlow, all_demo_flows
from po_sync_sandbox.runner import Sandbox

ROOT = Path(__file__).resolve().parents[3]
#: The sandbox NetSuite's default concurrency limit; one slot per concurrent NetSuite task.
NETSUITE_POOL_SLOTS = 5
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def ledger_counts(ledger_url: str, run_id: str) -> dict[str, Any]:
    """What the ledger says one DAG run did: its sync_run counts, summed over its tasks."""
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT task_id, status, count_read, count_synced, count_ignored, count_failed, "
                    "count_quarantined FROM sync_run WHERE run_id = :r ORDER BY id"
                ),
                {"r": run_id},
            ).all()
    finally:
        engine.dispose()
    totals = dict.fromkeys(("read", "synced", "ignored", "failed", "quarantined"), 0)
    for row in rows:
        for name in totals:
            totals[name] += int(getattr(row, f"count_{name}"))
    return {"records": totals, "sync_runs": [{"task_id": r.task_id, "status": r.status} for r in rows]}


def run_flow(
    stack: AirflowStack, flow: DemoFlow, sandbox: Sandbox, ledger_url: str, pass_no: int
) -> dict[str, Any]:
    if flow.before is not None:
        flow.before(sandbox, pass_no)
    started = time.monotonic()
    run_id = stack.trigger(flow.dag_id, flow.conf)
    state = stack.wait_run(flow.dag_id, run_id, timeout=flow.timeout)
    result = {
        "pass": pass_no,
        "dag_id": flow.dag_id,
        "run_id": run_id,
        "state": state,
        "seconds": round(time.monotonic() - started, 1),
        "tasks": stack.task_states(flow.dag_id, run_id),
        **ledger_counts(ledger_url, run_id),
    }
    problems = flow.check(result, pass_no) if flow.check else []
    result["problems"] = problems
    return result


def print_summary(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'pass':>4}  {'DAG':<32} {'state':<8} {'read':>5} {'synced':>6} "
        f"{'ignored':>7} {'failed':>6} {'quar.':>5}  secs"
    )
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        c = r["records"]
        print(
            f"{r['pass']:>4}  {r['dag_id']:<32} {r['state']:<8} {c['read']:>5} {c['synced']:>6} "
            f"{c['ignored']:>7} {c['failed']:>6} {c['quarantined']:>5}  {r['seconds']:>4}"
        )
        for problem in r["problems"]:
            print(f"      ! {problem}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".demo"), help="working folder (wiped first)")
    parser.add_argument("--passes", type=int, default=2, help="how many times each flow runs")
    parser.add_argument("--flows", default="", help="comma-separated DAG ids (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("werkzeug", "asyncssh", "mail.log"):  # the stand-ins log every request
        logging.getLogger(noisy).setLevel(logging.WARNING)

    wall = time.monotonic()
    work = Path(args.dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "airflow").mkdir(parents=True)
    flows = [f for f in all_demo_flows() if not args.flows or f.dag_id in args.flows.split(",")]
    ledger_path = work / "ledger.db"
    ledger_url = f"sqlite:///{ledger_path}"
    password = secrets.token_urlsafe(12)
    (work / "airflow" / "passwords.json").write_text(json.dumps({"admin": password}))
    report: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "flows": []}

    say(f"starting the sandbox in {work / 'sandbox'}")
    with Sandbox(work / "sandbox") as sandbox:
        say(f"sandbox up: {', '.join(sandbox.infos)}")
        extra = {
            **sandbox.env(),
            "AIRFLOW_CONN_PO_SYNC_DB": json.dumps(
                {"conn_type": "po_sync_ledger", "host": str(ledger_path), "extra": {"dialect": "sqlite"}}
            ),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # one Fernet key for every component: the X-Series token pair is stored encrypted with it
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        }
        env = airflow_env(
            work / "airflow",
            executor="LocalExecutor",
            sql_alchemy_conn=f"sqlite:///{work / 'airflow' / 'airflow.db'}",
            api_port=free_port(),
            password_file=work / "airflow" / "passwords.json",
            extra=extra,
        )
        stack = AirflowStack(env, work / "logs")
        ok = True
        try:
            say("migrating the Airflow metadata DB (SQLite)")
            stack.run_cli("db", "migrate")
            for name, component_args in COMPONENTS.items():
                say(f"started {name} (pid {stack.start(name, component_args)})")
            stack.wait_healthy()
            stack.login("admin", password)
            stack.ensure_pool(
                NETSUITE_POOL, NETSUITE_POOL_SLOTS, "NetSuite account concurrency (sandbox limit)"
            )
            say(f"Airflow is up at {stack.api} (LocalExecutor, SQLite); running {len(flows)} flow(s)")
            for flow in flows:
                stack.wait_dag(flow.dag_id)
                stack.unpause(flow.dag_id)
            groups: dict[str, list[DemoFlow]] = {}
            for flow in flows:
                groups.setdefault(flow.group or flow.dag_id, []).append(flow)
            for group in groups.values():
                for pass_no in range(1, args.passes + 1):
                    for flow in group:
                        result = run_flow(stack, flow, sandbox, ledger_url, pass_no)
                        report["flows"].append(result)
                        ok = ok and result["state"] == "success" and not result["problems"]
                        say(f"pass {pass_no} {flow.dag_id}: {result['state']} {result['records']}")
        except Exception as exc:
            ok = False
            report["error"] = f"{type(exc).__name__}: {exc}"
            say(f"FAILED: {report['error']}")
            print(stack.log_tails(), flush=True)
        finally:
            stack.stop()

    report.update(
        finished_at=datetime.now(UTC).isoformat(),
        wall_seconds=round(time.monotonic() - wall, 1),
        ok=ok,
        airflow={"executor": "LocalExecutor", "metadata_db": "sqlite", "components": list(COMPONENTS)},
        ledger=str(ledger_path),
    )
    report_path = work / "report.json"
    report_path.write_text(json.dumps(report, indent=2))
    print_summary(report["flows"])
    say(f"{'OK' if ok else 'FAILED'} in {report['wall_seconds']}s; report: {report_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
