"""The X-Series authorize page of the po-sync app (``/po-sync/xseries/...``): a person approves the app
for a store, and the first token pair is stored where every task reads it (the connection's ledger row).

- ``GET /po-sync/xseries/authorize?conn_id=xseries_default`` starts the authorization-code grant: it
  redirects to the store's consent page (``connect_url``, Lightspeed's ``secure.retail.lightspeed.app
  /connect`` by default) with ``response_type=code``, the client id, the redirect URI and a ``state``.
- ``GET /po-sync/xseries/callback?code=...&state=...`` is the redirect URI registered for the app: it
  checks the state, trades the code at the store's token endpoint (form-encoded, via the hook's
  :class:`~po_sync.xseries.tokens.TokenManager`) and stores the pair under the connection's lock.

Both need a logged-in Airflow user allowed to edit the connection (the auth manager's
``is_authorized_connection(method="PUT")``, the check Airflow's own connection endpoints make).

**State (CSRF)**: ``<conn_id>.<nonce>.<issued>.<hmac>``, the HMAC binding the user, the connection, the
nonce and the time under the api-server's key; the nonce is also set in an HttpOnly, SameSite=Lax cookie
scoped to ``/po-sync/xseries``. The callback accepts only a state signed for the same user, not older than
ten minutes, whose nonce matches the cookie of this browser; the cookie is cleared after one use. So a
forged or replayed redirect (someone else's code pushed into an admin's browser) is refused before any
token request. No page shows a token.
"""

from __future__ import annotations

import hmac
import html
import logging
import re
import secrets
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from po_sync.exceptions import ConfigurationError, ExternalSystemError
from po_sync.ui import access

log = logging.getLogger(__name__)

#: How long a person has between leaving for the consent page and coming back.
STATE_TTL_SECONDS = 600
STATE_COOKIE = "po_sync_xseries_state"
COOKIE_PATH = "/po-sync/xseries"
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


#: the logged-in Airflow user (the UI's cookie or a Bearer token)
UserDep = Annotated[Any, Depends(get_user)]


def _hook(conn_id: str) -> Any:
    from po_sync.xseries.hook import XSeriesHook

    return XSeriesHook(conn_id)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _settings(conn_id: str) -> Any:
    if not _CONN_ID.fullmatch(conn_id):
        raise HTTPException(status_code=400, detail="conn_id is not a connection id")
    hook = _hook(conn_id)
    try:
        settings = hook.settings
    except ConfigurationError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - AirflowNotFoundException under several import paths
        if type(exc).__name__ == "AirflowNotFoundException":
            raise HTTPException(status_code=404, detail=f"no connection {conn_id}") from None
        raise
    finally:
        hook.close()
    if settings.auth_mode != "oauth":
        raise HTTPException(status_code=400, detail=f"connection {conn_id} uses a personal token, not OAuth")
    return settings


def make_state(user: Any, conn_id: str, *, now: float | None = None) -> tuple[str, str]:
    """A new ``(state, nonce)`` for ``user`` authorizing ``conn_id``."""
    nonce = secrets.token_urlsafe(18)
    issued = str(int(time.time() if now is None else now))
    mac = access.sign("xseries-authorize", access.user_name(user), conn_id, nonce, issued)
    return f"{conn_id}.{nonce}.{issued}.{mac}", nonce


def check_state(user: Any, state: str, cookie: str | None, *, now: float | None = None) -> str:
    """The connection id a valid ``state`` names; 400 for anything forged, stale, replayed or foreign."""
    refused = HTTPException(
        status_code=400,
        detail="The authorization answer does not belong to this browser and user (state check failed, "
        "or it is older than ten minutes): start again from the authorize page.",
    )
    try:
        conn_id, nonce, issued, mac = state.rsplit(".", 3)
        age = (time.time() if now is None else now) - int(issued)
    except ValueError:
        raise refused from None
    expected = access.sign("xseries-authorize", access.user_name(user), conn_id, nonce, issued)
    if not hmac.compare_digest(mac, expected) or not 0 <= age <= STATE_TTL_SECONDS:
        raise refused
    if not cookie or not hmac.compare_digest(cookie, nonce):
        raise refused
    return conn_id


def _redirect_uri(request: Request, settings: Any) -> str:
    """The connection's registered redirect URI, else this server's callback address."""
    if settings.redirect_uri:
        return str(settings.redirect_uri)
    return str(request.url_for("xseries_callback"))


def create_router() -> APIRouter:
    """The two routes, for :func:`po_sync.ui.ledger_app.create_app`'s ``routers``."""
    router = APIRouter(prefix="/xseries")

    @router.get("/authorize", name="xseries_authorize")
    def authorize(
        request: Request,
        user: UserDep,
        conn_id: Annotated[str, Query(max_length=250)] = "xseries_default",
    ) -> Response:
        access.require_edit_connection(user, conn_id)
        settings = _settings(conn_id)
        hook = _hook(conn_id)
        try:
            state, nonce = make_state(user, conn_id)
            url = hook.tokens.authorization_url(state=state, connect_url=settings.connect_url)
        finally:
            hook.close()
        if not settings.redirect_uri:  # no registered URI on the connection: send this server's callback
            url += "&" + urlencode({"redirect_uri": _redirect_uri(request, settings)})
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            STATE_COOKIE,
            nonce,
            max_age=STATE_TTL_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        log.info("X-Series authorize started for %s by %s", conn_id, access.user_name(user))
        return response

    @router.get("/callback", name="xseries_callback")
    def callback(
        request: Request,
        user: UserDep,
        state: Annotated[str, Query(max_length=600)] = "",
        code: Annotated[str | None, Query(max_length=2000)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        conn_id = check_state(user, state, request.cookies.get(STATE_COOKIE))
        access.require_edit_connection(user, conn_id)
        if error or not code:
            page = _page(
                "X-Series was not authorized",
                f"<p id='result'>The store answered {html.escape(error or 'without a code')}; nothing was "
                f"stored for {html.escape(conn_id)}.</p>",
                status=400,
            )
            page.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
            return page
        settings = _settings(conn_id)
        hook = _hook(conn_id)
        try:
            pair = hook.tokens.exchange_code(
                code, redirect_uri=_redirect_uri(request, settings), actor=access.user_name(user)
            )
        except (ExternalSystemError, ConfigurationError) as exc:
            log.warning("X-Series authorize of %s failed: %s", conn_id, exc)
            page = _page(
                "X-Series authorization failed",
                f"<p id='result'>Connection {html.escape(conn_id)}: {html.escape(str(exc))}. Nothing was "
                "stored; start again from the authorize page.</p>",
                status=502,
            )
            page.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
            return page
        finally:
            hook.close()
        expires = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(pair.expires_at))
        page = _page(
            "X-Series authorized",
            f"<p id='result'>Connection {html.escape(conn_id)} is authorized: the token pair is stored "
            f"(encrypted) for every X-Series flow; the access token expires at {expires} and is refreshed "
            "before then.</p>",
        )
        page.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
        log.info("X-Series connection %s authorized by %s", conn_id, access.user_name(user))
        return page

    return router
