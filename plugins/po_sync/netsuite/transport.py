"""Sending one NetSuite request: auth, the concurrency limiter, error mapping and retries."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from po_sync.exceptions import ExternalSystemError, LoginUnavailableError, RateLimitedError, RetriableError
from po_sync.netsuite.account import REST_PATH, NetSuiteAccount
from po_sync.netsuite.auth import M2MTokenAuth, tba_auth
from po_sync.netsuite.connection import NetSuiteSettings
from po_sync.netsuite.errors import (
    NetSuiteAuthenticationError,
    NetSuiteConcurrencyError,
    NetSuiteConnectionError,
    error_from_exception,
    error_from_response,
)
from po_sync.netsuite.limiter import ConcurrencyLimiter
from po_sync.netsuite.shared_limit import SharedSlots

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 5
POOL_SIZE = 64


class RetryPolicy:
    """How often and how long to retry.

    :param max_attempts: attempts per request, the first included.
    :param max_delay: seconds after which no new attempt starts.
    :param base_wait: first backoff in seconds (doubles per attempt, with full jitter).
    :param max_wait: longest single wait.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 8,
        max_delay: float = 300.0,
        base_wait: float = 0.2,
        max_wait: float = 20.0,
    ) -> None:
        self.max_attempts = max_attempts
        self.max_delay = max_delay
        self.base_wait = base_wait
        self.max_wait = max_wait

    def stopper(self) -> Callable[[RetryCallState], bool]:
        """A stop condition for one request: after ``max_delay`` seconds, or after ``max_attempts`` failures
        other than 429 (a 429 storm is bounded by time only: blocked requests were never run)."""
        failures = [0]

        def stop(state: RetryCallState) -> bool:
            if stop_after_delay(self.max_delay)(state):
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimitedError):
                return False
            failures[0] += 1
            return failures[0] >= self.max_attempts

        return stop

    def wait(self, state: RetryCallState) -> float:
        """Exponential backoff with full jitter; a server's ``Retry-After`` wins when it is longer."""
        exc = state.outcome.exception() if state.outcome else None
        ceiling = min(self.max_wait, self.base_wait * (2 ** (state.attempt_number - 1)))
        wait = random.uniform(ceiling / 2, ceiling)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, RateLimitedError | LoginUnavailableError) and retry_after:
            wait = max(wait, retry_after)
        return wait


class NetSuiteTransport:
    """A ``requests`` session bound to one account, with auth, limiter and retries.

    :param settings: the connection's settings.
    :param retry_policy: backoff settings.
    """

    def __init__(self, settings: NetSuiteSettings, retry_policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.account: NetSuiteAccount = settings.account
        self.retry_policy = retry_policy or RetryPolicy(
            max_attempts=settings.max_attempts, max_delay=settings.max_retry_seconds
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "po-sync/netsuite-hook"})
        self._m2m: M2MTokenAuth | None = None
        if settings.auth_mode == "tba" and settings.tba:
            self.session.auth = tba_auth(settings.tba, self.account.realm)
        elif settings.m2m:
            self._m2m = M2MTokenAuth(
                settings.m2m, self.account.token_url, self.session, timeout=settings.timeout
            )
            self.session.auth = self._m2m
        self.limiter = ConcurrencyLimiter(settings.concurrency or DEFAULT_CONCURRENCY)
        #: the account-wide slots every process shares (set by the hook), or None: this limiter only
        self.shared: SharedSlots | None = None
        self.calls = 0
        self.retries = 0

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def url(self, path: str) -> str:
        """The absolute URL of a path under ``/services/rest`` (absolute URLs pass through, and so do
        server-relative ones such as an async job's ``Location: /services/rest/async/v1/job/7``)."""
        if path.startswith("http://") or path.startswith("https://"):
            return path
        if path.startswith(REST_PATH + "/"):
            path = path[len(REST_PATH) :]
        return f"{self.account.rest_root}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> requests.Response:
        """Send one request, retrying what may be retried.

        Idempotent requests (reads, SuiteQL, eid upserts, writes with an idempotency key) are retried on
        every retriable error. Others are retried only when NetSuite certainly did not run them: 429
        ``CONCURRENCY_LIMIT_EXCEEDED`` (blocked before processing) and connect timeouts.

        :param method: HTTP method.
        :param path: path under ``/services/rest`` or an absolute URL.
        :param params: query parameters.
        :param json_body: JSON body.
        :param headers: extra headers.
        :param idempotent: whether repeating the request cannot do harm.
        :raises ExternalSystemError: the mapped NetSuite error once retries are exhausted or not allowed.
        """
        log_path = _path_only(path)

        def retriable(exc: BaseException) -> bool:
            if isinstance(exc, NetSuiteAuthenticationError) and self._m2m is not None and not auth_retried[0]:
                auth_retried[0] = True
                self._m2m.invalidate()
                return True
            if not isinstance(exc, RetriableError):
                return False
            if isinstance(exc, LoginUnavailableError):
                return True  # the token call failed: the request itself was never sent
            if idempotent or isinstance(exc, NetSuiteConcurrencyError):
                return True
            return isinstance(exc, NetSuiteConnectionError) and exc.code == "ConnectTimeout"

        auth_retried = [False]
        policy = self.retry_policy
        retrying = Retrying(
            retry=retry_if_exception(retriable),
            stop=policy.stopper(),
            wait=policy.wait,
            reraise=True,
            before_sleep=self._before_sleep,
        )
        return retrying(self._send_once, method, path, log_path, params, json_body, headers)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("NetSuite retry %s after %s", state.attempt_number, exc)

    def _send_once(
        self,
        method: str,
        path: str,
        log_path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> requests.Response:
        session = self.session
        try:
            # built and signed before waiting for a slot, so a freed slot goes straight to the wire
            prepared = session.prepare_request(
                requests.Request(
                    method, self.url(path), params=params, json=json_body, headers=dict(headers or {})
                )
            )
            send_kwargs = session.merge_environment_settings(prepared.url or "", {}, None, None, None)
        except requests.RequestException as exc:
            raise error_from_exception(exc, method=method, path=log_path) from None
        with self.limiter.slot(), self.shared.slot() if self.shared is not None else nullcontext():
            self.calls += 1
            try:
                response = session.send(prepared, timeout=(10.0, self.settings.timeout), **send_kwargs)
            except requests.RequestException as exc:
                raise error_from_exception(exc, method=method, path=log_path) from None
        log.debug("NetSuite %s %s -> %s", method, log_path, response.status_code)
        if response.status_code >= 400:
            error: ExternalSystemError = error_from_response(response, method=method, path=log_path)
            if isinstance(error, NetSuiteConcurrencyError):
                self.limiter.record_rate_limited()
            raise error
        self.limiter.record_success()
        return response


def _path_only(path: str) -> str:
    """The path without scheme, host or query string (safe for logs and exceptions)."""
    if "://" in path:
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
    return path.split("?", 1)[0]
