"""NetSuite's error body (``nsError``) and the sandbox exception that carries it to the HTTP layer."""

from __future__ import annotations

from typing import Any

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_RFC9110 = {
    400: "15.5.1",
    401: "15.5.2",
    403: "15.5.4",
    404: "15.5.5",
    405: "15.5.6",
    415: "15.5.16",
    500: "15.6.1",
    502: "15.6.3",
    503: "15.6.4",
}
_RFC2616 = {
    400: "sec10.4.1",
    401: "sec10.4.2",
    403: "sec10.4.4",
    404: "sec10.4.5",
    405: "sec10.4.6",
    415: "sec10.4.16",
    500: "sec10.5.1",
    502: "sec10.5.3",
    503: "sec10.5.4",
}

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
NONEXISTENT_ID_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."


class NsError(Exception):
    """Raised inside the sandbox; the server turns it into NetSuite's JSON error body.

    :param status: HTTP status.
    :param code: ``o:errorCode``.
    :param detail: ``detail``.
    :param path: ``o:errorPath`` (a JSONPath into the request body).
    :param query_param: ``o:errorQueryParam``.
    :param title: overrides the title for the status.
    :param headers: extra response headers (e.g. ``Location`` on ``IDEMPOTENCY_ERROR``).
    :param header: ``o:errorHeader`` (the request header at fault).
    :param more: further ``(detail, o:errorPath)`` entries of ``o:errorDetails`` with the same code (one
        request can hold several faults, e.g. several unknown fields).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        path: str | None = None,
        query_param: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        header: str | None = None,
        more: list[tuple[str, str | None]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.query_param = query_param
        self.title = title
        self.headers = headers or {}
        self.header = header
        self.more = more or []

    def body(self, type_style: str = "rfc9110") -> dict[str, Any]:
        """The ``nsError`` JSON."""
        if type_style == "rfc2616":
            type_uri = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#" + _RFC2616.get(
                self.status, "sec10.4.1"
            )
        elif self.status == 429:
            type_uri = "https://www.rfc-editor.org/rfc/rfc6585.html#section-4"
        else:
            type_uri = "https://www.rfc-editor.org/rfc/rfc9110.html#section-" + _RFC9110.get(
                self.status, "15.5.1"
            )
        detail: dict[str, Any] = {"detail": self.detail, "o:errorCode": self.code}
        if self.path:
            detail["o:errorPath"] = self.path
        if self.query_param:
            detail["o:errorQueryParam"] = self.query_param
        if self.header:
            detail["o:errorHeader"] = self.header
        details = [detail]
        for more_detail, more_path in self.more:
            extra: dict[str, Any] = {"detail": more_detail, "o:errorCode": self.code}
            if more_path:
                extra["o:errorPath"] = more_path
            details.append(extra)
        return {
            "type": type_uri,
            "title": self.title or TITLES.get(self.status, "Error"),
            "status": self.status,
            "o:errorDetails": details,
        }


def invalid_login() -> NsError:
    """401 ``INVALID_LOGIN``."""
    return NsError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def nonexistent_id() -> NsError:
    """404 ``NONEXISTENT_ID``."""
    return NsError(404, "NONEXISTENT_ID", NONEXISTENT_ID_DETAIL)


def invalid_content(detail: str, path: str | None = None) -> NsError:
    """400 ``INVALID_CONTENT``."""
    return NsError(400, "INVALID_CONTENT", detail, path=path)


def user_error(detail: str) -> NsError:
    """400 ``USER_ERROR``."""
    return NsError(400, "USER_ERROR", f"Error while accessing a resource. {detail}")


def idempotency_conflict(detail: str, location: str | None = None) -> NsError:
    """400 ``IDEMPOTENCY_ERROR`` (title ``Conflict``), with ``Location`` of the earlier result when there is one."""
    headers = {"Location": location} if location else None
    return NsError(400, "IDEMPOTENCY_ERROR", detail, title="Conflict", headers=headers)


def invalid_parameter(detail: str, query_param: str | None = None) -> NsError:
    """400 ``INVALID_PARAMETER``."""
    return NsError(400, "INVALID_PARAMETER", detail, query_param=query_param)
