"""deploy/values.yaml (official Airflow Helm chart) parses and names what the code uses.

No helm binary can be installed here, so the file is read with ``yaml.safe_load`` and checked
against the code: the executor, the image's Airflow version, the git DAG bundle (loadable with
Airflow's own class), the secrets backend, and the pool, connection ids and Variables the flows use.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pathlib
import re
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "values.yaml"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(VALUES.read_text())
    assert isinstance(data, dict)
    return data


def env_of(values: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in values["env"]}


def code_connection_ids() -> set[str]:
    """Every connection id the DAGs use: the health check's list (which names each flow's)."""
    spec = importlib.util.spec_from_file_location("healthcheck_dag", ROOT / "dags" / "po_sync_healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.DEFAULT_CONNECTIONS)


def dag_connection_ids() -> set[str]:
    """Connection ids written literally in the DAG files (``..._conn_id="..."``)."""
    found: set[str] = set()
    for path in (ROOT / "dags").glob("*.py"):
        found |= set(re.findall(r'_conn_id="([a-z0-9_]+)"', path.read_text()))
    return found


def test_celery_executor_and_two_workers(values: dict[str, Any]) -> None:
    assert values["executor"] == "CeleryExecutor"
    assert values["workers"]["replicas"] >= 2
    assert values["redis"]["enabled"] is True
    assert values["dagProcessor"]["enabled"] is True
    assert values["triggerer"]["enabled"] is True


def test_airflow_version_matches_the_pin(values: dict[str, Any]) -> None:
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned
    assert values["airflowVersion"] == pinned.group(1)
    assert values["images"]["airflow"]["tag"].startswith(pinned.group(1))


def test_secrets_come_from_kubernetes_secrets_not_values(values: dict[str, Any]) -> None:
    for key in ("fernetKeySecretName", "jwtSecretName", "apiSecretKeySecretName"):
        assert values[key].startswith("po-sync-")
    for key in ("fernetKey", "jwtSecret", "apiSecretKey"):
        assert not values.get(key), f"{key} must come from a Secret"
    assert values["data"]["metadataSecretName"] and values["data"]["resultBackendSecretName"]
    assert values["postgresql"]["enabled"] is False
    text = VALUES.read_text()
    assert not re.search(r"postgres(ql)?://[^<:@\s]+:[^<@\s]+@", text), "no credentials in the values"


def test_secrets_backend(values: dict[str, Any]) -> None:
    secrets = values["config"]["secrets"]
    module, _, cls = secrets["backend"].rpartition(".")
    assert hasattr(importlib.import_module(module), cls), "the backend class must be installed in the image"
    kwargs = json.loads(secrets["backend_kwargs"])
    assert kwargs["connections_prefix"] and kwargs["variables_prefix"]


def test_git_bundle(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    (bundle,) = json.loads(values["config"]["dag_processor"]["dag_bundle_config_list"])
    assert bundle["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundle["kwargs"]["subdir"] == "dags"
    assert bundle["kwargs"]["git_conn_id"] in env_of(values)["PO_SYNC_REQUIRED_CONNECTIONS"].split(",")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{bundle['kwargs']['git_conn_id'].upper()}",
        '{"conn_type": "git", "host": "https://git.example.com/po-sync.git"}',
    )
    module, _, cls = bundle["classpath"].rpartition(".")
    loaded = getattr(importlib.import_module(module), cls)(name=bundle["name"], **bundle["kwargs"])
    assert loaded.supports_versioning is True


def test_names_the_connections_the_code_uses(values: dict[str, Any]) -> None:
    listed = set(env_of(values)["PO_SYNC_REQUIRED_CONNECTIONS"].split(","))
    (bundle,) = json.loads(values["config"]["dag_processor"]["dag_bundle_config_list"])
    assert listed == code_connection_ids() | dag_connection_ids() | {bundle["kwargs"]["git_conn_id"]}


def test_names_the_variables_the_code_uses(values: dict[str, Any]) -> None:
    from po_sync.vendors.settings import VARIABLE_KEY

    assert env_of(values)["PO_SYNC_REQUIRED_VARIABLES"].split(",") == [VARIABLE_KEY]


def test_migration_job_checks_and_sizes_the_pool(values: dict[str, Any]) -> None:
    from po_sync.netsuite.connection import NETSUITE_POOL

    job = values["migrateDatabaseJob"]
    assert job["enabled"] is True
    script = job["args"][-1]
    assert job["args"][:2] == ["bash", "-c"]
    steps = [s.strip() for s in script.split("&&")]
    assert steps[1] == "airflow db migrate"
    assert steps[2].startswith("python -m po_sync.deployment check")
    assert "$PO_SYNC_REQUIRED_CONNECTIONS" in steps[2] and "$PO_SYNC_REQUIRED_VARIABLES" in steps[2]
    assert "python -m po_sync.netsuite.pool --conn-id netsuite_default" in steps[3]
    assert steps[4].startswith(f'airflow pools set {NETSUITE_POOL} "$slots"')
    assert int(env_of(values)["NETSUITE_POOL_SLOTS"]) >= 1


def test_examples_off_and_dags_paused(values: dict[str, Any]) -> None:
    core = values["config"]["core"]
    assert core["load_examples"] == "False"
    assert core["dags_are_paused_at_creation"] == "True"
    assert values["dags"]["gitSync"]["enabled"] is False
