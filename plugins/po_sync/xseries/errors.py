"""X-Series errors -> po_sync's two classes (retriable / fatal), with the API's own code kept.

Either documented body shape is read: ``{"error", "message", "details"}`` (2.x) or the older
``{"errors": {"global": [...]}, "reference"}``. A 429's ``Retry-After`` is an RFC 1123 HTTP-date, not
seconds (``reference/external-systems.md`` §1.5); Vend's own client falls back to 30 s when it is absent
or unreadable, and so do we.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from po_sync.exceptions import (
    AuthenticationError,
    ExternalSystemError,
    FatalError,
    RateLimitedError,
    RetriableError,
)

SYSTEM = "xseries"
#: Vend's Go client waits this long when a 429 carries no readable Retry-After.
DEFAULT_RETRY_AFTER = 30.0


class XSeriesRateLimited(RateLimitedError):
    """429: the 5-minute budget is spent; ``retry_after`` seconds until the date the server gave."""


class XSeriesUnavailable(RetriableError):
    """5xx, timeout or a dropped connection."""


class XSeriesAuthError(AuthenticationError):
    """401, or the token endpoint refused the refresh token (revoked / rotated away): a person must
    re-authorize; every X-Series flow stops until then."""


class XSeriesRequestError(FatalError):
    """Any other refusal (400, 403 missing scope, 404, 409, 422): the same request will fail again."""


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float:
    """Seconds until an RFC 1123 ``Retry-After`` date (a plain number of seconds is accepted too)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, when - (time.time() if now is None else now))


def _body(response: requests.Response) -> tuple[str | None, str]:
    """``(code, message)`` from either documented error shape."""
    try:
        data: Any = response.json()
    except ValueError:
        return None, (response.text or response.reason or "")[:300]
    if not isinstance(data, dict):
        return None, str(data)[:300]
    if isinstance(data.get("errors"), dict):
        messages = [str(m) for v in data["errors"].values() for m in (v if isinstance(v, list) else [v])]
        return (str(data["reference"]) if data.get("reference") else None), "; ".join(messages)[:500]
    code = data.get("error")
    message = data.get("message") or data.get("error_description") or ""
    details = data.get("details")
    if details:
        message = f"{message} ({details})"
    return (str(code) if code else None), str(message)[:500]


def error_from_response(response: requests.Response, *, method: str, path: str) -> ExternalSystemError:
    """The exception for an X-Series error answer."""
    status = response.status_code
    code, message = _body(response)
    kwargs: dict[str, Any] = {
        "system": SYSTEM,
        "status": status,
        "code": code,
        "detail": message,
        "path": path,
    }
    summary = f"X-Series {method} {path} answered {status}: {message}"
    if status == 429:
        return XSeriesRateLimited(
            summary, retry_after=retry_after_seconds(response.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return XSeriesUnavailable(summary, **kwargs)
    if status == 401:
        return XSeriesAuthError(summary, **kwargs)
    return XSeriesRequestError(summary, **kwargs)


def _never_sent(exc: BaseException) -> bool:
    """Whether the request certainly never reached the server (connect timeout / refused)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or type(seen).__name__ == "NewConnectionError":
            return True
        nxt = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = getattr(seen, "reason", None) or nxt or seen.__cause__ or seen.__context__
    return False


#: Codes of connection failures in which the request never left: safe to resend even a POST.
NOT_SENT_CODES = ("ConnectTimeout", "ConnectionRefused")


def error_from_exception(exc: requests.RequestException, *, method: str, path: str) -> ExternalSystemError:
    """Timeouts and dropped connections are retriable; the message carries no URL query.

    The code says whether the request may have run: ``ConnectTimeout`` / ``ConnectionRefused`` (never
    sent) or the exception's name (``ConnectionError``, ``ReadTimeout``: the server may have acted).
    """
    if _never_sent(exc):
        code = "ConnectTimeout" if isinstance(exc, requests.ConnectTimeout) else "ConnectionRefused"
    else:
        code = type(exc).__name__
    return XSeriesUnavailable(
        f"X-Series {method} {path} failed: {type(exc).__name__}",
        system=SYSTEM,
        code=code,
        path=path,
    )
