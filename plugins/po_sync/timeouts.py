"""How long one run of a file-reading task may take before Airflow stops it (``execution_timeout``).

A merge or import reads files someone else wrote: a hostile or huge one must not hold a worker slot
(and a NetSuite pool slot) for hours. Each such task gets an ``execution_timeout``; when it fires,
Airflow fails the try and retries it, and the ledger's claims make the retry resume where it stopped.

Set it per flow or for all of them, in minutes, in ``airflow.cfg`` (``[po_sync]``) or the environment:

- ``AIRFLOW__PO_SYNC__<DAG_ID>_TIMEOUT_MINUTES`` (e.g. ``AIRFLOW__PO_SYNC__VENDOR_FULFILLMENT_MERGE_TIMEOUT_MINUTES``),
- else ``AIRFLOW__PO_SYNC__TASK_TIMEOUT_MINUTES``,
- else the flow's default (:data:`DEFAULT_MINUTES`).

Read when the DAG file is parsed (configuration only, no I/O).
"""

from __future__ import annotations

from datetime import timedelta

from po_sync.exceptions import ConfigurationError

__all__ = ["DEFAULT_MINUTES", "task_timeout"]

SECTION = "po_sync"
#: The default for every flow without its own: long enough for a full backlog, short of "forever".
DEFAULT_MINUTES = 60


def task_timeout(dag_id: str, *, default_minutes: float = DEFAULT_MINUTES) -> timedelta:
    """The ``execution_timeout`` of ``dag_id``'s merge / import task (see the module docs).

    :param dag_id: the flow; its own option is ``<dag_id>_timeout_minutes``.
    :param default_minutes: used when neither option is set.
    :raises ConfigurationError: the setting is not a positive number.
    """
    from airflow.sdk import conf

    option = f"{dag_id}_timeout_minutes"
    raw = conf.get(SECTION, option, fallback=None)
    if raw is None:
        option = "task_timeout_minutes"
        raw = conf.get(SECTION, option, fallback=None)
    if raw is None:
        return timedelta(minutes=default_minutes)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1
    if not minutes > 0:
        raise ConfigurationError(f"[{SECTION}] {option} must be a positive number of minutes, not {raw!r}")
    return timedelta(minutes=minutes)
