"""Benchmarks for po-sync (``make bench``): each module's ``run()`` returns JSON-able results."""

import os

# The benchmarks run against the sandbox: stand-ins for missing settings are allowed (po_sync.dev_mode).
os.environ.setdefault("AIRFLOW__PO_SYNC__DEV_MODE", "True")
