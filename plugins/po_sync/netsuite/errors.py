"""Turn NetSuite's error responses (``o:errorDetails``) and transport failures into po_sync exceptions.

NetSuite-specific subclasses of the package hierarchy::

    RetriableError
    ├── NetSuiteServerError          5xx
    ├── NetSuiteConnectionError      timeouts, refused / dropped connections
    ├── NetSuiteIdempotencyPending   IDEMPOTENCY_ERROR while the first request is still running
    ├── LoginUnavailableError
    │   └── NetSuiteTokenEndpointError  the M2M token endpoint answered 5xx / 429 or was unreachable
    └── RateLimitedError
        └── NetSuiteConcurrencyError 429 CONCURRENCY_LIMIT_EXCEEDED
    FatalError
    ├── NetSuiteRequestError         400 USER_ERROR, INVALID_CONTENT, INVALID_PARAMETER, NONEXISTENT_FIELD...
    │   └── NetSuiteIdempotencyError 400 IDEMPOTENCY_ERROR (carries the earlier request's ``location``)
    ├── NetSuiteNotFoundError        404 NONEXISTENT_ID, unknown record type
    ├── NetSuitePermissionError      403 INSUFFICIENT_PERMISSION
    └── AuthenticationError
        └── NetSuiteAuthenticationError 401 INVALID_LOGIN, refused token request
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from po_sync.exceptions import (
    AuthenticationError,
    ExternalSystemError,
    FatalError,
    LoginUnavailableError,
    RateLimitedError,
    RetriableError,
)

SYSTEM = "netsuite"


class NetSuiteServerError(RetriableError):
    """NetSuite answered 5xx."""


class NetSuiteConnectionError(RetriableError):
    """The request timed out or the connection was refused or dropped."""


class NetSuiteIdempotencyPending(RetriableError):
    """A request with the same idempotency key is still being processed."""


class NetSuiteConcurrencyError(RateLimitedError):
    """429 ``CONCURRENCY_LIMIT_EXCEEDED``: more requests in flight than the account allows."""


class NetSuiteRequestError(FatalError):
    """400: the request itself is wrong (``USER_ERROR``, ``INVALID_CONTENT``, ``INVALID_PARAMETER``...)."""


class NetSuiteIdempotencyError(NetSuiteRequestError):
    """400 ``IDEMPOTENCY_ERROR``: the key was used before; ``location`` points at the earlier result.

    :param location: the ``Location`` header NetSuite sent with the error, when it sent one.
    """

    def __init__(self, message: str, *, location: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class NetSuiteNotFoundError(FatalError):
    """404: the record (``NONEXISTENT_ID``) or the record type does not exist."""


class NetSuitePermissionError(FatalError):
    """403 ``INSUFFICIENT_PERMISSION``: the role may not do this."""


class NetSuiteTokenEndpointError(LoginUnavailableError):
    """The OAuth 2.0 token endpoint answered 5xx or 429 or could not be reached: try the run again later.

    Always safe to retry (the request it was getting a token for was never sent)."""


class NetSuiteAuthenticationError(AuthenticationError):
    """401 ``INVALID_LOGIN`` or a refused OAuth 2.0 token request."""


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of ``o:errorDetails``."""

    code: str | None
    detail: str | None
    path: str | None = None
    query_param: str | None = None


def parse_error_details(response: requests.Response) -> tuple[str | None, list[ErrorDetail]]:
    """Read ``title`` and ``o:errorDetails`` from a NetSuite error body, tolerating non-JSON bodies.

    :param response: the HTTP response with a non-2xx status.
    :return: the title and the details (possibly empty).
    """
    try:
        body = response.json()
    except ValueError:
        return None, []
    if not isinstance(body, dict):
        return None, []
    details = []
    raw = body.get("o:errorDetails") or []
    if isinstance(raw, dict):
        raw = [raw]
    for item in raw:
        if isinstance(item, dict):
            details.append(
                ErrorDetail(
                    code=item.get("o:errorCode"),
                    detail=item.get("detail"),
                    path=item.get("o:errorPath"),
                    query_param=item.get("o:errorQueryParam"),
                )
            )
    title = body.get("title")
    return (str(title) if title is not None else None), details


def error_from_response(response: requests.Response, *, method: str, path: str) -> ExternalSystemError:
    """Map a non-2xx NetSuite response to the matching exception (never including secrets).

    :param response: the failed response.
    :param method: the HTTP method, for the message.
    :param path: the request path without its query string.
    """
    status = response.status_code
    title, details = parse_error_details(response)
    first = details[0] if details else ErrorDetail(code=None, detail=None)
    code = first.code
    detail = first.detail
    if first.path:
        detail = f"{detail} (at {first.path})" if detail else first.path
    message = f"NetSuite {method} {path} failed: {title or response.reason or status}"
    kwargs: dict[str, Any] = {
        "system": SYSTEM,
        "status": status,
        "code": code,
        "detail": detail,
        "path": path,
    }
    if status == 429 or code == "CONCURRENCY_LIMIT_EXCEEDED":
        retry_after = _retry_after(response)
        return NetSuiteConcurrencyError(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return NetSuiteServerError(message, **kwargs)
    if status == 401:
        return NetSuiteAuthenticationError(message, **kwargs)
    if status == 403:
        return NetSuitePermissionError(message, **kwargs)
    if status == 404:
        return NetSuiteNotFoundError(message, **kwargs)
    if code == "IDEMPOTENCY_ERROR":
        location = response.headers.get("Location")
        if not location:
            return NetSuiteIdempotencyPending(message, **kwargs)
        return NetSuiteIdempotencyError(message, location=location, **kwargs)
    if status == 408:
        return NetSuiteConnectionError(message, **kwargs)
    return NetSuiteRequestError(message, **kwargs)


def error_from_exception(
    exc: requests.RequestException, *, method: str, path: str
) -> NetSuiteConnectionError:
    """Map a transport failure (timeout, reset, refused) to a retriable error.

    :param exc: what ``requests`` raised.
    """
    kind = type(exc).__name__
    return NetSuiteConnectionError(
        f"NetSuite {method} {path} failed: {kind}", system=SYSTEM, code=kind, detail=kind, path=path
    )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def short_json(value: Any) -> str:
    """A short JSON rendering for log lines (bodies may be large)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
