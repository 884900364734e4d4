"""Fixtures for the Onetrail flows: NetSuite + Onetrail sFTP sandbox, eInteract fields set, the hub actor."""

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
    "purchase_orders": 14,
    "lines_per_po": 3,
    "drop_ship_orders": 1,
    "transfer_orders": 0,
    "custom_records": 0,
}

#: the sensors' poke interval and timeout in tests (seconds): the files a test expects are in place before
#: the run, so a longer wait only delays the soft-fail of an empty folder
POKE_INTERVAL = 0.25
SENSOR_TIMEOUT = 1.0

DEFAULT_CONF: dict[str, dict[str, Any]] = {
    "onetrail_po_submit": {"resync_po_numbers": [], "dry_run": False},
    "onetrail_inbound": {"dry_run": False},
}


@pytest.fixture
def onetrail_sandbox(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh NetSuite and Onetrail sFTP with the eInteract fields set; connections and the
    ``po_sync_onetrail`` Variable exported for this test."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.onetrail.world import prepare_netsuite
    from po_sync_sandbox.runner import Sandbox

    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(tmp_path / "sandbox", services=["onetrail_sftp", netsuite]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        settings = prepare_netsuite(netsuite.store)
        monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_ONETRAIL", json.dumps(settings))
        monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE", raising=False)
        sb.onetrail_settings = settings
        yield sb


@pytest.fixture
def hub(onetrail_sandbox: Any) -> Any:
    from po_sync_sandbox.onetrail import OnetrailHub
    from po_sync_sandbox.onetrail.world import mpn_for

    store = onetrail_sandbox.services["netsuite"].store
    last_item = store.query("SELECT itemid FROM item ORDER BY id DESC LIMIT 1")[0]["itemid"]
    return OnetrailHub.from_sandbox(onetrail_sandbox, added_mpn=mpn_for(last_item))


@pytest.fixture
def store(onetrail_sandbox: Any) -> Any:
    return onetrail_sandbox.services["netsuite"].store


def run_dag(bag: Any, dag_id: str, conf: dict[str, Any] | None = None, *, retries: int | None = 0) -> Any:
    """``dag.test`` on a fresh copy of the DAG with every param given and task retries set."""
    dag = copy.deepcopy(bag.get_dag(dag_id))
    for task in dag.tasks:
        if retries is not None:
            task.retries = retries
        if hasattr(task, "poke_interval"):
            # dag.test runs a deferred trigger inline without its timeout: poke instead, so an empty
            # folder soft-fails (skips) after SENSOR_TIMEOUT as the triggerer would after its timeout. A file
            # already there is found by the first poke, which always runs.
            task.deferrable = False
            task.timeout = SENSOR_TIMEOUT
            task.poke_interval = POKE_INTERVAL
    return dag.test(run_conf={**DEFAULT_CONF[dag_id], **(conf or {})})


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def flagged_pos(store: Any) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT id, tranid, custbody_onetrail_submit_status AS status, custbody_onetrail_submit_error AS error "
        "FROM \"transaction\" WHERE type = 'PurchOrd' AND custbody_onetrail_submit = 'T' ORDER BY id"
    )
    return [{**row, "id": str(row["id"])} for row in rows]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)


@pytest.fixture
def bare_onetrail_sandbox(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """NetSuite + Onetrail sFTP with nothing set up for Onetrail (the demo sets itself up); no
    ``po_sync_onetrail`` Variable, so the operators read the example settings file as the demo's
    Airflow does."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(tmp_path / "sandbox", services=["onetrail_sftp", netsuite]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AIRFLOW_VAR_PO_SYNC_ONETRAIL", raising=False)
        monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE", raising=False)
        yield sb
