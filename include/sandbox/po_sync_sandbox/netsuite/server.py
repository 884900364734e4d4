"""The HTTP side of the NetSuite sandbox: routing, auth, governance, faults and NetSuite's wire shapes.

Built on the standard library's ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one thread per
connection): it needs no extra dependency, handles concurrent requests, and gives direct control of the
socket, which the fault knobs need (drop a connection before or after doing the work, hold a response
back past the client's timeout).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from po_sync_sandbox.faults import ScriptedFault
from po_sync_sandbox.netsuite import metadata
from po_sync_sandbox.netsuite.asyncjobs import job_body, task_body, task_list_body
from po_sync_sandbox.netsuite.fieldcheck import HEADER as NAME_VALIDATION_HEADER
from po_sync_sandbox.netsuite.fieldcheck import enforce, validation_mode
from po_sync_sandbox.netsuite.knobs import update_knobs
from po_sync_sandbox.netsuite.nserrors import (
    CONCURRENCY_DETAIL,
    NsError,
    idempotency_conflict,
    invalid_content,
    invalid_parameter,
    user_error,
)
from po_sync_sandbox.netsuite.qfilter import parse_q
from po_sync_sandbox.netsuite.record_fields import definition_for
from po_sync_sandbox.netsuite.render import Renderer
from po_sync_sandbox.netsuite.schema import RECORD_TYPES, RecordType
from po_sync_sandbox.netsuite.tokeninfo import TOKENINFO_PATH, token_info

if TYPE_CHECKING:
    from po_sync_sandbox.faults import FaultPlan
    from po_sync_sandbox.netsuite.asyncjobs import AsyncJobs
    from po_sync_sandbox.netsuite.knobs import Knobs
    from po_sync_sandbox.netsuite.nsauth import Authenticator
    from po_sync_sandbox.netsuite.store import Store
    from po_sync_sandbox.netsuite.suiteql import SuiteQLEngine


class ServedAccount(Protocol):
    """What the HTTP layer needs of the account it serves (:class:`~.service.NetSuiteService` is one).

    A protocol, not an import of the service, so the service can own the server without a cycle.
    """

    account_host: str
    realm: str
    authenticator: Authenticator
    engine: SuiteQLEngine
    faults: FaultPlan
    idempotency: dict[str, str]
    idempotency_lock: threading.Lock
    jobs: AsyncJobs
    knobs: Knobs
    stats: Stats
    store: Store

    def generate(self, **spec: Any) -> dict[str, list[int]]: ...


log = logging.getLogger(__name__)
REST_PREFIX = "/services/rest"
SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
ERROR = "application/vnd.oracle.resource+json; type=error"


class _Dropped(Exception):
    """Close the connection without answering."""


class Stats:
    """Counters the tests and benchmarks read (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self.lock:
            self.requests = 0
            self.by_status: Counter[int] = Counter()
            self.by_route: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.concurrency_rejected = 0
            # body fields dropped by X-NetSuite-PropertyNameValidation (Warning/Ignore), by "<type>.<path>"
            self.unknown_fields: Counter[str] = Counter()
            self.in_flight = 0
            self.peak_in_flight = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot."""
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "by_route": dict(self.by_route),
                "faults": dict(self.faults),
                "concurrency_rejected": self.concurrency_rejected,
                "unknown_fields": dict(self.unknown_fields),
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
            }


class RawJSON:
    """JSON text already rendered (SuiteQL rows come out of SQLite as JSON), sent as it is."""

    def __init__(self, text: str) -> None:
        self.text = text


class Reply:
    """A response to write: status, headers, JSON body (or none)."""

    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = SINGULAR,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        """The body as JSON bytes (encoded once, so it can be done inside the call's latency)."""
        if self._data is None:
            if self.body is None:
                self._data = b""
            elif isinstance(self.body, RawJSON):
                self._data = self.body.text.encode()
            else:
                self._data = json.dumps(self.body).encode()
        return self._data


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its service."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: ServedAccount) -> None:
        super().__init__(address, NetSuiteHandler)
        self.service = service


class NetSuiteHandler(BaseHTTPRequestHandler):
    """One connection's requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; no 40 ms delayed-ACK stall
    server: SandboxHTTPServer

    arrived_at = 0.0

    def parse_request(self) -> bool:
        """Note when the request line arrived: a call's latency runs from there, as NetSuite's does."""
        self.arrived_at = time.monotonic()
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("netsuite sandbox: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    # -- request lifecycle ------------------------------------------------------------------------

    def _handle(self) -> None:
        service = self.server.service
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        raw_path, query = split.path, split.query
        if raw_path.startswith("/_sandbox"):
            self._send(self._admin(raw_path, query, body))
            return
        stats = service.stats
        knobs = service.knobs
        with stats.lock:
            stats.requests += 1
        fault = service.faults.next_fault(knobs, self.command, raw_path)
        if fault:
            with stats.lock:
                stats.faults[fault] += 1
        if fault == "drop":
            self._drop()
            return
        if fault == "429":
            self._send(
                self._error_reply(
                    NsError(
                        429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL, title=knobs.rate_limit_title
                    )
                )
            )
            return
        if fault in ("500", "502", "503"):
            status = int(fault)
            self._send(
                self._error_reply(
                    NsError(
                        status, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: sandbox-fault"
                    )
                )
            )
            return
        with stats.lock:
            admitted = knobs.concurrency_limit is None or stats.in_flight < knobs.concurrency_limit
            if admitted:
                stats.in_flight += 1
                stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            else:
                stats.concurrency_rejected += 1
        if not admitted:
            self._send(
                self._error_reply(
                    NsError(
                        429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL, title=knobs.rate_limit_title
                    )
                )
            )
            return
        released = False
        try:
            if knobs.latency_ms and knobs.latency_mode == "added":
                time.sleep(knobs.latency_ms / 1000.0)
            try:
                reply = self._dispatch(raw_path, query, body)
            except NsError as exc:
                reply = self._error_reply(exc)
            except Exception:  # noqa: BLE001 - a sandbox bug must look like NetSuite's 500, not hang
                log.exception("netsuite sandbox error on %s %s", self.command, raw_path)
                reply = self._error_reply(NsError(500, "UNEXPECTED_ERROR", "An unexpected error occurred."))
            if knobs.latency_ms and knobs.latency_mode == "total":
                _ = reply.data  # the encoding is part of the call's work
                _sleep_until(self.arrived_at + knobs.latency_ms / 1000.0)
            if fault == "timeout":
                time.sleep(knobs.timeout_seconds)
            with stats.lock:
                stats.in_flight -= 1
            released = True
            if fault == "drop_after":
                self._drop()
                return
            self._send(reply)
        finally:
            if not released:
                with stats.lock:
                    stats.in_flight -= 1

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
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error_reply(self, exc: NsError) -> Reply:
        if exc.headers.get("X-Oauth-Error"):
            return Reply(exc.status, {"error": exc.code}, content_type="application/json")
        return Reply(
            exc.status, exc.body(self.server.service.knobs.error_type_style), dict(exc.headers), ERROR
        )

    # -- routing ----------------------------------------------------------------------------------

    def _rest_root(self) -> str:
        address = self.server.server_address
        host = self.headers.get("Host") or f"{address[0]!s}:{address[1]}"
        return f"http://{host}{REST_PREFIX}"

    def _dispatch(self, raw_path: str, query: str, body: bytes) -> Reply:
        service = self.server.service
        if raw_path.rstrip("/").lower() == TOKENINFO_PATH and self.command == "GET":
            self._count("tokeninfo")
            return self._token_info(raw_path, query, body)
        if not raw_path.startswith(REST_PREFIX + "/"):
            raise NsError(404, "INVALID_REQUEST", f"The request could not be found: {raw_path}")
        segments = [unquote(s) for s in raw_path[len(REST_PREFIX) + 1 :].split("/")]
        headers = {k.lower(): v for k, v in self.headers.items()}
        if segments[:4] == ["auth", "oauth2", "v1", "token"] and self.command == "POST":
            self._count("token")
            return self._token(body)
        service.authenticator.check(
            method=self.command,
            host=self.headers.get("Host", ""),
            raw_path=raw_path,
            query=query,
            headers=headers,
            body=body,
            max_skew=service.knobs.tba_max_skew_seconds,
            reject_replay=service.knobs.reject_nonce_replay,
        )
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        renderer = Renderer(service.store, self._rest_root(), service.knobs.lowercase_links)
        if segments[:3] == ["system", "v1", "governanceLimits"] and self.command == "GET":
            self._count("governanceLimits")
            return self._governance()
        if segments[:3] == ["query", "v1", "suiteql"] and self.command == "POST":
            self._count("suiteql")
            return self._suiteql(params, headers, body)
        if segments[:3] == ["async", "v1", "job"] and len(segments) >= 4 and self.command == "GET":
            self._count("async job")
            return self._async_job(segments[3:])
        if segments[:2] == ["record", "v1"] and len(segments) >= 3:
            if "respond-async" in headers.get("prefer", "").lower():
                self._count("async submit")
                return self._submit_async(segments[2:], params, headers, body, renderer)
            return self._record(segments[2:], params, headers, body, renderer)
        raise NsError(404, "INVALID_REQUEST", f"The request could not be found: {raw_path}")

    # -- asynchronous requests (Prefer: respond-async) --------------------------------------------

    def _submit_async(
        self,
        segs: list[str],
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        renderer: Renderer,
    ) -> Reply:
        """Run a record request as an async job: 202 + ``Location`` of the job; a repeated idempotency key is
        400 ``IDEMPOTENCY_ERROR`` with ``Location`` of the earlier job (see :mod:`.asyncjobs`)."""
        jobs = self.server.service.jobs
        job, is_new = jobs.create(headers.get("x-netsuite-idempotency-key"))
        job_url = f"{REST_PREFIX}/async/v1/job/{job.id}"  # server-relative, as Oracle documents it
        if not is_new:
            raise idempotency_conflict("A request with this idempotency key was already processed.", job_url)
        # the job is the idempotency guard, so the request runs as a plain one
        plain = {k: v for k, v in headers.items() if k != "x-netsuite-idempotency-key"}
        try:
            reply = self._record(segs, params, plain, body, renderer)
        except NsError as exc:
            reply = self._error_reply(exc)
        jobs.finish(job, reply.status, reply.headers, reply.body, reply.content_type)
        return Reply(202, headers={"Location": job_url, "Preference-Applied": "respond-async"})

    def _async_job(self, segs: list[str]) -> Reply:
        """``GET /async/v1/job/<id>[/task[/<id>[/result]]]``."""
        service = self.server.service
        job_id = segs[0]
        job_url = f"{self._rest_root()}/async/v1/job/{job_id}"
        found = service.jobs.read(
            job_id, pending_polls=service.knobs.async_pending_polls, count=len(segs) == 1
        )
        if found is None:
            raise NsError(404, "NONEXISTENT_ID", f"The asynchronous job {job_id} does not exist.")
        job, completed = found
        rest = segs[1:]
        if not rest:
            return Reply(200, job_body(job, job_url, completed), content_type="application/json")
        if rest == ["task"]:
            return Reply(200, task_list_body(job, job_url), content_type=COLLECTION)
        if len(rest) >= 2 and rest[0] == "task" and rest[1] == str(job.id):
            if len(rest) == 2:
                return Reply(200, task_body(job, job_url, completed), content_type="application/json")
            if rest[2:] == ["result"]:
                if not completed:
                    raise NsError(
                        400, "INVALID_REQUEST", f"The task of asynchronous job {job_id} has not completed."
                    )
                return Reply(job.status, job.body, dict(job.headers), job.content_type)
        raise NsError(
            404, "INVALID_REQUEST", f"The request could not be found: async/v1/job/{'/'.join(segs)}"
        )

    def _count(self, route: str) -> None:
        with self.server.service.stats.lock:
            self.server.service.stats.by_route[f"{self.command} {route}"] += 1

    # -- endpoints --------------------------------------------------------------------------------

    def _token(self, body: bytes) -> Reply:
        service = self.server.service
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        host = self.headers.get("Host", "")
        urls = {
            f"http://{host}{REST_PREFIX}/auth/oauth2/v1/token",
            f"https://{service.account_host}{REST_PREFIX}/auth/oauth2/v1/token",
        }
        return Reply(
            200,
            service.authenticator.issue_token(form, urls, service.knobs.token_lifetime_seconds),
            content_type="application/json",
        )

    def _token_info(self, raw_path: str, query: str, body: bytes) -> Reply:
        """``GET /rest/tokeninfo`` (the RESTlet domain's token endpoint): who the credentials act as."""
        service = self.server.service
        headers = {k.lower(): v for k, v in self.headers.items()}
        mode = service.authenticator.check(
            method=self.command,
            host=self.headers.get("Host", ""),
            raw_path=raw_path,
            query=query,
            headers=headers,
            body=body,
            max_skew=service.knobs.tba_max_skew_seconds,
            reject_replay=service.knobs.reject_nonce_replay,
        )
        return Reply(200, token_info(service.realm, mode), content_type="application/json")

    def _governance(self) -> Reply:
        knobs = self.server.service.knobs
        if not knobs.governance_admin:
            raise NsError(
                403,
                "INSUFFICIENT_PERMISSION",
                "Permission Violation: You need the 'Administrator' role to access governance limits.",
            )
        body: dict[str, Any] = {"accountConcurrencyLimit": knobs.account_concurrency_limit}
        integration = knobs.integration_concurrency_limit
        body["accountUnallocatedConcurrencyLimit"] = max(
            1, knobs.account_concurrency_limit - (integration or 0)
        )
        if integration:
            body["integrationConcurrencyLimit"] = integration
            body["integrationLimitType"] = "integrationSpecific"
        else:
            body["integrationLimitType"] = "accountLimit"
        return Reply(200, body, content_type="application/json")

    def _paging(self, params: dict[str, str]) -> tuple[int, int]:
        try:
            limit = int(params.get("limit", 1000))
            offset = int(params.get("offset", 0))
        except ValueError:
            raise invalid_parameter("Invalid value for the parameter 'limit' or 'offset'.", "limit") from None
        if not 1 <= limit <= 1000:
            raise invalid_parameter(
                "Invalid value for the parameter 'limit'. The value must be between 1 and 1000.", "limit"
            )
        if offset < 0:
            raise invalid_parameter("Invalid value for the parameter 'offset'.", "offset")
        knobs = self.server.service.knobs
        if knobs.misaligned_offset_error and offset % limit:
            raise invalid_parameter(
                "Invalid value for the parameter 'offset'. The value must be a multiple of 'limit'.", "offset"
            )
        if offset >= knobs.suiteql_row_cap and offset > 0:
            raise invalid_parameter(
                f"Invalid value for the parameter 'offset'. At most {knobs.suiteql_row_cap} results can be retrieved; "
                "use SuiteAnalytics Connect for more.",
                "offset",
            )
        return limit, offset

    def _envelope(
        self, url: str, extra_query: str, items: list[Any], limit: int, offset: int, total: int
    ) -> dict[str, Any]:
        cap = self.server.service.knobs.suiteql_row_cap
        reachable = min(total, cap)
        has_more = offset + len(items) < reachable

        def href(at: int) -> str:
            return f"{url}?{extra_query}limit={limit}&offset={at}"

        links = []
        if offset > 0:
            links.append({"rel": "first", "href": href(0)})
            links.append({"rel": "previous", "href": href(max(0, offset - limit))})
        if has_more:
            links.append({"rel": "next", "href": href(offset + limit)})
        if reachable > 0:
            links.append({"rel": "last", "href": href(max(0, (reachable - 1) // limit * limit))})
        links.append({"rel": "self", "href": href(offset)})
        return {
            "links": links,
            "count": len(items),
            "hasMore": has_more,
            "items": items,
            "offset": offset,
            "totalResults": total,
        }

    def _suiteql(self, params: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        service = self.server.service
        if service.knobs.require_prefer_transient and "transient" not in headers.get("prefer", "").lower():
            raise NsError(400, "INVALID_HEADER", "The Prefer: transient header is required for SuiteQL.")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise invalid_content("Invalid content in the request body") from None
        query = payload.get("q") if isinstance(payload, dict) else None
        limit, offset = self._paging(params)
        rows, total = service.engine.execute(
            str(query or ""),
            limit=limit,
            offset=offset,
            cap=service.knobs.suiteql_row_cap,
            date_style=service.knobs.suiteql_date_style,
            omit_nulls=service.knobs.suiteql_omit_nulls,
        )
        url = f"{self._rest_root()}/query/v1/suiteql"
        envelope = self._envelope(url, "", rows, limit, offset, total)
        members = (
            f"{json.dumps(key)}: " + ("[" + ",".join(rows) + "]" if key == "items" else json.dumps(value))
            for key, value in envelope.items()
        )
        return Reply(200, RawJSON("{" + ", ".join(members) + "}"), content_type=COLLECTION)

    def _record(
        self,
        segs: list[str],
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        renderer: Renderer,
    ) -> Reply:
        service = self.server.service
        store = service.store
        if segs[0].lower() == "metadata-catalog":
            self._count("metadata")
            return self._metadata(segs[1:], params, headers, renderer)
        rtype = store.record_type(segs[0])
        if rtype.key == "customrecord_vend_po_sync" and not service.knobs.vend_error_record:
            raise NsError(404, "NONEXISTENT_ID", f"Record type '{segs[0]}' does not exist.")
        if rtype.key in {t.lower() for t in service.knobs.forbidden_record_types}:
            raise NsError(
                403,
                "INSUFFICIENT_PERMISSION",
                f"Permission Violation: You need a higher level of the '{rtype.name}' permission to access this page.",
            )
        method = self.command

        def json_body(target: RecordType = rtype) -> dict[str, Any]:
            try:
                value = json.loads(body or b"{}")
            except ValueError:
                raise invalid_content("Invalid content in the request body") from None
            if not isinstance(value, dict):
                raise invalid_content("Invalid content in the request body")
            return self._known_fields(target, value, headers)

        if len(segs) == 1:
            if method == "GET":
                self._count(f"list {rtype.key}")
                return self._list(rtype, params, renderer)
            if method == "POST":
                self._count(f"create {rtype.key}")
                return self._idempotent(
                    headers, lambda: self._created(renderer, rtype.name, store.create(rtype.key, json_body()))
                )
            raise NsError(405, "INVALID_REQUEST", f"Method {method} is not allowed on a record collection.")
        record_id = segs[1]
        if len(segs) == 2:
            if method == "GET":
                self._count(f"get {rtype.key}")
                expand = params.get("expandSubResources", "false").lower() == "true"
                fields = [f for f in params.get("fields", "").split(",") if f] or None
                doc = store.get(rtype.key, record_id)
                return Reply(200, renderer.record(rtype, doc, expand=expand, fields=fields))
            if method == "PATCH":
                self._count(f"update {rtype.key}")
                replace = {s.strip() for s in params.get("replace", "").split(",") if s.strip()}
                store.update(rtype.key, record_id, json_body(), replace=replace)
                return Reply(204)
            if method == "PUT":
                self._count(f"upsert {rtype.key}")
                if not record_id.lower().startswith("eid:"):
                    raise user_error("The upsert operation requires an external ID (eid:) in the URL.")
                rid, _created = store.upsert(rtype.key, record_id[4:], json_body())
                headers_out = (
                    {"Location": renderer.record_url(rtype.name, rid)}
                    if service.knobs.location_on_upsert
                    else {}
                )
                return Reply(204, headers=headers_out)
            if method == "DELETE":
                self._count(f"delete {rtype.key}")
                store.delete(rtype.key, record_id)
                return Reply(204)
            raise NsError(405, "INVALID_REQUEST", f"Method {method} is not allowed on a record.")
        if segs[2] == "!transform" and len(segs) == 4 and method == "POST":
            self._count(f"transform {rtype.key}->{segs[3].lower()}")
            target = store.record_type(segs[3])
            return self._idempotent(
                headers,
                lambda: self._created(
                    renderer,
                    target.name,
                    store.transform(rtype.key, record_id, target.key, json_body(target)),
                ),
            )
        if method == "GET" and segs[2] in rtype.sublists and len(segs) in (3, 4):
            self._count(f"sublist {rtype.key}")
            doc = store.get(rtype.key, record_id)
            if len(segs) == 3:
                return Reply(200, renderer.sublist(rtype, doc, segs[2]), content_type=COLLECTION)
            line = renderer.line(rtype, doc, segs[2], int(segs[3]) if segs[3].isdigit() else -1)
            if line is None:
                raise NsError(
                    404,
                    "NONEXISTENT_ID",
                    "The record instance does not exist. Provide a valid record instance ID.",
                )
            return Reply(200, line)
        raise NsError(404, "INVALID_REQUEST", f"The subresource {'/'.join(segs[2:])} does not exist.")

    def _created(self, renderer: Renderer, type_name: str, rid: int) -> Reply:
        return Reply(204, headers={"Location": renderer.record_url(type_name, rid)})

    def _idempotent(self, headers: dict[str, str], work: Any) -> Reply:
        key = headers.get("x-netsuite-idempotency-key")
        service = self.server.service
        if not key:
            return work()
        if service.knobs.idempotency_requires_async and "respond-async" not in headers.get("prefer", ""):
            raise NsError(
                400, "INVALID_HEADER", "The X-NetSuite-Idempotency-Key header requires Prefer: respond-async."
            )
        with service.idempotency_lock:
            state = service.idempotency.get(key)
            if state is None:
                service.idempotency[key] = "pending"
        if state == "pending":
            raise idempotency_conflict("A request with this idempotency key is still being processed.")
        if state is not None:
            if service.knobs.idempotency_replay == "replay":
                return Reply(204, headers={"Location": state})
            raise idempotency_conflict("A request with this idempotency key was already processed.", state)
        try:
            reply = work()
        except BaseException:
            with service.idempotency_lock:
                service.idempotency.pop(key, None)
            raise
        with service.idempotency_lock:
            service.idempotency[key] = reply.headers["Location"]
        return reply

    def _list(self, rtype: Any, params: dict[str, str], renderer: Renderer) -> Reply:
        service = self.server.service
        limit, offset = self._paging(params)
        q = params.get("q")
        if q:
            predicate = parse_q(q, service.knobs.date_format)
            matching = [int(doc["id"]) for doc in service.store.iter_docs(rtype.key) if predicate(doc)]
            total = len(matching)
            ids = matching[offset : offset + limit]
        else:
            ids, total = service.store.ids(rtype.key, limit=limit, offset=offset)
        items = [
            {"links": [{"rel": "self", "href": renderer.record_url(rtype.name, rid)}], "id": str(rid)}
            for rid in ids
        ]
        url = f"{self._rest_root()}/record/v1/{renderer.type_segment(rtype.name)}"
        from urllib.parse import quote

        extra = f"q={quote(q)}&" if q else ""
        return Reply(200, self._envelope(url, extra, items, limit, offset, total), content_type=COLLECTION)

    def _known_fields(
        self, target: RecordType, value: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        """A write body checked against the target type's definition (``X-NetSuite-PropertyNameValidation``):
        400 on unknown fields in ``Error`` mode, else the body without them (counted, never stored)."""
        service = self.server.service
        knobs = service.knobs
        mode = validation_mode(headers.get(NAME_VALIDATION_HEADER.lower()), knobs.property_name_validation)
        result = enforce(definition_for(target.name), value, mode, knobs.unknown_field_code)
        if result.unknown:
            with service.stats.lock:
                for path in result.unknown:
                    service.stats.unknown_fields[f"{target.name}.{path}"] += 1
            if mode == "warning":
                log.warning(
                    "netsuite sandbox: %s %s dropped unknown fields %s",
                    self.command,
                    target.name,
                    result.unknown,
                )
        return result.body

    def _metadata(
        self, segs: list[str], params: dict[str, str], headers: dict[str, str], renderer: Renderer
    ) -> Reply:
        """The metadata catalog (see :mod:`.metadata`): the list, one type's JSON Schema, or OpenAPI 3."""
        store = self.server.service.store
        names = [t.name for t in RECORD_TYPES.values()] + list(store.custom_types)
        catalog_url = f"{renderer.rest_root}/record/v1/metadata-catalog"
        accept = headers.get("accept", "").lower()
        wants_openapi = metadata.SWAGGER_JSON in accept
        segs = [s for s in segs if s]
        if segs:
            selected = [store.record_type(segs[0]).name]
        elif params.get("select"):
            selected = [store.record_type(n.strip()).name for n in params["select"].split(",") if n.strip()]
        else:
            selected = names
        if wants_openapi:
            transforms = [(RECORD_TYPES[a].name, RECORD_TYPES[b].name) for a, b in store.TRANSFORMS]
            document = metadata.openapi(selected, f"{renderer.rest_root}/record/v1", transforms)
            return Reply(200, document, content_type=metadata.SWAGGER_JSON)
        if segs:
            schema = metadata.json_schema(definition_for(selected[0]), catalog_url)
            return Reply(200, schema, content_type=metadata.SCHEMA_JSON)
        return Reply(200, metadata.catalog_list(selected, catalog_url), content_type="application/json")

    # -- admin ------------------------------------------------------------------------------------

    def _admin(self, raw_path: str, query: str, body: bytes) -> Reply:
        service = self.server.service
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return Reply(400, {"error": "body is not JSON"}, content_type="application/json")
        route = (self.command, raw_path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/knobs"):
                return Reply(200, service.knobs.as_dict(), content_type="application/json")
            if route in (("POST", "/_sandbox/knobs"), ("PATCH", "/_sandbox/knobs")):
                update_knobs(service.knobs, payload)
                return Reply(200, service.knobs.as_dict(), content_type="application/json")
            if route == ("POST", "/_sandbox/faults"):
                service.faults.inject(ScriptedFault(**payload))
                return Reply(200, {"pending": service.faults.pending()}, content_type="application/json")
            if route == ("DELETE", "/_sandbox/faults"):
                service.faults.clear()
                return Reply(200, {"pending": []}, content_type="application/json")
            if route == ("GET", "/_sandbox/stats"):
                return Reply(200, service.stats.as_dict(), content_type="application/json")
            if route == ("POST", "/_sandbox/stats/reset"):
                service.stats.reset()
                return Reply(200, service.stats.as_dict(), content_type="application/json")
            if route == ("POST", "/_sandbox/generate"):
                return Reply(
                    200,
                    {k: len(v) for k, v in service.generate(**payload).items()},
                    content_type="application/json",
                )
            if route == ("POST", "/_sandbox/expire-tokens"):
                service.authenticator.expire_tokens()
                return Reply(200, {}, content_type="application/json")
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": f"bad admin request: {exc}"}, content_type="application/json")
        return Reply(404, {"error": "unknown admin route"}, content_type="application/json")


def _sleep_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline`` (no-op when it has passed)."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
