"""The po-sync Airflow plugin: the ledger page in the UI, and nothing else.

Hooks, operators and triggers live in the ``po_sync`` package (installed, and on sys.path through
this folder), not here: Airflow 3 plugins cannot register hooks, and triggers must be importable
by the triggerer. This module only mounts the ledger's page on the api-server.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from po_sync.ui.ledger_app import create_app
from po_sync.xseries.authorize_page import create_router as xseries_authorize_router


class PoSyncPlugin(AirflowPlugin):
    """Adds *Browse → po-sync ledger* to the UI (served at ``/po-sync/``)."""

    name = "po_sync"
    fastapi_apps = [
        {
            "app": create_app(routers=[xseries_authorize_router()]),
            "url_prefix": "/po-sync",
            "name": "po-sync ledger",
        }
    ]
    external_views = [
        {
            "name": "po-sync ledger",
            "href": "/po-sync/",
            "destination": "nav",
            "category": "browse",
            "url_route": "po-sync-ledger",
        }
    ]
