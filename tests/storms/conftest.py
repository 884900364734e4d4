"""Storms borrow the fault matrix's fixtures (each flow family's sandboxes) and add their own."""

from tests.faults.conftest import (  # noqa: F401 - shared fixtures
    actor,
    airflow_db,
    dagbag,
    hotwax_sandbox,
    hub,
    ledger_conn,
    netsuite,
    onetrail_sandbox,
    s2p,
    store,
    vend,
    world,
)
from tests.storms.storm import storm, task_errors  # noqa: F401
