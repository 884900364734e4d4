"""Fixtures: one X-Series sandbox per test session on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from po_sync_sandbox.xseries import XSeriesService


@pytest.fixture(scope="session")
def xseries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XSeriesService]:
    """The retailer, seeded with three outlets (one register), three suppliers and 50 products."""
    service = XSeriesService()
    service.start(tmp_path_factory.mktemp("xseries-state"))
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def _quiet_xseries(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses the sandbox starts with default knobs, no faults, fresh rate windows."""
    if "xseries" not in request.fixturenames:
        yield
        return
    service: XSeriesService = request.getfixturevalue("xseries")
    service.reset_knobs()
    service.stats.reset()
    yield
    service.reset_knobs()


@pytest.fixture
def make_hook(
    xseries: XSeriesService, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """Build a hook over a connection set through ``AIRFLOW_CONN_<ID>``.

    OAuth connections get a fresh bootstrap refresh token and their own token store, so tests never
    share a rotation chain unless they pass the same ``token_store_path``.
    """
    from po_sync.xseries.hook import XSeriesHook

    hooks: list[XSeriesHook] = []

    def build(auth_mode: str = "oauth", *, conn_id: str = "xseries_test", **extra: Any) -> XSeriesHook:
        if auth_mode == "oauth":
            extra.setdefault(
                "refresh_token",
                xseries.oauth.seed_pair(xseries.knobs.access_token_ttl_seconds)["refresh_token"],
            )
            extra.setdefault("token_store_path", str(tmp_path_factory.mktemp("tokens") / "tokens.json"))
        else:
            extra.setdefault("token_store_path", str(tmp_path_factory.mktemp("tokens") / "tokens.json"))
        conn = xseries.connection(auth_mode, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        hook = XSeriesHook(conn_id, base_wait=0.01)
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()
