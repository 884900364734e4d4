"""Claims of dead runs: free the records a killed worker held, as soon as Airflow knows it is dead.

A worker killed mid-run (OOM killer, lost node, ``kill -9``) cannot close its ``sync_run``: the row
stays ``processing`` and the records it had claimed stay ``in_progress``. The ledger alone can only
presume such a holder dead once its lease runs out (an hour); Airflow knows sooner, because the
scheduler marks a task instance whose heartbeat stopped as failed (or up for retry). Before a run
starts, :func:`release_dead_claims` asks Airflow about every other ``processing`` run of the flow and
closes those whose task instance is no longer ``running`` as ``incomplete``, so the records they held
are taken over at once (DESIGN.md, ledger rules 1 and 6).

A task instance this Airflow does not know counts as gone, so one ledger serves one Airflow
deployment (README, *One ledger per Airflow deployment*): a second deployment's live runs would be
unknown here and lose their claims.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from po_sync.ledger import Ledger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["release_dead_claims", "ti_state_key"]

#: The only task-instance state in which a holder may still be working on its records.
ALIVE_STATES = frozenset({"running"})


def ti_state_key(task_id: str, map_index: int) -> str:
    """The key under which Airflow's ``get_task_states`` reports one (mapped) task instance."""
    return task_id if map_index < 0 else f"{task_id}_{map_index}"


def release_dead_claims(
    ledger: Ledger, *, flow: str, context: Context | Mapping[str, Any], log: logging.Logger | Any
) -> list[int]:
    """Close the flow's ``processing`` runs whose Airflow task instance is not running; return their ids.

    :param ledger: the ledger.
    :param flow: the flow whose runs are checked.
    :param context: the current task's context (its ``ti`` asks Airflow's execution API).
    :param log: where to say which runs were closed and why.

    When Airflow cannot be asked (no task instance in the context, the API call fails), nothing is
    closed and the ledger's lease decides, as before.
    """
    ti = context.get("ti")
    if ti is None or not hasattr(ti, "get_task_states"):
        return []
    own = (getattr(ti, "dag_id", None), getattr(ti, "run_id", None), getattr(ti, "task_id", None))
    own_index = getattr(ti, "map_index", -1)
    own_index = -1 if own_index is None else own_index
    closed: list[int] = []
    for run in ledger.processing_runs(flow):
        if not (run["dag_id"] and run["run_id"] and run["task_id"]):
            continue  # opened outside Airflow (a benchmark, a script): only the lease applies
        if (run["dag_id"], run["run_id"], run["task_id"]) == own and run["map_index"] == own_index:
            continue  # an earlier try of this very task instance: open_run closes it
        try:
            states = ti.get_task_states(
                dag_id=run["dag_id"],
                run_ids=[run["run_id"]],
                task_ids=[run["task_id"]],
                map_index=run["map_index"],
            )
        except Exception as exc:  # noqa: BLE001 - the lease still protects the records
            log.warning(
                "could not ask Airflow whether sync_run %s is alive (%s); lease applies", run["id"], exc
            )
            continue
        state = (states.get(run["run_id"]) or {}).get(ti_state_key(run["task_id"], run["map_index"]))
        state_text = str(getattr(state, "value", state)) if state is not None else None
        if state_text in ALIVE_STATES:
            continue
        where = f"{run['dag_id']}/{run['run_id']}/{ti_state_key(run['task_id'], run['map_index'])}"
        message = (
            f"its task instance {where} is {state_text or 'gone'} in Airflow: the worker died; "
            "records it held are taken over"
        )
        if ledger.abandon_run(run["id"], message=message):
            log.warning("sync_run %s of %s closed as incomplete: %s", run["id"], flow, message)
            closed.append(run["id"])
    return closed
