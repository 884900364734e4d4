"""
### ServiceNow S2P → NetSuite purchase orders (ERP numbers and errors back to S2P)

Source-to-Pay creates purchase orders and stages them for the ERP in the outbound staging tables
`sn_spend_intg_outbound_purchase_order` and `_line` at integration status **10 New**. This flow
creates them in NetSuite and writes the result back.

**What it does**, every 10 minutes:

1. Reads the ERP mapping tables (address → NetSuite location / subsidiary, capitalisation policy →
   asset class, model category → material group, account assignment category) once per run, and the
   staged POs at 10 (and 20, left by a run that died) with their lines, a page of 1,000 per call.
2. Marks each PO and its lines **20 In process** before touching NetSuite, then creates or updates the
   NetSuite PO by external id = the S2P PO number (a rerun or a revision never makes a second PO).
   A capitalised line of 100 or more is split into NetSuite lines of at most 99 (250 → 99, 99, 52),
   each carrying the same S2P purchase line. A **cancellation** closes every line of the NetSuite PO,
   after which S2P cancels its PO. **Blanket** orders are not created (ledger `ignored`, with the
   reason); their **releases** are created as standard POs.
3. Writes back **30 Processed** with the NetSuite PO number on the staging and primary PO, each line's
   NetSuite line number(s) on the staging and primary lines, and the right ERP line on each fixed asset.
   On an error (missing ERP mapping, quantity 0, a PO NetSuite refuses, e.g. an unknown supplier):
   **40 Failed** with the message, and an *integration error* purchasing task on the requisition; the
   PO stays Pending Submission in S2P until someone fixes it and sets the staging record back to New.
   NetSuite or ServiceNow being unavailable (429, 5xx, a rejected login) fails or retries the run and
   leaves the staging records to be read again.
4. Staging lines that arrive without their PO are retried by the next runs and failed after 3.

**Trigger with conf**: `{"po_numbers": ["PO0001001"]}` syncs only those POs; `{"dry_run": true}`
plans without writing anything; `{"max_orders": 200}` takes fewer POs per run.

**Where to look**: ledger rows with `flow = 's2p_purchase_order_sync'`: entity `purchase_order`
(one per staging header sys_id; target id = the NetSuite internal id; trace key = the S2P PO number)
and `orphan_line` (staging lines waiting for their PO). In S2P: the staging records' *Processing
message* and the requisition's purchasing tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from po_sync.dag_defaults import default_args, dry_run_param
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.servicenow.operators import S2PPurchaseOrderSyncOperator

with DAG(
    dag_id="s2p_purchase_order_sync",
    description="ServiceNow S2P outbound POs → NetSuite; ERP numbers, statuses and errors back to S2P.",
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "servicenow", "s2p", "netsuite"],
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param("Plan only: nothing is written to NetSuite, ServiceNow or the ledger."),
        "po_numbers": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
            title="S2P PO numbers",
            description="Only these staged POs (empty = every PO at New).",
        ),
        "max_orders": Param(
            1000,
            type="integer",
            minimum=1,
            maximum=10000,
            title="Most POs per run",
            description="The rest wait for the next run.",
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    S2PPurchaseOrderSyncOperator(
        task_id="sync_purchase_orders",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        servicenow_conn_id="servicenow_default",
        netsuite_conn_id="netsuite_default",
        max_orders="{{ params.max_orders }}",
        po_numbers="{{ params.po_numbers }}",
        dry_run="{{ params.dry_run }}",
    )
