"""Run in separate processes by the token-race test: one worker asking for an access token."""

from __future__ import annotations

from typing import Any


def get_token(conn: dict[str, Any], barrier_path: str) -> str:
    """Wait for the start file, then ask the token manager for a token (refreshing if it must)."""
    import os
    import time

    import requests

    from po_sync.xseries.connection import XSeriesSettings
    from po_sync.xseries.tokens import TokenManager

    settings = XSeriesSettings.from_connection(
        conn_id="race", host=conn["host"], login=conn["login"], password=conn["password"], extra=conn["extra"]
    )
    deadline = time.time() + 30
    while not os.path.exists(barrier_path) and time.time() < deadline:
        time.sleep(0.005)
    with requests.Session() as session:
        return TokenManager(settings, session).access_token()
