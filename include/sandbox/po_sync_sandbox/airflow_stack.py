"""Run a real Airflow (api-server, scheduler, dag-processor, triggerer, workers) as separate processes.

Used by ``make demo`` (SQLite + LocalExecutor, the embedded default) and by the production-shape
check in ``.ci/run`` (PostgreSQL + CeleryExecutor + Redis). Both drive Airflow the way its users do:
log in with ``POST /auth/token``, unpause, trigger with conf over ``/api/v2``, and watch the run.
Every component runs in its own session, so :meth:`AirflowStack.stop` can end it, and anything it
started, by its own pid.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body) for 2xx and error statuses alike."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 1.0) -> T:
    """Call ``check`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def airflow_env(
    home: Path,
    *,
    executor: str,
    sql_alchemy_conn: str,
    api_port: int,
    password_file: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment every component of one stack shares (one JWT secret, one API URL...)."""
    api = f"http://127.0.0.1:{api_port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        # po_sync_healthcheck tests connections only when Airflow allows it
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": api,
        # Workers find the Execution API here; it must match the api-server's port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        # 64 random bytes: PyJWT warns (in every task log) about HMAC keys shorter than SHA-512's block.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(extra or {})
    return env


class AirflowStack:
    """The Airflow processes of one run, each started in its own session.

    :param env: from :func:`airflow_env`.
    :param logs: folder for one log file per component.
    """

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.api = env["AIRFLOW__API__BASE_URL"]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.token: str | None = None
        logs.mkdir(parents=True, exist_ok=True)

    def run_cli(self, *args: str, timeout: float = 300) -> None:
        """Run one ``airflow`` CLI command to completion (e.g. ``db migrate``)."""
        with open(self.logs / f"cli-{'-'.join(args[:2])}.log", "wb") as log:
            subprocess.run(
                [str(BIN / "airflow"), *args],
                env=self.env,
                check=True,
                timeout=timeout,
                stdout=log,
                stderr=log,
            )

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> int:
        """Start ``airflow <args>`` in its own session; ``env`` adds to the stack's (e.g. a worker's port)."""
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc.pid

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"Airflow component(s) exited early: {dead}; logs in {self.logs}")

    def wait_healthy(self, timeout: float = 240) -> None:
        def healthy() -> bool:
            self.check_alive()
            status, body = http("GET", f"{self.api}/api/v2/monitor/health")
            return status == 200 and all((body.get(p) or {}).get("status") == "healthy" for p in HEALTH_PARTS)

        wait_for("every Airflow component to report healthy", healthy, timeout)

    def login(self, username: str, password: str) -> str:
        status, body = http(
            "POST", f"{self.api}/auth/token", body={"username": username, "password": password}
        )
        if status != 201:
            raise RuntimeError(f"POST /auth/token -> {status} {body}")
        self.token = str(body["access_token"])
        return self.token

    def api_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http(method, f"{self.api}{path}", token=self.token, body=body)

    def wait_dag(self, dag_id: str, timeout: float = 180) -> None:
        wait_for(
            f"DAG {dag_id} to be parsed",
            lambda: self.api_call("GET", f"/api/v2/dags/{dag_id}")[0] == 200,
            timeout,
        )

    def unpause(self, dag_id: str) -> None:
        status, body = self.api_call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        if status != 200:
            raise RuntimeError(f"unpause {dag_id} -> {status} {body}")

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        """Create the pool, or set its slots if it exists (``POST``/``PATCH /api/v2/pools``)."""
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        status, answer = self.api_call("POST", "/api/v2/pools", body)
        if status == 409:
            status, answer = self.api_call("PATCH", f"/api/v2/pools/{name}", body)
        if status not in (200, 201):
            raise RuntimeError(f"pool {name} -> {status} {answer}")

    def trigger(
        self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
    ) -> str:
        """Trigger a run the way a user's script does; return its run id."""
        body = {"logical_date": logical_date, "conf": conf or {}}
        status, answer = self.api_call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        if status != 200:
            raise RuntimeError(f"trigger {dag_id} -> {status} {answer}")
        return str(answer["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        """Wait for a run to end; return its final state (``success`` or ``failed``)."""

        def finished() -> str:
            self.check_alive()
            status, body = self.api_call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            state = str(body.get("state")) if status == 200 else ""
            return state if state in ("success", "failed") else ""

        return wait_for(f"{dag_id} run {run_id} to finish", finished, timeout)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        _, body = self.api_call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        states: dict[str, str] = {}
        for ti in body.get("task_instances", []):
            name = ti["task_id"] if ti.get("map_index", -1) == -1 else f"{ti['task_id']}[{ti['map_index']}]"
            states[name] = ti["state"]
        return states

    def stop(self, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM every component's process group, SIGKILL what is left; return exit codes by name."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        return {name: proc.returncode for name, proc in self.procs.items()}

    def log_tails(self, lines: int = 25) -> str:
        out = []
        for log in sorted(self.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)
