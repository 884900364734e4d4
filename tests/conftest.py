"""Test-wide setup: an isolated AIRFLOW_HOME, set before anything imports Airflow."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# One AIRFLOW_HOME per test process: two pytest runs on one machine must not reset each other's
# metadata DB (the DAG tests start from a fresh one).
AIRFLOW_HOME = pathlib.Path(tempfile.mkdtemp(prefix="po_sync_airflow_test_"))

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
# The tests are a sandbox: missing vendor settings / ledger connection may fall back to stand-ins
# (po_sync.dev_mode). Tests of the production behaviour unset it.
os.environ["AIRFLOW__PO_SYNC__DEV_MODE"] = "True"
# Always our own SQLite: the DAG tests reset this database, so it must never be one from the environment.
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{AIRFLOW_HOME}/airflow.db"
# po_sync_healthcheck tests connections only when Airflow allows it (a test sets Disabled to check that).
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Every registered stand-in (S3/SQS, SFTP, SMTP, NetSuite...), started once per test session."""
    from po_sync_sandbox.runner import Sandbox

    with Sandbox(tmp_path_factory.mktemp("sandbox-state")) as started:
        yield started


@pytest.fixture
def airflow_conns(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Export the sandbox's connections as ``AIRFLOW_CONN_*`` for one test, as a deployment would."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    return sandbox.connections
