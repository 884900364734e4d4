"""OAuth 2.0 of the X-Series sandbox: the ``/connect`` consent step, ``/api/1.0/token`` and bearer checks.

As documented (``reference/external-systems.md`` §1.2): authorization-code grant only; the token endpoint
is form-encoded with the client credentials in the body; a refresh issues a new pair and **revokes the
refresh token it used** (reusing it fails); responses carry ``expires`` (epoch) and ``expires_in``.
Personal tokens (Setup -> Personal Tokens, optional expiry) are bearer tokens too. Token values are
random; nothing here is a real secret.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from po_sync_sandbox.xseries.store import ApiError

CREDENTIALS_FILE = "xseries_credentials.json"


@dataclass
class Grant:
    """An issued access token: who it belongs to and until when it is good."""

    token: str
    client_id: str | None  # None for personal tokens
    expires: float | None
    revoked: bool = False


@dataclass
class SandboxApp:
    """The registered OAuth application (client) and a personal token of the retailer."""

    client_id: str
    client_secret: str
    redirect_uri: str
    personal_token: str

    @classmethod
    def load_or_create(cls, state_dir: Path) -> SandboxApp:
        """Keep credentials stable across restarts of the same state directory (0600 file)."""
        path = Path(state_dir) / CREDENTIALS_FILE
        if path.exists():
            return cls(**json.loads(path.read_text()))
        app = cls(
            client_id="posync-" + secrets.token_hex(8),
            client_secret=secrets.token_urlsafe(24),
            redirect_uri="http://localhost:8080/po-sync/xseries/callback",
            personal_token="lsxs_pt_" + secrets.token_urlsafe(24),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(app.__dict__, indent=2))
        path.chmod(0o600)
        return app


@dataclass
class OAuthServer:
    """Codes, access tokens and refresh tokens of one retailer. Thread-safe.

    :param app: the registered client.
    :param domain_prefix: the retailer's domain prefix, returned with codes and tokens.
    """

    app: SandboxApp
    domain_prefix: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, tuple[str, str, float]] = field(
        default_factory=dict
    )  # code -> (client, redirect, expiry)
    grants: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> client_id
    refresh_to_access: dict[str, str] = field(default_factory=dict)
    revoked_refresh: set[str] = field(default_factory=set)
    personal_expires: float | None = None
    issued: int = 0
    refreshed: int = 0
    refresh_reuse_rejected: int = 0

    # -- consent (the person clicking "Allow") ----------------------------------------------------

    def authorize(self, params: dict[str, str], code_ttl: float) -> str:
        """``GET /connect``: check the request and return the redirect URL with ``code`` and ``state``."""
        if params.get("response_type") != "code":
            raise ApiError(400, "unsupported_response_type", "response_type must be code")
        if params.get("client_id") != self.app.client_id:
            raise ApiError(400, "invalid_client", "unknown client_id")
        redirect = params.get("redirect_uri") or self.app.redirect_uri
        if redirect != self.app.redirect_uri:
            raise ApiError(400, "invalid_request", "redirect_uri does not match the application's")
        code = secrets.token_urlsafe(18)
        with self.lock:
            self.codes[code] = (self.app.client_id, redirect, time.time() + code_ttl)
        sep = "&" if "?" in redirect else "?"
        query = f"code={code}&domain_prefix={self.domain_prefix}&user_id=sandbox-user"
        if params.get("state"):
            from urllib.parse import quote

            query += f"&state={quote(params['state'])}"
        return f"{redirect}{sep}{query}"

    def new_code(self, code_ttl: float) -> str:
        """A code as if a person had approved the app just now (for tests and the CLI demo)."""
        code = secrets.token_urlsafe(18)
        with self.lock:
            self.codes[code] = (self.app.client_id, self.app.redirect_uri, time.time() + code_ttl)
        return code

    # -- the token endpoint -----------------------------------------------------------------------

    def token(
        self, form: dict[str, str], *, ttl: int, revoked_status: int, revoke_access: bool
    ) -> dict[str, Any]:
        """``POST /api/1.0/token`` with a form body; raises :class:`ApiError` in OAuth's error shape."""
        if form.get("client_id") != self.app.client_id or form.get("client_secret") != self.app.client_secret:
            raise ApiError(401, "invalid_client", "client authentication failed")
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                entry = self.codes.pop(form.get("code", ""), None)
                if entry is None or entry[2] < time.time():
                    raise ApiError(400, "invalid_grant", "the authorization code is invalid, used or expired")
                if form.get("redirect_uri") not in (None, entry[1]):
                    raise ApiError(
                        400, "invalid_grant", "redirect_uri does not match the authorization request"
                    )
                return self._issue(ttl)
            if grant_type == "refresh_token":
                old = form.get("refresh_token", "")
                if old not in self.refresh:
                    if old in self.revoked_refresh:
                        self.refresh_reuse_rejected += 1
                    raise ApiError(revoked_status, "invalid_grant", "the refresh token is invalid or revoked")
                del self.refresh[old]
                self.revoked_refresh.add(old)
                old_access = self.refresh_to_access.pop(old, None)
                if revoke_access and old_access in self.grants:
                    self.grants[old_access].revoked = True
                self.refreshed += 1
                return self._issue(ttl)
        raise ApiError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _issue(self, ttl: int) -> dict[str, Any]:
        access = "lsxs_at_" + secrets.token_urlsafe(24)
        refresh = "lsxs_rt_" + secrets.token_urlsafe(24)
        expires = int(time.time()) + ttl
        self.grants[access] = Grant(access, self.app.client_id, float(expires))
        self.refresh[refresh] = self.app.client_id
        self.refresh_to_access[refresh] = access
        self.issued += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires": expires,
            "expires_in": ttl,
            "refresh_token": refresh,
            "domain_prefix": self.domain_prefix,
            "scope": "",
        }

    # -- bearer check -----------------------------------------------------------------------------

    def check(self, authorization: str | None) -> str:
        """Return the rate-limit bucket of a valid ``Authorization: Bearer`` header, else 401."""
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "Unauthorized", "missing bearer token")
        token = authorization[len("Bearer ") :].strip()
        if token == self.app.personal_token:
            if self.personal_expires is not None and self.personal_expires < time.time():
                raise ApiError(401, "Unauthorized", "the personal token has expired")
            return "personal"
        with self.lock:
            grant = self.grants.get(token)
        if grant is None or grant.revoked:
            raise ApiError(401, "Unauthorized", "invalid access token")
        if grant.expires is not None and grant.expires < time.time():
            raise ApiError(401, "Unauthorized", "the access token has expired")
        return f"app:{grant.client_id}"

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired now (refresh tokens stay valid)."""
        with self.lock:
            for grant in self.grants.values():
                grant.expires = time.time() - 1

    def revoke_all_refresh_tokens(self) -> None:
        """Revoke every refresh token (as a retailer disconnecting the app does)."""
        with self.lock:
            self.revoked_refresh.update(self.refresh)
            self.refresh.clear()

    def seed_pair(self, ttl: int) -> dict[str, Any]:
        """Issue a pair directly, as if the one-time authorize step had happened."""
        with self.lock:
            return self._issue(ttl)
