"""An SFTP server for HotWax (pure-Python, asyncssh), chrooted to ``state_dir/sftp/root``.

Flows write a file and then rename it into place, so ``rename`` and ``posix-rename@openssh.com`` are
served by asyncssh's stock implementation. Links are refused: a link is the one way out of a chroot.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
from pathlib import Path
from typing import Any

import asyncssh

from po_sync_sandbox._net import LOOPBACK
from po_sync_sandbox.base import ServiceInfo

log = logging.getLogger(__name__)

USERNAME = "hotwax"
#: Sandbox-only password; the emitted connection uses the key file, this is for password-auth tests.
PASSWORD = "hotwax-sandbox-password"
HOST_KEY_FILE = "ssh_host_ed25519_key"
CLIENT_KEY_FILE = "hotwax_ed25519"


def _ensure_key(path: Path, comment: str) -> asyncssh.SSHKey:
    """Load the ed25519 key at ``path``, generating it (and ``path.pub``) on first use.

    Kept on disk so a restarted sandbox presents the same host key and accepts the same client key.

    :param path: private key file (OpenSSH format, mode 0600).
    :param comment: key comment written to the public key file.
    """
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.export_private_key("openssh"))
    os.replace(tmp, path)
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return key


class _ChrootedSFTPServer(asyncssh.SFTPServer):
    """asyncssh's SFTP server with a virtual root and no link creation."""

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")


class _AuthServer(asyncssh.SSHServer):
    """Accept ``hotwax`` with either the sandbox password or the sandbox client key."""

    def __init__(self, service: SftpService) -> None:
        self._service = service
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._service._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._service._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always require authentication

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self._service.username and hmac.compare_digest(
            password.encode(), self._service.password.encode()
        )

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        client_key = self._service._client_public_key
        return (
            username == self._service.username
            and client_key is not None
            and key.public_data == client_key.public_data
        )


class SftpService:
    """SFTP on loopback for user ``hotwax``, password or ed25519 key auth, host key kept in state.

    Layout under ``state_dir/sftp/``: ``root/`` is what the client sees as ``/``; ``keys/`` holds the
    host key and the client key pair (outside the chroot).

    :param port: TCP port to listen on; ``0`` lets the kernel pick a free one.
    :param conn_id: Airflow connection id to emit for it.
    :param username: the one account served.
    :param password: its password.
    :param directories: folders created inside the root on start (e.g. ``("inbound", "outbound")``).
    """

    name = "sftp"

    def __init__(
        self,
        port: int = 0,
        conn_id: str = "sftp_default",
        username: str = USERNAME,
        password: str = PASSWORD,
        directories: tuple[str, ...] = (),
    ) -> None:
        self.port = port
        self.conn_id = conn_id
        self.username = username
        self.password = password
        self.directories = directories
        self.root: Path | None = None
        self.keys_dir: Path | None = None
        self._host_key: asyncssh.SSHKey | None = None
        self._client_public_key: asyncssh.SSHKey | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: Any = None
        self._connections: set[asyncssh.SSHServerConnection] = set()

    @property
    def host_key_file(self) -> Path:
        assert self.keys_dir is not None
        return self.keys_dir / HOST_KEY_FILE

    @property
    def client_key_file(self) -> Path:
        assert self.keys_dir is not None
        return self.keys_dir / CLIENT_KEY_FILE

    @property
    def host_public_key(self) -> str:
        """The host key as ``"ssh-ed25519 AAAA..."`` (type and base64, no comment)."""
        assert self._host_key is not None
        key_type, key_b64 = self._host_key.export_public_key("openssh").decode().split()[:2]
        return f"{key_type} {key_b64}"

    def start(self, state_dir: Path) -> ServiceInfo:
        """Create root and keys, start the event loop thread and the listener.

        :param state_dir: sandbox state directory.
        """
        base = Path(state_dir) / self.name  # "sftp"; each SFTP stand-in keeps its own root and keys
        self.root = base / "root"
        self.keys_dir = base / "keys"
        self.root.mkdir(parents=True, exist_ok=True)
        for directory in self.directories:
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        self._host_key = _ensure_key(self.host_key_file, "po-sync-sandbox-host")
        self._client_public_key = _ensure_key(self.client_key_file, f"{self.username}@po-sync-sandbox")

        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="sandbox-sftp", daemon=True)
        self._thread.start()
        root = str(self.root)
        host_key = self._host_key

        async def _listen() -> Any:
            return await asyncssh.create_server(
                lambda: _AuthServer(self),
                LOOPBACK,
                self.port,
                server_host_keys=[host_key],
                sftp_factory=lambda chan: _ChrootedSFTPServer(chan, chroot=root.encode()),
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )

        try:
            self._acceptor = asyncio.run_coroutine_threadsafe(_listen(), loop).result(timeout=15)
        except BaseException:
            self._stop_loop()
            raise
        self.port = int(self._acceptor.sockets[0].getsockname()[1])
        log.info("SFTP listening on %s:%d (root %s)", LOOPBACK, self.port, self.root)
        return self.info()

    def info(self) -> ServiceInfo:
        """Describe the running server: address, key paths, host key, and the ``sftp`` connection."""
        if self._acceptor is None:
            raise RuntimeError("SftpService is not started")
        connection = {
            "conn_type": "sftp",
            "host": LOOPBACK,
            "port": self.port,
            "login": self.username,
            "extra": {
                "key_file": str(self.client_key_file),
                # Type prefix required: SSHHook reads a bare base64 host key as ssh-rsa.
                "host_key": self.host_public_key,
                "no_host_key_check": False,
                "look_for_keys": False,
                "conn_timeout": 10,
            },
        }
        return ServiceInfo(
            name=self.name,
            endpoints={"host": LOOPBACK, "port": self.port, "url": f"sftp://{LOOPBACK}:{self.port}"},
            credentials={
                "username": self.username,
                "password": self.password,
                "private_key_file": str(self.client_key_file),
                "public_key_file": str(self.client_key_file) + ".pub",
                "host_key_file": str(self.host_key_file) + ".pub",
                "host_public_key": self.host_public_key,
                "root": str(self.root),
            },
            connections={self.conn_id: connection},
        )

    def stop(self) -> None:
        """Close the listener and open sessions, then stop the loop thread; safe to call twice."""
        loop, acceptor = self._loop, self._acceptor
        self._acceptor = None
        if loop is not None and acceptor is not None and loop.is_running():

            async def _close() -> None:
                acceptor.close()
                await acceptor.wait_closed()
                for conn in list(self._connections):
                    conn.close()
                    await conn.wait_closed()

            try:
                asyncio.run_coroutine_threadsafe(_close(), loop).result(timeout=10)
            except Exception:  # pragma: no cover - best effort on shutdown
                log.exception("SFTP shutdown was not clean")
        self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        loop.close()
