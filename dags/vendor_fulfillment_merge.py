"""
### Vendor buckets → merge bucket: fulfilment and invoice merge

Collects what vendors send back (ship notices and invoices, in each vendor's XML, JSON or CSV format)
and merges it per order into the merge bucket, which the `vendor_fulfillment_import` DAG consumes
(Asset `s3://po-sync-vendor-merge/ready/`).

**How it works**

1. `wait_for_vendor_files` waits, *deferred* in the triggerer (no worker slot held), until any vendor's
   `<prefix>inbound/` folder holds a file; after `wait_minutes` (25) with nothing it skips the run.
2. `merge_vendor_files` reads every inbound file:
   - unreadable files (too large, not UTF-8, malformed or hostile XML/JSON/CSV, invalid or negative
     quantities, more than ordered, unknown PO, a document id already merged with other content) move to
     `<prefix>quarantine/` with `<name>.error.txt` beside them, and the ledger holds a `quarantined`
     record (entity `vendor_file`) whose message names the file and field;
   - a standard PO's notices become one **item receipt**; a drop-ship sales order's notices, from every
     vendor with a PO on it, become one **item fulfilment** once every line of every PO is reported
     (shipped or cancelled; partial shipments wait in `inbound/` until then); each invoice becomes a
     **vendor bill**;
   - each merged document is written to `s3://<merge bucket>/ready/<kind>/<merged id>.json` (the id comes
     from the source documents, so a rerun rewrites the same key) and recorded in the ledger; only then
     are its source files archived to `<prefix>archive/YYYY/MM/DD/`.

**Trigger with conf**: `{"logical_date": null, "conf": {"vendor": "V0001", "wait_minutes": 5}}` (empty vendor = all).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, Param

from po_sync.dag_defaults import default_args, flow_callbacks
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.timeouts import task_timeout
from po_sync.vendors.operators.merge import VendorMergeOperator, VendorRetryOperator
from po_sync.vendors.sensors import VendorFilesSensor
from po_sync.vendors.settings import MERGE_ASSET_URI

MERGED_DOCUMENTS = Asset(name="po_sync_vendor_merged_documents", uri=MERGE_ASSET_URI)

with DAG(
    dag_id="vendor_fulfillment_merge",
    description="Merge vendors' ship notices and invoices per order into the merge bucket.",
    schedule="*/30 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "vendors", "s3"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "vendor": Param(
            None,
            type=["null", "string"],
            title="Only this vendor",
            description="A vendor_id from the vendor settings (e.g. V0001); empty = every enabled vendor.",
        ),
        "wait_minutes": Param(
            25,
            type="number",
            minimum=0,
            maximum=600,
            title="Wait for files (minutes)",
            description="How long the deferred wait lasts before the run is skipped because nothing arrived.",
        ),
    },
) as dag:
    wait = VendorFilesSensor(
        task_id="wait_for_vendor_files",
        vendor_id="{{ params.vendor }}",
        poke_interval=30,
        wait_minutes="{{ params.wait_minutes }}",
    )
    merge = VendorMergeOperator(
        task_id="merge_vendor_files",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        vendor_id="{{ params.vendor }}",
        outlets=[MERGED_DOCUMENTS],
        execution_timeout=task_timeout("vendor_fulfillment_merge"),
    )
    requeue = VendorRetryOperator(  # the error queue's Retry: files back before the wait
        task_id="requeue_retried_files",
        vendor_id="{{ params.vendor }}",
    )
    requeue >> wait >> merge
