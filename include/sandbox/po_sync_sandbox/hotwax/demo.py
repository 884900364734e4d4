"""The HotWax flows of ``make demo``: PO export, then receipt import, with HotWax acting in between.

Pass 1: ``hotwax_po_export`` sends every Pending Receipt PO; HotWax imports the CSV, store staff
receive half of every line, and HotWax also sends a feed for an order NetSuite does not know;
``hotwax_receipt_import`` receives the half (POs → Partially Received) and quarantines the bad order.
Pass 2: the export finds nothing new; HotWax sends the rest in two files plus the pass-1 file again;
the import receives the rest (POs → Pending Bill) and refuses the duplicate file.

Register with ``DEMO_FLOWS.extend(HOTWAX_DEMO_FLOWS)``; the NetSuite and SFTP stand-ins must be running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result
from po_sync_sandbox.hotwax.actor import PO_DIR, RECEIPT_DIR, HotWaxActor

__all__ = ["HOTWAX_DEMO_FLOWS"]

#: One actor (and its sandbox) per SFTP root, so pass 2 remembers what HotWax imported in pass 1.
_STATE: dict[str, Any] = {}


def _actor(sandbox: Any) -> HotWaxActor:
    root = str(Path(sandbox.services["sftp"].root))
    if _STATE.get("root") != root:
        _STATE.clear()
        _STATE.update(root=root, actor=HotWaxActor.from_sandbox(sandbox), sandbox=sandbox, expect={})
    return _STATE["actor"]


def _statuses(po_ids: list[str]) -> dict[str, str]:
    store = _STATE["sandbox"].services["netsuite"].store
    return {po: store.get("purchaseOrder", po)["_status"] for po in po_ids}


def _before_export(sandbox: Any, pass_no: int) -> None:
    _actor(sandbox)


def _check_export(result: Result, pass_no: int) -> list[str]:
    records = result["records"]
    actor: HotWaxActor = _STATE["actor"]
    files = [n for n in actor.files(PO_DIR) if n.endswith(".csv") and not n.startswith(".")]
    problems = []
    if records["failed"] or records["quarantined"]:
        problems.append(f"export had failures: {records}")
    if pass_no == 1:
        if not records["synced"] or len(files) != 1:
            problems.append(f"expected POs exported in one CSV, got {records} and files {files}")
    elif records["synced"] or files:
        problems.append(f"pass {pass_no} should find nothing new, got {records} and files {files}")
    return problems


def _before_import(sandbox: Any, pass_no: int) -> None:
    actor = _actor(sandbox)
    actor.import_purchase_orders()
    expect = _STATE["expect"]
    if pass_no == 1:
        feeds = actor.receive(partial=True)
        actor.bad_feed("unknown_order")
        expect.update(files=len(feeds) + 1, status={"D", "E", "F"})
    else:
        feeds = actor.receive(files=2)
        actor.bad_feed("duplicate")
        expect.update(files=len(feeds), status={"F", "G"})
    expect.update(
        orders=sum(len(json.loads(actor.path(RECEIPT_DIR / f).read_text())) for f in feeds), quarantined=1
    )


def _check_import(result: Result, pass_no: int) -> list[str]:
    records = result["records"]
    actor: HotWaxActor = _STATE["actor"]
    expect = _STATE["expect"]
    problems = []
    if records["failed"]:
        problems.append(f"{records['failed']} record(s) failed")
    if records["synced"] != expect["orders"] + expect["files"]:
        problems.append(
            f"expected {expect['orders']} receipts + {expect['files']} files synced, got {records}"
        )
    if records["quarantined"] != expect["quarantined"]:
        problems.append(
            f"expected {expect['quarantined']} quarantined (the bad input of this pass), got {records}"
        )
    wrong = {po: s for po, s in _statuses(sorted(actor.orders, key=int)).items() if s not in expect["status"]}
    if wrong:
        problems.append(f"PO statuses {wrong}, expected one of {sorted(expect['status'])}")
    if actor.files(RECEIPT_DIR):
        problems.append(f"files left in receipt/: {actor.files(RECEIPT_DIR)}")
    if not any(n.endswith(".errors.csv") for n in actor.files(RECEIPT_DIR / "error")):
        problems.append("no error report in receipt/error/")
    if actor.duplicates():
        problems.append(f"HotWax imported POs twice: {actor.duplicates()}")
    return problems


HOTWAX_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="hotwax", dag_id="hotwax_po_export", before=_before_export, check=_check_export, timeout=300
    ),
    DemoFlow(
        group="hotwax",
        dag_id="hotwax_receipt_import",
        conf={"dry_run": False, "min_file_age_seconds": 0},
        before=_before_import,
        check=_check_import,
        timeout=600,
    ),
]
