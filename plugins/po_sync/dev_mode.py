"""The explicit switch that marks a sandbox, demo or test deployment (``[po_sync] dev_mode``).

Only there may po_sync fill in missing configuration with stand-ins: the example vendors when the
``po_sync_vendors`` Variable is unset, a SQLite ledger in ``$AIRFLOW_HOME`` when the ``po_sync_db``
connection is missing. Anywhere else a missing piece fails the task with a message naming it, so a
production deployment never writes to fake buckets or keeps its ledger on one worker's disk.

Set it in ``airflow.cfg`` (``[po_sync]`` / ``dev_mode = True``) or as ``AIRFLOW__PO_SYNC__DEV_MODE=True``
on every component; ``make demo``, ``make airflow`` and the tests do.
"""

from __future__ import annotations

SECTION = "po_sync"
OPTION = "dev_mode"
#: The environment variable form of the setting (Airflow's ``AIRFLOW__{SECTION}__{KEY}``).
ENV_VAR = f"AIRFLOW__{SECTION.upper()}__{OPTION.upper()}"


def dev_mode() -> bool:
    """True only when ``[po_sync] dev_mode`` is explicitly set true; off by default."""
    from airflow.sdk import conf

    from po_sync.exceptions import ConfigurationError

    try:
        return bool(conf.getboolean(SECTION, OPTION, fallback=False))
    except Exception as exc:  # AirflowConfigException for a value that is not a boolean
        raise ConfigurationError(f"[{SECTION}] {OPTION} must be True or False: {exc}") from exc
