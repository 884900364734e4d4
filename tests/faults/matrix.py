"""The fault matrix: every declared crash point of every flow, crashed and rerun, measured in the targets.

A :class:`Scenario` per flow prepares input in the sandboxes, runs the flow's DAG in-process
(``dag.test``) and measures the outcome in the sandboxes' own state (NetSuite records, S3 objects in
moto, SFTP files, X-Series consignments, ServiceNow rows), never the ledger's word:
``lost`` = records or files that should have reached their target (or their archive) and did not,
``duplicated`` = extra copies of any of them. :func:`run_cell` crashes the flow at one point, reruns
it (as an Airflow task retry in the same DAG run, or as a new DAG run), measures, and checks that the
ledger agrees with the targets.

The cells a test module runs are :func:`cells` of its scenarios: in the default run one point per
flow (:attr:`Scenario.smoke`), with ``PO_SYNC_FULL_FAULT_MATRIX=1`` every declared point.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from po_sync import faults

FULL_ENV = "PO_SYNC_FULL_FAULT_MATRIX"
#: where each cell's result is appended as a ``make bench``-style JSON line (see :func:`record`)
REPORT_ENV = "PO_SYNC_FAULTS_REPORT"
MODES = ("retry", "new_run")
ROOT = pathlib.Path(__file__).resolve().parents[2]
#: sensors in a cell's run (seconds): every input is in place before the run, so waiting longer only
#: delays the soft-fail of a folder the crashed run already emptied
POKE_INTERVAL = 0.25
SENSOR_TIMEOUT = 1.0

#: known defects whose cell may pass by chance (timing): their xfail is not strict
TIMING_DEPENDENT: set[str] = set()
#: Cells that fail today because of a defect another branch fixes: (point name, mode) -> reason.
#: ``xfail(strict=True)``: once the fix lands the cell passes, the strict xfail fails, and the entry
#: must be removed.
KNOWN_DEFECTS: dict[str, str] = {}


def full_matrix() -> bool:
    return os.environ.get(FULL_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass
class Outcome:
    """What the targets hold after the crash and the rerun."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    #: the ledger disagreeing with the targets (a synced record whose target is missing, a record
    #: left in_progress, ...)
    disagreements: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.disagreements)


class Scenario:
    """One flow's input, run and measurement. Subclasses set the class attributes."""

    #: the flow (the crash points' prefix) and the DAG that runs it
    flow: str = ""
    dag_id: str = ""
    #: the point the default run covers
    smoke: str = ""
    #: conf for every run
    conf: dict[str, Any] = {}
    #: error codes the scenario's deliberately bad input ends with (failed or quarantined records);
    #: a record left failed or quarantined with any other code is a wrong entry in a person's queue
    expected_codes: frozenset[str] = frozenset()

    def prepare(self) -> None:
        """Put the input in place (and run upstream flows)."""

    def run(self, *, retries: int) -> Any:
        """One ``dag.test`` of :attr:`dag_id` with every task's retries set (no retry delay)."""
        return run_dag(self.dagbag, self.dag_id, self.conf, retries=retries)

    def measure(self) -> Outcome:
        raise NotImplementedError

    # set by the fixture that builds the scenario
    dagbag: Any = None
    ledger: Any = None


def run_dag(dagbag: Any, dag_id: str, conf: dict[str, Any] | None = None, *, retries: int = 0) -> Any:
    """``dag.test`` on a fresh copy of the DAG with every param given; ``retries`` per task with no
    delay, so a crashed task is retried at once as try 2 of the same DAG run."""
    dag = copy.deepcopy(dagbag.get_dag(dag_id))
    for task in dag.tasks:
        task.retries = retries
        task.retry_delay = timedelta(0)
        task.retry_exponential_backoff = False
        if type(task).__name__ == "SFTPSensor":
            # dag.test runs a deferred trigger inline without its timeout: poke instead, so an empty
            # folder (everything handled before the crash) soft-fails after SENSOR_TIMEOUT; a file
            # already there is found by the first poke, which always runs
            task.deferrable = False
            task.timeout = SENSOR_TIMEOUT
            task.poke_interval = POKE_INTERVAL
        elif hasattr(task, "poke_interval"):
            # the vendor files sensor waits for the scenario's files (already uploaded): poke often
            task.poke_interval = POKE_INTERVAL
            task.timeout = 60
    return dag.test(run_conf={**dag.params.dump(), **(conf or {})}, logical_date=None)


#: the modules that declare crash points (every flow's operators, and the health check)
POINT_MODULES = (
    "po_sync.healthcheck",
    "po_sync.hotwax.operators",
    "po_sync.onetrail.operators",
    "po_sync.servicenow.operators",
    "po_sync.vendors.operators.fulfillment_import",
    "po_sync.vendors.operators.merge",
    "po_sync.vendors.operators.po_export",
    "po_sync.xseries.operators",
    "po_sync.xseries.transfers",
)


def load_points() -> list[faults.CrashPoint]:
    """Import every module that declares crash points (and any other ``operators`` module under
    ``po_sync``, so a new flow's points are seen too); returns every declared point."""
    import importlib
    import pkgutil

    import po_sync

    names = set(POINT_MODULES)
    for info in pkgutil.walk_packages(po_sync.__path__, "po_sync."):
        if info.name.rsplit(".", 1)[-1].startswith("operators") or ".operators." in info.name:
            names.add(info.name)
    for name in sorted(names):
        importlib.import_module(name)
    return faults.declared()


def cells(*scenarios: type[Scenario]) -> list[Any]:
    """``pytest.param(scenario, point, mode)`` for each cell to run now (see the module doc)."""
    load_points()
    out = []
    for scenario in scenarios:
        points = faults.declared(scenario.flow)
        assert points, f"{scenario.flow}: no crash points declared"
        chosen = points if full_matrix() else [p for p in points if p.point == scenario.smoke]
        assert chosen, f"{scenario.flow}: smoke point {scenario.smoke!r} is not declared"
        # The smoke run (make test) takes one rerun mode per flow, alternating between flows, to keep
        # the suite's time; the full matrix takes both.
        modes = MODES if full_matrix() else (MODES[zlib.crc32(scenario.flow.encode()) % len(MODES)],)
        for point in chosen:
            for mode in modes:
                marks = []
                reason = KNOWN_DEFECTS.get(f"{point.name}:{mode}") or KNOWN_DEFECTS.get(point.name)
                if reason:
                    strict = f"{point.name}:{mode}" not in TIMING_DEPENDENT
                    marks.append(pytest.mark.xfail(strict=strict, reason=reason))
                out.append(pytest.param(scenario, point.name, mode, id=f"{point.name}-{mode}", marks=marks))
    return out


def covered_points(*scenarios: type[Scenario]) -> set[str]:
    """Every point the full matrix runs for ``scenarios``."""
    return {p.name for s in scenarios for p in faults.declared(s.flow)}


def run_cell(scenario: Scenario, point: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Crash ``scenario``'s flow at ``point`` once, rerun it as ``mode``, measure the targets."""
    scenario.prepare()
    faults.reset()
    monkeypatch.setenv(faults.CRASH_ENV, f"{point}@1")
    if mode == "retry":
        run = scenario.run(retries=1)
        assert faults.fired == [point], f"the crash at {point} never happened: {faults.fired}"
        tries = {(ti.task_id, ti.map_index): ti.try_number for ti in run.get_task_instances()}
        assert run.state == "success", f"{point}: the retried run ended {run.state} ({tries})"
        assert max(tries.values()) >= 2, f"{point}: no task was retried ({tries})"
    else:
        first = scenario.run(retries=0)
        assert faults.fired == [point], f"the crash at {point} never happened: {faults.fired}"
        assert first.state == "failed", f"{point}: the crashed run ended {first.state}"
        second = scenario.run(retries=0)
        assert second.state == "success", f"{point}: the new run ended {second.state}"
    monkeypatch.delenv(faults.CRASH_ENV)
    outcome = scenario.measure()
    stuck = [
        f"{s.key.entity_type}/{s.key.source_id} still in_progress"
        for s in scenario.ledger.find(scenario.flow, statuses=(_in_progress(),), limit=1000)
    ]
    outcome.disagreements += stuck + wrongly_in_queue(scenario)
    record(point, mode, outcome)
    return outcome


def wrongly_in_queue(scenario: Scenario) -> list[str]:
    """The flow's failed or quarantined records whose error code the scenario's bad input does not
    explain (:attr:`Scenario.expected_codes`): a person would be asked to act on a record that is fine."""
    return [
        f"{s.key.entity_type}/{s.key.source_id} {s.status.value}: {s.last_error_code} {s.last_error_message}"
        for s in records(scenario.ledger, scenario.flow)
        if s.status.value in ("failed", "quarantined") and s.last_error_code not in scenario.expected_codes
    ]


def records(ledger: Any, flow: str) -> list[Any]:
    """Every ledger record of ``flow``, whatever its status."""
    from po_sync.ledger import RecordStatus

    return list(ledger.find(flow, statuses=tuple(RecordStatus), limit=10_000))


def _in_progress() -> Any:
    from po_sync.ledger import RecordStatus

    return RecordStatus.IN_PROGRESS


def check(outcome: Outcome, point: str, mode: str) -> None:
    assert outcome.ok(), f"{point} ({mode}): " + json.dumps(
        {"lost": outcome.lost, "duplicated": outcome.duplicated, "ledger": outcome.disagreements}
    )


def record(point: str, mode: str, outcome: Outcome) -> None:
    """Append this cell's result as ``make bench``-style lines (one per measure) to the report file."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    text = "".join(json.dumps(line) + "\n" for line in bench_lines(point, mode, outcome))
    # one append per cell: xdist workers write to the same report, so a cell's lines must not interleave
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


def bench_lines(point: str, mode: str, outcome: Outcome) -> list[dict[str, Any]]:
    """``faults.<flow>.<point>.<mode>.<measure>`` lines: ``value`` 0 meets the limit 0 (ratio 1)."""
    out = []
    for measure, items in (
        ("lost", outcome.lost),
        ("duplicated", outcome.duplicated),
        ("ledger_disagreements", outcome.disagreements),
    ):
        value = len(items)
        out.append(
            {
                "name": f"faults.{point}.{mode}.{measure}",
                "value": value,
                "unit": "records",
                "limit": 0,
                "ratio": 1.0 if value == 0 else 0.0,
                **({"items": items[:5]} if items else {}),
            }
        )
    return out


def duplicates(names: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{name} x{count}" for name, count in sorted(seen.items()) if count > 1]
