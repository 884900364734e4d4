"""
### HotWax receipt import (SFTP JSON → NetSuite item receipts)

Waits (deferred, on the triggerer) for HotWax's PO receipt feeds in
`netsuite/purchaseorder/receipt/` — `[{"order_id": "…", "items": [{"line_id": "…", "quantity": "…"}]}]`,
every value a string — and turns each order into a NetSuite **item receipt** by transforming the
purchase order, lines matched on the PO line. The PO moves on from *Pending Receipt* to *Partially
Received* or *Pending Bill*.

**What it does**

1. `wait_for_receipts`: the SFTP provider's deferrable `SFTPSensor` (host key verified against the
   connection). No file within 14 minutes skips the run; the next one waits again.
2. `import_receipts`, per file: a file changed in the last *Minimum file age* seconds waits for the
   next run (it may still be being written). Bigger than *Maximum file size*, an unsafe name, not a
   valid feed, or **imported before** (the ledger keys files by name + SHA-256) → moved to `error/`
   with `<name>.errors.csv` (`orderId,errorMessage`) beside it.
3. Each order: unknown PO or line, over-receipt, negative or non-numeric quantity → `quarantined`
   in the ledger and written to `error/<stem>.failed.json` (+ `.errors.csv`) so a person can fix it
   and drop it back. Zero or empty quantities mean "nothing received yet" and are skipped.
4. The file moves to `archive/` only after every order is committed in NetSuite or quarantined. A
   crash after a receipt was created is resumed by looking the receipt up by its `externalId` first,
   so it is never created twice; a transient NetSuite failure leaves the file for the next run.

**Trigger with conf**: `{"dry_run": true}` validates the waiting files without touching anything.

**Where to look**: ledger rows with `flow = 'hotwax_receipt_import'`: entity `receipt_file` (one per
file name + checksum; target id = its archive path) and `item_receipt` (one per order and file;
target id = the NetSuite item receipt id).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.sftp.sensors.sftp import SFTPSensor
from airflow.sdk import DAG, Param

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks
from po_sync.hotwax.operators import DEFAULT_RECEIPT_DIR, HotWaxReceiptImportOperator, HotWaxRetryOperator
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.timeouts import task_timeout

with DAG(
    dag_id="hotwax_receipt_import",
    description="HotWax receipt JSON on SFTP → NetSuite item receipts; files to archive/ or error/.",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "hotwax", "netsuite", "sftp"],
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param("Validate waiting files only: nothing is received, moved or recorded."),
        "max_file_bytes": Param(
            5_000_000,
            type="integer",
            minimum=1,
            title="Maximum file size (bytes)",
            description="Bigger feed files go to error/ unread.",
        ),
        "min_file_age_seconds": Param(
            30,
            type="integer",
            minimum=0,
            title="Minimum file age (seconds)",
            description="Files modified more recently wait for the next run (they may still be written to).",
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    wait = SFTPSensor(
        task_id="wait_for_receipts",
        sftp_conn_id="sftp_default",
        path=DEFAULT_RECEIPT_DIR,
        file_pattern="*.json",
        deferrable=True,
        poke_interval=30,
        timeout=14 * 60,
        soft_fail=True,
    )
    receive = HotWaxReceiptImportOperator(
        task_id="import_receipts",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        netsuite_conn_id="netsuite_default",
        sftp_conn_id="sftp_default",
        remote_dir=DEFAULT_RECEIPT_DIR,
        max_file_bytes="{{ params.max_file_bytes }}",
        min_file_age_seconds="{{ params.min_file_age_seconds }}",
        dry_run="{{ params.dry_run }}",
        execution_timeout=task_timeout("hotwax_receipt_import"),
    )
    requeue = HotWaxRetryOperator(  # the error queue's Retry: files back before the wait
        task_id="requeue_retried_files",
        sftp_conn_id="sftp_default",
        remote_dir=DEFAULT_RECEIPT_DIR,
    )
    requeue >> wait >> receive
