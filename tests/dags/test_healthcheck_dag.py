"""po_sync_healthcheck, run through Airflow (dag.test) against a real ledger."""

from __future__ import annotations

import pytest

from po_sync.ledger import RecordKey, RecordStatus

pytestmark = pytest.mark.e2e


def run_dag(dagbag, conf, *, retries=None):
    dag = dagbag.get_dag("po_sync_healthcheck")
    saved = {task.task_id: task.retries for task in dag.tasks}
    if retries is not None:  # dag.test() waits out real retry delays; a failing case needs none
        for task in dag.tasks:
            task.retries = retries
    try:
        return dag.test(run_conf=conf)
    finally:
        for task in dag.tasks:
            task.retries = saved[task.task_id]


def test_healthy_and_missing_connections_are_recorded_and_the_run_succeeds(dagbag, ledger_conn):
    dag_run = run_dag(dagbag, {"connections": ["po_sync_db", "xseries_default"]})
    assert dag_run.state == "success"

    healthy = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", "po_sync_ledger", "po_sync_db"))
    missing = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", "missing", "xseries_default"))
    assert healthy.status is RecordStatus.SYNCED
    assert missing.status is RecordStatus.FAILED and missing.last_error_code == "CONNECTION_MISSING"
    (sync_run,) = [ledger_conn.get_run(i) for i in (healthy_run_id(ledger_conn),)]
    assert (
        sync_run["status"],
        sync_run["count_read"],
        sync_run["count_synced"],
        sync_run["count_failed"],
    ) == (
        "completed",
        2,
        1,
        1,
    )
    assert sync_run["dag_id"] == "po_sync_healthcheck" and sync_run["run_id"] == dag_run.run_id


def test_fail_on_unhealthy_fails_the_task_after_recording(dagbag, ledger_conn):
    dag_run = run_dag(dagbag, {"connections": ["xseries_default"], "fail_on_unhealthy": True}, retries=0)
    assert dag_run.state == "failed"
    missing = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", "missing", "xseries_default"))
    assert missing.status is RecordStatus.FAILED


def healthy_run_id(ledger) -> int:
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_run

    with ledger.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(sync_run.c.id))).scalar_one()


def test_every_sandbox_connection_checks_healthy_and_a_rerun_records_again(
    dagbag, ledger_conn, airflow_conns
):
    conns = ["po_sync_db", *sorted(airflow_conns)]
    for attempt in (1, 2):
        dag_run = run_dag(dagbag, {"connections": conns, "fail_on_unhealthy": True})
        assert dag_run.state == "success", f"attempt {attempt}"
    states = {c: ledger_conn.get_by_id(i).status for c, i in _record_ids(ledger_conn).items()}
    assert states == dict.fromkeys(conns, RecordStatus.SYNCED)
    assert all(ledger_conn.get_by_id(i).attempts == 2 for i in _record_ids(ledger_conn).values())


def _record_ids(ledger) -> dict[str, int]:
    import sqlalchemy as sa

    from po_sync.ledger.schema import sync_record

    with ledger.engine.connect() as conn:
        return {
            row.source_id: row.id
            for row in conn.execute(sa.select(sync_record.c.source_id, sync_record.c.id))
        }


class _Listener:
    """A plain TCP server that counts who connects: proof that a connection was (not) opened."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_only_the_bundles_own_connections_are_tested(dagbag, ledger_conn, monkeypatch):
    """A conf naming someone else's connection (an internal host) gets it recorded, never opened."""
    import json

    listener = _Listener()
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_INTERNAL_ADMIN",
            json.dumps({"conn_type": "sftp", "host": "127.0.0.1", "port": listener.port, "login": "x"}),
        )
        dag_run = run_dag(dagbag, {"connections": ["po_sync_db", "internal_admin"]})
        assert dag_run.state == "success"
        assert listener.accepted == 0, "a connection outside the bundle was opened"
    finally:
        listener.close()
    refused = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", "sftp", "internal_admin"))
    assert refused.status is RecordStatus.QUARANTINED and refused.last_error_code == "CONNECTION_NOT_ALLOWED"
    healthy = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", "po_sync_ledger", "po_sync_db"))
    assert healthy.status is RecordStatus.SYNCED


def test_a_connection_of_a_type_po_sync_registers_is_its_own():
    from po_sync.healthcheck import BUNDLE_CONNECTION_IDS, bundle_connection_types

    assert {"netsuite", "servicenow", "xseries", "po_sync_ledger"} <= bundle_connection_types()
    assert "sftp" not in bundle_connection_types() and "aws" not in bundle_connection_types()
    assert {"sftp_default", "aws_default", "onetrail_sftp"} <= BUNDLE_CONNECTION_IDS


def test_nothing_is_tested_when_airflow_disables_connection_tests(dagbag, ledger_conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Disabled")
    dag_run = run_dag(dagbag, {"connections": ["po_sync_db", "xseries_default"], "fail_on_unhealthy": True})
    assert dag_run.state == "success", "nothing tested, nothing unhealthy"
    for conn_type, conn_id in (("po_sync_ledger", "po_sync_db"), ("missing", "xseries_default")):
        state = ledger_conn.get(RecordKey("po_sync_healthcheck", "connection", conn_type, conn_id))
        assert state.status is RecordStatus.IGNORED and state.last_error_code == "TEST_CONNECTION_DISABLED"
