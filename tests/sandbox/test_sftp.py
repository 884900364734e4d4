"""The HotWax SFTP stand-in against the sftp provider's hooks: auth, host key checks, chroot, rename."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path

import asyncssh
import paramiko
import pytest
from airflow.providers.sftp.hooks.sftp import SFTPHook, SFTPHookAsync

from po_sync_sandbox.sftp import SftpService


def _hook(conn_id: str = "sftp_default") -> SFTPHook:
    # One attempt: the hook otherwise retries a refused login three times with 3-5 s sleeps.
    return SFTPHook(ssh_conn_id=conn_id, conn_retry_attempts=1)


@pytest.fixture
def workdir(sandbox) -> str:
    """A fresh folder inside the SFTP root, as the client sees it."""
    name = f"/t-{uuid.uuid4().hex[:8]}"
    (sandbox.services["sftp"].root / name.lstrip("/")).mkdir()
    return name


def test_connection_extras_verify_host_key(airflow_conns, sandbox):
    conn = airflow_conns["sftp_default"]
    info = sandbox.infos["sftp"]
    assert conn["conn_type"] == "sftp"
    assert (conn["host"], conn["port"], conn["login"]) == ("127.0.0.1", info.endpoints["port"], "hotwax")
    assert conn["extra"]["no_host_key_check"] is False
    assert conn["extra"]["host_key"].startswith("ssh-ed25519 ")
    assert conn["extra"]["host_key"] == info.credentials["host_public_key"]
    assert Path(conn["extra"]["key_file"]).is_file()
    assert "password" not in conn


def test_store_list_rename_retrieve(airflow_conns, workdir, tmp_path):
    local = tmp_path / "asn.csv"
    local.write_text("sku,qty\nA,1\n")
    hook = _hook()
    hook.store_file(f"{workdir}/asn.csv.part", str(local))
    with hook.get_managed_conn() as sftp:
        sftp.posix_rename(f"{workdir}/asn.csv.part", f"{workdir}/asn.csv")
    assert hook.list_directory(workdir) == ["asn.csv"]

    hook.retrieve_file(f"{workdir}/asn.csv", str(tmp_path / "back.csv"))
    assert (tmp_path / "back.csv").read_text() == "sku,qty\nA,1\n"
    assert hook.isfile(f"{workdir}/asn.csv") and not hook.path_exists(f"{workdir}/asn.csv.part")


def test_rename_semantics(airflow_conns, workdir, tmp_path):
    """Plain SFTP rename refuses to overwrite; posix-rename replaces, as on OpenSSH."""
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    hook = _hook()
    hook.store_file(f"{workdir}/a", str(tmp_path / "a"))
    hook.store_file(f"{workdir}/b", str(tmp_path / "b"))
    with hook.get_managed_conn() as sftp:
        with pytest.raises(OSError):
            sftp.rename(f"{workdir}/a", f"{workdir}/b")
        sftp.posix_rename(f"{workdir}/a", f"{workdir}/b")
        with sftp.open(f"{workdir}/b") as fh:
            assert fh.read() == b"new"
    assert hook.list_directory(workdir) == ["b"]


def test_async_hook_lists(airflow_conns, workdir, sandbox):
    """Deferrable sensors use SFTPHookAsync (asyncssh client); its known_hosts form must match too."""
    (sandbox.services["sftp"].root / workdir.lstrip("/") / "ready.csv").write_text("x")
    names = asyncio.run(SFTPHookAsync(sftp_conn_id="sftp_default").list_directory(workdir))
    assert "ready.csv" in names


def test_wrong_host_key_is_rejected(airflow_conns, set_conn):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    conn = copy.deepcopy(airflow_conns["sftp_default"])
    conn["extra"]["host_key"] = f"{other[0]} {other[1]}"
    set_conn("sftp_wrong_key", conn)
    with pytest.raises(paramiko.BadHostKeyException):
        _hook("sftp_wrong_key").list_directory("/")


def test_wrong_host_key_is_rejected_async(airflow_conns, set_conn):
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    conn = copy.deepcopy(airflow_conns["sftp_default"])
    conn["extra"]["host_key"] = f"{other[0]} {other[1]}"
    set_conn("sftp_wrong_key_async", conn)
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(SFTPHookAsync(sftp_conn_id="sftp_wrong_key_async").list_directory("/"))


def test_password_auth(airflow_conns, set_conn, sandbox):
    conn = copy.deepcopy(airflow_conns["sftp_default"])
    del conn["extra"]["key_file"]
    conn["password"] = sandbox.infos["sftp"].credentials["password"]
    set_conn("sftp_password", conn)
    assert _hook("sftp_password").test_connection() == (True, "Connection successfully tested")


def test_wrong_password_is_refused(airflow_conns, set_conn):
    conn = copy.deepcopy(airflow_conns["sftp_default"])
    del conn["extra"]["key_file"]
    conn["password"] = "not-the-password"
    set_conn("sftp_bad_password", conn)
    with pytest.raises(paramiko.AuthenticationException):
        _hook("sftp_bad_password").list_directory("/")


def test_unknown_client_key_is_refused(airflow_conns, set_conn, tmp_path):
    stranger = tmp_path / "stranger_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    conn = copy.deepcopy(airflow_conns["sftp_default"])
    conn["extra"]["key_file"] = str(stranger)
    set_conn("sftp_stranger", conn)
    with pytest.raises(paramiko.AuthenticationException):
        _hook("sftp_stranger").list_directory("/")


def test_chroot_cannot_be_escaped(airflow_conns, sandbox, tmp_path):
    sftp_state = sandbox.services["sftp"].root.parent  # state_dir/sftp: holds keys/ beside root/
    local = tmp_path / "escape.txt"
    local.write_text("out?")
    hook = _hook()
    with hook.get_managed_conn() as sftp:
        assert sftp.normalize("../../..") == "/"
        assert "keys" not in sftp.listdir("../..")  # parent of root is not reachable
        with pytest.raises(FileNotFoundError):
            sftp.stat("../keys/ssh_host_ed25519_key")
        sftp.put(str(local), "../../escape.txt")
        with pytest.raises(PermissionError):
            sftp.symlink("/", "/etc-link")
    assert not (sftp_state / "escape.txt").exists() and not (sftp_state.parent / "escape.txt").exists()
    assert (sandbox.services["sftp"].root / "escape.txt").read_text() == "out?"  # clamped to root
    (sandbox.services["sftp"].root / "escape.txt").unlink()


def test_host_key_survives_restart(tmp_path):
    first = SftpService()
    first_key = first.start(tmp_path).credentials["host_public_key"]
    first.stop()
    second = SftpService()
    info = second.start(tmp_path)
    try:
        assert info.credentials["host_public_key"] == first_key
        assert oct(Path(info.credentials["private_key_file"]).stat().st_mode & 0o777) == "0o600"
    finally:
        second.stop()
