"""ServiceNowHook: a typed client of ServiceNow's Table API and Batch API.

Why a thin ``requests`` session and not ServiceNow's own ``pysnc``: pysnc always asks for
``sysparm_display_value=all`` (twice the payload, every value an object), retries with urllib3's
fixed backoff without reading ``Retry-After``, sends writes one HTTP call each (its Batch API use is
limited to ``update_multiple`` / ``delete_multiple`` of one GlideRecord), and builds its requests with
``verify=None`` so ``REQUESTS_CA_BUNDLE`` silently overrides a configured CA. This flow needs paged
reads of a few fields, mixed batches of PATCHes and POSTs across four tables, ``Retry-After`` honoured
within a time budget, and an explicit CA; that is one small module on ``requests`` and ``tenacity``
(both already pinned), with no new dependency.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import requests
from airflow.sdk import BaseHook
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from po_sync.exceptions import (
    AuthenticationError,
    ExternalSystemError,
    FatalError,
    RateLimitedError,
    RetriableError,
)
from po_sync.servicenow.settings import SERVICENOW_CONNECTION, ServiceNowSettings
from po_sync.validation import url_segment

log = logging.getLogger(__name__)
SYSTEM = "servicenow"
TABLE_PATH = "/api/now/table"
BATCH_PATH = "/api/now/v1/batch"
TOKEN_PATH = "/oauth_token.do"
#: refresh an OAuth token this long before it expires
TOKEN_MARGIN_SECONDS = 60


class ServiceNowNotFoundError(FatalError):
    """404 No Record found."""


@dataclass(frozen=True)
class Record:
    """One row as the Table API returned it: every value a string (reference fields their sys_id).

    :param table: the table name.
    :param values: field -> value (dot-walked fields keep their dotted name).
    """

    table: str
    values: dict[str, str]

    @property
    def sys_id(self) -> str:
        return self.values.get("sys_id", "")

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default) or default

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True)
class BatchOp:
    """One request of a Batch API call.

    :param method: ``POST``, ``PATCH``, ``PUT``, ``DELETE`` or ``GET``.
    :param table: the table.
    :param sys_id: the record (None for POST / list).
    :param body: the JSON body (writes).
    :param params: query parameters (e.g. ``sysparm_fields``).
    """

    method: str
    table: str
    sys_id: str | None = None
    body: Mapping[str, Any] | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def url(self) -> str:
        path = f"{TABLE_PATH}/{url_segment(self.table, what='table')}" + (
            f"/{url_segment(self.sys_id, what='sys_id')}" if self.sys_id else ""
        )
        return path + (f"?{urlencode(dict(self.params))}" if self.params else "")


@dataclass(frozen=True)
class BatchResult:
    """The answer to one :class:`BatchOp`: status, and the record or the error message."""

    op: BatchOp
    status: int
    record: Record | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class ImportResult:
    """What the Import Set API did with one row.

    :param import_set: the import set (``ISET...`` / sys_id).
    :param table: the target table of the transform.
    :param status: ``inserted``, ``updated``, ``ignored`` or ``error``.
    :param sys_id: the target record.
    :param message: the transform's error or status message.
    """

    import_set: str
    table: str
    status: str
    sys_id: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("inserted", "updated", "ignored")


def _clean_values(table: str, raw: Mapping[str, Any]) -> dict[str, str]:
    """Reference fields come as ``{"link", "value"}`` unless links are excluded: keep the value."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            value = value.get("value", value.get("display_value", ""))
        out[key] = "" if value is None else str(value)
    return out


def error_from_response(response: requests.Response, path: str) -> ExternalSystemError:
    """ServiceNow's error body (``{"error": {"message", "detail"}, "status": "failure"}``) as our error."""
    message = detail = None
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message, detail = error.get("message"), error.get("detail")
        elif isinstance(body, dict) and "error_description" in body:  # the OAuth endpoint's shape
            message, detail = body.get("error"), body.get("error_description")
    except ValueError:
        pass
    status = response.status_code
    text = f"ServiceNow {status}: {message or response.reason}" + (f" ({detail})" if detail else "")
    kwargs: dict[str, Any] = {
        "system": SYSTEM,
        "status": status,
        "code": str(message) if message else f"HTTP_{status}",
        "detail": str(detail) if detail else None,
        "path": path,
    }
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return RateLimitedError(text, retry_after=seconds, **kwargs)
    if status >= 500:
        return RetriableError(text, **kwargs)
    if status == 401:
        return AuthenticationError(text, **kwargs)
    if status == 404:
        return ServiceNowNotFoundError(text, **kwargs)
    return FatalError(text, **kwargs)


class _Token:
    """An OAuth access token from ``/oauth_token.do`` (password grant), refreshed before it expires."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access: str | None = None
        self.refresh: str | None = None
        self.expires_at = 0.0
        self.fetched = 0

    def valid(self) -> bool:
        return self.access is not None and time.monotonic() < self.expires_at - TOKEN_MARGIN_SECONDS


class ServiceNowHook(BaseHook):
    """Talks to one ServiceNow instance through the Table API and the Batch API.

    Basic or OAuth auth, paging (``sysparm_limit`` / ``sysparm_offset`` with ``X-Total-Count``),
    retries (429 with ``Retry-After``, 5xx, timeouts, resets; writes only when idempotent) and
    ServiceNow's error body mapped to po_sync's exceptions live here; callers get :class:`Record` values.

    :param servicenow_conn_id: the Airflow connection (type ``servicenow``).
    """

    conn_name_attr = "servicenow_conn_id"
    default_conn_name = "servicenow_default"
    conn_type = "servicenow"
    hook_name = SERVICENOW_CONNECTION["hook-name"]

    def __init__(self, servicenow_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.servicenow_conn_id = servicenow_conn_id
        self._settings: ServiceNowSettings | None = None
        self._session: requests.Session | None = None
        self._token = _Token()
        self._batch_ids = itertools.count(1)
        self.calls = 0
        self.retries = 0

    # -- connection -------------------------------------------------------------------------------

    def settings(self) -> ServiceNowSettings:
        """Read and validate the connection (once)."""
        if self._settings is None:
            conn = self.get_connection(self.servicenow_conn_id)
            self._settings = ServiceNowSettings.from_connection(
                host=conn.host, login=conn.login, password=conn.password, extra=conn.extra_dejson
            )
        return self._settings

    def get_conn(self) -> requests.Session:
        """The HTTP session (keep-alive), created once."""
        if self._session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "User-Agent": "po-sync"})
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> ServiceNowHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Log in and read one staging header: the UI's Test button."""
        try:
            list(self.query("sn_spend_intg_outbound_purchase_order", fields=["sys_id"], limit=1, max_rows=1))
            return True, f"Connected to {self.settings().instance_url}"
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, str(exc)

    # -- sending ----------------------------------------------------------------------------------

    def _verify(self) -> str | bool:
        return self.settings().ca_bundle or True

    def _auth_header(self) -> dict[str, str]:
        settings = self.settings()
        if settings.auth_type == "basic":
            raw = f"{settings.username}:{settings.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        with self._token.lock:
            if not self._token.valid():
                self._fetch_token()
            return {"Authorization": f"Bearer {self._token.access}"}

    def _fetch_token(self) -> None:
        """Password grant, or refresh_token grant when a refresh token is held (form-encoded, as required)."""
        settings = self.settings()
        form = {"client_id": settings.client_id or "", "client_secret": settings.client_secret or ""}
        if self._token.refresh:
            form.update(grant_type="refresh_token", refresh_token=self._token.refresh)
        else:
            form.update(grant_type="password", username=settings.username, password=settings.password)
        try:
            response = self.get_conn().post(
                settings.instance_url + TOKEN_PATH, data=form, timeout=settings.timeout, verify=self._verify()
            )
        except requests.RequestException as exc:
            raise RetriableError(
                f"ServiceNow token endpoint unreachable: {type(exc).__name__}", system=SYSTEM, path=TOKEN_PATH
            ) from None
        if response.status_code == 401 and self._token.refresh:
            self._token.refresh = None  # the refresh token expired: log in again
            self._fetch_token()
            return
        if response.status_code != 200:
            raise error_from_response(response, TOKEN_PATH)
        body = response.json()
        self._token.access = body["access_token"]
        self._token.refresh = body.get("refresh_token") or self._token.refresh
        self._token.expires_at = time.monotonic() + float(body.get("expires_in") or 1800)
        self._token.fetched += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request with auth, error mapping and retries.

        :param path: e.g. ``/api/now/table/<table>``.
        :param idempotent: retry on retriable failures (a POST that creates a record is not).
        """
        settings = self.settings()
        url = settings.instance_url + path
        refreshed = [False]

        def once() -> requests.Response:
            self.calls += 1
            headers = self._auth_header()
            if json_body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = self.get_conn().request(
                    method,
                    url,
                    params=params,
                    data=json.dumps(json_body) if json_body is not None else None,
                    headers=headers,
                    timeout=settings.timeout,
                    verify=self._verify(),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetriableError(
                    f"ServiceNow {method} {path}: {type(exc).__name__}", system=SYSTEM, path=path
                ) from None
            if response.status_code == 401 and settings.auth_type == "oauth" and not refreshed[0]:
                refreshed[0] = True  # the token was revoked or expired early: one fresh token, once
                with self._token.lock:
                    self._token.access = None
                raise RetriableError(
                    "ServiceNow 401 with an OAuth token; fetching a new one", system=SYSTEM, status=401
                )
            if response.status_code >= 400:
                raise error_from_response(response, path)
            return response

        def retriable(exc: BaseException) -> bool:
            if isinstance(exc, RateLimitedError):
                return exc.retry_after is None or exc.retry_after <= settings.max_retry_seconds
            return isinstance(exc, RetriableError) and (idempotent or exc.status in (401, 429))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            ceiling = min(20.0, 0.2 * (2 ** (state.attempt_number - 1)))
            seconds = random.uniform(ceiling / 2, ceiling)
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                seconds = max(seconds, exc.retry_after)
            if isinstance(exc, RetriableError) and exc.status == 401:
                seconds = 0.0
            return seconds

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("ServiceNow %s %s: %s; retry %d", method, path, exc, state.attempt_number)

        retrying = Retrying(
            retry=retry_if_exception(retriable),
            stop=stop_after_attempt(settings.max_attempts) | stop_after_delay(settings.max_retry_seconds),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        response: requests.Response = retrying(once)
        return response

    # -- Table API --------------------------------------------------------------------------------

    @staticmethod
    def _table_path(table: str, sys_id: str | None = None) -> str:
        if not table or "/" in table:
            raise ValueError(f"bad ServiceNow table name {table!r}")
        # table and sys_id through po_sync.validation: one URL segment each, nothing else
        return f"{TABLE_PATH}/{url_segment(table, what='table')}" + (
            f"/{url_segment(sys_id, what='sys_id')}" if sys_id else ""
        )

    def query_page(
        self, table: str, *, query: str = "", fields: Sequence[str] | None = None, limit: int, offset: int
    ) -> tuple[list[Record], int]:
        """One page of ``GET /api/now/table/<table>``: the records and ``X-Total-Count``."""
        params: dict[str, Any] = {
            "sysparm_query": query,
            "sysparm_limit": limit,
            "sysparm_offset": offset,
            "sysparm_exclude_reference_link": "true",
            "sysparm_suppress_pagination_header": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(["sys_id", *[f for f in fields if f != "sys_id"]])
        response = self.request("GET", self._table_path(table), params=params)
        rows = response.json().get("result") or []
        total = int(response.headers.get("X-Total-Count", len(rows) + offset))
        return [Record(table, _clean_values(table, row)) for row in rows], total

    def query(
        self,
        table: str,
        query: str = "",
        *,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        max_rows: int | None = None,
    ) -> Iterator[Record]:
        """Every record matching an encoded query, page by page (``ORDERBYsys_id`` is appended unless
        the query orders itself, so pages are stable).

        :param query: an encoded query, e.g. ``integration_statusIN10,20^purchase_order.order_type=standard``.
        :param fields: only these fields (``sys_id`` is always read); dot-walked names allowed.
        :param limit: rows per page (default: the connection's ``page_size``).
        :param max_rows: stop after this many rows.
        """
        page_size = limit or self.settings().page_size
        if "ORDERBY" not in query:
            query = f"{query}^ORDERBYsys_id" if query else "ORDERBYsys_id"
        offset = 0
        seen = 0
        while True:
            want = page_size if max_rows is None else min(page_size, max_rows - seen)
            if want <= 0:
                return
            rows, total = self.query_page(table, query=query, fields=fields, limit=want, offset=offset)
            yield from rows
            seen += len(rows)
            offset += len(rows)
            if not rows or offset >= total:
                return

    def get(self, table: str, sys_id: str, *, fields: Sequence[str] | None = None) -> Record | None:
        """One record, or None when it does not exist."""
        params: dict[str, Any] = {"sysparm_exclude_reference_link": "true"}
        if fields:
            params["sysparm_fields"] = ",".join(["sys_id", *fields])
        try:
            response = self.request("GET", self._table_path(table, sys_id), params=params)
        except ServiceNowNotFoundError:
            return None
        return Record(table, _clean_values(table, response.json()["result"]))

    def insert(self, table: str, values: Mapping[str, Any]) -> Record:
        """``POST``: 201 and the new record. Not retried (a retry could insert twice)."""
        response = self.request("POST", self._table_path(table), json_body=dict(values), idempotent=False)
        if response.status_code != 201:
            raise FatalError(
                f"ServiceNow POST {table} answered {response.status_code}, not 201", system=SYSTEM
            )
        return Record(table, _clean_values(table, response.json()["result"]))

    def update(self, table: str, sys_id: str, values: Mapping[str, Any]) -> Record:
        """``PATCH`` the given fields (idempotent: setting the same values twice is harmless)."""
        response = self.request("PATCH", self._table_path(table, sys_id), json_body=dict(values))
        return Record(table, _clean_values(table, response.json()["result"]))

    def delete(self, table: str, sys_id: str) -> None:
        """``DELETE``: 204; a record already gone counts as deleted."""
        try:
            self.request("DELETE", self._table_path(table, sys_id))
        except ServiceNowNotFoundError:
            return

    # -- Import Set API ---------------------------------------------------------------------------

    def import_row(self, staging_table: str, values: Mapping[str, Any]) -> ImportResult:
        """``POST /api/now/import/<staging_table>``: one row, transformed synchronously by the table's
        transform map. Values are sent as strings (the API coerces everything to strings). Not retried:
        a repeated row may be transformed twice unless the map coalesces.

        :returns: the transform's outcome (``inserted``, ``updated``, ``ignored`` or ``error``).
        """
        body = {k: "" if v is None else str(v) for k, v in values.items()}
        path = f"/api/now/import/{self._table_path(staging_table).rsplit('/', 1)[-1]}"
        answer = self.request("POST", path, json_body=body, idempotent=False).json()
        first = (answer.get("result") or [{}])[0]
        return ImportResult(
            import_set=str(answer.get("import_set") or ""),
            table=str(first.get("table") or ""),
            status=str(first.get("status") or ""),
            sys_id=str(first.get("sys_id") or ""),
            message=str(first.get("error_message") or first.get("status_message") or ""),
        )

    def import_multiple(self, staging_table: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """``POST /api/now/import/<staging_table>/insertMultiple`` (``{"records": [...]}``): asynchronous by
        default on an instance; returns ``import_set_id`` and ``multi_import_set_id`` to follow it."""
        body = {"records": [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]}
        path = f"/api/now/import/{self._table_path(staging_table).rsplit('/', 1)[-1]}/insertMultiple"
        answer = self.request("POST", path, json_body=body, idempotent=False).json()
        return {k: str(v) for k, v in answer.items()}

    # -- Batch API --------------------------------------------------------------------------------

    def batch(self, ops: Sequence[BatchOp]) -> list[BatchResult]:
        """Run many table requests through ``POST /api/now/v1/batch``, ``batch_size`` per call, results in
        input order. Unserviced requests are sent again (twice at most), as pysnc does.

        The call itself is retried on retriable failures only when every op in it is idempotent
        (no POST); per-op errors come back as :class:`BatchResult` with the op's status.
        """
        size = self.settings().batch_size
        results: list[BatchResult] = []
        for start in range(0, len(ops), size):
            results.extend(self._batch_chunk(list(ops[start : start + size])))
        return results

    def _batch_chunk(self, ops: list[BatchOp]) -> list[BatchResult]:
        pending = {str(i): op for i, op in enumerate(ops)}
        done: dict[str, BatchResult] = {}
        idempotent = all(op.method != "POST" for op in ops)
        for _ in range(3):
            if not pending:
                break
            body = {
                "batch_request_id": str(next(self._batch_ids)),
                "rest_requests": [
                    {
                        "id": rid,
                        "method": op.method,
                        "url": op.url(),
                        "headers": [
                            {"name": "Content-Type", "value": "application/json"},
                            {"name": "Accept", "value": "application/json"},
                        ],
                        **(
                            {"body": base64.b64encode(json.dumps(dict(op.body)).encode()).decode()}
                            if op.body is not None
                            else {}
                        ),
                    }
                    for rid, op in pending.items()
                ],
            }
            answer = self.request("POST", BATCH_PATH, json_body=body, idempotent=idempotent).json()
            for served in answer.get("serviced_requests") or []:
                rid = str(served.get("id"))
                op = pending.pop(rid, None)
                if op is None:
                    continue
                done[rid] = self._batch_result(op, served)
        for rid, op in pending.items():
            done[rid] = BatchResult(op, 503, error="not serviced by the Batch API after 3 tries")
        return [done[str(i)] for i in range(len(ops))]

    @staticmethod
    def _batch_result(op: BatchOp, served: Mapping[str, Any]) -> BatchResult:
        status = int(served.get("status_code") or 0)
        raw = served.get("body") or ""
        data: Any = None
        if raw:
            try:
                data = json.loads(base64.b64decode(raw))
            except ValueError:
                data = None
        if 200 <= status < 300:
            result = data.get("result") if isinstance(data, dict) else None
            record = Record(op.table, _clean_values(op.table, result)) if isinstance(result, dict) else None
            return BatchResult(op, status, record=record)
        message = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error = data["error"]
            message = f"{error.get('message')}" + (f" ({error['detail']})" if error.get("detail") else "")
        return BatchResult(op, status, error=message or f"HTTP {status}")

    def batch_checked(self, ops: Sequence[BatchOp]) -> list[BatchResult]:
        """Like :meth:`batch`, raising when any op failed: a retriable error for 429/5xx ops, else fatal."""
        results = self.batch(ops)
        failed = [r for r in results if not r.ok]
        if failed:
            first = failed[0]
            cls = RetriableError if first.status == 429 or first.status >= 500 else FatalError
            raise cls(
                f"ServiceNow batch: {len(failed)} of {len(results)} request(s) failed; first: "
                f"{first.op.method} {first.op.table}/{first.op.sys_id or ''} -> {first.status} {first.error}",
                system=SYSTEM,
                status=first.status,
                path=BATCH_PATH,
            )
        return results

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent, retries and OAuth tokens fetched by this hook."""
        return {"calls": self.calls, "retries": self.retries, "tokens": self._token.fetched}
