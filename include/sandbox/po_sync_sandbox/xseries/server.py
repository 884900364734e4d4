"""The HTTP side of the X-Series sandbox: routing, bearer check, rate budget, faults and Lightspeed's shapes.

Paths as documented (``reference/external-systems.md`` §1.1-§1.5): the API under ``/api/2.0`` and any
date version ``/api/YYYY-MM`` (an alias of the same handlers), the token endpoint ``/api/1.0/token``
(form-encoded), the consent page ``/connect``; ``/_sandbox/...`` is the sandbox's own admin and actors.
Built on the standard library's ``ThreadingHTTPServer``, like the NetSuite sandbox, for direct control
of the socket (dropped connections, held-back answers).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from po_sync_sandbox.faults import ScriptedFault
from po_sync_sandbox.xseries.knobs import update_knobs
from po_sync_sandbox.xseries.store import ApiError, bad_request, not_found

if TYPE_CHECKING:
    from po_sync_sandbox.faults import FaultPlan
    from po_sync_sandbox.xseries.knobs import Knobs
    from po_sync_sandbox.xseries.oauth import OAuthServer
    from po_sync_sandbox.xseries.ratelimit import RateBudget
    from po_sync_sandbox.xseries.store import Store

log = logging.getLogger(__name__)
API_VERSION = re.compile(r"^/api/(2\.0|\d{4}-\d{2})(/.*)?$")
TOKEN_PATH = "/api/1.0/token"
JSON = "application/json; charset=utf-8"


class ServedRetailer(Protocol):
    """What the HTTP layer needs of the retailer it serves (:class:`~.service.XSeriesService` is one)."""

    knobs: Knobs
    faults: FaultPlan
    oauth: OAuthServer
    budget: RateBudget
    store: Store
    stats: Stats

    def admin(self, method: str, path: str, payload: Any) -> Any: ...


class Stats:
    """Counters the tests and benchmarks read (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_status: Counter[int] = Counter()
            self.by_route: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()

    def count(self, route: str) -> None:
        with self.lock:
            self.by_route[route] += 1

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "by_route": dict(self.by_route),
                "faults": dict(self.faults),
            }


class Reply:
    """A response to write: status, JSON body (or none), headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    @property
    def data(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


class _Dropped(Exception):
    """Close the connection without answering."""


class XSeriesHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: ServedRetailer) -> None:
        super().__init__(address, XSeriesHandler)
        self.service = service


def _int_param(params: dict[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw!r}", field=name) from None
    if value < 0:
        raise bad_request(f"{name} must not be negative", field=name)
    return value


def _unwrap(payload: Any) -> Any:
    """Accept both ``{"data": {...}}`` (the 2026 spec) and the unwrapped object (the tutorial)."""
    if isinstance(payload, dict) and set(payload) == {"data"}:
        return payload["data"]
    return payload


class XSeriesHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: XSeriesHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("xseries sandbox: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    # -- request lifecycle ------------------------------------------------------------------------

    def _handle(self) -> None:
        service = self.server.service
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path, query = split.path, split.query
        params = dict(parse_qsl(query, keep_blank_values=True))
        if path.startswith("/_sandbox"):
            self._send(self._admin(path, body))
            return
        if path == "/connect" and self.command == "GET":
            self._send(self._connect(params))
            return
        knobs = service.knobs
        with service.stats.lock:
            service.stats.requests += 1
        fault = service.faults.next_fault(knobs, self.command, path)
        if fault:
            with service.stats.lock:
                service.stats.faults[fault] += 1
        if fault == "drop":
            self._drop()
            return
        if fault in ("500", "502", "503"):
            self._send(self._error(ApiError(int(fault), "Internal Server Error", "sandbox fault"), path))
            return
        if fault == "429":
            retry = time.time() + 1
            from email.utils import formatdate

            self._send(
                self._error(
                    ApiError(
                        429,
                        "Too Many Requests",
                        "Rate limiting enforced",
                        headers={"Retry-After": formatdate(retry, usegmt=True)},
                    ),
                    path,
                )
            )
            return
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000.0)
        try:
            if path == TOKEN_PATH:
                reply = self._token(body)
            else:
                reply = self._api(path, params, body)
        except ApiError as exc:
            reply = self._error(exc, path)
        except Exception:  # noqa: BLE001 - a sandbox bug must look like a 500, not hang
            log.exception("xseries sandbox error on %s %s", self.command, path)
            reply = self._error(ApiError(500, "Internal Server Error", "unexpected error"), path)
        if fault == "timeout":
            time.sleep(knobs.timeout_seconds)
        if fault == "drop_after":
            self._drop()
            return
        self._send(reply)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, reply: Reply) -> None:
        with self.server.service.stats.lock:
            self.server.service.stats.by_status[reply.status] += 1
        data = reply.data
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if data:
                self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error(self, exc: ApiError, path: str) -> Reply:
        if path == TOKEN_PATH:  # OAuth's own shape (RFC 6749 §5.2)
            return Reply(exc.status, {"error": exc.error, "error_description": exc.message}, exc.headers)
        if self.server.service.knobs.error_shape == "legacy":
            body: dict[str, Any] = {"errors": {"global": [exc.message]}, "reference": str(uuid.uuid4())}
        else:
            body = {"error": exc.error, "message": exc.message}
            if exc.details:
                body["details"] = exc.details
        return Reply(exc.status, body, exc.headers)

    # -- OAuth ------------------------------------------------------------------------------------

    def _connect(self, params: dict[str, str]) -> Reply:
        service = self.server.service
        try:
            location = service.oauth.authorize(params, service.knobs.auth_code_ttl_seconds)
        except ApiError as exc:
            return Reply(exc.status, {"error": exc.error, "error_description": exc.message})
        return Reply(302, None, {"Location": location})

    def _token(self, body: bytes) -> Reply:
        service = self.server.service
        knobs = service.knobs
        service.stats.count("POST token")
        if self.command != "POST":
            raise ApiError(405, "invalid_request", "use POST")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise ApiError(
                400, "invalid_request", "the token request must be application/x-www-form-urlencoded"
            )
        if urlsplit(self.path).query:
            raise ApiError(
                400, "invalid_request", "OAuth parameters belong in the body, not the query string"
            )
        headers: dict[str, str] = {}
        if knobs.token_rate_limit is not None:
            ok, remaining, retry = service.budget.take(
                "token", knobs.token_rate_limit, knobs.rate_window_seconds
            )
            headers = {
                "X-RateLimit-Limit": str(knobs.token_rate_limit),
                "X-RateLimit-Remaining": str(remaining),
            }
            if not ok:
                raise ApiError(
                    429, "Too Many Requests", "Rate limiting enforced", headers={"Retry-After": retry or ""}
                )
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        result = service.oauth.token(
            form,
            ttl=knobs.access_token_ttl_seconds,
            revoked_status=knobs.revoked_refresh_status,
            revoke_access=knobs.revoke_access_on_refresh,
        )
        return Reply(200, result, {**headers, "Cache-Control": "no-store"})

    # -- the API ----------------------------------------------------------------------------------

    def _api(self, path: str, params: dict[str, str], body: bytes) -> Reply:
        service = self.server.service
        knobs = service.knobs
        match = API_VERSION.match(path)
        if not match:
            raise ApiError(404, "Not Found", f"no route for {path}")
        bucket = service.oauth.check(self.headers.get("Authorization"))
        limit = knobs.budget(service.store.register_count())
        ok, remaining, retry = service.budget.take(bucket, limit, knobs.rate_window_seconds)
        rate_headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
        if not ok:
            raise ApiError(
                429,
                "Too Many Requests",
                "Rate limiting enforced",
                headers={**rate_headers, "Retry-After": retry or ""},
            )
        segs = [unquote(s) for s in (match.group(2) or "/").strip("/").split("/") if s]
        payload: Any = None
        if self.command in ("POST", "PUT") and body:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if knobs.require_json_content_type and ctype != "application/json":
                raise ApiError(415, "Unsupported Media Type", "send Content-Type: application/json")
            try:
                payload = json.loads(body)
            except ValueError:
                raise bad_request("the request body is not valid JSON") from None
        try:
            reply = self._route(segs, params, payload)
        except ApiError as exc:
            exc.headers = {**rate_headers, **exc.headers}
            raise
        reply.headers.update(rate_headers)
        return reply

    def _page_args(self, params: dict[str, str]) -> dict[str, Any]:
        knobs = self.server.service.knobs
        size = _int_param(params, "page_size", knobs.default_page_size) or knobs.default_page_size
        return {
            "after": _int_param(params, "after", 0) or 0,
            "before": _int_param(params, "before", None),
            "page_size": max(1, min(size, knobs.max_page_size)),
            "deleted": params.get("deleted", "").lower() == "true",
        }

    def _route(self, segs: list[str], params: dict[str, str], payload: Any) -> Reply:
        store = self.server.service.store
        knobs = self.server.service.knobs
        method = self.command
        stats = self.server.service.stats
        if not segs:
            raise ApiError(404, "Not Found", "no resource")
        resource, rest = segs[0], segs[1:]
        route = f"{method} {resource}" + "".join(
            "/{id}" if i == 0 else f"/{s}" if i == 1 else "/{id}" for i, s in enumerate(rest)
        )
        stats.count(route)
        simple = {"products": store.products, "outlets": store.outlets, "registers": store.registers}
        with store.lock:
            if resource in simple and method == "GET":
                table = simple[resource]
                if not rest:
                    return Reply(200, store.page(table.values(), **self._page_args(params)))
                if len(rest) == 1:
                    return Reply(200, {"data": dict(store._get(table, resource[:-1], rest[0]))})
            if resource == "suppliers":
                return self._suppliers(rest, params, payload)
            if resource == "consignments":
                return self._consignments(rest, params, payload, knobs.bulk_max)
        raise ApiError(404, "Not Found", f"no route for {method} /{'/'.join(segs)}")

    def _suppliers(self, rest: list[str], params: dict[str, str], payload: Any) -> Reply:
        store = self.server.service.store
        method = self.command
        if not rest:
            if method == "GET":
                return Reply(200, store.page(store.suppliers.values(), **self._page_args(params)))
            if method == "POST":
                body = _unwrap(payload)
                if not isinstance(body, dict) or not body.get("name"):
                    raise bad_request("a supplier needs a name", field="name")
                supplier = store.add_supplier(
                    str(body["name"]), description=str(body.get("description") or "")
                )
                return Reply(201, {"data": supplier["id"]})
        elif len(rest) == 1:
            if method == "GET":
                return Reply(200, {"data": dict(store._get(store.suppliers, "supplier", rest[0]))})
            if method == "PUT":
                body = _unwrap(payload)
                if not isinstance(body, dict):
                    raise bad_request("the body must be a supplier object")
                return Reply(200, {"data": dict(store.update_supplier(rest[0], body))})
            if method == "DELETE":
                store.delete_supplier(rest[0])
                return Reply(200, {"data": {"id": rest[0], "job_id": store.new_id()}})
        raise ApiError(405, "Method Not Allowed", f"{method} is not allowed here")

    def _consignments(self, rest: list[str], params: dict[str, str], payload: Any, bulk_max: int) -> Reply:
        store = self.server.service.store
        method = self.command
        if not rest:
            if method == "GET":
                wanted = {
                    k: params[k].upper() if k != "outlet_id" else params[k]
                    for k in ("type", "status", "outlet_id")
                    if params.get(k)
                }

                def match(row: dict[str, Any]) -> bool:
                    return all(row.get(k) == v for k, v in wanted.items())

                return Reply(
                    200, store.page(store.consignments.values(), match=match, **self._page_args(params))
                )
            if method == "POST":
                body = _unwrap(payload)
                if not isinstance(body, dict):
                    raise bad_request("the body must be a consignment object")
                return Reply(201, {"data": dict(store.create_consignment(body))})
            raise ApiError(405, "Method Not Allowed", f"{method} is not allowed on consignments")
        cid = rest[0]
        if len(rest) == 1:
            if method == "GET":
                return Reply(200, {"data": dict(store.consignment(cid))})
            if method == "PUT":
                body = _unwrap(payload)
                if not isinstance(body, dict):
                    raise bad_request("the body must be a consignment object")
                return Reply(200, {"data": dict(store.update_consignment(cid, body))})
            if method == "DELETE":
                store.delete_consignment(cid)
                return Reply(204)
        sub = rest[1]
        if sub == "totals" and len(rest) == 2 and method == "GET":
            return Reply(200, {"data": [store.totals(cid)]})
        if sub == "bulk" and len(rest) == 2 and method == "POST":
            return Reply(200, {"data": store.bulk(cid, payload, bulk_max)})
        if sub == "products":
            if len(rest) == 2:
                if method == "GET":
                    return Reply(200, store.page(store.lines_of(cid), **self._page_args(params)))
                if method == "POST":
                    body = _unwrap(payload)
                    if not isinstance(body, dict):
                        raise bad_request("the body must be a consignment product object")
                    return Reply(201, {"data": dict(store.add_line(cid, body))})
            if len(rest) == 3:
                if method == "PUT":
                    body = _unwrap(payload)
                    if not isinstance(body, dict):
                        raise bad_request("the body must be a consignment product object")
                    return Reply(200, {"data": dict(store.update_line(cid, rest[2], body))})
                if method == "DELETE":
                    store.delete_line(cid, rest[2])
                    return Reply(204)
        raise not_found("route", "/".join(["consignments", *rest]))

    # -- admin ------------------------------------------------------------------------------------

    def _admin(self, path: str, body: bytes) -> Reply:
        service = self.server.service
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return Reply(400, {"error": "body is not JSON"})
        route = (self.command, path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/knobs"):
                return Reply(200, service.knobs.as_dict())
            if route in (("POST", "/_sandbox/knobs"), ("PATCH", "/_sandbox/knobs")):
                update_knobs(service.knobs, payload)
                return Reply(200, service.knobs.as_dict())
            if route == ("POST", "/_sandbox/faults"):
                service.faults.inject(ScriptedFault(**payload))
                return Reply(200, {"pending": service.faults.pending()})
            if route == ("DELETE", "/_sandbox/faults"):
                service.faults.clear()
                return Reply(200, {"pending": []})
            if route == ("GET", "/_sandbox/stats"):
                return Reply(200, service.stats.as_dict())
            result = service.admin(self.command, path, payload)
        except ApiError as exc:
            return Reply(exc.status, {"error": exc.error, "message": exc.message})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": f"bad admin request: {exc}"})
        if result is None:
            return Reply(404, {"error": "unknown admin route"})
        return Reply(200, result)
