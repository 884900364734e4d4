"""hotwax_receipt_import through Airflow (dag.test) against the NetSuite and SFTP sandboxes."""

from __future__ import annotations

import csv
import io

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.hotwax import RECEIPT_DIR
from tests.hotwax.conftest import po_status, receipts_of, run_dag

pytestmark = pytest.mark.e2e

EXPORT, IMPORT = "hotwax_po_export", "hotwax_receipt_import"
POS = ["1", "2", "3", "4", "5"]


@pytest.fixture
def exported(dagbag, ledger_conn, actor):
    """The POs exported and imported by HotWax, ready to be received."""
    assert run_dag(dagbag, EXPORT).state == "success"
    assert actor.import_purchase_orders() == POS
    return actor


def report(actor, name: str) -> list[dict[str, str]]:
    text = actor.path(RECEIPT_DIR / "error" / f"{name}.errors.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def receipt_count(store) -> int:
    return store.count("itemReceipt")


def test_partial_then_full_receipts_move_po_statuses_and_nothing_is_received_twice(
    dagbag, ledger_conn, exported, netsuite_store
):
    actor = exported
    (partial,) = actor.receive(partial=True)
    assert run_dag(dagbag, IMPORT).state == "success"
    assert {po: po_status(netsuite_store, po) for po in POS} == dict.fromkeys(POS, "D")  # Partially Received
    assert all(len(receipts_of(netsuite_store, po)) == 1 for po in POS)
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "archive") == [partial]
    receipt = receipts_of(netsuite_store, "1")[0]
    assert receipt["memo"] == "Item Receipt is created by HotWax" and receipt["externalId"].startswith(
        "HWRCPT-1-"
    )

    # The same file dropped again is refused as a duplicate; nothing is received twice.
    again = actor.bad_feed("duplicate")
    assert again == partial
    assert run_dag(dagbag, IMPORT).state == "success"
    assert receipt_count(netsuite_store) == 5
    assert actor.files(RECEIPT_DIR / "error") == [f"{partial}", f"{partial}.errors.csv"]
    assert "already imported" in report(actor, partial)[0]["errorMessage"]
    dup = ledger_conn.get(
        RecordKey(IMPORT, "receipt_file_duplicate", "hotwax", _file_source_id(ledger_conn, partial))
    )
    assert dup.status is RecordStatus.QUARANTINED and dup.last_error_code == "DUPLICATE_FILE"

    # The rest arrives in two files: every PO ends Pending Bill.
    rest = actor.receive(files=2)
    assert len(rest) == 2
    assert run_dag(dagbag, IMPORT).state == "success"
    assert {po: po_status(netsuite_store, po) for po in POS} == dict.fromkeys(POS, "F")  # Pending Bill
    assert receipt_count(netsuite_store) == 10
    assert sorted(actor.files(RECEIPT_DIR / "archive")) == sorted([partial, *rest])
    po = netsuite_store.get("purchaseOrder", "2")
    assert all(line["quantityReceived"] == line["quantity"] for line in po["item"]["items"])


def _file_source_id(ledger, name: str) -> str:
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_record

    with ledger.engine.connect() as conn:
        return conn.execute(
            sa.select(sync_record.c.source_id).where(
                sync_record.c.entity_type == "receipt_file", sync_record.c.source_id.like(f"{name}@%")
            )
        ).scalar_one()


@pytest.mark.parametrize("crash_at", ["after_receipt", "before_archive"])
def test_a_crash_between_receipt_and_file_move_leaves_no_duplicate_after_the_rerun(
    dagbag, ledger_conn, exported, netsuite_store, monkeypatch, crash_at
):
    actor = exported
    (feed,) = actor.receive()
    monkeypatch.setenv("PO_SYNC_HOTWAX_CRASH", crash_at)
    assert run_dag(dagbag, IMPORT).state == "failed"
    created = receipt_count(netsuite_store)
    # orders go to NetSuite side by side: a crash after one receipt may find others already sent
    assert (1 <= created <= 5) if crash_at == "after_receipt" else created == 5
    assert actor.files(RECEIPT_DIR) == [feed], "the file stays until NetSuite has committed everything"
    monkeypatch.delenv("PO_SYNC_HOTWAX_CRASH")

    assert run_dag(dagbag, IMPORT).state == "success"
    assert receipt_count(netsuite_store) == 5
    assert all(len(receipts_of(netsuite_store, po)) == 1 for po in POS)
    assert {po: po_status(netsuite_store, po) for po in POS} == dict.fromkeys(POS, "F")
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "archive") == [feed]
    assert actor.files(RECEIPT_DIR / "error") == []
    counts = ledger_conn.status_counts(IMPORT)
    # 5 orders + the file; orders committed before a before_archive crash are "ignored" on the rerun
    assert set(counts) <= {"synced", "ignored"} and sum(counts.values()) == 6, counts


def test_dry_run_validates_without_touching_anything(dagbag, ledger_conn, exported, netsuite_store):
    actor = exported
    (feed,) = actor.receive()
    bad = actor.bad_feed("malformed")
    assert run_dag(dagbag, IMPORT, {"dry_run": True}).state == "success"
    assert actor.files(RECEIPT_DIR) == sorted([feed, bad]) and actor.files(RECEIPT_DIR / "error") == []
    assert receipt_count(netsuite_store) == 0 and ledger_conn.status_counts(IMPORT) == {}


def test_a_feed_costs_one_netsuite_call_per_receipt_plus_a_few(
    dagbag, ledger_conn, exported, netsuite_store, hotwax_sandbox
):
    """The account's limit caps receipts/s at limit ÷ calls per receipt: the file's POs are read in
    one SuiteQL query and a first attempt needs no lookup for an earlier receipt, so each order costs
    its transform only (bench: flows.hotwax_receipt_import)."""
    actor = exported
    actor.receive()
    stats = hotwax_sandbox.services["netsuite"].stats
    stats.reset()
    assert run_dag(dagbag, IMPORT).state == "success"
    assert receipt_count(netsuite_store) == len(POS)
    # governanceLimits + one SuiteQL page of PO lines + one transform per order
    assert stats.as_dict()["requests"] <= len(POS) + 2
