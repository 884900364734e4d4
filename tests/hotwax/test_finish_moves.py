"""A stop between a receipt file's ledger outcome and its move is finished by the rerun, exactly once.

Each file's finish is: what it caused committed, its outcome in the ledger (``synced`` with the
archive path as target, ``quarantined`` with the error/ path as trace_key), then the move. A crash at
``before_move`` leaves the file in ``receipt/`` with a terminal record; the rerun must only move it
where the record says: no second receipt, no 'already imported' duplicate in error/, no second report,
and the run counts nothing as read, synced or quarantined for it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from po_sync import faults
from po_sync.ledger import RecordStatus
from po_sync.ledger.schema import sync_record
from po_sync_sandbox.hotwax import RECEIPT_DIR
from tests.hotwax.conftest import receipts_of, run_dag
from tests.hotwax.test_e2e_receipts import EXPORT, IMPORT, POS
from tests.ledger_rows import last_counts

pytestmark = pytest.mark.e2e

POINT = f"{IMPORT}.before_move"


def _file_records(ledger) -> dict[str, tuple[str, str | None, str | None]]:
    """``receipt_file*`` records by source id: (status, target_id, trace_key)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_record).where(
                sync_record.c.flow == IMPORT, sync_record.c.entity_type.like("receipt_file%")
            )
        ).all()
    return {f"{r.entity_type}:{r.source_id}": (r.status, r.target_id, r.trace_key) for r in rows}


@pytest.mark.parametrize("which", ["archive", "error"])
def test_the_rerun_only_finishes_the_move_of_a_file_whose_outcome_is_recorded(
    which, dagbag, ledger_conn, actor, netsuite_store, monkeypatch
):
    assert run_dag(dagbag, EXPORT).state == "success"
    assert actor.import_purchase_orders() == POS
    (feed,) = actor.receive()
    bad = actor.bad_feed("malformed")
    assert sorted([feed, bad]) == [feed, bad], "the feed is read first"

    faults.reset()
    monkeypatch.setenv(faults.CRASH_ENV, f"{POINT}@{1 if which == 'archive' else 2}")
    assert run_dag(dagbag, IMPORT).state == "failed"
    assert faults.fired == [POINT]
    monkeypatch.delenv(faults.CRASH_ENV)
    stopped = bad if which == "error" else feed
    assert stopped in actor.files(RECEIPT_DIR), "the crash came before the move"
    recorded = [s for s, _, _ in _file_records(ledger_conn).values()]
    assert RecordStatus.IN_PROGRESS.value not in recorded
    assert (RecordStatus.QUARANTINED.value if which == "error" else RecordStatus.SYNCED.value) in recorded

    assert run_dag(dagbag, IMPORT).state == "success"
    assert actor.files(RECEIPT_DIR) == []
    assert actor.files(RECEIPT_DIR / "archive") == [feed], "archived once"
    assert actor.files(RECEIPT_DIR / "error") == [bad, f"{bad}.errors.csv"], "no duplicate in error/"
    assert all(len(receipts_of(netsuite_store, po)) == 1 for po in POS), "received once"
    records = _file_records(ledger_conn)
    assert not any(k.startswith("receipt_file_duplicate") for k in records), records
    by_name = {k.split(":", 1)[1].split("@", 1)[0]: v for k, v in records.items()}
    assert by_name[feed][0] == "synced" and by_name[feed][1].endswith(f"archive/{feed}")
    assert by_name[bad][0] == "quarantined" and by_name[bad][2].endswith(f"error/{bad}")
    read, synced, ignored, quarantined = last_counts(ledger_conn, IMPORT, "import_receipts")
    if which == "error":  # the rerun only moved the malformed file: nothing read, nothing recorded
        assert (read, synced, ignored, quarantined) == (0, 0, 0, 0)
    else:  # the feed's move finished uncounted; the malformed file read and quarantined once
        assert (read, synced, quarantined) == (1, 0, 1)
