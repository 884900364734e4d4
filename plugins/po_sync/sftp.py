"""The few SFTP moves the file flows make (HotWax, Onetrail), on the paramiko client of the official ``SFTPHook``.

``SFTPHook`` has no rename, so :func:`move` uses ``posix_rename`` (OpenSSH's
``posix-rename@openssh.com``, which replaces the target atomically) on the client from
``SFTPHook.get_managed_conn()``. Paths are POSIX, relative to the login directory unless absolute.

Files we keep (``archive/``, ``error/``) are never overwritten (DESIGN.md, ledger rule 4):
:func:`keep` moves with the plain SFTP ``rename``, which refuses an existing target, under the
first free name of :func:`kept_names` (the name itself when it is safe, then the name tagged with a
hash of the original name and content). Our own notes end in one of :data:`NOTE_SUFFIXES`, and a
kept partner file never does (such a name is tagged), so a partner's file named ``x.json.error.txt``
cannot replace the note about ``x.json``, nor a note replace a partner's file.

A file listed a moment ago may be gone when it is read or moved: another process (an overlapping
run, a person) moved it meanwhile. :func:`read`, :func:`move`, :func:`keep` and :func:`keep_at` then
raise :class:`~po_sync.exceptions.VanishedFileError` (retriable) naming the file and, for a move, its
target, instead of paramiko's bare ``[Errno 2] No such file``.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from po_sync.exceptions import RetriableError, VanishedFileError

if TYPE_CHECKING:
    from collections.abc import Callable

    from paramiko import SFTPClient

__all__ = [
    "NOTE_SUFFIXES",
    "RemoteFile",
    "ensure_dir",
    "exists",
    "free_kept_path",
    "keep",
    "keep_at",
    "kept_names",
    "list_files",
    "move",
    "name_tag",
    "read",
    "remove_temp_uploads",
    "safe_name",
    "size_of",
    "write_atomic",
    "write_new",
]

#: The endings of the notes we write beside kept files; a kept partner file never ends in one.
NOTE_SUFFIXES = (".errors.csv", ".error.txt", ".failed.json")
_SAFE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
#: How many differently numbered names :func:`keep` tries before giving up (a storm of identical files).
_MAX_TRIES = 50


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
    try:
        with client.open(path, "rb") as handle:
            handle.prefetch()
            return handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise _vanished(path) from None


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
    """Rename ``source`` to ``target`` on the server (replacing ``target``).

    :raises VanishedFileError: ``source`` is gone (another process moved it since it was listed).
    """
    try:
        client.posix_rename(source, target)
    except FileNotFoundError:
        if exists(client, source):
            raise  # the target's folder is missing: not a vanished file
        raise _vanished(source, target) from None


def _vanished(source: str, target: str | None = None) -> VanishedFileError:
    """The error for a listed file that is gone: it names the file and, for a move, the target."""
    if target is None:
        message = f"{source} was listed but is gone when read: another process moved it meanwhile"
    else:
        message = (
            f"{source} was listed but is gone when moved to {target}: another process moved it meanwhile"
        )
    return VanishedFileError(message, source=source, target=target, system="sftp", code="FILE_VANISHED")


def safe_name(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9._-]`` replaced, no leading dot, at most 120."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:120]
    return cleaned or "unnamed"


def name_tag(name: str, checksum: str | None) -> str:
    """12 hex characters from the original ``name`` (every byte of it) and the content's ``checksum``:
    two files whose safe names collapse to one (``a?b.json``, ``a\nb.json``) get different tags."""
    raw = name.encode("utf-8", "surrogateescape") + b"\0" + (checksum or "").encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def kept_names(name: str, checksum: str | None) -> Iterator[str]:
    """Names to keep a partner's file under, best first: the name itself when it is safe and not one
    of our note endings, then ``<stem>.<tag><ext>``, then ``<stem>.<tag>-<n><ext>``."""
    safe = safe_name(name)
    if safe == name and _SAFE_RE.fullmatch(name) and not name.endswith(NOTE_SUFFIXES):
        yield name
    stem, ext = posixpath.splitext(safe)
    if not stem or len(ext) > 16:
        stem, ext = safe, ""
    tag = name_tag(name, checksum)
    yield f"{stem}.{tag}{ext}"
    for n in range(2, _MAX_TRIES):
        yield f"{stem}.{tag}-{n}{ext}"


def _rename_new(client: SFTPClient, source: str, target: str) -> bool:
    """Rename without replacing (plain SFTP ``rename``); False when ``target`` already exists.

    :raises VanishedFileError: ``source`` is gone and ``target`` free (another process moved it).
    """
    try:
        client.rename(source, target)
    except OSError:
        if exists(client, target):
            return False
        if not exists(client, source):
            raise _vanished(source, target) from None
        raise
    return True


def keep(
    client: SFTPClient,
    source: str,
    folder: str,
    name: str,
    *,
    checksum: str | None,
    note: tuple[str, bytes] | None = None,
    after_note: Callable[[], None] | None = None,
) -> str:
    """Move ``source`` into ``folder`` under the first free name of :func:`kept_names`; return the path.

    :param name: the partner's file name (any characters).
    :param checksum: the content's SHA-256 (or None when unread): part of the tag.
    :param note: ``(suffix, data)`` written beside the kept file first (``<kept>.errors.csv``), so a
        crash between the two leaves the file where it was, never a kept file without its note.
    :param after_note: called between the note and the move (a crash point, :mod:`po_sync.faults`).
    :raises RetriableError: no free name (after :data:`_MAX_TRIES`).
    """
    for candidate in kept_names(name, checksum):
        target = posixpath.join(folder, candidate)
        if exists(client, target):
            continue
        if note is not None:
            suffix, data = note
            if not suffix.endswith(NOTE_SUFFIXES):
                raise ValueError(f"note suffix {suffix!r} is not one of {NOTE_SUFFIXES}")
            write_atomic(client, target + suffix, data)
            if after_note is not None:
                after_note()
        if _rename_new(client, source, target):
            return target
    raise RetriableError(f"no free name to keep {safe_name(name)} in {folder}", system="sftp", path=folder)


def free_kept_path(client: SFTPClient, folder: str, name: str, *, checksum: str | None) -> str:
    """The path :func:`keep` would move ``name`` to now (the first free name of :func:`kept_names` in
    ``folder``), without moving anything.

    A flow that must record where a file goes *before* it moves it (ledger outcome first, then the
    move, so a crash in between leaves the file in the inbox for the rerun to finish) plans the
    name with this and moves with :func:`keep_at`.

    :raises RetriableError: no free name (after :data:`_MAX_TRIES`).
    """
    for candidate in kept_names(name, checksum):
        target = posixpath.join(folder, candidate)
        if not exists(client, target):
            return target
    raise RetriableError(f"no free name to keep {safe_name(name)} in {folder}", system="sftp", path=folder)


def keep_at(client: SFTPClient, source: str, target: str) -> bool:
    """Move ``source`` to exactly ``target`` (a name planned with :func:`free_kept_path`), never over
    an existing file; False when ``target`` is taken (or ``source`` is gone and ``target`` exists)."""
    return _rename_new(client, source, target)


def write_new(
    client: SFTPClient, path: str, data: bytes, *, after_temp: Callable[[], None] | None = None
) -> bool:
    """Upload ``data`` to a temporary name of its own, then rename it to ``path`` only if ``path`` is free.

    Two writers never replace each other's file: the second one's rename fails and it is told so.

    :param after_temp: called between the upload and the rename (a crash point, :mod:`po_sync.faults`).
    :returns: True when the file was written, False when ``path`` already existed (nothing changed).
    :raises RetriableError: the server holds a different size than was sent.
    """
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.part")
    client.putfo(io.BytesIO(data), temp, file_size=len(data), confirm=True)
    if size_of(client, temp) != len(data):
        raise RetriableError(f"upload of {name} incomplete on the server", system="sftp", path=temp)
    if after_temp is not None:
        after_temp()
    written = _rename_new(client, temp, path)
    _remove_parts(client, folder, name)
    return written


def _remove_parts(client: SFTPClient, folder: str, name: str) -> None:
    """Remove every temporary upload of ``name`` (``.<name>.<id>.part``): ours when the rename was
    refused, and one a crashed try of the same write left behind. Another writer's part may go too;
    its rename then fails and its retry finds ``name`` complete. Already gone is fine."""
    prefix = f".{name}."
    for entry in client.listdir(folder or "."):
        if entry.startswith(prefix) and entry.endswith(".part"):
            try:
                client.remove(posixpath.join(folder, entry))
            except FileNotFoundError:
                pass


def remove_temp_uploads(client: SFTPClient, folder: str, name: str) -> list[str]:
    """Remove the hidden temporary uploads of ``name`` a dead writer left in ``folder``; the names removed.

    Only the exact shapes :func:`write_new` (``.<name>.<12 hex>.part``) and :func:`write_atomic`
    (``.<name>.part``) give a temporary upload are touched: nothing else in the folder, whatever its
    name. Call it only for a ``name`` whose writer is known to be gone (e.g. the file of ledger
    records this run has taken over from a crashed run), since a live writer's rename would fail.

    :param client: an open SFTP client.
    :param folder: the folder the upload went to.
    :param name: the final file name (a plain, safe name: no path, no leading dot).
    :raises ValueError: ``name`` is not a plain file name.
    """
    if not _SAFE_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain file name")
    shape = re.compile(r"\." + re.escape(name) + r"(\.[0-9a-f]{12})?\.part")
    removed = []
    for entry in client.listdir(folder or "."):
        if not shape.fullmatch(entry):
            continue
        try:
            client.remove(posixpath.join(folder, entry))
        except FileNotFoundError:
            continue  # another run removed it first
        removed.append(entry)
    return sorted(removed)
