"""po_sync.retry: which records a run takes, how a put-back file is named and closed (SQLite and PostgreSQL)."""

from __future__ import annotations

from types import SimpleNamespace

from po_sync import retry
from po_sync.ledger import RecordKey, RecordStatus, RunContext
from po_sync.ledger.actions import apply_action, record_history
from po_sync.sync import SyncRun

FLOW = "hotwax_receipt_import"


def _quarantined(ledger, source: str, entity: str = "receipt_file") -> int:
    run = ledger.open_run(flow=FLOW, context=RunContext(FLOW, "r1", "import"))
    d = ledger.begin(RecordKey(FLOW, entity, "hotwax", source), payload_hash=None, sync_run_id=run)
    ledger.mark_quarantined(d.record_id, sync_run_id=run, code="BAD_FILE", message=f"{source}: bad")
    return d.record_id


def test_a_retry_is_taken_once_put_back_and_settled_by_the_file_read(ledger):
    a, b, c = (_quarantined(ledger, s) for s in ("a.json@1", "b.json@2", "c.json@3"))
    apply_action(ledger, "retry", [a, b], actor="ann")
    requests = retry.retry_requests(ledger, FLOW, entity_types=("receipt_file",))
    assert [r.record_id for r in requests] == [a, b] and requests[0].requested_by == "ann"
    assert retry.retry_requests(ledger, FLOW, entity_types=("item_receipt",)) == []
    context = {"dag_run": SimpleNamespace(conf={"po_sync_retry": {"record_ids": [a, c, "x"]}})}
    assert retry.conf_report(context, requests) == {"retry_taken": [a], "retry_not_pending": [c]}

    where = "sftp:sftp_default:in/a.json"
    retry.mark_requeued(ledger, requests[0], location=where, note="BAD_FILE: a.json: bad")
    retry.refuse(ledger, requests[1], message="not retried: gone", sync_run_id=None)
    assert [r.record_id for r in retry.retry_requests(ledger, FLOW)] == []  # each taken once
    assert retry.requeued(ledger, FLOW, [where, "sftp:sftp_default:in/b.json"]) == {where}
    assert ledger.get_by_id(b).status is RecordStatus.QUARANTINED
    assert ledger.get_by_id(b).last_error_code == "RETRY_NOT_POSSIBLE"

    run = SyncRun(ledger=ledger, flow=FLOW, context=RunContext(FLOW, "r2", "import"))
    with run:
        assert retry.settle(run, where, target_id="in/archive/a.json", target_system="sftp") == 1
        assert retry.settle(run, where, target_id="again") == 0  # closed once
    state = ledger.get_by_id(a)
    assert state.status is RecordStatus.SYNCED and state.target_id == "in/archive/a.json"
    actions = [(e["action"], e["actor"]) for e in record_history(ledger, a) if e["kind"] == "action"]
    assert actions == [("retry", "ann"), ("requeue", "po-sync"), ("auto_resolve", "po-sync")]
    requeue_note = [e["note"] for e in record_history(ledger, a) if e.get("action") == "requeue"][0]
    assert where in requeue_note and "BAD_FILE: a.json: bad" in requeue_note


def test_a_part_of_a_file_counts_as_the_file_and_a_refused_read_quarantines_again(ledger):
    a = _quarantined(ledger, "4@f.json@abc", entity="item_receipt")
    apply_action(ledger, "retry", [a], actor="ann")
    (request,) = retry.retry_requests(ledger, FLOW)
    retry.mark_requeued(ledger, request, location="sftp:c:in/f.retry-9.json#4", note=None)
    assert retry.requeued(ledger, FLOW, ["sftp:c:in/f.retry-9.json"]) == {"sftp:c:in/f.retry-9.json"}
    run = SyncRun(ledger=ledger, flow=FLOW, context=RunContext(FLOW, "r2", "import"))
    with run:
        retry.settle(run, "sftp:c:in/f.retry-9.json#4", error=("OVER_RECEIPT", "still too many"))
    state = ledger.get_by_id(a)
    assert state.status is RecordStatus.QUARANTINED and state.last_error_message == "still too many"


def test_names_never_overwrite():
    assert retry.retry_name("a.json", 7, lambda n: False) == "a.json"
    assert retry.retry_name("a.json", 7, lambda n: n == "a.json") == "a.retry-7.json"
    assert retry.retried_note_name("a.json.errors.csv", 7) == "a.json.retried-7.errors.csv"
    assert retry.retried_note_name("a.xml.error.txt", 7) == "a.xml.retried-7.error.txt"
    assert len(retry.trace_for("s3://b/" + "k" * 300)) <= 200
    assert retry.conf_record_ids({}) == set()
