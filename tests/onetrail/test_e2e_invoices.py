"""onetrail_inbound invoices end to end: vendor bills with charges, tax, terms and due date; refusals; crashes."""

from __future__ import annotations

import re

import pytest

from tests.onetrail.conftest import flagged_pos, run_dag, task_states

pytestmark = pytest.mark.timeout(400)
GROUP = "invoices.process_files"


def bills_of(store, po_id):
    return [d for d in store.iter_docs("vendorBill") if (d.get("createdFrom") or {}).get("id") == str(po_id)]


def received_orders(dagbag, hub, store):
    run_dag(dagbag, "onetrail_po_submit")
    hub.poll()
    pos = [p for p in flagged_pos(store) if not store.get("purchaseOrder", p["id"]).get("createdFrom")]
    for po in pos:
        hub.answer(po["tranid"], "confirmed")
        hub.ship(po["tranid"])
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["despatch_advices.process_files"] == "success"
    return pos


def note(hub, name):
    return (hub.folder("Out/Invoice") / "error" / f"{name}.error.txt").read_text()


def test_invoices_become_reconciled_vendor_bills(dagbag, ledger_conn, onetrail_sandbox, hub, store):
    pos = received_orders(dagbag, hub, store)
    good, odd_terms, uninsured, wrong_total = pos[:4]
    hub.invoice(good["tranid"])
    hub.invoice(odd_terms["tranid"], terms="XYZ-14")
    bad_charge = hub.invoice(uninsured["tranid"], charge_type="INSURANCE")
    off = hub.invoice(wrong_total["tranid"])
    data = off.read_bytes()
    if off.suffix == ".xml":
        data = re.sub(rb"<totalAmount>([0-9.]+)</totalAmount>", b"<totalAmount>1.00</totalAmount>", data)
    else:
        data = re.sub(rb"MOA\+77:[0-9.]+'", b"MOA+77:1.00'", data)
    off.write_bytes(data)
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"

    [bill] = bills_of(store, good["id"])
    invoice = hub.state["invoiced"][good["tranid"]]
    assert bill["externalId"].startswith("OT-INV-") and bill["terms"] == {"id": "2"}
    assert bill["dueDate"] and bill["tranId"].startswith("INV-")
    assert (
        bill["expense"]["items"][0]["account"] == {"id": "601"}
        and bill["expense"]["items"][0]["amount"] == 15
    )
    po_lines = {line["line"]: line for line in store.get("purchaseOrder", good["id"])["item"]["items"]}
    for line in bill["item"]["items"]:
        assert line["quantity"] == float(invoice[str(line["orderLine"])])
        assert line["rate"] == po_lines[line["orderLine"]]["rate"]
        assert line["tax1Amt"] == pytest.approx(round(line["quantity"] * line["rate"] * 0.21, 2), abs=0.011)
    assert store.get("purchaseOrder", good["id"])["_status"] == "G"

    [plain] = bills_of(store, odd_terms["id"])
    assert "terms" not in plain and plain["dueDate"]  # unknown terms id: no ad-hoc terms, due date kept

    assert bills_of(store, uninsured["id"]) == [] and bills_of(store, wrong_total["id"]) == []
    assert "charge type(s) INSURANCE not configured" in note(hub, bad_charge.name)
    assert "total" in note(hub, off.name) and "1.00" in note(hub, off.name)

    # Repeats bill nothing twice; the second pass finds nothing new.
    inbox = hub.folder("Out/Invoice")
    first = next(p for p in (inbox / "archive").iterdir())
    (inbox / f"again-{first.name}").write_bytes(first.read_bytes())
    count = len(list(store.iter_docs("vendorBill")))
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    assert len(list(store.iter_docs("vendorBill"))) == count
    assert "already billed" in note(hub, f"again-{first.name}")
    run = run_dag(dagbag, "onetrail_inbound")
    assert len(list(store.iter_docs("vendorBill"))) == count


def test_crash_after_bill_then_rerun_bills_once(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    po = received_orders(dagbag, hub, store)[0]
    path = hub.invoice(po["tranid"])
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "onetrail_inbound")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "failed"
    assert len(bills_of(store, po["id"])) == 1 and path.exists()
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"
    assert len(bills_of(store, po["id"])) == 1 and not path.exists()
