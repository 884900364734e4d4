"""Errors retrying cannot fix fail the task at once; transient ones keep Airflow's retries.

Run through Airflow (``dag.test``) with a real ledger: a ``SyncOperator`` that raises each kind of
error, one retry allowed (no delay), and the task instance's final state and try number read back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from po_sync.exceptions import AuthenticationError, ConfigurationError, FatalError, RetriableError
from po_sync.sync import SyncOperator, SystemUnavailableError

pytestmark = pytest.mark.e2e

ERRORS = {
    "configuration": ConfigurationError("connection 'netsuite_default' is not defined"),
    "fatal": FatalError("refused", system="netsuite", status=400, code="USER_ERROR"),
    "auth": AuthenticationError("login refused", system="netsuite", status=401, code="INVALID_LOGIN"),
    "retriable": RetriableError("server busy", system="netsuite", status=503),
    "unavailable": SystemUnavailableError("5 records in a row failed with transient errors"),
}


class RaisingOperator(SyncOperator):
    """Raises the error named by the run's conf, from inside the sync run."""

    def sync(self, context, run):  # type: ignore[no-untyped-def]
        raise ERRORS[context["dag_run"].conf["error"]]


def _dag():
    from airflow.sdk import DAG

    with DAG(
        "po_sync_test_fatal_errors",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={"retries": 1, "retry_delay": timedelta(0), "retry_exponential_backoff": True},
    ) as dag:
        RaisingOperator(task_id="sync", flow="test_fatal_errors")
    # dag.test() runs only serialized DAGs: write this one (defined here, not in dags/) first.
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/dev/null", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag


@pytest.mark.parametrize(
    ("error", "tries"),
    [("configuration", 1), ("fatal", 1), ("auth", 1), ("retriable", 2), ("unavailable", 2)],
)
def test_fatal_errors_fail_without_retries_and_transient_ones_are_retried(
    airflow_db, ledger_conn, error, tries
):
    dag_run = _dag().test(run_conf={"error": error})
    assert dag_run.state == "failed"
    (ti,) = dag_run.get_task_instances()
    assert (ti.state, ti.try_number) == ("failed", tries)
    # Every try was recorded in the ledger as a failed sync_run naming the original error.
    runs = [ledger_conn.get_run(i) for i in range(1, tries + 1)]
    assert [r["status"] for r in runs] == ["failed"] * tries
    assert all(type(ERRORS[error]).__name__ in r["message"] for r in runs)


def test_missing_ledger_connection_outside_a_sandbox_fails_the_task_at_once(airflow_db, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PO_SYNC_DB", raising=False)
    monkeypatch.delenv("AIRFLOW__PO_SYNC__DEV_MODE", raising=False)
    dag_run = _dag().test(run_conf={"error": "retriable"})  # would be retried, were it reached
    (ti,) = dag_run.get_task_instances()
    assert (dag_run.state, ti.state, ti.try_number) == ("failed", "failed", 1)
