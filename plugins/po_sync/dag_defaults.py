"""Defaults every po_sync DAG shares, so retries and ownership read the same in the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

OWNER = "po-sync"


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults: two retries with exponential backoff (1 min, then 2 min, capped at 15 min)."""
    args: dict[str, Any] = {
        "owner": OWNER,
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
