"""A FastAPI app mounted on Airflow's api-server at ``/po-sync``: the error queue and flow health.

Pages (shown inside the UI under *Browse → po-sync ledger*):

- ``GET /po-sync/`` the queue: filters (flow, status, error code, entity type, date range, text on
  source id / PO number / file), server-side paging and sort, counts per status per flow, flow health.
- ``GET /po-sync/records/{id}`` one record's whole story: every attempt and action, deep links.
- ``POST /po-sync/actions`` retry / resolve / ignore one record or a selection (form, CSRF token).

The same data as JSON for scripts, under ``/po-sync/api/``: ``records``, ``records/{id}``,
``counts``, ``health``, ``summary``, and ``POST records/actions``. Everything needs a logged-in user
(the UI's cookie or a ``Bearer`` token from ``POST /auth/token``); actions need permission to edit
the flow's DAG (see :mod:`po_sync.ui.access`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Body, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from po_sync.exceptions import LedgerError
from po_sync.ledger.actions import RecordAction, apply_action, record_history, set_triggered_run
from po_sync.ledger.health import DEFAULT_WINDOW, flow_health
from po_sync.ledger.hook import LedgerHook
from po_sync.ledger.queue import (
    OPEN_STATUSES,
    SORTABLE,
    QueueFilter,
    filter_choices,
    get_record,
    queue_page,
    status_counts_by_flow,
)
from po_sync.ledger.reports import flow_summary, recent_runs, records_needing_attention
from po_sync.ledger.store import Ledger
from po_sync.ui import access, airflow_state, files, links
from po_sync.ui.headers import add_security_headers

#: the logged-in Airflow user (the UI's cookie or a Bearer token)
UserDep = Annotated[Any, Depends(get_user)]

STATUS_ORDER = ("synced", "ignored", "failed", "quarantined", "in_progress", "pending", "resolved")
#: the most records one action may name
MAX_SELECTION = 500


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


_env = Environment(
    loader=PackageLoader("po_sync.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_env.filters["when"] = _when


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


_ledgers: dict[str, Ledger] = {}


def _ledger() -> Ledger:
    """The ledger of the ``po_sync_db`` connection; its schema is checked once per process and URL."""
    url = LedgerHook().get_url()
    key = url.render_as_string(hide_password=False)
    if key not in _ledgers:
        from po_sync.ledger.engine import get_engine

        _ledgers[key] = Ledger(get_engine(url))
    return _ledgers[key]


def ledger_snapshot(flow: str | None = None) -> dict[str, Any]:
    """The original summary: per-flow counts, records needing attention, recent task runs."""
    ledger = _ledger()
    return {
        "flows": flow_summary(ledger),
        "problems": records_needing_attention(ledger, flow=flow),
        "runs": recent_runs(ledger, flow=flow),
    }


def _parse_day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail=f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class QueueParams:
    """The queue's query string, shared by the page and the JSON API."""

    def __init__(
        self,
        flow: Annotated[str | None, Query(max_length=100)] = None,
        status: Annotated[list[str] | None, Query(max_length=20)] = None,
        error_code: Annotated[str | None, Query(max_length=80)] = None,
        entity_type: Annotated[str | None, Query(max_length=60)] = None,
        since: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD[THH:MM]")] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
        q: Annotated[
            str | None, Query(max_length=200, description="part of source id, PO number, file")
        ] = None,
        run_id: Annotated[str | None, Query(max_length=250)] = None,
        sort: Annotated[str, Query(max_length=20)] = "updated_at",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 50,
        tab: Annotated[str, Query(pattern="^(open|all)$")] = "open",
    ) -> None:
        statuses = [s for raw in (status or []) for s in raw.split(",") if s]
        unknown = [s for s in statuses if s not in STATUS_ORDER]
        if unknown:
            raise HTTPException(
                status_code=422, detail=f"status: unknown {unknown}; one of {list(STATUS_ORDER)}"
            )
        if sort not in SORTABLE:
            raise HTTPException(status_code=422, detail=f"sort: one of {sorted(SORTABLE)}")
        if not statuses and tab == "open":
            statuses = list(OPEN_STATUSES)
        self.tab = tab
        self.filter = QueueFilter(
            flow=flow or None,
            statuses=statuses,
            error_code=error_code or None,
            entity_type=entity_type or None,
            since=_parse_day(since, "since"),
            until=_parse_day(until, "until"),
            text=(q or "").strip() or None,
            run_id=run_id or None,
            sort=sort,
            descending=order == "desc",
            page=page,
            page_size=page_size,
        )
        self.raw = {
            k: v
            for k, v in {
                "flow": flow,
                "status": ",".join(status or []) or None,
                "error_code": error_code,
                "entity_type": entity_type,
                "since": since,
                "until": until,
                "q": q,
                "run_id": run_id,
                "sort": sort if sort != "updated_at" else None,
                "order": order if order != "desc" else None,
                "page_size": page_size if page_size != 50 else None,
                "tab": tab if tab != "open" else None,
            }.items()
            if v
        }

    def url(self, **changes: Any) -> str:
        params = {**self.raw, **{k: v for k, v in changes.items()}}
        return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


class ActionRequest(BaseModel):
    """``POST /po-sync/api/records/actions``."""

    action: RecordAction
    record_ids: list[int] = Field(min_length=1, max_length=MAX_SELECTION)
    note: str | None = Field(default=None, max_length=2000)
    trigger: bool = Field(default=False, description="retry: also trigger the flow's DAG now")


def _airflow_base(request: Request) -> str:
    """Airflow's UI root: ``[api] base_url``, else this request's origin (the app is mounted under it)."""
    root = request.scope.get("root_path", "")
    here = str(request.base_url).rstrip("/")
    if root and here.endswith(root.rstrip("/")):
        here = here[: -len(root.rstrip("/"))]
    return airflow_state.api_base(here)


def _record_links(base: str, record: dict[str, Any], account_id: str | None) -> dict[str, str | None]:
    return {
        "dag_run": links.dag_run_url(base, record.get("dag_id"), record.get("run_id")),
        "task_log": links.task_log_url(
            base,
            record.get("dag_id"),
            record.get("run_id"),
            record.get("task_id"),
            record.get("last_map_index"),
        ),
        "netsuite": links.netsuite_record_url(account_id, record),
    }


#: ``?health_days=N``: how many days of run-level failures flow health groups (default 7)
HealthDays = Annotated[
    int,
    Query(ge=1, le=90, description="days of run-level failures flow health groups (after the last success)"),
]


def _health(
    ledger: Ledger,
    counts: dict[str, dict[str, int]] | None = None,
    window: timedelta = DEFAULT_WINDOW,
) -> list[dict[str, Any]]:
    """Flow health of every flow the ledger knows and every DAG tagged ``po-sync`` in Airflow
    (a flow that fails before touching the ledger still shows); failures of the last ``window``
    after each flow's last success."""
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_notice, sync_run

    flows = set(counts if counts is not None else status_counts_by_flow(ledger))
    with ledger.engine.connect() as conn:
        flows |= {f for (f,) in conn.execute(sa.select(sync_run.c.flow).distinct())}
        flows |= {f for (f,) in conn.execute(sa.select(sync_notice.c.flow).distinct())}
    flows |= set(airflow_state.po_sync_dag_ids())
    ordered = sorted(flows)
    return flow_health(
        ledger,
        dag_runs=airflow_state.recent_dag_runs(ordered),
        missing_pools=airflow_state.missing_pools(ordered),
        flows=ordered,
        window=window,
    )


def run_action(request: Request, user: Any, body: ActionRequest, ledger: Ledger) -> dict[str, Any]:
    """Check permission on every flow touched, apply the action, trigger the retry run if asked."""
    from po_sync.ledger.queue import get_record as fetch

    records = [r for r in (fetch(ledger, i) for i in body.record_ids) if r is not None]
    if not records:
        raise HTTPException(status_code=404, detail="none of the records exists")
    dag_ids = {r["dag_id"] or r["flow"] for r in records}
    access.require_edit(user, dag_ids)
    actor = access.user_name(user)
    try:
        result = apply_action(ledger, body.action, body.record_ids, actor=actor, note=body.note)
    except LedgerError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    answer = result.as_dict()
    answer["triggered"] = []
    if body.action is RecordAction.RETRY and body.trigger and result.done:
        base = _airflow_base(request)
        token = access.caller_token(request)
        done_ids = {d["id"] for d in result.done}
        by_dag: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record["id"] in done_ids:
                by_dag.setdefault(record["dag_id"] or record["flow"], []).append(record)
        for dag_id, recs in sorted(by_dag.items()):
            conf = airflow_state.retry_conf(airflow_state.dag_params(base, token, dag_id), recs, actor)
            try:
                run_id = airflow_state.trigger_dag_run(base, token, dag_id, conf)
            except RuntimeError as exc:
                answer.setdefault("errors", []).append(str(exc))
                continue
            set_triggered_run(ledger, [r["id"] for r in recs], run_id)
            answer["triggered"].append({"dag_id": dag_id, "dag_run_id": run_id, "conf": conf})
    return answer


def create_app(auth_dependency: Any = None, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """Build the app; ``auth_dependency`` defaults to Airflow's ``requires_authenticated()``.

    :param routers: more pages under the same prefix and login, given by the plugin (a partner's pages,
        e.g. the X-Series authorize page: the core never imports a partner).
    """
    if auth_dependency is None:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        auth_dependency = requires_authenticated()
    # No /docs, /redoc or /openapi.json: FastAPI serves them outside the app's auth dependency, so
    # they would describe the API to anyone; the JSON API is documented in the README instead.
    app = FastAPI(
        title="po-sync ledger",
        dependencies=[Depends(auth_dependency)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    add_security_headers(app)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(HTTPException)
    async def refusal(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path
        if wants_html:
            page = _env.get_template("message.html").render(status=exc.status_code, detail=exc.detail)
            return HTMLResponse(page, status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    # ---------------------------------------------------------------- pages

    @app.get("/", response_class=HTMLResponse)
    def queue(
        request: Request,
        params: Annotated[QueueParams, Depends()],
        user: UserDep,
        health_days: HealthDays = DEFAULT_WINDOW.days,
    ) -> str:
        ledger = _ledger()
        page = queue_page(ledger, params.filter)
        counts = status_counts_by_flow(ledger)
        base = _airflow_base(request)
        return _env.get_template("queue.html").render(
            params=params,
            f=params.filter,
            page=page,
            counts=counts,
            health=_health(ledger, counts, timedelta(days=health_days)),
            health_days=health_days,
            choices=filter_choices(ledger, params.filter.flow),
            statuses=STATUS_ORDER,
            sortable=sorted(SORTABLE),
            csrf=access.csrf_token(user),
            message=request.query_params.get("msg"),
            airflow=base,
            root=request.scope.get("root_path", ""),
        )

    @app.get("/records/{record_id}", response_class=HTMLResponse)
    def record_page(request: Request, record_id: int, user: UserDep) -> str:
        ledger = _ledger()
        record = get_record(ledger, record_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no ledger record {record_id}")
        base = _airflow_base(request)
        history = record_history(ledger, record_id)
        for event in history:
            event["links"] = {
                "dag_run": links.dag_run_url(base, event.get("dag_id"), event.get("run_id")),
                "task_log": links.task_log_url(
                    base,
                    event.get("dag_id"),
                    event.get("run_id"),
                    event.get("task_id"),
                    event.get("map_index"),
                ),
            }
        return _env.get_template("record.html").render(
            r=record,
            history=history,
            links=_record_links(base, record, links.netsuite_account_id()),
            files=files.record_files(record),
            csrf=access.csrf_token(user),
            message=request.query_params.get("msg"),
            root=request.scope.get("root_path", ""),
        )

    @app.get("/records/{record_id}/file")
    def record_file(record_id: int, loc: Annotated[str, Query(max_length=1200)]) -> Response:
        """One of the record's inbound / quarantine files, streamed through this app (same login as
        the page); only a location the record's flow names, under that flow's folders."""
        record = get_record(_ledger(), record_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no ledger record {record_id}")
        ref = files.allowed(record, loc)
        if ref is None:
            raise HTTPException(status_code=404, detail="not a file of this record")
        chunks = files.stream(ref)
        try:
            first = next(chunks, b"")
        except FileNotFoundError:
            raise HTTPException(status_code=404, detail=f"{ref.name} is no longer there") from None

        def body() -> Any:
            yield first
            yield from chunks

        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in ref.name) or "file"
        return StreamingResponse(
            body(),
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{safe}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.post("/actions")
    def form_action(
        request: Request,
        user: UserDep,
        action: Annotated[str, Form(max_length=20)],
        record_ids: Annotated[list[int], Form()],
        csrf_token: Annotated[str | None, Form(max_length=200)] = None,
        note: Annotated[str | None, Form(max_length=2000)] = None,
        trigger: Annotated[str | None, Form(max_length=10)] = None,
        back: Annotated[str | None, Form(max_length=2000)] = None,
    ) -> Response:
        access.check_csrf(request, user, csrf_token)
        try:
            body = ActionRequest(
                action=RecordAction(action), record_ids=record_ids, note=note, trigger=bool(trigger)
            )
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=f"bad action request: {exc}") from None
        answer = run_action(request, user, body, _ledger())
        message = f"{body.action.value}: {len(answer['done'])} record(s) done"
        if answer["refused"]:
            message += "; refused: " + "; ".join(
                f"{r.get('record', r['id'])}: {r['reason']}" for r in answer["refused"]
            )
        for t in answer["triggered"]:
            message += f"; triggered {t['dag_id']} run {t['dag_run_id']}"
        for e in answer.get("errors", []):
            message += f"; {e}"
        root = request.scope.get("root_path", "")
        target = back if back and back.startswith(f"{root}/") and "//" not in back else f"{root}/"
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}{urlencode({'msg': message})}", status_code=303)

    # ---------------------------------------------------------------- JSON API

    @app.get("/api/records")
    def api_records(params: Annotated[QueueParams, Depends()]) -> dict[str, Any]:
        page = queue_page(_ledger(), params.filter)
        return {
            "total": page.total,
            "page": page.page,
            "page_size": page.page_size,
            "pages": page.pages,
            "records": _jsonable(page.rows),
        }

    @app.get("/api/records/{record_id}")
    def api_record(request: Request, record_id: int) -> dict[str, Any]:
        ledger = _ledger()
        record = get_record(ledger, record_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no ledger record {record_id}")
        base = _airflow_base(request)
        return _jsonable(
            {
                "record": record,
                "files": files.record_files(record),
                "links": _record_links(base, record, links.netsuite_account_id()),
                "history": record_history(ledger, record_id),
            }
        )

    @app.post("/api/records/actions")
    def api_action(
        request: Request,
        user: UserDep,
        body: Annotated[ActionRequest, Body()],
    ) -> dict[str, Any]:
        access.check_csrf(request, user, request.headers.get("x-csrf-token"))
        return run_action(request, user, body, _ledger())

    @app.get("/api/counts")
    def api_counts() -> dict[str, Any]:
        return {"flows": status_counts_by_flow(_ledger())}

    @app.get("/api/health")
    def api_health(health_days: HealthDays = DEFAULT_WINDOW.days) -> dict[str, Any]:
        window = timedelta(days=health_days)
        return {"window_days": health_days, "flows": _jsonable(_health(_ledger(), window=window))}

    @app.get("/api/summary")
    def summary(flow: str | None = Query(default=None, max_length=100)) -> dict[str, Any]:
        snapshot = ledger_snapshot(flow)
        return {key: _jsonable(rows) for key, rows in snapshot.items()}

    return app
