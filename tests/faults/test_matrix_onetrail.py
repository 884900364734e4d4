"""Fault matrix of the Onetrail flows: PO submit (status Submitting, the order's temp upload and
rename, status Submitted, (N)ACKs applied and archived, bad files to error/) and inbound (order
responses, despatch advices as receipts, invoices as bills, archive/, error/)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.faults.matrix import Outcome, Scenario, cells, check, duplicates, run_cell
from tests.onetrail.conftest import DEFAULT_CONF, flagged_pos

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

SUBMIT, INBOUND = "onetrail_po_submit", "onetrail_inbound"


class _Onetrail(Scenario):
    def __init__(self, dagbag: Any, ledger: Any, hub: Any, store: Any) -> None:
        self.dagbag, self.ledger, self.hub, self.store = dagbag, ledger, hub, store

    def submit_all(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, SUBMIT, DEFAULT_CONF[SUBMIT]).state == "success"
        self.hub.poll()

    def files(self, folder: str) -> list[str]:
        path = self.hub.folder(folder)
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.exists() else []

    def folder_outcome(self, out: Outcome, folder: str, archived: int, errors: list[str]) -> None:
        """Nothing left in ``folder``, ``archived`` files in its archive/, exactly ``errors`` in error/."""
        out.lost += [f"{folder}/{n} not handled" for n in self.files(folder)]
        archive = self.files(f"{folder}/archive")
        if len(archive) < archived:
            out.lost.append(f"{folder}/archive holds {len(archive)} of {archived} files")
        elif len(archive) > archived:
            out.duplicated.append(
                f"{folder}/archive holds {len(archive)} files, {archived} arrived: {archive}"
            )
        error = self.files(f"{folder}/error")
        out.lost += [f"{folder}/error/{n} missing" for n in errors if n not in error]
        extra = [n for n in error if n not in errors]
        out.duplicated += [f"{folder}/error has {extra} too"] if extra else []


class OnetrailSubmit(_Onetrail):
    """After a first submission (ACKs waiting in Out/RC with one bad file), one PO changes: one Change
    document reaches Onetrail once, every ACK is archived once, the bad file is in error/ once."""

    expected_codes = frozenset({"MALFORMED_XML"})

    flow = dag_id = SUBMIT
    smoke = "after_order_upload"
    conf = DEFAULT_CONF[SUBMIT]

    def prepare(self) -> None:
        self.submit_all()
        self.pos = flagged_pos(self.store)
        self.acks = len(self.files("Out/RC"))
        self.changed = self.pos[0]
        self.store.update(
            "purchaseOrder",
            self.changed["id"],
            {"item": {"items": [{"line": 1, "quantity": 99}]}},
            replace=set(),
        )
        (self.hub.folder("Out/RC") / "BAD-ACK.xml").write_bytes(b"<Acknowledgement><broken")

    def measure(self) -> Outcome:
        out = Outcome()
        self.folder_outcome(out, "Out/RC", self.acks, ["BAD-ACK.xml", "BAD-ACK.xml.error.txt"])
        self.hub.poll()
        if self.hub.duplicates:
            out.duplicated.append(f"Onetrail received {self.hub.duplicates} document(s) twice")
        for po in flagged_pos(self.store):
            sent = Counter(e["function"] for e in self.hub.state["orders"].get(po["tranid"], []))
            out.duplicated += [f"{po['tranid']}: {sent['Request']} requests"] if sent["Request"] > 1 else []
            out.lost += [f"{po['tranid']}: never ordered"] if not sent["Request"] else []
            if po["id"] == self.changed["id"]:
                out.lost += [] if sent["Change"] else [f"{po['tranid']}: the change never reached Onetrail"]
                out.duplicated += [f"{po['tranid']}: {sent['Change']} changes"] if sent["Change"] > 1 else []
            if po["status"] != "Submitted":
                out.disagreements.append(f"{po['tranid']}: NetSuite says {po['status']}")
        return out


class OnetrailInbound(_Onetrail):
    """An order response, a despatch advice and an invoice for one PO, and a bad order response: one
    receipt and one bill in NetSuite, each file archived once, the bad one in error/ once."""

    expected_codes = frozenset({"MALFORMED_XML"})

    flow = dag_id = INBOUND
    smoke = "after_despatch_write"
    conf = DEFAULT_CONF[INBOUND]

    def prepare(self) -> None:
        self.submit_all()
        self.po = next(
            p
            for p in flagged_pos(self.store)
            if not self.store.get("purchaseOrder", p["id"]).get("createdFrom")
        )
        self.hub.answer(self.po["tranid"], "confirmed")
        self.hub.ship(self.po["tranid"])
        self.hub.invoice(self.po["tranid"])
        (self.hub.folder("Out/OrdRsp") / "BAD-RSP.xml").write_bytes(b"<OrderResponse><broken")

    def of_po(self, record_type: str) -> list[str]:
        return [
            str(d["id"])
            for d in self.store.iter_docs(record_type)
            if (d.get("createdFrom") or {}).get("id") == str(self.po["id"])
        ]

    def measure(self) -> Outcome:
        out = Outcome()
        self.folder_outcome(out, "Out/OrdRsp", 1, ["BAD-RSP.xml", "BAD-RSP.xml.error.txt"])
        self.folder_outcome(out, "Out/Desadv", 1, [])
        self.folder_outcome(out, "Out/Invoice", 1, [])
        for record_type in ("itemReceipt", "vendorBill"):
            found = self.of_po(record_type)
            out.lost += [] if found else [f"no {record_type} for {self.po['tranid']}"]
            out.duplicated += (
                [f"{len(found)} {record_type}s for {self.po['tranid']}"] if len(found) > 1 else []
            )
        out.duplicated += duplicates(self.files("Out/OrdRsp/archive"))
        return out


SCENARIOS = (OnetrailSubmit, OnetrailInbound)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[_Onetrail], point: str, mode: str, dagbag, ledger_conn, hub, store, monkeypatch
):
    check(run_cell(scenario(dagbag, ledger_conn, hub, store), point, mode, monkeypatch), point, mode)
