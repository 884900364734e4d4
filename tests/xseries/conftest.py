"""Fixtures: one X-Series sandbox per test session on a free loopback port."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from po_sync.faults import CRASH_ENV
from po_sync_sandbox.xseries import XSeriesService
from tests.core.ledger.conftest import postgres_url, sqlite_url  # noqa: F401 - shared fixtures
from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures

# The token store encrypts with Airflow's Fernet key: one for this test process and the workers it spawns.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())


@pytest.fixture(scope="session", autouse=True)
def _fernet_key() -> None:
    from airflow.models.crypto import get_fernet

    get_fernet.cache_clear()  # an earlier import may have cached the keyless stand-in
    assert get_fernet().is_encrypted


def ledger_connection(url: str) -> dict[str, Any]:
    """The ``po_sync_db`` connection (``AIRFLOW_CONN_*`` JSON) for a SQLite or PostgreSQL ledger URL."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"conn_type": "po_sync_ledger", "host": parsed.database, "extra": {"dialect": "sqlite"}}
    return {
        "conn_type": "postgres",
        "host": parsed.host,
        "port": parsed.port,
        "login": parsed.username,
        "schema": parsed.database,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def token_ledger(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``po_sync_db`` pointed at an empty SQLite or PostgreSQL ledger; returns its URL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    monkeypatch.setenv("AIRFLOW_CONN_PO_SYNC_DB", json.dumps(ledger_connection(url)))
    return url


@pytest.fixture(scope="session")
def xseries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XSeriesService]:
    """The retailer, seeded with three outlets (one register), three suppliers and 50 products."""
    service = XSeriesService()
    service.start(tmp_path_factory.mktemp("xseries-state"))
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def _quiet_xseries(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses the sandbox starts with default knobs, no faults, fresh rate windows."""
    if "xseries" not in request.fixturenames:
        yield
        return
    service: XSeriesService = request.getfixturevalue("xseries")
    service.reset_knobs()
    service.stats.reset()
    yield
    service.reset_knobs()


@pytest.fixture
def make_hook(
    xseries: XSeriesService,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
):
    """Build a hook over a connection set through ``AIRFLOW_CONN_<ID>``.

    OAuth connections get a fresh bootstrap refresh token; their pair lives in the ledger
    (``po_sync_db``: the test's ``token_ledger`` when it asks for one, else a fresh SQLite ledger),
    so tests never share a rotation chain.
    """
    if "token_ledger" not in request.fixturenames:
        request.getfixturevalue("ledger_conn")
    from po_sync.xseries.hook import XSeriesHook

    hooks: list[XSeriesHook] = []

    def build(auth_mode: str = "oauth", *, conn_id: str = "xseries_test", **extra: Any) -> XSeriesHook:
        if auth_mode == "oauth":
            extra.setdefault(
                "refresh_token",
                xseries.oauth.seed_pair(xseries.knobs.access_token_ttl_seconds)["refresh_token"],
            )
            extra.setdefault("token_store_path", str(tmp_path_factory.mktemp("tokens") / "tokens.json"))
        else:
            extra.setdefault("token_store_path", str(tmp_path_factory.mktemp("tokens") / "tokens.json"))
        conn = xseries.connection(auth_mode, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        hook = XSeriesHook(conn_id, base_wait=0.01)
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()


# -- end-to-end: both sandboxes, DAG runs ------------------------------------------------------------

SMALL = {
    "vendors": 3,
    "customers": 0,
    "items": 20,
    "locations": 3,
    "purchase_orders": 4,
    "lines_per_po": 3,
    "drop_ship_orders": 0,
    "transfer_orders": 0,
    "custom_records": 0,
}
CONF = {
    "vend_purchase_order_sync": {"resync_po_numbers": [], "dry_run": False},
    "vend_token_refresh": {},
    "vend_item_receipt_sync": {"dry_run": False},
}


@pytest.fixture
def vend(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Fresh NetSuite (4 Pending Receipt POs at 3 locations) and X-Series sandboxes, connections exported."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox
    from po_sync_sandbox.xseries import XSeriesService

    with Sandbox(
        tmp_path / "sb", services=[NetSuiteService(generate_spec=GenerateSpec(**SMALL)), XSeriesService()]
    ) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv(CRASH_ENV, raising=False)
        # ten registers: the flows' first reads fit in one window (the 350-request budget is the bench's)
        sb.services["xseries"].set_knobs(registers=10)
        yield sb


def run(bag: Any, dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    dag = copy.deepcopy(bag.get_dag(dag_id))
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf={**CONF[dag_id], **(conf or {})})


def pos(ns: Any) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in ns.store.iter_docs("purchaseOrder")}
