"""netsuite_vendor_po_export's trigger params through Airflow's REST API, as a user's script sends them.

A real Airflow (api-server, scheduler, dag-processor; LocalExecutor on SQLite) runs against the
session sandbox; runs are triggered with ``POST /api/v2/dags/{id}/dagRuns`` and conf.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from po_sync.ledger import Ledger
from po_sync.ledger.engine import get_engine
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port
from po_sync_sandbox.vendors import VendorWorld, world_config

pytestmark = pytest.mark.e2e

DAG_ID = "netsuite_vendor_po_export"
# Buckets of this module's own (suffix), given to Airflow through the po_sync_vendors Variable.
CONFIG = world_config(["V0001", "V0002", "V0003"], suffix="-rest")
VENDOR = CONFIG["vendors"][0]


@pytest.fixture(scope="module")
def stack(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    world = VendorWorld.from_sandbox(sandbox, CONFIG)
    world.setup()
    home = tmp_path_factory.mktemp("rest_airflow")
    ledger_path = home / "ledger.db"
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    env = airflow_env(
        home,
        executor="LocalExecutor",
        sql_alchemy_conn=f"sqlite:///{home / 'airflow.db'}",
        api_port=free_port(),
        password_file=home / "passwords.json",
        extra={
            **sandbox.env(),
            "AIRFLOW_CONN_PO_SYNC_DB": json.dumps({"conn_type": "sqlite", "host": str(ledger_path)}),
            "AIRFLOW_VAR_PO_SYNC_VENDORS": json.dumps(CONFIG),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        },
    )
    airflow = AirflowStack(env, home / "logs")
    try:
        airflow.run_cli("db", "migrate")
        for name in ("api-server", "scheduler", "dag-processor"):
            airflow.start(name, [name])
        _wait_api(airflow)
        airflow.login("admin", password)
        airflow.ensure_pool(NETSUITE_POOL, 5, "NetSuite")
        airflow.wait_dag(DAG_ID)
        airflow.unpause(DAG_ID)
        yield airflow, world, Ledger(get_engine(f"sqlite:///{ledger_path}"))
    finally:
        airflow.stop()


def _wait_api(airflow: AirflowStack) -> None:
    from po_sync_sandbox.airflow_stack import http, wait_for

    def up() -> bool:
        airflow.check_alive()
        status, body = http("GET", f"{airflow.api}/api/v2/monitor/health")
        return status == 200 and body["scheduler"]["status"] == "healthy"

    wait_for("api-server and scheduler", up, 240)


def keys(world: VendorWorld, bucket: str) -> set[str]:
    listed = world.s3.list_objects_v2(Bucket=bucket)
    return {obj["Key"] for obj in listed.get("Contents", [])}


def run(airflow: AirflowStack, conf: dict[str, Any]) -> str:
    run_id = airflow.trigger(DAG_ID, conf)
    assert airflow.wait_run(DAG_ID, run_id, timeout=300) == "success", airflow.log_tails()
    return run_id


def test_dry_run_one_vendor_and_resync_through_the_rest_api(stack):
    airflow, world, ledger = stack
    others = {v["bucket"]: keys(world, v["bucket"]) for v in CONFIG["vendors"][1:]}

    run(airflow, {"vendor": VENDOR["vendor_id"], "dry_run": True})
    assert keys(world, VENDOR["bucket"]) == set(), "a dry run writes nothing"
    assert ledger.status_counts(DAG_ID) == {}, "a dry run records nothing"

    run(airflow, {"vendor": VENDOR["vendor_id"]})
    written = keys(world, VENDOR["bucket"])
    assert written and all("PurchaseOrder/" in key for key in written)
    assert {v: keys(world, v) for v in others} == others, "one vendor only: the others are untouched"
    synced = ledger.status_counts(DAG_ID)
    assert synced == {"synced": len(written)}

    number = sorted(written)[0].rsplit("/", 1)[-1].split(".")[0]
    run(airflow, {"vendor": VENDOR["vendor_id"], "resync_po_numbers": [number]})
    assert keys(world, VENDOR["bucket"]) == written, "a resync rewrites the same key, no new file"
    versions = world.s3.list_object_versions(Bucket=VENDOR["bucket"], Prefix=sorted(written)[0])["Versions"]
    assert len(versions) == 2, "the resynced PO was sent again as a new version"


def test_bad_params_are_refused_by_the_api(stack):
    airflow, _, _ = stack
    status, body = airflow.api_call(
        "POST",
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        {"logical_date": None, "conf": {"resync_po_numbers": ["bad po;"]}},
    )
    assert status == 400, body
    assert "resync_po_numbers" in json.dumps(body)
