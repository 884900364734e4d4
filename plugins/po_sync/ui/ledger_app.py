"""A FastAPI app mounted on Airflow's api-server at ``/po-sync``: the ledger, readable from the UI.

``GET /po-sync/`` is an HTML page (shown inside the UI under *Browse → po-sync ledger*) and
``GET /po-sync/api/summary`` the same data as JSON. Both need a logged-in user: the UI's session
cookie or a ``Bearer`` token from ``POST /auth/token``; plugin endpoints are open by default, so the
dependency below is what keeps the ledger's error messages away from anonymous callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from po_sync.ledger.hook import LedgerHook
from po_sync.ledger.reports import flow_summary, recent_runs, records_needing_attention

STATUS_ORDER = ("synced", "ignored", "failed", "quarantined", "in_progress", "pending", "resolved")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


_env = Environment(
    loader=PackageLoader("po_sync.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_env.filters["when"] = _when
_template = _env.get_template("ledger.html")


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows]


def ledger_snapshot(flow: str | None = None) -> dict[str, Any]:
    """What the page shows, read from the ledger named by the ``po_sync_db`` connection."""
    ledger = LedgerHook().get_conn()
    return {
        "flows": flow_summary(ledger),
        "problems": records_needing_attention(ledger, flow=flow),
        "runs": recent_runs(ledger, flow=flow),
    }


def create_app(auth_dependency: Any = None) -> FastAPI:
    """Build the app; ``auth_dependency`` defaults to Airflow's ``requires_authenticated()``."""
    if auth_dependency is None:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        auth_dependency = requires_authenticated()
    app = FastAPI(title="po-sync ledger", dependencies=[Depends(auth_dependency)])

    @app.get("/", response_class=HTMLResponse)
    def page(flow: str | None = Query(default=None, max_length=100)) -> str:
        return _template.render(flow=flow, statuses=STATUS_ORDER, **ledger_snapshot(flow))

    @app.get("/api/summary")
    def summary(flow: str | None = Query(default=None, max_length=100)) -> dict[str, Any]:
        snapshot = ledger_snapshot(flow)
        return {key: _jsonable(rows) for key, rows in snapshot.items()}

    return app
