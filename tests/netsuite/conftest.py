"""Fixtures: one NetSuite sandbox per test session on a free loopback port, hooks bound to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from po_sync.netsuite.hook import NetSuiteHook
from po_sync.netsuite.transport import RetryPolicy
from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService

FAST_RETRIES = RetryPolicy(max_attempts=10, max_delay=30, base_wait=0.02, max_wait=0.3)


@pytest.fixture(scope="session")
def netsuite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetSuiteService]:
    """The sandbox, with the default small data set plus enough POs to page through."""
    service = NetSuiteService(generate_spec=GenerateSpec(purchase_orders=300, vendors=8, items=40))
    service.start(tmp_path_factory.mktemp("netsuite-state"))
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def _quiet_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with default knobs, no pending faults and zeroed counters."""
    if "netsuite" not in request.fixturenames:
        yield
        return
    service: NetSuiteService = request.getfixturevalue("netsuite")
    service.reset_knobs()
    service.stats.reset()
    yield
    service.reset_knobs()


ConnectHook = Callable[..., NetSuiteHook]


@pytest.fixture
def make_hook(netsuite: NetSuiteService, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectHook]:
    """Build a hook over a connection set through ``AIRFLOW_CONN_<ID>`` (TBA unless told otherwise)."""
    hooks: list[NetSuiteHook] = []

    def build(
        auth_mode: str = "tba",
        *,
        conn_id: str = "netsuite_default",
        retry: RetryPolicy | None = FAST_RETRIES,
        cap: int = 100_000,
        **extra: Any,
    ) -> NetSuiteHook:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(netsuite.connection(auth_mode, **extra))
        )
        hook = NetSuiteHook(conn_id, retry_policy=retry, suiteql_row_cap=cap)
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook: ConnectHook) -> NetSuiteHook:
    """A TBA hook with concurrency 5."""
    return make_hook(concurrency=5)


def fresh_state(tmp_path: Path) -> Path:
    """A state directory for a second sandbox."""
    path = tmp_path / "state"
    path.mkdir()
    return path
