"""The SFTP moves the HotWax operators make: they live in core (:mod:`po_sync.sftp`), shared with Onetrail."""

from po_sync.sftp import (
    RemoteFile,
    ensure_dir,
    exists,
    free_kept_path,
    keep,
    keep_at,
    list_files,
    move,
    name_tag,
    read,
    remove_temp_uploads,
    safe_name,
    size_of,
    write_atomic,
    write_new,
)

__all__ = [
    "RemoteFile",
    "ensure_dir",
    "exists",
    "free_kept_path",
    "keep",
    "keep_at",
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
