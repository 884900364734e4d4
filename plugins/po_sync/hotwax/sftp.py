"""The SFTP moves the HotWax operators make: they live in core (:mod:`po_sync.sftp`), shared with Onetrail."""

from po_sync.sftp import RemoteFile, ensure_dir, exists, list_files, move, read, size_of, write_atomic

__all__ = ["RemoteFile", "ensure_dir", "exists", "list_files", "move", "read", "size_of", "write_atomic"]
