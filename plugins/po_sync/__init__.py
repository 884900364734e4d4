"""po_sync: hooks, operators, ledger and canonical model for the po-sync Airflow DAG bundle."""

from __future__ import annotations

__version__ = "0.1.0"
