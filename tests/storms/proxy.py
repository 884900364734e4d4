"""A small TCP proxy that cuts connections mid-stream, for fault storms.

The sandboxes inject faults at the protocol level (a 429, a 503, a held-back answer); what they cannot
do is break the wire itself in the middle of an SFTP upload, an S3 PUT or a TLS record. This proxy sits
between a flow and one sandbox (the flow's Airflow connection points at the proxy's port, see
:func:`proxied_connection`) and, while :attr:`CuttingProxy.cut_rate` is above zero, resets a share of
the connections at a random byte: the client sees ``ECONNRESET`` / EOF half-way through
a request or an answer, exactly as a flaky network or a restarted load balancer would give it.

Cuts are drawn from a RNG seeded per proxy: the same seed over traffic that arrives in the same
chunks cuts at the same places (TCP chunking varies from run to run, so storms are reproducible in
kind, not byte for byte). ``cut_rate = 0`` makes the proxy a plain pipe (storms off).
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CuttingProxy", "proxied_connection"]

_CHUNK = 16 * 1024


class CuttingProxy:
    """Listen on a loopback port and forward to ``target``; cut connections mid-stream.

    :param target_host: where the real service listens.
    :param target_port: its port.
    :param cut_rate: chance (0..1) that one forwarded chunk (one ``recv``, at most 16 KiB: an HTTP
        request or answer, an SSH handshake step, a slice of an SFTP write) is the one where the
        connection is cut; a cut forwards a random prefix of the chunk, then resets both sides. A
        per-chunk chance, not per connection: clients keep connections alive for a whole run.
        Changeable while running (0 = a plain pipe).
    :param seed: seed of the RNG that picks the cuts.
    :param cut_pattern: also cut, before a byte of it is forwarded, every chunk the client sends that
        holds these bytes (e.g. one request line, ``b"PUT /bucket/quarantine/x.error.txt"``): one
        chosen call fails on every try while the rest go through. Changeable while running.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        cut_rate: float = 0.0,
        seed: int = 16,
        cut_pattern: bytes | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.cut_rate = cut_rate
        self.cut_pattern = cut_pattern
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._open: set[socket.socket] = set()
        #: connections accepted / cut so far (a storm that cut nothing proved nothing)
        self.connections = 0
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept, name=f"proxy:{self.port}", daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting and reset every open connection."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _reset(sock)
            self._open.clear()

    # -- forwarding -------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self.connections += 1
                self._open.update((client, upstream))
            link = _Link(client, upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(link, src, dst), daemon=True).start()

    def _cut_at(self, data: bytes, from_client: bool) -> int | None:
        """None = forward all of ``data``, else how many bytes to forward before cutting."""
        with self._lock:
            if from_client and self.cut_pattern and self.cut_pattern in data:
                self.cuts += 1
                return 0
            if self.cut_rate <= 0 or self._rng.random() >= self.cut_rate:
                return None
            self.cuts += 1
            return self._rng.randrange(len(data))

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not link.cut:
                data = src.recv(_CHUNK)
                if not data:
                    break
                cut_here = self._cut_at(data, src is link.client)
                if cut_here is not None:
                    link.cut = True
                    if cut_here:
                        dst.sendall(data[:cut_here])
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._finish(link, dst)

    def _finish(self, link: _Link, dst: socket.socket) -> None:
        if link.cut:
            link.close(reset=True)
        else:
            # a clean EOF one way: pass it on (half-close); the second pump to end closes the link
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if not link.one_side_done():
                return
            link.close(reset=False)
        with self._lock:
            self._open.discard(link.client)
            self._open.discard(link.upstream)


class _Link:
    """One proxied connection: its two sockets, whether it was cut, how many directions ended."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.cut = False
        self._done = 0
        self._lock = threading.Lock()

    def one_side_done(self) -> bool:
        with self._lock:
            self._done += 1
            return self._done >= 2

    def close(self, *, reset: bool) -> None:
        for sock in (self.client, self.upstream):
            if reset:
                _reset(sock)
            else:
                try:
                    sock.close()
                except OSError:
                    pass


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer gets ECONNRESET, not a polite EOF.

    ``shutdown(SHUT_RD)`` first: it wakes the other pump thread blocked in ``recv`` on this socket
    (it returns EOF at once) without sending anything; without it Linux keeps the socket open until
    that ``recv`` returns, so the peer would see nothing until its own read timeout.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def proxied_connection(conn_json: str, proxy_port: int) -> tuple[str, int, str]:
    """Rewrite an ``AIRFLOW_CONN_*`` JSON connection to go through a proxy on ``proxy_port``.

    The target is the connection's ``host`` + ``port`` (SFTP) or the port of its ``host`` URL (NetSuite,
    X-Series, ServiceNow) or of ``extra.endpoint_url`` (AWS, with the STS endpoint too). Returns the
    original host, the original port and the rewritten JSON.
    """
    conn: dict[str, Any] = json.loads(conn_json)
    extra = conn.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    if "endpoint_url" in extra:
        host, port, extra["endpoint_url"] = _swap(extra["endpoint_url"], proxy_port)
        for service in (extra.get("service_config") or {}).values():
            if "endpoint_url" in service:
                service["endpoint_url"] = _swap(service["endpoint_url"], proxy_port)[2]
        conn["extra"] = extra
    elif str(conn.get("host", "")).startswith(("http://", "https://")):
        host, port, conn["host"] = _swap(conn["host"], proxy_port)
    else:
        host, port = conn["host"], int(conn["port"])
        conn["port"] = proxy_port
    return host, port, json.dumps(conn)


def _swap(url: str, proxy_port: int) -> tuple[str, int, str]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, port, urlunsplit(parts._replace(netloc=f"{host}:{proxy_port}"))
