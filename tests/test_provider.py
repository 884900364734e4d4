"""The package registers itself as an Airflow provider, so its connection types get their own forms."""

from __future__ import annotations

import importlib.metadata

import pytest


def test_entry_point_is_installed():
    points = importlib.metadata.entry_points(group="apache_airflow_provider")
    ours = [p for p in points if p.value.startswith("po_sync.")]
    assert [p.value for p in ours] == ["po_sync.provider_info:get_provider_info"]


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_provider_is_listed(providers):
    assert "po-sync" in providers.providers


def test_netsuite_connection_type_has_its_form(providers):
    assert providers.hooks["netsuite"].hook_class_name.startswith("po_sync.netsuite")
    assert any(key.startswith("extra__netsuite__") for key in providers.connection_form_widgets)


def test_ledger_connection_type_has_its_form(providers):
    hook = providers.hooks["po_sync_ledger"]
    assert hook.hook_class_name == "po_sync.ledger.hook.LedgerHook"
    assert hook.connection_testable
    behaviour = providers.field_behaviours["po_sync_ledger"]
    assert "SQLite" in behaviour["relabeling"]["host"]
    assert "extra__po_sync_ledger__dialect" in providers.connection_form_widgets


def test_every_declared_hook_class_imports_and_matches_its_conn_type():
    from importlib import import_module

    from po_sync.provider_info import get_provider_info

    for entry in get_provider_info()["connection-types"]:
        module_name, _, class_name = entry["hook-class-name"].rpartition(".")
        hook_class = getattr(import_module(module_name), class_name)
        assert hook_class.conn_type == entry["connection-type"]
        assert hook_class.default_conn_name and hook_class.conn_name_attr and hook_class.hook_name
        assert callable(getattr(hook_class, "test_connection", None))


def test_xseries_connection_type_has_its_form(providers):
    assert providers.hooks["xseries"].hook_class_name == "po_sync.xseries.hook.XSeriesHook"
    assert "extra__xseries__domain_prefix" in providers.connection_form_widgets
    assert "extra__xseries__refresh_token" in providers.connection_form_widgets
    assert providers.field_behaviours["xseries"]["relabeling"]["login"] == "OAuth client ID"
