"""
### X-Series token refresh (Lightspeed Retail X-Series OAuth 2.0)

Every 12 hours (the proposal's cadence), rotates the access + refresh token pair of the
`xseries_default` connection. Every X-Series task also refreshes on its own before the access token
expires (from the returned `expires` / `expires_in`), so this run keeps the refresh token in use and
finds a revoked one early.

**Refresh tokens rotate**: X-Series revokes the refresh token used as soon as it issues the new pair.
The new pair is committed, encrypted with Airflow's Fernet key, to the connection's row of the ledger
(`sync_credential`) before it is used; one refresh runs at a time across processes and machines (the
row lock on PostgreSQL, the write lock on SQLite) and a worker that waited re-reads the stored pair
instead of refreshing with a revoked token.

**When it fails** with `XSeriesAuthError` (refresh token revoked, app disconnected) the task fails at
once without retries and mails the failing-login alert: every X-Series flow is stopped until a person
runs the authorize step again: the page `/po-sync/xseries/authorize?conn_id=xseries_default` (needs
permission to edit connections) or `python -m po_sync.xseries.authorize --conn-id xseries_default`.

**Where to look**: the task's XCom holds the token generation and expiry time, never a token; the
ledger's `sync_run` rows with `flow = 'vend_token_refresh'`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import DAG

from po_sync.dag_defaults import default_args, flow_callbacks
from po_sync.notify.notifiers import TaskFailureNotifier
from po_sync.xseries.operators import XSeriesTokenRefreshOperator

login_alert = SmtpNotifier(
    to="{{ var.value.get('po_sync_alert_to', 'po-sync-ops@example.com') }}",
    smtp_conn_id="smtp_default",
    subject="po-sync: X-Series login failed ({{ dag.dag_id }}) - every X-Series flow is stopped",
    html_content=(
        "The X-Series token refresh failed: {{ exception }}.<br>Run the authorize step for the "
        "xseries_default connection; until then no X-Series flow can run."
    ),
)

with DAG(
    dag_id="vend_token_refresh",
    description="Rotate the X-Series OAuth token pair every 12 hours; alert on a failing login.",
    schedule=timedelta(hours=12),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["po-sync", "xseries"],
    doc_md=__doc__,
    **flow_callbacks(),
) as dag:
    XSeriesTokenRefreshOperator(
        task_id="refresh_tokens",
        xseries_conn_id="xseries_default",
        # the flow's people (po_sync_notifications, recorded for flow health) and the login alert
        on_failure_callback=[TaskFailureNotifier(), login_alert],
    )
