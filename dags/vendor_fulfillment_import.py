"""
### Merge bucket → NetSuite: item receipts, drop-ship fulfilments, vendor bills

Runs whenever `vendor_fulfillment_merge` updates the merge bucket (Asset
`s3://po-sync-vendor-merge/ready/`) **or** every hour at :45 (`AssetOrTimeSchedule`), so documents
that failed are retried even when no vendor sends anything; it can be triggered by hand.

**How it works**

1. `import_merged_documents` reads each merged document in `ready/` and stages it in the ledger
   (flow `vendor_fulfillment_import`, entity `item_receipt` / `item_fulfillment` / `vendor_bill`) with
   its payload hash (unchanged and already synced = `ignored`), then writes NetSuite:
   - **item receipt** transformed from the PO, lines matched by PO line and item, refused above the
     remaining quantity (`OVER_RECEIPT`);
   - **item fulfilment** on the drop-ship sales order (tracking numbers as packages, serials as
     inventory detail);
   - **vendor bill** transformed from the PO (after goods, in the same run).
   Every write carries `X-NetSuite-Idempotency-Key` and `externalId` = merged id; a crash between the
   write and the ledger update is resumed by looking the record up first, never written twice.
2. Failed documents (unknown PO or item, over-receipt, NetSuite `USER_ERROR`) are `failed` in the
   ledger with a message naming the document, line and field, and stay in `ready/`: the next run
   resends them, so correcting the data and waiting (or triggering) is all a person does. Done ones move
   to `done/`; unreadable ones to `quarantine/` with a note. A document refused
   `max_attempts` (5) times with the same code moves to `dead-letter/` with a note and is `quarantined`
   (`DEAD_LETTER`); transient failures (5xx, 429, timeouts) never count. A corrected invoice updates the
   bill it made; a corrected ship notice for a receipt already in NetSuite is quarantined
   (`CORRECTION_NEEDS_PERSON`) with what to do.
3. `check_netsuite` checks in NetSuite that what the ledger says this run created exists; a record
   NetSuite no longer has is marked `failed` (`NETSUITE_DRIFT`, with what to do) on the ledger page
   and counted in XCom `missing`.

**Trigger with conf**: `{"logical_date": null, "conf": {"merged_ids": [], "dry_run": false}}`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.timeouts import task_timeout
from po_sync.vendors.operators.fulfillment_import import VendorImportCheckOperator, VendorImportOperator
from po_sync.vendors.settings import MERGE_ASSET_URI

MERGED_DOCUMENTS = Asset(name="po_sync_vendor_merged_documents", uri=MERGE_ASSET_URI)

with DAG(
    dag_id="vendor_fulfillment_import",
    description="Write merged vendor documents to NetSuite as item receipts, fulfilments and vendor bills.",
    # the merge's Asset, or the clock: failed documents are retried even when no vendor sends anything
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("45 * * * *", timezone="UTC"), assets=[MERGED_DOCUMENTS]
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "netsuite", "vendors"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "merged_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Only these merged documents",
            description="Merged document ids (file names in ready/ without .json); empty = all of ready/.",
        ),
        "dry_run": dry_run_param(
            "Validate the documents only; write nothing to NetSuite, S3 or the ledger records."
        ),
    },
) as dag:
    imported = VendorImportOperator(
        task_id="import_merged_documents",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        merged_ids="{{ params.merged_ids }}",
        dry_run="{{ params.dry_run }}",
        max_attempts=5,
        execution_timeout=task_timeout("vendor_fulfillment_import"),
    )
    check = VendorImportCheckOperator(task_id="check_netsuite", trigger_rule="all_done", pool=NETSUITE_POOL)
    imported >> check
