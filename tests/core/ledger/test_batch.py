"""Ledger.batch and Ledger.begin_many: many records, one transaction, same answers as begin()."""

from __future__ import annotations

import pytest

from po_sync.ledger import Action, Ledger, RecordKey, RecordStatus, RunContext, RunStatus

TI = RunContext(dag_id="dag", run_id="run-1", task_id="task", try_number=1)


def key(n: int) -> RecordKey:
    return RecordKey("onetrail_inbound", "despatch_advice", "onetrail", f"DSP-{n}")


def test_begin_many_answers_as_begin_does_in_order(ledger):
    run = ledger.open_run(flow="onetrail_inbound", context=TI)
    first = ledger.begin(key(1), payload_hash="a", sync_run_id=run)
    ledger.mark_synced(first.record_id, sync_run_id=run, target_system="netsuite", target_id="IR-1")
    crashed = ledger.begin(key(2), payload_hash="b", sync_run_id=run)  # never closed: a crash
    later = ledger.open_run(flow="onetrail_inbound", context=RunContext(run_id="run-2"))
    ledger.finish_run(run, status=RunStatus.FAILED, counts={})

    decisions = ledger.begin_many(
        [
            (key(1), "a", "f1"),  # synced with this payload: skip
            (key(1), "changed", "f1"),  # then changed: send
            (key(2), "b", "f2"),  # interrupted: resume with the same idempotency key
            (key(3), "c", "f3"),  # new: send
            (key(3), "c", "f3"),  # the same key again sees its first claim (own claim: send)
        ],
        sync_run_id=later,
        context=TI,
    )
    assert [d.action for d in decisions] == [
        Action.SKIP,
        Action.SEND,
        Action.RESUME,
        Action.SEND,
        Action.SEND,
    ]
    assert decisions[2].idempotency_key == crashed.idempotency_key
    assert decisions[3].record_id == decisions[4].record_id
    state = ledger.get(key(3))
    assert state.status is RecordStatus.IN_PROGRESS and state.claimed_by == str(later)
    assert state.attempts == 1 and state.trace_key == "f3"
    assert ledger.get(key(1)).payload_hash == "changed"
    assert ledger.begin_many([], sync_run_id=later) == []


def test_batch_is_one_transaction_kept_whole_or_not_at_all(ledger):
    run = ledger.open_run(flow="onetrail_inbound", context=TI)
    with ledger.batch():
        decision = ledger.begin(key(10), payload_hash="x", sync_run_id=run)
        assert ledger.get(key(10)).status is RecordStatus.IN_PROGRESS  # the batch reads its own writes
        ledger.mark_synced(decision.record_id, sync_run_id=run, target_system="netsuite", target_id="IR-10")
    assert ledger.get(key(10)).status is RecordStatus.SYNCED

    with pytest.raises(RuntimeError), ledger.batch():
        ledger.begin(key(11), payload_hash="y", sync_run_id=run)
        with ledger.batch():  # nested: joins the outer one
            ledger.begin(key(12), payload_hash="z", sync_run_id=run)
        raise RuntimeError("a failure inside the batch")
    assert ledger.get(key(11)) is None and ledger.get(key(12)) is None


def test_batch_belongs_to_its_thread(ledger_url):
    import threading

    from po_sync.ledger.engine import get_engine

    ledger = Ledger(get_engine(ledger_url))
    run = ledger.open_run(flow="onetrail_inbound", context=TI)
    seen: list[object] = []
    with ledger.batch():
        ledger.begin(key(20), payload_hash="x", sync_run_id=run)
        # another thread has no batch of its own: its calls take their own transactions
        worker = threading.Thread(target=lambda: seen.append(ledger._batch.__dict__.get("conn")))
        worker.start()
        worker.join()
    assert seen == [None]
    assert ledger.get(key(20)).status is RecordStatus.IN_PROGRESS


def test_set_trace_key_joins_the_open_batch(ledger):
    """A file's kept path is named in the same commit as its outcome: inside a batch, set_trace_key
    writes on the batch's connection (on SQLite a transaction of its own would wait for the batch's
    writer lock for ever) and is kept or dropped with the batch."""
    run = ledger.open_run(flow="onetrail_inbound", context=TI)
    with ledger.batch():
        decision = ledger.begin(key(30), payload_hash="x", sync_run_id=run, trace_key="DSP-30.xml")
        ledger.set_trace_key([decision.record_id], "Out/Desadv/archive/DSP-30.xml", sync_run_id=run)
        assert ledger.get(key(30)).trace_key == "Out/Desadv/archive/DSP-30.xml"  # seen inside the batch
        ledger.mark_synced(decision.record_id, sync_run_id=run, target_system="netsuite", target_id="IR-30")
    state = ledger.get(key(30))
    assert state.status is RecordStatus.SYNCED and state.trace_key == "Out/Desadv/archive/DSP-30.xml"

    with pytest.raises(RuntimeError), ledger.batch():
        second = ledger.begin(key(31), payload_hash="y", sync_run_id=run, trace_key="DSP-31.xml")
        ledger.set_trace_key([second.record_id], "Out/Desadv/error/DSP-31.xml", sync_run_id=run)
        raise RuntimeError("a crash before the batch commits")
    assert ledger.get(key(31)) is None  # dropped with the batch
