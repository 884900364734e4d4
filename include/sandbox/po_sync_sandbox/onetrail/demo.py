"""The Onetrail flows of ``make demo``: submission, then the supplier's documents back, twice.

Pass 1: twelve new POs (half for the XML supplier, half for the EDIFACT one) are marked "Save & Submit
Electronically", one of them a special bid without its reference; ``onetrail_po_submit`` sends eleven
and fails that one. Onetrail picks the orders up and ACKs them; the suppliers answer every scenario of
the reference (confirmed, with changes, order / line on hold, order / lines deleted, line added, line
split), ship half of the confirmed ones (partial, with serials and tracking) and all of the others,
and invoice the shipped goods with freight and tax; ``onetrail_inbound`` applies all of it.
Pass 2: submission finds nothing new (it reads the ACKs); the suppliers ship and invoice the rest and
Onetrail re-delivers a pass-1 order response, which must be refused, not applied twice.

Register with ``all_demo_flows``; the NetSuite and Onetrail sFTP stand-ins must be running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result
from po_sync_sandbox.onetrail.actor import SCENARIOS, OnetrailHub
from po_sync_sandbox.onetrail.world import mark_for_submission, mpn_for, prepare_netsuite

__all__ = ["ONETRAIL_DEMO_FLOWS"]

_STATE: dict[str, Any] = {}
NEW_POS = 12


def _hub(sandbox: Any) -> OnetrailHub:
    root = str(Path(sandbox.services["onetrail_sftp"].root))
    if _STATE.get("root") != root:
        _STATE.clear()
        store = sandbox.services["netsuite"].store
        last_item = store.query("SELECT itemid FROM item ORDER BY id DESC LIMIT 1")[0]["itemid"]
        _STATE.update(
            root=root,
            sandbox=sandbox,
            store=store,
            hub=OnetrailHub.from_sandbox(sandbox, added_mpn=mpn_for(str(last_item))),
            pos=[],
        )
    hub: OnetrailHub = _STATE["hub"]
    return hub


def _new_pos(store: Any) -> list[dict[str, str]]:
    """Twelve Pending Receipt POs of three lines, alternating between the two Onetrail suppliers."""
    prepare_netsuite(store, flag_pos=False)
    vendors = [str(r["id"]) for r in store.query("SELECT id FROM vendor ORDER BY id LIMIT 2")]
    location = str(store.query("SELECT id FROM location ORDER BY id LIMIT 1")[0]["id"])
    items = [str(r["id"]) for r in store.query("SELECT id FROM item ORDER BY id LIMIT 9")]
    created = []
    for index in range(NEW_POS):
        lines = [
            {"item": {"id": items[(index + k) % len(items)]}, "quantity": 4 + k * 2, "rate": 10 + k}
            for k in range(3)
        ]
        body = {"entity": {"id": vendors[index % 2]}, "location": {"id": location}, "item": {"items": lines}}
        po_id = str(store.create("purchaseOrder", body))
        extra = {"custbody_onetrail_special_order_type": "Special Bid"} if index == NEW_POS - 1 else {}
        mark_for_submission(store, po_id, **extra)
        created.append({"id": po_id, "tranid": store.get("purchaseOrder", po_id)["tranId"]})
    return created


def _status(po_id: str) -> str:
    return str(_STATE["store"].get("purchaseOrder", po_id).get("custbody_onetrail_submit_status"))


def _before_submit(sandbox: Any, pass_no: int) -> None:
    _hub(sandbox)
    if pass_no == 1:
        _STATE["pos"] = _new_pos(_STATE["store"])


def _check_submit(result: Result, pass_no: int) -> list[str]:
    records, pos = result["records"], _STATE["pos"]
    problems = []
    if records["failed"]:
        problems.append(f"submission had failures: {records}")
    if records["quarantined"] != 1:
        problems.append(f"expected the special bid without reference quarantined, got {records}")
    statuses = {po["tranid"]: _status(po["id"]) for po in pos}
    if pass_no == 1:
        expected = {po["tranid"]: "Submitted" for po in pos[:-1]} | {pos[-1]["tranid"]: "Failed"}
        if statuses != expected:
            problems.append(f"submit statuses {statuses}")
        if records["synced"] != len(pos) - 1:
            problems.append(f"expected {len(pos) - 1} POs submitted, got {records}")
    else:
        hub: OnetrailHub = _STATE["hub"]
        if records["synced"] != len(pos) - 1:  # the pass-1 ACKs, read and archived
            problems.append(f"expected only the {len(pos) - 1} ACKs processed in pass 2, got {records}")
        if hub.folder("In/Orders").exists() and any(
            not p.name.startswith(".") for p in hub.folder("In/Orders").iterdir() if p.is_file()
        ):
            problems.append("pass 2 sent orders again")
    return problems


def _before_inbound(sandbox: Any, pass_no: int) -> None:
    hub = _hub(sandbox)
    pos = _STATE["pos"][:-1]
    if pass_no == 1:
        hub.poll()
        plan = dict(zip(SCENARIOS, pos, strict=False))
        for scenario, po in plan.items():
            hub.answer(po["tranid"], scenario)
        for po in pos[len(plan) :]:
            hub.answer(po["tranid"], "confirmed")
        shippable = [p for s, p in plan.items() if s not in ("order_on_hold", "order_deleted")]
        shippable += pos[len(plan) :]
        for index, po in enumerate(shippable):
            hub.ship(po["tranid"], partial=index % 2 == 0, containers=2)
            hub.invoice(po["tranid"])
        _STATE["shippable"] = shippable
        _STATE["counts"] = {}
    else:
        archived = sorted((hub.folder("Out/OrdRsp") / "archive").iterdir())
        if archived:
            first = archived[0]
            (hub.folder("Out/OrdRsp") / first.name).write_bytes(first.read_bytes())
        for po in _STATE["shippable"]:
            if hub.ship(po["tranid"]) is not None:
                hub.invoice(po["tranid"])


def _check_inbound(result: Result, pass_no: int) -> list[str]:
    records = result["records"]
    store = _STATE["store"]
    problems = []
    if records["failed"]:
        problems.append(f"{records['failed']} record(s) failed")
    receipts = len(list(store.iter_docs("itemReceipt")))
    bills = len(list(store.iter_docs("vendorBill")))
    amendments = len(list(store.iter_docs("customrecord_onetrail_po_amendment")))
    counts = _STATE["counts"]
    if pass_no == 1:
        counts.update(receipts=receipts, bills=bills, amendments=amendments)
        confirmed = [p for p in _STATE["pos"][:-1] if _status(p["id"]) == "Confirmed"]
        if len(confirmed) != len(_STATE["pos"]) - 1:
            problems.append(f"{len(confirmed)} PO(s) Confirmed, expected {len(_STATE['pos']) - 1}")
        if not amendments:
            problems.append("no PO amendment records")
        if records["quarantined"]:
            problems.append(f"pass 1 should quarantine nothing, got {records}")
    else:
        if amendments != counts["amendments"]:
            problems.append(f"amendments {counts['amendments']} → {amendments}: a response was applied twice")
        if receipts <= counts["receipts"] or bills <= counts["bills"]:
            problems.append(
                f"the rest of the partial shipments was not received and billed ({receipts}, {bills})"
            )
        if records["quarantined"] < 1:
            problems.append(f"the re-delivered order response should be quarantined, got {records}")
    for folder in ("Out/OrdRsp", "Out/Desadv", "Out/Invoice"):
        path = _STATE["hub"].folder(folder)
        left = [p.name for p in path.iterdir() if p.is_file()] if path.exists() else []
        if left:
            problems.append(f"files left in {folder}: {left}")
    return problems


ONETRAIL_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="onetrail",
        dag_id="onetrail_po_submit",
        conf={"resync_po_numbers": [], "dry_run": False},
        before=_before_submit,
        check=_check_submit,
        timeout=300,
    ),
    DemoFlow(
        group="onetrail",
        dag_id="onetrail_inbound",
        conf={"dry_run": False},
        before=_before_inbound,
        check=_check_inbound,
        timeout=900,
    ),
]
