"""``make airflow``: ``airflow standalone`` with the UI, the sandbox running and its connections loaded.

Starts the sandbox, points Airflow at this repository's ``dags/`` and ``plugins/``, sets the API port
and the Execution API URL together (a mismatch leaves every task unable to report back), puts the
ledger in ``$AIRFLOW_HOME/po_sync_ledger.db``, and runs ``airflow standalone`` until Ctrl-C, which
stops Airflow (SIGINT, as standalone expects) and then the sandbox.

Environment knobs: ``PO_SYNC_AIRFLOW_PORT`` (default 8080), ``PO_SYNC_AIRFLOW_HOME`` (default
``.airflow_standalone`` in the repository).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from po_sync.netsuite.connection import NETSUITE_POOL
from po_sync_sandbox.airflow_stack import BIN, ROOT
from po_sync_sandbox.runner import Sandbox


def main() -> int:
    port = int(os.environ.get("PO_SYNC_AIRFLOW_PORT", "8080"))
    home = Path(os.environ.get("PO_SYNC_AIRFLOW_HOME", ROOT / ".airflow_standalone")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    with Sandbox(home / "sandbox") as sandbox:
        env = {
            **os.environ,
            **sandbox.env(),
            # standalone starts its components as `airflow ...` found on PATH.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW_CONN_PO_SYNC_DB": json.dumps(
                {
                    "conn_type": "po_sync_ledger",
                    "host": str(home / "po_sync_ledger.db"),
                    "extra": {"dialect": "sqlite"},
                }
            ),
        }
        print(
            f"[airflow] sandbox up ({', '.join(sandbox.infos)}); "
            f"connections: {', '.join(sandbox.connections)}"
        )
        print(f"[airflow] UI on http://localhost:{port} — user admin, password printed below by Airflow")
        print(
            f"[airflow]   (and kept in {home / 'simple_auth_manager_passwords.json.generated'}); Ctrl-C stops"
        )
        # The NetSuite pool must exist before any NetSuite task is scheduled (tasks in a missing
        # pool are never queued), so make the database and the pool first.
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [str(BIN / "airflow"), "pools", "set", NETSUITE_POOL, "5", "NetSuite account concurrency"],
            env=env,
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen([str(BIN / "airflow"), "standalone"], env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                return proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                return 1


if __name__ == "__main__":
    sys.exit(main())
