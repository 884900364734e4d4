"""Fault matrix of the ServiceNow S2P flow: staging marked In process, NetSuite upserts, the ledger,
the write-back to S2P."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync_sandbox.servicenow.actor import Line
from po_sync_sandbox.servicenow.schema import PURCHASING_TASK, STAGING_PO
from tests.faults.matrix import Outcome, Scenario, cells, check, run_cell
from tests.servicenow.conftest import DEFAULT_CONF, FLOW, netsuite_pos

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


class S2PSync(Scenario):
    """Two staged POs: one NetSuite PO each (by external id), both Processed (30) with the ERP number
    back in S2P, no integration-error task."""

    flow = dag_id = FLOW
    smoke = "after_netsuite_write"
    conf = DEFAULT_CONF

    def __init__(self, dagbag: Any, ledger: Any, s2p: Any) -> None:
        self.dagbag, self.ledger, self.s2p = dagbag, ledger, s2p

    def prepare(self) -> None:
        actor = self.s2p.actor
        self.numbers = [
            actor.create_po("VEND-0001", [Line("ITEM-00001", 5), Line("ITEM-00002", 1)]),
            actor.create_po("VEND-0002", [Line("ITEM-00003", 2)]),
        ]

    def measure(self) -> Outcome:
        out = Outcome()
        store = self.s2p.netsuite.store
        pos = netsuite_pos(store)
        docs = [doc.get("externalId") for doc in store.iter_docs("purchaseOrder")]
        for number in self.numbers:
            n = docs.count(number)
            out.lost += [f"{number} not in NetSuite"] if n == 0 else []
            out.duplicated += [f"{number} {n} times in NetSuite"] if n > 1 else []
            headers = self.s2p.servicenow.store.rows(STAGING_PO, purchase_order_number=number)
            for header in headers:
                if header["integration_status"] != "30":
                    out.lost.append(f"{number}: S2P staging at {header['integration_status']}, not Processed")
                elif number in pos and header["erp_number"] != pos[number]["tranId"]:
                    out.disagreements.append(f"{number}: S2P has ERP number {header['erp_number']}")
                state = self.ledger.get(self.ledger_key(header["sys_id"]))
                if state is None or state.status.value != "synced":
                    out.disagreements.append(f"ledger: {number} {state.status.value if state else None}")
        tasks = self.s2p.servicenow.store.rows(PURCHASING_TASK)
        out.duplicated += [f"{len(tasks)} integration-error task(s)"] if tasks else []
        return out

    def ledger_key(self, sys_id: str) -> Any:
        from po_sync.ledger import RecordKey

        return RecordKey(FLOW, "purchase_order", "servicenow", sys_id)


SCENARIOS = (S2PSync,)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[S2PSync], point: str, mode: str, dagbag, ledger_conn, s2p, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn, s2p), point, mode, monkeypatch), point, mode)
