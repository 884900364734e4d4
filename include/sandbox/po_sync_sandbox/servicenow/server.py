"""The HTTPS side of the ServiceNow stand-in: Table API, Batch API, OAuth, rate limiting, errors.

Wire shapes follow ServiceNow's REST API docs (``reference/external-systems.md`` §3.1–3.4, checklist
§3.6): ``{"result": ...}`` envelopes with every value a string, ``X-Total-Count`` and ``Link`` on
lists, 201 + ``Location`` on POST, 204 on DELETE, ``{"error": {"message", "detail"}, "status":
"failure"}`` on errors, Basic or Bearer auth (tokens from ``/oauth_token.do``, form-encoded only),
429 with ``Retry-After`` in seconds under a rate-limit rule, and ``/api/now/v1/batch``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, quote, unquote_plus, urlencode, urlsplit

from po_sync_sandbox.servicenow.knobs import ScriptedFault, update_knobs
from po_sync_sandbox.servicenow.schema import IMPORT_SETS
from po_sync_sandbox.servicenow.store import SYS_FIELDS, Query, parse_query

if TYPE_CHECKING:
    from po_sync_sandbox.servicenow.knobs import FaultPlan, Knobs
    from po_sync_sandbox.servicenow.store import Store

log = logging.getLogger(__name__)
JSON = "application/json;charset=UTF-8"


class Instance(Protocol):
    """What the HTTP layer needs of the instance (:class:`~.service.ServiceNowService` is one)."""

    store: Store
    knobs: Knobs
    faults: FaultPlan
    stats: Stats
    auth: Auth

    def after_write(self, table: str, row: dict[str, str], changed: dict[str, Any]) -> None: ...


class SnError(Exception):
    """An error answered with ServiceNow's error body."""

    def __init__(
        self, status: int, message: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "detail": self.detail}, "status": "failure"}


class Stats:
    """Counters tests and benchmarks read (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_route: dict[str, int] = {}
            self.by_status: dict[str, int] = {}
            self.batch_requests = 0

    def count(self, route: str) -> None:
        with self.lock:
            self.by_route[route] = self.by_route.get(route, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_route": dict(self.by_route),
                "by_status": dict(self.by_status),
                "batch_requests": self.batch_requests,
            }


class Auth:
    """Users, the OAuth application registry entry, issued tokens and the hourly rate-limit window."""

    def __init__(self, users: dict[str, str], client_id: str, client_secret: str, knobs: Knobs) -> None:
        self.users = dict(users)
        self.client_id = client_id
        self.client_secret = client_secret
        self.knobs = knobs
        self.lock = threading.Lock()
        self.access: dict[str, tuple[str, float]] = {}
        self.refresh: dict[str, tuple[str, float]] = {}
        self.window_start = time.time() // 3600 * 3600
        self.window_calls: dict[str, int] = {}
        self.token_requests = 0

    def expire_tokens(self) -> None:
        with self.lock:
            self.access.clear()

    def user_of(self, header: str | None) -> str:
        """The user an ``Authorization`` header authenticates; 401 otherwise."""
        if not header:
            raise SnError(401, "User Not Authenticated", "Required to provide Auth information")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise SnError(401, "User Not Authenticated", "Required to provide Auth information") from None
            expected = self.users.get(user)
            if expected is None or not secrets.compare_digest(expected, password):
                raise SnError(401, "User Not Authenticated", "Required to provide Auth information")
            return user
        if scheme.lower() == "bearer":
            with self.lock:
                found = self.access.get(value.strip())
            if found is None or found[1] < time.time():
                raise SnError(401, "User Not Authenticated", "Required to provide Auth information")
            return found[0]
        raise SnError(401, "User Not Authenticated", "Required to provide Auth information")

    def rate_check(self, user: str) -> dict[str, str]:
        """Count the call against the hourly rule; 429 past it. Returns the rule's headers."""
        limit = self.knobs.rate_limit_per_hour
        if limit is None:
            return {}
        now = time.time()
        with self.lock:
            if now >= self.window_start + 3600:
                self.window_start = now // 3600 * 3600
                self.window_calls.clear()
            used = self.window_calls.get(user, 0) + 1
            self.window_calls[user] = used
            reset = int(self.window_start + 3600)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Rule": "b3c0a1d2e3f4a5b6c7d8e9f0a1b2c3d4",
        }
        if used > limit:
            wait = self.knobs.retry_after_seconds
            headers["Retry-After"] = str(wait if wait is not None else max(1, reset - int(now)))
            raise SnError(
                429,
                "Rate limit exceeded",
                f"The user has exceeded the rate limit of {limit} requests per hour",
                headers,
            )
        return headers

    def reset_window(self) -> None:
        with self.lock:
            self.window_calls.clear()

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        """``POST /oauth_token.do``: password, refresh_token or (when enabled) client_credentials."""
        with self.lock:
            self.token_requests += 1
        grant = form.get("grant_type", "")
        if form.get("client_id") != self.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            raise SnError(401, "access_denied", "invalid client")
        now = time.time()
        if grant == "password":
            user = form.get("username", "")
            expected = self.users.get(user)
            if expected is None or not secrets.compare_digest(expected, form.get("password", "")):
                raise SnError(401, "access_denied", "invalid username or password")
        elif grant == "refresh_token":
            with self.lock:
                found = self.refresh.get(form.get("refresh_token", ""))
            if found is None or found[1] < now:
                raise SnError(401, "access_denied", "invalid refresh token")
            user = found[0]
        elif grant == "client_credentials" and self.knobs.client_credentials_enabled:
            user = next(iter(self.users))
        else:
            raise SnError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
        access = secrets.token_urlsafe(48)
        body: dict[str, Any] = {
            "access_token": access,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.knobs.token_lifetime_seconds,
        }
        with self.lock:
            self.access[access] = (user, now + self.knobs.token_lifetime_seconds)
            if grant == "password":
                refresh = secrets.token_urlsafe(48)
                self.refresh[refresh] = (user, now + self.knobs.refresh_token_lifetime_seconds)
                body["refresh_token"] = refresh
            elif grant == "refresh_token":
                body["refresh_token"] = form["refresh_token"]
        return body


class Reply:
    """A response: status, JSON body (or none), headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    @property
    def data(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


class TLSServer(ThreadingHTTPServer):
    """A threading HTTPS server; the TLS handshake runs in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], instance: Instance, context: ssl.SSLContext) -> None:
        super().__init__(address, TableHandler)
        self.instance = instance
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("servicenow sandbox: TLS handshake failed: %s", exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class TableHandler(BaseHTTPRequestHandler):
    """One connection's requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: TLSServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("servicenow sandbox: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    # -- lifecycle --------------------------------------------------------------------------------

    def _handle(self) -> None:
        instance = self.server.instance
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        if split.path.startswith("/_sandbox"):
            self._send(self._admin(split.path, body))
            return
        with instance.stats.lock:
            instance.stats.requests += 1
        fault = instance.faults.next_fault(self.command, split.path)
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if instance.knobs.latency_ms:
            time.sleep(instance.knobs.latency_ms / 1000.0)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if fault == "429":
                wait = instance.knobs.retry_after_seconds
                raise SnError(
                    429,
                    "Rate limit exceeded",
                    "injected",
                    {"Retry-After": str(wait if wait is not None else 1)},
                )
            if fault in ("500", "503"):
                raise SnError(int(fault), "Internal Server Error", "injected fault")
            reply = self._route(self.command, split.path, split.query, headers, body)
        except SnError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        except Exception:  # noqa: BLE001 - a sandbox bug must look like a 500, not hang the client
            log.exception("servicenow sandbox error on %s %s", self.command, split.path)
            reply = Reply(500, SnError(500, "Internal Server Error").body())
        self._send(reply, suppress=headers.get("x-no-response-body", "").lower() == "true")

    def _send(self, reply: Reply, *, suppress: bool = False) -> None:
        stats = self.server.instance.stats
        with stats.lock:
            key = str(reply.status)
            stats.by_status[key] = stats.by_status.get(key, 0) + 1
        data = b"" if suppress or reply.status == 204 else reply.data
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
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    # -- routing ----------------------------------------------------------------------------------

    def _base(self) -> str:
        address = self.server.server_address
        return f"https://{self.headers.get('Host') or f'{address[0]!s}:{address[1]}'}"

    def _route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        instance = self.server.instance
        if path == "/oauth_token.do" and method == "POST":
            instance.stats.count("oauth_token")
            if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
                raise SnError(
                    400, "invalid_request", "the token endpoint takes application/x-www-form-urlencoded"
                )
            form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            basic = headers.get("authorization", "")
            if basic.lower().startswith("basic ") and "client_secret" not in form:
                # client_secret_basic (RFC 6749 §2.3.1), as requests-oauthlib sends it: id and secret in the header
                try:
                    raw = base64.b64decode(basic[6:].strip()).decode()
                except (binascii.Error, UnicodeDecodeError):
                    raw = ""
                client_id, _, client_secret = raw.partition(":")
                form.update(client_id=unquote_plus(client_id), client_secret=unquote_plus(client_secret))
            return Reply(200, instance.auth.token(form), {"Cache-Control": "no-store", "Pragma": "no-cache"})
        user = instance.auth.user_of(headers.get("authorization"))
        rate_headers = instance.auth.rate_check(user)
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "now"] and len(parts) >= 3:
            version = None
            rest = parts[2:]
            if rest[0] in ("v1", "v2"):
                version, rest = rest[0], rest[1:]
            if rest and rest[0] == "batch" and method == "POST":
                instance.stats.count("batch")
                reply = self._batch(body, headers, user)
            elif parts[2] == "import" and len(parts) in (4, 5):
                instance.stats.count(f"{method} import {parts[3]}")
                reply = self._import(method, parts[3], parts[4] if len(parts) == 5 else None, body, user)
            elif rest and rest[0] == "table" and len(rest) in (2, 3):
                version = version or instance.knobs.unversioned_table_version
                instance.stats.count(f"{method} {rest[1]}")
                reply = self._table(
                    method, rest[1], rest[2] if len(rest) == 3 else None, params, body, version, user
                )
            else:
                raise SnError(400, "Requested URI does not represent any resource", path)
        else:
            raise SnError(400, "Requested URI does not represent any resource", path)
        reply.headers.update(rate_headers)
        return reply

    # -- Table API --------------------------------------------------------------------------------

    def _table(
        self,
        method: str,
        table: str,
        sys_id: str | None,
        params: dict[str, str],
        body: bytes,
        version: str,
        user: str,
    ) -> Reply:
        instance = self.server.instance
        store = instance.store
        if table not in store.tables:
            raise SnError(400, f"Invalid table {table}", None)
        if sys_id is None and method == "GET":
            return self._list(table, params, version)
        if sys_id is None and method == "POST":
            values = self._json_object(body)
            row = store.insert(table, values, user=user)
            instance.after_write(table, row, values)
            location = f"{self._base()}/api/now/table/{table}/{row['sys_id']}"
            return Reply(201, {"result": self._render(table, row, params)}, {"Location": location})
        if sys_id is None:
            raise SnError(405, "Method not Supported", f"{method} is not supported on a table")
        current = store.get(table, sys_id)
        if current is None:
            raise SnError(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
        if method == "GET":
            return Reply(200, {"result": self._render(table, current, params)})
        if method in ("PATCH", "PUT"):
            values = self._json_object(body)
            row = store.update(table, sys_id, values, user=user)
            instance.after_write(table, row, values)
            return Reply(200, {"result": self._render(table, row, params)})
        if method == "DELETE":
            store.delete(table, sys_id)
            return Reply(204)
        raise SnError(405, "Method not Supported", f"{method} is not supported on a record")

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            raise SnError(400, "Exception while reading request", "The payload is not valid JSON.") from None
        if not isinstance(value, dict):
            raise SnError(400, "Exception while reading request", "The payload must be a JSON object.")
        return value

    def _query(self, table: str, text: str) -> Query | None:
        """Parse a query; ``None`` = no rows (an invalid query under ``returns_no_rows``)."""
        store = self.server.instance.store
        query = parse_query(text)
        unknown = [f for f in query.fields() if not self._valid_path(table, f)]
        if (query.invalid or unknown) and self.server.instance.knobs.invalid_query_returns_no_rows:
            return None
        if unknown:  # ServiceNow ignores the invalid parts
            query.disjuncts = [
                [[t for t in group if t.field not in unknown] for group in groups]
                for groups in query.disjuncts
            ]
            query.disjuncts = [[g for g in groups if g] for groups in query.disjuncts]
            query.order = [(f, d) for f, d in query.order if f not in unknown]
        del store
        return query

    def _valid_path(self, table: str, path: str) -> bool:
        store = self.server.instance.store
        head, _, rest = path.partition(".")
        if not rest:
            return store.has_field(table, head)
        target = store.definition(table).references.get(head)
        return bool(target) and self._valid_path(target or "", rest)

    def _list(self, table: str, params: dict[str, str], version: str) -> Reply:
        knobs = self.server.instance.knobs
        try:
            limit = int(params.get("sysparm_limit") or knobs.default_limit)
            offset = int(params.get("sysparm_offset") or 0)
        except ValueError:
            raise SnError(400, "Invalid sysparm_limit or sysparm_offset", None) from None
        if limit < 1 or offset < 0:
            raise SnError(400, "Invalid sysparm_limit or sysparm_offset", None)
        filters = {k: v for k, v in params.items() if not k.startswith("sysparm_")}
        text = params.get("sysparm_query", "")
        if filters:  # plain name=value pairs are filters too
            text = (
                "^".join([text, *(f"{k}={v}" for k, v in filters.items())])
                if text
                else "^".join(f"{k}={v}" for k, v in filters.items())
            )
        query = self._query(table, text)
        rows = [] if query is None else self.server.instance.store.select(table, query)
        total = len(rows)
        page = rows[offset : offset + limit]
        if not page and version == "v1":
            raise SnError(
                404,
                "No Record found",
                "Records matching query not found. Check query parameter or offset parameter",
            )
        headers: dict[str, str] = {}
        if params.get("sysparm_no_count", "").lower() != "true":
            headers["X-Total-Count"] = str(total)
        if params.get("sysparm_suppress_pagination_header", "").lower() != "true":
            headers["Link"] = self._links(table, params, limit, offset, total)
        return Reply(200, {"result": [self._render(table, row, params) for row in page]}, headers)

    def _links(self, table: str, params: dict[str, str], limit: int, offset: int, total: int) -> str:
        keep = {k: v for k, v in params.items() if k not in ("sysparm_offset", "sysparm_limit")}
        url = f"{self._base()}{urlsplit(self.path).path}"

        def link(at: int, rel: str) -> str:
            query = urlencode({**keep, "sysparm_offset": at, "sysparm_limit": limit}, quote_via=quote)
            return f'<{url}?{query}>;rel="{rel}"'

        last = max(0, (total - 1) // limit * limit) if total else 0
        parts = [link(0, "first")]
        if offset > 0:
            parts.append(link(max(0, offset - limit), "prev"))
        if offset + limit < total:
            parts.append(link(offset + limit, "next"))
        parts.append(link(last, "last"))
        return ",".join(parts)

    def _render(self, table: str, row: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
        store = self.server.instance.store
        mode = params.get("sysparm_display_value", "false").lower()
        exclude_links = params.get("sysparm_exclude_reference_link", "false").lower() == "true"
        wanted = [f.strip() for f in params.get("sysparm_fields", "").split(",") if f.strip()]
        names = (
            [f for f in wanted if self._valid_path(table, f)]
            if wanted
            else [
                *(k for k in row if k not in SYS_FIELDS),
                *SYS_FIELDS,
            ]
        )
        references = store.definition(table).references
        out: dict[str, Any] = {}
        for name in names:
            value = store.value(table, row, name)
            head, _, rest = name.partition(".")
            target = None
            if not rest:
                target = references.get(head)
            else:
                parent_table = table
                parts = name.split(".")
                for part in parts[:-1]:
                    parent_table = store.definition(parent_table).references.get(part, "")
                target = store.definition(parent_table).references.get(parts[-1])
            display = store.display(table, row, name) if mode in ("true", "all") else None
            if target and value and not exclude_links:
                link = f"{self._base()}/api/now/table/{target}/{value}"
                if mode == "all":
                    out[name] = {"display_value": display, "link": link, "value": value}
                elif mode == "true":
                    out[name] = {"display_value": display, "link": link}
                else:
                    out[name] = {"link": link, "value": value}
            elif mode == "all":
                out[name] = {"display_value": display, "value": value}
            elif mode == "true":
                out[name] = display
            else:
                out[name] = value
        return out

    # -- Import Set API ---------------------------------------------------------------------------

    def _import(self, method: str, table: str, tail: str | None, body: bytes, user: str) -> Reply:
        """``POST /api/now/import/<t>`` (one row, transformed synchronously), ``GET .../<sys_id>``,
        ``POST .../insertMultiple`` (``{"records": [...]}``; transformed, answered with the set ids)."""
        store = self.server.instance.store
        transform = IMPORT_SETS.get(table)
        if transform is None:
            raise SnError(400, f"Invalid table {table}", "not an import set table")
        if method == "GET" and tail:
            row = store.get(table, tail)
            if row is None:
                raise SnError(
                    404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
                )
            return Reply(200, self._import_answer(table, transform, row))
        if method == "POST" and tail == "insertMultiple":
            records = self._json_object(body).get("records")
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise SnError(400, "Exception while reading request", "records must be a list of objects")
            multi = store.new_sys_id("sys_import_set_multi")
            import_set = store.new_sys_id("sys_import_set")
            for values in records:
                self._import_row(table, transform, values, import_set, user)
            return Reply(200, {"import_set_id": import_set, "multi_import_set_id": multi})
        if method == "POST" and tail is None:
            row = self._import_row(
                table, transform, self._json_object(body), store.new_sys_id("sys_import_set"), user
            )
            return Reply(201, self._import_answer(table, transform, row))
        raise SnError(405, "Method not Supported", f"{method} is not supported here")

    def _import_row(
        self, table: str, transform: Any, values: dict[str, Any], import_set: str, user: str
    ) -> dict[str, str]:
        store = self.server.instance.store
        row = store.insert(table, {k: v for k, v in values.items()}, user=user)  # values coerced to strings
        target_values = {k: v for k, v in row.items() if k not in SYS_FIELDS}
        for field_name, (ref_table, column) in transform.references.items():
            number = row.get(column, "")
            found = store.rows(ref_table, number=number) if number else []
            if not found:
                return store.update(
                    table,
                    row["sys_id"],
                    {
                        "sys_import_state": "error",
                        "sys_import_set": import_set,
                        "sys_import_state_comment": f"No {ref_table} with number '{number}' for {field_name}",
                    },
                    user=user,
                )
            target_values[field_name] = found[0]["sys_id"]
            target_values.pop(column, None)
        match = None
        keys = {k: target_values.get(k, "") for k in transform.coalesce}
        if all(keys.values()):
            existing = store.rows(transform.target, **keys)
            match = existing[0] if existing else None
        if match is None:
            target = store.insert(transform.target, target_values, user=user)
            state = "inserted"
        else:
            target = store.update(transform.target, match["sys_id"], target_values, user=user)
            state = "updated"
        return store.update(
            table,
            row["sys_id"],
            {"sys_import_state": state, "sys_import_set": import_set, "sys_target_sys_id": target["sys_id"]},
            user=user,
        )

    def _import_answer(self, table: str, transform: Any, row: dict[str, str]) -> dict[str, Any]:
        state = row.get("sys_import_state", "")
        target_id = row.get("sys_target_sys_id", "")
        store = self.server.instance.store
        target = store.get(transform.target, target_id) if target_id else None
        display_field = store.definition(transform.target).display
        result: dict[str, Any] = {
            "transform_map": transform.name,
            "table": transform.target,
            "display_name": display_field,
            "display_value": (target or {}).get(display_field, ""),
            "record_link": f"{self._base()}/api/now/table/{transform.target}/{target_id}"
            if target_id
            else "",
            "status": state,
            "sys_id": target_id,
        }
        if state == "error":
            result["error_message"] = row.get("sys_import_state_comment", "")
        return {"import_set": row.get("sys_import_set", ""), "staging_table": table, "result": [result]}

    # -- Batch API --------------------------------------------------------------------------------

    def _batch(self, body: bytes, headers: dict[str, str], user: str) -> Reply:
        payload = self._json_object(body)
        requests_ = payload.get("rest_requests")
        if not isinstance(requests_, list):
            raise SnError(400, "Exception while reading request", "rest_requests is required")
        cap = self.server.instance.knobs.batch_max_requests
        if cap is not None and len(requests_) > cap:
            raise SnError(400, "Too many requests in batch", f"at most {cap} rest_requests per batch")
        serviced = []
        for item in requests_:
            with self.server.instance.stats.lock:
                self.server.instance.stats.batch_requests += 1
            serviced.append(self._batch_one(item, user))
        return Reply(
            200,
            {
                "batch_request_id": str(payload.get("batch_request_id")),
                "serviced_requests": serviced,
                "unserviced_requests": [],
            },
        )

    def _batch_one(self, item: dict[str, Any], user: str) -> dict[str, Any]:
        method = str(item.get("method", "GET")).upper()
        split = urlsplit(str(item.get("url", "")))
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = item.get("body") or ""
        try:
            body = base64.b64decode(raw) if raw else b""
        except (binascii.Error, ValueError):
            body = b"\x00"  # unreadable: answered as a 400 below
        parts = [p for p in split.path.split("/") if p]
        try:
            if parts[:2] != ["api", "now"]:
                raise SnError(400, "Requested URI does not represent any resource", split.path)
            rest = parts[2:]
            version = None
            if rest and rest[0] in ("v1", "v2"):
                version, rest = rest[0], rest[1:]
            if not rest or rest[0] != "table" or len(rest) not in (2, 3):
                raise SnError(400, "Requested URI does not represent any resource", split.path)
            reply = self._table(
                method,
                rest[1],
                rest[2] if len(rest) == 3 else None,
                params,
                body,
                version or self.server.instance.knobs.unversioned_table_version,
                user,
            )
        except SnError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        data = b"" if reply.status == 204 else reply.data
        out_headers = [{"name": k, "value": v} for k, v in reply.headers.items()]
        if data:
            out_headers.append({"name": "Content-Type", "value": JSON})
        return {
            "id": item.get("id"),
            "status_code": reply.status,
            "status_text": "OK" if reply.status < 400 else "Error",
            "headers": out_headers,
            "body": base64.b64encode(data).decode(),
            "execution_time": 0,
        }

    # -- admin ------------------------------------------------------------------------------------

    def _admin(self, path: str, body: bytes) -> Reply:
        instance = self.server.instance
        try:
            payload = json.loads(body) if body else {}
            route = (self.command, path.rstrip("/"))
            if route == ("GET", "/_sandbox/knobs"):
                return Reply(200, instance.knobs.as_dict())
            if route in (("POST", "/_sandbox/knobs"), ("PATCH", "/_sandbox/knobs")):
                update_knobs(instance.knobs, payload)
                return Reply(200, instance.knobs.as_dict())
            if route == ("POST", "/_sandbox/faults"):
                instance.faults.inject(ScriptedFault(**payload))
                return Reply(200, {})
            if route == ("DELETE", "/_sandbox/faults"):
                instance.faults.clear()
                return Reply(200, {})
            if route == ("GET", "/_sandbox/stats"):
                return Reply(200, instance.stats.as_dict())
            if route == ("POST", "/_sandbox/stats/reset"):
                instance.stats.reset()
                return Reply(200, instance.stats.as_dict())
            if route == ("POST", "/_sandbox/expire-tokens"):
                instance.auth.expire_tokens()
                return Reply(200, {})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": f"bad admin request: {exc}"})
        return Reply(404, {"error": "unknown admin route"})
