"""The vendor flows in ``make demo``: export → vendors answer → merge → import, each checked.

``VENDOR_DEMO_FLOWS`` is a list of :class:`~po_sync_sandbox.demo_flow.DemoFlow`. Pass 1 sends the POs,
lets the vendor actors ship (full, split over two days, with a cancelled line, partially, a drop-ship
sales order served by two vendors), invoice, and drop two hostile files; pass 2 must find nothing new.
The vendor settings are ``include/config/vendors.example.json`` (what the demo's Airflow reads when the
``po_sync_vendors`` Variable is unset).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result
from po_sync_sandbox.vendors.world import VendorWorld, create_multi_vendor_drop_ship

__all__ = ["VENDOR_DEMO_FLOWS", "demo_world", "vendors_answer", "vendors_prepare"]

EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "config" / "vendors.example.json"
_WORLDS: dict[int, VendorWorld] = {}


def demo_world(sandbox: Any, config: dict[str, Any] | None = None) -> VendorWorld:
    """One :class:`VendorWorld` per sandbox (actors keep what they shipped between steps)."""
    key = id(sandbox)
    if key not in _WORLDS:
        config = config or json.loads(EXAMPLE_CONFIG.read_text())
        _WORLDS[key] = VendorWorld.from_sandbox(sandbox, config)
        _WORLDS[key].setup()
    return _WORLDS[key]


def vendors_prepare(world: VendorWorld, pass_no: int) -> dict[str, Any]:
    """Before the export: buckets exist; on pass 1 a sales order drop-shipped by the last two vendors."""
    world.setup()
    if pass_no != 1 or world.netsuite is None:
        return {}
    vendor_ids = [v["vendor_id"] for v in world.config["vendors"]][-2:]
    created = create_multi_vendor_drop_ship(world.netsuite, vendor_ids)
    # SuiteQL timestamps have whole seconds and the export window's end is exclusive: a PO saved in
    # the second the run starts belongs to the next run. Let that second pass so pass 1 sees them.
    time.sleep(1.1)
    return created


def vendors_answer(world: VendorWorld, pass_no: int, *, hostile: bool = True) -> dict[str, list[str]]:
    """The vendors ship and invoice what they received (pass 1 only); returns the files written per case."""
    written: dict[str, list[str]] = {
        "full": [],
        "split": [],
        "cancelled": [],
        "partial": [],
        "drop_ship": [],
        "invoice": [],
        "hostile": [],
    }
    if pass_no != 1:
        return written
    actors = list(world.actors.values())
    for index, actor in enumerate(actors):
        pos = actor.purchase_orders()
        standard = sorted(n for n, d in pos.items() if d.get("drop_ship") != "true")
        drop = sorted(n for n, d in pos.items() if d.get("drop_ship") == "true")
        for number in drop:
            written["drop_ship"].append(actor.ship(number))
        if not standard:
            continue
        first = standard[0]
        if index == 0:
            written["full"].append(actor.ship(first))
            written["invoice"].append(actor.invoice(first))
            if len(standard) > 1:
                lines = pos[standard[1]]["lines"]
                half = {str(line["line"]): Decimal(line["quantity"]) // 2 for line in lines}
                written["split"].append(
                    actor.ship(standard[1], quantities={k: v for k, v in half.items() if v}, day=0)
                )
                written["split"].append(actor.ship(standard[1], day=1))
        elif index == 1:
            line = pos[first]["lines"][0]
            written["cancelled"].append(actor.ship(first, cancel={str(line["line"]): line["quantity"]}))
        else:
            line = pos[first]["lines"][0]
            qty = max(Decimal(line["quantity"]) // 2, Decimal(1))
            written["partial"].append(actor.ship(first, quantities={str(line["line"]): qty}))
    if hostile and actors:
        written["hostile"].append(actors[0].malformed("xxe"))
        written["hostile"].append(actors[-1].malformed("billion_laughs"))
    return written


def _expect(result: Result, pass_no: int, *, first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    want = first if pass_no == 1 else second
    records = result["records"]
    problems = []
    if result.get("state") != "success":
        problems.append(f"run state {result.get('state')}")
    for name, rule in want.items():
        value = records.get(name, 0)
        if rule == ">0" and not value:
            problems.append(f"expected some {name}, got {records}")
        elif isinstance(rule, int) and value != rule:
            problems.append(f"expected {name} = {rule}, got {records}")
    return problems


def _before_export(sandbox: Any, pass_no: int) -> None:
    vendors_prepare(demo_world(sandbox), pass_no)


def _before_merge(sandbox: Any, pass_no: int) -> None:
    vendors_answer(demo_world(sandbox), pass_no)


VENDOR_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="vendors",
        dag_id="netsuite_vendor_po_export",
        before=_before_export,
        check=lambda r, p: _expect(
            # pass 2 re-sends only POs that pass 1's receipts changed (a changed PO is re-sent by
            # design; tests/vendors prove unchanged ones are ignored and nothing is duplicated)
            r,
            p,
            first={"synced": ">0", "failed": 0},
            second={"failed": 0, "quarantined": 0},
        ),
    ),
    DemoFlow(
        group="vendors",
        dag_id="vendor_fulfillment_merge",
        conf={"wait_minutes": 0.1},
        before=_before_merge,
        # pass 2: nothing arrives, so the deferred wait times out and the run is skipped-but-successful
        check=lambda r, p: _expect(
            r, p, first={"synced": ">0", "quarantined": 2, "failed": 0}, second={"synced": 0}
        ),
        timeout=900,
    ),
    DemoFlow(
        group="vendors",
        dag_id="vendor_fulfillment_import",
        # the merge's Asset event may already have started an import run that took the documents,
        # so this run's own count may be zero; it must never fail a record
        check=lambda r, p: _expect(
            r, p, first={"failed": 0, "quarantined": 0}, second={"synced": 0, "failed": 0}
        ),
    ),
]
