"""Test-wide setup: an isolated AIRFLOW_HOME, set before anything imports Airflow."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the pytest-xdist worker this process is ("gw0", "gw1"...; "main" without -n or with -n 0)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# One AIRFLOW_HOME per test process (each xdist worker imports this file itself): two pytest runs on one
# machine, or two workers of one run, must not reset each other's metadata DB (the DAG tests start from
# a fresh one), share a SQLite ledger or a token store.
AIRFLOW_HOME = pathlib.Path(tempfile.mkdtemp(prefix=f"po_sync_airflow_test_{WORKER}_"))
# where code without a configured path keeps state (the X-Series token store): this worker's own
STATE_DIR = AIRFLOW_HOME / "state"
STATE_DIR.mkdir()

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["PO_SYNC_STATE_DIR"] = str(STATE_DIR)
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

#: modules whose tests share state outside the test process and so must run one at a time, on one
#: worker: the OpenSSH tests all work in the one sshd user's home directory (.ci/openssh.sh)
SERIAL_GROUPS = {"tests.hotwax.test_openssh": "openssh"}
_SHARED_SCOPES = ("module", "class", "package")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep a module on one xdist worker when its tests share a module-scoped fixture.

    ``make test`` runs ``-n N --dist loadgroup``: ungrouped tests go to whichever worker is free, and
    every test of an ``xdist_group`` to the same worker. A module-scoped fixture (an Airflow stack over
    REST, a browser, an auth manager on the metadata DB) split across workers would be built once per
    worker instead of once, and its tests could not count on what the earlier ones left in it.
    Session fixtures (the sandbox, the migrated metadata DB) are per worker anyway. Without xdist the
    mark does nothing.
    """
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__ if module is not None else item.nodeid.split("::", 1)[0]
        group = SERIAL_GROUPS.get(name)
        if group is None:
            info = getattr(item, "_fixtureinfo", None)
            defs = info.name2fixturedefs.values() if info is not None else ()
            if any(d.scope in _SHARED_SCOPES for chain in defs for d in chain):
                group = name
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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
