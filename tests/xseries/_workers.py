"""Run in separate processes by the token-race test: one worker asking for an access token."""

from __future__ import annotations

from typing import Any


def get_token(conn: dict[str, Any], ledger_url: str, barrier_path: str) -> str:
    """Wait for the start file, then ask the hook's token manager for a token (refreshing if it must).

    The worker finds the connection and the ledger as a task would: ``AIRFLOW_CONN_*`` variables.
    """
    import json
    import os
    import time

    from tests.xseries.conftest import ledger_connection

    os.environ["AIRFLOW_CONN_XSERIES_RACE"] = json.dumps(conn)
    os.environ["AIRFLOW_CONN_PO_SYNC_DB"] = json.dumps(ledger_connection(ledger_url))
    from po_sync.xseries.hook import XSeriesHook

    hook = XSeriesHook("xseries_race")
    hook.token_store()  # open the ledger (and its schema check) before the start line
    deadline = time.time() + 60
    while not os.path.exists(barrier_path) and time.time() < deadline:
        time.sleep(0.005)
    with hook:
        return hook.tokens.access_token()
