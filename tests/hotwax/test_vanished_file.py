"""A receipt file moved away by another process (an overlapping run, a person) between the listing
and the read or the move: a retriable error that names the file and, for a move, its target, not
paramiko's bare ``[Errno 2] No such file``. Real SFTP server (the HotWax sandbox), no patching."""

from __future__ import annotations

import posixpath
import shutil

import pytest

from po_sync import sftp as remote
from po_sync.exceptions import RetriableError, VanishedFileError
from po_sync_sandbox.hotwax import RECEIPT_DIR

pytestmark = pytest.mark.e2e

FOLDER = str(RECEIPT_DIR)


@pytest.fixture
def client(hotwax_sandbox, actor):
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    with SFTPHook(ssh_conn_id="sftp_default").get_managed_conn() as conn:
        yield conn


@pytest.fixture
def listed(client, actor):
    """A feed listed by us, then moved to archive/ by someone else."""
    (name,) = [actor.write_feed([{"order_id": "1", "items": []}])]
    (entry,) = [f for f in remote.list_files(client, FOLDER) if f.name == name]
    shutil.move(actor.path(RECEIPT_DIR / name), actor.path(RECEIPT_DIR / "archive" / name))
    return posixpath.join(FOLDER, entry.name)


def test_read_of_a_vanished_file_is_retriable_and_names_it(client, listed):
    with pytest.raises(VanishedFileError) as caught:
        remote.read(client, listed, max_bytes=1000)
    assert isinstance(caught.value, RetriableError)
    assert listed in str(caught.value) and "another process" in str(caught.value)
    assert caught.value.code == "FILE_VANISHED" and caught.value.source == listed


@pytest.mark.parametrize("how", ["move", "keep_at", "keep"])
def test_move_of_a_vanished_file_is_retriable_and_names_both_paths(client, listed, how):
    error_dir = posixpath.join(FOLDER, "error")
    target = posixpath.join(error_dir, posixpath.basename(listed))
    with pytest.raises(VanishedFileError) as caught:
        if how == "move":
            remote.move(client, listed, target)
        elif how == "keep_at":
            remote.keep_at(client, listed, target)
        else:
            remote.keep(client, listed, error_dir, posixpath.basename(listed), checksum=None)
    message = str(caught.value)
    assert listed in message and target in message, message
    assert (caught.value.source, caught.value.target) == (listed, target)
    assert not remote.exists(client, target), "nothing was created at the target"


def test_a_missing_target_folder_is_not_called_a_vanished_file(client, actor):
    name = actor.write_feed([{"order_id": "1", "items": []}])
    source = posixpath.join(FOLDER, name)
    with pytest.raises(OSError):
        remote.move(client, source, posixpath.join(FOLDER, "no-such-folder", name))
    assert remote.exists(client, source)
