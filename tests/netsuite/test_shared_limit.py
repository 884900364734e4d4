"""One NetSuite account limit across processes: tasks running at once never exceed it together.

Against the sandbox over real sockets, with the slots on a SQLite ledger's directory (file locks) and
on PostgreSQL (advisory locks). Nothing here is timed: the sandbox counts what it was sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import sqlalchemy as sa

from po_sync.netsuite.shared_limit import account_key, shared_slots
from tests.core.ledger.conftest import ledger_url, postgres_url, sqlite_url  # noqa: F401 - fixtures

TASKS = 3
LIMIT = 5
REQUESTS_PER_TASK = 40

_TASK = textwrap.dedent(
    """
    import sys
    from po_sync.netsuite.hook import NetSuiteHook
    from po_sync.netsuite.transport import RetryPolicy
    retry = RetryPolicy(max_attempts=50, max_delay=120, base_wait=0.02, max_wait=0.2)
    with NetSuiteHook("netsuite_shared", retry_policy=retry) as hook:
        transport = hook.get_conn()
        assert transport.limiter.ceiling == {limit}, transport.limiter.ceiling
        def call(n):
            return transport.request("GET", "/record/v1/vendor", params={{"limit": 1}}, idempotent=True).status_code
        results = [r for _, r in hook.map_concurrent(call, range({requests}))]
    assert results == [200] * {requests}, results
    """
)


def _env(netsuite, ledger: str, **extra) -> dict[str, str]:
    url = sa.make_url(ledger)
    if url.get_backend_name() == "sqlite":
        conn = {"conn_type": "po_sync_ledger", "host": url.database, "extra": {"dialect": "sqlite"}}
    else:
        conn = {
            "conn_type": "po_sync_ledger",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "schema": url.database,
            "extra": {"dialect": "postgresql"},
        }
    env = dict(os.environ)
    env["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(conn)
    env["AIRFLOW_CONN_NETSUITE_SHARED"] = json.dumps(netsuite.connection("tba", concurrency=LIMIT, **extra))
    return env


def test_tasks_running_at_once_stay_within_one_account_limit(netsuite, ledger_url):  # noqa: F811
    netsuite.set_knobs(latency_ms=40, concurrency_limit=LIMIT)
    env = _env(netsuite, ledger_url)
    code = _TASK.format(limit=LIMIT, requests=REQUESTS_PER_TASK)
    tasks = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(TASKS)
    ]
    errors = [task.communicate(timeout=300)[1] for task in tasks]
    assert [task.returncode for task in tasks] == [0] * TASKS, errors
    stats = netsuite.stats.as_dict()
    assert stats["concurrency_rejected"] == 0  # not one 429: the three tasks shared the 5 slots
    assert stats["peak_in_flight"] <= LIMIT
    assert stats["requests"] >= TASKS * REQUESTS_PER_TASK


_HOLD = textwrap.dedent(
    """
    import sys, sqlalchemy as sa
    from po_sync.netsuite.shared_limit import shared_slots
    slots = shared_slots(sa.make_url(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    held = [slots._acquire() for _ in range(slots.limit)]
    print(sorted(held), flush=True)
    sys.stdin.read()  # killed while holding every slot
    """
)


def test_slots_of_a_killed_process_are_free_at_once(ledger_url):  # noqa: F811
    key = account_key("TEST_KILL", ledger_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, ledger_url, key, "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "[0, 1]"
    slots = shared_slots(sa.make_url(ledger_url), key, 2)
    assert not slots._try_lock(0) and not slots._try_lock(1)  # held by the other process
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with slots.slot() as first, slots.slot() as second:  # no lease to wait out
        assert {first, second} == {0, 1}


def test_threads_of_one_process_never_hold_more_slots_than_the_limit(ledger_url):  # noqa: F811
    slots = shared_slots(sa.make_url(ledger_url), account_key("TEST_THREADS", ledger_url), 3)
    holding: set[int] = set()
    peak = [0]
    guard = threading.Lock()
    problems: list[str] = []

    def work() -> None:
        for _ in range(20):
            with slots.slot() as index:
                with guard:
                    if index in holding:
                        problems.append(f"slot {index} handed out twice")
                    holding.add(index)
                    peak[0] = max(peak[0], len(holding))
                with guard:
                    holding.discard(index)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert problems == [] and 1 <= peak[0] <= 3
