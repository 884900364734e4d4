"""
### Onetrail inbound (Onetrail sFTP → NetSuite)

Reads what suppliers send back through Onetrail from the buyer's sFTP `Out` folders
(`/<buyer GLN>/Out/OrdRsp`, `Out/Desadv`, `Out/Invoice`; `Test/Out/...` in pre-production), in
Onetrail XML or EDIFACT D96A (per trading partner), one task group per document type, each waiting
deferrably for files first.

**Order responses** (`order_responses`): the header and line *Onetrail.net Accept Status* on the PO
(Accepted, Changed and Accepted, Rejected, Deleted, Added) from the codes Accept / Change / Reject /
Delete and Accept / Change / Add / Reject / Delete (or UBL AB/AP/CA/RE and 1/3/5/7/9/42); every
supplier change (quantity, price, date, added or deleted line, line split) stored as an
*Onetrail.net PO Amendment* record linked to the PO; PO lines changed only for the change kinds the
settings accept automatically (`auto_accept`); submit status **Confirmed**.

**Despatch advices** (`despatch_advices`): an item receipt per advice and standard PO, a *Shipped* item
fulfilment on the sales order per advice and drop-ship PO, with the serial numbers (inventory detail)
and the containers' tracking numbers; partial shipments accumulate; an advice for lines already
received is quarantined, never received twice.

**Invoices** (`invoices`): a vendor bill from the PO per invoice: lines with the invoice's quantities,
rates and tax; additional charges (freight...) as expense lines when their charge type is configured
(`charge_types`; otherwise the invoice is quarantined, naming it); payment terms matched through
`payment_terms` (no ad-hoc terms); the due date from the invoice; the bill total reconciled with the
invoice total.

Every file is keyed by name + SHA-256 in the ledger and moved to `archive/` only after what it caused
is committed in NetSuite; a bad file (hostile or malformed XML, unknown PO or line, unknown code) or a
repeat goes to `error/` with a `.error.txt` note beside it.

**Settings**: the Variable `po_sync_onetrail`. **Connections**: `netsuite_default`, `onetrail_sftp`.

**Trigger with conf**: `{"dry_run": false}`

**Where to look**: ledger rows with `flow = 'onetrail_inbound'`, entity type `order_response`
(target id = the PO and how many amendments), `despatch_advice` (one per advice and PO; target id =
the receipt or fulfilment), `invoice` (target id = the vendor bill), `*_file` per file, `*_duplicate` for repeats.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.sftp.sensors.sftp import SFTPSensor
from airflow.sdk import DAG, TaskGroup

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.onetrail.operators import (
    OnetrailDespatchAdviceOperator,
    OnetrailInvoiceOperator,
    OnetrailOrderResponseOperator,
    OnetrailRetryOperator,
)
from po_sync.onetrail.settings import remote_folder
from po_sync.timeouts import task_timeout

#: finished files only: a hidden name is an upload in progress; archive/ and error/ have no dot
FILE_PATTERN = "[!.]*.*"

with DAG(
    dag_id="onetrail_inbound",
    description="Onetrail order responses, despatch advices and invoices → NetSuite (sFTP Out folders).",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "onetrail", "netsuite", "sftp"],
    doc_md=__doc__,
    params={
        "dry_run": dry_run_param(
            "Parse and check waiting files only: nothing is applied, moved or recorded."
        ),
    },
    user_defined_macros={"onetrail_folder": remote_folder},
    render_template_as_native_obj=True,
) as dag:
    # the error queue's Retry: retried files back into their folders before the first wait
    previous = OnetrailRetryOperator(task_id="requeue_retried_files", sftp_conn_id="onetrail_sftp")
    for group_id, folder, operator in (
        ("order_responses", "Out/OrdRsp", OnetrailOrderResponseOperator),
        ("despatch_advices", "Out/Desadv", OnetrailDespatchAdviceOperator),
        ("invoices", "Out/Invoice", OnetrailInvoiceOperator),
    ):
        with TaskGroup(group_id=group_id):
            wait = SFTPSensor(
                task_id="wait_for_files",
                sftp_conn_id="onetrail_sftp",
                path=f"{{{{ onetrail_folder('{folder}') }}}}",
                file_pattern=FILE_PATTERN,
                deferrable=True,
                poke_interval=30,
                timeout=4 * 60,
                soft_fail=True,
                # groups run in document order (a response before its despatch, a despatch before its
                # invoice); a group with nothing waiting is skipped without stopping the next
                trigger_rule="none_failed",
            )
            process = operator(
                task_id="process_files",
                pool=NETSUITE_POOL,
                netsuite_conn_id="netsuite_default",
                sftp_conn_id="onetrail_sftp",
                dry_run="{{ params.dry_run }}",
                execution_timeout=task_timeout("onetrail_inbound"),
            )
            wait >> process
        if previous is not None:
            previous >> wait
        previous = process
