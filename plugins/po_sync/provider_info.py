"""Provider metadata that registers po_sync's connection types with Airflow.

Airflow 3 registers connection types only through a provider's ``apache_airflow_provider`` entry
point (``pyproject.toml``); a hook in ``plugins/`` alone never shows up in the connection form.
Since Airflow 3.2 the form fields are declared here (``conn-fields`` / ``ui-field-behaviour``)
rather than by ``get_connection_form_widgets`` on the hook.
"""

from __future__ import annotations

from typing import Any

from po_sync import __version__
from po_sync.netsuite.connection import NETSUITE_CONNECTION
from po_sync.servicenow.settings import SERVICENOW_CONNECTION

LEDGER_CONNECTION: dict[str, Any] = {
    "connection-type": "po_sync_ledger",
    "hook-class-name": "po_sync.ledger.hook.LedgerHook",
    "hook-name": "po-sync ledger (status table)",
    "ui-field-behaviour": {
        "hidden-fields": [],
        "relabeling": {
            "host": "Host (PostgreSQL) or database file path (SQLite)",
            "schema": "Database (PostgreSQL)",
        },
        "placeholders": {"host": "/opt/airflow/po_sync_ledger.db or postgres.internal", "port": "5432"},
    },
    "conn-fields": {
        "dialect": {
            "label": "Database",
            "description": "sqlite for one machine (the embedded default), postgresql in production.",
            "schema": {"type": "string", "enum": ["sqlite", "postgresql"], "default": "sqlite"},
        },
    },
}


def connection_types() -> list[dict[str, Any]]:
    """Every connection type po_sync registers, in the order the UI lists them."""
    return [LEDGER_CONNECTION, NETSUITE_CONNECTION, SERVICENOW_CONNECTION]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads through the entry point."""
    return {
        "package-name": "po-sync",
        "name": "po-sync",
        "description": "Purchase-order flows between NetSuite and the systems around it.",
        "versions": [__version__],
        "connection-types": connection_types(),
    }
