"""The cutting proxy itself: a plain pipe when quiet, a reset mid-stream (at once, not at the
client's timeout) when it cuts, and cutting a share of connections at a rate."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.storms.proxy import CuttingProxy, proxied_connection

pytestmark = pytest.mark.storm


@pytest.fixture
def echo() -> Iterator[int]:
    """A server that answers every chunk with 100 copies of it (answers span several recv calls)."""
    server = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(100):
                    conn.sendall(data * 100)
            except OSError:
                pass

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _exchange(port: int, rounds: int = 5) -> tuple[int, BaseException | None, float]:
    """Bytes received over ``rounds`` request/answer rounds, the error that ended them, the time."""
    got, started = 0, time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(5)
        try:
            for _ in range(rounds):
                conn.sendall(b"x" * 50)
                need = 5000
                while need > 0:
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError("closed mid-answer")
                    need -= len(data)
                    got += len(data)
        except (OSError, EOFError) as exc:
            return got, exc, time.monotonic() - started
    return got, None, time.monotonic() - started


def test_quiet_proxy_is_a_plain_pipe(echo: int) -> None:
    with CuttingProxy("127.0.0.1", echo, cut_rate=0.0) as proxy:
        assert _exchange(proxy.port)[:2] == (25_000, None)
        assert (proxy.connections, proxy.cuts) == (1, 0)


def test_a_cut_resets_the_connection_at_once(echo: int) -> None:
    with CuttingProxy("127.0.0.1", echo, cut_rate=1.0) as proxy:
        got, error, took = _exchange(proxy.port)
        assert got < 25_000 and isinstance(error, ConnectionResetError | EOFError), (got, error)
        assert took < 2, f"the client learnt of the cut only after {took:.1f}s (its own timeout)"
        assert proxy.cuts == 1
        proxy.cut_rate = 0.0  # storm off: the next connection is whole again
        assert _exchange(proxy.port)[:2] == (25_000, None)


def test_a_share_of_connections_is_cut(echo: int) -> None:
    # 5% per chunk: with ~8 chunks per exchange about a third of the connections are cut; all 20
    # whole or all 20 cut would take odds below 1 in 4,000
    with CuttingProxy("127.0.0.1", echo, cut_rate=0.05, seed=5) as proxy:
        got = [_exchange(proxy.port, rounds=3)[0] for _ in range(20)]
    assert any(n < 15_000 for n in got) and any(n == 15_000 for n in got), got
    assert proxy.cuts == sum(n < 15_000 for n in got)


def test_connections_are_rewritten_to_the_proxy() -> None:
    sftp = '{"conn_type": "sftp", "host": "127.0.0.1", "port": 2222, "login": "u"}'
    assert proxied_connection(sftp, 9)[:2] == ("127.0.0.1", 2222)
    assert '"port": 9' in proxied_connection(sftp, 9)[2]
    http = '{"conn_type": "netsuite", "host": "https://127.0.0.1:4443"}'
    assert proxied_connection(http, 9)[1:] == (
        4443,
        '{"conn_type": "netsuite", "host": "https://127.0.0.1:9"}',
    )
    aws = (
        '{"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:5000", '
        '"service_config": {"sts": {"endpoint_url": "http://127.0.0.1:5000"}}}}'
    )
    rewritten = proxied_connection(aws, 9)[2]
    assert rewritten.count("127.0.0.1:9") == 2 and "5000" not in rewritten
