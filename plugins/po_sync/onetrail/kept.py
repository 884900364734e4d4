"""Where an inbound Onetrail file is kept (``archive/`` or ``error/``): recorded first, moved second.

Rule 4 with crashes in mind. A file's outcome is committed to the ledger *before* the file moves,
with the path it is about to be kept at as its record's ``trace_key`` (planned with
:func:`po_sync.sftp.free_kept_path`); only then is the file moved there (:func:`po_sync.sftp.keep_at`),
its note written first when it goes to ``error/``. A crash in between leaves the file in its ``Out``
folder with a closed record naming its destination: the rerun sees that (:meth:`KeptFile.recorded_move`),
only completes the move and counts it in ``notes["moves_finished"]`` -- nothing applied, recorded
or counted again. The other order (move, then record) lost the outcome in that gap: the record stayed
``in_progress`` for good, since no run ever sees a moved file again.

The HotWax receipt import (:mod:`po_sync.hotwax.operators`) and the vendor merge and import
(``po_sync.vendors.s3.move_to_kept``) follow the same order.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from po_sync import faults, retry
from po_sync import sftp as remote
from po_sync.ledger import RecordKey, RecordStatus

if TYPE_CHECKING:
    from paramiko import SFTPClient

    from po_sync.sync import SyncRun

#: a record closed with one of these and a kept path as trace_key: its file's outcome is decided
_DECIDED = (RecordStatus.SYNCED, RecordStatus.IGNORED, RecordStatus.QUARANTINED)
NOTE_SUFFIX = ".error.txt"
#: folders known to exist, per open SFTP client (one task run), so each is checked once
_ENSURED: dict[int, set[str]] = {}


def forget_folders(client: Any) -> None:
    """A new task run on ``client``: check its folders again."""
    _ENSURED.pop(id(client), None)


class KeptFile:
    """The keeping half of an inbound file: plan where it goes, name that on its record, move it.

    Subclasses set ``client``, ``folder``, ``name``, ``path``, ``run``, ``log``, ``checksum``,
    ``size`` and ``conn_id`` (the file's location in the ledger when the queue's Retry applies).
    """

    client: SFTPClient
    folder: str
    name: str
    path: str
    run: SyncRun
    log: Any
    checksum: str
    size: int
    conn_id: str | None
    #: put back by the queue's Retry: whatever its records say, it is to be read again
    retried: bool = False

    @property
    def location(self) -> str:
        raise NotImplementedError

    @property
    def archive_dir(self) -> str:
        return posixpath.join(self.folder, "archive")

    @property
    def error_dir(self) -> str:
        return posixpath.join(self.folder, "error")

    def _tag(self, error: bool) -> str | None:
        # the name tag of a kept file: from its content, or (unread: too big) from its size
        return self.checksum or (f"size-{self.size}" if error else None)

    # ---- plan and record (before the move)

    def plan_archive(self) -> str:
        """The free ``archive/`` path this file will be moved to (nothing moved yet)."""
        return remote.free_kept_path(self.client, self.archive_dir, self.name, checksum=self._tag(False))

    def plan_error(self) -> str:
        """The free ``error/`` path this file will be moved to, never over a file or a note kept before."""
        return remote.free_kept_path(self.client, self.error_dir, self.name, checksum=self._tag(True))

    def name_target(self, record_id: int, target: str) -> None:
        """Put ``target`` on the file's record (still held by this run) before its outcome closes it."""
        self.run.ledger.set_trace_key([record_id], target, sync_run_id=self.run.id)

    def settle(self, target: str, note: str | None) -> None:
        """Close the queue's Retry records waiting for this file (when it was put back by one)."""
        if not self.conn_id:
            return
        if note is None:
            retry.settle(self.run, self.location, target_id=target, target_system="sftp")
        else:
            retry.settle(self.run, self.location, error=("REFUSED_AGAIN", f"{note} (now {target})"))

    # ---- move (after the outcome is committed)

    def _ensure(self, folder: str) -> None:
        made = _ENSURED.setdefault(id(self.client), set())
        if folder not in made:
            remote.ensure_dir(self.client, folder)
            made.add(folder)

    def keep(self, target: str, *, note: str | None = None, rewrite_note: bool = True) -> str:
        """Move the file to ``target`` (planned, recorded); with ``note``, ``<target>.error.txt`` first.

        When another file took ``target`` since it was planned (never one of ours: names are tagged
        by content), the file is kept under the next free name instead, and the log says so.
        """
        flow = self.run.flow
        faults.hit(flow, "after_file_outcome")
        folder = posixpath.dirname(target)
        self._ensure(folder)
        data = None if note is None else (note + "\n").encode()
        if data is not None and (rewrite_note or not remote.exists(self.client, target + NOTE_SUFFIX)):
            # the note first: a kept file is never without it
            remote.write_atomic(self.client, target + NOTE_SUFFIX, data)
            faults.hit(flow, "after_error_note")
        moved = target
        if not remote.keep_at(self.client, self.path, target) and remote.exists(self.client, self.path):
            moved = remote.keep(
                self.client,
                self.path,
                folder,
                self.name,
                checksum=self._tag(note is not None),
                note=None if data is None else (NOTE_SUFFIX, data),
            )
            self.log.warning("%s: %s was taken meanwhile; kept as %s instead", self.name, target, moved)
        if note is None:
            faults.hit(flow, "after_archive")
        else:
            faults.hit(flow, "after_error_move")
            self.log.warning("%s -> %s: %s", self.name, moved, note)
        return moved

    # ---- a rerun after a crash between the record and the move

    def recorded_move(self, *keys: RecordKey) -> tuple[str, str | None] | None:
        """``(target, note)`` when one of ``keys`` (the file's record, its duplicate record) says where
        this file goes and nothing is there yet: a run recorded the outcome and stopped before the
        move. None otherwise (never handled, the kept path holds a file: this is a new delivery, or
        the queue's Retry put the file back: its file record still names the ``error/`` path it
        came from when only a document of it was retried, or the Retry found the kept file removed
        by hand: ``RETRY_NOT_POSSIBLE``, and the same file delivered again is to be read)."""
        if self.retried:
            return None
        for key in keys:
            state = self.run.ledger.get(key)
            if state is None or state.status not in _DECIDED or not state.trace_key:
                continue
            if retry.gave_up(state):
                continue
            target = state.trace_key
            folder = posixpath.dirname(target)
            if folder not in (self.archive_dir, self.error_dir) or remote.exists(self.client, target):
                continue
            if folder == self.archive_dir:
                return target, None
            return target, state.last_error_message or state.last_error_code or "quarantined"
        return None

    def finish_move(self, target: str, note: str | None) -> str:
        """Complete a move :meth:`recorded_move` found: nothing is applied or recorded again."""
        self.log.info(
            "%s: its outcome was recorded before the run stopped; moving it to %s", self.name, target
        )
        self.settle(target, note)
        moved = self.keep(target, note=note, rewrite_note=False)
        notes = self.run.notes
        notes["moves_finished"] = int(notes.get("moves_finished", 0)) + 1
        return moved
