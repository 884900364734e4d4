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


#: what a document number or internal id in a resync list may hold (no spaces, quotes or slashes:
#: the values reach SuiteQL and file names)
DOCUMENT_NUMBER_PATTERN = "^[A-Za-z0-9_-]{1,40}$"


def resync_numbers_param(title: str, description: str) -> Param:
    """A trigger-form list of document numbers (tranId) or internal ids to send again even when
    unchanged; refused at trigger time when an entry is not a plain number."""
    return Param(
        [],
        type="array",
        items={"type": "string", "pattern": DOCUMENT_NUMBER_PATTERN},
        title=title,
        description=description,
    )


def flow_callbacks() -> dict[str, Any]:
    """DAG-level callbacks of a flow: after each run, one digest mail of the records it newly failed
    or quarantined (nothing when nothing is new). Use as ``DAG(..., **flow_callbacks())``."""
    from po_sync.notify.notifiers import FlowDigestNotifier

    return {"on_success_callback": [FlowDigestNotifier()], "on_failure_callback": [FlowDigestNotifier()]}
