"""Every DAG file: imports cleanly, documents itself, retries sanely, and does no I/O at import time."""

from __future__ import annotations

import importlib.util
import pathlib
import socket
import sqlite3
import sys
import warnings
from datetime import timedelta

import pytest

from tests.dags.conftest import DAGS

DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


def test_there_are_dags():
    assert DAG_FILES, "no DAG files found"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    files_with_dags = {pathlib.Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert files_with_dags == {p.name for p in DAG_FILES}, "every DAG file defines at least one DAG"


class _ImportTimeIO(AssertionError):
    pass


def _forbid(what):
    def guard(*args, **kwargs):
        raise _ImportTimeIO(f"{what} at DAG import time")

    return guard


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_import_does_no_io_and_uses_no_deprecated_paths(path, monkeypatch):
    import airflow.sdk  # noqa: F401 - Airflow itself may do I/O while importing; the DAG file may not
    from airflow.sdk import BaseHook, Variable

    monkeypatch.setattr(socket.socket, "connect", _forbid("network access"))
    monkeypatch.setattr(sqlite3, "connect", _forbid("database access"))
    monkeypatch.setattr(Variable, "get", _forbid("Variable.get"))
    monkeypatch.setattr(BaseHook, "get_connection", _forbid("connection lookup"))
    spec = importlib.util.spec_from_file_location(f"dag_under_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec.loader.exec_module(module)
    sys.modules.pop(spec.name, None)
    ours = [
        w
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning) or "Deprecat" in w.category.__name__
    ]
    assert not ours, [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in ours]


@pytest.fixture(scope="module")
def dags(dagbag):
    return list(dagbag.dags.values())


def test_every_dag_follows_the_conventions(dags):
    problems = []
    for dag in dags:
        if not dag.doc_md or len(dag.doc_md.strip()) < 200:
            problems.append(f"{dag.dag_id}: doc_md missing or too short to explain the flow")
        if not dag.tags or "po-sync" not in dag.tags:
            problems.append(f"{dag.dag_id}: needs the 'po-sync' tag")
        if dag.catchup:
            problems.append(f"{dag.dag_id}: catchup must be False")
        if not dag.description:
            problems.append(f"{dag.dag_id}: needs a description")
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            if not task.owner or task.owner == "airflow":
                problems.append(f"{where}: owner not set")
            if (task.retries or 0) < 2:
                problems.append(f"{where}: retries {task.retries} < 2")
            if not task.retry_exponential_backoff:
                problems.append(f"{where}: retries without exponential backoff")
            if task.max_retry_delay is None or task.max_retry_delay > timedelta(hours=1):
                problems.append(f"{where}: max_retry_delay should cap the backoff (<= 1 h)")
    assert not problems, "\n".join(problems)


def test_every_param_explains_itself(dags):
    problems = []
    for dag in dags:
        for name, param in dag.params.items():
            schema = getattr(param, "schema", {}) or {}
            described = getattr(param, "description", None) or schema.get("description_md")
            if not schema.get("title") or not described:
                problems.append(
                    f"{dag.dag_id}.params.{name}: needs a title and a description for the trigger form"
                )
            if "type" not in schema:
                problems.append(f"{dag.dag_id}.params.{name}: needs a JSON-schema type")
    assert not problems, "\n".join(problems)


def test_tasks_use_only_pools_the_setup_creates(dags):
    """A task in a pool that does not exist is never scheduled; only these two are made by setup."""
    from po_sync.netsuite.connection import NETSUITE_POOL

    unknown = {
        f"{dag.dag_id}.{task.task_id}": task.pool
        for dag in dags
        for task in dag.tasks
        if task.pool not in ("default_pool", NETSUITE_POOL)
    }
    assert not unknown
    assert any(task.pool == NETSUITE_POOL for dag in dags for task in dag.tasks)
