"""
### X-Series purchase order sync (NetSuite ⇄ Lightspeed Retail X-Series)

Every 15 minutes, both ways:

1. **push_purchase_orders** (NetSuite → X-Series): approved purchase orders (Pending Receipt,
   partially received) become **SUPPLIER consignments** (stock orders) at the outlet mapped from
   the PO's location. One `POST /consignments` and one bulk line call per new PO; lines are added,
   changed or removed while the consignment is OPEN or SENT; a PO deleted in NetSuite deletes its
   consignment when nothing in the POS depends on it. The consignment id is kept in the ledger and on
   the PO (`custbody_vend_consignment_id`), so a rerun never creates a second one.
2. **pull_supplier_orders** (X-Series → NetSuite): SUPPLIER consignments with status OPEN created in
   the POS become NetSuite purchase orders, once each (external id `VEND-<consignment id>`, the
   "synced" box `custbody_vend_synced` ticked). Read from the X-Series change feed (version cursor
   kept in the ledger, moved only by a completed run). A consignment this flow made from a NetSuite
   PO whose create answer was lost (its reference is the PO number) is `ignored` as `FROM_NETSUITE`,
   never written back as a second PO; the push finishes it by that reference on its next try.

Bad input (an item with no X-Series product of that SKU, an unmapped outlet or location, a
non-positive quantity) quarantines that order with a message naming it; the others still go.

**Settings**: `include/config/xseries/settings.json` (NetSuite location → outlet, supplier → vendor).

**Trigger with conf**: `{"resync_po_numbers": ["PO000012"], "dry_run": false}`

**Errors per order** go to three places: the ledger (the queue under *Browse → po-sync ledger*),
NetSuite (the order's `custbody_vend_error`, or the proposal's error record `customrecord_vend_po_sync`
with `error_writeback: record` in the settings; cleared when the order later syncs), and a mail to the
flow's people after the run (the digest, `po_sync_notifications` Variable).

**Where to look**: ledger `sync_record` rows with `flow = 'vend_purchase_order_sync'` (entity
`purchase_order`: target = consignment id; `consignment`: target = NetSuite PO id).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks, resync_numbers_param
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.xseries.operators import VendPurchaseOrderPushOperator, VendSupplierOrderPullOperator

with DAG(
    dag_id="vend_purchase_order_sync",
    description="NetSuite POs ⇄ X-Series SUPPLIER consignments (create, update, delete; POS orders back once).",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "xseries", "netsuite"],
    doc_md=__doc__,
    **flow_callbacks(),
    params={
        "resync_po_numbers": resync_numbers_param(
            "Resync PO numbers",
            "PO numbers (tranId) or internal ids to send to X-Series again even if unchanged.",
        ),
        "dry_run": dry_run_param(
            "Read and map only: nothing is written to X-Series, NetSuite or the ledger."
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    push = VendPurchaseOrderPushOperator(
        task_id="push_purchase_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        resync_numbers="{{ params.resync_po_numbers }}",
        dry_run="{{ params.dry_run }}",
    )
    pull = VendSupplierOrderPullOperator(
        task_id="pull_supplier_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        dry_run="{{ params.dry_run }}",
    )
    push >> pull
