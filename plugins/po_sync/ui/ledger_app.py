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
from jinja2 import Environment, select_autoescape

from po_sync.ledger.hook import LedgerHook
from po_sync.ledger.reports import flow_summary, records_needing_attention, recent_runs

STATUS_ORDER = ("synced", "ignored", "failed", "quarantined", "in_progress", "pending", "resolved")

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>po-sync ledger</title>
<style>
 body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933}
 table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
 th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:left;vertical-align:top}
 th{background:#f0f4f8} td.n{text-align:right} .failed,.quarantined{color:#b42318;font-weight:600}
 .msg{max-width:48rem;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.8rem}
</style></head><body>
<h1>po-sync ledger{% if flow %}: {{ flow }}{% endif %}</h1>
<p>Every record any flow touched, where it stands. {% if flow %}<a href="./">All flows</a>{% endif %}</p>
<h2>Flows</h2>
<table><tr><th>flow</th>{% for s in statuses %}<th>{{ s }}</th>{% endfor %}<th>last run</th></tr>
{% for f in flows %}<tr><td><a href="?flow={{ f.flow | urlencode }}">{{ f.flow }}</a></td>
{% for s in statuses %}<td class="n {{ s }}">{{ f.records.get(s, "") }}</td>{% endfor %}
<td>{{ f.last_run | when }}</td></tr>{% else %}<tr><td colspan="9">No flow has run yet.</td></tr>{% endfor %}
</table>
<h2>Needs attention</h2>
<table><tr><th>flow</th><th>record</th><th>status</th><th>attempts</th><th>error</th><th>last DAG run</th></tr>
{% for r in problems %}<tr><td>{{ r.flow }}</td><td>{{ r.entity_type }} {{ r.source_system }}:{{ r.source_id }}</td>
<td class="{{ r.status }}">{{ r.status }}</td><td class="n">{{ r.attempts }}</td>
<td class="msg">{% if r.last_error_code %}[{{ r.last_error_code }}] {% endif %}{{ r.last_error_message or "" }}</td>
<td>{{ r.dag_id or "" }}<br>{{ r.run_id or "" }}</td></tr>
{% else %}<tr><td colspan="6">Nothing failed or quarantined.</td></tr>{% endfor %}
</table>
<h2>Recent task runs</h2>
<table><tr><th>id</th><th>flow</th><th>task</th><th>status</th><th>read</th><th>synced</th><th>ignored</th>
<th>failed</th><th>quarantined</th><th>started</th><th>message</th></tr>
{% for r in runs %}<tr><td class="n">{{ r.id }}</td><td>{{ r.flow }}</td><td>{{ r.task_id or "" }}</td>
<td class="{{ r.status }}">{{ r.status }}</td><td class="n">{{ r.count_read }}</td><td class="n">{{ r.count_synced }}</td>
<td class="n">{{ r.count_ignored }}</td><td class="n">{{ r.count_failed }}</td><td class="n">{{ r.count_quarantined }}</td>
<td>{{ r.started_at | when }}</td><td class="msg">{{ r.message or "" }}</td></tr>
{% else %}<tr><td colspan="11">No runs yet.</td></tr>{% endfor %}
</table></body></html>"""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_env.filters["when"] = _when
_template = _env.from_string(_PAGE)


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
