"""Who may act on records, and the protections every action request passes.

- **Identity**: Airflow's own ``get_user`` (the UI's ``_token`` cookie or a ``Bearer`` JWT).
- **Permission**: acting on a record changes what its flow's DAG will do, so it needs the right to
  edit that DAG: the auth manager's ``is_authorized_dag(method="PUT")``, the check Airflow's
  ``requires_access_dag("PUT")`` makes for its own DAG endpoints, for every flow the request touches.
- **Cross-site requests**: actions are POST only. A form post must carry a token bound to the user
  (an HMAC under a key derived from the api-server's JWT secret) and, when the browser sends an
  ``Origin``, it must be this server's. A JSON call authenticated by an ``Authorization`` header needs
  no token: a browser never adds that header to a cross-site request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

_fallback_key = secrets.token_bytes(32)


def user_name(user: Any) -> str:
    for attr in ("get_name", "get_id"):
        fn = getattr(user, attr, None)
        if callable(fn):
            value = fn()
            if value:
                return str(value)
    return str(getattr(user, "username", None) or "unknown")


def can_edit_dag(user: Any, dag_id: str) -> bool:
    """Whether ``user`` may edit ``dag_id`` (PUT on the DAG) according to Airflow's auth manager."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user))


def require_edit(user: Any, dag_ids: set[str]) -> None:
    """Refuse (403, naming the DAGs) unless ``user`` may edit every DAG in ``dag_ids``."""
    denied = sorted(d for d in dag_ids if not can_edit_dag(user, d))
    if denied:
        raise HTTPException(
            status_code=403,
            detail=(
                f"{user_name(user)} may not act on records of {', '.join(denied)}: acting on a record "
                "needs permission to edit its flow's DAG (ask an Airflow admin)."
            ),
        )


def _key() -> bytes:
    try:
        from airflow.configuration import conf

        secret = conf.get("api_auth", "jwt_secret", fallback="") or ""
    except Exception:  # noqa: BLE001 - outside Airflow (unit tests): a per-process key
        secret = ""
    if not secret:
        return _fallback_key
    return hashlib.sha256(b"po-sync csrf|" + secret.encode()).digest()


def csrf_token(user: Any) -> str:
    return hmac.new(_key(), user_name(user).encode(), hashlib.sha256).hexdigest()


def check_same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host", urlsplit(str(request.base_url)).netloc):
            raise HTTPException(
                status_code=403, detail="Cross-site request refused (Origin is another site)."
            )


def check_csrf(request: Request, user: Any, token: str | None) -> None:
    """Refuse a cookie-authenticated POST without this user's token, or from another origin."""
    check_same_origin(request)
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    if not token or not hmac.compare_digest(token, csrf_token(user)):
        raise HTTPException(
            status_code=403,
            detail="Cross-site request refused: the form's token is missing or not yours. Reload the page.",
        )


def caller_token(request: Request) -> str | None:
    """The JWT the caller authenticated with, to call Airflow's REST API on their behalf."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get("_token")


def can_edit_connection(user: Any, conn_id: str) -> bool:
    """Whether ``user`` may edit connection ``conn_id`` (PUT), as Airflow's connection endpoints check."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return bool(
        get_auth_manager().is_authorized_connection(
            method="PUT", details=ConnectionDetails(conn_id=conn_id), user=user
        )
    )


def require_edit_connection(user: Any, conn_id: str) -> None:
    """Refuse (403, naming the connection) unless ``user`` may edit ``conn_id``."""
    if not can_edit_connection(user, conn_id):
        raise HTTPException(
            status_code=403,
            detail=(
                f"{user_name(user)} may not change connection {conn_id}: authorizing it stores new "
                "credentials, which needs permission to edit connections (ask an Airflow admin)."
            ),
        )


def sign(*parts: str) -> str:
    """An HMAC of ``parts`` under this api-server's key (the same key as the CSRF tokens)."""
    return hmac.new(_key(), "|".join(parts).encode(), hashlib.sha256).hexdigest()
