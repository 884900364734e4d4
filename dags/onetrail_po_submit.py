"""
### Onetrail PO submission (NetSuite → Onetrail sFTP)

Sends the purchase orders a buyer saved with **Save & Submit Electronically** to Onetrail, the way
the eInteract bundle does, over Onetrail's sFTP (`/<buyer GLN>/In/Orders`; `Test/In/Orders` when the
settings say `"test": true`), and reads Onetrail's technical (N)ACKs back from `Out/RC`.

**What it does**

1. `submit_purchase_orders`: picks the POs whose `custbody_onetrail_submit` box is ticked (status not
   *Do Not Submit*) and checks them: the vendor is Onetrail-enabled and has a GLN (13 digits, valid GS1
   check digit), every line's item has an MPN, a special bid / deal carries its type and reference. A PO
   that fails gets submit status **Failed** and the reasons (on the PO in
   `custbody_onetrail_submit_error`, and `quarantined` in the ledger); nothing is sent. A valid PO goes
   **Submitting** → file `ORD-<PO>-<version>.xml` (or `.edi` for EDIFACT partners) written under a
   temporary name and renamed → **Submitted**. The version is a hash of what the supplier is asked
   for: an unchanged PO is never resent; a changed one goes as a `Change` document, a cancelled one
   (all lines closed) as a `Change` with status `Delete`. "Allow partial shipments" sets the order's
   partial-shipment indicator.
2. `read_acknowledgements`: each (N)ACK in `Out/RC` is recorded and archived; a negative one sets the
   PO to **Failed** with Onetrail's exception code (e.g. `504E%21120`, invalid ship-to).

A later order response moves the PO to **Confirmed** (`onetrail_inbound`).

**Settings**: the Variable `po_sync_onetrail` (buyer GLN, ship-to GLNs, per-partner format `xml` /
`edifact`; see `include/config/onetrail.example.json`). **Connections**: `netsuite_default`,
`onetrail_sftp`.

**Trigger with conf**: `{"resync_po_numbers": ["PO000012"], "dry_run": false}`

**Where to look**: ledger rows with `flow = 'onetrail_po_submit'`: entity `purchase_order` (target id =
the order document id; `quarantined` = failed validation, `failed` with `NACK_<code>` = refused by
Onetrail) and `ack_file`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks, resync_numbers_param
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.onetrail.operators import OnetrailAcknowledgementOperator, OnetrailPurchaseOrderSubmitOperator

with DAG(
    dag_id="onetrail_po_submit",
    description="POs marked Save & Submit Electronically → validated Onetrail orders on sFTP; (N)ACKs back.",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "onetrail", "netsuite", "sftp"],
    doc_md=__doc__,
    params={
        "resync_po_numbers": resync_numbers_param(
            "Resync PO numbers",
            "PO numbers (tranId) or internal ids to check and send again even when unchanged.",
        ),
        "dry_run": dry_run_param(
            "Read and validate only: no file is written, no status set, the ledger is left alone."
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    submit = OnetrailPurchaseOrderSubmitOperator(
        task_id="submit_purchase_orders",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        sftp_conn_id="onetrail_sftp",
        resync_po_numbers="{{ params.resync_po_numbers }}",
        dry_run="{{ params.dry_run }}",
    )
    acks = OnetrailAcknowledgementOperator(
        task_id="read_acknowledgements",
        pool=NETSUITE_POOL,
        netsuite_conn_id="netsuite_default",
        sftp_conn_id="onetrail_sftp",
        dry_run="{{ params.dry_run }}",
    )
    submit >> acks
