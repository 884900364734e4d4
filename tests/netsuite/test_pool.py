"""The ``netsuite`` pool's size comes from the account's ``governanceLimits`` (sandbox over a real socket)."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync.netsuite.models import GovernanceLimits
from po_sync.netsuite.pool import main, pool_slots, read_pool_slots


def limits(account: int, unallocated: int | None = None, integration: int | None = None) -> GovernanceLimits:
    return GovernanceLimits.model_validate(
        {
            "accountConcurrencyLimit": account,
            "accountUnallocatedConcurrencyLimit": unallocated,
            "integrationConcurrencyLimit": integration,
        }
    )


def test_slots_follow_the_effective_limit() -> None:
    assert pool_slots(limits(15)) == 15
    assert pool_slots(limits(15, unallocated=10)) == 10
    assert pool_slots(limits(15, unallocated=10, integration=4)) == 4
    assert pool_slots(limits(15, integration=8), threads_per_task=3) == 2
    assert pool_slots(limits(2), threads_per_task=5) == 1  # never zero: tasks would never run
    with pytest.raises(ValueError, match="threads_per_task"):
        pool_slots(limits(5), threads_per_task=0)


def test_read_from_the_sandbox_account(sandbox: Any, airflow_conns: Any) -> None:
    knobs = sandbox.services["netsuite"].knobs
    assert read_pool_slots("netsuite_default") == (
        knobs.integration_concurrency_limit or knobs.account_concurrency_limit
    )


def test_cli_prints_slots(sandbox: Any, airflow_conns: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--conn-id", "netsuite_default"]) == 0
    assert int(capsys.readouterr().out.strip()) >= 1


def test_cli_fallback_when_unreadable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_NETSUITE_DOWN",
        '{"conn_type": "netsuite", "host": "http://127.0.0.1:9", "extra": {"account_id": "1234567", '
        '"auth_mode": "tba", "consumer_key": "k", "consumer_secret": "s", "token_id": "t", "token_secret": "u", '
        '"max_attempts": 1}}',
    )
    assert main(["--conn-id", "netsuite_down", "--fallback", "7"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "7"
    assert "netsuite_down" in captured.err
    assert main(["--conn-id", "netsuite_down"]) == 1
