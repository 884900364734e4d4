"""Secrets never leave the connections (issue 16, DESIGN convention 8), as a test.

Each partner's flows run end to end (``dag.test`` against the sandboxes, with the partners' own
fixtures) with distinctive secret values: the NetSuite sandbox's random TBA consumer / token secrets
and M2M private key, the SFTP client key, an AWS secret key made for this test, the X-Series client
secret, refresh and access tokens, the ServiceNow password; then every place a secret could leak is
scanned for each of them (and for the recognisable fragments of every private key):

* the task logs: everything the process wrote (fd-level stdout/stderr), Python log records and the
  log files under ``$AIRFLOW_HOME/logs``;
* the XComs in Airflow's metadata database;
* every row of every ledger table;
* exception messages (refused logins with a wrong, equally distinctive, secret);
* the ledger page's HTML (queue and each record) and its JSON API.

A representative set runs in ``make test``: vendors (export, merge, import), HotWax (export, import),
X-Series (PO sync), Onetrail (submit), ServiceNow (S2P sync), plus refused NetSuite (TBA and M2M) and
ServiceNow logins.
"""

# ruff: noqa: F811 - the partners' fixtures, imported below, are this module's test parameters

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import AIRFLOW_HOME
from tests.core.ui.test_ledger_app import auth_manager, client_as  # noqa: F401 - fixture
from tests.dags.conftest import airflow_db, dagbag, ledger_conn  # noqa: F401 - fixtures
from tests.hotwax.conftest import actor, hotwax_sandbox, netsuite_store  # noqa: F401 - fixtures
from tests.onetrail.conftest import hub, onetrail_sandbox  # noqa: F401 - fixtures
from tests.servicenow.conftest import s2p  # noqa: F401 - fixture
from tests.vendors.conftest import netsuite, world  # noqa: F401 - fixtures
from tests.xseries.conftest import vend  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

#: Connection fields (top level or in ``extra``) that hold a secret.
SECRET_FIELDS = {
    "password",
    "consumer_secret",
    "token_secret",
    "private_key",
    "client_secret",
    "aws_secret_access_key",
    "aws_session_token",
    "refresh_token",
    "access_token",
    "personal_token",
    "private_key_passphrase",
}
#: Fields naming a file whose content is a secret (an SSH or certificate key).
SECRET_FILE_FIELDS = {"key_file", "private_key_file"}
MIN_SECRET = 12  # shorter values are not distinctive enough to scan for


def _fragments(value: str) -> set[str]:
    """A secret, and for a PEM / OpenSSH key each base64 line of it (a log would show a line, not the block)."""
    out = {value}
    if "-----BEGIN" in value:
        out |= {ln.strip() for ln in value.splitlines() if len(ln.strip()) >= 24 and "-----" not in ln}
    return {s for s in out if len(s) >= MIN_SECRET}


def _walk(value: Any, key: str = "") -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, str) and value:
        if key in SECRET_FIELDS:
            yield from _fragments(value)
        elif key in SECRET_FILE_FIELDS and Path(value).is_file():
            yield from _fragments(Path(value).read_text())
        elif key == "extra" and value.startswith("{"):
            yield from _walk(json.loads(value))


def connection_secrets() -> set[str]:
    """Every secret the connections of this test hold (``AIRFLOW_CONN_*`` in the environment)."""
    found: set[str] = set()
    for name, raw in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and raw.startswith("{"):
            found |= set(_walk(json.loads(raw)))
    return found


def token_store_secrets() -> set[str]:
    """The X-Series access / refresh tokens issued during the run (kept in token store files)."""
    found: set[str] = set()
    for name, raw in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and raw.startswith("{"):
            path = (json.loads(raw).get("extra") or {}).get("token_store_path")
            if path and Path(path).is_file():
                found |= set(_walk(json.loads(Path(path).read_text())))
    return found


def distinctive_aws_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """Give ``aws_default`` a secret key made for this test (moto accepts any)."""
    raw = os.environ.get("AIRFLOW_CONN_AWS_DEFAULT")
    assert raw, "the sandbox exports aws_default"
    conn = json.loads(raw)
    secret = f"AwsSecret{secrets.token_hex(16)}"
    conn.setdefault("extra", {})["aws_secret_access_key"] = secret
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    return secret


# ---------------------------------------------------------------------------------------- haystacks


def ledger_text(ledger: Any) -> str:
    meta = sa.MetaData()
    meta.reflect(ledger.engine)
    parts = []
    with ledger.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(parts)


def xcom_text() -> str:
    db = AIRFLOW_HOME / "airflow.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM xcom").fetchall()
    return "\n".join(repr(r) for r in rows)


def log_files_text() -> str:
    logs = AIRFLOW_HOME / "logs"
    if not logs.is_dir():
        return ""
    return "\n".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())


def ledger_app_text(auth_manager: Any, ledger: Any) -> str:
    client = client_as(auth_manager, "admin")
    pages = [client.get("/po-sync/"), client.get("/po-sync/", params={"tab": "all"})]
    api = client.get("/po-sync/api/records", params={"tab": "all", "page_size": 500})
    pages += [api, client.get("/po-sync/api/counts")]
    assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
    for record in api.json()["records"]:
        pages.append(client.get(f"/po-sync/api/records/{record['id']}"))
        pages.append(client.get(f"/po-sync/records/{record['id']}"))
    return "\n".join(p.text for p in pages)


def assert_nothing_leaked(
    secret_values: set[str],
    *,
    ledger: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    auth_manager: Any,
    extra: dict[str, str] | None = None,
    must_show: str = ", synced ",
) -> dict[str, int]:
    """Scan every haystack for every secret; returns the haystack sizes (to show they were not empty)."""
    out, err = capfd.readouterr()
    haystacks = {
        "task output": out + err,
        "log records": "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
        "log files": log_files_text(),
        "xcom": xcom_text(),
        "ledger rows": ledger_text(ledger),
        "ledger page and API": ledger_app_text(auth_manager, ledger),
        **(extra or {}),
    }
    # print what was captured again, so a failing run still shows its log
    print(out[-20000:])
    assert secret_values, "no secret was found to scan for"
    leaks = [
        (where, secret[:7] + "…")
        for where, text in haystacks.items()
        for secret in secret_values
        if secret in text
    ]
    assert leaks == [], leaks
    sizes = {where: len(text) for where, text in haystacks.items()}
    # the scan saw the task logs (every SyncOperator logs its counts) and the ledger, not empty strings
    logs_seen = haystacks["task output"] + haystacks["log records"] + haystacks["log files"]
    assert must_show in logs_seen, f"the task logs were not captured ({must_show!r} missing)"
    assert sizes["ledger rows"] > 0 and sizes["ledger page and API"] > 0, sizes
    return sizes


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# ------------------------------------------------------------------------------------------ the flows


def test_vendor_flows_leak_no_secret(
    dagbag,
    ledger_conn,
    world,
    netsuite,
    monkeypatch,
    capfd,
    logs,
    auth_manager,
):
    from tests.vendors.test_export_dag import run_dag
    from tests.vendors.test_flow_dags import EXPORT, IMPORT, MERGE
    from tests.vendors.test_merge_import import standard_pos

    aws = distinctive_aws_secret(monkeypatch)
    assert run_dag(dagbag, EXPORT).state == "success"
    actor_ = world.actors["V0001"]
    actor_.ship(standard_pos(actor_)[0])
    actor_.malformed("bad_xml")
    assert run_dag(dagbag, MERGE, {"wait_minutes": 0}).state == "success"
    assert run_dag(dagbag, IMPORT).state == "success"
    found = connection_secrets()
    assert aws in found and any(len(s) == 64 for s in found)  # our AWS key and NetSuite's hex secrets
    assert_nothing_leaked(found, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)


def test_hotwax_flows_leak_no_secret(
    dagbag,
    ledger_conn,
    actor,
    netsuite_store,
    capfd,
    logs,
    auth_manager,
):
    from tests.hotwax.conftest import run_dag

    assert run_dag(dagbag, "hotwax_po_export").state == "success"
    actor.import_purchase_orders()
    actor.receive(["2"])
    actor.bad_feed("malformed")
    assert run_dag(dagbag, "hotwax_receipt_import").state == "success"
    found = connection_secrets()
    assert any("\n" not in s and len(s) >= 24 for s in found)  # the SSH key's lines are among them
    assert_nothing_leaked(found, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)


def test_xseries_flows_leak_no_secret(dagbag, ledger_conn, vend, capfd, logs, auth_manager):
    from tests.xseries.conftest import run

    assert run(dagbag, "vend_purchase_order_sync").state == "success"
    assert run(dagbag, "vend_token_refresh").state == "success"
    found = connection_secrets() | token_store_secrets()
    assert_nothing_leaked(found, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)


def test_onetrail_submit_leaks_no_secret(
    dagbag,
    ledger_conn,
    onetrail_sandbox,
    hub,
    capfd,
    logs,
    auth_manager,
):
    from tests.onetrail.conftest import run_dag

    run = run_dag(dagbag, "onetrail_po_submit")
    assert {ti.state for ti in run.get_task_instances()} == {"success"}
    found = connection_secrets()
    assert_nothing_leaked(found, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)


def test_servicenow_flow_leaks_no_secret(dagbag, ledger_conn, s2p, capfd, logs, auth_manager):
    from po_sync_sandbox.servicenow.actor import Line
    from tests.servicenow.conftest import run_flow

    s2p.actor.create_po("VEND-0001", [Line("ITEM-00001", 5, "12.50")])
    s2p.actor.create_po("VEND-0002", [Line("ITEM-NOPE", 1)])  # a failed one: its error goes back
    assert run_flow(dagbag).state == "success"
    found = connection_secrets()
    assert s2p.servicenow.credentials["password"] in found
    assert_nothing_leaked(found, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)


# ------------------------------------------------------------------------------ refused logins


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "__dict__", {}))


def test_refused_logins_name_no_secret_in_exceptions_logs_or_ledger(
    dagbag,
    ledger_conn,
    actor,
    hotwax_sandbox,
    netsuite_store,
    monkeypatch,
    capfd,
    logs,
    auth_manager,
):
    """A wrong secret is as secret as a right one: a refused TBA login, a refused M2M login, through
    the hook and through a whole run."""
    from po_sync.exceptions import PoSyncError
    from po_sync.netsuite import NetSuiteHook
    from tests.hotwax.conftest import run_dag

    service = hotwax_sandbox.services["netsuite"]
    wrong = {
        "consumer_secret": f"WrongConsumer{secrets.token_hex(12)}",
        "token_secret": f"WrongToken{secrets.token_hex(12)}",
    }
    tba = service.connection("tba", max_attempts=1, **wrong)
    m2m = service.connection("m2m", max_attempts=1)
    m2m["extra"]["client_id"] = f"WrongClient{secrets.token_hex(8)}"
    texts: dict[str, str] = {}
    found: set[str] = set()
    for name, conn in (("tba", tba), ("m2m", m2m)):
        monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(conn))
        found |= connection_secrets()
        with pytest.raises(PoSyncError) as caught, NetSuiteHook("netsuite_default") as hook:
            list(hook.suiteql("SELECT id FROM transaction"))
        texts[f"exception ({name})"] = _exception_text(caught.value)
        assert run_dag(dagbag, "hotwax_po_export").state == "failed"
    assert set(wrong.values()) <= found and any("\n" not in s and len(s) >= 24 for s in found)
    assert_nothing_leaked(
        found,
        ledger=ledger_conn,
        capfd=capfd,
        caplog=logs,
        auth_manager=auth_manager,
        extra=texts,
        must_show="INVALID_LOGIN",
    )


def test_the_scan_finds_a_planted_secret(ledger_conn, capfd, logs, auth_manager):
    """The scan itself can fail: a secret in a log line, an exception or a ledger message is found."""
    from po_sync.ledger import RecordKey, RunContext

    planted = f"Planted{secrets.token_hex(12)}"
    run = ledger_conn.open_run(flow="f", context=RunContext("f", "r1", "t"))
    decision = ledger_conn.begin(RecordKey("f", "x", "s", "1"), payload_hash="h", sync_run_id=run)
    ledger_conn.mark_failed(decision.record_id, sync_run_id=run, code="E", message="fine")
    logging.getLogger("po_sync.test").info("f: read 1, synced 0")
    assert_nothing_leaked({planted}, ledger=ledger_conn, capfd=capfd, caplog=logs, auth_manager=auth_manager)
    for leak in ("exception", "log", "ledger"):  # each alone: the log leak is cleared before the ledger's
        logs.clear()
        logging.getLogger("po_sync.test").info("f: read 1, synced 0")
        extra = {}
        if leak == "log":
            logging.getLogger("po_sync.test").warning("token %s", planted)
        elif leak == "ledger":
            ledger_conn.mark_failed(
                decision.record_id, sync_run_id=run, code="E", message=f"secret {planted}"
            )
        else:
            extra["exception"] = _exception_text(RuntimeError(f"login with {planted} refused"))
        with pytest.raises(AssertionError, match="Planted"):
            assert_nothing_leaked(
                {planted},
                ledger=ledger_conn,
                capfd=capfd,
                caplog=logs,
                auth_manager=auth_manager,
                extra=extra,
            )
