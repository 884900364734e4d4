"""The base every sync operator stands on: one ``sync_run`` per task run, every record's outcome kept.

A subclass implements :meth:`SyncOperator.sync` and reports each record through the
:class:`SyncRun` it is handed. The base opens the run, closes it with honest counts, pushes only a
small summary to XCom, and fails the task only when the run itself cannot go on (a connection that
will not open, a whole system down); one bad record is counted, never fatal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from po_sync import faults
from po_sync.exceptions import SYSTEM_FAULTS as _SYSTEM_FAULTS
from po_sync.exceptions import (
    ConfigurationError,
    ExternalSystemError,
    PoSyncError,
    RecordError,
    RecordSkipped,
    RecordValidationError,
    RetriableError,
)
from po_sync.faults import maybe_exit_at_claim
from po_sync.ledger import (
    Action,
    Decision,
    Ledger,
    RecordKey,
    RecordState,
    RecordStatus,
    RunContext,
    RunStatus,
)
from po_sync.ledger.hook import LedgerHook
from po_sync.liveness import release_dead_claims
from po_sync.task_failure import fail_fast_on_fatal

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Outcome names, in the order reports show them.
OUTCOMES = ("read", "synced", "ignored", "failed", "quarantined", "busy")


class SystemUnavailableError(PoSyncError):
    """Too many records in a row failed for transient reasons: the target is down, not the data."""


def as_bool(value: Any) -> bool:
    """A templated flag as a bool: rendered templates may hand back ``"True"`` or ``"false"``."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass
class SyncWindow:
    """The span of source changes one run covers (``start`` is None for "from the beginning")."""

    start: datetime | None
    end: datetime | None


def window_from_context(context: Context, *, overlap: timedelta = timedelta(0)) -> SyncWindow:
    """The run's window: Airflow's data interval, widened by ``overlap`` at the start.

    Manual, REST and asset-triggered runs have no data interval in Airflow 3 (and cron schedules
    without ``CronDataIntervalTimetable`` have a zero-width one); such runs cover everything up to
    ``run_after`` and leave the start to the flow's cursor.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return SyncWindow(start - overlap, end)
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None) or end
    return SyncWindow(None, run_after)


def is_scheduled(dag_run: Any) -> bool:
    """Whether ``dag_run`` was made by the scheduler (not manual, backfill or asset-triggered).

    ``DagRunType`` is a ``(str, Enum)``: ``str()`` of it is ``"DagRunType.SCHEDULED"``, so compare
    its value, never its ``str()``.
    """
    run_type = getattr(dag_run, "run_type", None)
    return getattr(run_type, "value", run_type) == "scheduled"


def catch_up_window(window: SyncWindow, cursor: datetime | None, *, overlap: timedelta) -> SyncWindow:
    """A scheduled run's window, started at the flow's cursor when that is earlier (rule 2).

    With ``catchup=False`` the scheduler skips the intervals it missed while it was down; the cursor
    (the end of the last completed window) still says where reading stopped, so the run reads from
    there (less ``overlap``) and nothing modified during the outage is missed.
    """
    if cursor is None or window.start is None:
        return window
    return SyncWindow(min(window.start, cursor - overlap), window.end)


@dataclass
class SyncRun:
    """One task run's view of the ledger: begin records, record outcomes, count them.

    :param ledger: the ledger to write to.
    :param flow: the flow name (the DAG id, usually).
    :param context: which Airflow task run this is.
    :param max_consecutive_retriable: after this many transient failures in a row the run stops
        with :class:`SystemUnavailableError` (the task fails and Airflow retries it later); the
        records already marked ``failed`` are retried then.
    """

    ledger: Ledger
    flow: str
    context: RunContext
    window: SyncWindow = field(default_factory=lambda: SyncWindow(None, None))
    max_consecutive_retriable: int = 5
    id: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    #: small extra values for the XCom summary (a file name, a call count), never payloads
    notes: dict[str, Any] = field(default_factory=dict)
    _open_records: set[int] = field(default_factory=set)
    _retriable_streak: int = 0
    #: records may be processed from several threads (a flow's workers): counts change under this lock
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cursor_target: tuple[datetime, str] | None = None

    # ---- lifecycle

    def __enter__(self) -> SyncRun:
        self.id = self.ledger.open_run(
            flow=self.flow, context=self.context, window_start=self.window.start, window_end=self.window.end
        )
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            status, message = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
        elif self._open_records:
            status = RunStatus.INCOMPLETE
            message = f"{len(self._open_records)} record(s) begun without an outcome"
        else:
            status, message = RunStatus.COMPLETED, None
        self.ledger.finish_run(self.id, status=status, counts=self.counts, message=message)
        self.status = status
        if status is RunStatus.COMPLETED and self._cursor_target is not None:
            value, cursor_key = self._cursor_target
            if self.counts["busy"]:
                # Rule 6: a record another run still holds may be lost if the cursor passes it; the
                # next run reads the window again and finds it done (ignored) or free (sent).
                self.notes["cursor_held"] = f"{self.counts['busy']} record(s) busy in another run"
            else:
                self.ledger.advance_cursor(self.flow, value, sync_run_id=self.id, cursor_key=cursor_key)

    def advance_cursor_on_completion(self, value: datetime, *, cursor_key: str = "default") -> None:
        """Move the flow's watermark to ``value`` once this run closes as ``completed`` (rule 2);
        a failed or incomplete run, or one that met ``busy`` records (rule 6), leaves it where it
        was, so its window is read again."""
        self._cursor_target = (value, cursor_key)

    def widen_window(self, start: datetime | None) -> None:
        """Start this run's window at ``start`` (a catch-up from the cursor) and keep that in the ledger."""
        self.window = SyncWindow(start, self.window.end)
        self.ledger.set_run_window(self.id, window_start=start, window_end=self.window.end)

    # ---- failed records (rule 3: a later run retries them, whatever its window)

    def failed_ids(self, entity_type: str, *, limit: int) -> list[str]:
        """Source ids of up to ``limit`` of the flow's ``failed`` records, the longest-waiting first."""
        return [
            state.key.source_id
            for state in self.ledger.find(
                self.flow, statuses=(RecordStatus.FAILED,), entity_type=entity_type, limit=limit
            )
        ]

    def claim_failed(self, entity_type: str, source_ids: Sequence[str], *, limit: int) -> list[RecordState]:
        """Claim (``in_progress`` for this run) those of ``source_ids`` that are still ``failed``,
        at most ``limit``, oldest first; :meth:`begin` then treats them as this run's own."""
        if not source_ids:
            return []
        return self.ledger.claim(
            self.flow,
            sync_run_id=self.id,
            statuses=(RecordStatus.FAILED,),
            entity_type=entity_type,
            source_ids=source_ids,
            limit=limit,
            oldest_first=True,
        )

    # ---- per record

    def key(self, entity_type: str, source_system: str, source_id: str) -> RecordKey:
        return RecordKey(self.flow, entity_type, source_system, str(source_id))

    def begin(
        self, key: RecordKey, *, payload_hash: str | None, trace_key: str | None = None, force: bool = False
    ) -> Decision:
        """Count the record as read and mark it ``in_progress`` before its side effect."""
        with self._lock:
            self.counts["read"] += 1
        decision = self.ledger.begin(
            key,
            payload_hash=payload_hash,
            sync_run_id=self.id,
            context=self.context,
            trace_key=trace_key,
            force=force,
        )
        with self._lock:
            if decision.action is Action.BUSY:
                self.counts["busy"] += 1
            else:
                self._open_records.add(decision.record_id)
        if decision.action is not Action.BUSY:
            maybe_exit_at_claim(self.flow)
            faults.hit(self.flow, "ledger_claimed")
        return decision

    def synced(self, decision: Decision, *, target_system: str, target_id: str | None) -> None:
        self.ledger.mark_synced(
            decision.record_id, sync_run_id=self.id, target_system=target_system, target_id=target_id
        )
        self._close(decision, "synced")
        with self._lock:
            self._retriable_streak = 0

    def ignored(self, decision: Decision, *, code: str | None = None, reason: str | None = None) -> None:
        self.ledger.mark_ignored(decision.record_id, sync_run_id=self.id, code=code, reason=reason)
        self._close(decision, "ignored")

    def failed(self, decision: Decision, *, code: str, message: str) -> None:
        self.ledger.mark_failed(decision.record_id, sync_run_id=self.id, code=code, message=message)
        self._close(decision, "failed")

    def quarantined(self, decision: Decision, *, code: str, message: str) -> None:
        self.ledger.mark_quarantined(decision.record_id, sync_run_id=self.id, code=code, message=message)
        self._close(decision, "quarantined")

    def quarantine_input(
        self, key: RecordKey, *, code: str, message: str, trace_key: str | None = None
    ) -> None:
        """Record bad input that never became a sendable record (unparseable file, bad row).

        :param trace_key: where the input was kept (e.g. its path in ``error/``), so the queue's
            Retry and its file links find it under the name it was kept as.
        """
        decision = self.begin(key, payload_hash=None, trace_key=trace_key, force=True)
        if decision.action is not Action.BUSY:
            self.quarantined(decision, code=code, message=message)

    def begin_many(self, items: Sequence[tuple[RecordKey, str | None, str | None]]) -> list[Decision]:
        """:meth:`begin` for many ``(key, payload_hash, trace_key)`` at once (one transaction, a few
        statements: :meth:`Ledger.begin_many`); the decisions in the same order."""
        if not items:
            return []
        with self._lock:
            self.counts["read"] += len(items)
        decisions = self.ledger.begin_many(items, sync_run_id=self.id, context=self.context)
        with self._lock:
            for decision in decisions:
                if decision.action is Action.BUSY:
                    self.counts["busy"] += 1
                else:
                    self._open_records.add(decision.record_id)
        if any(d.action is not Action.BUSY for d in decisions):
            maybe_exit_at_claim(self.flow)
        return decisions

    def forget(self, decision: Decision) -> None:
        """Drop a ``SKIP`` decision the caller handles otherwise (e.g. as a duplicate input): the
        record stays as it was and the run neither counts it nor waits for its outcome."""
        if decision.action is not Action.SKIP:
            raise ValueError(f"only a SKIP decision can be forgotten, not {decision.action}")
        with self._lock:
            self._open_records.discard(decision.record_id)
            self.counts["read"] -= 1

    def _close(self, decision: Decision, outcome: str) -> None:
        with self._lock:
            self._open_records.discard(decision.record_id)
            self.counts[outcome] += 1
        faults.hit(self.flow, "ledger_recorded")

    def process(
        self,
        key: RecordKey,
        *,
        payload_hash: str | None,
        send: Callable[[Decision], str | None],
        target_system: str,
        trace_key: str | None = None,
        force: bool = False,
    ) -> Action:
        """Begin ``key``, call ``send`` unless unchanged or busy, and record the outcome.

        ``send`` receives the :class:`Decision` (its idempotency key, and whether this is a resume
        after a crash) and returns the target id. A :class:`RecordValidationError` quarantines the
        record; any other :class:`RecordError` or external error fails it with the system's code.
        An authentication failure or a login endpoint that is down (``SYSTEM_FAULTS``) is the
        system's, not the record's: it propagates and stops the run (rule 5).
        """
        decision = self.begin(key, payload_hash=payload_hash, trace_key=trace_key, force=force)
        if decision.action is Action.BUSY:
            return decision.action
        if decision.action is Action.SKIP:
            self.ignored(decision)
            return decision.action
        try:
            target_id = send(decision)
        except _SYSTEM_FAULTS:
            raise  # a refused login or a token endpoint down: the run stops, the record stays to resume
        except RecordSkipped as exc:
            self.ignored(decision, code=exc.code, reason=exc.message)
        except RecordValidationError as exc:
            self.quarantined(decision, code=exc.code, message=exc.message)
        except RecordError as exc:
            self.failed(decision, code=exc.code, message=exc.message)
        except RetriableError as exc:
            self.failed(decision, code=exc.code or f"HTTP_{exc.status or 'ERROR'}", message=str(exc))
            with self._lock:
                self._retriable_streak += 1
                streak = self._retriable_streak
            if streak >= self.max_consecutive_retriable:
                raise SystemUnavailableError(
                    f"{streak} records in a row failed with transient errors "
                    f"(last: {exc}); stopping so that Airflow retries the task later"
                ) from exc
        except ExternalSystemError as exc:
            self.failed(decision, code=exc.code or f"HTTP_{exc.status or 'ERROR'}", message=str(exc))
        else:
            self.synced(decision, target_system=target_system, target_id=target_id)
        return decision.action

    def summary(self) -> dict[str, Any]:
        """The small value pushed to XCom: ids and counts, never payloads."""
        return {
            **self.notes,
            "flow": self.flow,
            "sync_run_id": self.id,
            "status": str(getattr(self, "status", RunStatus.PROCESSING)),
            "counts": dict(self.counts),
        }


class SyncOperator(BaseOperator):
    """Base class of po_sync's operators: runs :meth:`sync` inside one ledger ``sync_run``.

    :param flow: the flow name kept in the ledger; defaults to the DAG id.
    :param ledger_conn_id: connection of the ledger database (``po_sync_db``).
    :param window_overlap: how far before the data interval to start reading, so that changes
        saved late by the source are not missed; duplicates are removed by payload hash.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#d9ecf2"

    def __init__(
        self,
        *,
        flow: str | None = None,
        ledger_conn_id: str = LedgerHook.default_conn_name,
        window_overlap: timedelta = timedelta(0),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if flow is not None and not flow.strip():
            raise ConfigurationError(f"{self.task_id}: flow must not be blank")
        if window_overlap < timedelta(0):
            raise ConfigurationError(f"{self.task_id}: window_overlap must not be negative")
        self.flow = flow
        self.ledger_conn_id = ledger_conn_id
        self.window_overlap = window_overlap

    def sync(self, context: Context, run: SyncRun) -> None:
        """Do the flow's work for this task run, reporting every record through ``run``."""
        raise NotImplementedError

    @fail_fast_on_fatal()  # a ConfigurationError / FatalError fails without Airflow retries
    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        faults.arm_for_task()  # the crash-drill Variable, read once per task (dev mode only)
        run_context = RunContext(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1,
            try_number=getattr(ti, "try_number", None),
        )
        ledger = LedgerHook(self.ledger_conn_id).get_conn()
        release_dead_claims(ledger, flow=self.flow or ti.dag_id, context=context, log=self.log)
        run = SyncRun(
            ledger=ledger,
            flow=self.flow or ti.dag_id,
            context=run_context,
            window=window_from_context(context, overlap=self.window_overlap),
        )
        with run:
            self.sync(context, run)
        summary = run.summary()
        counts = summary["counts"]
        self.log.info(
            "%s: read %d, synced %d, ignored %d, failed %d, quarantined %d, busy %d (sync_run %d, %s)",
            run.flow,
            *(counts[name] for name in OUTCOMES),
            run.id,
            summary["status"],
        )
        return summary
