"""Fixtures: one X-Series sandbox per test session on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

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
