"""Onetrail despatch advices into NetSuite: 1,000 advices of 5 lines through the real operator.

The NetSuite sandbox runs in its own process with 100 ms latency per call and a concurrency limit of 5
(as ``bench/netsuite.py``); the Onetrail sFTP stand-in (asyncssh, its own process too) holds 1,000 Onetrail XML despatch
advices, one per PO, each shipping the PO's 5 lines in full. ``OnetrailDespatchAdviceOperator.sync``
takes them all (read, parse, ledger, SuiteQL, transforms, archive), timed end to end.

- ``onetrail.despatch_advices.rate``: item receipts/s ÷ the limit's ideal (5 / 0.1 s = 50/s), the same
  measure as ``netsuite.item_receipts.rate`` (target ≥ 0.9), but through the whole flow.
- ``onetrail.despatch_advices.vs_item_receipts``: that rate ÷ the rate of ``REFERENCE`` bare item receipts
  (``netsuite.item_receipts.rate``'s loop: ``map_concurrent`` over ``transform_record``) against the same
  sandbox right after, so a machine busy with other work shows as such (target ≥ 0.9, for information).
- ``onetrail.despatch_advices.failed`` / ``.duplicated`` / ``.rate_limited``: advices not received,
  receipts beyond one per advice, 429s seen (targets 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.netsuite import CONCURRENCY, LATENCY_MS, RemoteSandbox, _hook, _result

ADVICES = 1_000
LINES_PER_PO = 5
#: bare item receipts measured after the flow, on POs of their own
REFERENCE = 300

#: The sFTP stand-in in its own process (as Onetrail's server is), so its work stays off our GIL.
_SFTP_CHILD = r"""
import json, sys
from pathlib import Path
from po_sync_sandbox.onetrail.sftp import OnetrailSftpService
service = OnetrailSftpService()
info = service.start(Path(sys.argv[1]))
print(json.dumps({"connection": info.connections["onetrail_sftp"], "root": str(service.root)}), flush=True)
sys.stdin.read()
service.stop()
"""


def _write_advices(root: Path, gln: str, rows: list[dict[str, Any]]) -> int:
    from po_sync.onetrail.formats import Container, DespatchAdvice, DespatchLine, dump
    from po_sync_sandbox.onetrail.world import SUPPLIER_XML_GLN

    by_po: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_po.setdefault(str(row["tranid"]), []).append(row)
    folder = root / gln / "Out" / "Desadv"
    folder.mkdir(parents=True, exist_ok=True)
    for index, (number, lines) in enumerate(sorted(by_po.items()), start=1):
        advice = DespatchAdvice(
            document_id=f"DSP-{index:06d}",
            despatch_number=f"DSP-{index:06d}",
            buyer_gln=gln,
            seller_gln=SUPPLIER_XML_GLN,
            ship_to_gln=gln,
            ship_date=date(2026, 1, 9),
            issued_at=datetime(2026, 1, 9),
            containers=(
                Container(
                    f"{376543210000000000 + index:018d}",
                    tuple(DespatchLine(number, str(r["line"]), Decimal(str(r["quantity"]))) for r in lines),
                    tracking=f"1Z{index:08d}",
                ),
            ),
        )
        path = folder / f"DSP-{index:06d}.xml"
        path.write_bytes(dump(advice))
        os.utime(path, (1_767_600_000, 1_767_600_000))
    return len(by_po)


def _bare_receipts(service: Any, pos: list[int]) -> float:
    """Receipts/s of ``netsuite.item_receipts.rate``'s loop (no files, no ledger) on ``pos``, now."""
    import uuid

    with _hook("netsuite_bench", service) as hook:
        hook.get_conn()

        def receive(po: int) -> str:
            return hook.transform_record(
                "purchaseOrder", po, "itemReceipt", idempotency_key=f"bench-{po}-{uuid.uuid4()}"
            ).id

        started = time.monotonic()
        outcomes = list(hook.map_concurrent(receive, pos))
        wall = time.monotonic() - started
    return sum(1 for _, r in outcomes if not isinstance(r, BaseException)) / wall


def run() -> list[dict[str, Any]]:
    """1,000 despatch advices of 5 lines into a NetSuite sandbox at 100 ms / 5 concurrent calls."""
    os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / "po_sync_bench_airflow"))
    from po_sync.ledger import Ledger, RunContext
    from po_sync.ledger.engine import get_engine
    from po_sync.onetrail.operators import OnetrailDespatchAdviceOperator
    from po_sync.sync import SyncRun
    from po_sync_sandbox.onetrail.world import BUYER_GLN, settings_for_sandbox

    service = RemoteSandbox(
        {
            "purchase_orders": ADVICES + REFERENCE,
            "lines_per_po": LINES_PER_PO,
            "drop_ship_orders": 0,
            "transfer_orders": 0,
            "vendors": 2,
            "items": 200,
            "custom_records": 0,
        }
    )
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_ONETRAIL_SFTP", "AIRFLOW_VAR_PO_SYNC_ONETRAIL")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sftp = subprocess.Popen(
                [sys.executable, "-c", _SFTP_CHILD, tmp],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert sftp.stdout is not None and sftp.stdin is not None
            served = json.loads(sftp.stdout.readline())
            root = Path(served["root"])
            os.environ["AIRFLOW_CONN_ONETRAIL_SFTP"] = json.dumps(served["connection"])
            os.environ["AIRFLOW_VAR_PO_SYNC_ONETRAIL"] = json.dumps(settings_for_sandbox())
            with _hook("netsuite_bench", service) as hook:
                rows = list(
                    hook.suiteql(
                        "SELECT t.tranid AS tranid, tl.linesequencenumber AS line, tl.quantity AS quantity "
                        "FROM transaction t JOIN transactionline tl ON tl.transaction = t.id "
                        "WHERE t.type = 'PurchOrd' AND tl.mainline = 'F' "
                        f"AND t.id <= {service.purchase_orders[ADVICES - 1]} ORDER BY t.id, tl.linesequencenumber"
                    )
                )
            advices = _write_advices(root, BUYER_GLN, rows)
            service.set_knobs(latency_ms=LATENCY_MS, concurrency_limit=CONCURRENCY)
            service.reset_stats()
            operator = OnetrailDespatchAdviceOperator(
                task_id="bench_despatch_advices",
                netsuite_conn_id="netsuite_bench",
                sftp_conn_id="onetrail_sftp",
            )
            ledger = Ledger(get_engine(f"sqlite:///{tmp}/ledger.db"))
            sync_run = SyncRun(ledger=ledger, flow="onetrail_inbound", context=RunContext())
            started = time.monotonic()
            with sync_run:
                operator.sync({}, sync_run)  # type: ignore[arg-type]
            wall = time.monotonic() - started
            rejected = service.stats()["concurrency_rejected"]
            reference = _bare_receipts(service, service.purchase_orders[ADVICES:])
            service.set_knobs(latency_ms=0, concurrency_limit=None)
            with _hook("netsuite_bench", service) as hook:
                receipts = int(
                    next(
                        iter(
                            hook.suiteql(
                                "SELECT COUNT(*) AS n FROM transaction t WHERE t.type = 'ItemRcpt' "
                                f"AND t.createdfrom <= {service.purchase_orders[ADVICES - 1]} ORDER BY 1"
                            )
                        )
                    )["n"]
                )
            left = len([p for p in (root / BUYER_GLN / "Out" / "Desadv").iterdir() if p.is_file()])
            sftp.stdin.close()
            sftp.wait(timeout=30)
    finally:
        service.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    target = CONCURRENCY / (LATENCY_MS / 1000)
    rate = min(receipts, advices) / wall
    return [
        _result("onetrail.despatch_advices.rate", rate, "receipts/s", target, rate / target),
        _result(
            "onetrail.despatch_advices.bare_item_receipts_rate",
            reference,
            "receipts/s",
            target,
            reference / target,
        ),
        _result(
            "onetrail.despatch_advices.vs_item_receipts",
            rate / reference,
            "ratio",
            0.9,
            rate / reference / 0.9,
        ),
        _result(
            "onetrail.despatch_advices.failed", advices - min(receipts, advices) + left, "advices", 0, 0.0
        ),
        _result("onetrail.despatch_advices.duplicated", max(receipts - advices, 0), "receipts", 0, 0.0),
        _result("onetrail.despatch_advices.rate_limited", rejected, "429s", 0, 0.0),
    ]


if __name__ == "__main__":
    for item in run():
        print(json.dumps(item))
