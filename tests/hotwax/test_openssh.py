"""Both HotWax DAGs against OpenSSH's sshd + sftp-server (CI: ``.ci/openssh.sh``), skipped without it.

``PO_SYNC_OPENSSH_CONN`` holds the connection JSON the script prints; the HotWax actor works in that
user's home directory on this machine (the tests run as root in CI, like the script).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import pytest

from po_sync.ledger import RecordKey, RecordStatus
from po_sync_sandbox.hotwax import BASE, PO_DIR, RECEIPT_DIR, HotWaxActor
from tests.hotwax.conftest import SMALL_DATA, po_status, receipts_of, run_dag
from tests.hotwax.test_e2e_receipts import report

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("PO_SYNC_OPENSSH_CONN"), reason="PO_SYNC_OPENSSH_CONN not set (.ci/openssh.sh)"
    ),
]
POS = ["1", "2", "3", "4", "5"]


@pytest.fixture
def openssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """NetSuite sandbox + the OpenSSH server as ``sftp_default``; HotWax's folders emptied first."""
    from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService
    from po_sync_sandbox.runner import Sandbox

    conn = json.loads(os.environ["PO_SYNC_OPENSSH_CONN"])
    home = Path(pwd.getpwnam(conn["login"]).pw_dir)
    for folder in (PO_DIR, PO_DIR / "archive", RECEIPT_DIR, RECEIPT_DIR / "archive", RECEIPT_DIR / "error"):
        target = home / folder
        for child in target.iterdir() if target.is_dir() else ():
            if child.is_file() or child.is_symlink():
                child.unlink()
    assert (home / BASE).is_dir(), f"{home / BASE} missing: run .ci/openssh.sh"
    netsuite = NetSuiteService(generate_spec=GenerateSpec(**SMALL_DATA))
    with Sandbox(tmp_path / "sandbox", services=[netsuite]) as sb:
        for key, value in sb.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIRFLOW_CONN_SFTP_DEFAULT", json.dumps(conn))
        monkeypatch.delenv("PO_SYNC_HOTWAX_CRASH", raising=False)
        actor = HotWaxActor(root=home)
        actor.setup()
        yield actor, netsuite.store
    shutil.rmtree(tmp_path / "sandbox", ignore_errors=True)


def test_export_and_import_against_openssh(dagbag, ledger_conn, openssh, monkeypatch):
    actor, store = openssh
    for _ in (1, 2):
        assert run_dag(dagbag, "hotwax_po_export").state == "success"
    assert actor.import_purchase_orders() == POS and actor.duplicates() == {}
    assert not [n for n in actor.files(PO_DIR) if n.startswith(".")]

    (partial,) = actor.receive(partial=True)
    bad = actor.bad_feed("malformed")
    monkeypatch.setenv("PO_SYNC_HOTWAX_CRASH", "after_receipt")
    assert run_dag(dagbag, "hotwax_receipt_import").state == "failed"
    monkeypatch.delenv("PO_SYNC_HOTWAX_CRASH")
    assert run_dag(dagbag, "hotwax_receipt_import").state == "success"  # resumes after the crash
    actor.bad_feed("duplicate")
    assert run_dag(dagbag, "hotwax_receipt_import").state == "success"

    assert {po: po_status(store, po) for po in POS} == dict.fromkeys(POS, "D")
    assert all(len(receipts_of(store, po)) == 1 for po in POS)
    assert actor.files(RECEIPT_DIR) == [] and actor.files(RECEIPT_DIR / "archive") == [partial]
    assert "malformed JSON" in report(actor, bad)[0]["errorMessage"]
    assert "already imported" in report(actor, partial)[0]["errorMessage"]
    state = ledger_conn.get(RecordKey("hotwax_po_export", "purchase_order", "netsuite", "1"))
    assert state.status is RecordStatus.SYNCED


def test_kept_files_and_new_uploads_never_replace_a_file_on_openssh(openssh):
    """OpenSSH's plain ``rename`` refuses an existing target: ``keep`` and ``write_new`` rely on it."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    from po_sync import sftp as remote

    actor, _ = openssh
    error = str(RECEIPT_DIR / "error")
    with SFTPHook(ssh_conn_id="sftp_default").get_managed_conn() as client:
        kept = []
        for body in (b"one", b"two"):
            source = str(RECEIPT_DIR / "same.json")
            remote.write_atomic(client, source, body)
            kept.append(remote.keep(client, source, error, "same.json", checksum=body.hex()))
        assert kept[0] != kept[1]
        target = str(PO_DIR / "new.csv")
        assert remote.write_new(client, target, b"first") is True
        assert remote.write_new(client, target, b"second") is False
    assert sorted(actor.path(p).read_bytes() for p in kept) == [b"one", b"two"]
    assert actor.path(PO_DIR / "new.csv").read_bytes() == b"first"
    assert not [n for n in actor.files(PO_DIR) if n.startswith(".")], "the refused upload left no temp file"
