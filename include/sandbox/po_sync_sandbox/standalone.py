"""``make airflow``: a local Airflow with the UI, the sandbox running and its world ready to use.

It starts the sandbox, makes its world ready for every DAG on schedule (vendor buckets, SQS queues
and merge bucket, HotWax's SFTP folders), then Airflow's api-server, scheduler, dag-processor and
triggerer on SQLite with the LocalExecutor (what ``airflow standalone`` runs), each in its own
process group. Once Airflow answers it creates the ``netsuite`` pool (sized from the sandbox
account's ``governanceLimits``), the sample ``po_sync_vendors`` Variable (kept if it exists), and
prints the URL, the login and how to unpause; ``PO_SYNC_UNPAUSE=1`` unpauses the po-sync DAGs.

SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop everything it started: each Airflow component's process
group, then the sandbox. ``make stop`` (``python -m po_sync_sandbox.standalone --stop``) does the
same from another shell through the pid file ``$AIRFLOW_HOME/standalone.pid``, and ends any
component group still alive if the main process is gone.

Environment knobs: ``PO_SYNC_AIRFLOW_PORT`` (default 8080, or a free port when 8080 is taken),
``PO_SYNC_AIRFLOW_HOME`` (default ``.airflow_standalone`` in the repository), ``PO_SYNC_UNPAUSE``,
``PO_SYNC_PARALLELISM`` (default: from the CPUs this process may use).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from po_sync_sandbox.airflow_stack import ROOT as REPO_ROOT
from po_sync_sandbox.airflow_stack import AirflowStack, airflow_env, free_port, wait_for

PID_FILE = "standalone.pid"
DEFAULT_PORT = 8080
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}
PO_SYNC_TAG = "po-sync"
#: Warnings Airflow's own code (or its dependencies) raises in every process and task log; ours are
#: fixed instead (tests/core/test_deprecated_imports.py). Later entries win; the user's come last.
QUIET_WARNINGS = (
    "ignore:GitWildMatchPattern:DeprecationWarning",  # Airflow's .airflowignore matcher on pathspec 1.x
    "ignore:Using `httpx` with:UserWarning",  # starlette's, raised as FastAPI imports its test client
)
#: The sandbox's request logs (every S3 call, SSH login, SMTP NOOP) stay off this console.
SANDBOX_LOGGERS = ("werkzeug", "asyncssh", "asyncssh.sftp", "mail.log")


class Stop(Exception):
    """Raised in the main thread by SIGTERM / SIGINT / SIGHUP: stop everything and exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def say(message: str) -> None:
    print(f"[airflow] {message}", flush=True)


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def sizing(cpus: int) -> dict[str, str]:
    """Airflow settings sized to the machine: task slots, API workers, DAG-parsing processes.

    Two task slots per CPU (flows wait on the network as much as they compute), at least 4 so a
    vendor export's mapped tasks and a HotWax run can overlap, at most Airflow's default of 32.

    :param cpus: from :func:`usable_cpus`.
    """
    parallelism = int(os.environ.get("PO_SYNC_PARALLELISM") or min(32, max(4, 2 * cpus)))
    return {
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API__WORKERS": "1" if cpus <= 4 else "2",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(min(2, cpus)),
    }


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port() -> int:
    """``PO_SYNC_AIRFLOW_PORT`` if set (it must be free), else 8080, else any free port."""
    wanted = os.environ.get("PO_SYNC_AIRFLOW_PORT")
    if wanted:
        if not port_is_free(int(wanted)):
            raise SystemExit(f"[airflow] PO_SYNC_AIRFLOW_PORT={wanted} is in use; choose another port")
        return int(wanted)
    if port_is_free(DEFAULT_PORT):
        return DEFAULT_PORT
    port = free_port()
    say(f"port {DEFAULT_PORT} is in use; using {port} (set PO_SYNC_AIRFLOW_PORT to choose)")
    return port


# -- the pid file ----------------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pid_file(home: Path, components: dict[str, int], api: str | None) -> None:
    data = {"pid": os.getpid(), "components": components, "api": api}
    tmp = home / f".{PID_FILE}.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, home / PID_FILE)


def read_pid_file(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / PID_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def running_instance(home: Path) -> int | None:
    """The pid of a ``make airflow`` still running on ``home``, if any."""
    data = read_pid_file(home)
    if not data:
        return None
    pid = int(data.get("pid") or 0)
    if pid and pid != os.getpid() and _alive(pid) and "po_sync_sandbox.standalone" in _cmdline(pid):
        return pid
    return None


def _wait_groups_gone(groups: dict[str, int], seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while groups and time.monotonic() < deadline:
        groups = {n: g for n, g in groups.items() if _group_alive(int(g))}
        if groups:
            time.sleep(0.2)
    return groups


def stop_running(home: Path, timeout: float = 120, grace: float = 30) -> int:
    """``make stop``: SIGTERM the main process, wait, then end any component group left; 0 when clean.

    :param timeout: seconds the main process gets to stop everything itself.
    :param grace: seconds a component group gets between SIGTERM and SIGKILL.
    """
    data = read_pid_file(home)
    if data is None:
        say(f"nothing to stop: no {home / PID_FILE}")
        return 0
    pid = running_instance(home)
    if pid:
        say(f"stopping make airflow (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(f"pid {pid} to exit", lambda: not _alive(pid), timeout, interval=0.5)
        except TimeoutError:
            say(f"pid {pid} did not exit in {timeout:.0f}s; ending its components directly")
    left = {name: pgid for name, pgid in (data.get("components") or {}).items() if _group_alive(int(pgid))}
    for name, pgid in left.items():
        say(f"{name} (process group {pgid}) still running: SIGTERM")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pgid), signal.SIGTERM)
    left = _wait_groups_gone(left, grace)
    for name, pgid in left.items():
        say(f"{name} (process group {pgid}) ignored SIGTERM: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pgid), signal.SIGKILL)
    left = _wait_groups_gone(left, 10)
    if left:
        say(f"still there after SIGKILL (zombies waiting for a reaper?): {left}")
    if pid and _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    (home / PID_FILE).unlink(missing_ok=True)
    say("stopped")
    return 0


# -- run ------------------------------------------------------------------------------------------


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signum)


def admin_password(home: Path) -> tuple[Path, str]:
    """The admin password, generated once and kept in ``$AIRFLOW_HOME`` (0600) across restarts."""
    path = home / "simple_auth_manager_passwords.json"
    try:
        password = str(json.loads(path.read_text())["admin"])
    except (OSError, ValueError, KeyError):
        password = secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"admin": password}))
    return path, password


def po_sync_dag_ids(stack: AirflowStack) -> list[str]:
    status, body = stack.api_call("GET", f"/api/v2/dags?tags={PO_SYNC_TAG}&limit=100")
    return sorted(d["dag_id"] for d in body.get("dags", [])) if status == 200 else []


def _all_parsed(stack: AirflowStack, expected: int) -> list[str]:
    """The po-sync DAG ids once ``expected`` of them are parsed, else an empty list (keep waiting)."""
    ids = po_sync_dag_ids(stack)
    return ids if len(ids) >= expected else []


def banner(
    api: str, password: str, password_file: Path, dag_ids: list[str], unpaused: bool, home: Path
) -> str:
    lines = [
        "",
        "=" * 78,
        f"  Airflow UI and REST API:  {api}",
        f"  login:                    admin / {password}   (kept in {password_file})",
        f"  po-sync DAGs ({len(dag_ids)}):         {', '.join(dag_ids)}",
    ]
    if unpaused:
        lines.append("  they are UNPAUSED (PO_SYNC_UNPAUSE=1): scheduled runs start now")
    else:
        lines += [
            "  they start PAUSED. Unpause them with the toggle on the DAGs page, or restart with",
            "    PO_SYNC_UNPAUSE=1 make airflow",
            "  or one by one over the REST API:",
            f"    curl -X PATCH {api}/api/v2/dags/<dag_id> -H 'Authorization: Bearer <token>' \\",
            "         -H 'Content-Type: application/json' -d '{\"is_paused\": false}'",
        ]
    lines += [
        f"  component logs:           {home / 'logs-components'}",
        "  stop: Ctrl-C here, or `make stop` from another shell (kill -TERM works too)",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


def run(home: Path) -> int:
    # Imported here so `--stop` stays fast and works even when the sandbox cannot import.
    from po_sync.netsuite.connection import NETSUITE_POOL
    from po_sync_sandbox.ready import (
        ensure_vendor_variable,
        example_vendors,
        netsuite_pool_slots,
        prepare_world,
    )
    from po_sync_sandbox.runner import Sandbox

    for name in SANDBOX_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    other = running_instance(home)
    if other:
        say(f"already running (pid {other}) on {home}; `make stop` first")
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    write_pid_file(home, {}, None)
    port = choose_port()
    password_file, password = admin_password(home)
    stack: AirflowStack | None = None
    code = 0
    sandbox = Sandbox(home / "sandbox")
    try:
        sandbox.start()
        say(f"sandbox up: {', '.join(sandbox.infos)}; connections: {', '.join(sandbox.connections)}")
        # Before any scheduler starts: DAGs unpaused in an earlier session run at once.
        ready = prepare_world(sandbox, example_vendors())
        cpus = usable_cpus()
        extra = {
            **sandbox.env(),
            **sizing(cpus),
            "AIRFLOW_CONN_PO_SYNC_DB": json.dumps(
                {
                    "conn_type": "po_sync_ledger",
                    "host": str(home / "po_sync_ledger.db"),
                    "extra": {"dialect": "sqlite"},
                }
            ),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "PYTHONWARNINGS": ",".join(filter(None, [*QUIET_WARNINGS, os.environ.get("PYTHONWARNINGS")])),
        }
        env = airflow_env(
            home,
            executor="LocalExecutor",
            sql_alchemy_conn=f"sqlite:///{home / 'airflow.db'}",
            api_port=port,
            password_file=password_file,
            extra=extra,
        )
        say(
            f"{cpus} CPU(s): parallelism {extra['AIRFLOW__CORE__PARALLELISM']}, "
            f"{extra['AIRFLOW__API__WORKERS']} API worker(s), "
            f"{extra['AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES']} parsing process(es)"
        )
        stack = AirflowStack(env, home / "logs-components")
        say("migrating the metadata DB (SQLite)")
        stack.run_cli("db", "migrate")
        for name, args in COMPONENTS.items():
            stack.start(name, args)
        write_pid_file(home, {n: p.pid for n, p in stack.procs.items()}, stack.api)
        say(f"started {', '.join(f'{n} (pid {p.pid})' for n, p in stack.procs.items())}")
        stack.wait_healthy(timeout=600)
        stack.login("admin", password)

        slots = netsuite_pool_slots(sandbox, fallback=5)
        stack.ensure_pool(NETSUITE_POOL, slots, "NetSuite account concurrency (from governanceLimits)")
        say(f"pool {NETSUITE_POOL}: {slots} slots (the sandbox account's concurrency limit)")
        vendors, created = ensure_vendor_variable(stack)
        say(f"Variable po_sync_vendors {'created from the example' if created else 'kept as it is'}")
        if not created:  # a Variable edited in an earlier session may name other buckets
            ready = prepare_world(sandbox, vendors)
        say(
            f"sandbox world ready: buckets {', '.join(ready['buckets'])}; "
            f"queues {', '.join(ready['queues']) or '-'}; SFTP folders {', '.join(ready['sftp_folders'])}"
        )

        expected = len([p for p in (REPO_ROOT / "dags").glob("*.py") if not p.name.startswith("_")])
        dag_ids: list[str] = wait_for(
            f"the {expected} po-sync DAGs to be parsed",
            lambda: _all_parsed(stack, expected),
            timeout=600,
            interval=2,
        )
        unpause = os.environ.get("PO_SYNC_UNPAUSE", "").lower() in ("1", "true", "yes")
        if unpause:
            for dag_id in dag_ids:
                stack.unpause(dag_id)
        print(banner(stack.api, password, password_file, dag_ids, unpause, home), flush=True)
        while True:
            stack.check_alive()
            time.sleep(2)
    except Stop as stop:
        say(f"{stop}: stopping")
    except Exception as exc:  # noqa: BLE001 - say what failed, then stop what was started
        code = 1
        say(f"FAILED: {type(exc).__name__}: {exc}")
        if stack is not None:
            print(stack.log_tails(), flush=True)
    finally:
        # A second signal while stopping must not leave half the processes behind.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if stack is not None:
            for name, exit_code in stack.stop().items():
                say(f"stopped {name} (exit {exit_code})")
        sandbox.stop()
        (home / PID_FILE).unlink(missing_ok=True)
    say("sandbox stopped; bye")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stop", action="store_true", help="stop a running `make airflow` (make stop)")
    args = parser.parse_args(argv)
    home = Path(os.environ.get("PO_SYNC_AIRFLOW_HOME", REPO_ROOT / ".airflow_standalone")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return stop_running(home) if args.stop else run(home)


if __name__ == "__main__":
    sys.exit(main())
