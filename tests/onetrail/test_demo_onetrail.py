"""The Onetrail demo flows' before/check steps, driven through dag.test exactly as ``make demo`` drives them."""

from __future__ import annotations

import pytest

from po_sync_sandbox.demo import ledger_counts
from po_sync_sandbox.onetrail.demo import ONETRAIL_DEMO_FLOWS
from tests.onetrail.conftest import run_dag

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_demo_flows_pass_their_own_checks_twice(dagbag, ledger_conn, bare_onetrail_sandbox):
    url = str(ledger_conn.engine.url)
    for pass_no in (1, 2):
        for flow in ONETRAIL_DEMO_FLOWS:
            if flow.before:
                flow.before(bare_onetrail_sandbox, pass_no)
            dag_run = run_dag(dagbag, flow.dag_id, flow.conf)
            result = {"state": dag_run.state, **ledger_counts(url, dag_run.run_id)}
            assert dag_run.state == "success", (pass_no, flow.dag_id)
            assert flow.check(result, pass_no) == [], (pass_no, flow.dag_id, result)


def test_checks_catch_wrong_outcomes(bare_onetrail_sandbox):
    submit, inbound = ONETRAIL_DEMO_FLOWS
    submit.before(bare_onetrail_sandbox, 1)
    nothing = {"records": dict.fromkeys(("read", "synced", "ignored", "failed", "quarantined"), 0)}
    assert submit.check(nothing, 1), "pass 1 must submit something"
    assert submit.check({"records": {**nothing["records"], "failed": 1}}, 2)
