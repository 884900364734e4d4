"""The contract every sandbox stand-in follows, so the runner can start, describe and stop them alike."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class ServiceInfo:
    """What a started stand-in tells the world about itself.

    :param name: short service name (``s3``, ``sftp``, ``smtp``, ``netsuite``...).
    :param endpoints: URLs / host:port pairs it listens on (loopback only).
    :param credentials: what a client needs to log in (sandbox-only values, never real secrets).
    :param connections: Airflow connections for it, ``{conn_id: {conn_type, host, ...}}`` in the JSON
        form that ``AIRFLOW_CONN_<ID>`` accepts.
    """

    name: str
    endpoints: dict[str, Any]
    credentials: dict[str, Any] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"endpoints": self.endpoints, "credentials": self.credentials, "connections": self.connections}


class SandboxService(Protocol):
    """A local stand-in for one external system. ``start`` returns once it accepts connections."""

    name: str

    def start(self, state_dir: Path) -> ServiceInfo: ...

    def stop(self) -> None: ...


def connection_env(connections: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Turn ``{conn_id: connection-json}`` into ``{"AIRFLOW_CONN_<ID>": "<json>"}`` environment entries."""
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn, sort_keys=True)
        for conn_id, conn in connections.items()
    }
