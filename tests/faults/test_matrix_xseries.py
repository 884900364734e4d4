"""Fault matrix of the X-Series flows: PO sync (consignments created, lines added / changed / removed,
the consignment id on the PO, deletions, POS-made orders pulled into NetSuite), item receipts
(received counts, RECEIVED) and the token refresh."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from po_sync.xseries.operators import CONSIGNMENT_FIELD
from tests.faults.matrix import Outcome, Scenario, cells, check, records, run_cell
from tests.xseries.conftest import CONF

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

PO_FLOW, RECEIPT_FLOW, TOKEN_FLOW = "vend_purchase_order_sync", "vend_item_receipt_sync", "vend_token_refresh"


class _XSeries(Scenario):
    def __init__(self, dagbag: Any, ledger: Any, vend: Any) -> None:
        self.dagbag, self.ledger = dagbag, ledger
        self.ns, self.xs = vend.services["netsuite"], vend.services["xseries"]

    def sync_pos(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, PO_FLOW, CONF[PO_FLOW]).state == "success"

    def pos(self) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in self.ns.store.iter_docs("purchaseOrder")}

    def live(self) -> list[dict[str, Any]]:
        return [
            c for c in self.xs.store.consignments.values() if c["type"] == "SUPPLIER" and not c["deleted_at"]
        ]

    def sku_counts(self, po: dict[str, Any]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for line in po["item"]["items"]:
            sku = self.ns.store.get("inventoryItem", line["item"]["id"])["itemId"]
            out[sku] = out.get(sku, Decimal(0)) + Decimal(str(line["quantity"]))
        return out

    def cons_counts(self, cid: str) -> dict[str, Decimal]:
        return {
            ln["product_sku"]: Decimal(ln["count"])
            for ln in self.xs.store.lines_of(cid)
            if not ln["deleted_at"]
        }


class VendPurchaseOrders(_XSeries):
    """After a first sync: one PO changed (a count, a line removed, a line added), one deleted, one
    new, and one order made in the POS. Every NetSuite PO has exactly one live consignment with its
    counts, the deleted one's consignment is deleted, the POS order is in NetSuite exactly once."""

    flow = dag_id = PO_FLOW
    smoke = "after_consignment_create"
    conf = CONF[PO_FLOW]

    def prepare(self) -> None:
        self.sync_pos()
        ids = sorted(self.pos(), key=int)
        changed, self.deleted = ids[0], ids[1]
        po = self.ns.store.get("purchaseOrder", changed)
        lines = po["item"]["items"]
        extra = next(
            str(i["id"])
            for i in self.ns.store.query("SELECT id FROM item ORDER BY id")
            if str(i["id"]) not in {ln["item"]["id"] for ln in lines}
        )
        self.ns.store.update(
            "purchaseOrder",
            changed,
            {
                "item": {
                    "items": [
                        lines[0] | {"quantity": 99},
                        lines[1],
                        {"item": {"id": extra}, "quantity": 3, "rate": 1.5},
                    ]
                }
            },
            replace={"item"},
        )
        self.deleted_cid = self.ns.store.get("purchaseOrder", self.deleted)[CONSIGNMENT_FIELD]
        self.ns.store.delete("purchaseOrder", self.deleted)
        template = self.ns.store.get("purchaseOrder", ids[2])
        self.new_po = str(
            self.ns.store.create(
                "purchaseOrder",
                {
                    "entity": {"id": template["entity"]["id"]},
                    "location": {"id": template["location"]["id"]},
                    "item": {
                        "items": [
                            {"item": {"id": ln["item"]["id"]}, "quantity": 2, "rate": 1.0}
                            for ln in template["item"]["items"]
                        ]
                    },
                },
            )
        )
        self.pos_order = self.xs.staff.create_supplier_order(
            outlet="Store Airport",
            supplier="Globex Supply",
            lines={"SKU-00003": 4, "SKU-00007": 2},
            reference="POS-1",
        )

    def measure(self) -> Outcome:
        out = Outcome()
        pos = self.pos()
        live = self.live()
        by_ref = Counter(c["reference"] for c in live)
        pulled = [p for p in pos.values() if p.get("externalId") == f"VEND-{self.pos_order['id']}"]
        out.lost += [] if pulled else ["the POS order is not in NetSuite"]
        out.duplicated += [f"the POS order is {len(pulled)} times in NetSuite"] if len(pulled) > 1 else []
        for _po_id, po in sorted(pos.items()):
            if str(po.get("externalId") or "").startswith("VEND-"):
                continue
            n = by_ref.get(po["tranId"], 0)
            out.lost += [f"PO {po['tranId']}: no consignment"] if n == 0 else []
            out.duplicated += [f"PO {po['tranId']}: {n} consignments"] if n > 1 else []
            cons = [c for c in live if c["reference"] == po["tranId"]]
            if len(cons) == 1:
                if self.cons_counts(cons[0]["id"]) != self.sku_counts(po):
                    out.disagreements.append(f"PO {po['tranId']}: consignment counts differ from NetSuite")
                if po.get(CONSIGNMENT_FIELD) != cons[0]["id"]:
                    out.disagreements.append(
                        f"PO {po['tranId']}: {CONSIGNMENT_FIELD} is {po.get(CONSIGNMENT_FIELD)}"
                    )
        if not self.xs.store.consignments[self.deleted_cid]["deleted_at"]:
            out.lost.append(f"consignment {self.deleted_cid} of the deleted PO still live")
        created = Counter(self.xs.store.created_via_api)
        out.duplicated += [f"consignment {c} created {n} times" for c, n in created.items() if n > 1]
        expected = (
            len([p for p in pos.values() if not str(p.get("externalId") or "").startswith("VEND-")]) + 1
        )
        if len(created) > expected:
            out.duplicated.append(f"{len(created)} consignments created through the API, {expected} POs")
        return out


class VendReceipts(_XSeries):
    """Two POs fully received in NetSuite: both consignments RECEIVED with received = ordered."""

    flow = dag_id = RECEIPT_FLOW
    smoke = "after_received_counts"
    conf = CONF[RECEIPT_FLOW]

    def prepare(self) -> None:
        self.sync_pos()
        self.received = sorted(self.pos(), key=int)[:2]
        for po_id in self.received:
            self.ns.store.transform("purchaseOrder", po_id, "itemReceipt", {})

    def measure(self) -> Outcome:
        out = Outcome()
        for po_id in self.received:
            cid = self.ns.store.get("purchaseOrder", po_id)[CONSIGNMENT_FIELD]
            cons = self.xs.store.consignments[cid]
            if cons["status"] != "RECEIVED":
                out.lost.append(f"consignment {cid} is {cons['status']}")
            for line in self.xs.store.lines_of(cid):
                got, want = Decimal(line["received"] or 0), Decimal(line["count"])
                if got < want:
                    out.lost.append(f"{cid}/{line['product_sku']}: received {got} of {want}")
                elif got > want:
                    out.duplicated.append(f"{cid}/{line['product_sku']}: received {got}, ordered {want}")
        done = {
            s.key.source_id
            for s in records(self.ledger, self.flow)
            if s.status.value in ("synced", "ignored")
        }
        out.disagreements += [
            f"ledger: PO {p} neither synced nor ignored" for p in self.received if p not in done
        ]
        return out


class VendTokenRefresh(_XSeries):
    """A crash right after the new pair is stored: the rerun rotates again from the stored pair (never
    presents a used refresh token) and the flows still reach X-Series."""

    flow = dag_id = TOKEN_FLOW
    smoke = "after_refresh"
    conf = CONF[TOKEN_FLOW]

    def measure(self) -> Outcome:
        from tests.faults.matrix import run_dag

        out = Outcome()
        if self.xs.oauth.refresh_reuse_rejected:
            out.duplicated.append(
                f"{self.xs.oauth.refresh_reuse_rejected} used refresh token(s) presented again"
            )
        if run_dag(self.dagbag, PO_FLOW, CONF[PO_FLOW]).state != "success":
            out.lost.append("the stored token pair no longer works")
        return out


SCENARIOS = (VendPurchaseOrders, VendReceipts, VendTokenRefresh)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[_XSeries], point: str, mode: str, dagbag, ledger_conn, vend, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn, vend), point, mode, monkeypatch), point, mode)
