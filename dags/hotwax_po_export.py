"""
### HotWax PO export (NetSuite → SFTP CSV)

Every 15 minutes, writes the **Pending Receipt** purchase orders that HotWax has not seen yet to the
SFTP folder HotWax's *Import purchase orders* job polls (`netsuite/purchaseorder/fulfillment/`), as
one CSV per run in HotWax's import format:
`external-id,product-sku,quantity,external-facility-id,item-external-id,arrival-date` (PO internal id,
item name, ordered quantity, location id, PO line id, expected receipt date `MM/DD/YYYY`).

**What it does**

1. Reads open, non-drop-ship lines of Pending Receipt POs with SuiteQL, keeps the POs whose
   `custbody_hc_order_exported` box is not ticked (the field HotWax's own script uses), plus any PO
   you list under *Resync PO numbers*.
2. Uploads the CSV under a temporary name, checks its size on the server, renames it to
   `PurchaseOrder-<run time>-<content hash>.csv`, and only then ticks `custbody_hc_order_exported`
   on each PO. A rerun after a crash finds the file a PO already went out in and only ticks the box,
   so HotWax never imports a PO twice.
3. A PO that cannot be written (e.g. a SKU holding a comma, which HotWax's unquoted CSV cannot
   carry) is `quarantined` in the ledger with the reason; the others still go out.

**Trigger with conf**: `{"resync_po_numbers": ["PO000012"], "dry_run": false}`

**Where to look**: ledger `sync_record` rows with `flow = 'hotwax_po_export'` and entity type
`purchase_order` (target id = the CSV file name); the task's XCom holds the counts and the file name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks, resync_numbers_param
from po_sync.hotwax.operators import DEFAULT_PO_DIR, HotWaxPurchaseOrderExportOperator
from po_sync.netsuite.connection import NETSUITE_POOL

with DAG(
    dag_id="hotwax_po_export",
    description="Pending Receipt POs not yet exported → one CSV in HotWax's SFTP folder; then flag them.",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "hotwax", "netsuite", "sftp"],
    doc_md=__doc__,
    params={
        "resync_po_numbers": resync_numbers_param(
            "Resync PO numbers",
            "PO numbers (tranId) or internal ids to export again even when already flagged.",
        ),
        "dry_run": dry_run_param(
            "Read and map only: no file is written, no PO is flagged, the ledger is left alone."
        ),
        "remote_dir": Param(
            DEFAULT_PO_DIR,
            type="string",
            minLength=1,
            # refused at trigger time too (the operator checks again): no absolute path, no `.`/`..`
            # part, no backslash or control character
            pattern=r"^(?!/)(?!(.*/)?\.{1,2}(/|$))[^\\\x00-\x1f]+$",
            title="SFTP folder",
            description=(
                "The folder HotWax polls for PO CSVs, relative to the SFTP login directory "
                "(no leading `/`, no `..`)."
            ),
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    HotWaxPurchaseOrderExportOperator(
        task_id="export_purchase_orders",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        netsuite_conn_id="netsuite_default",
        sftp_conn_id="sftp_default",
        remote_dir="{{ params.remote_dir }}",
        resync_po_numbers="{{ params.resync_po_numbers }}",
        dry_run="{{ params.dry_run }}",
    )
