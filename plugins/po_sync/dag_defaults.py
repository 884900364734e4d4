"""Defaults every po_sync DAG shares, so retries and ownership read the same in the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

OWNER = "po-sync"


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults: two retries with exponential backoff (1 min, then 2 min, capped at 15 min), and
    a mail to the flow's people when a task fails for good (``po_sync_notifications`` Variable)."""
    from po_sync.notify.notifiers import TaskFailureNotifier

    args: dict[str, Any] = {
        "owner": OWNER,
        "on_failure_callback": [TaskFailureNotifier()],
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
    }
    args.update(overrides)
    return args


def dry_run_param(description: str) -> Param:
    """The ``dry_run`` trigger-form field every writing DAG has; ``description`` says what it leaves alone."""
    return Param(False, type="boolean", title="Dry run", description=description)


def flow_callbacks() -> dict[str, Any]:
    """DAG-level callbacks of a flow: after each run, one digest mail of the records it newly failed
    or quarantined (nothing when nothing is new). Use as ``DAG(..., **flow_callbacks())``."""
    from po_sync.notify.notifiers import FlowDigestNotifier

    return {"on_success_callback": [FlowDigestNotifier()], "on_failure_callback": [FlowDigestNotifier()]}
