"""docker-compose.yaml and Dockerfile: the production shape stays wired together.

Parsed with ``yaml.safe_load`` (which resolves the ``&anchor`` / ``<<: *merge`` keys the file relies
on), so a service that lost the common environment or a mount through a bad merge fails here
rather than at ``docker compose up``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
REQUIREMENTS = ROOT / "requirements.txt"

REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "flower",
    "po-sync-sandbox",
)
AIRFLOW_SERVICES = tuple(s for s in REQUIRED_SERVICES if s.startswith("airflow-"))
# airflow-cli (profile "debug") is a one-off shell, as in the official file: no health check, no init wait.
AIRFLOW_LONG_RUNNING = tuple(s for s in AIRFLOW_SERVICES if s not in ("airflow-init", "airflow-cli"))
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping so the common anchor can merge into it"
    return {str(k): str(v) for k, v in env.items()}


def _mount_targets(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of each bind mount / volume."""
    targets = {}
    for volume in service.get("volumes", []):
        # source may start with "${VAR:-default}", whose ":" is not the separator
        match = re.fullmatch(r"((?:\$\{[^}]*\})?[^:]*):([^:]+)(?::(?:ro|rw))?", volume)
        assert match, f"unparseable volume {volume!r}"
        targets[match.group(2)] = match.group(1)
    return targets


def _pinned_airflow_version() -> str:
    match = re.search(r"^apache-airflow==(\S+)\s*$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert match, "requirements.txt must pin apache-airflow=="
    return match.group(1)


def _dockerfile_from() -> tuple[str, str]:
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert len(froms) == 1, froms
    image, _, tag = froms[0].partition(":")
    return image, tag


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_present(services: dict[str, Any], name: str) -> None:
    assert name in services


def test_common_anchor_exists(compose: dict[str, Any]) -> None:
    common = compose["x-airflow-common"]
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_has_common_env(services: dict[str, Any], compose: dict[str, Any], name: str) -> None:
    env = _env(services[name])
    common = _env(compose["x-airflow-common"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:airflow@postgres/airflow"
    )
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://airflow:airflow@postgres/airflow"
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == SIMPLE_AUTH_MANAGER
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert "FERNET_KEY" in env["AIRFLOW__CORE__FERNET_KEY"]  # interpolated from the environment
    for key in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW_CONN_PO_SYNC_DB",
    ):
        assert env[key] == common[key], f"{name} has its own {key}"


def test_jwt_secret_identical_and_required(services: dict[str, Any]) -> None:
    secrets = {_env(services[name])["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES}
    assert len(secrets) == 1
    (secret,) = secrets
    # ${VAR:?message}: compose refuses to start without it; no shared constant can sign tokens.
    assert re.fullmatch(r"\$\{AIRFLOW__API_AUTH__JWT_SECRET:\?[^}]+\}", secret), secret


def test_execution_api_url_points_at_apiserver(services: dict[str, Any]) -> None:
    url = urlsplit(_env(services["airflow-worker"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver"
    assert url.path == "/execution/"
    apiserver = services[url.hostname]
    assert apiserver["command"] == "api-server"
    container_ports = {p.split(":")[-1] for p in apiserver["ports"]}
    assert str(url.port) in container_ports


def test_auth_manager_class_exists_in_installed_airflow() -> None:
    spec = importlib.util.find_spec("airflow")
    assert spec is not None and spec.submodule_search_locations
    module_path, _, class_name = SIMPLE_AUTH_MANAGER.rpartition(".")
    relative = pathlib.Path(*module_path.split(".")[1:]).with_suffix(".py")
    source = next(pathlib.Path(p) / relative for p in spec.submodule_search_locations)
    assert f"class {class_name}" in source.read_text()


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_mounts_project_folders(services: dict[str, Any], name: str) -> None:
    targets = _mount_targets(services[name])
    for folder in ("dags", "plugins", "include", "logs", "config"):
        assert f"/opt/airflow/{folder}" in targets, f"{name} does not mount ./{folder}"
        assert targets[f"/opt/airflow/{folder}"].endswith(f"/{folder}")
    pythonpath = _env(services[name])["PYTHONPATH"].split(":")
    assert "/opt/airflow/include/sandbox" in pythonpath


@pytest.mark.parametrize("folder", ["dags", "plugins", "include"])
def test_mounted_source_folders_exist(folder: str) -> None:
    assert (ROOT / folder).is_dir()


@pytest.mark.parametrize(
    ("name", "command"),
    [
        pytest.param("airflow-apiserver", "api-server", id="apiserver"),
        pytest.param("airflow-scheduler", "scheduler", id="scheduler"),
        pytest.param("airflow-dag-processor", "dag-processor", id="dag-processor"),
        pytest.param("airflow-worker", "celery worker", id="worker"),
        pytest.param("airflow-triggerer", "triggerer", id="triggerer"),
    ],
)
def test_commands(services: dict[str, Any], name: str, command: str) -> None:
    assert services[name]["command"] == command


def test_worker_keeps_warm_shutdown_setting(services: dict[str, Any]) -> None:
    assert _env(services["airflow-worker"])["DUMB_INIT_SETSID"] == "0"


@pytest.mark.parametrize("name", AIRFLOW_LONG_RUNNING + ("postgres", "redis"))
def test_healthchecks(services: dict[str, Any], name: str) -> None:
    test = services[name]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")


def test_health_endpoints(services: dict[str, Any]) -> None:
    assert (
        "http://localhost:8080/api/v2/monitor/health" in services["airflow-apiserver"]["healthcheck"]["test"]
    )
    assert "http://localhost:8974/health" in services["airflow-scheduler"]["healthcheck"]["test"]
    assert _env(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_init_migrates_the_database(services: dict[str, Any]) -> None:
    env = _env(services["airflow-init"])
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "false"  # needs FAB, which is not installed


@pytest.mark.parametrize("name", AIRFLOW_LONG_RUNNING)
def test_components_wait_for_init_and_backing_services(services: dict[str, Any], name: str) -> None:
    depends = services[name]["depends_on"]
    assert depends["airflow-init"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_every_depends_on_target_exists(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        targets = depends if isinstance(depends, list) else list(depends)
        for target in targets:
            assert target in services, f"{name} depends on missing service {target}"
            assert target != name


def test_ledger_connection(services: dict[str, Any]) -> None:
    conn = json.loads(_env(services["airflow-worker"])["AIRFLOW_CONN_PO_SYNC_DB"])
    assert conn["conn_type"] == "po_sync_ledger"
    assert conn["host"] == "postgres" and conn["host"] in services
    assert conn["port"] == 5432
    assert conn["schema"] == "po_sync"
    assert conn["extra"] == {"dialect": "postgresql"}


def test_postgres_creates_ledger_database(services: dict[str, Any]) -> None:
    targets = _mount_targets(services["postgres"])
    host_path = targets["/docker-entrypoint-initdb.d/01-po-sync.sql"]
    local = ROOT / host_path.split("}", 1)[-1].lstrip("./")
    assert local == ROOT / "include/config/postgres-init/01-po-sync.sql"
    assert re.search(r"^CREATE DATABASE po_sync\b", local.read_text(), re.MULTILINE)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7.2-bookworm"


def test_sandbox_service(services: dict[str, Any], compose: dict[str, Any]) -> None:
    sandbox = services["po-sync-sandbox"]
    assert sandbox["image"] == compose["x-airflow-common"]["image"]  # same image as Airflow
    command = sandbox["command"]
    assert command[:3] == ["po-sync-sandbox", "up", "--foreground"]
    assert command[command.index("--state-dir") + 1] == "/opt/airflow/.sandbox"
    assert "/opt/airflow/.sandbox" in _mount_targets(sandbox)
    assert sandbox["environment"]["PO_SYNC_SANDBOX_BIND"] == "0.0.0.0"
    # The official image's entrypoint would run it as `airflow po-sync-sandbox`.
    assert "/entrypoint" not in sandbox["entrypoint"]


def test_named_volumes_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source in _mount_targets(service).values():
            if not source.startswith(("/", ".", "$")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_dockerfile_base_image_matches_requirements_pin() -> None:
    image, tag = _dockerfile_from()
    assert image == "apache/airflow"
    version, _, python = tag.partition("-")
    assert version == "3.3.2"
    assert version == _pinned_airflow_version()
    assert python == "python3.11"


def test_dockerfile_installs_requirements_then_package() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY\b.*\brequirements\.txt\b", text, re.MULTILINE)
    install_reqs = re.search(r"^RUN pip install\b[^\n]*-r requirements\.txt", text, re.MULTILINE)
    install_pkg = re.search(r"^RUN pip install\b[^\n]*--no-deps", text, re.MULTILINE)
    assert install_reqs and install_pkg
    assert install_reqs.start() < install_pkg.start()
    user_lines = re.findall(r"^USER\s+(\S+)", text[: install_reqs.start()], re.MULTILINE)
    assert user_lines and user_lines[-1] == "airflow", "pip must run as the airflow user"
    for copied in ("pyproject.toml", "plugins", "include"):
        assert re.search(rf"^COPY\b.*\b{re.escape(copied)}\b", text, re.MULTILINE), copied
