"""A deployment's environment turned into the Airflow objects the flows need (compose's ``airflow-init``).

``docker-compose.yaml`` keeps every secret in ``.env``; ``airflow-init`` turns it into connections and
Variables in the metadata DB (encrypted with the Fernet key, listed in the UI, testable there)::

    python -m po_sync.deployment connections /tmp/po-sync/connections.json \\
        --require netsuite_default,aws_default,sftp_default
    airflow connections import /tmp/po-sync/connections.json --overwrite
    python -m po_sync.deployment variables /tmp/po-sync/variables.json \\
        --from-file po_sync_vendors=/opt/airflow/include/config/vendors.example.json
    airflow variables import /tmp/po-sync/variables.json --action-on-existing-key skip

``connections`` reads ``PO_SYNC_CONN_<ID>`` for each connection (its JSON, the form
``AIRFLOW_CONN_<ID>`` takes) and writes the file ``airflow connections import`` reads, mode 0600.
A required connection that is missing, or any that is not a JSON object with a ``conn_type``, stops it
with the variable's name (never its value).

``check`` is for deployments whose connections and Variables live in a secrets backend (the Helm
values in ``deploy/``): it looks each one up the way a task does and exits 1 naming what is missing::

    python -m po_sync.deployment check --connections netsuite_default,sftp_default --variables po_sync_vendors
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from po_sync.exceptions import ConfigurationError

__all__ = [
    "ENV_PREFIX",
    "connections_from_env",
    "main",
    "missing_objects",
    "variables_from_files",
    "write_private_json",
]

#: ``PO_SYNC_CONN_NETSUITE_DEFAULT`` holds connection ``netsuite_default``.
ENV_PREFIX = "PO_SYNC_CONN_"


def connections_from_env(environ: Mapping[str, str], required: list[str]) -> dict[str, dict[str, Any]]:
    """Every ``PO_SYNC_CONN_<ID>`` connection in ``environ``, by connection id.

    :param environ: usually ``os.environ``.
    :param required: connection ids that must be present (the flows cannot run without them).
    """
    found: dict[str, dict[str, Any]] = {}
    for key, raw in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX) or not raw.strip():
            continue
        conn_id = key[len(ENV_PREFIX) :].lower()
        try:
            value = json.loads(raw)
        except ValueError:
            raise ConfigurationError(f"{key} is not JSON (expected a connection object)") from None
        if not isinstance(value, dict) or not value.get("conn_type"):
            raise ConfigurationError(f"{key} must be a JSON object with a conn_type")
        found[conn_id] = value
    missing = [c for c in required if c not in found]
    if missing:
        names = ", ".join(ENV_PREFIX + c.upper() for c in missing)
        raise ConfigurationError(f"missing connection(s) {missing}: set {names} in .env (see .env.example)")
    return found


def variables_from_files(pairs: list[str]) -> dict[str, Any]:
    """``["key=path", ...]`` to ``{key: parsed JSON of path}`` (what ``airflow variables import`` reads).

    :param pairs: ``key=path`` strings; the file must hold JSON.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, path = pair.partition("=")
        if not sep or not key or not path:
            raise ConfigurationError(f"--from-file takes KEY=PATH, got {pair!r}")
        try:
            out[key] = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"Variable {key}: cannot read JSON from {path}: {exc}") from None
    return out


def write_private_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` readable by its owner only (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)


def missing_objects(connections: list[str], variables: list[str]) -> list[str]:
    """What of ``connections`` / ``variables`` Airflow's secrets backends (env, backend, DB) cannot find.

    :param connections: connection ids the flows use.
    :param variables: Variable keys the flows use.
    """
    from airflow.sdk import BaseHook, Variable

    missing = []
    for conn_id in connections:
        try:
            BaseHook.get_connection(conn_id)
        except Exception:  # noqa: BLE001 - AirflowNotFoundException and backend errors alike
            missing.append(f"connection {conn_id}")
    for key in variables:
        try:
            Variable.get(key)
        except Exception:  # noqa: BLE001 - KeyError / AirflowNotFoundException by version
            missing.append(f"Variable {key}")
    return missing


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m po_sync.deployment")
    sub = parser.add_subparsers(dest="command", required=True)
    conns = sub.add_parser("connections", help="PO_SYNC_CONN_* -> a file for `airflow connections import`")
    conns.add_argument("out", type=Path)
    conns.add_argument("--require", default="", help="comma-separated connection ids that must be set")
    variables = sub.add_parser("variables", help="KEY=FILE pairs -> a file for `airflow variables import`")
    variables.add_argument("out", type=Path)
    variables.add_argument("--from-file", action="append", default=[], metavar="KEY=PATH")
    check = sub.add_parser("check", help="fail when a connection or Variable cannot be found")
    check.add_argument("--connections", default="", help="comma-separated connection ids")
    check.add_argument("--variables", default="", help="comma-separated Variable keys")
    args = parser.parse_args(argv)
    if args.command == "check":
        missing = missing_objects(_split(args.connections), _split(args.variables))
        if missing:
            print(
                f"po_sync.deployment: not found in any secrets backend: {', '.join(missing)}", file=sys.stderr
            )
            return 1
        print("every connection and Variable the flows use is there")
        return 0
    try:
        if args.command == "connections":
            data = connections_from_env(os.environ, _split(args.require))
            write_private_json(args.out, data)
            print(f"connections: {', '.join(sorted(data))}")
        else:
            data = variables_from_files(args.from_file)
            write_private_json(args.out, data)
            print(f"variables: {', '.join(sorted(data))}")
    except ConfigurationError as exc:
        print(f"po_sync.deployment: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
