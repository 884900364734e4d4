"""NetSuiteHook: the typed SuiteTalk REST + SuiteQL API po_sync's operators use."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson
from airflow.sdk import BaseHook
from pydantic import BaseModel

from po_sync.exceptions import ConfigurationError, ExternalSystemError
from po_sync.netsuite.asyncjob import await_job_result, is_job_url
from po_sync.netsuite.connection import NETSUITE_CONNECTION, NetSuiteSettings
from po_sync.netsuite.errors import NetSuiteIdempotencyError, NetSuiteNotFoundError
from po_sync.netsuite.models import (
    GovernanceLimits,
    ListPage,
    NetSuiteRecord,
    RecordRef,
    SuiteQLRow,
    WriteResult,
)
from po_sync.netsuite.paging import (
    MAX_PAGE_SIZE,
    SUITEQL_ROW_CAP,
    SuiteQLPage,
    iter_pages,
    map_in_order,
    require_order_by,
)
from po_sync.netsuite.shared_limit import SHARED_LIMIT_LEDGER, SharedSlots, account_key, shared_slots
from po_sync.netsuite.transport import NetSuiteTransport, RetryPolicy
from po_sync.validation import record_id as record_id_segment

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")

IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"
AFTER_PLACEHOLDER = "{after}"


class NetSuiteHook(BaseHook):
    """Talks to one NetSuite account through SuiteTalk REST web services and SuiteQL.

    Auth (TBA or OAuth 2.0 M2M), the concurrency limit (from ``governanceLimits`` or the connection),
    retries with backoff and jitter, and error mapping are handled here; callers get typed values.

    :param netsuite_conn_id: the Airflow connection (type ``netsuite``).
    :param retry_policy: how often to retry retriable failures.
    :param suiteql_row_cap: the most rows one SuiteQL query serves (NetSuite: 100,000).
    """

    conn_name_attr = "netsuite_conn_id"
    default_conn_name = "netsuite_default"
    conn_type = "netsuite"
    hook_name = NETSUITE_CONNECTION["hook-name"]

    def __init__(
        self,
        netsuite_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        suiteql_row_cap: int = SUITEQL_ROW_CAP,
    ) -> None:
        super().__init__()
        self.netsuite_conn_id = netsuite_conn_id
        self.retry_policy = retry_policy
        self.suiteql_row_cap = suiteql_row_cap
        self._transport: NetSuiteTransport | None = None

    # -- connection -------------------------------------------------------------------------------

    def settings(self) -> NetSuiteSettings:
        """Read and validate the connection."""
        conn = self.get_connection(self.netsuite_conn_id)
        return NetSuiteSettings.from_connection(
            host=conn.host, login=conn.login, password=conn.password, extra=conn.extra_dejson
        )

    def get_conn(self) -> NetSuiteTransport:
        """The transport (session, auth, limiter), created once; sizes the limiter on first use."""
        if self._transport is None:
            settings = self.settings()
            transport = NetSuiteTransport(settings, self.retry_policy)
            self._transport = transport
            if settings.concurrency is None:
                try:
                    transport.limiter.resize(self.governance_limits().effective_limit)
                except ExternalSystemError as exc:
                    log.warning(
                        "governanceLimits not readable (%s); keeping concurrency %s",
                        exc,
                        transport.limiter.limit,
                    )
            if settings.shared_limit == SHARED_LIMIT_LEDGER:
                transport.shared = self._shared_slots(settings, transport.limiter.ceiling)
        return self._transport

    @staticmethod
    def _shared_slots(settings: NetSuiteSettings, limit: int) -> SharedSlots:
        """The account's slots on the ledger's database: one limit for every task and worker."""
        from po_sync.ledger.hook import LedgerHook

        key = account_key(settings.account.realm, settings.account.base_url)
        return shared_slots(LedgerHook().get_url(), key, limit)

    @property
    def account_zone(self) -> ZoneInfo:
        """The account's time zone (connection field ``account_timezone``), in which SuiteQL datetimes are.

        :raises ConfigurationError: the connection does not name it.
        """
        return self.settings().account_zone

    @property
    def concurrency(self) -> int:
        """The configured concurrency ceiling (use it as the Airflow pool's slots)."""
        return self.get_conn().limiter.ceiling

    def set_concurrency(self, limit: int) -> None:
        """Change the concurrency limit at runtime.

        :param limit: requests in flight at once.
        """
        transport = self.get_conn()
        transport.limiter.resize(limit)
        if transport.shared is not None:
            transport.shared.resize(limit)

    def close(self) -> None:
        """Close pooled connections."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> NetSuiteHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Log in and list one vendor, and check ``account_timezone`` when set: the UI's Test button."""
        try:
            transport = self.get_conn()
            transport.request("GET", "/record/v1/vendor", params={"limit": 1}, idempotent=True)
            if self.settings().account_timezone:
                self.check_account_timezone()
            return True, f"Connected to NetSuite account {transport.account.realm}"
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, str(exc)

    def check_account_timezone(self) -> None:
        """Compare ``account_timezone`` with what the account shows: one vendor's ``lastModifiedDate``
        from the record service (UTC, ``...Z``) and from SuiteQL (the account's wall clock).

        :raises ConfigurationError: the configured zone's offset at that instant is not the account's.
        """
        zone = self.account_zone
        page = self.suiteql_page(
            "SELECT v.id, TO_CHAR(v.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmod FROM vendor v "
            "WHERE v.lastmodifieddate IS NOT NULL ORDER BY v.id",
            limit=1,
        )
        if not page.items:
            return  # nothing to compare with
        row = page.items[0]
        stamp = self.get_record("vendor", str(row["id"]), expand_sub_resources=False).fields.get(
            "lastModifiedDate"
        )
        if not stamp or not row.get("lastmod"):
            return
        instant = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).astimezone(UTC)
        shown = datetime.strptime(str(row["lastmod"]), "%Y-%m-%d %H:%M:%S")
        observed = shown - instant.replace(tzinfo=None)
        expected = instant.astimezone(zone).utcoffset()
        if observed != expected:
            raise ConfigurationError(
                f"NetSuite connection account_timezone {zone.key} is UTC{_offset(expected)} at {instant:%Y-%m-%d %H:%M}Z, "
                f"but the account shows SuiteQL datetimes at UTC{_offset(observed)} (vendor {row['id']} "
                "lastModifiedDate); set account_timezone to the account's time zone"
            )

    # -- governance -------------------------------------------------------------------------------

    def governance_limits(self) -> GovernanceLimits:
        """``GET /system/v1/governanceLimits`` (administrator roles only)."""
        response = self.get_conn().request("GET", "/system/v1/governanceLimits", idempotent=True)
        return GovernanceLimits.model_validate(response.json())

    # -- SuiteQL ----------------------------------------------------------------------------------

    def suiteql_page(self, query: str, *, offset: int = 0, limit: int = MAX_PAGE_SIZE) -> SuiteQLPage:
        """One SuiteQL page (``POST /query/v1/suiteql?limit=&offset=`` with ``Prefer: transient``).

        :param query: the SuiteQL text.
        :param offset: rows to skip (a multiple of ``limit``).
        :param limit: rows per page, 1–1000.
        """
        response = self.get_conn().request(
            "POST",
            "/query/v1/suiteql",
            params={"limit": limit, "offset": offset},
            json_body={"q": query},
            headers={"Prefer": "transient"},
            idempotent=True,
        )
        body = orjson.loads(response.content)  # pages are large; see requirements.in
        return SuiteQLPage(
            items=body.get("items") or [],
            has_more=bool(body.get("hasMore")),
            offset=int(body.get("offset", offset)),
            total_results=int(body.get("totalResults", 0)),
        )

    def suiteql(
        self, query: str, *, page_size: int = MAX_PAGE_SIZE, parallel: bool = True
    ) -> Iterator[SuiteQLRow]:
        """Stream every row of a SuiteQL query (at most the 100,000-row cap; see :meth:`suiteql_keyset`).

        Pages after the first are fetched concurrently within the limiter and yielded in order.

        :param query: SuiteQL with a unique ORDER BY.
        :param page_size: rows per page (1–1000).
        :param parallel: fetch pages concurrently.
        :raises ConfigurationError: the query has no ORDER BY, or more rows than the cap.
        """
        require_order_by(query)

        def check_cap(first: SuiteQLPage) -> None:
            if first.total_results > self.suiteql_row_cap:
                raise ConfigurationError(
                    f"SuiteQL query has {first.total_results} rows, more than the {self.suiteql_row_cap}-row "
                    "cap; read it with suiteql_keyset"
                )

        for page in self._pages(query, page_size, parallel, check_cap):
            yield from SuiteQLRow.of_page(page.items)

    def suiteql_keyset(
        self,
        query: str,
        *,
        key: str = "id",
        start_after: str | int = 0,
        page_size: int = MAX_PAGE_SIZE,
        parallel: bool = True,
    ) -> Iterator[SuiteQLRow]:
        """Stream a SuiteQL query of any size: keyset chunks of at most the row cap, each read by pages.

        The query holds the placeholder ``{after}`` in a filter on its key and orders by that key, e.g.
        ``SELECT t.id, t.tranid FROM transaction t WHERE t.type = 'PurchOrd' AND t.id > {after} ORDER BY t.id``.

        :param query: SuiteQL with ``{after}`` and ``ORDER BY <key>`` (ascending, unique).
        :param key: the result column holding the key.
        :param start_after: the first chunk's ``{after}`` value.
        :param page_size: rows per page.
        :param parallel: fetch pages concurrently.
        """
        if AFTER_PLACEHOLDER not in query:
            raise ConfigurationError("suiteql_keyset needs the {after} placeholder in the query's key filter")
        require_order_by(query)
        after = str(start_after)
        while True:
            chunk = query.replace(AFTER_PLACEHOLDER, after)
            capped = False
            last_key: str | None = None
            for page in self._pages(chunk, page_size, parallel, None):
                rows = SuiteQLRow.of_page(page.items)
                if rows:
                    last_key = rows[-1].get(key)
                yield from rows
                capped = page.total_results > self.suiteql_row_cap
            if not capped or last_key is None:
                return
            if last_key == after:
                raise ConfigurationError(f"suiteql_keyset made no progress on key {key!r}; is it unique?")
            after = last_key

    def suiteql_models(self, query: str, model: type[M], **kwargs: Any) -> Iterator[M]:
        """Like :meth:`suiteql` but validates each row into ``model``.

        :param model: a pydantic model whose fields are the (lower-case) column names.
        """
        for row in self.suiteql(query, **kwargs):
            yield model.model_validate(row.as_dict())

    def _pages(
        self, query: str, page_size: int, parallel: bool, on_first: Callable[[SuiteQLPage], None] | None
    ) -> Iterator[SuiteQLPage]:
        workers = self.get_conn().limiter.ceiling if parallel else 1
        return iter_pages(
            lambda offset, limit: self.suiteql_page(query, offset=offset, limit=limit),
            page_size=page_size,
            row_cap=self.suiteql_row_cap,
            workers=workers,
            on_first_page=on_first,
        )

    # -- records ----------------------------------------------------------------------------------

    @staticmethod
    def _record_path(record_type: str, record_id: str | int | None = None) -> str:
        if not record_type or "/" in record_type:
            raise ConfigurationError(f"bad NetSuite record type {record_type!r}")
        path = f"/record/v1/{record_type}"
        if record_id is not None:
            # digits or eid:<external id> only (po_sync.validation): no "..", no "/", no query string
            path += "/" + quote(record_id_segment(record_id), safe=":")
        return path

    def get_record(
        self,
        record_type: str,
        record_id: str | int,
        *,
        expand_sub_resources: bool = True,
        fields: Iterable[str] | None = None,
    ) -> NetSuiteRecord:
        """``GET /record/v1/<type>/<id>`` (``id`` may be ``eid:<externalId>``).

        :param record_type: e.g. ``purchaseOrder`` or ``customrecord_vendor_config``.
        :param record_id: internal id or ``eid:<externalId>``.
        :param expand_sub_resources: expand sublists (``item`` lines).
        :param fields: only these body fields / sublists.
        """
        params: dict[str, Any] = {}
        if expand_sub_resources:
            params["expandSubResources"] = "true"
        if fields:
            params["fields"] = ",".join(fields)
        response = self.get_conn().request(
            "GET", self._record_path(record_type, record_id), params=params, idempotent=True
        )
        return NetSuiteRecord.from_api(record_type, response.json())

    def find_record(self, record_type: str, record_id: str | int, **kwargs: Any) -> NetSuiteRecord | None:
        """Like :meth:`get_record` but ``None`` when it does not exist."""
        try:
            return self.get_record(record_type, record_id, **kwargs)
        except NetSuiteNotFoundError:
            return None

    def list_page(
        self, record_type: str, *, q: str | None = None, limit: int = 1000, offset: int = 0
    ) -> ListPage:
        """One page of ``GET /record/v1/<type>?q=&limit=&offset=``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if q:
            params["q"] = q
        body = (
            self.get_conn()
            .request("GET", self._record_path(record_type), params=params, idempotent=True)
            .json()
        )
        return ListPage(
            items=[RecordRef.from_api(item) for item in body.get("items") or []],
            count=int(body.get("count", 0)),
            has_more=bool(body.get("hasMore")),
            offset=int(body.get("offset", offset)),
            total_results=int(body.get("totalResults", 0)),
        )

    def list_records(
        self, record_type: str, *, q: str | None = None, limit: int = 1000
    ) -> Iterator[RecordRef]:
        """Every record id of a type, optionally filtered with ``q`` (e.g. ``lastModifiedDate AFTER "5/1/2026"``).

        :param record_type: the REST record type.
        :param q: a collection filter (body fields only).
        :param limit: page size, at most 1000.
        """
        offset = 0
        while True:
            page = self.list_page(record_type, q=q, limit=limit, offset=offset)
            yield from page.items
            if not page.has_more or not page.items:
                return
            offset = page.offset + page.count

    def create_record(
        self, record_type: str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> WriteResult:
        """``POST /record/v1/<type>``; the new id comes from ``Location``.

        Retried on retriable failures only with an ``idempotency_key`` (sent as
        ``X-NetSuite-Idempotency-Key``); a replay NetSuite recognises returns the earlier record.

        :param record_type: the REST record type.
        :param body: the record's fields and sublists.
        :param idempotency_key: a key unique to this logical write (e.g. from the ledger).
        """
        return self._write("POST", self._record_path(record_type), record_type, body, idempotency_key)

    def update_record(
        self,
        record_type: str,
        record_id: str | int,
        body: Mapping[str, Any],
        *,
        replace: Iterable[str] | None = None,
        idempotent: bool = False,
    ) -> WriteResult:
        """``PATCH /record/v1/<type>/<id>``: keyed sublist lines merge, ``replace`` sublists are replaced.

        :param replace: sublists whose lines are replaced entirely.
        :param idempotent: say so when repeating the PATCH is harmless (no appended lines) to allow retries.
        """
        params = {"replace": ",".join(replace)} if replace else None
        self.get_conn().request(
            "PATCH",
            self._record_path(record_type, record_id),
            params=params,
            json_body=dict(body),
            idempotent=idempotent,
        )
        return WriteResult(record_type=record_type, id=str(record_id))

    def upsert_record(self, record_type: str, external_id: str, body: Mapping[str, Any]) -> WriteResult:
        """``PUT /record/v1/<type>/eid:<externalId>``: create or update by external id (idempotent, retried).

        :param external_id: letters, digits, ``_`` and ``-``.
        """
        path = self._record_path(record_type, f"eid:{external_id}")
        response = self.get_conn().request("PUT", path, json_body=dict(body), idempotent=True)
        location = response.headers.get("Location")
        if location:
            return WriteResult(record_type=record_type, id=_id_from_location(location), location=location)
        record = self.get_record(record_type, f"eid:{external_id}", expand_sub_resources=False, fields=["id"])
        return WriteResult(record_type=record_type, id=record.id)

    def delete_record(self, record_type: str, record_id: str | int) -> None:
        """``DELETE /record/v1/<type>/<id>``; a record already gone on a retry counts as deleted."""
        try:
            self.get_conn().request("DELETE", self._record_path(record_type, record_id), idempotent=True)
        except NetSuiteNotFoundError:
            if self.get_conn().retries == 0:
                raise

    def transform_record(
        self,
        from_type: str,
        record_id: str | int,
        to_type: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """``POST /record/v1/<from>/<id>/!transform/<to>``: e.g. purchaseOrder → itemReceipt / vendorBill,
        salesOrder → itemFulfillment. Returns the new record's id.

        :param body: fields and lines, e.g. ``{"item": {"items": [{"orderLine": 1, "itemReceive": True, "quantity": 5}]}}``.
        :param idempotency_key: makes the transform safe to retry.
        """
        path = f"{self._record_path(from_type, record_id)}/!transform/{to_type}"
        return self._write("POST", path, to_type, body or {}, idempotency_key)

    def _write(
        self, method: str, path: str, record_type: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> WriteResult:
        transport = self.get_conn()
        respond_async = bool(idempotency_key) and transport.settings.async_writes
        headers: dict[str, str] = {}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        if respond_async:
            headers["Prefer"] = "respond-async"
        replayed = False
        timeout = transport.settings.max_retry_seconds
        try:
            sent = transport.request(
                method, path, json_body=dict(body), headers=headers, idempotent=idempotency_key is not None
            )
        except NetSuiteIdempotencyError as exc:
            if not exc.location:
                raise
            if not is_job_url(exc.location):  # the earlier record itself
                return WriteResult(
                    record_type=record_type,
                    id=_id_from_location(exc.location),
                    location=exc.location,
                    replayed=True,
                )
            response = await_job_result(transport, exc.location, timeout=timeout)  # the earlier job
            replayed = True
        else:
            job_url = sent.headers.get("Location") if sent.status_code == 202 else None
            response = await_job_result(transport, job_url, timeout=timeout) if job_url else sent
        location = response.headers.get("Location")
        if not location:
            raise ExternalSystemError(
                f"NetSuite {method} {path} returned no Location header", system="netsuite", path=path
            )
        return WriteResult(
            record_type=record_type, id=_id_from_location(location), location=location, replayed=replayed
        )

    # -- concurrency ------------------------------------------------------------------------------

    def map_concurrent(
        self, fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None
    ) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``fn`` (which calls this hook) over ``items`` with as many threads as the limiter allows.

        Yields ``(item, result)`` or ``(item, exception)`` in input order; one failure does not stop the rest.

        :param fn: the per-item work, e.g. ``lambda po: hook.transform_record("purchaseOrder", po, "itemReceipt")``.
        :param items: any iterable (streamed, at most ``2 × workers`` in flight).
        :param workers: threads; defaults to the concurrency limit.
        """
        return map_in_order(fn, items, workers=workers or self.concurrency)

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent, retries and 429s seen by this hook."""
        transport = self.get_conn()
        return {
            "calls": transport.calls,
            "retries": transport.retries,
            "rate_limited": transport.limiter.rate_limited,
            "peak_in_flight": transport.limiter.peak_in_flight,
        }


def _offset(value: timedelta | None) -> str:
    """``+HH:MM`` / ``-HH:MM`` of a UTC offset."""
    minutes = int((value or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _id_from_location(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
