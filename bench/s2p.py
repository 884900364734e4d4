"""ServiceNow S2P → NetSuite at volume: 1,000 staged POs × 5 lines through the flow's own code.

Both stand-ins run in a child process (as the real systems run elsewhere), so their CPU stays off the
benchmark's GIL: NetSuite with 100 ms per call and a concurrency limit of 5 (``governanceLimits`` says
5), ServiceNow over HTTPS. The bench drives :class:`po_sync.servicenow.operators.S2PFlow` with the
real hooks and a SQLite ledger, the way the ``sync_purchase_orders`` task does.

Results (``ratio`` >= 1 meets the limit):

- ``s2p.netsuite_rate``: POs per second ÷ the NetSuite limit's rate (5 in flight ÷ 100 ms = 50 POs/s,
  one write per PO); target ≥ 0.8 of the limit, so ``limit`` is 40 POs/s.
- ``s2p.servicenow_calls_per_po``: ServiceNow API calls (reads paged, writes batched) per PO; ≤ 0.1.
- ``s2p.netsuite_calls_per_po``: NetSuite calls per PO (one upsert plus a share of one SuiteQL per
  wave; the login's governanceLimits read included); ≤ 1.1.
- ``s2p.duplicates`` / ``s2p.not_processed``: NetSuite POs beyond one per S2P PO, and staged POs not
  at 30 after the run; both 0. ``s2p.second_pass_seconds``: the next run, nothing staged (≤ 10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.harness import result

PURCHASE_ORDERS = 1_000
LINES_PER_PO = 5
LATENCY_MS = 100
CONCURRENCY = 5

_CHILD = r"""
import json, sys, tempfile
from pathlib import Path
from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
from po_sync_sandbox.servicenow import ServiceNowService
from po_sync_sandbox.servicenow.actor import ProcurementActor
pos, lines = int(sys.argv[1]), int(sys.argv[2])
netsuite = NetSuiteService(generate_spec=GenerateSpec(vendors=50, customers=1, items=500, locations=2,
    purchase_orders=0, drop_ship_orders=0, transfer_orders=0, custom_records=0))
servicenow = ServiceNowService()
with tempfile.TemporaryDirectory() as state:
    netsuite.start(Path(state) / "ns")
    servicenow.start(Path(state) / "sn")
    actor = ProcurementActor(servicenow.store)
    actor.seed_mappings()
    actor.bulk_pos(pos, lines, [f"ITEM-{i:05d}" for i in range(1, 501)], [f"VEND-{i:04d}" for i in range(1, 51)])
    print(json.dumps({"netsuite": netsuite.base_url, "servicenow": servicenow.base_url, "ca": str(servicenow.ca_file),
        "netsuite_conn": netsuite.connection("tba"), "servicenow_conn": servicenow.connection("basic")}), flush=True)
    for line in sys.stdin:  # commands from the parent: one JSON per line
        cmd = json.loads(line)
        if cmd["op"] == "count":
            eids = [d.get("externalId") for d in netsuite.store.iter_docs("purchaseOrder")]
            staged = servicenow.store.rows("sn_spend_intg_outbound_purchase_order")
            out = {"netsuite_pos": len(eids), "distinct": len(set(eids)),
                   "not_processed": sum(1 for h in staged if h["integration_status"] != "30")}
            print(json.dumps(out), flush=True)
    servicenow.stop()
    netsuite.stop()
"""


class _Stands:
    """The two stand-ins in a child process."""

    def __init__(self, pos: int, lines: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(pos), str(lines)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def ask(self, op: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op}) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def netsuite_admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.info['netsuite']}/_sandbox/{path}"
        response = (
            requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def servicenow_stats(self) -> dict[str, Any]:
        response = requests.get(
            f"{self.info['servicenow']}/_sandbox/stats", verify=self.info["ca"], timeout=10
        )
        answer: dict[str, Any] = response.json()
        return answer

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _one_run(ledger: Any, flow_name: str, max_orders: int) -> tuple[float, dict[str, int]]:
    from po_sync.ledger import RunContext
    from po_sync.netsuite.hook import NetSuiteHook
    from po_sync.servicenow.hooks import ServiceNowHook
    from po_sync.servicenow.operators import S2PFlow, S2PPurchaseOrderSyncOperator
    from po_sync.sync import SyncRun

    op = S2PPurchaseOrderSyncOperator(
        task_id="bench_s2p", servicenow_conn_id="bench_sn", netsuite_conn_id="bench_ns"
    )
    with ServiceNowHook("bench_sn") as sn, NetSuiteHook("bench_ns") as ns:
        ns.get_conn()  # the login and governanceLimits read happen before the clock starts, as in a warm worker
        started = time.perf_counter()
        with SyncRun(ledger=ledger, flow=flow_name, context=RunContext(task_id="bench")) as run:
            S2PFlow(op, run, sn, ns).run(max_orders=max_orders, numbers=[], dry_run=False)
        wall = time.perf_counter() - started
        return wall, {**run.counts, "sn_calls": sn.stats["calls"], "ns_calls": ns.stats["calls"]}


def run(purchase_orders: int = PURCHASE_ORDERS) -> list[dict[str, Any]]:
    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine

    os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / "po_sync_bench_airflow"))
    stands = _Stands(purchase_orders, LINES_PER_PO)
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_BENCH_SN", "AIRFLOW_CONN_BENCH_NS")}
    try:
        os.environ["AIRFLOW_CONN_BENCH_SN"] = json.dumps(stands.info["servicenow_conn"])
        os.environ["AIRFLOW_CONN_BENCH_NS"] = json.dumps(stands.info["netsuite_conn"])
        stands.netsuite_admin(
            "knobs",
            {
                "latency_ms": LATENCY_MS,
                "concurrency_limit": CONCURRENCY,
                "account_concurrency_limit": CONCURRENCY,
            },
        )
        state = Path(tempfile.mkdtemp(prefix="bench-s2p-"))
        ledger = Ledger(get_engine(f"sqlite:///{state / 'ledger.db'}"))
        wall, counts = _one_run(ledger, "bench_s2p", purchase_orders)
        second_wall, second = _one_run(ledger, "bench_s2p", purchase_orders)
        final = stands.ask("count")
    finally:
        stands.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    ideal = CONCURRENCY / (LATENCY_MS / 1000)
    rate = counts["synced"] / wall
    return [
        {
            **result("s2p.netsuite_rate", rate, "POs/s", ideal * 0.8, higher_is_better=True),
            "of_limit": round(rate / ideal, 3),
        },
        result(
            "s2p.servicenow_calls_per_po",
            counts["sn_calls"] / purchase_orders,
            "calls/PO",
            0.1,
            higher_is_better=False,
        ),
        result(
            "s2p.netsuite_calls_per_po",
            counts["ns_calls"] / purchase_orders,
            "calls/PO",
            1.1,
            higher_is_better=False,
        ),
        result("s2p.wall", wall, "s", round(purchase_orders / (ideal * 0.8), 1), higher_is_better=False),
        {
            "name": "s2p.synced",
            "value": counts["synced"],
            "unit": "POs",
            "limit": purchase_orders,
            "ratio": round(counts["synced"] / purchase_orders, 3),
        },
        {
            "name": "s2p.duplicates",
            "value": final["netsuite_pos"] - final["distinct"],
            "unit": "POs",
            "limit": 0,
            "ratio": 1.0 if final["netsuite_pos"] == final["distinct"] else 0.0,
        },
        {
            "name": "s2p.not_processed",
            "value": final["not_processed"],
            "unit": "POs",
            "limit": 0,
            "ratio": 1.0 if final["not_processed"] == 0 else 0.0,
        },
        result("s2p.second_pass_seconds", second_wall, "s", 10.0, higher_is_better=False),
        {
            "name": "s2p.second_pass_read",
            "value": second["read"],
            "unit": "POs",
            "limit": 0,
            "ratio": 1.0 if second["read"] == 0 else 0.0,
        },
    ]


if __name__ == "__main__":
    for item in run(int(sys.argv[1]) if len(sys.argv) > 1 else PURCHASE_ORDERS):
        print(json.dumps(item))
