"""The matrix covers every flow: each DAG declares crash points, and every declared point is a cell.

A flow added later without crash points fails :func:`test_every_dag_declares_crash_points`; a point
declared without a scenario that reaches it fails :func:`test_every_declared_point_is_in_the_matrix`.
"""

from __future__ import annotations

import importlib
import pathlib

import pytest

from po_sync import faults
from tests.faults.matrix import covered_points, load_points

HERE = pathlib.Path(__file__).resolve().parent
DAGS = HERE.parents[1] / "dags"

#: Flows whose scenarios are still to be written (flow -> why); the matrix does not cover them yet.
#: Shrink only: a flow leaves this list when its scenario lands.
PENDING: dict[str, str] = {}


def matrix_scenarios() -> list[type]:
    out = []
    for path in sorted(HERE.glob("test_matrix_*.py")):
        module = importlib.import_module(f"tests.faults.{path.stem}")
        out += list(module.SCENARIOS)
    return out


def test_every_dag_declares_crash_points() -> None:
    load_points()
    dag_ids = sorted(p.stem for p in DAGS.glob("*.py") if not p.name.startswith("_"))
    assert dag_ids
    missing = [dag_id for dag_id in dag_ids if not faults.declared(dag_id)]
    assert missing == [], f"DAGs without declared crash points: {missing}"


def test_every_declared_point_is_in_the_matrix() -> None:
    declared = {p.name for p in load_points() if not p.flow.startswith("fault_unit")}
    covered = covered_points(*matrix_scenarios())
    pending = {p.name for p in faults.declared() if p.flow in PENDING}
    assert not (pending & covered), f"flows both pending and covered: {sorted(PENDING)}"
    missing = sorted(declared - covered - pending)
    assert missing == [], f"crash points no matrix scenario runs: {missing}"


def test_each_scenario_names_a_declared_smoke_point() -> None:
    load_points()
    for scenario in matrix_scenarios():
        names = {p.point for p in faults.declared(scenario.flow)}
        assert scenario.smoke in names, f"{scenario.__name__}: smoke {scenario.smoke!r} not in {names}"


# ---- the mechanism itself


@pytest.fixture
def point(monkeypatch: pytest.MonkeyPatch):
    for name in (faults.CRASH_ENV, faults.LEGACY_CRASH_ENV, faults.LEGACY_HOTWAX_ENV, faults.CRASH_MODE_ENV):
        monkeypatch.delenv(name, raising=False)
    faults.reset()
    yield faults.declare("fault_unit_flow", "after_write", "a test write", legacy=True)
    faults.reset()


def test_off_by_default_and_selected_by_name_or_pattern(point, monkeypatch) -> None:
    point.hit()  # off: nothing
    for spec in ("fault_unit_flow.after_write", "fault_unit_flow.*", "*", "other.x,fault_unit_flow.after_*"):
        monkeypatch.setenv(faults.CRASH_ENV, spec)
        with pytest.raises(faults.InjectedCrash, match="fault_unit_flow.after_write"):
            point.hit()
    monkeypatch.setenv(faults.CRASH_ENV, "fault_unit_flow.other")
    point.hit()


def test_nth_hit_fires_once(point, monkeypatch) -> None:
    monkeypatch.setenv(faults.CRASH_ENV, "fault_unit_flow.after_write@2")
    point.hit()
    with pytest.raises(faults.InjectedCrash):
        point.hit()
    point.hit()  # an in-process retry gets past it
    assert faults.fired == ["fault_unit_flow.after_write"]


def test_crash_is_not_an_exception_a_flow_could_swallow(point, monkeypatch) -> None:
    monkeypatch.setenv(faults.CRASH_ENV, "fault_unit_flow.after_write")
    with pytest.raises(faults.InjectedCrash):
        try:
            point.hit()
        except Exception:  # noqa: BLE001 - what a flow's per-record handler does
            pytest.fail("a crash must not be caught as an error")


def test_older_knobs_still_fire(point, monkeypatch) -> None:
    monkeypatch.setenv(faults.LEGACY_CRASH_ENV, "fault_unit_flow")
    with pytest.raises(faults.InjectedCrash):
        point.hit()
    monkeypatch.setenv(faults.LEGACY_CRASH_ENV, "fault_unit_flow:after_write")
    with pytest.raises(faults.InjectedCrash):
        point.hit()
    monkeypatch.delenv(faults.LEGACY_CRASH_ENV)
    monkeypatch.setenv(faults.CRASH_ENV, "fault_unit_flow")  # a bare flow: its legacy points
    with pytest.raises(faults.InjectedCrash):
        point.hit()


def test_exit_mode_ends_the_process(tmp_path) -> None:
    import os
    import subprocess
    import sys

    code = (
        "from po_sync import faults\n"
        "p = faults.declare('fault_unit_flow', 'after_write', 'a test write')\n"
        "p.hit()\nprint('survived')\n"
    )
    env = {**os.environ, faults.CRASH_ENV: "fault_unit_flow.after_write", faults.CRASH_MODE_ENV: "exit"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == faults.EXIT_STATUS and "survived" not in done.stdout


def test_generic_hit_only_fires_declared_points(point, monkeypatch) -> None:
    monkeypatch.setenv(faults.CRASH_ENV, "*")
    faults.hit("fault_unit_flow", "never_declared")
    with pytest.raises(faults.InjectedCrash):
        faults.hit("fault_unit_flow", "after_write")


def test_declaring_one_name_with_two_meanings_is_refused(point) -> None:
    with pytest.raises(ValueError, match="twice"):
        faults.declare("fault_unit_flow", "after_write", "something else")


def test_the_airflow_variable_arms_a_task_only_in_dev_mode(point, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_CRASH", "fault_unit_flow.after_write")
    faults.arm_for_task()  # dev mode (the tests' setting): read once, here
    monkeypatch.delenv("AIRFLOW_VAR_PO_SYNC_CRASH")
    with pytest.raises(faults.InjectedCrash):
        point.hit()  # no lookup per hit: the value read at the task's start holds
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_CRASH", "fault_unit_flow.after_write")
    monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", "False")
    faults.arm_for_task()  # production: never read
    point.hit()
