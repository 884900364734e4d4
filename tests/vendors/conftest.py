"""Fixtures for the vendor flows: a fresh NetSuite sandbox per test, moto from the session sandbox,
vendor settings in the ``po_sync_vendors`` Variable (env), buckets made by the vendor actors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
from po_sync_sandbox.vendors import VendorWorld, world_config
from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures

VENDORS = ["V0001", "V0002", "V0003"]
_counter = itertools.count(1)


@pytest.fixture
def netsuite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetSuiteService]:
    """A NetSuite sandbox of our own (the flows change its data), small and deterministic."""
    service = NetSuiteService(
        generate_spec=GenerateSpec(
            vendors=3,
            customers=3,
            items=20,
            purchase_orders=12,
            lines_per_po=3,
            drop_ship_orders=1,
            transfer_orders=0,
            custom_records=0,
        )
    )
    service.start(tmp_path_factory.mktemp("ns"))
    yield service
    service.stop()


@pytest.fixture
def world(
    sandbox: Any, netsuite: NetSuiteService, airflow_conns: Any, monkeypatch: pytest.MonkeyPatch
) -> VendorWorld:
    """Vendor buckets (unique per test) in moto, the Variable and the NetSuite connection in the env."""
    config = world_config(VENDORS, suffix=f"-t{next(_counter)}")
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_VENDORS", json.dumps(config))
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(netsuite.connection("tba", concurrency=4)))
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE", raising=False)
    world = VendorWorld(sandbox.infos["s3"].endpoints["s3"], config, netsuite)
    world.setup()
    return world
