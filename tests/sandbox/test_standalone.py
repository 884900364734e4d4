"""``make airflow`` / ``make stop``: sizing, port choice, and stopping everything through the pid file.

The stop test starts real process groups (a parent with a child, each in its own session, as the
Airflow components are) and proves ``make stop`` leaves none of their processes behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from po_sync_sandbox import standalone

#: A parent that starts a child in its own process group and ignores nothing: like an Airflow
#: component with its workers. It prints the child's pid, then waits.
FAMILY = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)
#: The same, but deaf to SIGTERM: make stop must still end it (SIGKILL after the grace period).
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + FAMILY


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        if Path(f"/proc/{pid}").exists()
        else ""
    )
    return state != "Z"


def _start_family(code: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    return proc, child


@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 64])
def test_parallelism_follows_the_cpus(cpus: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PO_SYNC_PARALLELISM", raising=False)
    sized = standalone.sizing(cpus)
    assert int(sized["AIRFLOW__CORE__PARALLELISM"]) == min(32, max(4, 2 * cpus))
    assert 1 <= int(sized["AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES"]) <= cpus
    assert sized["AIRFLOW__API__WORKERS"] == ("1" if cpus <= 4 else "2")


def test_parallelism_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PO_SYNC_PARALLELISM", "3")
    assert standalone.sizing(2)["AIRFLOW__CORE__PARALLELISM"] == "3"


def test_a_taken_port_falls_back_to_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PO_SYNC_AIRFLOW_PORT", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(standalone, "DEFAULT_PORT", taken)
        chosen = standalone.choose_port()
        assert chosen != taken and standalone.port_is_free(chosen)
        monkeypatch.setenv("PO_SYNC_AIRFLOW_PORT", str(taken))
        with pytest.raises(SystemExit, match="in use"):
            standalone.choose_port()


@pytest.mark.parametrize("code", [FAMILY, STUBBORN], ids=["polite", "deaf-to-sigterm"])
def test_make_stop_ends_every_component_group(tmp_path: Path, code: str) -> None:
    """The main process is gone (killed hard): make stop still ends the components it recorded."""
    families = [_start_family(code) for _ in range(2)]
    components = {f"component-{i}": proc.pid for i, (proc, _) in enumerate(families)}
    (tmp_path / standalone.PID_FILE).write_text(json.dumps({"pid": 2**22 + 1, "components": components}))
    try:
        assert standalone.stop_running(tmp_path, grace=2) == 0
        for proc, child in families:
            proc.wait(timeout=60)
            assert not _alive(child), "a component's child outlived make stop"
        assert not (tmp_path / standalone.PID_FILE).exists()
    finally:
        for proc, child in families:
            for pid in (proc.pid, child):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_make_stop_without_a_pid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert standalone.stop_running(tmp_path) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_a_recycled_pid_is_not_signalled(tmp_path: Path) -> None:
    """The pid file names a live process that is not ``make airflow`` (pid reuse): it is left alone."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (tmp_path / standalone.PID_FILE).write_text(json.dumps({"pid": other.pid, "components": {}}))
        assert standalone.running_instance(tmp_path) is None
        assert standalone.stop_running(tmp_path) == 0
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_the_banner_says_how_to_unpause(tmp_path: Path) -> None:
    text = standalone.banner("http://127.0.0.1:8080", "pw", tmp_path / "p.json", ["a", "b"], False, tmp_path)
    assert "http://127.0.0.1:8080" in text and "admin / pw" in text
    assert "PO_SYNC_UNPAUSE=1 make airflow" in text and '"is_paused": false' in text
    assert "make stop" in text
    unpaused = standalone.banner("http://x", "pw", tmp_path / "p.json", ["a"], True, tmp_path)
    assert "UNPAUSED" in unpaused and "PO_SYNC_UNPAUSE=1 make airflow" not in unpaused
