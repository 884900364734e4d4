"""A stop between an inbound file's ledger outcome and its move is finished by the rerun, exactly once.

Each Onetrail file's finish is: what it caused committed in NetSuite, its outcome in the ledger with
the path it goes to as ``trace_key`` (``archive/`` or ``error/``), then the move
(:mod:`po_sync.onetrail.kept`). A crash at ``after_file_outcome`` leaves the file in its ``Out``
folder with a closed record; the rerun must only move it where the record says: no second receipt
or bill, no 'already processed' duplicate in ``error/``, and the run counts nothing as read, synced
or quarantined for it (``moves_finished`` says what it did).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from po_sync import faults
from po_sync.ledger.schema import sync_record, sync_run
from tests.onetrail.conftest import run_dag, task_states
from tests.onetrail.test_e2e_despatch import receipts_of, setup_orders
from tests.onetrail.test_e2e_invoices import bills_of, received_orders

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FLOW = "onetrail_inbound"
POINT = f"{FLOW}.after_file_outcome"
DESPATCH = "despatch_advices.process_files"
INVOICES = "invoices.process_files"


def files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def file_records(ledger, entity: str) -> dict[str, tuple[str, str | None]]:
    """``<entity>*`` records by ``entity_type:name``: (status, trace_key)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_record).where(
                sync_record.c.flow == FLOW, sync_record.c.entity_type.like(f"{entity}%")
            )
        ).all()
    return {f"{r.entity_type}:{r.source_id.rpartition('@')[0]}": (r.status, r.trace_key) for r in rows}


def last_counts(ledger, task_id: str) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        row = conn.execute(
            sa.select(sync_run)
            .where(sync_run.c.flow == FLOW, sync_run.c.task_id == task_id)
            .order_by(sync_run.c.id.desc())
            .limit(1)
        ).one()
    return {
        "read": row.count_read,
        "synced": row.count_synced,
        "ignored": row.count_ignored,
        "failed": row.count_failed,
        "quarantined": row.count_quarantined,
    }


def pushed(run: Any, task_id: str) -> dict[str, Any]:
    """The summary the task pushed to XCom in ``run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        values = list(
            session.scalars(
                sa.select(XComModel.value).where(
                    XComModel.run_id == run.run_id,
                    XComModel.task_id == task_id,
                    XComModel.key == "return_value",
                )
            )
        )
    assert len(values) == 1, values
    return values[0]


def crash_once(dagbag, monkeypatch, nth: int) -> Any:
    faults.reset()
    monkeypatch.setenv(faults.CRASH_ENV, f"{POINT}@{nth}")
    run = run_dag(dagbag, FLOW)
    monkeypatch.delenv(faults.CRASH_ENV)
    assert faults.fired == [POINT]
    return run


@pytest.mark.parametrize("which", ["error", "archive"])
def test_despatch_rerun_only_finishes_the_move_of_a_file_whose_outcome_is_recorded(
    which, dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    pos, drop_id, _ = setup_orders(dagbag, hub, store)
    assert task_states(run_dag(dagbag, FLOW))["order_responses.process_files"] == "success"
    po = next(p for p in pos.values() if p["id"] != drop_id)
    good = hub.ship(po["tranid"])
    inbox = good.parent
    bad = inbox / "BAD-DSP.xml"
    bad.write_bytes(b"<Pip3B2AdvanceShipmentNotification><broken")
    # the refused file moves as soon as its chunk is recorded (hit 1), the advice once received (hit 2)
    run = crash_once(dagbag, monkeypatch, 1 if which == "error" else 2)
    assert task_states(run)[DESPATCH] == "failed"
    stopped = bad if which == "error" else good
    assert stopped.exists(), "the crash came before the move"
    records = file_records(ledger_conn, "despatch_advice_file")
    status, kept = records[f"despatch_advice_file:{stopped.name}"]
    folder = "error" if which == "error" else "archive"
    assert status == ("quarantined" if which == "error" else "synced")
    assert kept.endswith(f"Out/Desadv/{folder}/{stopped.name}"), kept
    assert len(receipts_of(store, po["id"])) == (1 if which == "archive" else 0)

    run = run_dag(dagbag, FLOW)
    assert task_states(run)[DESPATCH] == "success"
    assert files(inbox) == []
    assert files(inbox / "archive") == [good.name], "archived once"
    assert files(inbox / "error") == [bad.name, f"{bad.name}.error.txt"], "no duplicate in error/"
    assert (inbox / "error" / bad.name).read_bytes() == b"<Pip3B2AdvanceShipmentNotification><broken"
    assert (inbox / "error" / f"{bad.name}.error.txt").read_text().startswith(bad.name), "its note"
    assert len(receipts_of(store, po["id"])) == 1, "received once"
    records = file_records(ledger_conn, "despatch_advice")
    assert not [k for k in records if "_duplicate" in k], records
    assert all(status != "in_progress" for status, _ in records.values()), records
    counts = last_counts(ledger_conn, DESPATCH)
    summary = pushed(run, DESPATCH)
    assert summary["moves_finished"] == 1, summary
    if which == "error":  # the bad file only moved; the advice read and received now (file + PO)
        assert counts == {"read": 2, "synced": 2, "ignored": 0, "failed": 0, "quarantined": 0}
    else:  # the advice only moved: nothing read, written or recorded again
        assert counts == {"read": 0, "synced": 0, "ignored": 0, "failed": 0, "quarantined": 0}


def test_a_rerun_after_the_bills_are_committed_archives_the_invoice_not_refuses_it(
    dagbag, ledger_conn, onetrail_sandbox, hub, store, monkeypatch
):
    """Every bill of the file committed, the file's own record not yet: the rerun finds the bill
    ``synced`` by this very file (an earlier try of it), so the file is done and archived, not
    refused as ``ALREADY_BILLED`` into ``error/``."""
    po = received_orders(dagbag, hub, store)[0]
    path = hub.invoice(po["tranid"])
    faults.reset()
    point = f"{FLOW}.after_document_applied"
    monkeypatch.setenv(faults.CRASH_ENV, f"{point}@1")  # the only document of this run: the invoice
    run = run_dag(dagbag, FLOW)
    monkeypatch.delenv(faults.CRASH_ENV)
    assert faults.fired == [point] and task_states(run)[INVOICES] == "failed"
    (bill,) = bills_of(store, po["id"])
    assert path.exists()

    run = run_dag(dagbag, FLOW)
    assert task_states(run)[INVOICES] == "success"
    assert [b["id"] for b in bills_of(store, po["id"])] == [bill["id"]], "billed once"
    inbox = path.parent
    assert files(inbox) == [] and files(inbox / "archive") == [path.name]
    assert files(inbox / "error") == [], "not refused as already billed"
    records = file_records(ledger_conn, "invoice")
    assert not [k for k in records if "_duplicate" in k], records
    status, kept = records[f"invoice_file:{path.name}"]
    assert status == "synced" and kept.endswith(f"Out/Invoice/archive/{path.name}")
