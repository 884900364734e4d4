"""Two ``hotwax_po_export`` runs at once (a manual trigger during a scheduled run, two deployments):
every PO goes out in exactly one file, and every flagged PO is in a file.

Both runs are the real operator in two threads, against the same NetSuite and SFTP stand-ins and
the same ledger, with the same ``run_after`` (the same file-name timestamp): before the fix they
claimed every PO with ``force=True`` and named the file from a hash taken before busy POs were
removed, so the two files had one name and one replaced the other.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from po_sync.hotwax.formats import parse_po_csv
from po_sync.hotwax.operators import EXPORTED_FIELD, HotWaxPurchaseOrderExportOperator
from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.hotwax import PO_DIR
from tests.hotwax.conftest import new_po

pytestmark = pytest.mark.e2e

FLOW = "hotwax_po_export"


def _context(run_id: str, run_after: datetime) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id=FLOW, run_id=run_id, task_id="export_purchase_orders", map_index=-1, try_number=1
    )
    return {"ti": ti, "dag_run": SimpleNamespace(run_after=run_after, logical_date=run_after)}


def _run_together(run_after: datetime, runs: int = 2) -> list[BaseException | dict[str, Any]]:
    barrier = threading.Barrier(runs)
    out: list[BaseException | dict[str, Any]] = [RuntimeError("not run")] * runs

    def one(index: int) -> None:
        op = HotWaxPurchaseOrderExportOperator(task_id="export_purchase_orders", flow=FLOW)
        barrier.wait()
        try:
            out[index] = op.execute(_context(f"manual__{run_after.isoformat()}_{index}", run_after))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def _exported(actor: Any) -> Counter[str]:
    """PO id -> in how many files it went out (the folder and HotWax's archive)."""
    seen: Counter[str] = Counter()
    for folder in (PO_DIR, PO_DIR / "archive"):
        for name in actor.files(folder):
            if name.endswith(".csv") and not name.startswith("."):
                seen.update({r.external_id for r in parse_po_csv(actor.path(folder / name).read_bytes())})
    return seen


def _flagged(store: Any) -> set[str]:
    return {d["id"] for d in store.iter_docs("purchaseOrder") if d.get(EXPORTED_FIELD)}


def test_two_runs_at_once_put_every_po_in_exactly_one_file(
    ledger_conn, actor, netsuite_store, hotwax_sandbox
):
    for _ in range(15):
        new_po(netsuite_store)
    for round_no in range(3):
        if round_no:
            for _ in range(20):
                new_po(netsuite_store)
        run_after = datetime(2026, 12, 3, 12, 0, round_no, tzinfo=UTC)
        results = _run_together(run_after)
        assert all(isinstance(r, dict) for r in results), results
        exported = _exported(actor)
        flagged = _flagged(netsuite_store)
        twice = {po: n for po, n in exported.items() if n > 1}
        assert twice == {}, f"round {round_no}: POs in more than one file: {twice}"
        assert flagged - set(exported) == set(), f"round {round_no}: flagged but in no file"
        assert set(exported) == flagged
        assert not [n for n in actor.files(PO_DIR) if n.startswith(".")], "no temporary upload left"
    for po in flagged:
        state = ledger_conn.get(RecordKey(FLOW, "purchase_order", "netsuite", po))
        assert state is not None and state.status in (RecordStatus.SYNCED, RecordStatus.IGNORED), po
        assert state.target_id in actor.files(PO_DIR), "the ledger names the file the PO is in"
    assert len(flagged) == 5 + 15 + 40


def test_a_po_another_run_has_just_exported_is_not_sent_again(ledger_conn, actor, netsuite_store):
    """Run B read NetSuite before run A set the flag (seconds apart): B must not send A's POs again."""
    first = _run_together(datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC), runs=1)[0]
    assert isinstance(first, dict) and first["counts"]["synced"] == 5
    (name,) = [n for n in actor.files(PO_DIR) if n.endswith(".csv")]
    # what B saw: the flags not yet set
    for po in _flagged(netsuite_store):
        netsuite_store.update("purchaseOrder", po, {EXPORTED_FIELD: False}, replace=set())
    second = _run_together(datetime(2026, 12, 3, 12, 0, 4, tzinfo=UTC), runs=1)[0]
    assert isinstance(second, dict), second
    assert second["counts"]["synced"] == 0 and second["counts"]["ignored"] == 5
    assert [n for n in actor.files(PO_DIR) if n.endswith(".csv")] == [name], "no second file"
    assert max(_exported(actor).values()) == 1
