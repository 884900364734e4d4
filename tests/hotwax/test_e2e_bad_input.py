"""Bad receipt input: each case lands in error/ with a report, and in the ledger; good files go on."""

from __future__ import annotations

import os
import re

import pytest

from po_sync.ledger import RecordStatus
from po_sync_sandbox.hotwax import RECEIPT_DIR, SETTLED_MTIME
from tests.hotwax.conftest import po_status, receipts_of, run_dag
from tests.hotwax.test_e2e_receipts import EXPORT, IMPORT, POS, report

pytestmark = pytest.mark.e2e

WHOLE_FILE = {  # kind -> words the report must contain
    "malformed": "malformed JSON",
    "enormous": "byte limit",
    "path_separator": "path separator",
}
ONE_ORDER = {
    "unknown_order": "no purchase order with internal id 987654321",
    "unknown_line": "line(s) 999 are not on the PO",
    "over_receipt": "over-receipt",
    "negative": "must not be negative",
    "non_numeric": "is not a number",
}


def kept(names: set[str], safe: str) -> str:
    """The one name in ``names`` keeping a file whose safe name is ``safe`` (``<stem>.<tag><ext>``)."""
    stem, ext = os.path.splitext(safe)
    (found,) = [n for n in names if re.fullmatch(re.escape(stem) + r"\.[0-9a-f]{12}" + re.escape(ext), n)]
    return found


def failed_name(names: set[str], feed: str) -> str:
    """The failed orders of ``feed``: ``<stem>.<tag>.failed.json`` (the tag from its name and content)."""
    stem = feed.removesuffix(".json")
    (found,) = [n for n in names if re.fullmatch(re.escape(stem) + r"\.[0-9a-f]{12}\.failed\.json", n)]
    return found


def quarantined(ledger) -> dict[str, str]:
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_record

    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_record.c.source_id, sync_record.c.last_error_message).where(
                sync_record.c.flow == IMPORT, sync_record.c.status == RecordStatus.QUARANTINED.value
            )
        )
        return {r.source_id: r.last_error_message for r in rows}


def test_every_bad_input_goes_to_error_with_a_report_and_the_good_file_is_received(
    dagbag, ledger_conn, actor, netsuite_store
):
    assert run_dag(dagbag, EXPORT).state == "success"
    actor.import_purchase_orders()
    (good,) = actor.receive(["2", "3"])
    bad = {kind: actor.bad_feed(kind, po_id="4") for kind in [*WHOLE_FILE, *ONE_ORDER]}
    mixed = actor.write_feed(
        [
            {"order_id": "5", "items": [{"line_id": "1", "quantity": "1"}, {"line_id": "2", "quantity": ""}]},
            {"order_id": "4", "items": [{"line_id": "1", "quantity": "-1"}]},
        ]
    )
    writing = actor.bad_feed("still_writing")

    assert run_dag(dagbag, IMPORT).state == "success"

    # The good file and the good order of the mixed file are received; PO 4 got nothing.
    assert po_status(netsuite_store, "2") == po_status(netsuite_store, "3") == "F"
    assert po_status(netsuite_store, "4") == "B" and receipts_of(netsuite_store, "4") == []
    assert po_status(netsuite_store, "5") == "D" and len(receipts_of(netsuite_store, "5")) == 1
    archived = set(actor.files(RECEIPT_DIR / "archive"))
    assert {good, mixed, *(bad[k] for k in ONE_ORDER)} == archived

    errors = set(actor.files(RECEIPT_DIR / "error"))
    for kind, words in WHOLE_FILE.items():
        # an unsafe name is kept under its safe form tagged with a hash of the original name
        name = (
            bad[kind] if kind != "path_separator" else kept(errors, bad[kind].replace("\\", "_").lstrip("."))
        )
        assert name in errors and f"{name}.errors.csv" in errors, kind
        assert words in report(actor, name)[0]["errorMessage"], (kind, report(actor, name))
    for kind, words in ONE_ORDER.items():
        failed = failed_name(errors, bad[kind])
        assert failed in errors and f"{failed}.errors.csv" in errors, kind
        assert words in report(actor, failed)[0]["errorMessage"], (kind, report(actor, failed))
    mixed_failed = failed_name(errors, mixed)
    assert report(actor, mixed_failed)[0]["orderId"] == "4"
    assert '"order_id": "4"' in actor.path(RECEIPT_DIR / "error" / mixed_failed).read_text()

    # The file still being written was left alone ...
    assert actor.files(RECEIPT_DIR) == [writing]
    messages = quarantined(ledger_conn)
    assert len(messages) == len(WHOLE_FILE) + len(ONE_ORDER) + 1, messages
    assert all(m for m in messages.values())

    # ... and once it has stopped changing (and is still truncated) it goes to error/ too.
    os.utime(actor.path(RECEIPT_DIR / writing), (SETTLED_MTIME, SETTLED_MTIME))
    assert run_dag(dagbag, IMPORT).state == "success"
    assert actor.files(RECEIPT_DIR) == []
    assert "still being written" in report(actor, writing)[0]["errorMessage"]
    assert sum(len(receipts_of(netsuite_store, po)) for po in POS) == 3
