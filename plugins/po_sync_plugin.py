"""The po-sync Airflow plugin: the ledger page in the UI, and nothing else.

Hooks, operators and triggers live in the ``po_sync`` package (installed, and on sys.path through
this folder), not here: Airflow 3 plugins cannot register hooks, and triggers must be importable
by the triggerer. This module only mounts the ledger's page on the api-server.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from po_sync.ui.ledger_app import create_app
from po_sync.xseries.authorize_page import create_router as xseries_authorize_router


def _register_file_links() -> None:
    """Let the queue link the file-based flows' inbound and quarantine files (``po_sync.ui.files``)."""
    import functools

    from po_sync.hotwax import retries as hotwax_retries
    from po_sync.hotwax.operators import DEFAULT_RECEIPT_DIR
    from po_sync.ui import files

    # the connection and folder dags/hotwax_receipt_import.py wires
    where = {"conn_id": "sftp_default", "folder": DEFAULT_RECEIPT_DIR}
    files.register(
        "hotwax_receipt_import",
        functools.partial(hotwax_retries.files_of, **where),
        hotwax_retries.roots(**where),
    )
    # the vendor flows' buckets and Onetrail's folders come from their Variables, read per request
    from po_sync.onetrail import retries as onetrail_retries
    from po_sync.vendors import retries as vendor_retries

    files.register("vendor_fulfillment_merge", vendor_retries.merge_files_of, vendor_retries.merge_roots)
    files.register("vendor_fulfillment_import", vendor_retries.import_files_of, vendor_retries.import_roots)
    onetrail = {"conn_id": "onetrail_sftp"}  # the connection dags/onetrail_inbound.py wires
    files.register(
        "onetrail_inbound",
        functools.partial(onetrail_retries.files_of, **onetrail),
        functools.partial(onetrail_retries.roots, **onetrail),
    )


_register_file_links()


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
