"""Fixtures for the ServiceNow S2P flow: a ServiceNow instance (HTTPS) and, for the flow, a NetSuite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - shared fixtures


@pytest.fixture
def servicenow(tmp_path: Any) -> Iterator[Any]:
    """A fresh ServiceNow instance on loopback, HTTPS with its own CA."""
    from po_sync_sandbox.servicenow import ServiceNowService

    service = ServiceNowService()
    service.start(tmp_path / "sn")
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def sn_client(servicenow: Any) -> Any:
    """A plain ``requests`` session as a client written from ServiceNow's docs would use it."""
    import requests

    session = requests.Session()
    session.verify = str(servicenow.ca_file)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides session.verify (requests#3829)
    session.auth = (servicenow.credentials["username"], servicenow.credentials["password"])
    session.headers["Accept"] = "application/json"
    return session


@pytest.fixture
def sn_conn(servicenow: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Export a ``servicenow`` connection for the instance; returns a setter for variants."""
    from po_sync_sandbox.base import connection_env

    def _set(conn_id: str = "servicenow_default", auth_type: str = "basic", **extra: Any) -> str:
        for key, value in connection_env({conn_id: servicenow.connection(auth_type, **extra)}).items():
            monkeypatch.setenv(key, value)
        return conn_id

    _set()
    return _set
