"""``python -m po_sync.deployment``: .env values to the files airflow-init imports, secrets kept out of messages."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from po_sync.deployment import connections_from_env, main, variables_from_files
from po_sync.exceptions import ConfigurationError

NETSUITE = '{"conn_type": "netsuite", "extra": {"account_id": "1234567", "client_id": "s3cr3t-client"}}'


def test_connections_by_id_from_prefixed_variables() -> None:
    env = {"PO_SYNC_CONN_NETSUITE_DEFAULT": NETSUITE, "PO_SYNC_CONN_SMTP_DEFAULT": "", "HOME": "/root"}
    found = connections_from_env(env, ["netsuite_default"])
    assert list(found) == ["netsuite_default"]  # empty values are unset, other variables ignored
    assert found["netsuite_default"]["extra"]["account_id"] == "1234567"


def test_missing_required_connection_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="PO_SYNC_CONN_SFTP_DEFAULT"):
        connections_from_env(
            {"PO_SYNC_CONN_NETSUITE_DEFAULT": NETSUITE}, ["netsuite_default", "sftp_default"]
        )


@pytest.mark.parametrize(
    "raw", ['{"conn_type": "netsuite", "password": "hunter2"', '["hunter2"]', '{"password": "hunter2"}']
)
def test_malformed_connection_names_the_variable_not_the_value(raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        connections_from_env({"PO_SYNC_CONN_NETSUITE_DEFAULT": raw}, [])
    assert "PO_SYNC_CONN_NETSUITE_DEFAULT" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_variables_from_files(tmp_path: Path) -> None:
    source = tmp_path / "vendors.json"
    source.write_text('{"vendors": [], "merge_bucket": "m"}')
    assert variables_from_files([f"po_sync_vendors={source}"]) == {
        "po_sync_vendors": {"vendors": [], "merge_bucket": "m"}
    }
    with pytest.raises(ConfigurationError, match="KEY=PATH"):
        variables_from_files(["po_sync_vendors"])
    with pytest.raises(ConfigurationError, match="po_sync_vendors"):
        variables_from_files([f"po_sync_vendors={tmp_path / 'missing.json'}"])


def test_cli_writes_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PO_SYNC_CONN_NETSUITE_DEFAULT", NETSUITE)
    out = tmp_path / "work" / "connections.json"
    assert main(["connections", str(out), "--require", "netsuite_default"]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["netsuite_default"]["conn_type"] == "netsuite"
    assert "s3cr3t" not in capsys.readouterr().out


def test_cli_fails_on_a_missing_required_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PO_SYNC_CONN_AWS_DEFAULT", raising=False)
    assert main(["connections", str(tmp_path / "c.json"), "--require", "aws_default"]) == 1
    assert "PO_SYNC_CONN_AWS_DEFAULT" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_check_finds_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PO_SYNC_CHECK_PRESENT", NETSUITE)
    monkeypatch.setenv("AIRFLOW_VAR_PO_SYNC_CHECK_VAR", '{"vendors": []}')
    monkeypatch.delenv("AIRFLOW_CONN_PO_SYNC_CHECK_ABSENT", raising=False)
    argv = ["check", "--connections", "po_sync_check_present", "--variables", "po_sync_check_var"]
    assert main(argv) == 0
    argv = ["check", "--connections", "po_sync_check_present,po_sync_check_absent", "--variables", "nope_var"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "connection po_sync_check_absent" in err and "Variable nope_var" in err
    assert "po_sync_check_present" not in err
