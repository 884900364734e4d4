"""
### X-Series transfer order sync (NetSuite ⇄ Lightspeed Retail X-Series)

Every 15 minutes, both ways:

1. **push_transfer_orders** (NetSuite → X-Series): approved transfer orders (Pending Fulfillment,
   Partially Fulfilled, Pending Receipt) become **OUTLET consignments** from the outlet mapped from the
   TO's *From Location* (`source_outlet_id`) to the one mapped from its *To Location* (`outlet_id`).
   One `POST /consignments` and one bulk line call per new TO; lines are added, changed or removed
   while the consignment is OPEN; a TO deleted in NetSuite deletes its OPEN consignment. The
   consignment id is kept in the ledger and on the TO (`custbody_vend_consignment_id`), so a rerun
   never creates a second one.
2. **pull_outlet_transfers** (X-Series → NetSuite): OUTLET consignments made in the POS (status OPEN
   or SENT) become NetSuite transfer orders, once each (external id `VEND-<consignment id>`, the
   "synced" box `custbody_vend_synced` ticked). Read from the X-Series change feed (version cursor
   kept in the ledger, moved only by a completed run); transfers quarantined earlier are looked at
   again, so fixing the outlet map is enough.

**Outlet ↔ location map**: the Airflow Variable `po_sync_xseries` (JSON, shape and sandbox values:
`include/config/xseries/settings.json`, used only in a sandbox when the Variable is unset), validated
before anything moves. An outlet or location that is not in it quarantines that order with a message
naming the order and the outlet or location; so do an item without an X-Series product of that SKU
and a non-positive quantity. The other orders still go.

Receiving: `vend_item_receipt_sync` receives the consignment once every item receipt of the TO exists.

**Trigger with conf**: `{"resync_to_numbers": ["TO000012"], "dry_run": false}`

**Where to look**: ledger `sync_record` rows with `flow = 'vend_transfer_order_sync'` (entity
`transfer_order`: target = consignment id; `consignment`: target = NetSuite TO id;
`transfer_order_deletion`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks, resync_numbers_param
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.xseries.transfers import VendOutletTransferPullOperator, VendTransferOrderPushOperator

with DAG(
    dag_id="vend_transfer_order_sync",
    description="NetSuite transfer orders ⇄ X-Series OUTLET consignments (create, update, delete; POS transfers back once).",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "xseries", "netsuite"],
    doc_md=__doc__,
    params={
        "resync_to_numbers": resync_numbers_param(
            "Resync TO numbers",
            "Transfer order numbers (tranId) or internal ids to send to X-Series again even if unchanged.",
        ),
        "dry_run": dry_run_param(
            "Read and map only: nothing is written to X-Series, NetSuite or the ledger."
        ),
    },
    render_template_as_native_obj=True,
    **flow_callbacks(),
) as dag:
    push = VendTransferOrderPushOperator(
        task_id="push_transfer_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        resync_numbers="{{ params.resync_to_numbers }}",
        dry_run="{{ params.dry_run }}",
    )
    pull = VendOutletTransferPullOperator(
        task_id="pull_outlet_transfers",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        xseries_conn_id="xseries_default",
        dry_run="{{ params.dry_run }}",
    )
    push >> pull
