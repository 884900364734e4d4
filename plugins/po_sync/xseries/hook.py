"""``XSeriesHook``: Lightspeed Retail X-Series API 2.0 with OAuth 2.0 (or a personal token), the
version cursor, the shared rate budget and error mapping (``reference/external-systems.md`` §1).

The hook speaks resources generically (:meth:`XSeriesHook.pages`, :meth:`XSeriesHook.request`) and adds
typed helpers for what the purchase-order flows use (consignments, their products, products, outlets,
registers). Master-data and sales flows add helpers without changing the connector.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import requests
from airflow.sdk import BaseHook
from pydantic import BaseModel
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from po_sync.exceptions import ConfigurationError, ExternalSystemError, RetriableError
from po_sync.validation import url_segment
from po_sync.xseries.budget import SharedRateBudget
from po_sync.xseries.connection import XSeriesSettings
from po_sync.xseries.errors import (
    NOT_SENT_CODES,
    XSeriesAuthError,
    XSeriesRateLimited,
    XSeriesRequestError,
    error_from_exception,
    error_from_response,
)
from po_sync.xseries.models import Consignment, ConsignmentProduct, Outlet, Page, Product, Register, Supplier
from po_sync.xseries.tokens import FileTokenStore, LedgerTokenStore, TokenManager, TokenPair

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

#: Documented: keep bulk calls to 500 products or fewer.
BULK_MAX = 500
MAX_PAGE_SIZE = 1000
USER_AGENT = "po-sync/xseries-hook (+https://github.com/po-sync)"


class XSeriesHook(BaseHook):
    """Talk to one X-Series retailer.

    :param xseries_conn_id: the Airflow connection (type ``xseries``).
    :param base_wait: first retry backoff in seconds (doubles, with jitter).
    :param token_margin: refresh OAuth tokens this many seconds before they expire.
    """

    conn_name_attr = "xseries_conn_id"
    default_conn_name = "xseries_default"
    conn_type = "xseries"
    hook_name = "Lightspeed Retail X-Series (Vend)"

    def __init__(
        self,
        xseries_conn_id: str = default_conn_name,
        *,
        base_wait: float = 0.5,
        token_margin: float = 600.0,
    ) -> None:
        super().__init__()
        self.xseries_conn_id = xseries_conn_id
        self.base_wait = base_wait
        self.token_margin = token_margin
        self._settings: XSeriesSettings | None = None
        self._session: requests.Session | None = None
        self._tokens: TokenManager | None = None
        self._budget: SharedRateBudget | None = None
        self.calls = 0
        self.retries = 0
        self.rate_limited = 0
        self.by_route: dict[str, int] = {}

    # -- connection -------------------------------------------------------------------------------

    @property
    def settings(self) -> XSeriesSettings:
        if self._settings is None:
            conn = self.get_connection(self.xseries_conn_id)
            self._settings = XSeriesSettings.from_connection(
                conn_id=self.xseries_conn_id,
                host=conn.host,
                login=conn.login,
                password=conn.password,
                extra=conn.extra_dejson,
            )
        return self._settings

    def get_conn(self) -> requests.Session:
        """The pooled session (JSON + User-Agent headers; auth is added per request)."""
        if self._session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._session = session
        return self._session

    @property
    def tokens(self) -> TokenManager:
        """The OAuth token manager (oauth connections only)."""
        if self._tokens is None:
            self._tokens = TokenManager(
                self.settings,
                self.get_conn(),
                self.token_store(),
                margin=self.token_margin,
                conn_id=self.xseries_conn_id,
            )
        return self._tokens

    def token_store(self) -> FileTokenStore | LedgerTokenStore:
        """Where this connection's rotating pair lives: its ledger row (default) or the token file."""
        settings = self.settings
        if settings.token_store == "file":
            return FileTokenStore(settings.token_store_path)
        from po_sync.ledger.hook import LedgerHook

        return LedgerTokenStore(LedgerHook(settings.ledger_conn_id).get_conn(), conn_id=self.xseries_conn_id)

    @property
    def budget(self) -> SharedRateBudget:
        """The rate budget shared by every hook of this connection on this host."""
        if self._budget is None:
            settings = self.settings
            registers = settings.registers if settings.registers is not None else 0
            self._budget = SharedRateBudget(
                settings.budget_path,
                limit=300 * registers + 50,
                window_seconds=settings.rate_window_seconds,
            )
            if settings.registers is None:
                # registers from the API; the server's X-RateLimit-Limit confirms it on every answer
                self._budget.limit = 300 * len(self.registers()) + 50
        return self._budget

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> XSeriesHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """List outlets: proves the host, the token (refreshing if needed) and the scope."""
        try:
            outlets = self.outlets()
        except (ExternalSystemError, ConfigurationError) as exc:
            return False, str(exc)
        return True, f"X-Series {self.settings.domain_prefix}: {len(outlets)} outlet(s)"

    # -- tokens -----------------------------------------------------------------------------------

    def _bearer(self) -> str:
        settings = self.settings
        if settings.auth_mode == "personal":
            return str(settings.personal_token)
        return self.tokens.access_token()

    def refresh_tokens(self, *, force: bool = True) -> TokenPair:
        """Rotate the OAuth pair now (the scheduled refresh); the loser of a race keeps the winner's pair."""
        if self.settings.auth_mode != "oauth":
            raise ConfigurationError(f"X-Series connection {self.xseries_conn_id} uses a personal token")
        return self.tokens.refresh(reason="scheduled", force=force)

    # -- requests ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one API request under the rate budget; return the decoded JSON (None for 204).

        Reads and PUT/DELETE are retried on every retriable error; POSTs only when the server certainly
        did not run them (429, refused connection). A 401 refreshes the token once and tries again.

        :param method: HTTP method.
        :param path: path under ``/api/<version>`` (``/consignments/…``).
        :param params: query parameters.
        :param json_body: JSON body.
        :param idempotent: override the method's default (POST: False, others: True).
        :raises ExternalSystemError: :class:`XSeriesRateLimited`, ``XSeriesUnavailable``,
            :class:`XSeriesAuthError` or :class:`XSeriesRequestError` once retries are exhausted.
        """
        method = method.upper()
        safe = idempotent if idempotent is not None else method != "POST"
        route = f"{method} {path.split('?')[0]}"
        auth_retried = [False]

        def retriable(exc: BaseException) -> bool:
            if isinstance(exc, XSeriesAuthError) and exc.status == 401 and not auth_retried[0]:
                auth_retried[0] = True
                return self.settings.auth_mode == "oauth"
            if isinstance(exc, XSeriesRateLimited):
                return True
            if not isinstance(exc, RetriableError):
                return False
            return safe or exc.code in NOT_SENT_CODES

        retrying = Retrying(
            retry=retry_if_exception(retriable),
            stop=stop_after_delay(self.settings.max_retry_seconds),
            wait=self._wait,
            reraise=True,
            before_sleep=self._before_sleep,
        )
        return retrying(self._send_once, method, path, route, params, json_body)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, XSeriesRateLimited):
            return 0.0  # the budget waits for the server's Retry-After date
        if isinstance(exc, XSeriesAuthError):
            return 0.0
        ceiling = min(30.0, self.base_wait * (2 ** (state.attempt_number - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        log.info(
            "X-Series retry %s after %s",
            state.attempt_number,
            state.outcome.exception() if state.outcome else None,
        )

    def _send_once(
        self, method: str, path: str, route: str, params: Mapping[str, Any] | None, json_body: Any
    ) -> Any:
        settings = self.settings
        token = self._bearer()
        self.budget.acquire()
        self.calls += 1
        self.by_route[route] = self.by_route.get(route, 0) + 1
        headers = {"Authorization": f"Bearer {token}"}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        sent_at = time.time()
        try:
            response = self.get_conn().request(
                method,
                f"{settings.api_root}/{path.lstrip('/')}",
                params=params,
                json=json_body,
                headers=headers,
                timeout=(10.0, settings.timeout),
            )
        except requests.RequestException as exc:
            self.budget.release()
            raise error_from_exception(exc, method=method, path=path) from None
        self._observe(response, sent_at)
        if response.status_code >= 400:
            error = error_from_response(response, method=method, path=path)
            if isinstance(error, XSeriesRateLimited):
                self.rate_limited += 1
                self.budget.exhausted_until(time.time() + (error.retry_after or 30.0))
            elif isinstance(error, XSeriesAuthError) and settings.auth_mode == "oauth":
                self.tokens.refresh(reason="401", stale_access_token=token)
            raise error
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise XSeriesRequestError(
                f"X-Series {method} {path} answered {response.status_code} with a body that is not JSON",
                system="xseries",
                status=response.status_code,
                path=path,
            ) from None

    def _observe(self, response: requests.Response, sent_at: float) -> None:
        def number(name: str) -> int | None:
            raw = response.headers.get(name)
            try:
                return int(raw) if raw is not None else None
            except ValueError:
                return None

        limit, remaining = number("X-RateLimit-Limit"), number("X-RateLimit-Remaining")
        if self._budget is None:
            return
        if limit is not None or remaining is not None:
            self._budget.observe(limit=limit, remaining=remaining, sent_at=sent_at)
        else:
            self._budget.release()

    # -- the version cursor -----------------------------------------------------------------------

    def page(self, path: str, *, after: int = 0, page_size: int = 200, **params: Any) -> Page:
        """One page of a version-cursor list."""
        body = self.request("GET", path, params={**params, "after": after, "page_size": page_size})
        version = (body or {}).get("version") or {}
        return Page(
            data=(body or {}).get("data") or [],
            min_version=version.get("min"),
            max_version=version.get("max"),
        )

    def pages(self, path: str, *, after: int = 0, page_size: int = 200, **params: Any) -> Iterator[Page]:
        """Every page after ``after``: ``after = version.max`` until a page comes back empty.

        The last page's ``max_version`` (or the ``after`` given, when nothing changed) is the cursor to
        keep for the next incremental run.
        """
        while True:
            page = self.page(path, after=after, page_size=page_size, **params)
            if not page.data:
                return
            yield page
            if page.max_version is None or page.max_version <= after:
                raise XSeriesRequestError(
                    f"X-Series {path} paging did not advance past version {after}",
                    system="xseries",
                    path=path,
                )
            after = page.max_version

    def iter_models(
        self, path: str, model: type[M], *, after: int = 0, **params: Any
    ) -> Iterator[tuple[M, int]]:
        """``(object, its version)`` for every object changed after ``after``."""
        for page in self.pages(path, after=after, **params):
            for item in page.data:
                yield model.model_validate(item), int(item.get("version") or 0)

    # -- typed helpers ----------------------------------------------------------------------------

    def outlets(self) -> list[Outlet]:
        return [m for m, _ in self.iter_models("/outlets", Outlet)]

    def registers(self) -> list[Register]:
        # called while the budget is being built: count it against a provisional minimum budget
        if self._budget is None:
            self._budget = SharedRateBudget(
                self.settings.budget_path, limit=50, window_seconds=self.settings.rate_window_seconds
            )
        return [m for m, _ in self.iter_models("/registers", Register) if not m.deleted_at]

    def suppliers(self) -> list[Supplier]:
        return [m for m, _ in self.iter_models("/suppliers", Supplier)]

    def products(self) -> list[Product]:
        return [m for m, _ in self.iter_models("/products", Product, page_size=MAX_PAGE_SIZE)]

    def consignment(self, consignment_id: str) -> Consignment | None:
        """The consignment, or None when it does not exist (or was deleted)."""
        try:
            body = self.request("GET", f"/consignments/{url_segment(consignment_id, what='consignment id')}")
        except XSeriesRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return Consignment.model_validate(body["data"])

    def consignments_changed(self, *, after: int = 0, **filters: Any) -> Iterator[tuple[Consignment, int]]:
        """Consignments changed after version ``after`` (filters: ``type``, ``status``, ``outlet_id``)."""
        yield from self.iter_models("/consignments", Consignment, after=after, **filters)

    def create_consignment(self, body: Mapping[str, Any]) -> Consignment:
        """``POST /consignments`` (not retried once sent: the caller reconciles by ``reference``)."""
        created = self.request("POST", "/consignments", json_body={"data": dict(body)})
        return Consignment.model_validate(created["data"])

    def update_consignment(self, consignment_id: str, body: Mapping[str, Any]) -> Consignment:
        updated = self.request(
            "PUT",
            f"/consignments/{url_segment(consignment_id, what='consignment id')}",
            json_body={"data": dict(body)},
        )
        return Consignment.model_validate(updated["data"])

    def delete_consignment(self, consignment_id: str) -> bool:
        """Delete; False when it was already gone (so a rerun after a crash is not an error)."""
        try:
            self.request("DELETE", f"/consignments/{url_segment(consignment_id, what='consignment id')}")
        except XSeriesRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def consignment_products(self, consignment_id: str) -> list[ConsignmentProduct]:
        """Every live line of a consignment."""
        lines = [
            m
            for m, _ in self.iter_models(
                f"/consignments/{url_segment(consignment_id, what='consignment id')}/products",
                ConsignmentProduct,
                page_size=MAX_PAGE_SIZE,
            )
        ]
        return [line for line in lines if not line.deleted_at]

    def bulk_products(self, consignment_id: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``POST /consignments/{id}/bulk`` in chunks of 500. Counts **accumulate**: callers send deltas
        computed from a fresh read, so a retry after a lost answer is safe only after re-reading."""
        result: dict[str, Any] = {}
        for start in range(0, len(items), BULK_MAX):
            chunk = [_jsonable(dict(item)) for item in items[start : start + BULK_MAX]]
            body = self.request(
                "POST",
                f"/consignments/{url_segment(consignment_id, what='consignment id')}/bulk",
                json_body=chunk,
            )
            result.update((body or {}).get("data") or {})
        return result

    def delete_consignment_product(self, consignment_id: str, product_id: str) -> None:
        try:
            self.request(
                "DELETE",
                f"/consignments/{url_segment(consignment_id, what='consignment id')}/products/{url_segment(product_id, what='product id')}",
            )
        except XSeriesRequestError as exc:
            if exc.status != 404:
                raise


def _jsonable(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in item.items()}
