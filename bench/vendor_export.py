"""Vendor PO export at volume: 10,000 POs (5 lines each) across 20 vendors, NetSuite sandbox → moto S3.

Drives the operator's per-vendor loop (:class:`po_sync.vendors.operators.po_export.VendorExporter`) with the
real NetSuite hook (SuiteQL over HTTP, TBA auth), boto3 against moto's server and a SQLite ledger, the
way each mapped ``export_vendor_pos`` task does; vendors run ``VENDOR_WORKERS`` at a time, like worker
slots. Reported: wall time of the first (full) export, files per second, NetSuite calls, and the wall
time of the second, unchanged pass (every PO ``ignored``, nothing written).

Limits: 10,000 files within 300 s (≥ 33 files/s) on the 2-core CI box; at most 3 NetSuite calls per
vendor per pass on top of the login (one SuiteQL query, paged at 1,000 rows); the unchanged pass within
120 s. ``python -m bench vendor_export`` runs the full size; ``run(purchase_orders=…)`` a smaller one.
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

VENDORS = 20
PURCHASE_ORDERS = 10_000
VENDOR_WORKERS = 4


def _export_all(
    settings: list[Any], ledger: Any, flow: str, netsuite_conn: str, aws_conn: str
) -> dict[str, int]:
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from po_sync.ledger import RunContext
    from po_sync.netsuite.hook import NetSuiteHook
    from po_sync.netsuite.mapping import po_lines_query
    from po_sync.sync import SyncRun
    from po_sync.vendors.operators.po_export import VendorExporter

    log = logging.getLogger("bench.vendor_export")

    def one(vendor: Any) -> dict[str, int]:
        with (
            NetSuiteHook(netsuite_conn) as netsuite,
            SyncRun(ledger=ledger, flow=flow, context=RunContext(task_id=vendor.vendor_id)) as run,
        ):
            exporter = VendorExporter(
                run=run, settings=vendor, s3=S3Hook(aws_conn_id=aws_conn), aws_conn_id=aws_conn, log=log
            )
            exporter.check_bucket()
            out = exporter.export(
                netsuite.suiteql(po_lines_query(vendor_id=vendor.vendor_id, statuses=vendor.statuses)),
                force=False,
                dry_run=False,
            )
            out["calls"] = netsuite.stats["calls"]
            out.update({f"count_{k}": v for k, v in run.counts.items()})
            return out

    totals: dict[str, int] = {}
    with ThreadPoolExecutor(VENDOR_WORKERS) as pool:
        for out in pool.map(one, settings):
            for key, value in out.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
    return totals


def run(purchase_orders: int = PURCHASE_ORDERS, vendors: int = VENDORS) -> list[dict[str, Any]]:
    import logging

    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine
    from po_sync.vendors.settings import parse_vendors_config
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.s3 import MotoService
    from po_sync_sandbox.vendors import VendorWorld, world_config

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    state = Path(tempfile.mkdtemp(prefix="bench-vendor-export-"))
    netsuite = NetSuiteService(
        generate_spec=GenerateSpec(
            vendors=vendors,
            customers=1,
            items=200,
            purchase_orders=purchase_orders,
            lines_per_po=5,
            drop_ship_orders=0,
            transfer_orders=0,
            custom_records=0,
        )
    )
    moto = MotoService()
    netsuite.start(state)
    moto.start(state)
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_BENCH_NETSUITE", "AIRFLOW_CONN_BENCH_AWS")}
    try:
        os.environ["AIRFLOW_CONN_BENCH_NETSUITE"] = json.dumps(netsuite.connection("tba", concurrency=4))
        os.environ["AIRFLOW_CONN_BENCH_AWS"] = json.dumps(moto.info().connections["aws_default"])
        config = world_config(
            [f"V{i:04d}" for i in range(1, vendors + 1)], queue_for_first=False, suffix="-bench"
        )
        VendorWorld(moto.endpoint_url or "", config).setup()
        settings = list(parse_vendors_config(config).vendors)
        ledger = Ledger(get_engine(f"sqlite:///{state / 'ledger.db'}"))
        netsuite.stats.reset()

        started = time.perf_counter()
        first = _export_all(settings, ledger, "bench_vendor_export", "bench_netsuite", "bench_aws")
        first_wall = time.perf_counter() - started
        started = time.perf_counter()
        second = _export_all(settings, ledger, "bench_vendor_export", "bench_netsuite", "bench_aws")
        second_wall = time.perf_counter() - started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        netsuite.stop()
        moto.stop()

    files = first.get("files_written", 0)
    if (
        files != purchase_orders
        or second.get("files_written", 0) != 0
        or second.get("count_ignored", 0) != purchase_orders
    ):
        raise AssertionError(f"export incomplete or duplicated: first {first}, second {second}")
    scale = purchase_orders / PURCHASE_ORDERS
    name = f"vendor_export.{purchase_orders}_pos_{vendors}_vendors"
    return [
        result(f"{name}.wall_time", first_wall, "s", 300 * scale, higher_is_better=False),
        result(f"{name}.files_per_second", files / first_wall, "files/s", 33, higher_is_better=True),
        result(f"{name}.netsuite_calls", first["calls"], "calls", 3 * vendors, higher_is_better=False),
        result(f"{name}.unchanged_pass_wall_time", second_wall, "s", 120 * scale, higher_is_better=False),
    ]


if __name__ == "__main__":
    import sys

    for line in run(*(int(a) for a in sys.argv[1:])):
        print(json.dumps(line))
