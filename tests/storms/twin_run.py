"""One twin: a ``dag.test`` of one flow in its own OS process, started at a signal (see twins.py).

Run as ``python -m tests.storms.twin_run <dag_id> <conf json> <logical date> <go file> <result file>``. The process
inherits the test's environment (connections, ledger, Airflow home and metadata DB), parses the
DAG folder, says it is ready (``<result file>.ready``), waits until the go file exists (so both twins start together), runs the DAG once with
one task retry at once (as the DAG's own retries would, without their delay: a twin may meet a
file the other moved meanwhile, a retriable VanishedFileError), and writes ``{"state", "run_id", "tasks", "errors"}`` as JSON to the result file.
It is not a pytest test: the test process (tests/storms/test_twins.py) starts two of them.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
import traceback
from typing import Any


def main(argv: list[str]) -> int:
    dag_id, conf_json, logical, go, out = argv
    result: dict[str, Any] = {"state": None, "run_id": None, "tasks": {}, "errors": []}
    try:
        import copy
        from datetime import datetime, timedelta

        from airflow.dag_processing.dagbag import DagBag
        from airflow.sdk.listener import get_listener_manager

        from tests.storms.storm import TaskErrors

        bag = DagBag(dag_folder=str(pathlib.Path(__file__).resolve().parents[2] / "dags"))
        errors = TaskErrors()
        get_listener_manager().add_listener(errors)
        pathlib.Path(out + ".ready").touch()
        deadline = time.monotonic() + 120
        while not pathlib.Path(go).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no go signal ({go}) within 120 s")
            time.sleep(0.01)
        dag = copy.deepcopy(bag.get_dag(dag_id))
        for task in dag.tasks:
            task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), False
            if hasattr(task, "poke_interval"):  # an empty folder soft-fails the sensor in seconds
                task.deferrable, task.timeout, task.poke_interval = False, 5, 1
        # A logical date of its own: dag.test first deletes the DAG's run with the same logical date
        # (None = every manual run without one), which would be the other twin's live run.
        run = dag.test(
            run_conf={**dag.params.dump(), **json.loads(conf_json)},
            logical_date=datetime.fromisoformat(logical),
        )
        result.update(
            state=str(run.state),
            run_id=run.run_id,
            tasks={f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()},
            errors=errors.messages(),
        )
    except BaseException:  # noqa: BLE001 - reported to the test through the result file
        result["errors"].append(traceback.format_exc())
    pathlib.Path(out).write_text(json.dumps(result), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
