"""The sandbox world ready for every DAG on schedule, as ``make airflow`` needs it.

``make demo`` lets its actors create the vendors' buckets between runs; a user exploring with
``make airflow`` unpauses the DAGs and expects each scheduled run to succeed at once. So before
Airflow schedules anything: every vendor bucket (versioned), the merge bucket and the SQS notice
queues exist (:class:`~po_sync_sandbox.vendors.world.VendorWorld`), HotWax's SFTP folders exist
(:class:`~po_sync_sandbox.hotwax.actor.HotWaxActor`), the ``netsuite`` pool is sized from the
sandbox account's ``governanceLimits`` and the sample ``po_sync_vendors`` Variable exists.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from po_sync_sandbox.hotwax.actor import PO_DIR, RECEIPT_DIR, HotWaxActor
from po_sync_sandbox.vendors.world import VendorWorld

__all__ = ["ensure_vendor_variable", "example_vendors", "netsuite_pool_slots", "prepare_world"]

log = logging.getLogger(__name__)

VENDOR_VARIABLE = "po_sync_vendors"
MASKER_LOGGER = "airflow.sdk._shared.secrets_masker.secrets_masker"
EXAMPLE_VENDORS_FILE = Path(__file__).resolve().parents[2] / "config" / "vendors.example.json"


def example_vendors() -> dict[str, Any]:
    """The shipped vendor settings (``include/config/vendors.example.json``)."""
    config: dict[str, Any] = json.loads(EXAMPLE_VENDORS_FILE.read_text())
    return config


def prepare_world(sandbox: Any, vendors: dict[str, Any]) -> dict[str, list[str]]:
    """Create what the scheduled DAGs expect on the partners' side; idempotent.

    :param sandbox: a started :class:`~po_sync_sandbox.runner.Sandbox` (S3 and SFTP at least).
    :param vendors: the vendor settings (the ``po_sync_vendors`` Variable's JSON).
    :returns: the buckets, queues and SFTP folders that now exist.
    """
    world = VendorWorld.from_sandbox(sandbox, vendors)
    world.setup()
    HotWaxActor.from_sandbox(sandbox)  # creates the folders
    buckets = sorted({v["bucket"] for v in vendors["vendors"]} | {vendors["merge_bucket"]})
    queues = sorted(v["sqs_queue"] for v in vendors["vendors"] if v.get("sqs_queue"))
    return {"buckets": buckets, "queues": queues, "sftp_folders": [str(PO_DIR), str(RECEIPT_DIR)]}


def netsuite_pool_slots(sandbox: Any, *, fallback: int) -> int:
    """The ``netsuite`` pool's slots, read from the sandbox account as a deployment reads its own.

    :param sandbox: a started sandbox (its ``netsuite_default`` connection is used).
    :param fallback: slots when ``governanceLimits`` cannot be read (logged).
    """
    from po_sync.exceptions import PoSyncError
    from po_sync.netsuite.hook import NetSuiteHook  # noqa: F401 - Airflow sets up its logging on import
    from po_sync.netsuite.pool import read_pool_slots

    # Airflow masks every extra value of a connection it reads and warns once that the auth mode
    # ("tba", "m2m") is too short to mask: not this console's business.
    logging.getLogger(MASKER_LOGGER).setLevel(logging.ERROR)

    added = sandbox.env()
    saved = {key: os.environ.get(key) for key in added}
    os.environ.update(added)  # the hook finds its connection there, for this call only
    try:
        return read_pool_slots("netsuite_default")
    except (PoSyncError, OSError, ValueError) as exc:
        log.warning("governanceLimits not readable (%s); the netsuite pool gets %d slots", exc, fallback)
        return fallback
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_vendor_variable(stack: Any) -> tuple[dict[str, Any], bool]:
    """Create the ``po_sync_vendors`` Variable from the example unless it exists; return it and whether it was made.

    Over the REST API (``/api/v2/variables``), so it shows in the UI where a user edits it.

    :param stack: a logged-in :class:`~po_sync_sandbox.airflow_stack.AirflowStack`.
    """
    status, body = stack.api_call("GET", f"/api/v2/variables/{VENDOR_VARIABLE}")
    if status == 200:
        try:
            return json.loads(body["value"]), False
        except (TypeError, ValueError, KeyError):
            raise RuntimeError(
                f"Variable {VENDOR_VARIABLE} exists but is not JSON; fix or delete it in Admin > Variables"
            ) from None
    config = example_vendors()
    status, body = stack.api_call(
        "POST",
        "/api/v2/variables",
        {
            "key": VENDOR_VARIABLE,
            "value": json.dumps(config, indent=2),
            "description": "Vendor settings for the vendor flows (sample from include/config/vendors.example.json)",
        },
    )
    if status not in (200, 201):
        raise RuntimeError(f"creating Variable {VENDOR_VARIABLE} -> {status} {body}")
    return config, True
