"""The ServiceNow S2P flow of ``make demo``: procurement acts in S2P, the flow syncs to NetSuite.

Pass 1: the administrator fills the ERP mapping tables; the specialist orders a standard PO, a PO with
a capitalised line of 250 (split 99/99/52, 250 fixed assets), a blanket order and a release against it,
and three bad ones (an unmapped delivery address, a quantity of 0, a supplier NetSuite does not know);
a staging line also arrives without its PO. The run creates three NetSuite POs, ignores the blanket,
fails the three bad ones back to S2P (40 + purchasing task) and leaves the stray line for a retrigger.
Pass 2: the standard PO is revised, the capitalised one cancelled, and the address mapping added with
the failed PO set back to New: the run updates, closes and creates - and no S2P PO has two NetSuite POs.

Register with ``DEMO_FLOWS.extend(SERVICENOW_DEMO_FLOWS)``; the ServiceNow and NetSuite stand-ins must run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result
from po_sync_sandbox.servicenow.actor import Line, ProcurementActor
from po_sync_sandbox.servicenow.schema import ADDRESS_MAP, PURCHASING_TASK, STAGING_PO

__all__ = ["SERVICENOW_DEMO_FLOWS"]

_STATE: dict[str, Any] = {}


def _actor(sandbox: Any) -> ProcurementActor:
    service = sandbox.services["servicenow"]
    if _STATE.get("service") is not service:
        _STATE.clear()
        actor = ProcurementActor(service.store)
        actor.seed_mappings()
        _STATE.update(service=service, actor=actor, sandbox=sandbox, numbers={})
    actor: ProcurementActor = _STATE["actor"]
    return actor


def _before(sandbox: Any, pass_no: int) -> None:
    actor = _actor(sandbox)
    n = _STATE["numbers"]
    if pass_no == 1:
        n["standard"] = actor.create_po("VEND-0001", [Line("ITEM-00001", 5, "12.50"), Line("ITEM-00002", 3)])
        n["capitalised"] = actor.create_po(
            "VEND-0002",
            [
                Line(
                    "ITEM-00003",
                    250,
                    "900",
                    model_category="Computers",
                    capitalization_policy="IT hardware >= 1000",
                )
            ],
        )
        n["blanket"] = actor.create_po("VEND-0003", [Line("ITEM-00004", 1000)], order_type="blanket")
        n["release"] = actor.create_po("VEND-0003", [Line("ITEM-00004", 40)], blanket_order=n["blanket"])
        n["unmapped"] = actor.create_po("VEND-0001", [Line("ITEM-00005", 2, location="Moon Base")])
        n["zero"] = actor.create_po("VEND-0001", [Line("ITEM-00006", 0)])
        n["stranger"] = actor.create_po("VEND-9999", [Line("ITEM-00007", 1)])
        stray = actor.create_po("VEND-0001", [Line("ITEM-00008", 1)], stage=False)
        actor.orphan_line(stray)
    else:
        actor.revise(n["standard"], quantities={1: 8})
        actor.cancel(n["capitalised"])
        actor.add_mapping(
            ADDRESS_MAP, {"location": "Moon Base", "erp_location": "LOC-2", "erp_subsidiary": "1"}
        )
        actor.reset_failed(n["unmapped"])


def _check(result: Result, pass_no: int) -> list[str]:
    records = result["records"]
    n = _STATE["numbers"]
    sandbox = _STATE["sandbox"]
    store = sandbox.services["servicenow"].store
    netsuite = sandbox.services["netsuite"].store
    problems = []
    expected = (
        {"synced": 3, "ignored": 1, "quarantined": 2, "failed": 2}
        if pass_no == 1
        else {"synced": 3, "ignored": 0, "quarantined": 0, "failed": 1}
    )
    got = {k: records[k] for k in expected}
    if got != expected:
        problems.append(f"pass {pass_no}: expected {expected}, got {records}")
    eids = Counter(doc.get("externalId") for doc in netsuite.iter_docs("purchaseOrder"))
    doubled = {eid: c for eid, c in eids.items() if eid in n.values() and c > 1}
    if doubled:
        problems.append(f"S2P POs with more than one NetSuite PO: {doubled}")
    want = {n["standard"], n["capitalised"], n["release"]} | ({n["unmapped"]} if pass_no == 2 else set())
    missing = want - set(eids)
    if missing:
        problems.append(f"not in NetSuite: {sorted(missing)}")
    if n["blanket"] in eids:
        problems.append("the blanket order reached NetSuite")
    waiting = [
        h["purchase_order_number"] for h in store.rows(STAGING_PO) if h["integration_status"] in ("10", "20")
    ]
    if waiting:
        problems.append(f"staged POs left at New / In process: {waiting}")
    tasks = store.rows(PURCHASING_TASK)
    if len(tasks) != 3:
        problems.append(f"expected 3 integration-error tasks (one per bad PO), got {len(tasks)}")
    return problems


SERVICENOW_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="servicenow",
        dag_id="s2p_purchase_order_sync",
        conf={"dry_run": False, "po_numbers": [], "max_orders": 1000},
        before=_before,
        check=_check,
        timeout=300,
    )
]
