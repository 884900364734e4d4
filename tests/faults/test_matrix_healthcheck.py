"""Fault matrix of the health check: its only side effects are ledger commits (the ledger is its
target), so a crash at either must leave one current, closed record per connection after the rerun."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync.ledger import RecordKey
from tests.faults.matrix import Outcome, Scenario, cells, check, records, run_cell

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


class HealthCheck(Scenario):
    """``po_sync_db`` (healthy) and a missing connection: one synced and one failed record."""

    expected_codes = frozenset({"CONNECTION_NOT_ALLOWED"})

    flow = dag_id = "po_sync_healthcheck"
    smoke = "ledger_recorded"
    conf = {"connections": ["po_sync_db", "no_such_connection"], "fail_on_unhealthy": False}

    def __init__(self, dagbag: Any, ledger: Any) -> None:
        self.dagbag, self.ledger = dagbag, ledger

    def measure(self) -> Outcome:
        out = Outcome()
        rows = records(self.ledger, self.flow)
        ids = [s.key.source_id for s in rows]
        for conn_id, conn_type, status in (
            ("po_sync_db", "po_sync_ledger", "synced"),
            ("no_such_connection", "missing", "quarantined"),  # not ours: never opened
        ):
            state = self.ledger.get(RecordKey(self.flow, "connection", conn_type, conn_id))
            if state is None:
                out.lost.append(f"{conn_id}: no record")
            elif state.status.value != status:
                out.disagreements.append(f"{conn_id}: {state.status.value}, expected {status}")
        out.duplicated += [f"{i} recorded {ids.count(i)} times" for i in set(ids) if ids.count(i) > 1]
        return out


SCENARIOS = (HealthCheck,)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[HealthCheck], point: str, mode: str, dagbag, ledger_conn, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn), point, mode, monkeypatch), point, mode)
