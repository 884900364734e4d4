"""onetrail_inbound order responses in the reference's UBL codes, end to end (header AP / CA / RE,
lines 5 / 3 / 1 / 7 / 9): the same accept statuses as the Onetrail XML codes."""

from __future__ import annotations

import pytest

from tests.onetrail.conftest import run_dag, task_states
from tests.onetrail.test_e2e_order_responses import splittable, submitted

pytestmark = pytest.mark.timeout(400)

SCENARIOS = (
    "confirmed_with_changes",
    "confirmed",
    "order_on_hold",
    "line_on_hold",
    "lines_deleted",
    "line_added",
)


def test_ubl_codes_set_the_same_statuses(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    pos = sorted(submitted(dagbag, hub, store), key=lambda p: not splittable(store, p))
    plan = dict(zip(SCENARIOS, pos, strict=False))
    assert len(plan) == len(SCENARIOS)
    with pytest.raises(ValueError, match="no header code for a deleted order"):
        hub.answer(pos[0]["tranid"], "order_deleted", codes="ubl")
    sent = {scenario: hub.answer(po["tranid"], scenario, codes="ubl") for scenario, po in plan.items()}
    files = [p.read_bytes() for p in sent.values()]
    assert any(b"GlobalPurchaseOrderStatusCode>CA<" in data for data in files)  # UBL codes on the wire
    assert not any(b"GlobalPurchaseOrderStatusCode>Change<" in data for data in files)
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] == "success"
    assert not [p for p in hub.folder("Out/OrdRsp").iterdir() if p.is_file()]

    def header(scenario):
        return store.get("purchaseOrder", plan[scenario]["id"])["custbody_onetrail_accept_status"]

    def lines(scenario):
        items = store.get("purchaseOrder", plan[scenario]["id"])["item"]["items"]
        return [line.get("custcol_onetrail_accept_status") for line in items]

    assert header("confirmed") == "Accepted" and set(lines("confirmed")) == {"Accepted"}
    assert header("confirmed_with_changes") == "Changed and Accepted"
    assert "Changed and Accepted" in lines("confirmed_with_changes")
    assert header("order_on_hold") == "Rejected"
    held = lines("line_on_hold")
    assert header("line_on_hold") == "Changed and Accepted" and held[-1] == "Rejected"
    assert lines("lines_deleted")[-1] == "Deleted"
    assert lines("line_added")[-1] == "Added"
