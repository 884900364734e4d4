"""Twins: two ``dag.test`` processes of the same flow at the same moment over the same input, the
same ledger and the same sandboxes (tests/storms/twins.py). No record may be processed twice:
NetSuite written once per record, one file per PO, each inbound file archived once, and the two
runs' counts adding up to what happened (no PO counted synced by both).

The receipt twins found that a feed the other twin archived between its listing and its read made
the whole import task fail (both tries, while the other twin kept archiving): the import now skips
such a file as ``busy`` (it is the other run's) and goes on with the rest.

The twins share one Airflow metadata database (the test session's): a ledger belongs to one Airflow
deployment. With a metadata database each, :func:`po_sync.liveness.release_dead_claims` in one twin
finds the other's ``processing`` run, asks its own Airflow about a task instance it has never heard
of, takes it for dead and takes over its live claims; that is a deployment the bundle does not
support (README: one ledger per Airflow deployment).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from po_sync.hotwax.formats import parse_po_csv
from po_sync.hotwax.operators import EXPORTED_FIELD
from po_sync_sandbox.hotwax import PO_DIR, RECEIPT_DIR
from tests.faults.matrix import records, run_dag
from tests.hotwax.conftest import DEFAULT_CONF, new_po, receipts_of
from tests.ledger_rows import task_runs
from tests.storms.twins import run_twins

pytestmark = [pytest.mark.e2e, pytest.mark.storm]

EXPORT, IMPORT = "hotwax_po_export", "hotwax_receipt_import"


def _check_twins(results: list[dict[str, Any]]) -> set[str]:
    """Both twins ran to success (a failure shows its errors and log); returns their run ids."""
    for twin in results:
        assert twin["state"] == "success", f"twin ended {twin['state']}: {twin['errors']} (log {twin['log']})"
    run_ids = {t["run_id"] for t in results}
    assert len(run_ids) == 2, "two DAG runs"
    return run_ids


def test_twin_po_exports_send_every_po_in_exactly_one_file(
    dagbag, ledger_conn, hotwax_sandbox, actor, tmp_path
) -> None:
    store = hotwax_sandbox.services["netsuite"].store
    for _ in range(25):
        new_po(store)
    pos = {d["id"] for d in store.iter_docs("purchaseOrder") if d.get("_status") == "Pending Receipt"}
    results = run_twins(EXPORT, DEFAULT_CONF[EXPORT], tmp_path / "twins")
    run_ids = _check_twins(results)

    seen: Counter[str] = Counter()
    files = [n for n in actor.files(PO_DIR) if n.endswith(".csv") and not n.startswith(".")]
    for name in files:
        seen.update({r.external_id for r in parse_po_csv(actor.path(PO_DIR / name).read_bytes())})
    assert {po: n for po, n in seen.items() if n > 1} == {}, "a PO in two files"
    flagged = {d["id"] for d in store.iter_docs("purchaseOrder") if d.get(EXPORTED_FIELD)}
    exported_pos = {d["id"] for d in store.iter_docs("purchaseOrder") if d.get("tranId") in seen} | set(seen)
    assert flagged - exported_pos == set(), "flagged exported but in no file"
    assert not [n for n in actor.files(PO_DIR) if n.startswith(".")], "temporary upload left"
    # HotWax imports each PO once
    actor.import_purchase_orders()
    assert actor.duplicates() == {}

    states = {s.key.source_id: s for s in records(ledger_conn, EXPORT)}
    wrong = {
        po: (s.status.value, s.last_error_code) for po, s in states.items() if s.status.value != "synced"
    }
    # a PO the other twin finished meanwhile is ignored as ALREADY_EXPORTED, never failed
    assert all(v == ("ignored", "ALREADY_EXPORTED") for v in wrong.values()), wrong
    # ignored = unchanged since it went out (the other twin's record, seen again): still done
    assert set(states) == flagged, f"ledger {sorted(states)} vs flagged {sorted(flagged)}"
    misnamed = {po: states[po].target_id for po in flagged if states[po].target_id not in files}
    assert misnamed == {}, f"the ledger names no file (or the wrong one) for {misnamed}; files {files}"
    runs = task_runs(ledger_conn, EXPORT, run_ids)
    assert sum(r["count_synced"] for r in runs) == len(flagged), "synced counted once across both twins"
    assert all(r["status"] == "completed" for r in runs), runs
    # nothing lost: a quiet run afterwards exports whatever both twins left (busy in the other)
    assert run_dag(dagbag, EXPORT, DEFAULT_CONF[EXPORT]).state == "success"
    flagged = {d["id"] for d in store.iter_docs("purchaseOrder") if d.get(EXPORTED_FIELD)}
    assert pos <= flagged, f"never exported: {sorted(pos - flagged)}"


def test_twin_receipt_imports_receive_every_feed_once(
    dagbag, ledger_conn, hotwax_sandbox, actor, tmp_path
) -> None:
    store = hotwax_sandbox.services["netsuite"].store
    for _ in range(10):
        new_po(store)
    assert run_dag(dagbag, EXPORT, DEFAULT_CONF[EXPORT]).state == "success"
    pos = actor.import_purchase_orders()
    feeds = actor.receive(files=len(pos))
    assert len(feeds) == len(pos) > 10
    # NetSuite a little slow, so one twin's import is still going when the other's starts
    hotwax_sandbox.services["netsuite"].set_knobs(latency_ms=150)
    results = run_twins(IMPORT, DEFAULT_CONF[IMPORT], tmp_path / "twins")
    run_ids = _check_twins(results)
    hotwax_sandbox.services["netsuite"].set_knobs(latency_ms=0)
    # what either twin left (a file the other held) a quiet run finishes
    quiet = run_dag(dagbag, IMPORT, DEFAULT_CONF[IMPORT])
    assert quiet.state == "success"

    counts = {po: len(receipts_of(store, po)) for po in pos}
    assert counts == {po: 1 for po in pos}, f"receipts per PO: {counts}"
    archived = actor.files(RECEIPT_DIR / "archive")
    assert sorted(archived) == sorted(feeds), f"archive/ holds {archived}"
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "error") == []
    states = records(ledger_conn, IMPORT)
    files = [s for s in states if s.key.entity_type == "receipt_file"]
    assert sorted(s.key.source_id.split("@")[0] for s in files) == sorted(feeds)
    assert all(s.status.value == "synced" for s in states), [
        (s.key.source_id, s.status.value, s.last_error_code) for s in states if s.status.value != "synced"
    ]
    runs = task_runs(ledger_conn, IMPORT, run_ids | {quiet.run_id})
    synced = sum(r["count_synced"] for r in runs if r["task_id"] == "import_receipts")
    # every receipt and every file counted synced by exactly one run (a file the other twin held is
    # counted busy, not synced)
    assert synced == len(states), f"the runs counted {synced} synced for {len(states)} records: {runs}"
    print(f"\nTWINS {IMPORT}: synced per run {[(r['run_id'][-8:], r['count_synced']) for r in runs]}")
