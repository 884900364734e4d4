"""Authentication for SuiteTalk REST: OAuth 1.0a TBA (HMAC-SHA256) and OAuth 2.0 client credentials (M2M).

Neither class ever puts a secret into a log line, an exception message or ``repr``.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import jwt
import requests
from requests.auth import AuthBase
from requests_oauthlib import OAuth1

from po_sync.exceptions import ConfigurationError
from po_sync.netsuite.account import REST_PATH
from po_sync.netsuite.errors import (
    SYSTEM,
    NetSuiteAuthenticationError,
    NetSuiteTokenEndpointError,
    _retry_after,
)

SUPPORTED_JWT_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TOKEN_REFRESH_MARGIN_SECONDS = 120.0
ASSERTION_LIFETIME_SECONDS = 300


@dataclass(frozen=True, repr=False)
class TbaCredentials:
    """Token-Based Authentication secrets. ``repr`` hides them."""

    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str

    def __repr__(self) -> str:
        return "TbaCredentials(consumer_key=***, token_id=***)"


@dataclass(frozen=True, repr=False)
class M2MCredentials:
    """OAuth 2.0 client-credentials settings. ``repr`` hides the key."""

    client_id: str
    certificate_id: str
    private_key: str
    algorithm: str = "PS256"
    scope: str = "rest_webservices"

    def __repr__(self) -> str:
        return f"M2MCredentials(certificate_id={self.certificate_id!r}, algorithm={self.algorithm!r})"


def tba_auth(credentials: TbaCredentials, realm: str) -> AuthBase:
    """An OAuth 1.0a signer exactly as NetSuite expects it (HMAC-SHA256, realm, RFC 3986 encoding).

    requests-oauthlib percent-encodes ``!`` (so ``/!transform/`` paths sign correctly) and decodes ``+``
    in query strings as a space before signing; JSON bodies are not signed.

    :param credentials: consumer and token secrets.
    :param realm: the account id, upper case with an underscore.
    """
    return OAuth1(
        client_key=credentials.consumer_key,
        client_secret=credentials.consumer_secret,
        resource_owner_key=credentials.token_id,
        resource_owner_secret=credentials.token_secret,
        realm=realm,
        signature_method="HMAC-SHA256",
    )


class M2MTokenAuth(AuthBase):
    """Bearer auth with tokens from the client-credentials grant, cached until shortly before expiry.

    :param credentials: client id, certificate id (``kid``), private key and algorithm.
    :param token_url: the token endpoint (also the assertion's ``aud``).
    :param session: the session used for the token request.
    :param timeout: seconds for the token request.
    """

    def __init__(
        self, credentials: M2MCredentials, token_url: str, session: requests.Session, timeout: float = 30.0
    ) -> None:
        if credentials.algorithm not in SUPPORTED_JWT_ALGORITHMS:
            raise ConfigurationError(
                f"NetSuite M2M algorithm must be one of {', '.join(SUPPORTED_JWT_ALGORITHMS)} "
                f"(RS256 is no longer accepted), got {credentials.algorithm!r}"
            )
        self._credentials = credentials
        self._token_url = token_url
        self._session = session
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"M2MTokenAuth({self._credentials!r})"

    def client_assertion(self) -> str:
        """A signed JWT for the token request (``iss`` client id, ``aud`` token URL, 5-minute ``exp``)."""
        now = int(time.time())
        payload = {
            "iss": self._credentials.client_id,
            "scope": [s.strip() for s in self._credentials.scope.split(",") if s.strip()],
            "aud": self._token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        try:
            return jwt.encode(
                payload,
                self._credentials.private_key,
                algorithm=self._credentials.algorithm,
                headers={"kid": self._credentials.certificate_id, "typ": "JWT"},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigurationError(
                f"NetSuite M2M private key cannot sign {self._credentials.algorithm}: {type(exc).__name__}"
            ) from None

    def token(self) -> str:
        """A valid access token, fetched when none is cached or the cached one is about to expire."""
        with self._lock:
            if self._token and time.time() < self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
                return self._token
            self._token, self._expires_at = self._fetch()
            self.tokens_fetched += 1
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after a 401)."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def _fetch(self) -> tuple[str, float]:
        path = f"{REST_PATH}/auth/oauth2/v1/token"
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.client_assertion(),
        }
        try:
            # a bare request: the session's own auth is this object, which must not sign its own token call
            response = requests.post(self._token_url, data=data, timeout=self._timeout)
        except requests.RequestException as exc:
            kind = type(exc).__name__
            raise NetSuiteTokenEndpointError(
                f"NetSuite token request failed: {kind}", system=SYSTEM, code=kind, path=path
            ) from None
        if response.status_code != 200:
            code: str | None = None
            try:
                body = response.json()
                if isinstance(body, dict):  # OAuth's {"error": ...} or NetSuite's o:errorDetails
                    code = body.get("error")
                    details = body.get("o:errorDetails")
                    if not code and isinstance(details, list) and details and isinstance(details[0], dict):
                        code = details[0].get("o:errorCode")
            except ValueError:
                pass
            status = response.status_code
            if status == 429 or status == 408 or status >= 500:  # the endpoint, not the credentials
                raise NetSuiteTokenEndpointError(
                    f"NetSuite's token endpoint is unavailable (HTTP {status}); try again later",
                    system=SYSTEM,
                    status=status,
                    code=code or f"HTTP_{status}",
                    path=path,
                    retry_after=_retry_after(response),
                )
            raise NetSuiteAuthenticationError(
                "NetSuite refused the client-credentials token request",
                system=SYSTEM,
                status=status,
                code=code or "INVALID_LOGIN",
                path=path,
            )
        body = response.json()
        lifetime = float(body.get("expires_in", 3600))
        return str(body["access_token"]), time.time() + lifetime

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request
