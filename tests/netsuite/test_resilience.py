"""429 storms, dropped connections and the governance limiter: nothing lost, nothing duplicated."""

from __future__ import annotations

import threading
import uuid

from po_sync_sandbox.netsuite import NetSuiteService

QUERY = "SELECT t.id, t.tranid FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id"


def _expected_ids(netsuite: NetSuiteService) -> list[str]:
    return [
        str(r["id"])
        for r in netsuite.store.query("SELECT id FROM \"transaction\" WHERE type = 'PurchOrd' ORDER BY id")
    ]


def test_reads_survive_a_429_storm_and_dropped_connections(hook, netsuite: NetSuiteService) -> None:
    hook.get_conn()
    netsuite.inject_fault("429", count=15, path_contains="suiteql")
    netsuite.inject_fault("drop", count=3, path_contains="suiteql")
    netsuite.inject_fault("503", count=2, path_contains="suiteql")
    ids = [row["id"] for row in hook.suiteql(QUERY, page_size=20)]
    assert ids == _expected_ids(netsuite)
    stats = netsuite.stats.as_dict()
    assert stats["faults"] == {"429": 15, "drop": 3, "503": 2}
    assert hook.stats["retries"] >= 20


def test_reads_survive_random_faults(hook, netsuite: NetSuiteService) -> None:
    hook.get_conn()
    netsuite.set_knobs(fault_rates={"429": 0.15, "drop": 0.05, "500": 0.05, "drop_after": 0.05}, fault_seed=3)
    refs = [r.id for r in hook.list_records("purchaseOrder", limit=25)]
    assert refs == _expected_ids(netsuite)
    records = [
        result
        for _, result in hook.map_concurrent(lambda i: hook.get_record("purchaseOrder", i).id, refs[:60])
    ]
    assert records == refs[:60]
    assert sum(netsuite.stats.as_dict()["faults"].values()) > 0


def test_limiter_keeps_within_the_account_limit(make_hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(concurrency_limit=5, account_concurrency_limit=5, latency_ms=20)
    hook = make_hook()  # no override: sized from governanceLimits
    assert hook.concurrency == 5
    ids = netsuite.created["purchaseOrder"][:100]
    results = list(
        hook.map_concurrent(lambda i: hook.get_record("purchaseOrder", i, expand_sub_resources=False).id, ids)
    )
    assert [r for _, r in results] == [str(i) for i in ids]
    stats = netsuite.stats.as_dict()
    assert stats["concurrency_rejected"] == 0 and stats["peak_in_flight"] == 5


def test_integration_limit_wins_over_the_account_limit(make_hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(account_concurrency_limit=15, integration_concurrency_limit=3)
    assert make_hook().concurrency == 3
    netsuite.set_knobs(integration_concurrency_limit=None)
    assert make_hook(conn_id="netsuite_other").concurrency == 15


def test_lowered_limit_mid_run_loses_and_duplicates_no_receipt(make_hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(concurrency_limit=5, latency_ms=10)
    hook = make_hook(concurrency=5)
    pos = netsuite.created["purchaseOrder"][200:260]
    before = netsuite.store.count("itemReceipt")
    done = threading.Event()

    def receive(po: int) -> str:
        if po == pos[20]:
            netsuite.set_knobs(concurrency_limit=2)
        return hook.transform_record(
            "purchaseOrder", po, "itemReceipt", idempotency_key=f"receipt-{po}-{uuid.uuid4()}"
        ).id

    results = list(hook.map_concurrent(receive, pos))
    done.set()
    errors = [r for _, r in results if isinstance(r, BaseException)]
    assert errors == []
    assert netsuite.stats.as_dict()["concurrency_rejected"] > 0
    assert netsuite.store.count("itemReceipt") == before + len(pos)
    created_from = netsuite.store.query(
        "SELECT createdfrom, COUNT(*) AS n FROM \"transaction\" WHERE type = 'ItemRcpt' AND createdfrom BETWEEN ? AND ? "
        "GROUP BY createdfrom",
        (pos[0], pos[-1]),
    )
    assert {r["createdfrom"]: r["n"] for r in created_from} == {po: 1 for po in pos}
    assert hook.get_conn().limiter.limit < 5
