"""People's actions on records, the digest's "new" records, flow health: on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from po_sync.exceptions import LedgerError
from po_sync.ledger import RecordKey, RecordStatus, RunContext, RunStatus
from po_sync.ledger.actions import apply_action, record_history
from po_sync.ledger.health import DagRunInfo, flow_health
from po_sync.notify.digest import claim_notice, new_bad_records

FLOW = "vendor_fulfillment_import"


def _run(ledger, run_id: str) -> int:
    return ledger.open_run(flow=FLOW, context=RunContext(FLOW, run_id, "import"))


def _quarantine(ledger, run: int, run_id: str, source: str, code: str = "VALIDATION_ERROR") -> int:
    d = ledger.begin(
        RecordKey(FLOW, "item_receipt", "vendor", source),
        payload_hash=f"{source}-{run_id}",
        sync_run_id=run,
        context=RunContext(FLOW, run_id, "import"),
    )
    ledger.mark_quarantined(d.record_id, sync_run_id=run, code=code, message=f"{source}: bad quantity")
    return d.record_id


def test_actions_change_status_keep_history_and_refuse_what_does_not_apply(ledger):
    run = _run(ledger, "r1")
    bad = _quarantine(ledger, run, "r1", "A")
    ok = ledger.begin(RecordKey(FLOW, "item_receipt", "vendor", "B"), payload_hash="b", sync_run_id=run)
    ledger.mark_synced(ok.record_id, sync_run_id=run, target_system="netsuite", target_id="1")

    result = apply_action(ledger, "retry", [bad, ok.record_id, 999], actor="ann")
    assert [d["id"] for d in result.done] == [bad]
    assert {r["id"]: r["reason"] for r in result.refused} == {
        ok.record_id: "retry does not apply to a synced record",
        999: "no such record",
    }
    assert ledger.get_by_id(bad).status is RecordStatus.PENDING
    with pytest.raises(LedgerError, match="needs a note"):
        apply_action(ledger, "resolve", [bad], actor="ann")
    apply_action(ledger, "resolve", [bad], actor="bob", note="credited by hand")
    assert ledger.get_by_id(bad).status is RecordStatus.RESOLVED
    assert all(e["resolved_at"] for e in ledger.errors(bad))
    story = [
        (e["kind"], e.get("action") or e.get("status"), e.get("actor")) for e in record_history(ledger, bad)
    ]
    assert story == [
        ("attempt", "quarantined", None),
        ("action", "retry", "ann"),
        ("action", "resolve", "bob"),
    ]


def test_a_later_success_auto_resolves_and_says_so(ledger):
    first = _run(ledger, "r1")
    bad = _quarantine(ledger, first, "r1", "A")
    second = _run(ledger, "r2")
    d = ledger.begin(RecordKey(FLOW, "item_receipt", "vendor", "A"), payload_hash="fixed", sync_run_id=second)
    ledger.mark_synced(d.record_id, sync_run_id=second, target_system="netsuite", target_id="7")
    (auto,) = [e for e in record_history(ledger, bad) if e["kind"] == "action"]
    assert auto["action"] == "auto_resolve" and "1 earlier error(s) resolved" in auto["note"]


def test_the_digest_lists_only_records_newly_bad_in_that_run(ledger):
    r1 = _run(ledger, "r1")
    a = _quarantine(ledger, r1, "r1", "A")
    _quarantine(ledger, r1, "r1", "B")
    assert [r["source_id"] for r in new_bad_records(ledger, FLOW, "r1")] == ["A", "B"]
    r2 = _run(ledger, "r2")
    _quarantine(ledger, r2, "r2", "A")  # still bad: not new
    _quarantine(ledger, r2, "r2", "C")  # new
    assert [r["source_id"] for r in new_bad_records(ledger, FLOW, "r2")] == ["C"]
    apply_action(ledger, "retry", [a], actor="ann")
    r3 = _run(ledger, "r3")
    _quarantine(ledger, r3, "r3", "A")  # bad again after a person's retry: a new story
    assert [r["source_id"] for r in new_bad_records(ledger, FLOW, "r3")] == ["A"]
    assert claim_notice(ledger, kind="digest", flow=FLOW, dag_id=FLOW, run_id="r3") is True
    assert claim_notice(ledger, kind="digest", flow=FLOW, dag_id=FLOW, run_id="r3") is False


def test_flow_health_groups_run_failures_with_hints_and_counts_failing_runs(ledger):
    for i in range(3):
        run = ledger.open_run(flow=FLOW, context=RunContext(FLOW, f"r{i}", f"wait_{i}"))
        ledger.finish_run(
            run, status=RunStatus.FAILED, counts={}, message="NoSuchBucket: bucket vendor-v0001 missing"
        )
    claim_notice(
        ledger,
        kind="task_failure",
        flow=FLOW,
        dag_id=FLOW,
        run_id="r9",
        task_id="sensor",
        message="AirflowNotFoundException: The conn_id `s3_vendor` isn't defined",
    )
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    runs = [
        DagRunInfo(FLOW, "ok", "success", t0),
        DagRunInfo(FLOW, "f1", "failed", t0 + timedelta(hours=1)),
        DagRunInfo(FLOW, "f2", "failed", t0 + timedelta(hours=2)),
        DagRunInfo(FLOW, "live", "running", t0 + timedelta(hours=3)),
    ]
    (health,) = flow_health(ledger, dag_runs=runs, missing_pools={FLOW: ["netsuite"]})
    assert health["consecutive_failed_runs"] == 2 and health["failing_since"] == t0 + timedelta(hours=1)
    assert health["last_success"] == t0 and health["last_run_state"] == "running" and not health["healthy"]
    groups = {g["message"]: g for g in health["failures"]}
    bucket = groups["NoSuchBucket: bucket vendor-v0001 missing"]
    assert bucket["count"] == 3 and "bucket is missing" in bucket["hint"]
    assert (
        "Admin → Connections"
        in groups["AirflowNotFoundException: The conn_id `s3_vendor` isn't defined"]["hint"]
    )
    assert "Admin → Pools" in groups["pool netsuite does not exist"]["hint"]


def test_flow_health_groups_only_failures_in_the_window_and_after_the_last_success(ledger):
    from po_sync.ledger.schema import sync_notice, sync_run

    now = datetime.now(UTC)

    def failed_run(message: str, started: datetime) -> None:
        run = ledger.open_run(flow=FLOW, context=RunContext(FLOW, f"r-{started:%j%H%M}", "merge"))
        ledger.finish_run(run, status=RunStatus.FAILED, counts={}, message=message)
        with ledger.engine.begin() as conn:
            conn.execute(
                sync_run.update().where(sync_run.c.id == run).values(started_at=started, finished_at=started)
            )

    for day in range(10, 40):  # a month-old cause, fixed since: many rows, none current
        failed_run("NoSuchBucket: bucket vendor-v0001 missing", now - timedelta(days=day))
    failed_run("INVALID_LOGIN: login rejected", now - timedelta(days=3))  # before the last success
    failed_run("SlowDown: 429 too many requests", now - timedelta(hours=2))  # current
    claim_notice(
        ledger, kind="task_failure", flow=FLOW, dag_id=FLOW, run_id="old", task_id="t", message="old notice"
    )
    with ledger.engine.begin() as conn:
        conn.execute(
            sync_notice.update()
            .where(sync_notice.c.run_id == "old")
            .values(created_at=now - timedelta(days=8))
        )
    runs = [DagRunInfo(FLOW, "ok", "success", now - timedelta(days=1))]

    (health,) = flow_health(ledger, dag_runs=runs)
    assert [g["message"] for g in health["failures"]] == ["SlowDown: 429 too many requests"]
    assert abs(health["failures_since"] - (now - timedelta(days=7))) < timedelta(minutes=5)
    # A wider window shows the older causes, still not those before the last success.
    (wide,) = flow_health(ledger, dag_runs=runs, window=timedelta(days=60))
    assert [g["message"] for g in wide["failures"]] == ["SlowDown: 429 too many requests"]
    (no_success,) = flow_health(ledger, dag_runs=[], window=timedelta(days=60))
    counts = {g["message"]: g["count"] for g in no_success["failures"]}
    assert counts == {
        "NoSuchBucket: bucket vendor-v0001 missing": 30,
        "INVALID_LOGIN: login rejected": 1,
        "SlowDown: 429 too many requests": 1,
        "old notice": 1,
    }
