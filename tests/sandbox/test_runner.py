"""The runner publishes endpoints and connections for what it started, and cleans up after itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from po_sync_sandbox import runner
from po_sync_sandbox.base import ServiceInfo
from po_sync_sandbox.runner import Sandbox


def test_published_files_match_services(sandbox):
    state = sandbox.state_dir
    endpoints = json.loads((state / "endpoints.json").read_text())
    assert set(endpoints) == set(runner.SERVICE_FACTORIES) >= {"s3", "sftp", "smtp", "netsuite"}
    for name, described in endpoints.items():
        assert set(described) == {"endpoints", "credentials", "connections"}
        assert described == json.loads(json.dumps(sandbox.infos[name].as_dict()))
    assert endpoints["s3"]["endpoints"]["url"].startswith("http://127.0.0.1:")
    assert endpoints["sftp"]["endpoints"]["host"] == "127.0.0.1"

    connections = json.loads((state / "connections.json").read_text())
    assert {"aws_default", "sftp_default", "smtp_default", "netsuite_default"} <= set(connections)
    assert {"xseries_default", "xseries_personal"} <= set(connections)
    assert connections["xseries_default"]["conn_type"] == "xseries"
    assert connections == json.loads(json.dumps(sandbox.connections))
    assert (state / "connections.env").stat().st_mode & 0o077 == 0  # carries credentials


def test_connections_env_is_sourceable(sandbox):
    """``. connections.env`` in a POSIX shell yields exactly the connection JSON."""
    out = subprocess.run(
        ["sh", "-c", '. "$1" && env', "sh", str(sandbox.state_dir / "connections.env")],
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    exported = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("AIRFLOW_CONN_"))
    assert set(exported) == {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in sandbox.connections}
    for conn_id, conn in sandbox.connections.items():
        assert json.loads(exported[f"AIRFLOW_CONN_{conn_id.upper()}"]) == json.loads(json.dumps(conn))


def test_render_connections_env_quotes_single_quotes():
    text = runner.render_connections_env({"x": {"conn_type": "http", "password": "it's"}})
    out = subprocess.run(
        ["sh", "-c", text + 'printf %s "$AIRFLOW_CONN_X"'], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["password"] == "it's"


class _FakeService:
    """A stand-in that records its lifecycle, to show registering one is a single dict entry."""

    name = "fake"
    events: list[str] = []

    def start(self, state_dir: Path) -> ServiceInfo:
        self.events.append("start")
        return ServiceInfo(
            self.name, {"url": "http://127.0.0.1:1"}, {}, {"fake_default": {"conn_type": "http"}}
        )

    def stop(self) -> None:
        self.events.append("stop")


def test_registered_service_is_started_published_and_stopped(tmp_path, monkeypatch):
    monkeypatch.setitem(runner.SERVICE_FACTORIES, "fake", _FakeService)
    _FakeService.events = []
    with Sandbox(tmp_path, services=["smtp", "fake"]) as sandbox:
        assert json.loads((tmp_path / "connections.json").read_text()).keys() == {
            "smtp_default",
            "fake_default",
        }
        assert set(json.loads((tmp_path / "endpoints.json").read_text())) == {"smtp", "fake"}
        assert "AIRFLOW_CONN_FAKE_DEFAULT" in sandbox.env()
    assert _FakeService.events == ["start", "stop"]
    for name in ("endpoints.json", "connections.env", "connections.json"):
        assert not (tmp_path / name).exists()


def test_failed_start_stops_what_was_started(tmp_path, monkeypatch):
    class Broken(_FakeService):
        name = "broken"

        def start(self, state_dir: Path) -> ServiceInfo:
            raise RuntimeError("cannot bind")

        def stop(self) -> None:  # called too: a half-started service may hold threads or sockets
            self.events.append("broken-stop")

    monkeypatch.setitem(runner.SERVICE_FACTORIES, "fake", _FakeService)
    monkeypatch.setitem(runner.SERVICE_FACTORIES, "broken", Broken)
    _FakeService.events = []
    with pytest.raises(RuntimeError, match="cannot bind"):
        Sandbox(tmp_path, services=["fake", "broken"]).start()
    assert _FakeService.events == ["start", "broken-stop", "stop"]  # reverse order
    assert not (tmp_path / "endpoints.json").exists()


def test_unknown_service_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sandbox services"):
        Sandbox(tmp_path, services=["nope"])
