"""Fault storms through whole flows: the sandboxes' own fault knobs at a high rate plus cut connections.

A storm test takes a fault-matrix scenario (tests/faults: its input, its DAG and its measurement of the
targets' own state), puts a :class:`~tests.storms.proxy.CuttingProxy` in front of every system the flow
talks to (by pointing the flow's Airflow connection at the proxy), and then:

1. prepares the input with the storm off (upstream flows run quietly);
2. turns the storm on: the sandbox knobs (429 storms, 5xx, held-back answers past the client's read
   timeout, dropped connections, short-lived tokens) and the proxies' cuts;
3. runs the flow (task retries on, no delay). It must end ``success`` or ``failed``; a failed run must
   say why in the ledger (``sync_run.message``), naming a system fault and not blaming a record;
4. turns the storm off and reruns: the rerun must succeed, and the scenario's measurement must find
   every record exactly once in its target, every inbound file archived once, nothing left
   ``in_progress`` and the ledger agreeing with the targets.

``PO_SYNC_FULL_STORMS=1`` runs each flow under several seeds and a harder storm (see :data:`SEEDS`).
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.faults.matrix import Outcome, Scenario, check, records, wrongly_in_queue
from tests.storms.proxy import CuttingProxy, proxied_connection

FULL_ENV = "PO_SYNC_FULL_STORMS"


def full_storms() -> bool:
    return os.environ.get(FULL_ENV, "").strip().lower() in ("1", "true", "yes")


#: the storm seeds a flow runs under: one by default, more in the full mode
SEEDS = (16, 17, 18, 19) if full_storms() else (16,)
#: a failed storm run's message must name a system fault (a status, a timeout, a reset, a
#: disconnect, a rate limit, an outage, ...); status codes and "closed" stand as words of their own,
#: so a record's data error is not read as one ("unclosed token" in a bad XML file, the digits "561"
#: inside a consignment's UUID)
CAUSE = re.compile(
    r"(?<![0-9A-Za-z])(?:429|5\d\d)(?![0-9A-Za-z])|(?<![A-Za-z])closed|"
    r"rate.?limit|timed? ?out|timeout|reset|disconnect|EOF|unavailable|"
    r"connection|socket|SSH|SFTP|Retriable|Unavailable|TooMany|throttl|Broken pipe|Errno|"
    r"EndpointConnectionError|ReadTimeout|ConnectTimeout|ProtocolError|IncompleteRead|expired|"
    r"CONCURRENCY_LIMIT_EXCEEDED|SSLError|Session not active|No existing session|Server connection dropped",
    re.IGNORECASE,
)


def strength() -> float:
    """Multiplier of the storm rates: 1 by default, 1.5 in the full mode."""
    return 1.5 if full_storms() else 1.0


@dataclass
class _Knobs:
    service: Any
    on: dict[str, Any]
    off: dict[str, Any]
    scripted: list[tuple[str, int, dict[str, Any]]]


@dataclass
class Storm:
    """The storm of one test: proxies in front of the flow's systems and the sandbox knobs to turn."""

    monkeypatch: pytest.MonkeyPatch
    seed: int = 16
    proxies: dict[str, tuple[CuttingProxy, float]] = field(default_factory=dict)
    knobs: list[_Knobs] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)

    def proxy(self, conn_env: str, cut_rate: float, **conn_extra: Any) -> CuttingProxy:
        """Route the ``AIRFLOW_CONN_*`` connection ``conn_env`` through a new cutting proxy (cutting
        ``cut_rate`` of the connections while the storm is on); ``conn_extra`` is merged into its extra."""
        raw = os.environ[conn_env]
        if conn_extra:
            conn = json.loads(raw)
            conn["extra"] = {**(conn.get("extra") or {}), **conn_extra}
            raw = json.dumps(conn)
        host, port, _ = proxied_connection(raw, 0)
        seed = self.seed + zlib.crc32(conn_env.encode())
        proxy = self._stack.enter_context(CuttingProxy(host, port, seed=seed))
        self.monkeypatch.setenv(conn_env, proxied_connection(raw, proxy.port)[2])
        self.proxies[conn_env] = (proxy, min(cut_rate * strength(), 0.3))
        return proxy

    def sandbox(
        self,
        service: Any,
        on: dict[str, Any],
        off: dict[str, Any],
        scripted: list[tuple[str, int, dict[str, Any]]] | None = None,
    ) -> None:
        """Knobs of one sandbox service for the storm (``on``) and for quiet (``off``); ``scripted``
        faults ``(kind, count, match)`` are queued when the storm starts and cleared when it ends."""
        self.knobs.append(_Knobs(service, on, off, scripted or []))

    def on(self) -> None:
        for proxy, rate in self.proxies.values():
            proxy.cut_rate = rate
        for k in self.knobs:
            on = dict(k.on)
            if "fault_rates" in on:
                on["fault_rates"] = {kind: min(r * strength(), 0.5) for kind, r in on["fault_rates"].items()}
                on["fault_seed"] = self.seed + zlib.crc32(type(k.service).__name__.encode())
            k.service.set_knobs(**on)
            for kind, count, match in k.scripted:
                k.service.inject_fault(kind, count, **match)

    def off(self) -> None:
        for proxy, _ in self.proxies.values():
            proxy.cut_rate = 0.0
        for k in self.knobs:
            k.service.set_knobs(**k.off)
            k.service.faults.clear()

    def close(self) -> None:
        self._stack.close()

    def summary(self) -> dict[str, Any]:
        """Connections and cuts per proxy, faults served per sandbox (what the storm did)."""
        out: dict[str, Any] = {
            env: {"connections": p.connections, "cuts": p.cuts} for env, (p, _) in self.proxies.items()
        }
        for k in self.knobs:
            stats = getattr(k.service, "stats", None)
            faults = getattr(stats, "faults", None)
            if faults is not None:
                out[type(k.service).__name__] = {"faults": dict(faults)}
        return out

    def hits(self) -> int:
        """Cuts plus faults served: a storm that hit nothing proved nothing."""
        total = sum(p.cuts for p, _ in self.proxies.values())
        for k in self.knobs:
            faults = getattr(getattr(k.service, "stats", None), "faults", None)
            total += sum(faults.values()) if faults else 0
        return total + sum(_scripted_used(k) for k in self.knobs)


def _scripted_used(k: _Knobs) -> int:
    queued = sum(count for _, count, _ in k.scripted)
    pending = getattr(k.service.faults, "pending", None)
    left = sum(f.count for f in pending()) if callable(pending) else 0
    return max(queued - left, 0) if k.scripted else 0


@pytest.fixture
def storm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Storm]]:
    """A :class:`Storm` builder for one test; every proxy is stopped at the end."""
    made: list[Storm] = []

    def build(seed: int = 16) -> Storm:
        made.append(Storm(monkeypatch, seed=seed))
        return made[-1]

    yield build
    for s in made:
        s.close()


def failure_messages(ledger: Any, flow: str, run_id: str) -> list[str]:
    """``sync_run`` messages of ``flow``'s failed task runs in DAG run ``run_id``."""
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_run

    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_run.c.task_id, sync_run.c.status, sync_run.c.message).where(
                sync_run.c.run_id == run_id, sync_run.c.status == "failed"
            )
        ).all()
    return [f"{r.task_id}: {r.message}" for r in rows]


def failed_tasks(run: Any) -> list[str]:
    return [ti.task_id for ti in run.get_task_instances() if ti.state == "failed"]


def run_storm(scenario: Scenario, storm: Storm, errors: Any) -> Outcome:
    """Steps 1-4 of the module doc for one scenario; ``errors`` is the :class:`TaskErrors` capture.
    Returns the outcome after the quiet rerun."""
    scenario.prepare()
    errors.clear()
    storm.on()
    try:
        stormy = scenario.run(retries=1)
    finally:
        storm.off()
    summary = storm.summary()
    assert storm.hits() > 0, f"the storm hit nothing: {summary}"
    assert stormy.state in ("success", "failed"), f"storm run ended {stormy.state}: {summary}"
    said: list[str] = []
    if stormy.state == "failed":
        said = failure_messages(scenario.ledger, scenario.flow, stormy.run_id) + errors.messages()
        assert said, f"{scenario.flow}: the storm run failed ({failed_tasks(stormy)}) and said nothing"
        unclear = [m for m in said if not CAUSE.search(m)]
        assert not unclear, f"{scenario.flow}: failure messages that name no system fault: {unclear}"
    blamed = [
        f"{s.key.entity_type}/{s.key.source_id}: {s.last_error_code} {s.last_error_message}"
        for s in records(scenario.ledger, scenario.flow)
        if s.status.value in ("failed", "quarantined")
        and CAUSE.search(f"{s.last_error_code} {s.last_error_message}")
    ]
    quiet = scenario.run(retries=0)
    assert quiet.state == "success", f"{scenario.flow}: the quiet rerun ended {quiet.state}"
    outcome = scenario.measure()
    outcome.disagreements += [
        f"{s.key.entity_type}/{s.key.source_id} still in_progress"
        for s in records(scenario.ledger, scenario.flow)
        if s.status.value == "in_progress"
    ] + wrongly_in_queue(scenario)
    # a system fault during the storm may leave a record failed (retried by the quiet run); after the
    # quiet run no record may still carry a system fault as its own failure
    still = {
        f"{s.key.entity_type}/{s.key.source_id}"
        for s in records(scenario.ledger, scenario.flow)
        if s.status.value in ("failed", "quarantined")
    }
    outcome.disagreements += [
        f"still blamed for a system fault: {b}" for b in blamed if b.split(":")[0] in still
    ]
    check(outcome, f"storm:{scenario.flow}", f"seed {storm.seed} {stormy.state} {summary}")
    # one line per storm for the report (pytest -s shows it): how the storm run ended, what hit it
    print(f"\nSTORM {scenario.flow} seed={storm.seed} run={stormy.state} {json.dumps(summary)}")
    for message in said if stormy.state == "failed" else []:
        print(f"  said: {message[:300]}")
    return outcome


class TaskErrors:
    """An Airflow listener that keeps the error of every failed (or up-for-retry) task try: what a
    person reads in the task log, for the runs whose failure happens before the ledger hears of it."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    from airflow.listeners import hookimpl as _hookimpl

    @_hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        self.errors.append((task_instance.task_id, text))

    def clear(self) -> None:
        self.errors.clear()

    def messages(self) -> list[str]:
        return [f"{task}: {text}" for task, text in self.errors]


@pytest.fixture
def task_errors() -> Iterator[TaskErrors]:
    from airflow.sdk.listener import get_listener_manager

    listener = TaskErrors()
    manager = get_listener_manager()
    manager.add_listener(listener)
    yield listener
    manager.pm.unregister(listener)
