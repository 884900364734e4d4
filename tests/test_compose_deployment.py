"""docker-compose.yaml brings up a working deployment from a documented ``.env``.

Docker is not available here, so this reads the files: the compose file requires every secret
(``${VAR:?message}`` stops ``docker compose`` before anything starts), ``.env.example`` documents
each one, its connections pass po-sync's own check, both DAG-bundle configurations in it load with
Airflow's bundle classes, airflow-init creates the pool, connections and Variable the code uses, and
the official file's flower / airflow-cli services and resource check are kept.
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
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIRED_SECRETS = (
    "FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "PO_SYNC_ADMIN_PASSWORD",
    "PO_SYNC_DAG_BUNDLES",
    "PO_SYNC_CONN_NETSUITE_DEFAULT",
    "PO_SYNC_CONN_AWS_DEFAULT",
    "PO_SYNC_CONN_SFTP_DEFAULT",
)


def parse_env_file(text: str, *, commented: bool = False) -> dict[str, str]:
    """``KEY=value`` lines as compose reads them (single quotes keep the value verbatim).

    :param commented: read the ``# KEY=value`` lines instead (the documented alternatives).
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if commented:
            if not line.startswith("# ") or not re.match(r"# [A-Z][A-Z0-9_]*=", line):
                continue
            line = line[2:]
        elif not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith("'") and value.endswith("'"):
            value = value[1:-1]
        out[key] = value
    return out


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="module")
def env_alternatives() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text(), commented=True)


def required_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]+\}", text))


def init_script(compose: dict[str, Any]) -> str:
    command = compose["services"]["airflow-init"]["command"]
    assert command[0] == "-c"
    return str(command[1])


def test_compose_requires_every_secret() -> None:
    assert required_variables(COMPOSE_FILE.read_text()) == set(REQUIRED_SECRETS)


def test_no_secret_has_a_default() -> None:
    text = COMPOSE_FILE.read_text()
    for name in ("FERNET_KEY", "JWT_SECRET", "PASSWORD", "PO_SYNC_CONN_"):
        assert not re.search(rf"\$\{{[A-Z_]*{name}[A-Z_]*:-", text), f"{name} must not fall back to a default"


def test_env_file_is_required(compose: dict[str, Any]) -> None:
    (env_file,) = compose["x-airflow-common"]["env_file"]
    assert env_file["required"] is True


def test_env_example_documents_every_required_variable(env_example: dict[str, str]) -> None:
    missing = [name for name in REQUIRED_SECRETS if name not in env_example]
    assert not missing, f".env.example does not show {missing}"
    for name in REQUIRED_SECRETS:
        comment = ENV_EXAMPLE.read_text().split(f"\n{name}=")[0].rsplit("\n\n", 1)[-1]
        assert comment.strip(), f"{name} needs a comment saying what it is"


def test_env_example_holds_no_real_secret(env_example: dict[str, str]) -> None:
    for name in ("FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "PO_SYNC_ADMIN_PASSWORD"):
        assert env_example[name].startswith("<"), f"{name} must be a placeholder in the example"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_env_example_connections_pass_the_deployment_check(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    from po_sync.deployment import connections_from_env

    required = compose["services"]["airflow-init"]["environment"]["PO_SYNC_REQUIRED_CONNECTIONS"].split(",")
    connections = connections_from_env(env_example, required)
    assert set(required) <= set(connections)
    assert connections["netsuite_default"]["conn_type"] == "netsuite"
    assert connections["sftp_default"]["conn_type"] == "sftp"
    assert connections["aws_default"]["conn_type"] == "aws"


def test_required_connections_are_the_ones_the_flows_use(compose: dict[str, Any]) -> None:
    spec = importlib.util.spec_from_file_location("healthcheck_dag", ROOT / "dags" / "po_sync_healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    required = set(
        compose["services"]["airflow-init"]["environment"]["PO_SYNC_REQUIRED_CONNECTIONS"].split(",")
    )
    # po_sync_db is set by the compose file itself; smtp_default (failure mail) is optional.
    assert required == set(module.DEFAULT_CONNECTIONS) - {"po_sync_db", "smtp_default"}


def _bundles(raw: str) -> list[dict[str, Any]]:
    bundles = json.loads(raw)
    assert isinstance(bundles, list) and bundles
    return bundles


def _instantiate(bundle: dict[str, Any]) -> Any:
    module, _, cls = bundle["classpath"].rpartition(".")
    return getattr(importlib.import_module(module), cls)(name=bundle["name"], **bundle["kwargs"])


def test_default_bundle_is_the_local_dags_folder(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"].startswith("${PO_SYNC_DAG_BUNDLES:?")
    (bundle,) = _bundles(env_example["PO_SYNC_DAG_BUNDLES"])
    assert bundle["classpath"] == "airflow.dag_processing.bundles.local.LocalDagBundle"
    assert _instantiate(bundle).supports_versioning is False


def test_git_bundle_alternative_loads(
    env_alternatives: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (bundle,) = _bundles(env_alternatives["PO_SYNC_DAG_BUNDLES"])
    assert bundle["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundle["kwargs"]["subdir"] == "dags"
    conn_key = f"AIRFLOW_CONN_{bundle['kwargs']['git_conn_id'].upper()}"
    assert json.loads(env_alternatives[conn_key])["conn_type"] == "git"
    monkeypatch.setenv(conn_key, env_alternatives[conn_key])
    git_bundle = _instantiate(bundle)
    assert git_bundle.supports_versioning is True
    assert git_bundle.tracking_ref == bundle["kwargs"]["tracking_ref"]


def test_git_provider_is_pinned() -> None:
    assert re.search(r"^apache-airflow-providers-git==\S+$", (ROOT / "requirements.txt").read_text(), re.M)
    assert re.search(r"^apache-airflow-providers-git\b", (ROOT / "requirements.in").read_text(), re.M)


def test_init_creates_what_the_flows_need(compose: dict[str, Any]) -> None:
    from po_sync.netsuite.connection import NETSUITE_POOL
    from po_sync.vendors.settings import VARIABLE_KEY

    script = init_script(compose)
    flat = [" ".join(line.split()) for line in script.replace("\\\n", " ").splitlines()]
    assert any(c.startswith("python -m po_sync.deployment connections") for c in flat)
    assert any(c.startswith("airflow connections import") and "--overwrite" in c for c in flat)
    assert any(f'--from-file "{VARIABLE_KEY}=' in c for c in flat)
    assert any(c.startswith("airflow variables import") and "skip" in c for c in flat), (
        "keep an edited Variable"
    )
    assert re.search(rf"airflow pools set {NETSUITE_POOL} \"\$\$slots\"", script)
    assert "python -m po_sync.netsuite.pool --conn-id netsuite_default" in script
    assert "simple_auth_manager_passwords.json.generated" in script
    env = compose["services"]["airflow-init"]["environment"]
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"


def test_init_keeps_the_official_resource_check(compose: dict[str, Any]) -> None:
    script = init_script(compose)
    for needle in (
        "_PHYS_PAGES",
        "mem_available < 4000",
        "cpus_available < 2",
        "disk_available < one_meg * 10",
    ):
        assert needle in script


def test_flower_and_cli_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["flower"]["profiles"] == ["flower"]
    assert services["flower"]["command"] == "celery flower"
    assert "5555:5555" in services["flower"]["ports"]
    assert services["airflow-cli"]["profiles"] == ["debug"]
    assert services["airflow-cli"]["environment"]["CONNECTION_CHECK_MAX_COUNT"] == "0"


def test_vendors_file_default_exists(compose: dict[str, Any]) -> None:
    default = compose["services"]["airflow-init"]["environment"]["PO_SYNC_VENDORS_FILE"]
    match = re.fullmatch(r"\$\{PO_SYNC_VENDORS_FILE:-/opt/airflow/(.+)\}", default)
    assert match, default
    assert json.loads((ROOT / match.group(1)).read_text())["vendors"]
