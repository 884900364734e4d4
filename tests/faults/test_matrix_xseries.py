"""Fault matrix of the X-Series flows: PO sync (consignments created, lines added / changed / removed,
the consignment id on the PO, deletions, POS-made orders pulled into NetSuite), transfer-order sync
(OUTLET consignments, the same both ways), item receipts (received counts, RECEIVED) and the token
refresh."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from po_sync.xseries.operators import CONSIGNMENT_FIELD
from tests.faults.matrix import Outcome, Scenario, cells, check, records, run_cell
from tests.xseries.conftest import CONF

#: the transfer flow's conf, and the outlet of each NetSuite location in the shipped settings table
TRANSFER_CONF = {"resync_to_numbers": [], "dry_run": False}
OUTLET_OF_LOCATION = {"1": "Main Warehouse", "2": "Store Downtown", "3": "Store Airport"}

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

PO_FLOW, RECEIPT_FLOW, TOKEN_FLOW = "vend_purchase_order_sync", "vend_item_receipt_sync", "vend_token_refresh"
TRANSFER_FLOW = "vend_transfer_order_sync"


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


class VendTransfers(_XSeries):
    """After a first sync of three transfer orders (Main Warehouse -> Store Downtown): one TO changed
    (a count, a line removed, a line added), one deleted, one new, and two transfers made in the POS
    (one OPEN, one SENT). Every NetSuite TO has exactly one live OUTLET consignment between its
    locations' outlets with its counts and its id on the TO, the deleted one's consignment is deleted,
    each POS transfer is in NetSuite exactly once with its counts, and the ledger says so."""

    flow = dag_id = TRANSFER_FLOW
    smoke = "after_netsuite_to"
    conf = TRANSFER_CONF

    def prepare(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, TRANSFER_FLOW, TRANSFER_CONF).state == "success"
        ids = sorted(self.tos(), key=int)
        assert len(ids) == 3, ids
        changed, self.deleted = ids[0], ids[1]
        doc = self.ns.store.get("transferOrder", changed)
        lines = doc["item"]["items"]
        extra = next(
            str(i["id"])
            for i in self.ns.store.query("SELECT id FROM item ORDER BY id")
            if str(i["id"]) not in {ln["item"]["id"] for ln in lines}
        )
        self.ns.store.update(
            "transferOrder",
            changed,
            {"item": {"items": [lines[0] | {"quantity": 17}, {"item": {"id": extra}, "quantity": 2}]}},
            replace={"item"},
        )
        self.deleted_cid = self.ns.store.get("transferOrder", self.deleted)[CONSIGNMENT_FIELD]
        self.ns.store.delete("transferOrder", self.deleted)
        template = self.ns.store.get("transferOrder", ids[2])
        self.ns.store.create(
            "transferOrder",
            {
                "location": {"id": template["location"]["id"]},
                "transferLocation": {"id": template["transferLocation"]["id"]},
                "item": {
                    "items": [
                        {"item": {"id": ln["item"]["id"]}, "quantity": 3, "rate": 1.0}
                        for ln in template["item"]["items"]
                    ]
                },
            },
        )
        self.pos_made = {
            c["id"]: want
            for c, want in (
                (
                    self.xs.staff.create_transfer(
                        source="Store Downtown", destination="Store Airport", lines=want, send=True
                    ),
                    want,
                )
                for want in ({"SKU-00003": 4, "SKU-00007": 2}, {"SKU-00005": 1})
            )
        }

    def tos(self) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in self.ns.store.iter_docs("transferOrder")}

    def outlet(self, location_id: str) -> str:
        return self.xs.store.outlet_by_name(OUTLET_OF_LOCATION[location_id])["id"]

    def measure(self) -> Outcome:
        out = Outcome()
        tos = self.tos()
        live = [
            c for c in self.xs.store.consignments.values() if c["type"] == "OUTLET" and not c["deleted_at"]
        ]
        for cid, want in self.pos_made.items():
            pulled = [d for d in tos.values() if d.get("externalId") == f"VEND-{cid}"]
            out.lost += [] if pulled else [f"the POS transfer {cid} is not in NetSuite"]
            out.duplicated += (
                [f"the POS transfer {cid} is {len(pulled)} times in NetSuite"] if len(pulled) > 1 else []
            )
            if len(pulled) == 1 and self.sku_counts(pulled[0]) != {k: Decimal(v) for k, v in want.items()}:
                out.disagreements.append(f"the POS transfer {cid}: NetSuite TO counts differ")
        by_ref = Counter(c["reference"] for c in live)
        synced = {
            (s.key.entity_type, s.key.source_id): s
            for s in records(self.ledger, self.flow)
            if s.status.value in ("synced", "ignored")
        }
        for to_id, doc in sorted(tos.items()):
            if str(doc.get("externalId") or "").startswith("VEND-"):
                continue
            n = by_ref.get(doc["tranId"], 0)
            out.lost += [f"TO {doc['tranId']}: no consignment"] if n == 0 else []
            out.duplicated += [f"TO {doc['tranId']}: {n} consignments"] if n > 1 else []
            cons = [c for c in live if c["reference"] == doc["tranId"]]
            if len(cons) != 1:
                continue
            cid = cons[0]["id"]
            if self.cons_counts(cid) != self.sku_counts(doc):
                out.disagreements.append(f"TO {doc['tranId']}: consignment counts differ from NetSuite")
            if (cons[0]["source_outlet_id"], cons[0]["outlet_id"]) != (
                self.outlet(doc["location"]["id"]),
                self.outlet(doc["transferLocation"]["id"]),
            ):
                out.disagreements.append(f"TO {doc['tranId']}: consignment {cid} between the wrong outlets")
            if doc.get(CONSIGNMENT_FIELD) != cid:
                out.disagreements.append(
                    f"TO {doc['tranId']}: {CONSIGNMENT_FIELD} is {doc.get(CONSIGNMENT_FIELD)}"
                )
            state = synced.get(("transfer_order", to_id))
            if state is None or state.target_id != cid:
                out.disagreements.append(f"ledger: TO {doc['tranId']} not recorded with consignment {cid}")
        for cid in self.pos_made:
            if ("consignment", cid) not in synced:
                out.disagreements.append(f"ledger: POS transfer {cid} not recorded")
        if not self.xs.store.consignments[self.deleted_cid]["deleted_at"]:
            out.lost.append(f"consignment {self.deleted_cid} of the deleted TO still live")
        if ("transfer_order_deletion", self.deleted) not in synced:
            out.disagreements.append(f"ledger: the deletion of TO {self.deleted} not recorded")
        created = Counter(self.xs.store.created_via_api)
        out.duplicated += [f"consignment {c} created {n} times" for c, n in created.items() if n > 1]
        expected = (
            len([d for d in tos.values() if not str(d.get("externalId") or "").startswith("VEND-")]) + 1
        )
        if len(created) > expected:  # the three first ones, the deleted one's included, and the new one
            out.duplicated.append(f"{len(created)} consignments created through the API, {expected} TOs")
        return out


SCENARIOS = (VendPurchaseOrders, VendReceipts, VendTokenRefresh, VendTransfers)


@pytest.mark.parametrize(
    ("scenario", "point", "mode"), cells(VendPurchaseOrders, VendReceipts, VendTokenRefresh)
)
def test_crash_and_rerun(
    scenario: type[_XSeries], point: str, mode: str, dagbag, ledger_conn, vend, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn, vend), point, mode, monkeypatch), point, mode)


@pytest.fixture
def vend_transfers(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The transfer e2e tests' sandboxes: three transfer orders Main Warehouse -> Store Downtown, the
    settings table from the shipped file (no Variable)."""
    from tests.xseries.test_e2e_transfer_orders import transfer_sandboxes

    with transfer_sandboxes(tmp_path, monkeypatch) as sb:
        yield sb


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(VendTransfers))
def test_transfer_crash_and_rerun(
    scenario: type[_XSeries], point: str, mode: str, dagbag, ledger_conn, vend_transfers, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn, vend_transfers), point, mode, monkeypatch), point, mode)
