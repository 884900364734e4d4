"""Fixtures for the sandbox frame tests: one sandbox per session, connections exported per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from po_sync_sandbox.base import connection_env
from po_sync_sandbox.runner import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Every registered stand-in, started once for the module's tests."""
    with Sandbox(tmp_path_factory.mktemp("sandbox-state")) as started:
        yield started


@pytest.fixture
def airflow_conns(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Export the sandbox's connections as ``AIRFLOW_CONN_*`` for one test, as a deployment would."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    return sandbox.connections


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch):
    """Define an extra Airflow connection through the environment for one test."""

    def _set(conn_id: str, conn: dict[str, Any]) -> None:
        for key, value in connection_env({conn_id: conn}).items():
            monkeypatch.setenv(key, value)

    return _set


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
