"""Merge and import tasks read files others wrote: each has an ``execution_timeout``, configurable."""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import pytest

from po_sync.exceptions import ConfigurationError
from tests.dags.conftest import DAGS

#: (DAG id, task ids that read partner files)
FILE_TASKS = {
    "vendor_fulfillment_merge": ["merge_vendor_files"],
    "vendor_fulfillment_import": ["import_merged_documents"],
    "hotwax_receipt_import": ["import_receipts"],
    "onetrail_inbound": [
        "order_responses.process_files",
        "despatch_advices.process_files",
        "invoices.process_files",
    ],
}


def _dag(dag_id: str):
    spec = importlib.util.spec_from_file_location(f"dag_{dag_id}", DAGS / f"{dag_id}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.mark.parametrize("dag_id", sorted(FILE_TASKS))
def test_file_tasks_have_the_default_timeout(dag_id, monkeypatch):
    monkeypatch.delenv("AIRFLOW__PO_SYNC__TASK_TIMEOUT_MINUTES", raising=False)
    dag = _dag(dag_id)
    for task_id in FILE_TASKS[dag_id]:
        assert dag.get_task(task_id).execution_timeout == timedelta(minutes=60), task_id


def test_timeouts_are_configurable_per_flow_and_for_all(monkeypatch):
    monkeypatch.setenv("AIRFLOW__PO_SYNC__TASK_TIMEOUT_MINUTES", "20")
    monkeypatch.setenv("AIRFLOW__PO_SYNC__VENDOR_FULFILLMENT_MERGE_TIMEOUT_MINUTES", "7.5")
    assert _dag("vendor_fulfillment_merge").get_task("merge_vendor_files").execution_timeout == timedelta(
        minutes=7.5
    )
    assert _dag("hotwax_receipt_import").get_task("import_receipts").execution_timeout == timedelta(
        minutes=20
    )


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_a_configuration_error(value, monkeypatch):
    from po_sync.timeouts import task_timeout

    monkeypatch.setenv("AIRFLOW__PO_SYNC__TASK_TIMEOUT_MINUTES", value)
    with pytest.raises(ConfigurationError, match="task_timeout_minutes"):
        task_timeout("vendor_fulfillment_merge")
