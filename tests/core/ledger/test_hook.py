"""LedgerHook turns the po_sync_db connection into a database URL (secrets never in messages)."""

from __future__ import annotations

import json

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.ledger.hook import LedgerHook


def set_conn(monkeypatch, conn):
    monkeypatch.setenv("AIRFLOW_CONN_PO_SYNC_DB", json.dumps(conn))


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        pytest.param(
            {"conn_type": "po_sync_ledger", "host": "/data/ledger.db", "extra": {"dialect": "sqlite"}},
            "sqlite:////data/ledger.db",
            id="own type, sqlite",
        ),
        pytest.param(
            {"conn_type": "sqlite", "host": "/data/l.db"}, "sqlite:////data/l.db", id="airflow sqlite"
        ),
        pytest.param(
            {
                "conn_type": "po_sync_ledger",
                "host": "db.internal",
                "port": 6432,
                "login": "po",
                "password": "s3cret",
                "schema": "ledger",
                "extra": {"dialect": "postgresql"},
            },
            "postgresql+psycopg2://po:***@db.internal:6432/ledger",
            id="own type, postgresql",
        ),
        pytest.param(
            {"conn_type": "postgres", "host": "pg", "login": "u", "schema": "x"},
            "postgresql+psycopg2://u@pg:5432/x",
            id="airflow postgres",
        ),
    ],
)
def test_url_from_connection(monkeypatch, conn, expected):
    set_conn(monkeypatch, conn)
    assert LedgerHook().get_url().render_as_string(hide_password=True) == expected


def test_missing_connection_in_a_sandbox_falls_back_to_sqlite_in_airflow_home(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_PO_SYNC_DB", raising=False)
    monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", "True")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert LedgerHook().get_url().database == str(tmp_path / "po_sync_ledger.db")


@pytest.mark.parametrize("setting", [None, "False"])
def test_missing_connection_outside_a_sandbox_names_it(monkeypatch, tmp_path, setting):
    monkeypatch.delenv("AIRFLOW_CONN_PO_SYNC_DB", raising=False)
    if setting is None:
        monkeypatch.delenv("AIRFLOW__PO_SYNC__DEV_MODE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__PO_SYNC__DEV_MODE", setting)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    with pytest.raises(ConfigurationError, match="ledger connection 'po_sync_db' is not defined"):
        LedgerHook().get_conn()
    assert list(tmp_path.iterdir()) == []  # no per-machine SQLite file was made


def test_wrong_type_is_a_configuration_error(monkeypatch):
    set_conn(monkeypatch, {"conn_type": "http", "host": "x", "password": "topsecret"})
    with pytest.raises(ConfigurationError, match="has type 'http'") as err:
        LedgerHook().get_url()
    assert "topsecret" not in str(err.value)


def test_test_connection_reports_a_bad_database(monkeypatch, tmp_path):
    set_conn(monkeypatch, {"conn_type": "sqlite", "host": str(tmp_path / "no" / "such" / "dir" / "l.db")})
    ok, message = LedgerHook().test_connection()
    assert not ok and "OperationalError" in message


def test_test_connection_on_a_good_database(monkeypatch, tmp_path):
    set_conn(monkeypatch, {"conn_type": "sqlite", "host": str(tmp_path / "l.db")})
    assert LedgerHook().test_connection() == (True, "ledger reachable (sqlite)")
