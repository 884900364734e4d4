"""SuiteQL through the hook: rows, paging envelopes, and reading past the 100,000-row cap."""

from __future__ import annotations

import time

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync_sandbox.netsuite import GenerateSpec, NetSuiteService

LINES = (
    "SELECT tl.uniquekey AS id, tl.transaction, tl.linesequencenumber, tl.quantity FROM transactionline tl "
    "WHERE tl.mainline = 'F' AND tl.uniquekey > {after} ORDER BY tl.uniquekey"
)


def test_rows_are_lower_case_strings_with_nulls_left_out(hook, netsuite: NetSuiteService) -> None:
    rows = list(
        hook.suiteql(
            "SELECT t.ID, t.tranid, t.memo AS nothing_here, t.trandate, BUILTIN.DF(t.entity) AS vendor, "
            "TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS modified FROM transaction t "
            "WHERE t.type = 'PurchOrd' AND t.trandate >= TO_DATE('2026-01-01', 'YYYY-MM-DD') AND t.memo IS NULL "
            "ORDER BY t.id",
            page_size=7,
        )
    )
    assert rows == [] or "nothing_here" not in rows[0]
    row = next(
        hook.suiteql(
            "SELECT t.id, t.tranid, t.trandate, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
            "AS modified FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id"
        )
    )
    assert row["id"] == "1" and row["trandate"] == "1/5/2026" and row["modified"].startswith("2026-01-05T")


def test_pages_are_read_completely_in_order(hook, netsuite: NetSuiteService) -> None:
    query = "SELECT t.id FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id"
    ids = [int(row["id"]) for row in hook.suiteql(query, page_size=17)]
    expected = [
        r["id"]
        for r in netsuite.store.query("SELECT id FROM \"transaction\" WHERE type = 'PurchOrd' ORDER BY id")
    ]
    assert ids == expected


def test_order_by_is_required(hook) -> None:
    with pytest.raises(ConfigurationError):
        list(hook.suiteql("SELECT id FROM vendor"))


def test_keyset_paging_crosses_a_lowered_cap(make_hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(suiteql_row_cap=200)
    hook = make_hook(cap=200, concurrency=5)
    with pytest.raises(ConfigurationError):
        list(hook.suiteql(LINES.replace("{after}", "0"), page_size=50))
    keys = [int(row["id"]) for row in hook.suiteql_keyset(LINES, page_size=50)]
    expected = [
        r["uniquekey"]
        for r in netsuite.store.query(
            "SELECT uniquekey FROM transactionline WHERE mainline = 'F' ORDER BY uniquekey"
        )
    ]
    assert len(expected) > 1000 and keys == expected


def test_keyset_paging_crosses_the_real_100k_cap(tmp_path, make_hook) -> None:
    big = NetSuiteService(
        generate_spec=GenerateSpec(purchase_orders=20_100, lines_per_po=5, vendors=5, items=50)
    )
    big.start(tmp_path)
    try:
        import json
        import os

        os.environ["AIRFLOW_CONN_NETSUITE_BIG"] = json.dumps(big.connection("tba", concurrency=5))
        from po_sync.netsuite.hook import NetSuiteHook

        with NetSuiteHook("netsuite_big") as hook:
            started = time.monotonic()
            count = 0
            last = 0
            for row in hook.suiteql_keyset(LINES):
                key = int(row["id"])
                assert key > last
                last = key
                count += 1
            expected = big.store.query("SELECT COUNT(*) AS n FROM transactionline WHERE mainline = 'F'")[0][
                "n"
            ]
            assert count == expected > 100_000
            assert big.stats.as_dict()["by_status"].get("400") is None
            assert time.monotonic() - started < 30
    finally:
        os.environ.pop("AIRFLOW_CONN_NETSUITE_BIG", None)
        big.stop()


def test_custom_body_fields_are_suiteql_columns(hook, netsuite: NetSuiteService) -> None:
    """A checkbox set over REST is filterable in SuiteQL as T/F; an unset one is NULL (NVL to F)."""
    po_ids = netsuite.created["purchaseOrder"][:2]
    flagged, unflagged = str(po_ids[0]), str(po_ids[1])
    hook.update_record("purchaseOrder", flagged, {"custbody_hc_order_exported": True})
    # a text field the account defines; an undefined custbody field is dropped (never a column)
    hook.update_record(
        "purchaseOrder", unflagged, {"custbody_vend_error": "left alone", "custbody_po_sync_note": "x"}
    )
    query = (
        "SELECT t.id, NVL(t.custbody_hc_order_exported, 'F') AS exported, t.custbody_vend_error AS note "
        f"FROM transaction t WHERE t.id IN ({flagged}, {unflagged}) ORDER BY t.id"
    )
    rows = {row["id"]: row for row in hook.suiteql(query)}
    assert rows[flagged]["exported"] == "T" and rows[unflagged]["exported"] == "F"
    assert rows[unflagged]["note"] == "left alone"
    assert "custbody_po_sync_note" not in netsuite.store.get("purchaseOrder", unflagged)
    hook.update_record("purchaseOrder", flagged, {"custbody_hc_order_exported": False})
    (row,) = hook.suiteql(
        f"SELECT t.id, t.custbody_hc_order_exported AS x FROM transaction t WHERE t.id = {flagged} ORDER BY t.id"
    )
    assert row["x"] == "F"


SHAPES = (
    "SELECT t.id, 2.5 AS half, 3.0 AS whole, NULL AS no_memo, "
    "TO_TIMESTAMP('2026-03-04 15:07:00', 'YYYY-MM-DD HH24:MI:SS') AS createddate, "
    "TO_DATE('2026-11-09', 'YYYY-MM-DD') AS duedate, t.id AS ID FROM transaction t "
    "WHERE t.type = 'PurchOrd' ORDER BY t.id"
)


def test_values_are_shaped_as_netsuite_sends_them(hook, netsuite: NetSuiteService) -> None:
    item = hook.suiteql_page(SHAPES, limit=1).items[0]
    assert item["links"] == [] and item["id"] == "1"
    assert item["half"] == "2.5" and item["whole"] == "3"
    assert "no_memo" not in item
    assert item["createddate"] == "3/4/2026 3:07 pm" and item["duedate"] == "11/9/2026"


def test_shape_knobs_keep_nulls_and_iso_dates(hook, netsuite: NetSuiteService) -> None:
    netsuite.set_knobs(suiteql_omit_nulls=False, suiteql_date_style="iso")
    item = hook.suiteql_page(SHAPES, limit=1).items[0]
    assert item["no_memo"] is None
    assert item["createddate"] == "2026-03-04 15:07:00" and item["duedate"] == "2026-11-09"


def test_pages_are_slices_of_one_result(hook, netsuite: NetSuiteService) -> None:
    query = "SELECT t.id, t.tranid FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id"
    first = hook.suiteql_page(query, limit=10)
    again = hook.suiteql_page(query, limit=10, offset=10)
    assert first.total_results == again.total_results
    assert [r["id"] for r in first.items] + [r["id"] for r in again.items] == [
        r["id"] for r in hook.suiteql_page(query, limit=20).items
    ]


def test_mixed_case_aliases_are_read_case_insensitively(hook) -> None:
    rows = list(
        hook.suiteql(
            "SELECT t.id AS PoId, t.tranid AS TranId FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.id",
            page_size=50,
        )
    )
    assert rows and rows[0]["poid"] == rows[0]["PoId"] == "1" and "links" not in rows[0]
    assert rows[0].get("TRANID") == rows[0]["tranid"]


def test_a_column_named_rowid_keeps_its_values_and_the_page_order(hook, netsuite: NetSuiteService) -> None:
    query = (
        "SELECT t.tranid AS rowid, t.id FROM transaction t WHERE t.type = 'PurchOrd' ORDER BY t.tranid DESC"
    )
    rows = list(hook.suiteql(query, page_size=13))
    tranids = [
        r["tranid"]
        for r in netsuite.store.query(
            "SELECT tranid FROM \"transaction\" WHERE type = 'PurchOrd' ORDER BY tranid DESC"
        )
    ]
    assert [row["rowid"] for row in rows] == tranids


def test_unknown_latency_mode_is_refused(netsuite: NetSuiteService) -> None:
    with pytest.raises(KeyError):
        netsuite.set_knobs(latency_mode="sometimes")
    netsuite.set_knobs(latency_mode="added", latency_ms=1)
    assert netsuite.knobs.latency_mode == "added"
