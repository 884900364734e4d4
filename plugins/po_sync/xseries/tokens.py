"""OAuth 2.0 tokens for X-Series: the one-time code exchange, refresh before expiry, rotation kept safe.

X-Series **rotates refresh tokens**: the refresh token used is revoked as soon as the new pair is issued
(``reference/external-systems.md`` §1.2). So:

- the new pair is written to the token store (atomically: temp file + rename, mode 0600) before the
  access token is used, and before anything else can fail;
- one refresh at a time across processes: the refresher holds an exclusive file lock; a process that
  waited for the lock re-reads the store and uses the pair the winner stored instead of refreshing with a
  token that is now revoked (the loser re-reads);
- a refused refresh token is an :class:`~po_sync.xseries.errors.XSeriesAuthError`: a person must run the
  authorize step again; nothing is retried with it.

Request bodies and response parsing come from ``oauthlib`` (the library under requests-oauthlib); the
POST goes through our own session so loopback sandboxes work without ``OAUTHLIB_INSECURE_TRANSPORT``.
Token values never reach logs, exceptions or XComs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient

from po_sync.exceptions import ConfigurationError
from po_sync.xseries.connection import XSeriesSettings
from po_sync.xseries.errors import (
    SYSTEM,
    XSeriesAuthError,
    XSeriesUnavailable,
    error_from_exception,
    error_from_response,
)

log = logging.getLogger(__name__)

#: Refresh when the access token has less than this fraction of its lifetime left (or 10 minutes,
#: whichever is longer), so a task never starts a batch on a token about to expire.
REFRESH_MARGIN_SECONDS = 600.0


@dataclass(frozen=True, repr=False)
class TokenPair:
    """An access token, the refresh token that comes with it, and when the access token expires.

    :param access_token: the bearer token.
    :param refresh_token: the (single-use) refresh token.
    :param expires_at: epoch seconds (the response's ``expires``, else now + ``expires_in``).
    :param obtained_at: epoch seconds when it was issued.
    :param generation: how many refreshes led here (a counter the tests and the ops page read).
    """

    access_token: str
    refresh_token: str
    expires_at: float
    obtained_at: float
    generation: int = 0

    def __repr__(self) -> str:
        return f"TokenPair(generation={self.generation}, expires_at={self.expires_at:.0f})"

    def fresh_for(self, seconds: float, *, now: float | None = None) -> bool:
        """Whether the access token is still good ``seconds`` from now."""
        return bool(self.access_token) and self.expires_at - seconds > (time.time() if now is None else now)

    @property
    def lifetime(self) -> float:
        return max(0.0, self.expires_at - self.obtained_at)


class FileTokenStore:
    """The token pair in a JSON file (0600), replaced atomically; an exclusive ``flock`` on a lock file
    beside it serialises refreshes across every process that shares the file.

    :param path: the store file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def read(self) -> TokenPair | None:
        """The stored pair, or None when there is none yet."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ConfigurationError(f"X-Series token store {self.path} is not valid JSON") from exc
        return TokenPair(**data)

    def write(self, pair: TokenPair) -> None:
        """Write via a temp file + fsync + rename: a reader sees the old pair or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(pair), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[FileTokenStore]:
        """Hold the store's exclusive lock (blocks until the current holder is done)."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class LedgerTokenStore:
    """The token pair in the ledger's ``sync_credential`` row of the connection (Fernet-encrypted);
    :meth:`locked` holds the row, so refreshes are serialised across every worker of the deployment.

    :param ledger: the ledger (``po_sync_db``).
    :param conn_id: the X-Series connection the pair belongs to.
    """

    KIND = "xseries_oauth"

    def __init__(self, ledger: Any, *, conn_id: str) -> None:
        from po_sync.ledger.credentials import CredentialStore

        self.conn_id = conn_id
        self.credentials = CredentialStore(ledger, conn_id=conn_id, kind=self.KIND)

    def __repr__(self) -> str:
        return f"LedgerTokenStore(conn_id={self.conn_id!r})"

    @staticmethod
    def _pair(value: dict[str, Any] | None) -> TokenPair | None:
        return TokenPair(**value) if value else None

    def read(self) -> TokenPair | None:
        return self._pair(self.credentials.read())

    @contextlib.contextmanager
    def locked(self) -> Iterator[_HeldRow]:
        with self.credentials.locked() as row:
            yield _HeldRow(row)


class _HeldRow:
    """The held ``sync_credential`` row, read and written as a :class:`TokenPair`."""

    def __init__(self, row: Any) -> None:
        self.row = row
        self.updated_by = "po-sync"

    def read(self) -> TokenPair | None:
        return LedgerTokenStore._pair(self.row.read())

    def write(self, pair: TokenPair) -> None:
        self.row.write(
            asdict(pair),
            generation=pair.generation,
            expires_at=datetime.fromtimestamp(pair.expires_at, UTC),
            updated_by=self.updated_by,
        )


class TokenManager:
    """Hands out a valid access token, refreshing (once, across processes) before it expires.

    :param settings: the connection's settings (client id/secret, token URL, bootstrap refresh token).
    :param session: the HTTP session for the token endpoint.
    :param store: where the pair lives: a :class:`LedgerTokenStore` (what the hook passes) or a
        :class:`FileTokenStore` (default: the settings' token store file).
    :param margin: refresh when fewer seconds than this are left.
    :param conn_id: the connection's id, named in errors (never a token).
    """

    def __init__(
        self,
        settings: XSeriesSettings,
        session: requests.Session,
        store: FileTokenStore | LedgerTokenStore | None = None,
        *,
        margin: float = REFRESH_MARGIN_SECONDS,
        conn_id: str = "xseries",
    ) -> None:
        if settings.auth_mode != "oauth" or not settings.client_id or not settings.client_secret:
            raise ConfigurationError("TokenManager needs an oauth connection with client id and secret")
        self.settings = settings
        self.session = session
        self.store = store or FileTokenStore(settings.token_store_path)
        self.margin = margin
        self.conn_id = conn_id
        self.client = WebApplicationClient(settings.client_id)
        self.refreshes = 0
        self._pair: TokenPair | None = None  # this process's copy, so a fresh token costs no store read

    # -- the access token -------------------------------------------------------------------------

    def access_token(self) -> str:
        """A token good for at least ``margin`` more seconds (refreshing first when needed)."""
        pair = self._pair
        if pair is not None and pair.fresh_for(self._margin_for(pair)):
            return pair.access_token
        pair = self._pair = self.store.read()
        if pair is not None and pair.fresh_for(self._margin_for(pair)):
            return pair.access_token
        return self.refresh(reason="expiring").access_token

    def _margin_for(self, pair: TokenPair) -> float:
        # never more than half the lifetime, so short-lived tokens are still used
        return min(self.margin, pair.lifetime / 2) if pair.lifetime else self.margin

    def refresh(
        self, *, reason: str, stale_access_token: str | None = None, force: bool = False
    ) -> TokenPair:
        """Refresh under the store's lock; a process that waited re-reads and keeps the winner's pair.

        :param reason: for the log line (``expiring``, ``401``, ``scheduled``).
        :param stale_access_token: the token the API just refused: refresh only if it is still the stored
            one (another process may already have replaced it).
        :param force: refresh even if the stored pair is fresh (the scheduled rotation).
        """
        with self.store.locked() as held:
            pair = held.read()
            if pair is not None and not force:
                if stale_access_token is not None and pair.access_token != stale_access_token:
                    self._pair = pair
                    return pair  # someone refreshed since that token was handed out
                if stale_access_token is None and pair.fresh_for(self._margin_for(pair)):
                    self._pair = pair
                    return pair  # the winner of the race already stored a fresh pair
            refresh_token = pair.refresh_token if pair is not None else self.settings.bootstrap_refresh_token
            if not refresh_token:
                raise XSeriesAuthError(
                    f"X-Series connection {self.conn_id} has no refresh token: run the authorize step "
                    "(the po-sync X-Series authorize page, or python -m po_sync.xseries.authorize)",
                    system=SYSTEM,
                    code="NO_REFRESH_TOKEN",
                )
            body = self.client.prepare_refresh_body(
                refresh_token=refresh_token,
                client_id=self.settings.client_id,
                client_secret=self.settings.client_secret,
            )
            try:
                new = self._token_request(body, generation=(pair.generation + 1) if pair else 1)
            except XSeriesAuthError as exc:
                if exc.status is not None and exc.status < 500 and exc.status != 429:
                    raise XSeriesAuthError(
                        f"X-Series connection {self.conn_id}: the token endpoint refused the stored refresh "
                        f"token ({exc.code}); every X-Series flow of this connection is stopped until a person "
                        "authorizes it again (the po-sync X-Series authorize page, or python -m "
                        "po_sync.xseries.authorize)",
                        system=SYSTEM,
                        status=exc.status,
                        code=exc.code,
                        detail=exc.detail,
                        path=exc.path,
                    ) from None
                raise
            if hasattr(held, "updated_by"):
                held.updated_by = f"refresh:{reason}"
            held.write(new)  # before anything else: the old refresh token is already revoked
            self.refreshes += 1
            log.info("X-Series tokens refreshed (%s); generation %s", reason, new.generation)
        self._pair = new  # committed (the lock block ended without an exception): safe to use
        return new

    def exchange_code(self, code: str, *, redirect_uri: str | None = None, actor: str = "cli") -> TokenPair:
        """The one-time authorize step: trade a code from the redirect for the first pair and store it.

        :param code: the ``code`` of the redirect (single use).
        :param redirect_uri: the redirect URI the consent page was given (default: the connection's).
        :param actor: who authorized (kept beside the stored pair, e.g. ``authorize:alice``).
        """
        with self.store.locked() as held:
            previous = held.read()
            body = self.client.prepare_request_body(
                code=code,
                redirect_uri=redirect_uri or self.settings.redirect_uri,
                client_secret=self.settings.client_secret,
                include_client_id=True,
            )
            pair = self._token_request(body, generation=(previous.generation + 1) if previous else 0)
            if hasattr(held, "updated_by"):
                held.updated_by = f"authorize:{actor}"
            held.write(pair)
            log.info("X-Series connection %s authorized: first token pair stored", self.conn_id)
        self._pair = pair
        return pair

    def authorization_url(self, *, state: str, connect_url: str | None = None) -> str:
        """Where a person approves the app (``https://secure.retail.lightspeed.app/connect`` by default).

        :param state: an unguessable value the callback must return (CSRF guard).
        :param connect_url: another consent page (the legacy ``secure.vendhq.com`` or a sandbox's).
        """
        query = {"response_type": "code", "client_id": self.settings.client_id, "state": state}
        if self.settings.redirect_uri:
            query["redirect_uri"] = self.settings.redirect_uri
        return f"{connect_url or 'https://secure.retail.lightspeed.app/connect'}?{urlencode(query)}"

    # -- the token endpoint -----------------------------------------------------------------------

    def _token_request(self, body: str, *, generation: int) -> TokenPair:
        path = "/api/1.0/token"
        try:
            response = self.session.post(
                self.settings.token_url,
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                timeout=(10.0, self.settings.timeout),
            )
        except requests.RequestException as exc:
            raise error_from_exception(exc, method="POST", path=path) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise error_from_response(response, method="POST", path=path)
        try:
            token: dict[str, Any] = dict(self.client.parse_request_body_response(response.text))
        except OAuth2Error as exc:
            raise XSeriesAuthError(
                f"X-Series token endpoint refused the request: {exc.error}",
                system=SYSTEM,
                status=response.status_code,
                code=exc.error,
                detail=exc.description,
                path=path,
            ) from None
        except ValueError:
            raise XSeriesUnavailable(
                "X-Series token endpoint answered something that is not a token",
                system=SYSTEM,
                status=response.status_code,
                path=path,
            ) from None
        if response.status_code >= 400 or not token.get("access_token") or not token.get("refresh_token"):
            raise XSeriesAuthError(
                "X-Series token endpoint refused the request",
                system=SYSTEM,
                status=response.status_code,
                code=str(token.get("error") or "invalid_token_response"),
                path=path,
            )
        now = time.time()
        expires = (
            token.get("expires") or token.get("expires_at") or now + float(token.get("expires_in") or 3600)
        )
        return TokenPair(
            access_token=str(token["access_token"]),
            refresh_token=str(token["refresh_token"]),
            expires_at=float(expires),
            obtained_at=now,
            generation=generation,
        )
