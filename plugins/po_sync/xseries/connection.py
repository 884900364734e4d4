"""The ``xseries`` connection type: its form (provider metadata) and the settings read from it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from po_sync.exceptions import ConfigurationError
from po_sync.provider_info import XSERIES_CONNECTION

__all__ = ["AUTH_MODES", "XSERIES_CONNECTION", "XSeriesSettings"]

AUTH_MODES = ("oauth", "personal")  # as in XSERIES_CONNECTION's auth_mode enum
TOKEN_STORES = ("ledger", "file")  # as in XSERIES_CONNECTION's token_store enum
DEFAULT_HOST = "retail.lightspeed.app"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True, repr=False)
class XSeriesSettings:
    """Everything the hook needs, read from one Airflow connection (``repr`` shows no secret).

    :param base_url: ``https://<prefix>.retail.lightspeed.app`` or the host override.
    :param domain_prefix: the store's prefix.
    :param auth_mode: ``oauth`` or ``personal``.
    :param client_id: OAuth client id.
    :param client_secret: OAuth client secret.
    :param personal_token: the personal token (personal mode).
    :param redirect_uri: OAuth redirect URI.
    :param bootstrap_refresh_token: the refresh token used while the token store is empty.
    :param token_store_path: the token store file.
    :param registers: registers for the budget, or None to ask the API.
    :param rate_window_seconds: the budget's window.
    :param api_version: ``2.0`` or ``YYYY-MM``.
    :param timeout: read timeout per request.
    :param max_retry_seconds: how long one request may keep retrying.
    :param token_store: where the rotating OAuth pair lives: ``ledger`` (default: the ledger's
        ``sync_credential`` row, Fernet-encrypted, row-locked) or ``file`` (``token_store_path``; one
        machine only).
    :param ledger_conn_id: the ledger connection holding the pair (``po_sync_db``).
    :param connect_url: the consent page of the authorize step (None: Lightspeed's).
    """

    base_url: str
    domain_prefix: str
    auth_mode: str
    client_id: str | None
    client_secret: str | None
    personal_token: str | None
    redirect_uri: str | None
    bootstrap_refresh_token: str | None
    token_store_path: Path
    registers: int | None
    rate_window_seconds: float
    api_version: str
    timeout: float
    max_retry_seconds: float
    token_store: str = "ledger"
    ledger_conn_id: str = "po_sync_db"
    connect_url: str | None = None

    def __repr__(self) -> str:
        return f"XSeriesSettings(domain_prefix={self.domain_prefix!r}, auth_mode={self.auth_mode!r})"

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/api/{self.api_version}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/1.0/token"

    @property
    def budget_path(self) -> Path:
        """The shared rate-budget state, beside the token store."""
        return self.token_store_path.with_suffix(".budget")

    @classmethod
    def from_connection(
        cls,
        *,
        conn_id: str,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> XSeriesSettings:
        """Validate the connection's fields (messages name the field, never its value)."""

        def field(name: str) -> str | None:
            value = extra.get(name)
            if value is None:
                value = extra.get(f"extra__xseries__{name}")
            return str(value).strip() if value not in (None, "") else None

        prefix = field("domain_prefix")
        if not prefix:
            raise ConfigurationError(f"X-Series connection {conn_id} needs domain_prefix")
        base_url = (host or "").rstrip("/") or f"https://{prefix}.{DEFAULT_HOST}"
        if "://" not in base_url:
            base_url = f"https://{base_url}"
        parts = urlsplit(base_url)
        if parts.scheme != "https" and parts.hostname not in LOOPBACK:
            raise ConfigurationError(
                f"X-Series connection {conn_id}: host must be https (plain http only on loopback)"
            )
        auth_mode = (field("auth_mode") or "oauth").lower()
        if auth_mode not in AUTH_MODES:
            raise ConfigurationError(f"X-Series connection {conn_id}: auth_mode must be oauth or personal")
        if auth_mode == "personal" and not password:
            raise ConfigurationError(
                f"X-Series connection {conn_id}: personal mode needs the token as password"
            )
        if auth_mode == "oauth" and not (login and password):
            raise ConfigurationError(
                f"X-Series connection {conn_id}: oauth mode needs the client id (login) and secret (password)"
            )
        store = field("token_store_path")
        token_store = (
            Path(store)
            if store
            else Path(os.environ.get("PO_SYNC_STATE_DIR", tempfile.gettempdir()))
            / f"po_sync_xseries_{conn_id}.json"
        )
        numbers: dict[str, float | None] = {}
        for name, default in (
            ("registers", None),
            ("rate_window_seconds", 300.0),
            ("timeout", 60.0),
            ("max_retry_seconds", 900.0),
        ):
            raw = field(name)
            try:
                numbers[name] = float(raw) if raw else default
            except ValueError:
                raise ConfigurationError(f"X-Series connection {conn_id}: {name} must be a number") from None
            value = numbers[name]
            if value is not None and value < 0:
                raise ConfigurationError(f"X-Series connection {conn_id}: {name} must not be negative")
        registers = numbers["registers"]
        token_store_kind = (field("token_store") or "ledger").lower()
        if token_store_kind not in TOKEN_STORES:
            raise ConfigurationError(f"X-Series connection {conn_id}: token_store must be ledger or file")
        return cls(
            base_url=base_url,
            domain_prefix=prefix,
            auth_mode=auth_mode,
            client_id=login if auth_mode == "oauth" else None,
            client_secret=password if auth_mode == "oauth" else None,
            personal_token=password if auth_mode == "personal" else None,
            redirect_uri=field("redirect_uri"),
            bootstrap_refresh_token=field("refresh_token"),
            token_store_path=token_store,
            registers=int(registers) if registers is not None else None,
            rate_window_seconds=float(numbers["rate_window_seconds"] or 300.0),
            api_version=field("api_version") or "2.0",
            timeout=float(numbers["timeout"] or 60.0),
            max_retry_seconds=float(numbers["max_retry_seconds"] or 900.0),
            token_store=token_store_kind,
            ledger_conn_id=field("ledger_conn_id") or "po_sync_db",
            connect_url=field("connect_url"),
        )
