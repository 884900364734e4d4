"""The few SFTP moves the file flows make (HotWax, Onetrail), on the paramiko client of the official ``SFTPHook``.

``SFTPHook`` has no rename, so :func:`move` uses ``posix_rename`` (OpenSSH's
``posix-rename@openssh.com``, which replaces the target atomically) on the client from
``SFTPHook.get_managed_conn()``. Paths are POSIX, relative to the login directory unless absolute.
"""

from __future__ import annotations

import io
import posixpath
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from po_sync.exceptions import RetriableError

if TYPE_CHECKING:
    from collections.abc import Callable

    from paramiko import SFTPClient

__all__ = ["RemoteFile", "ensure_dir", "exists", "list_files", "move", "read", "size_of", "write_atomic"]


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in a listed directory."""

    name: str
    size: int
    mtime: int


def ensure_dir(client: SFTPClient, path: str) -> None:
    """Create ``path`` and its parents when missing.

    :param client: an open SFTP client.
    :param path: the directory.
    """
    parts = [p for p in path.split("/") if p]
    current = "/" if path.startswith("/") else ""
    for part in parts:
        current = posixpath.join(current, part) if current else part
        try:
            client.stat(current)
        except FileNotFoundError:
            client.mkdir(current)


def list_files(client: SFTPClient, path: str) -> list[RemoteFile]:
    """Regular files directly in ``path``, sorted by name (``.``, ``..`` and folders left out).

    :param client: an open SFTP client.
    :param path: the directory.
    """
    files = []
    for attr in client.listdir_attr(path):
        if attr.filename in (".", "..") or attr.st_mode is None or not stat.S_ISREG(attr.st_mode):
            continue
        files.append(RemoteFile(attr.filename, int(attr.st_size or 0), int(attr.st_mtime or 0)))
    return sorted(files, key=lambda f: f.name)


def size_of(client: SFTPClient, path: str) -> int | None:
    """The size of ``path``, or None when it does not exist."""
    try:
        return int(client.stat(path).st_size or 0)
    except FileNotFoundError:
        return None


def exists(client: SFTPClient, path: str) -> bool:
    """Whether ``path`` exists."""
    return size_of(client, path) is not None


def read(client: SFTPClient, path: str, *, max_bytes: int) -> bytes:
    """Download ``path`` into memory, refusing to read past ``max_bytes`` (+1 to tell it was bigger).

    :param client: an open SFTP client.
    :param path: the file.
    :param max_bytes: the most bytes to read.
    """
    with client.open(path, "rb") as handle:
        handle.prefetch()
        return handle.read(max_bytes + 1)


def write_atomic(
    client: SFTPClient, path: str, data: bytes, *, after_temp: Callable[[], None] | None = None
) -> None:
    """Upload ``data`` to a hidden temporary name beside ``path``, check its size, then rename it.

    A reader polling the folder never sees a partial file under the final name.

    :param client: an open SFTP client.
    :param path: the final name.
    :param data: the content.
    :param after_temp: called between the upload and the rename (a crash point, :mod:`po_sync.faults`).
    :raises RetriableError: the server holds a different size than was sent.
    """
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}.part")
    client.putfo(io.BytesIO(data), temp, file_size=len(data), confirm=True)
    if size_of(client, temp) != len(data):
        raise RetriableError(f"upload of {name} incomplete on the server", system="sftp", path=temp)
    if after_temp is not None:
        after_temp()
    client.posix_rename(temp, path)


def move(client: SFTPClient, source: str, target: str) -> None:
    """Rename ``source`` to ``target`` on the server (replacing ``target``)."""
    client.posix_rename(source, target)
