"""Fixtures for the sandbox frame tests (the session sandbox itself is in tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from po_sync_sandbox.base import connection_env


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch):
    """Define an extra Airflow connection through the environment for one test."""

    def _set(conn_id: str, conn: dict[str, Any]) -> None:
        for key, value in connection_env({conn_id: conn}).items():
            monkeypatch.setenv(key, value)

    return _set


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
