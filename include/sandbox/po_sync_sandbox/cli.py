"""``po-sync-sandbox up|down|env``: run the sandbox in the foreground or as a detached daemon.

The daemon is this same command with ``--foreground`` in a new session; ``state_dir/sandbox.pid`` holds
its pid while it runs, ``state_dir/sandbox.log`` its output, and ``endpoints.json`` appears once every
service accepts connections.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from po_sync_sandbox.runner import CONNECTIONS_ENV_FILE, ENDPOINTS_FILE, SERVICE_FACTORIES, Sandbox

PID_FILE = "sandbox.pid"
LOG_FILE = "sandbox.log"
DEFAULT_STATE_DIR = ".sandbox"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
#: Per-request / per-session chatter from the servers' libraries; kept out of the sandbox log.
_CHATTY_LOGGERS = ("asyncssh", "asyncssh.sftp", "mail.log", "werkzeug")

log = logging.getLogger("po_sync_sandbox")


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_sandbox_process(pid: int) -> bool:
    """Tell whether ``pid`` is alive, not a zombie, and a sandbox (guards against a recycled pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # no procfs (macOS): trust kill(0)
        return True
    try:
        status = (proc / "status").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    if any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines()):
        return False
    return b"po_sync_sandbox" in cmdline or b"po-sync-sandbox" in cmdline


def running_pid(state_dir: Path) -> int | None:
    """The pid of the sandbox serving ``state_dir``, or ``None`` (a stale pid file counts as none)."""
    pid = _read_pid(state_dir)
    return pid if pid is not None and _is_sandbox_process(pid) else None


def _run_foreground(state_dir: Path, services: list[str] | None) -> int:
    """Start the services, publish the files, and block until SIGTERM / SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    state_dir.mkdir(parents=True, exist_ok=True)
    other = running_pid(state_dir)
    if other is not None and other != os.getpid():
        print(f"sandbox already running for {state_dir} (pid {other})", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    pid_file = state_dir / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        with Sandbox(state_dir, services) as sandbox:
            print(
                f"sandbox up: {', '.join(sandbox.infos)}; endpoints in {state_dir / ENDPOINTS_FILE}",
                flush=True,
            )
            while not stop.wait(0.5):
                pass
    finally:
        if _read_pid(state_dir) == os.getpid():
            pid_file.unlink(missing_ok=True)
        log.info("sandbox stopped")
    return 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _run_daemon(state_dir: Path, services: list[str] | None, timeout: float) -> int:
    """Spawn ``up --foreground`` detached and wait until it has published fresh endpoints."""
    state_dir.mkdir(parents=True, exist_ok=True)
    endpoints = state_dir / ENDPOINTS_FILE
    pid = running_pid(state_dir)
    if pid is not None:
        print(f"sandbox already running (pid {pid})", file=sys.stderr)
        print(endpoints)
        return 0
    cmd = [sys.executable, "-m", "po_sync_sandbox", "up", "--foreground", "--state-dir", str(state_dir)]
    if services is not None:
        cmd += ["--services", ",".join(services)]
    launched_ns = time.time_ns()
    with open(state_dir / LOG_FILE, "ab") as log_fh:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the parent's terminal / process group
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            print(f"sandbox exited with {child.returncode} during start; log tail:", file=sys.stderr)
            print(_tail(state_dir / LOG_FILE), file=sys.stderr)
            return 1
        try:
            fresh = endpoints.stat().st_mtime_ns >= launched_ns
        except FileNotFoundError:
            fresh = False
        if fresh and _read_pid(state_dir) == child.pid:
            print(endpoints)
            return 0
        time.sleep(0.1)
    print(f"sandbox did not come up within {timeout:.0f}s; stopping it", file=sys.stderr)
    child.terminate()
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
    return 1


def _down(state_dir: Path, timeout: float) -> int:
    """SIGTERM the sandbox and wait for it to exit (it removes its pid file); SIGKILL after ``timeout``."""
    pid = running_pid(state_dir)
    if pid is None:
        (state_dir / PID_FILE).unlink(missing_ok=True)  # stale
        print("sandbox not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_sandbox_process(pid):
            (state_dir / PID_FILE).unlink(missing_ok=True)  # only left behind if it died uncleanly
            print(f"sandbox stopped (pid {pid})")
            return 0
        time.sleep(0.05)
    print(f"sandbox (pid {pid}) ignored SIGTERM for {timeout:.0f}s; killing it", file=sys.stderr)
    os.kill(pid, signal.SIGKILL)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    return 1


def _env(state_dir: Path) -> int:
    """Print ``connections.env`` of the running sandbox (for ``eval "$(po-sync-sandbox env)"``)."""
    try:
        sys.stdout.write((state_dir / CONNECTIONS_ENV_FILE).read_text())
    except FileNotFoundError:
        print(f"no {CONNECTIONS_ENV_FILE} in {state_dir}: is the sandbox up?", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="po-sync-sandbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the sandbox (detached unless --foreground)")
    down = sub.add_parser("down", help="stop a detached sandbox")
    env = sub.add_parser("env", help="print the AIRFLOW_CONN_* exports of the running sandbox")
    for p in (up, down, env):
        p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, type=Path, help="default: %(default)s")
    up.add_argument("--foreground", action="store_true", help="run in this process until SIGTERM/SIGINT")
    up.add_argument(
        "--services",
        default=None,
        help=f"comma-separated subset of {','.join(SERVICE_FACTORIES)} (default: all)",
    )
    up.add_argument("--timeout", type=float, default=START_TIMEOUT, help="seconds to wait for readiness")
    down.add_argument("--timeout", type=float, default=STOP_TIMEOUT, help="seconds before SIGKILL")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``po-sync-sandbox`` console script.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    state_dir = args.state_dir.resolve()
    if args.command == "up":
        services = None
        if args.services:
            services = [s.strip() for s in args.services.split(",") if s.strip()]
            unknown = [s for s in services if s not in SERVICE_FACTORIES]
            if unknown:
                print(f"unknown services {unknown}; known: {','.join(SERVICE_FACTORIES)}", file=sys.stderr)
                return 2
        if args.foreground:
            return _run_foreground(state_dir, services)
        return _run_daemon(state_dir, services, args.timeout)
    if args.command == "down":
        return _down(state_dir, args.timeout)
    return _env(state_dir)


if __name__ == "__main__":
    raise SystemExit(main())
