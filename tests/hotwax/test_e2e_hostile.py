"""Issue 16 audit defects through hotwax_po_export (dag.test against the NetSuite and SFTP sandboxes):
``remote_dir`` may not leave HotWax's folder, and item names that look like formulas go out as text."""

from __future__ import annotations

import copy

import pytest
from airflow.sdk.exceptions import ParamValidationError

from po_sync.hotwax.formats import parse_po_csv
from po_sync_sandbox.hotwax import PO_DIR
from tests.hotwax.conftest import DEFAULT_CONF, run_dag
from tests.hotwax.test_e2e_bad_input import failed_name
from tests.hotwax.test_e2e_export import FLOW, csv_files, flagged

pytestmark = pytest.mark.e2e


OUTSIDE_DIRS = ["../../outside", "netsuite/../../../outside", "/", "/tmp/hotwax"]


@pytest.mark.parametrize("remote_dir", OUTSIDE_DIRS)
def test_the_trigger_form_refuses_a_remote_dir_outside_the_sftp_root(
    dagbag, ledger_conn, actor, netsuite_store, remote_dir
):
    """The param's schema stops it before a run exists (the REST trigger answers 400)."""
    with pytest.raises(ParamValidationError, match="remote_dir"):
        run_dag(dagbag, FLOW, {"remote_dir": remote_dir})
    assert flagged(netsuite_store) == set()
    assert list(actor.root.parent.rglob("*.csv")) == []


@pytest.mark.parametrize("remote_dir", OUTSIDE_DIRS)
def test_an_operator_given_a_remote_dir_outside_the_sftp_root_fails_the_run_and_flags_nothing(
    dagbag, ledger_conn, actor, netsuite_store, remote_dir
):
    """Defence in depth: a DAG author who passes the folder straight to the operator (no param
    schema in the way) still gets a failed run, no file and no PO flagged exported."""
    dag = copy.deepcopy(dagbag.get_dag(FLOW))
    for task in dag.tasks:
        task.retries = 0
        if hasattr(task, "remote_dir"):
            task.remote_dir = remote_dir
    run = dag.test(run_conf=DEFAULT_CONF[FLOW])
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


HOSTILE_FEEDS = {  # name -> (bytes, words in the report); lines of PO 3
    "Hostile_nan.json": (b'[{"order_id": "3", "items": [{"line_id": "%s", "quantity": NaN}]}]', "NaN"),
    "Hostile_infinity.json": (
        b'[{"order_id": "3", "items": [{"line_id": "%s", "quantity": Infinity}]}]',
        "Infinity",
    ),
    "Hostile_deep.json": (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
}
HUGE = b'[{"order_id": "3", "items": [{"line_id": "%s", "quantity": 1e999999999}]}]'


def test_hostile_receipt_json_is_kept_in_error_with_a_report_and_the_good_file_is_received(
    dagbag, ledger_conn, actor, netsuite_store
):
    import os

    from po_sync.ledger import RecordStatus
    from po_sync_sandbox.hotwax import RECEIPT_DIR, SETTLED_MTIME
    from tests.hotwax.conftest import po_status, receipts_of
    from tests.hotwax.test_e2e_receipts import report

    assert run_dag(dagbag, FLOW).state == "success"
    actor.import_purchase_orders()
    (good,) = actor.receive(["2"])
    line = sorted(actor.orders["3"], key=int)[0]
    for name, (data, _) in {**HOSTILE_FEEDS, "Hostile_huge.json": (HUGE, "")}.items():
        path = actor.path(RECEIPT_DIR / name)
        path.write_bytes(data.replace(b"%s", line.encode()) if b"%s" in data else data)
        os.utime(path, (SETTLED_MTIME, SETTLED_MTIME))

    assert run_dag(dagbag, "hotwax_receipt_import").state == "success"

    assert po_status(netsuite_store, "2") == "F" and receipts_of(netsuite_store, "3") == []
    errors = set(actor.files(RECEIPT_DIR / "error"))
    for name, (_, words) in HOSTILE_FEEDS.items():
        assert {name, f"{name}.errors.csv"} <= errors, (name, errors)
        assert words in report(actor, name)[0]["errorMessage"], (name, report(actor, name))
    # a huge number is one bad order: the file is archived, the order kept with its reason
    assert "Hostile_huge.json" in actor.files(RECEIPT_DIR / "archive")
    failed = failed_name(actor.files(RECEIPT_DIR / "error"), "Hostile_huge.json")
    assert "implausibly large" in report(actor, failed)[0]["errorMessage"]
    assert good in actor.files(RECEIPT_DIR / "archive")
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_record

    with ledger_conn.engine.connect() as conn:
        messages = [
            r.last_error_message
            for r in conn.execute(
                sa.select(sync_record.c.last_error_message).where(
                    sync_record.c.status == RecordStatus.QUARANTINED.value
                )
            )
        ]
    for name in HOSTILE_FEEDS:
        assert any(name in m for m in messages), (name, messages)
