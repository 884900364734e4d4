"""Fixtures for the HotWax flow: a NetSuite + SFTP sandbox of its own, the HotWax actor, DAG runs."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures

SMALL_DATA = {
    "vendors": 3,
    "customers": 1,
    "items": 20,
    "locations": 2,
    "purchase_orders": 5,
    "lines_per_po": 3,
    "drop_ship_orders": 1,
    "transfer_orders": 0,
    "custom_records": 0,
}

DEFAULT_CONF: dict[str, dict[str, Any]] = {
    "hotwax_po_export": {
        "resync_po_numbers": [],
        "dry_run": False,
        "remote_dir": "netsuite/purchaseorder/fulfillment",
    },
    "hotwax_receipt_import": {"dry_run": False, "max_file_bytes": 5_000_000, "min_file_age_seconds": 30},
}


@pytest.fixture
def hotwax_sandbox(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh NetSuite (5 Pending Receipt POs, 3 lines each, 1 drop-ship PO) and SFTP server,
    with their connections exported as ``AIRFLOW_CONN_*`` for this test."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(tmp_path / "sandbox", services=["sftp", netsuite]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("PO_SYNC_HOTWAX_CRASH", raising=False)
        yield sb


@pytest.fixture
def actor(hotwax_sandbox: Any) -> Any:
    from po_sync_sandbox.hotwax import HotWaxActor

    return HotWaxActor.from_sandbox(hotwax_sandbox)


@pytest.fixture
def netsuite_store(hotwax_sandbox: Any) -> Any:
    return hotwax_sandbox.services["netsuite"].store


def run_dag(
    bag: Any,
    dag_id: str,
    conf: dict[str, Any] | None = None,
    *,
    retries: int | None = 0,
    sensor_timeout: float | None = None,
) -> Any:
    """``dag.test`` with every param given (an in-process run leaves the last conf in the DAG's params)
    on a fresh copy of the DAG (in-process runs render templates into the task objects,
    so a reused DAG would keep the previous run's params), with task retries set (0 by default: a
    failing case must not wait out retry delays)."""
    dag = copy.deepcopy(bag.get_dag(dag_id))
    for task in dag.tasks:
        if retries is not None:
            task.retries = retries
        if sensor_timeout is not None and hasattr(task, "poke_interval"):
            task.timeout = sensor_timeout
            task.poke_interval = 0.25  # the files a test expects are there before the run
    return dag.test(run_conf={**DEFAULT_CONF[dag_id], **(conf or {})})


def po_status(store: Any, po_id: str) -> str:
    return store.get("purchaseOrder", po_id)["_status"]


def receipts_of(store: Any, po_id: str) -> list[dict[str, Any]]:
    return [d for d in store.iter_docs("itemReceipt") if (d.get("createdFrom") or {}).get("id") == str(po_id)]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)


def new_po(store: Any, *, lines: int = 2, quantity: int = 4) -> str:
    """Create one more Pending Receipt PO (as a buyer would in NetSuite); returns its internal id."""
    vendor = store.query("SELECT id FROM vendor ORDER BY id LIMIT 1")[0]["id"]
    location = store.query("SELECT id FROM location ORDER BY id LIMIT 1")[0]["id"]
    items = [r["id"] for r in store.query("SELECT id FROM item ORDER BY id LIMIT ?", (lines,))]
    body = {
        "entity": {"id": str(vendor)},
        "location": {"id": str(location)},
        "item": {"items": [{"item": {"id": str(i)}, "quantity": quantity, "rate": 2.5} for i in items]},
    }
    return str(store.create("purchaseOrder", body))
