"""vend_purchase_order_sync's pull after a crash, in a new DAG run: the POS order's record a crashed
pull left ``in_progress`` is settled from NetSuite (``po_sync.xseries.pulled``), even though the
new run's push has taken the PO made before the crash for its own."""

from __future__ import annotations

import pytest

from po_sync import faults
from po_sync.faults import CRASH_ENV
from po_sync.ledger import RecordKey, RecordStatus
from tests.xseries.conftest import pos, run

pytestmark = pytest.mark.e2e

FLOW = "vend_purchase_order_sync"


@pytest.fixture(autouse=True)
def _fresh_crash_counts():
    """``@n`` counts hits per process: each test counts from its own start."""
    faults.reset()
    yield
    faults.reset()


def _pulled(ns, cid: str) -> list[dict]:
    return [p for p in pos(ns).values() if p.get("externalId") == f"VEND-{cid}"]


def test_a_po_made_before_the_crash_is_recorded_by_the_new_run(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    order = xs.staff.create_supplier_order(
        outlet="Store Airport", supplier="Globex Supply", lines={"SKU-00003": 4}, reference="POS-9"
    )
    monkeypatch.setenv(CRASH_ENV, f"{FLOW}.after_netsuite_po@1")
    assert run(dagbag, FLOW).state == "failed"
    monkeypatch.delenv(CRASH_ENV)
    key = RecordKey(FLOW, "consignment", "xseries", order["id"])
    assert ledger_conn.get(key).status is RecordStatus.IN_PROGRESS
    (made,) = _pulled(ns, order["id"])

    assert run(dagbag, FLOW).state == "success"
    state = ledger_conn.get(key)
    assert (state.status, state.target_id) == (RecordStatus.SYNCED, made["id"])
    assert len(_pulled(ns, order["id"])) == 1
    push_side = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", made["id"]))
    assert push_side.status is RecordStatus.SYNCED and push_side.target_id == order["id"]
    assert order["id"] not in xs.store.created_via_api


def test_a_pos_order_cancelled_before_its_po_was_made_is_ignored(vend, dagbag, ledger_conn, monkeypatch):
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    assert run(dagbag, FLOW).state == "success"  # the NetSuite POs go out first
    order = xs.staff.create_supplier_order(
        outlet="Store Airport", supplier="Globex Supply", lines={"SKU-00003": 4}, reference="POS-10"
    )
    # the push claims its four (unchanged) POs first; the fifth claim is the POS order's
    monkeypatch.setenv(CRASH_ENV, f"{FLOW}.ledger_claimed@5")
    assert run(dagbag, FLOW).state == "failed"
    monkeypatch.delenv(CRASH_ENV)
    key = RecordKey(FLOW, "consignment", "xseries", order["id"])
    assert ledger_conn.get(key).status is RecordStatus.IN_PROGRESS and not _pulled(ns, order["id"])
    xs.store.update_consignment(order["id"], {"status": "CANCELLED"})

    assert run(dagbag, FLOW).state == "success"
    state = ledger_conn.get(key)
    assert (state.status, state.last_error_code) == (RecordStatus.IGNORED, "NO_LONGER_OPEN")
    assert order["id"] in state.last_error_message and "CANCELLED" in state.last_error_message
    assert not _pulled(ns, order["id"])


def test_a_consignment_whose_create_answer_was_lost_is_not_taken_for_a_pos_order(vend, dagbag, ledger_conn):
    """The push's create is made in X-Series but its answer never comes (dropped connection), so the
    push's ledger does not name that consignment yet. The pull in the same run must see it is made from
    a NetSuite PO (its reference is the PO number) and skip it: not quarantine it as an empty POS order,
    not write it to NetSuite as a second PO. The next run finishes the push on that same consignment."""
    ns, xs = vend.services["netsuite"], vend.services["xseries"]
    before = {pid: dict(po) for pid, po in pos(ns).items()}
    xs.inject_fault("drop_after", count=1, method="POST", path_contains="/consignments")
    run(dagbag, FLOW)
    (lost,) = [c for c in xs.store.created_via_api if c not in _synced_targets(ledger_conn)]
    pulled_state = ledger_conn.get(RecordKey(FLOW, "consignment", "xseries", lost))
    assert pulled_state is not None and pulled_state.status is RecordStatus.IGNORED
    assert pulled_state.last_error_code == "FROM_NETSUITE"
    assert set(pos(ns)) == set(before)  # no PO written for it

    assert run(dagbag, FLOW).state == "success"
    assert set(pos(ns)) == set(before)
    assert len(xs.store.created_via_api) == len(before)  # one consignment per PO, the lost one reused
    assert lost in _synced_targets(ledger_conn)
    assert not ledger_conn.find(FLOW, statuses=(RecordStatus.QUARANTINED, RecordStatus.FAILED))


def _synced_targets(ledger) -> set[str]:
    return {
        s.target_id for s in ledger.find(FLOW, statuses=(RecordStatus.SYNCED,), entity_type="purchase_order")
    }
