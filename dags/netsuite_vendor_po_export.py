"""
### NetSuite → vendor S3: purchase-order export

Every hour, sends each vendor the purchase orders NetSuite changed in the hour (the run's data
interval, started 10 minutes early on scheduled runs so late saves are not missed), one document per
PO at `s3://<vendor bucket>/<prefix>PurchaseOrder/<tranid>.<xml|json|csv>`, plus an optional SQS
"new file" notice.

**How it works**

1. `plan_vendors` reads the vendor settings (Airflow Variable `po_sync_vendors`, else
   `include/config/vendors.example.json`) and lists the vendors of this run.
2. `export_vendor_pos` is mapped: one task per vendor, so one vendor's broken bucket fails only its
   own task (and is retried) while the others deliver. POs are read in bulk through SuiteQL, lines
   included, filtered by the vendor's configured statuses.
3. Every PO's outcome goes to the ledger (`sync_record`, flow `netsuite_vendor_po_export`, entity
   `purchase_order`): an unchanged PO is `ignored` by payload hash, a changed one is re-sent to the
   same key (enable bucket versioning to keep earlier revisions). Each vendor's cursor
   (`sync_cursor`, key = vendor id) moves to the end of the window only when its run completed and
   met no PO still held by another run; manual runs without a data interval start from it, and a
   scheduled run starts from it when it is behind the data interval (the scheduler was down).
   Every run also retries the vendor's `failed` POs (at most 100, longest-waiting first), whatever
   its window. Dates are read in the account's time zone (`account_timezone` on the connection).
4. `report` sums the vendors' counts (XCom `return_value`) and fails the run, after the others
   delivered, when any vendor's task did not finish.

**Backfill** a date range (`airflow backfill create --dag-id netsuite_vendor_po_export --from-date ... --to-date ...`):
each hourly run re-reads exactly the POs modified in its hour; unchanged ones are `ignored`, so no file is
written twice.

**Trigger with conf** (REST `POST /api/v2/dags/netsuite_vendor_po_export/dagRuns`):
`{"logical_date": null, "conf": {"resync_po_numbers": ["PO000123"], "vendor": "V0001", "dry_run": true}}`
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from po_sync.dag_defaults import default_args, dry_run_param, flow_callbacks
from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync.task_failure import fail_fast_on_fatal
from po_sync.vendors.operators.po_export import VendorPOExportOperator

with DAG(
    dag_id="netsuite_vendor_po_export",
    description="Send new and changed NetSuite POs to each vendor's S3 bucket (XML/JSON/CSV), one file per PO.",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    **flow_callbacks(),
    default_args=default_args(),
    tags=["po-sync", "netsuite", "vendors", "s3"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "resync_po_numbers": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[A-Za-z0-9_\\-./]{1,100}$"},
            title="Resync these PO numbers",
            description="NetSuite PO numbers (tranId) to send again even if unchanged; the window is ignored.",
        ),
        "vendor": Param(
            None,
            type=["null", "string"],
            title="Only this vendor",
            description="A vendor_id from the vendor settings (e.g. V0001); empty = every enabled vendor.",
        ),
        "dry_run": dry_run_param(
            "Read and map only: report what would be sent, write no file, ledger record or cursor."
        ),
    },
) as dag:

    @task
    @fail_fast_on_fatal()  # missing vendor settings: fail now, a retry cannot help
    def plan_vendors(params: dict | None = None) -> list[str]:
        """The vendor ids this run exports to (small XCom: ids only)."""
        from po_sync.vendors.settings import load_vendors_config

        only = (params or {}).get("vendor") or None
        return [v.vendor_id for v in load_vendors_config().active(only)]

    @task(trigger_rule="all_done")
    def report(planned: list[str] | None = None, summaries: list[dict] | None = None) -> dict:
        """Sum the per-vendor counts; fail (after summing) when a vendor's delivery did not finish."""
        from airflow.sdk.exceptions import AirflowFailException

        totals: dict[str, int] = {}
        done = []
        # One slice request: iterating the lazy XCom sequence asks for item N+1 and logs its 404.
        for summary in [s for s in (summaries or [])[:] if s]:
            done.append(summary.get("vendor_id"))
            for name, value in summary.get("counts", {}).items():
                totals[name] = totals.get(name, 0) + int(value)
        missing = sorted(set(planned or []) - set(done))
        if planned is None or missing:
            raise AirflowFailException(
                f"vendor deliveries not finished: {missing or 'the plan failed'}; counts so far {totals}"
            )
        return {"vendors": len(done), "counts": totals}

    planned = plan_vendors()
    exports = VendorPOExportOperator.partial(
        task_id="export_vendor_pos",
        pool=NETSUITE_POOL,  # shares the account's concurrency with every other DAG
        resync_po_numbers="{{ params.resync_po_numbers }}",
        dry_run="{{ params.dry_run }}",
        map_index_template="{{ task.vendor_id }}",
    ).expand(vendor_id=planned)
    report(planned, exports.output)
