"""Twins: two OS processes each running ``dag.test`` of the same flow at the same moment, over the
same input, the same ledger and the same sandboxes (two overlapping runs: a manual trigger during a
scheduled one, two workers picking up two runs).

:func:`run_twins` starts both (tests/storms/twin_run.py), releases them together and returns their
results. The processes share the test's Airflow metadata database: one ledger belongs to one Airflow
deployment. Two deployments (two metadata databases) sharing a ledger are not supported, because
:func:`po_sync.liveness.release_dead_claims` asks its own Airflow whether a claim's task instance is
still running, and a task instance its Airflow has never heard of counts as dead: each twin would
take over the other's live claims.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]


def sync_dags() -> None:
    """Write the DAG folder to the shared metadata DB once, before the twins start.

    ``dag.test`` syncs the whole bundle first; two processes doing that at the same moment on an
    empty DB insert the same DAG rows and one fails on the unique key. Synced beforehand (the way a
    deployment's dag-processor has done it long before any run), their syncs find every DAG unchanged.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def run_twins(
    dag_id: str,
    conf: dict[str, Any],
    workdir: pathlib.Path,
    *,
    envs: tuple[dict[str, str], dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Run ``dag_id`` twice at once in two processes; each result is twin_run.py's JSON.

    :param envs: extra environment per twin (e.g. an Airflow home and metadata DB each, to show the
        unsupported two-deployment case); None = both use the test's own.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    sync_dags()
    go = workdir / "go"
    go.unlink(missing_ok=True)
    outs = [workdir / f"twin{i}.json" for i in (1, 2)]
    # the same second (file names with a timestamp collide), a logical date each (see twin_run.py)
    base = datetime.now(UTC).replace(microsecond=0)
    procs = []
    for index, out in enumerate(outs):
        logical = (base + timedelta(microseconds=index + 1)).isoformat()
        out.unlink(missing_ok=True)
        pathlib.Path(f"{out}.ready").unlink(missing_ok=True)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.storms.twin_run",
                    dag_id,
                    json.dumps(conf),
                    logical,
                    str(go),
                    str(out),
                ],
                cwd=ROOT,
                env={**os.environ, **(envs[index] if envs else {})},
                stdout=(workdir / f"{out.stem}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    # both import Airflow and parse the DAG folder first; release them together once both wait
    deadline = time.monotonic() + 180
    while not all(pathlib.Path(f"{out}.ready").exists() for out in outs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    go.touch()
    results = []
    for proc, out in zip(procs, outs, strict=True):
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = workdir / f"{out.stem}.log"
        result = json.loads(out.read_text()) if out.exists() else {"state": None, "errors": ["no result"]}
        result["log"] = str(log)
        results.append(result)
    return results
