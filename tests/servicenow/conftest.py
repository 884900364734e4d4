"""Fixtures for the ServiceNow S2P flow: a ServiceNow instance (HTTPS) and, for the flow, a NetSuite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures


@pytest.fixture
def servicenow(tmp_path: Any) -> Iterator[Any]:
    """A fresh ServiceNow instance on loopback, HTTPS with its own CA."""
    from po_sync_sandbox.servicenow import ServiceNowService

    service = ServiceNowService()
    service.start(tmp_path / "sn")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def sn_client(servicenow: Any) -> Any:
    """A plain ``requests`` session as a client written from ServiceNow's docs would use it."""
    import requests

    session = requests.Session()
    session.verify = str(servicenow.ca_file)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify (requests#3829)
    session.auth = (servicenow.credentials["username"], servicenow.credentials["password"])
    session.headers["Accept"] = "application/json"
    return session


@pytest.fixture
def sn_conn(servicenow: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Export a ``servicenow`` connection for the instance; returns a setter for variants."""
    from po_sync_sandbox.base import connection_env

    def _set(conn_id: str = "servicenow_default", auth_type: str = "basic", **extra: Any) -> str:
        for key, value in connection_env({conn_id: servicenow.connection(auth_type, **extra)}).items():
            monkeypatch.setenv(key, value)
        return conn_id

    _set()
    return _set


FLOW = "s2p_purchase_order_sync"
DEFAULT_CONF: dict[str, Any] = {"dry_run": False, "po_numbers": [], "max_orders": 1000}


@pytest.fixture
def s2p(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A NetSuite account (vendors VEND-0001.., items ITEM-00001.., locations LOC-1/LOC-2, no POs) and a
    ServiceNow instance with the ERP mapping tables filled; both connections exported for this test."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox
    from po_sync_sandbox.servicenow import ServiceNowService
    from po_sync_sandbox.servicenow.actor import ProcurementActor

    netsuite = NetSuiteService(
        generate_spec=GenerateSpec(
            vendors=3,
            customers=1,
            items=20,
            locations=2,
            purchase_orders=0,
            drop_ship_orders=0,
            transfer_orders=0,
            custom_records=0,
        )
    )
    servicenow = ServiceNowService()
    with Sandbox(tmp_path / "sandbox", services=[netsuite, servicenow]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        # fail fast on NetSuite's transient errors: the flow's own handling is what is tested
        monkeypatch.setenv(
            "AIRFLOW_CONN_NETSUITE_DEFAULT",
            json.dumps(netsuite.connection("tba", max_attempts=1, max_retry_seconds=5)),
        )
        monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE", raising=False)
        actor = ProcurementActor(servicenow.store)
        actor.seed_mappings()
        sb.actor = actor
        sb.netsuite = netsuite
        sb.servicenow = servicenow
        yield sb


def run_flow(bag: Any, conf: dict[str, Any] | None = None) -> Any:
    """``dag.test`` of a fresh copy of the DAG, every param given, no task retries."""
    import copy

    dag = copy.deepcopy(bag.get_dag(FLOW))
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf={**DEFAULT_CONF, **(conf or {})})


def netsuite_pos(store: Any) -> dict[str, dict[str, Any]]:
    """NetSuite purchase orders by external id."""
    return {doc.get("externalId"): doc for doc in store.iter_docs("purchaseOrder")}
