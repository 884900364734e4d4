"""Issue 16 audit defects through hotwax_po_export (dag.test against the NetSuite and SFTP sandboxes):
``remote_dir`` may not leave HotWax's folder, and item names that look like formulas go out as text."""

from __future__ import annotations

import pytest

from po_sync.hotwax.formats import parse_po_csv
from po_sync_sandbox.hotwax import PO_DIR
from tests.hotwax.conftest import run_dag
from tests.hotwax.test_e2e_export import FLOW, csv_files, flagged

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("remote_dir", ["../../outside", "netsuite/../../../outside", "/", "/tmp/hotwax"])
def test_a_remote_dir_outside_the_sftp_root_fails_the_run_and_flags_nothing(
    dagbag, ledger_conn, actor, netsuite_store, remote_dir
):
    run = run_dag(dagbag, FLOW, {"remote_dir": remote_dir})
    assert run.state == "failed"
    assert flagged(netsuite_store) == set()  # no PO marked exported for a file HotWax never sees
    written = [p for p in actor.root.parent.rglob("*.csv")]
    assert written == [], written
    counts = ledger_conn.status_counts(FLOW)
    assert counts.get("synced", 0) == 0 and counts.get("in_progress", 0) == 0, counts


def test_item_names_that_look_like_formulas_go_out_as_text(dagbag, ledger_conn, actor, netsuite_store):
    po1 = netsuite_store.get("purchaseOrder", "1")
    item_ids = [line["item"]["id"] for line in po1["item"]["items"]]
    names = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]
    for item_id, name in zip(item_ids, names, strict=False):
        netsuite_store.update("inventoryItem", item_id, {"itemId": name}, replace=set())
    assert run_dag(dagbag, FLOW).state == "success"
    (name,) = csv_files(actor)
    rows = parse_po_csv(actor.path(PO_DIR / name).read_bytes())
    skus = {r.product_sku for r in rows if r.external_id == "1"}
    assert skus == {"'" + n for n in names[: len(item_ids)]}, skus
    assert not any(r.product_sku.startswith(("=", "+", "-", "@")) for r in rows)
