"""No module of ours imports a name Airflow 3 has deprecated (its warning lands in every task log).

Imports inside functions run only when a task runs, so the DAG-import test cannot see them: this
scans the source of ``plugins/``, ``dags/`` and ``include/`` for ``from airflow... import name`` and
imports each such name once with warnings recorded.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("plugins", "dags", "include") for p in sorted((ROOT / folder).rglob("*.py"))]


def airflow_imports() -> dict[tuple[str, str], list[str]]:
    """``(module, name) -> [file:line, ...]`` for every ``from airflow... import name``."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "airflow":
                for alias in node.names:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault((str(node.module), alias.name), []).append(where)
    return found


def deprecation_of(module: str, name: str) -> str | None:
    # Import first: Airflow's logging setup (on first import) takes over warnings.showwarning.
    loaded = importlib.import_module(module)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(loaded, name)
    messages = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning) or "Deprecat" in w.category.__name__
    ]
    return messages[0] if messages else None


def test_the_scan_finds_airflow_imports() -> None:
    assert ("airflow.sdk", "DAG") in airflow_imports()


def test_the_check_sees_a_deprecated_name() -> None:
    assert "airflow.sdk.exceptions" in (deprecation_of("airflow.exceptions", "AirflowFailException") or "")


@pytest.mark.parametrize(("module", "name"), sorted(airflow_imports()), ids=lambda v: str(v))
def test_no_deprecated_airflow_import(module: str, name: str) -> None:
    message = deprecation_of(module, name)
    assert message is None, f"{module}.{name} at {airflow_imports()[(module, name)]}: {message}"
