"""Security headers on every response of the ledger app, and no unauthenticated API description.

The pages are server-rendered HTML with one inline ``<style>`` and no scripts, so the policy allows
nothing else: no script at all, no plugin, no foreign form target. Airflow's UI shows the page
inside an iframe of its own (the plugin's ``external_views`` entry with a ``url_route``), so
framing is allowed for the same origin only (``frame-ancestors 'self'`` / ``SAMEORIGIN``), never
for another site (clickjacking).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

__all__ = ["SECURITY_HEADERS", "add_security_headers"]

#: Sent with every response of the app (pages, JSON, errors, redirects).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(app: FastAPI) -> None:
    """Add :data:`SECURITY_HEADERS` to every response ``app`` sends (unless a route set its own)."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
