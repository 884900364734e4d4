"""Exceptions raised by po_sync.

Every error the package raises is a :class:`PoSyncError`. The hierarchy says what a caller may do
about it, in the way httpx writes out its own::

    PoSyncError
    ├── ConfigurationError          a connection, Variable, param or operator argument is wrong
    ├── LedgerError                 the status table cannot be read or written
    ├── RecordError                 one record is bad; the run goes on without it
    │   ├── RecordValidationError   input failed validation (names record, file and field)
    │   └── RecordSkipped           not this flow's to write (e.g. another flow receives it): ignored
    └── ExternalSystemError         a call to NetSuite, X-Series, Onetrail, ServiceNow, SFTP or S3 failed
        ├── RetriableError          429, 5xx, timeouts, dropped connections: try again later
        │   ├── RateLimitedError    429 / concurrency limit; ``retry_after`` seconds when the server said
        │   ├── LoginUnavailableError  the login / token endpoint failed transiently: the run stops
        │   └── VanishedFileError   a listed file was moved away (by another run) before we read or moved it
        └── FatalError              any other refusal: retrying the same request will not help
            └── AuthenticationError 401 / invalid login

``ExternalSystemError`` keeps the external system's own error ``code``, its ``detail`` and the
request ``path`` (never a secret, a token or a query string holding one), so that the ledger can
store an error a person can act on.
"""

from __future__ import annotations


class PoSyncError(Exception):
    """Base class of every error raised by po_sync."""


class ConfigurationError(PoSyncError):
    """A connection, Variable, param or operator argument is missing or malformed."""


class LedgerError(PoSyncError):
    """The ledger (status table) cannot be read or written."""


class RecordError(PoSyncError):
    """One record cannot be synced; the run records it and goes on with the others.

    :param message: what is wrong, in words a person can act on.
    :param code: a short machine-readable code stored in the ledger (e.g. ``UNKNOWN_ITEM``).
    :param record_id: the source id of the record, when known.
    """

    default_code = "RECORD_ERROR"

    def __init__(self, message: str, *, code: str | None = None, record_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.record_id = record_id


class RecordValidationError(RecordError):
    """A record failed validation; the message names the record, the file and the field."""

    default_code = "VALIDATION_ERROR"


class RecordSkipped(RecordError):
    """The record is not this flow's to write (another flow owns it): it is ``ignored`` with the reason."""

    default_code = "SKIPPED"


class ExternalSystemError(PoSyncError):
    """A call to an external system failed.

    :param message: a one-line summary without secrets.
    :param system: which system answered (``netsuite``, ``xseries``, ``sftp``...).
    :param status: the HTTP status, when there was one.
    :param code: the system's own error code (e.g. NetSuite ``o:errorCode``).
    :param detail: the system's own error detail.
    :param path: the request path, without query string.
    """

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.path:
            parts.append(f"path={self.path}")
        return " ".join(parts)


class RetriableError(ExternalSystemError):
    """A transient failure (429, 5xx, timeout, dropped connection): the same request may succeed later."""


class RateLimitedError(RetriableError):
    """The system refused the call for rate or concurrency reasons.

    :param retry_after: seconds the server asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class LoginUnavailableError(RetriableError):
    """The login step itself failed transiently (a token endpoint answered 5xx or 429, or was unreachable).

    No record is to blame and none can be sent until it answers again, so a run that meets it stops
    (inputs left in place, the task retried by Airflow) instead of failing record after record.

    :param retry_after: seconds the server asked us to wait, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class VanishedFileError(RetriableError):
    """A file listed a moment ago is gone when we read or move it: another process (an overlapping run,
    a person) moved it meanwhile. Nothing is wrong with the file and no record is to blame; the next
    try lists the folder again and no longer sees it. The message names the file and, for a move,
    where it was going.

    :param source: the file that vanished.
    :param target: where it was being moved, for a move.
    """

    def __init__(self, message: str, *, source: str, target: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.source = source
        self.target = target


class FatalError(ExternalSystemError):
    """A refusal that will not change on retry (validation, missing record, permission)."""


class AuthenticationError(FatalError):
    """The credentials were refused (401, invalid login): the system's fault, never the record's; a run
    that meets it stops with its inputs left in place."""


#: Errors that say the run, not a record, cannot go on: per-record handlers re-raise them.
SYSTEM_FAULTS: tuple[type[ExternalSystemError], ...] = (AuthenticationError, LoginUnavailableError)
