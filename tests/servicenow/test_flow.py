"""s2p_purchase_order_sync through Airflow (dag.test) against the ServiceNow and NetSuite sandboxes."""

from __future__ import annotations

from typing import Any

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.servicenow.actor import Line
from po_sync_sandbox.servicenow.schema import (
    ADDRESS_MAP,
    FIXED_ASSET,
    PRIMARY_LINE,
    PRIMARY_PO,
    PURCHASING_TASK,
    REQUISITION,
    STAGING_LINE,
    STAGING_PO,
)
from tests.servicenow.conftest import FLOW, netsuite_pos, run_flow

pytestmark = pytest.mark.e2e


def staging(s2p: Any, number: str) -> list[dict[str, str]]:
    return sorted(
        s2p.servicenow.store.rows(STAGING_PO, purchase_order_number=number),
        key=lambda r: r["sys_created_on"] + r["sys_id"],
    )


def staging_lines(s2p: Any, header_id: str) -> list[dict[str, str]]:
    rows = s2p.servicenow.store.rows(STAGING_LINE, purchase_order=header_id)
    return sorted(rows, key=lambda r: int(r["purchase_order_line_number"]))


def record(ledger: Any, header_id: str) -> Any:
    return ledger.get(RecordKey(FLOW, "purchase_order", "servicenow", header_id))


def test_pos_reach_netsuite_with_erp_numbers_back_and_a_second_run_duplicates_nothing(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    first = actor.create_po(
        "VEND-0001", [Line("ITEM-00001", 5, "12.50"), Line("ITEM-00002", 3, "4", location="Downtown Store")]
    )
    second = actor.create_po("VEND-0002", [Line("ITEM-00003", 1)])
    assert run_flow(dagbag).state == "success"

    pos = netsuite_pos(s2p.netsuite.store)
    assert set(pos) == {first, second}
    po = pos[first]
    assert (
        po["entity"]["id"]
        == s2p.netsuite.store.query("SELECT id FROM vendor WHERE externalid='VEND-0001'")[0]["id"].__str__()
    )
    lines = po["item"]["items"]
    assert [(ln["line"], ln["quantity"], ln["rate"]) for ln in lines] == [(1, 5, 12.5), (2, 3, 4)]
    assert lines[1]["location"]["id"] == str(
        s2p.netsuite.store.query("SELECT id FROM location WHERE externalid='LOC-2'")[0]["id"]
    )
    assert lines[0]["custcol_s2p_material_group"] == "MG-OF-02"
    assert lines[0]["custcol_s2p_account_assignment"] == "cost_center"

    (header,) = staging(s2p, first)
    assert header["integration_status"] == "30" and header["erp_number"] == po["tranId"]
    assert [ln["erp_line_number"] for ln in staging_lines(s2p, header["sys_id"])] == ["1", "2"]
    assert all(ln["integration_status"] == "30" for ln in staging_lines(s2p, header["sys_id"]))
    primary = s2p.servicenow.store.get(PRIMARY_PO, header["purchase_order"])
    assert primary["erp_number"] == po["tranId"] and primary["status"] == "ordered"
    assert [ln["erp_line_number"] for ln in actor.primary_lines(first)] == ["1", "2"]
    assert record(ledger_conn, header["sys_id"]).status is RecordStatus.SYNCED
    assert record(ledger_conn, header["sys_id"]).target_id == po["id"]

    assert run_flow(dagbag).state == "success"
    assert len(netsuite_pos(s2p.netsuite.store)) == 2
    assert s2p.netsuite.store.count("purchaseOrder") == 2


def test_capitalised_line_of_250_is_split_99_99_52_and_fixed_assets_point_at_their_erp_line(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po(
        "VEND-0001",
        [
            Line(
                "ITEM-00004",
                250,
                "900",
                model_category="Computers",
                capitalization_policy="IT hardware >= 1000",
                account_assignment="A",
            ),
            Line("ITEM-00005", 150),  # not capitalised: never split
        ],
    )
    assert run_flow(dagbag).state == "success"
    lines = netsuite_pos(s2p.netsuite.store)[number]["item"]["items"]
    assert [ln["quantity"] for ln in lines] == [99, 99, 52, 150]
    purchase_lines = [p["purchase_line"] for p in actor.primary_lines(number)]
    assert [ln["custcol_s2p_purchase_line"] for ln in lines] == [purchase_lines[0]] * 3 + [purchase_lines[1]]
    assert {ln["custcol_s2p_asset_class"] for ln in lines[:3]} == {"COMPUTER_EQUIPMENT"}
    (header,) = staging(s2p, number)
    assert [ln["erp_line_number"] for ln in staging_lines(s2p, header["sys_id"])] == ["1,2,3", "4"]
    primary_line = actor.primary_lines(number)[0]
    assets = sorted(
        s2p.servicenow.store.rows(FIXED_ASSET, purchase_order_line=primary_line["sys_id"]),
        key=lambda a: a["asset_tag"],
    )
    assert len(assets) == 250
    assert [a["erp_line_number"] for a in assets] == ["1"] * 99 + ["2"] * 99 + ["3"] * 52
    assert {a["erp_number"] for a in assets} == {header["erp_number"]}


def test_revision_updates_the_same_netsuite_po(dagbag: Any, ledger_conn: Any, s2p: Any) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5), Line("ITEM-00002", 3)])
    assert run_flow(dagbag).state == "success"
    created = netsuite_pos(s2p.netsuite.store)[number]
    actor.revise(number, quantities={1: 8})
    assert run_flow(dagbag).state == "success"
    after = netsuite_pos(s2p.netsuite.store)
    assert len(after) == 1 and after[number]["id"] == created["id"]
    assert [ln["quantity"] for ln in after[number]["item"]["items"]] == [8, 3]
    assert [h["integration_status"] for h in staging(s2p, number)] == ["30", "30"]
    assert {h["erp_number"] for h in staging(s2p, number)} == {created["tranId"]}


def test_revision_staged_with_its_original_waits_for_the_next_wave(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5)])
    actor.revise(number, quantities={1: 6})
    assert run_flow(dagbag).state == "success"
    (po,) = netsuite_pos(s2p.netsuite.store).values()
    assert po["item"]["items"][0]["quantity"] == 6
    assert [h["integration_status"] for h in staging(s2p, number)] == ["30", "30"]


def test_cancellation_closes_the_netsuite_po_then_s2p_cancels(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5), Line("ITEM-00002", 3)])
    assert run_flow(dagbag).state == "success"
    actor.cancel(number)
    assert actor.po(number)["status"] == "pending_submission"
    assert run_flow(dagbag).state == "success"
    po = netsuite_pos(s2p.netsuite.store)[number]
    assert all(ln["isClosed"] for ln in po["item"]["items"]) and po["_status"] == "H"
    assert actor.po(number)["status"] == "canceled"
    assert s2p.netsuite.store.count("purchaseOrder") == 1


def test_blanket_is_ignored_with_its_reason_and_its_release_is_a_standard_po(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    blanket = actor.create_po("VEND-0001", [Line("ITEM-00001", 1000)], order_type="blanket")
    release = actor.create_po("VEND-0001", [Line("ITEM-00001", 40)], blanket_order=blanket)
    assert run_flow(dagbag).state == "success"
    pos = netsuite_pos(s2p.netsuite.store)
    assert set(pos) == {release}
    assert pos[release]["custbody_s2p_blanket_order"] == blanket and blanket in pos[release]["memo"]
    (header,) = staging(s2p, blanket)
    assert header["integration_status"] == "30" and "blanket order" in header["processing_message"]
    state = record(ledger_conn, header["sys_id"])
    assert state.status is RecordStatus.IGNORED and "blanket order" in (state.last_error_message or "")


def test_bad_input_fails_only_that_po_with_a_task_and_the_fix_goes_through(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    good = actor.create_po("VEND-0001", [Line("ITEM-00001", 2)])
    unmapped = actor.create_po(
        "VEND-0001", [Line("ITEM-00001", 2), Line("ITEM-00002", 1, location="Moon Base")]
    )
    zero = actor.create_po("VEND-0002", [Line("ITEM-00002", 0)])
    stranger = actor.create_po("VEND-9999", [Line("ITEM-00003", 1)])
    assert run_flow(dagbag).state == "success"
    assert set(netsuite_pos(s2p.netsuite.store)) == {good}

    (h_unmapped,) = staging(s2p, unmapped)
    assert h_unmapped["integration_status"] == "40"
    assert (
        "sn_shop_erp_address_map" in h_unmapped["processing_message"]
        and "'Moon Base'" in h_unmapped["processing_message"]
    )
    assert all(ln["integration_status"] == "40" for ln in staging_lines(s2p, h_unmapped["sys_id"]))
    assert record(ledger_conn, h_unmapped["sys_id"]).status is RecordStatus.QUARANTINED
    (h_zero,) = staging(s2p, zero)
    assert (
        h_zero["integration_status"] == "40"
        and "purchased_quantity must be greater than 0" in h_zero["processing_message"]
    )
    (h_stranger,) = staging(s2p, stranger)
    assert h_stranger["integration_status"] == "40" and "VEND-9999" in h_stranger["processing_message"]
    assert record(ledger_conn, h_stranger["sys_id"]).status is RecordStatus.FAILED  # NetSuite refused it

    tasks = s2p.servicenow.store.rows(PURCHASING_TASK)
    assert sorted(t["correlation_id"] for t in tasks) == sorted(
        h["sys_id"] for h in (h_unmapped, h_zero, h_stranger)
    )
    task = next(t for t in tasks if t["correlation_id"] == h_stranger["sys_id"])
    assert task["type"] == "integration_error" and "VEND-9999" in task["description"]
    assert task["purchase_requisition"] == actor.po(stranger)["purchase_requisition"]
    assert actor.po(unmapped)["status"] == "pending_submission"
    requisition = s2p.servicenow.store.get(REQUISITION, actor.po(unmapped)["purchase_requisition"])
    assert requisition["status"] == "pending_submission"

    # the administrator adds the mapping and sets the PO back to New: it goes through, errors resolved
    actor.add_mapping(ADDRESS_MAP, {"location": "Moon Base", "erp_location": "LOC-2", "erp_subsidiary": "1"})
    actor.reset_failed(unmapped)
    assert run_flow(dagbag).state == "success"
    assert set(netsuite_pos(s2p.netsuite.store)) == {good, unmapped}
    assert staging(s2p, unmapped)[0]["integration_status"] == "30"
    assert actor.po(unmapped)["status"] == "ordered"
    state = record(ledger_conn, h_unmapped["sys_id"])
    assert state.status is RecordStatus.SYNCED
    assert all(e["resolved_at"] is not None for e in ledger_conn.errors(state.id))
    assert len(s2p.servicenow.store.rows(PURCHASING_TASK)) == 3  # no new task


def test_lines_without_their_po_are_retriggered_a_bounded_number_of_times(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 2)], stage=False)
    orphan = actor.orphan_line(number)
    key = RecordKey(FLOW, "orphan_line", "servicenow", orphan)
    for run_no in (1, 2):
        assert run_flow(dagbag).state == "success"
        assert s2p.servicenow.store.get(STAGING_LINE, orphan)["integration_status"] == "10"
        state = ledger_conn.get(key)
        assert state.status is RecordStatus.FAILED and f"({run_no}/3)" in state.last_error_message
    assert run_flow(dagbag).state == "success"
    line = s2p.servicenow.store.get(STAGING_LINE, orphan)
    assert line["integration_status"] == "40" and "no purchase order" in line["processing_message"]
    assert ledger_conn.get(key).status is RecordStatus.QUARANTINED
    assert run_flow(dagbag).state == "success"
    assert ledger_conn.get(key).attempts == 3  # failed lines are not polled again


@pytest.mark.parametrize("point", [f"{FLOW}:after_mark", FLOW, f"{FLOW}:after_ledger"])
def test_crash_after_each_side_effect_then_rerun_makes_one_po(
    dagbag: Any, ledger_conn: Any, s2p: Any, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5), Line("ITEM-00002", 1)])
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", point)
    assert run_flow(dagbag).state == "failed"
    (header,) = staging(s2p, number)
    assert header["integration_status"] == "20"  # marked in process before the crash
    assert len(netsuite_pos(s2p.netsuite.store)) == (0 if point.endswith("after_mark") else 1)
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    assert run_flow(dagbag).state == "success"
    pos = netsuite_pos(s2p.netsuite.store)
    assert list(pos) == [number] and s2p.netsuite.store.count("purchaseOrder") == 1
    (header,) = staging(s2p, number)
    assert header["integration_status"] == "30" and header["erp_number"] == pos[number]["tranId"]
    assert record(ledger_conn, header["sys_id"]).status is RecordStatus.SYNCED
    assert actor.po(number)["status"] == "ordered"


def test_servicenow_429_is_waited_out_and_a_long_one_leaves_everything_for_the_next_run(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5)])
    s2p.servicenow.set_knobs(retry_after_seconds=0)
    s2p.servicenow.inject_fault("429", count=2, path_contains="/batch")
    assert run_flow(dagbag).state == "success"
    assert staging(s2p, number)[0]["integration_status"] == "30"

    later = actor.create_po("VEND-0001", [Line("ITEM-00002", 5)])
    s2p.servicenow.set_knobs(rate_limit_per_hour=1, retry_after_seconds=3000)  # the hourly rule is spent
    assert run_flow(dagbag).state == "failed"
    assert staging(s2p, later)[0]["integration_status"] == "10"
    assert set(netsuite_pos(s2p.netsuite.store)) == {number}
    s2p.servicenow.reset_knobs()
    assert run_flow(dagbag).state == "success"
    assert set(netsuite_pos(s2p.netsuite.store)) == {number, later}
    assert staging(s2p, later)[0]["integration_status"] == "30"


def test_netsuite_outage_puts_staging_back_to_new_and_the_next_run_creates_it(
    dagbag: Any, ledger_conn: Any, s2p: Any
) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 5)])
    s2p.netsuite.inject_fault("503", count=1, method="PUT")
    assert run_flow(dagbag).state == "success"
    (header,) = staging(s2p, number)
    assert header["integration_status"] == "10" and header["processing_message"] == ""
    assert record(ledger_conn, header["sys_id"]).status is RecordStatus.FAILED
    assert s2p.servicenow.store.rows(PURCHASING_TASK) == []  # not the record's fault: no task
    assert run_flow(dagbag).state == "success"
    assert staging(s2p, number)[0]["integration_status"] == "30"
    assert list(netsuite_pos(s2p.netsuite.store)) == [number]


def test_dry_run_writes_nothing(dagbag: Any, ledger_conn: Any, s2p: Any) -> None:
    number = s2p.actor.create_po("VEND-0001", [Line("ITEM-00001", 5)])
    assert run_flow(dagbag, {"dry_run": True}).state == "success"
    assert netsuite_pos(s2p.netsuite.store) == {}
    assert staging(s2p, number)[0]["integration_status"] == "10"
    assert ledger_conn.status_counts(FLOW) == {}


def test_a_refused_write_back_op_is_logged_not_fatal(dagbag: Any, ledger_conn: Any, s2p: Any) -> None:
    actor = s2p.actor
    number = actor.create_po("VEND-0001", [Line("ITEM-00001", 2), Line("ITEM-00002", 1)])
    gone = actor.primary_lines(number)[1]
    s2p.servicenow.store.delete(PRIMARY_LINE, gone["sys_id"])  # someone deleted it in S2P meanwhile
    assert run_flow(dagbag).state == "success"
    (header,) = staging(s2p, number)
    assert header["integration_status"] == "30"
    assert [ln["erp_line_number"] for ln in actor.primary_lines(number)] == ["1"]
    assert record(ledger_conn, header["sys_id"]).status is RecordStatus.SYNCED
