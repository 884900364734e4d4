"""
### X-Series item receipt sync (NetSuite → Lightspeed Retail X-Series)

Every 15 minutes: a purchase order whose consignment id is on the PO (`custbody_vend_consignment_id`,
set by `vend_purchase_order_sync`) and whose **every** line is received in NetSuite (all item receipts
saved; a partial receipt waits, as the proposal says) gets its consignment received in X-Series: the
lines' `received` counts in one bulk call, then status RECEIVED. A PO received in several receipts is
sent once, when the last one exists.

Transfer orders (**receive_transfer_orders**, consignment id set by `vend_transfer_order_sync`): once
the TO's item receipts add up to every line's quantity (the TO is received), its OUTLET consignment
goes SENT if it is still OPEN (X-Series takes `received` on a transfer only while SENT), gets the
lines' `received` counts in one bulk call, then goes RECEIVED — only then.

Bad input (an item received in NetSuite that is not on the consignment, more received in X-Series than
in NetSuite, a negative quantity) quarantines that order, named, in the ledger.

**Errors per order** go to three places: the ledger (the queue under *Browse → po-sync ledger*),
NetSuite (the order's `custbody_vend_error`, or the proposal's error record `customrecord_vend_po_sync`
with `error_writeback: record` in the settings; cleared when the order later syncs), and a mail to the
flow's people after the run (the digest, `po_sync_notifications` Variable).

**Where to look**: ledger `sync_record` rows with `flow = 'vend_item_receipt_sync'`, entity
`purchase_order_receipt` or `transfer_order_receipt` (target = consignment id).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.xseries.operators import VendItemReceiptSyncOperator
from po_sync.xseries.transfers import VendTransferReceiptSyncOperator

with DAG(
    dag_id="vend_item_receipt_sync",
    description="Fully received NetSuite POs → their X-Series consignments RECEIVED (received counts first).",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "xseries", "netsuite"],
    doc_md=__doc__,
    **flow_callbacks(),
    params={"dry_run": dry_run_param("Read only: no consignment is received, the ledger is left alone.")},
    render_template_as_native_obj=True,
) as dag:
    VendItemReceiptSyncOperator(
        task_id="receive_purchase_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        dry_run="{{ params.dry_run }}",
    )
    VendTransferReceiptSyncOperator(
        task_id="receive_transfer_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        dry_run="{{ params.dry_run }}",
    )
