"""How the sandbox checks credentials: OAuth 1.0a TBA signatures and OAuth 2.0 M2M client assertions.

The TBA check rebuilds the RFC 5849 signature base string from the request exactly as NetSuite does:
the Host header the client used, the raw path, query parameters decoded with form rules (``+`` is a space)
plus every ``oauth_*`` header parameter except ``realm`` and ``oauth_signature`` (``oauth_body_hash``
included), form-encoded body parameters, all re-encoded with the RFC 3986 unreserved set (``!`` → ``%21``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from po_sync_sandbox.netsuite.nserrors import NsError, invalid_login

ALLOWED_JWT_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


def pct(value: str) -> str:
    """RFC 3986 percent-encoding with only ``A-Z a-z 0-9 - . _ ~`` left as is."""
    return quote(value, safe="-._~")


def parse_oauth_header(header: str) -> dict[str, str]:
    """Parse ``Authorization: OAuth k="v", ...`` into decoded parameters."""
    if not header.lower().startswith("oauth "):
        return {}
    params: dict[str, str] = {}
    for part in header[6:].split(","):
        part = part.strip()
        if not part or "=" not in part:
            continue
        key, _, value = part.partition("=")
        params[unquote(key.strip())] = unquote(value.strip().strip('"'))
    return params


def signature_base_string(
    method: str,
    scheme: str,
    host: str,
    raw_path: str,
    query: str,
    oauth_params: dict[str, str],
    form_body: str | None,
) -> str:
    """The RFC 5849 §3.4.1 base string.

    :param host: the Host header as sent (``127.0.0.1:8123``); default ports are dropped.
    :param raw_path: the path as it appeared on the request line.
    :param query: the raw query string.
    :param oauth_params: decoded header parameters.
    :param form_body: an ``application/x-www-form-urlencoded`` body, if any.
    """
    host = host.lower()
    if (scheme == "http" and host.endswith(":80")) or (scheme == "https" and host.endswith(":443")):
        host = host.rsplit(":", 1)[0]
    base_uri = f"{scheme}://{host}{raw_path}"
    pairs: list[tuple[str, str]] = list(parse_qsl(query, keep_blank_values=True))
    if form_body:
        pairs.extend(parse_qsl(form_body, keep_blank_values=True))
    pairs.extend((k, v) for k, v in oauth_params.items() if k not in ("realm", "oauth_signature"))
    encoded = sorted((pct(k), pct(v)) for k, v in pairs)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join([method.upper(), pct(base_uri), pct(normalized)])


def hmac_sha256_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """``base64(HMAC-SHA256(pct(cs)&pct(ts), base))``."""
    key = f"{pct(consumer_secret)}&{pct(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha256).digest()).decode()


@dataclass
class SandboxCredentials:
    """Sandbox-only credentials the server accepts (generated once per state dir, never real secrets)."""

    account_id: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    client_id: str
    certificates: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # kid -> {algorithm, private_key, public_key}

    @classmethod
    def load_or_create(cls, state_dir: Path, account_id: str) -> SandboxCredentials:
        """Read ``netsuite_credentials.json`` from ``state_dir`` or create it (EC P-256 and RSA 3072 keys)."""
        path = state_dir / "netsuite_credentials.json"
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("account_id") == account_id:
                return cls(**data)
        certificates = {}
        ec_key = ec.generate_private_key(ec.SECP256R1())
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        for kid, algorithm, key in (("sandbox-es256", "ES256", ec_key), ("sandbox-ps256", "PS256", rsa_key)):
            certificates[kid] = {
                "algorithm": algorithm,
                "private_key": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
                "public_key": key.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode(),
            }
        creds = cls(
            account_id=account_id,
            consumer_key=secrets.token_hex(32),
            consumer_secret=secrets.token_hex(32),
            token_id=secrets.token_hex(32),
            token_secret=secrets.token_hex(32),
            client_id=secrets.token_hex(32),
            certificates=certificates,
        )
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(creds.__dict__, indent=2))
        path.chmod(0o600)
        return creds


class Authenticator:
    """Checks every request's credentials and issues M2M access tokens.

    :param credentials: what the sandbox accepts.
    :param realm: the account id as the OAuth realm (upper case, underscore).
    """

    def __init__(self, credentials: SandboxCredentials, realm: str) -> None:
        self.credentials = credentials
        self.realm = realm
        self._lock = threading.RLock()
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.failures = 0

    # -- TBA --------------------------------------------------------------------------------------

    def check(
        self,
        *,
        method: str,
        host: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        max_skew: int,
        reject_replay: bool,
        now: float | None = None,
    ) -> str:
        """Authenticate one API request; returns ``tba`` or ``m2m``.

        :raises NsError: 401 ``INVALID_LOGIN``.
        """
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return self._check_bearer(auth[7:].strip(), now)
        params = parse_oauth_header(auth)
        if not params:
            raise self._fail()
        creds = self.credentials
        if params.get("realm") != self.realm:
            raise self._fail()
        if (
            params.get("oauth_signature_method") != "HMAC-SHA256"
            or params.get("oauth_version", "1.0") != "1.0"
        ):
            raise self._fail()
        if (
            params.get("oauth_consumer_key") != creds.consumer_key
            or params.get("oauth_token") != creds.token_id
        ):
            raise self._fail()
        now = time.time() if now is None else now
        try:
            timestamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            raise self._fail() from None
        if abs(now - timestamp) > max_skew:
            raise self._fail()
        nonce = params.get("oauth_nonce", "")
        if not nonce:
            raise self._fail()
        if "oauth_body_hash" in params:
            expected_hash = base64.b64encode(hashlib.sha1(body).digest()).decode()
            if not hmac.compare_digest(params["oauth_body_hash"], expected_hash):
                raise self._fail()
        content_type = headers.get("content-type", "")
        form_body = (
            body.decode("utf-8", "replace")
            if content_type.startswith("application/x-www-form-urlencoded")
            else None
        )
        base = signature_base_string(method, "http", host, raw_path, query, params, form_body)
        expected = hmac_sha256_signature(base, creds.consumer_secret, creds.token_secret)
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            raise self._fail()
        if reject_replay:
            with self._lock:
                key = (nonce, str(timestamp))
                if key in self._nonces:
                    raise self._fail()
                self._nonces[key] = now
                while self._nonces and (
                    len(self._nonces) > 100_000 or next(iter(self._nonces.values())) < now - 2 * max_skew
                ):
                    self._nonces.popitem(last=False)
        return "tba"

    # -- M2M --------------------------------------------------------------------------------------

    def _check_bearer(self, token: str, now: float | None) -> str:
        now = time.time() if now is None else now
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or expires <= now:
            raise self._fail()
        return "m2m"

    def issue_token(self, form: dict[str, str], token_urls: set[str], lifetime: int) -> dict[str, Any]:
        """The client-credentials grant: verify the JWT assertion, mint an opaque bearer token.

        Checks ``grant_type``, ``client_assertion_type``, ``alg`` (PS*/ES*, not RS256), ``kid`` (a known
        certificate), the signature, ``iss`` (client id), ``aud`` (the token URL), ``exp`` in the future and
        at most 60 minutes after ``iat``, and a ``scope`` holding ``rest_webservices``.

        :raises NsError: 400 with an OAuth ``error`` (rendered by the server as ``{"error": ...}``).
        """
        if form.get("grant_type") != "client_credentials":
            raise self._oauth_error("unsupported_grant_type")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise self._oauth_error("invalid_request")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise self._oauth_error("invalid_request") from None
        alg = header.get("alg")
        cert = self.credentials.certificates.get(str(header.get("kid")))
        if alg not in ALLOWED_JWT_ALGORITHMS or cert is None or cert["algorithm"][:2] != str(alg)[:2]:
            raise self._oauth_error("invalid_client")
        try:
            claims = jwt.decode(
                assertion,
                cert["public_key"],
                algorithms=[str(alg)],
                audience=list(token_urls),
                options={"require": ["exp", "iat", "iss", "aud"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            raise self._oauth_error("invalid_grant") from None
        if claims.get("iss") != self.credentials.client_id:
            raise self._oauth_error("invalid_client")
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise self._oauth_error("invalid_grant")
        scope = claims.get("scope", "")
        scopes = scope if isinstance(scope, list) else [s.strip() for s in str(scope).split(",")]
        if "rest_webservices" not in scopes:
            raise self._oauth_error("invalid_scope")
        token = secrets.token_urlsafe(48)
        with self._lock:
            now = time.time()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + lifetime
            self.tokens_issued += 1
        return {"access_token": token, "expires_in": str(lifetime), "token_type": "bearer"}

    def expire_tokens(self) -> None:
        """Make every issued access token expire now (tests token refresh)."""
        with self._lock:
            self._tokens.clear()

    def _fail(self) -> NsError:
        with self._lock:
            self.failures += 1
        return invalid_login()

    def _oauth_error(self, error: str) -> NsError:
        with self._lock:
            self.failures += 1
        exc = NsError(400, error, error)
        exc.headers["X-Oauth-Error"] = error
        return exc
