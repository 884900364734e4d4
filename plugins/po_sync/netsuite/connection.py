"""The ``netsuite`` connection type: its form (provider metadata) and the settings read from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from po_sync.exceptions import ConfigurationError
from po_sync.netsuite.account import NetSuiteAccount
from po_sync.netsuite.auth import SUPPORTED_JWT_ALGORITHMS, M2MCredentials, TbaCredentials
from po_sync.netsuite.shared_limit import SHARED_LIMIT_LEDGER, SHARED_LIMIT_MODES

#: The Airflow pool every NetSuite-calling task runs in, so tasks of all DAGs share the account's
#: concurrency limit. Give it as many slots as the integration's limit in ``governanceLimits``
#: divided by the threads one task uses (``make demo`` and ``make airflow`` create it).
NETSUITE_POOL = "netsuite"

NETSUITE_CONNECTION: dict[str, Any] = {
    "connection-type": "netsuite",
    "hook-class-name": "po_sync.netsuite.hook.NetSuiteHook",
    "hook-name": "NetSuite (SuiteTalk REST)",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login", "password"],
        "relabeling": {"host": "Base URL override (optional)"},
        "placeholders": {"host": "leave empty for https://<account>.suitetalk.api.netsuite.com"},
    },
    "conn-fields": {
        "account_id": {
            "label": "Account ID",
            "description": "1234567 for production, 1234567_SB1 for a sandbox.",
            "schema": {"type": "string", "pattern": "^[0-9A-Za-z]+([_-][A-Za-z]+[0-9]*)?$"},
        },
        "auth_mode": {
            "label": "Authentication",
            "description": "tba = OAuth 1.0a Token-Based Authentication; m2m = OAuth 2.0 client credentials.",
            "schema": {"type": "string", "enum": ["tba", "m2m"], "default": "m2m"},
        },
        "consumer_key": {"label": "Consumer key (TBA)", "schema": {"type": ["string", "null"]}},
        "consumer_secret": {
            "label": "Consumer secret (TBA)",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "token_id": {"label": "Token ID (TBA)", "schema": {"type": ["string", "null"]}},
        "token_secret": {
            "label": "Token secret (TBA)",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "client_id": {"label": "Client ID (M2M)", "schema": {"type": ["string", "null"]}},
        "certificate_id": {
            "label": "Certificate ID (M2M kid)",
            "description": "From Setup > Integration > OAuth 2.0 Client Credentials (M2M) Setup.",
            "schema": {"type": ["string", "null"]},
        },
        "private_key": {
            "label": "Private key PEM (M2M)",
            "description": "The certificate's private key (RSA 3072/4096 for PS*, EC for ES*), PEM, several lines.",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "algorithm": {
            "label": "JWT algorithm (M2M)",
            "schema": {"type": "string", "enum": list(SUPPORTED_JWT_ALGORITHMS), "default": "PS256"},
        },
        "concurrency": {
            "label": "Concurrency override",
            "description": "Requests in flight at once; empty = read from governanceLimits.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 200},
        },
        "timeout": {
            "label": "Request timeout (seconds)",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
        },
        "async_writes": {
            "label": "Idempotent writes as async jobs",
            "description": "Send creates and transforms that carry X-NetSuite-Idempotency-Key with "
            "Prefer: respond-async and follow the job to its result (Oracle documents the key for async "
            "requests). Off: the key is sent on the synchronous request.",
            "schema": {"type": ["boolean", "null"], "default": False},
        },
        "max_attempts": {
            "label": "Attempts per request",
            "description": "Tries of one request on retriable errors (5xx, timeouts, resets), the first included. "
            "429 CONCURRENCY_LIMIT_EXCEEDED is retried until the retry time runs out.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 50, "default": 8},
        },
        "account_timezone": {
            "label": "Account time zone",
            "description": "IANA name of the account's time zone (Setup > Company > Company Information > "
            "Time Zone, e.g. America/Los_Angeles). SuiteQL reads and writes datetimes such as "
            "lastmodifieddate in it, and no REST endpoint reports it; required by flows that read by date.",
            "schema": {"type": ["string", "null"]},
        },
        "max_retry_seconds": {
            "label": "Retry time per request (seconds)",
            "description": "No new attempt of one request starts after this long.",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 300},
        },
        "shared_limit": {
            "label": "Share the concurrency limit",
            "description": "ledger = every task, process and worker together stays within the account's "
            "limit, coordinated through the po_sync_db database (PostgreSQL advisory locks, or lock files "
            "beside a SQLite ledger); off = each task keeps the limit on its own (one task at a time only).",
            "schema": {
                "type": ["string", "null"],
                "enum": [*SHARED_LIMIT_MODES, None],
                "default": SHARED_LIMIT_LEDGER,
            },
        },
    },
}


@dataclass(frozen=True, repr=False)
class NetSuiteSettings:
    """Everything the hook needs, read from one Airflow connection.

    :param account: account id and base URL.
    :param auth_mode: ``tba`` or ``m2m``.
    :param tba: TBA secrets when ``auth_mode`` is ``tba``.
    :param m2m: M2M settings when ``auth_mode`` is ``m2m``.
    :param concurrency: a fixed concurrency limit, or None to read ``governanceLimits``.
    :param timeout: read timeout in seconds for one request.
    :param max_attempts: attempts of one request on retriable errors, the first included.
    :param max_retry_seconds: seconds after which no new attempt of one request starts (also how long an
        async job is awaited).
    :param async_writes: send idempotent creates/transforms with ``Prefer: respond-async``.
    :param account_timezone: IANA name of the account's time zone, in which SuiteQL gives and reads
        datetimes (None = not configured; flows that read by date then refuse to run).
    :param shared_limit: ``ledger``: hold one account-wide slot (:mod:`po_sync.netsuite.shared_limit`)
        per request, so every task and worker together stays within the limit; ``off``: this hook only.
    """

    account: NetSuiteAccount
    auth_mode: str
    tba: TbaCredentials | None
    m2m: M2MCredentials | None
    concurrency: int | None
    timeout: float
    max_attempts: int = 8
    max_retry_seconds: float = 300.0
    async_writes: bool = False
    account_timezone: str | None = None

    @property
    def account_zone(self) -> ZoneInfo:
        """The account's time zone; :class:`ConfigurationError` when the connection does not give it."""
        if not self.account_timezone:
            raise ConfigurationError(
                "NetSuite connection needs account_timezone (the account's time zone as an IANA name, "
                "e.g. America/Los_Angeles, from Setup > Company > Company Information): SuiteQL datetimes "
                "such as lastmodifieddate are in that zone, and no REST endpoint reports it"
            )
        return ZoneInfo(self.account_timezone)

    shared_limit: str = SHARED_LIMIT_LEDGER

    def __repr__(self) -> str:
        return f"NetSuiteSettings(account={self.account.realm!r}, auth_mode={self.auth_mode!r})"

    @classmethod
    def from_connection(
        cls, *, host: str | None, login: str | None, password: str | None, extra: Mapping[str, Any]
    ) -> NetSuiteSettings:
        """Validate the connection's fields (the message names the field, never its value).

        ``login`` / ``password`` are accepted as the consumer key / secret (TBA) or client id (M2M) when the
        extra fields are empty.
        """

        def field(name: str) -> str | None:
            value = extra.get(name)
            if value is None:
                value = extra.get(f"extra__netsuite__{name}")
            return str(value).strip() if value not in (None, "") else None

        account_id = field("account_id")
        if not account_id:
            raise ConfigurationError("NetSuite connection needs account_id")
        account = NetSuiteAccount(account_id=account_id, base_url_override=field("base_url") or host or None)
        auth_mode = (field("auth_mode") or ("tba" if field("token_id") else "m2m")).lower()
        tba: TbaCredentials | None = None
        m2m: M2MCredentials | None = None
        if auth_mode == "tba":
            values = {
                "consumer_key": field("consumer_key") or login,
                "consumer_secret": field("consumer_secret") or password,
                "token_id": field("token_id"),
                "token_secret": field("token_secret"),
            }
            missing = [k for k, v in values.items() if not v]
            if missing:
                raise ConfigurationError(f"NetSuite TBA connection is missing {', '.join(missing)}")
            tba = TbaCredentials(**{k: str(v) for k, v in values.items()})
        elif auth_mode == "m2m":
            private_key = field("private_key")
            values = {
                "client_id": field("client_id") or login,
                "certificate_id": field("certificate_id"),
                "private_key": private_key.replace("\\n", "\n") if private_key else None,
            }
            missing = [k for k, v in values.items() if not v]
            if missing:
                raise ConfigurationError(f"NetSuite M2M connection is missing {', '.join(missing)}")
            algorithm = (field("algorithm") or "PS256").upper()
            if algorithm not in SUPPORTED_JWT_ALGORITHMS:
                raise ConfigurationError(
                    f"NetSuite algorithm must be one of {', '.join(SUPPORTED_JWT_ALGORITHMS)}"
                )
            m2m = M2MCredentials(
                algorithm=algorithm,
                scope=field("scope") or "rest_webservices",
                **{k: str(v) for k, v in values.items()},
            )
        else:
            raise ConfigurationError("NetSuite auth_mode must be 'tba' or 'm2m'")
        numbers: dict[str, float | None] = {}
        for name, default in (
            ("concurrency", None),
            ("timeout", 60.0),
            ("max_attempts", 8.0),
            ("max_retry_seconds", 300.0),
        ):
            raw = field(name)
            try:
                numbers[name] = float(raw) if raw else default
            except ValueError:
                raise ConfigurationError(f"NetSuite connection field {name} must be a number") from None
            value = numbers[name]
            if value is not None and value < 1:
                raise ConfigurationError(f"NetSuite connection field {name} must be at least 1")
            if value is not None and name in ("concurrency", "max_attempts") and not value.is_integer():
                raise ConfigurationError(f"NetSuite connection field {name} must be a whole number")
        concurrency = numbers["concurrency"]
        account_timezone = field("account_timezone")
        if account_timezone:
            try:
                ZoneInfo(account_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigurationError(
                    f"NetSuite connection field account_timezone: {account_timezone!r} is not an IANA time "
                    "zone name (e.g. America/Los_Angeles)"
                ) from None
        shared_limit = (field("shared_limit") or SHARED_LIMIT_LEDGER).lower()
        if shared_limit not in SHARED_LIMIT_MODES:
            raise ConfigurationError("NetSuite connection field shared_limit must be 'ledger' or 'off'")
        return cls(
            account_timezone=account_timezone,
            account=account,
            auth_mode=auth_mode,
            tba=tba,
            m2m=m2m,
            concurrency=int(concurrency) if concurrency is not None else None,
            timeout=float(numbers["timeout"] or 60.0),
            max_attempts=int(numbers["max_attempts"] or 8),
            max_retry_seconds=float(numbers["max_retry_seconds"] or 300.0),
            async_writes=(field("async_writes") or "false").lower() in ("true", "1", "yes", "on"),
            shared_limit=shared_limit,
        )
