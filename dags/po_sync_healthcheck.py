"""
### po-sync health check

Opens every connection the bundle's flows use and records the result in the po-sync **ledger**
(`sync_record`, entity type `connection`), so the ledger itself is exercised end to end too.

**What it does**

1. `check_connections` runs each connection's own *Test* (the same as the UI's Test button): the
   ledger (`po_sync_db`), NetSuite (`netsuite_default`: reads `governanceLimits`), S3/SQS
   (`aws_default`), SFTP (`sftp_default`), SMTP (`smtp_default`), and
   whichever ids you pass in the trigger form.
2. A connection that fails is recorded as `failed` with the hook's message; the run still
   succeeds and its counts (XCom `return_value`) say how many failed. Tick *fail_on_unhealthy* to
   make any failure fail the task instead (useful as an alerting DAG).

**Only po-sync's own connections** are tested: the ids its flows use, or a connection of a type
po-sync registers (`netsuite`, `servicenow`, `xseries`, `po_sync_ledger`). Any other id is recorded
`quarantined` (`CONNECTION_NOT_ALLOWED`) and never opened. When Airflow's `[core] test_connection` is
not `Enabled` (Airflow's default is `Disabled`), nothing is tested: each connection is recorded
`ignored` (`TEST_CONNECTION_DISABLED`).

**Trigger with conf** (REST: `POST /api/v2/dags/po_sync_healthcheck/dagRuns`):
`{"logical_date": null, "conf": {"connections": ["po_sync_db", "aws_default"]}}`

**Where to look**: the ledger's `sync_run` row for this task run holds the counts; `sync_record`
rows with `flow = 'po_sync_healthcheck'` hold each connection's last result.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from po_sync.dag_defaults import default_args
from po_sync.healthcheck import ConnectionCheckOperator

DEFAULT_CONNECTIONS = ["po_sync_db", "netsuite_default", "aws_default", "sftp_default", "smtp_default"]

with DAG(
    dag_id="po_sync_healthcheck",
    description="Test every connection the po-sync flows use; results go to the ledger.",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "health"],
    doc_md=__doc__,
    params={
        "connections": Param(
            DEFAULT_CONNECTIONS,
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            title="Connections to check",
            description="Airflow connection ids, one per line.",
        ),
        "fail_on_unhealthy": Param(
            False,
            type="boolean",
            title="Fail on an unhealthy connection",
            description="Fail the task (and alert) when any connection fails its test.",
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    ConnectionCheckOperator(
        task_id="check_connections",
        conn_ids="{{ params.connections }}",
        fail_on_unhealthy="{{ params.fail_on_unhealthy }}",
    )
