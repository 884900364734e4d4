"""The S2P demo flow's before/check steps, driven through dag.test exactly as ``make demo`` drives them."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync_sandbox.demo import ledger_counts
from po_sync_sandbox.servicenow.demo import SERVICENOW_DEMO_FLOWS
from tests.servicenow.conftest import run_flow

pytestmark = pytest.mark.e2e


def test_demo_flow_passes_its_own_checks_twice(dagbag: Any, ledger_conn: Any, s2p: Any) -> None:
    (flow,) = SERVICENOW_DEMO_FLOWS
    url = str(ledger_conn.engine.url)
    for pass_no in (1, 2):
        assert flow.before is not None and flow.check is not None
        flow.before(s2p, pass_no)
        dag_run = run_flow(dagbag, flow.conf)
        result = {"state": dag_run.state, **ledger_counts(url, dag_run.run_id)}
        assert dag_run.state == "success", pass_no
        assert flow.check(result, pass_no) == [], (pass_no, result)


def test_check_catches_wrong_outcomes(s2p: Any) -> None:
    (flow,) = SERVICENOW_DEMO_FLOWS
    assert flow.before is not None and flow.check is not None
    flow.before(s2p, 1)
    nothing = {"records": dict.fromkeys(("read", "synced", "ignored", "failed", "quarantined"), 0)}
    problems = flow.check(nothing, 1)
    assert any("expected" in p for p in problems) and any("not in NetSuite" in p for p in problems)
