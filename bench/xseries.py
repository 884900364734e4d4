"""X-Series at volume: 2,000 POs × 5 lines pushed into the sandbox with 1 register (budget 350 per window).

Drives the connector the way the push task does for each new PO (``POST /consignments`` + one bulk
call for its lines) from ``WORKERS`` threads, each with its own hook, all drawing from the budget shared
through the connection's state file. The 5-minute window is scaled down by ``TIME_FACTOR`` (300 s / 100 =
3 s) on both the sandbox and the connection.

Reported: ``xseries.budget_utilisation`` (requests the server admitted per window / the budget, over the
backlogged windows; target ≥ 0.9), ``xseries.rate_limited_after_first_window`` (429s after the first window; target 0),
``xseries.lost`` and ``xseries.duplicated`` consignments (target 0), ``xseries.api_calls_per_po``
(target ≤ 2: the bulk line endpoint, not one call per line).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import result

PURCHASE_ORDERS = 2_000
LINES = 5
TIME_FACTOR = 100.0
WORKERS = 8


def run(purchase_orders: int = PURCHASE_ORDERS) -> list[dict[str, Any]]:
    import logging

    from po_sync.xseries.hook import XSeriesHook
    from po_sync_sandbox.xseries import XSeriesService

    logging.getLogger("po_sync").setLevel(logging.WARNING)
    window = 300.0 / TIME_FACTOR
    state = Path(tempfile.mkdtemp(prefix="bench-xseries-"))
    service = XSeriesService()
    service.start(state)
    service.set_knobs(rate_window_seconds=window)
    try:
        conn = service.connection(
            "personal", token_store_path=str(state / "tokens.json"), rate_window_seconds=window
        )
        os.environ["AIRFLOW_CONN_XSERIES_BENCH"] = json.dumps(conn)
        outlet = service.store.outlet_by_name("Store Downtown")["id"]  # type: ignore[index]
        products = [service.store.product_by_sku(f"SKU-{i:05d}")["id"] for i in range(1, 51)]  # type: ignore[index]
        hooks = [XSeriesHook("xseries_bench") for _ in range(WORKERS)]
        for hook in hooks:
            hook.budget  # noqa: B018 - registers are read before the clock starts
        service.budget.reset()
        service.stats.reset()
        setup_calls = sum(h.calls for h in hooks)

        def push(n: int) -> None:
            hook = hooks[n % WORKERS]
            cons = hook.create_consignment(
                {"type": "SUPPLIER", "status": "OPEN", "outlet_id": outlet, "reference": f"PO{n:06d}"}
            )
            hook.bulk_products(
                cons.id,
                [{"product_id": products[(n + k) % len(products)], "count": 1 + k} for k in range(LINES)],
            )

        started = time.time()
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(push, range(purchase_orders)))
        admitted = sorted(service.budget.admitted_at)
        first = admitted[0]
        budget = 300 + 50
        # the server's windows (each opens at the first request after the last one ended); the last one
        # holds what was left of the backlog, so the rate is taken over the ones before it
        starts = [first]
        for t in admitted:
            if t >= starts[-1] + window:
                starts.append(t)
        before_last = sum(1 for t in admitted if t < starts[-1])
        span = starts[-1] - first
        utilisation = before_last / (budget * span / window) if span > 0 else 0.0
        late_429 = sum(1 for t in service.budget.rejected_at if t >= first + window)
        refs: dict[str, int] = {}
        short = 0
        for cons in service.store.consignments.values():
            refs[cons["reference"]] = refs.get(cons["reference"], 0) + 1
            short += len(service.store.lines[cons["id"]]) != LINES
        lost = purchase_orders - len(refs)
        duplicated = sum(v - 1 for v in refs.values()) + short
        calls = sum(h.calls for h in hooks) - setup_calls
        for hook in hooks:
            hook.close()
        wall = time.time() - started
    finally:
        service.stop()
    name = "xseries"
    return [
        result(f"{name}.budget_utilisation", utilisation, "ratio", 0.9, higher_is_better=True),
        result(f"{name}.rate_limited_after_first_window", late_429, "responses", 0, higher_is_better=False),
        result(f"{name}.lost", lost, "consignments", 0, higher_is_better=False),
        result(f"{name}.duplicated", duplicated, "consignments", 0, higher_is_better=False),
        result(f"{name}.api_calls_per_po", calls / purchase_orders, "calls", 2, higher_is_better=False),
        result(
            f"{name}.wall_time",
            wall,
            "s",
            purchase_orders * 2 / budget * window * 1.2,
            higher_is_better=False,
        ),
    ]


if __name__ == "__main__":
    for line in run():
        print(json.dumps(line))
