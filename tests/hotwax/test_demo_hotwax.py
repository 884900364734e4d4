"""The HotWax demo flows' before/check steps, driven through dag.test exactly as ``make demo`` drives them."""

from __future__ import annotations

import pytest

from po_sync_sandbox.demo import ledger_counts
from po_sync_sandbox.hotwax.demo import HOTWAX_DEMO_FLOWS
from tests.hotwax.conftest import run_dag

pytestmark = pytest.mark.e2e


def test_demo_flows_pass_their_own_checks_twice(dagbag, ledger_conn, hotwax_sandbox):
    url = str(ledger_conn.engine.url)
    for pass_no in (1, 2):
        for flow in HOTWAX_DEMO_FLOWS:
            if flow.before:
                flow.before(hotwax_sandbox, pass_no)
            dag_run = run_dag(dagbag, flow.dag_id, flow.conf)
            result = {"state": dag_run.state, **ledger_counts(url, dag_run.run_id)}
            assert dag_run.state == "success", (pass_no, flow.dag_id)
            assert flow.check(result, pass_no) == [], (pass_no, flow.dag_id, result)


def test_checks_catch_wrong_outcomes(hotwax_sandbox):
    export, receipts = HOTWAX_DEMO_FLOWS
    export.before(hotwax_sandbox, 1)
    nothing = {"records": dict.fromkeys(("read", "synced", "ignored", "failed", "quarantined"), 0)}
    assert export.check(nothing, 1), "pass 1 must export something"
    assert export.check({"records": {**nothing["records"], "failed": 1}}, 2)
    receipts.before(hotwax_sandbox, 1)
    assert receipts.check(nothing, 1), "nothing received must be reported"
