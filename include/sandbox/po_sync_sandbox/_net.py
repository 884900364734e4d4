"""Loopback socket helpers shared by the stand-ins, so every one binds the same way."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Ask the kernel for a currently unused TCP port on ``host``.

    Needed for servers (aiosmtpd) that cannot bind port 0 themselves. There is a small window in which
    another process could take the port; callers retry on ``EADDRINUSE``.

    :param host: interface to probe, loopback by default.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on ``host:port``.

    :param host: host to connect to.
    :param port: TCP port.
    :param timeout: connect timeout in seconds.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, *, open_: bool = True, timeout: float = 10.0) -> bool:
    """Poll until ``host:port`` is open (or closed, with ``open_=False``); return whether it got there.

    :param host: host to probe.
    :param port: TCP port.
    :param open_: wait for the port to accept connections (``True``) or to refuse them (``False``).
    :param timeout: give up after this many seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port) == open_:
            return True
        time.sleep(0.05)
    return port_open(host, port) == open_
