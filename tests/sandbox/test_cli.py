"""``po-sync-sandbox up/env/down`` as a user runs them: real subprocesses, real ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from po_sync_sandbox._net import port_open, wait_port


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "po_sync_sandbox", *args], capture_output=True, text=True, timeout=timeout
    )


def _ports(endpoints: dict) -> list[int]:
    ports = [endpoints["sftp"]["endpoints"]["port"], endpoints["smtp"]["endpoints"]["port"]]
    ports.append(int(endpoints["s3"]["endpoints"]["url"].rsplit(":", 1)[1]))
    return ports


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_up_env_down(tmp_path):
    state = tmp_path / "state"
    started = time.time()
    up = _cli("up", "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == str(state / "endpoints.json")
    try:
        pid = int((state / "sandbox.pid").read_text())
        assert _alive(pid) and pid != os.getpid()
        assert (state / "endpoints.json").stat().st_mtime >= started - 1
        endpoints = json.loads((state / "endpoints.json").read_text())
        ports = _ports(endpoints)
        assert all(port_open("127.0.0.1", p) for p in ports)

        env = _cli("env", "--state-dir", str(state))
        assert env.returncode == 0
        assert env.stdout == (state / "connections.env").read_text()
        published = json.loads((state / "connections.json").read_text())
        assert env.stdout.count("export AIRFLOW_CONN_") == len(published) >= 3

        again = _cli("up", "--state-dir", str(state))  # idempotent: reports the running one
        assert again.returncode == 0 and int((state / "sandbox.pid").read_text()) == pid
    finally:
        down = _cli("down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert not (state / "sandbox.pid").exists()
    assert not _alive(pid)
    assert all(wait_port("127.0.0.1", p, open_=False, timeout=5) for p in ports)
    assert not (state / "endpoints.json").exists()
    assert "received SIGTERM" in (state / "sandbox.log").read_text()

    assert _cli("down", "--state-dir", str(state)).stdout.strip() == "sandbox not running"
    assert _cli("env", "--state-dir", str(state)).returncode == 1


def test_foreground_stops_on_sigint(tmp_path):
    state = tmp_path / "fg"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "po_sync_sandbox",
            "up",
            "--foreground",
            "--state-dir",
            str(state),
            "--services",
            "sftp,smtp",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "endpoints.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        endpoints = json.loads((state / "endpoints.json").read_text())
        assert set(endpoints) == {"sftp", "smtp"}
        assert int((state / "sandbox.pid").read_text()) == proc.pid
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert not (state / "sandbox.pid").exists()
    assert not port_open("127.0.0.1", endpoints["sftp"]["endpoints"]["port"])


def test_unknown_service_fails_fast(tmp_path):
    result = _cli("up", "--state-dir", str(tmp_path), "--services", "s3,nope")
    assert result.returncode == 2 and "nope" in result.stderr
    assert not (tmp_path / "sandbox.pid").exists()
