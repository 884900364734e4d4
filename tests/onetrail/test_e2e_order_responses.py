"""onetrail_inbound order responses end to end: every scenario of the reference, amendments, repeats, crashes."""

from __future__ import annotations

import shutil

import pytest

from tests.onetrail.conftest import flagged_pos, run_dag, task_states

pytestmark = pytest.mark.timeout(400)

AMENDMENTS = "customrecord_onetrail_po_amendment"


def amendments(store, po_id=None):
    docs = list(store.iter_docs(AMENDMENTS))
    if po_id is None:
        return docs
    return [d for d in docs if (d.get("custrecord_onetrail_amend_po") or {}).get("id") == str(po_id)]


def lines_of(store, po_id):
    return store.get("purchaseOrder", po_id)["item"]["items"]


def submitted(dagbag, hub, store):
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    hub.poll()
    pos = flagged_pos(store)
    assert {p["status"] for p in pos} == {"Submitted"}
    return pos


def splittable(store, po):
    return any(line["quantity"] >= 2 for line in lines_of(store, po["id"]))


def test_every_scenario_sets_statuses_amendments_and_accepted_changes(
    dagbag, ledger_conn, onetrail_sandbox, hub, store
):
    from po_sync_sandbox.onetrail.actor import SCENARIOS

    pos = submitted(dagbag, hub, store)
    assert len(pos) >= len(SCENARIOS)
    pos = sorted(pos, key=lambda p: not splittable(store, p))  # the first two need a line of 2 or more
    plan = dict(
        zip(
            (
                "confirmed_with_changes",
                "line_split",
                *[s for s in SCENARIOS if s not in ("confirmed_with_changes", "line_split")],
            ),
            pos,
            strict=False,
        )
    )
    before = {p["id"]: lines_of(store, p["id"]) for p in plan.values()}
    for scenario, po in plan.items():
        hub.answer(po["tranid"], scenario)
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] == "success"
    assert not [p for p in hub.folder("Out/OrdRsp").iterdir() if p.is_file()]

    def po(scenario):
        return store.get("purchaseOrder", plan[scenario]["id"])

    def statuses(scenario):
        return [line.get("custcol_onetrail_accept_status") for line in po(scenario)["item"]["items"]]

    for scenario in plan:
        assert po(scenario)["custbody_onetrail_submit_status"] == "Confirmed", scenario

    ok = po("confirmed")
    assert ok["custbody_onetrail_accept_status"] == "Accepted" and set(statuses("confirmed")) == {"Accepted"}
    assert amendments(store, plan["confirmed"]["id"]) == []

    changed = po("confirmed_with_changes")
    assert changed["custbody_onetrail_accept_status"] == "Changed and Accepted"
    first = next(line for line in before[plan["confirmed_with_changes"]["id"]] if line["quantity"] >= 2)
    now = next(line for line in changed["item"]["items"] if line["line"] == first["line"])
    assert now["quantity"] == first["quantity"] - 1  # quantity changes are accepted automatically
    assert now["rate"] == first["rate"]  # price changes are not: recorded only
    assert now["custcol_onetrail_accept_status"] == "Changed and Accepted"
    kinds = {
        a["custrecord_onetrail_amend_change"]: a
        for a in amendments(store, plan["confirmed_with_changes"]["id"])
    }
    assert set(kinds) == {"quantity", "price", "date"}
    assert kinds["quantity"]["custrecord_onetrail_amend_applied"] is True
    assert kinds["price"]["custrecord_onetrail_amend_applied"] is False
    assert now["expectedReceiptDate"] == kinds["date"]["custrecord_onetrail_amend_new"]

    assert po("order_on_hold")["custbody_onetrail_accept_status"] == "Rejected"
    assert set(statuses("order_on_hold")) == {"Rejected"}

    held = statuses("line_on_hold")
    assert held[-1] == "Rejected" and set(held[:-1]) == {"Accepted"}
    assert po("line_on_hold")["custbody_onetrail_accept_status"] == "Changed and Accepted"

    gone = po("order_deleted")
    assert gone["custbody_onetrail_accept_status"] == "Deleted"
    assert all(line["isClosed"] for line in gone["item"]["items"]) and gone["_status"] == "H"

    deleted = po("lines_deleted")["item"]["items"]
    assert deleted[-1]["isClosed"] and deleted[-1]["custcol_onetrail_accept_status"] == "Deleted"
    assert not any(line["isClosed"] for line in deleted[:-1])

    added = po("line_added")["item"]["items"]
    assert len(added) == len(before[plan["line_added"]["id"]]) + 1
    assert added[-1]["custcol_onetrail_accept_status"] == "Added" and added[-1]["quantity"] == 1

    split = po("line_split")["item"]["items"]
    original = next(line for line in before[plan["line_split"]["id"]] if line["quantity"] >= 2)
    part = original["quantity"] // 2
    kept = next(line for line in split if line["line"] == original["line"])
    assert kept["quantity"] == original["quantity"] - part
    assert split[-1]["item"] == original["item"] and split[-1]["quantity"] == part
    assert [a["custrecord_onetrail_amend_change"] for a in amendments(store, plan["line_split"]["id"])] == [
        "split"
    ]

    # Second pass: nothing new, nothing doubled.
    count = len(amendments(store))
    snapshot = {p["id"]: lines_of(store, p["id"]) for p in plan.values()}
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] in ("success", "skipped")
    assert len(amendments(store)) == count
    assert {p["id"]: lines_of(store, p["id"]) for p in plan.values()} == snapshot


def test_repeated_hostile_and_unknown_files_go_to_error_with_a_note(
    dagbag, ledger_conn, onetrail_sandbox, hub, store
):
    from po_sync.ledger import RecordKey

    pos = submitted(dagbag, hub, store)
    path = hub.answer(pos[0]["tranid"], "line_added")
    inbox = hub.folder("Out/OrdRsp")
    run_dag(dagbag, "onetrail_inbound")
    count = len(amendments(store))
    lines = lines_of(store, pos[0]["id"])
    archived = inbox / "archive" / path.name
    assert archived.exists()
    shutil.copy(archived, inbox / path.name)  # Onetrail delivers the same file again
    (inbox / "evil.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    )
    unknown = archived.read_bytes().replace(pos[0]["tranid"].encode(), b"PO999999")
    (inbox / "unknown.xml").write_bytes(unknown)
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] == "success"
    errors = {p.name for p in (inbox / "error").iterdir()}
    assert {
        path.name,
        f"{path.name}.error.txt",
        "evil.xml",
        "evil.xml.error.txt",
        "unknown.xml",
        "unknown.xml.error.txt",
    } <= errors
    assert "already processed" in (inbox / "error" / f"{path.name}.error.txt").read_text()
    assert "DTD" in (inbox / "error" / "evil.xml.error.txt").read_text()
    assert "no purchase order PO999999" in (inbox / "error" / "unknown.xml.error.txt").read_text()
    assert len(amendments(store)) == count and lines_of(store, pos[0]["id"]) == lines
    rows = ledger_conn.get(
        RecordKey(
            "onetrail_inbound",
            "order_response",
            "onetrail",
            f"evil.xml@{__import__('hashlib').sha256((inbox / 'error' / 'evil.xml').read_bytes()).hexdigest()}",
        )
    )
    assert str(rows.status) == "quarantined" and rows.last_error_code == "HOSTILE_XML"


def test_crash_after_applying_then_rerun_adds_nothing_twice(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    pos = submitted(dagbag, hub, store)
    target = next(p for p in pos if splittable(store, p))
    path = hub.answer(target["tranid"], "line_split")
    before = len(lines_of(store, target["id"]))
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "onetrail_inbound")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] == "failed"
    assert path.exists()  # not archived: the ledger never heard of it
    assert len(lines_of(store, target["id"])) == before + 1
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)["order_responses.process_files"] == "success"
    assert not path.exists()
    assert len(lines_of(store, target["id"])) == before + 1
    assert len(amendments(store, target["id"])) == 1
