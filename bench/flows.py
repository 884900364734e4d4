"""Whole flows at volume, through their operators with the ledger: what each record costs beyond the API.

``flows.hotwax_receipt_import.*``: ``RECEIPTS`` receipts for as many Pending Receipt POs, in ``FILES``
HotWax feed files on the SFTP sandbox, imported by one run of
:class:`~po_sync.hotwax.operators.HotWaxReceiptImportOperator` (``execute``: ledger on SQLite, SFTP
over SSH, NetSuite in its own process at concurrency 5 and 100 ms per call). ``.rate`` is
receipts/s ÷ (5 / 0.1 s) (target ≥ 0.8); ``.calls_per_receipt`` is NetSuite calls per receipt, for
information (the account's limit caps receipts/s at 50 ÷ that).

``flows.vendor_export.*``: ``EXPORT_POS`` POs for ``EXPORT_VENDORS`` vendors through the operator's
per-vendor loop (:class:`~po_sync.vendors.operators.po_export.VendorExporter`, as
``bench/vendor_export.py`` drives it, ``VENDOR_WORKERS`` vendors at a time), then the same number of
raw ``put_object`` calls of the same size to the same moto server on as many threads.
``.rate`` is files/s ÷ raw puts/s (target ≥ 0.7).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import types
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import result

RECEIPTS = 5_000
FILES = 10
LIMIT = 5
LATENCY_MS = 100
EXPORT_POS = 4_000
EXPORT_VENDORS = 20


def _context(task_id: str) -> dict[str, Any]:
    """The parts of an Airflow task context the operators read."""
    now = datetime.now(UTC)
    ti = types.SimpleNamespace(dag_id="bench", run_id=f"bench__{now:%H%M%S%f}", task_id=task_id, map_index=-1)
    ti.try_number = 1
    dag_run = types.SimpleNamespace(run_after=now, logical_date=None, run_type="manual", conf={})
    return {
        "ti": ti,
        "dag_run": dag_run,
        "data_interval_start": None,
        "data_interval_end": None,
        "params": {},
    }


def hotwax_receipt_import(receipts: int = RECEIPTS, files: int = FILES) -> list[dict[str, Any]]:
    from bench.netsuite import RemoteSandbox
    from po_sync.hotwax.operators import HotWaxReceiptImportOperator
    from po_sync_sandbox.hotwax import RECEIPT_DIR, HotWaxActor
    from po_sync_sandbox.runner import Sandbox

    state = Path(tempfile.mkdtemp(prefix="bench-flows-hotwax-"))
    netsuite = RemoteSandbox(
        {
            "purchase_orders": receipts,
            "lines_per_po": 2,
            "drop_ship_orders": 0,
            "transfer_orders": 0,
            "vendors": 10,
            "items": 50,
            "custom_records": 0,
        }
    )
    saved = dict(os.environ)
    try:
        with Sandbox(state / "sandbox", services=["sftp"]) as sandbox:
            os.environ.update(sandbox.env())
            os.environ["AIRFLOW_CONN_NETSUITE_DEFAULT"] = json.dumps(netsuite.connection("tba"))
            os.environ["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(
                {
                    "conn_type": "po_sync_ledger",
                    "host": str(state / "ledger.db"),
                    "extra": {"dialect": "sqlite"},
                }
            )
            actor = HotWaxActor.from_sandbox(sandbox)
            orders = [
                {"order_id": str(po), "items": [{"line_id": "1", "quantity": "1"}]}
                for po in netsuite.purchase_orders
            ]
            for part in range(files):
                actor.write_feed(orders[part::files])
            netsuite.set_knobs(
                latency_ms=LATENCY_MS, concurrency_limit=LIMIT, account_concurrency_limit=LIMIT
            )
            operator = HotWaxReceiptImportOperator(
                task_id="import_receipts",
                flow="bench_hotwax_receipt_import",
                remote_dir=str(RECEIPT_DIR),
                min_file_age_seconds=0,
                max_files=files,
            )
            netsuite.reset_stats()
            started = time.perf_counter()
            summary = operator.execute(_context("import_receipts"))
            wall = time.perf_counter() - started
            stats = netsuite.stats()
            archived = actor.files(RECEIPT_DIR / "archive")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        netsuite.stop()
    counts = summary["counts"]
    synced_orders = counts["synced"] - len(archived)  # the files' own records are counted too
    if synced_orders != receipts or len(archived) != files or counts["failed"] or counts["quarantined"]:
        raise AssertionError(f"import incomplete: {summary}, archived {archived}")
    rate = receipts / wall
    target = LIMIT / (LATENCY_MS / 1000)
    name = "flows.hotwax_receipt_import"
    return [
        result(f"{name}.rate", rate, "receipts/s", target, higher_is_better=True),
        result(f"{name}.wall_time", wall, "s", round(receipts / (0.8 * target), 1), higher_is_better=False),
        {"name": f"{name}.calls_per_receipt", "value": round(stats["requests"] / receipts, 3), "unit": "calls",
         "limit": None, "ratio": None},
        {"name": f"{name}.rate_limited", "value": stats["concurrency_rejected"], "unit": "429s", "limit": 0,
         "ratio": 1.0 if stats["concurrency_rejected"] == 0 else 0.0},
    ]  # fmt: skip


def vendor_export(purchase_orders: int = EXPORT_POS, vendors: int = EXPORT_VENDORS) -> list[dict[str, Any]]:
    import logging

    from bench.vendor_export import _export_all
    from po_sync.ledger import Ledger
    from po_sync.ledger.engine import get_engine
    from po_sync.vendors.settings import parse_vendors_config
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.s3 import MotoService
    from po_sync_sandbox.vendors import VendorWorld, world_config

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state = Path(tempfile.mkdtemp(prefix="bench-flows-export-"))
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
    saved = dict(os.environ)
    try:
        os.environ["AIRFLOW_CONN_BENCH_NETSUITE"] = json.dumps(netsuite.connection("tba", concurrency=4))
        os.environ["AIRFLOW_CONN_BENCH_AWS"] = json.dumps(moto.info().connections["aws_default"])
        os.environ["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(
            {"conn_type": "po_sync_ledger", "host": str(state / "ledger.db"), "extra": {"dialect": "sqlite"}}
        )
        config = world_config(
            [f"V{i:04d}" for i in range(1, vendors + 1)], queue_for_first=False, suffix="-bfl"
        )
        VendorWorld(moto.endpoint_url or "", config).setup()
        settings = list(parse_vendors_config(config).vendors)
        ledger = Ledger(get_engine(f"sqlite:///{state / 'ledger.db'}"))

        started = time.perf_counter()
        totals = _export_all(settings, ledger, "bench_flows_vendor_export", "bench_netsuite", "bench_aws")
        export_wall = time.perf_counter() - started
        files = totals.get("files_written", 0)
        if files != purchase_orders:
            raise AssertionError(f"export incomplete: {totals}")
        raw_rate, size = _raw_put_rate(settings[0].bucket, files, state)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        netsuite.stop()
        moto.stop()
    rate = files / export_wall
    name = "flows.vendor_export"
    return [
        result(f"{name}.rate", rate, "files/s", round(raw_rate, 1), higher_is_better=True),
        {"name": f"{name}.raw_put_rate", "value": round(raw_rate, 1), "unit": "puts/s", "limit": None,
         "ratio": None, "object_bytes": size},
    ]  # fmt: skip


def _raw_put_rate(bucket: str, count: int, state: Path) -> tuple[float, int]:
    """``count`` bare ``put_object`` calls of one exported file's size, ``VENDOR_WORKERS`` threads."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bench.vendor_export import VENDOR_WORKERS

    client = S3Hook(aws_conn_id="bench_aws").get_conn()
    sample = client.list_objects_v2(Bucket=bucket, MaxKeys=1)["Contents"][0]
    body = client.get_object(Bucket=bucket, Key=sample["Key"])["Body"].read()

    def put(n: int) -> None:
        client.put_object(Bucket=bucket, Key=f"raw-put-bench/{n:06d}.xml", Body=body)

    started = time.perf_counter()
    with ThreadPoolExecutor(VENDOR_WORKERS) as pool:
        list(pool.map(put, range(count)))
    return count / (time.perf_counter() - started), len(body)


def run() -> list[dict[str, Any]]:
    os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / "po_sync_bench_airflow"))
    return [*hotwax_receipt_import(), *vendor_export()]


if __name__ == "__main__":
    import sys

    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    size = [int(a) for a in sys.argv[2:]]
    lines = (
        hotwax_receipt_import(*size)
        if which == "hotwax"
        else vendor_export(*size)
        if which == "export"
        else run()
    )
    for line in lines:
        print(json.dumps(line))
