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


# The X-Series partner package's connection type (po_sync.xseries.hook.XSeriesHook); declared here because
# core never imports a partner. po_sync.xseries.connection reads its settings.
XSERIES_CONNECTION: dict[str, Any] = {
    "connection-type": "xseries",
    "hook-class-name": "po_sync.xseries.hook.XSeriesHook",
    "hook-name": "Lightspeed Retail X-Series (Vend)",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "Base URL override (optional)",
            "login": "OAuth client ID",
            "password": "OAuth client secret / personal token",
        },
        "placeholders": {"host": "leave empty for https://<domain_prefix>.retail.lightspeed.app"},
    },
    "conn-fields": {
        "domain_prefix": {
            "label": "Domain prefix",
            "description": "The store's prefix: <prefix>.retail.lightspeed.app.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
        },
        "auth_mode": {
            "label": "Authentication",
            "description": "oauth = OAuth 2.0 authorization code with rotating refresh tokens; personal = a "
            "personal token (Setup > Personal Tokens) in the password field.",
            "schema": {"type": "string", "enum": ["oauth", "personal"], "default": "oauth"},
        },
        "redirect_uri": {
            "label": "Redirect URI (OAuth)",
            "description": "As registered for the app; the authorize page receives the code there.",
            "schema": {"type": ["string", "null"]},
        },
        "refresh_token": {
            "label": "Bootstrap refresh token (OAuth)",
            "description": "Used once, while the token store is empty; refresh tokens rotate afterwards and the "
            "current pair lives in the token store.",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "token_store_path": {
            "label": "Token store file (OAuth)",
            "description": "With token store = file: where the rotating token pair is kept (0600, written "
            "atomically, one refresh at a time across processes by file lock); also locates the rate-budget "
            "file. Put it on storage every worker shares.",
            "schema": {"type": ["string", "null"]},
        },
        "connect_url": {
            "label": "Consent page (OAuth)",
            "description": "Where the authorize page sends a person to approve the app; empty = "
            "https://secure.retail.lightspeed.app/connect.",
            "schema": {"type": ["string", "null"]},
        },
        "token_store": {
            "label": "Token store (OAuth)",
            "description": "ledger = the rotating pair is kept in the po-sync ledger (po_sync_db), encrypted "
            "with Airflow's fernet key, one refresh at a time by row lock (default; Airflow 3 tasks cannot "
            "write connections); file = the token store file below (one machine only).",
            "schema": {"type": ["string", "null"], "enum": ["ledger", "file", None], "default": "ledger"},
        },
        "registers": {
            "label": "Registers (rate budget)",
            "description": "Budget = 300 × registers + 50 requests per 5 minutes; empty = count them from the API.",
            "schema": {"type": ["integer", "null"], "minimum": 0},
        },
        "rate_window_seconds": {
            "label": "Rate window (seconds)",
            "schema": {"type": ["number", "null"], "minimum": 0.1, "default": 300},
        },
        "api_version": {
            "label": "API version",
            "description": "2.0 or a date version such as 2026-07.",
            "schema": {"type": ["string", "null"], "default": "2.0"},
        },
        "timeout": {
            "label": "Request timeout (seconds)",
            "schema": {"type": ["number", "null"], "default": 60},
        },
        "max_retry_seconds": {
            "label": "Retry time per request (seconds)",
            "description": "No new attempt of one request starts after this long (429 waits included).",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 900},
        },
    },
}


# The ServiceNow partner package's connection type; declared here because core never imports a partner
# (the hook is named by its dotted path only).
SERVICENOW_CONNECTION: dict[str, Any] = {
    "connection-type": "servicenow",
    "hook-class-name": "po_sync.servicenow.hooks.ServiceNowHook",
    "hook-name": "ServiceNow (Table API)",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {"host": "Instance URL", "login": "User name", "password": "Password"},
        "placeholders": {"host": "https://<instance>.service-now.com", "login": "s2p.integration"},
    },
    "conn-fields": {
        "auth_type": {
            "label": "Authentication",
            "description": "basic = Basic auth on every request; oauth = OAuth password grant at /oauth_token.do "
            "(client id and secret from the Application Registry), refreshed with the refresh token.",
            "schema": {"type": "string", "enum": ["basic", "oauth"], "default": "basic"},
        },
        "client_id": {"label": "OAuth client ID", "schema": {"type": ["string", "null"]}},
        "client_secret": {
            "label": "OAuth client secret",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "ca_bundle": {
            "label": "CA bundle (optional)",
            "description": "Path of a PEM file to trust instead of the system CAs (a private CA or a test instance).",
            "schema": {"type": ["string", "null"]},
        },
        "page_size": {
            "label": "Rows per page",
            "description": "sysparm_limit of list reads (ServiceNow's default and usual cap is 10000).",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000, "default": 1000},
        },
        "batch_size": {
            "label": "Requests per Batch API call",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000, "default": 500},
        },
        "timeout": {
            "label": "Request timeout (seconds)",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
        },
        "max_attempts": {
            "label": "Attempts per request",
            "description": "Tries of one request on 429, 5xx, timeouts and resets, the first included.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 50, "default": 6},
        },
        "max_retry_seconds": {
            "label": "Retry time per request (seconds)",
            "description": "No new attempt starts after this long; a Retry-After longer than it stops the run.",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": 120},
        },
    },
}


def connection_types() -> list[dict[str, Any]]:
    """Every connection type po_sync registers, in the order the UI lists them."""
    return [LEDGER_CONNECTION, NETSUITE_CONNECTION, SERVICENOW_CONNECTION, XSERIES_CONNECTION]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads through the entry point."""
    return {
        "package-name": "po-sync",
        "name": "po-sync",
        "description": "Purchase-order flows between NetSuite and the systems around it.",
        "versions": [__version__],
        "connection-types": connection_types(),
    }
