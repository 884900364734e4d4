"""NetSuite datetimes are on the account's wall clock (issue 10, item 4).

SuiteQL shows ``lastmodifieddate`` and reads ``TO_TIMESTAMP`` literals in the account's time zone
(``reference/netsuite.md`` 1.4 / 2.x); the REST record service gives the same instant as ``...Z``.
A UTC window must be sent as local wall-clock bounds, also across a DST change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.netsuite.connection import NetSuiteSettings
from po_sync.netsuite.mapping import local_window, po_lines_query, purchase_orders_from_rows
from po_sync_sandbox.netsuite import NetSuiteService

LA = ZoneInfo("America/Los_Angeles")
FALL_BACK = datetime(2026, 11, 1, 9, tzinfo=UTC)  # 02:00 PDT -> 01:00 PST
SPRING_FORWARD = datetime(2026, 3, 8, 10, tzinfo=UTC)  # 02:00 PST -> 03:00 PDT


def _wall(moment: datetime) -> datetime:
    return moment.astimezone(LA).replace(tzinfo=None)


@pytest.mark.parametrize("change", [FALL_BACK, SPRING_FORWARD], ids=["fall-back", "spring-forward"])
@pytest.mark.parametrize("minutes", [60, 10, 75])
def test_local_window_holds_every_instant_of_the_utc_window_across_dst(change, minutes) -> None:
    """Every hourly (and 10- / 75-minute) window from 4 h before to 4 h after the change: each minute
    of it lies inside the local span, and the span's bounds are wall-clock times that exist once."""
    start = change - timedelta(hours=4)
    while start < change + timedelta(hours=4):
        end = start + timedelta(minutes=minutes)
        local_start, local_end = local_window(start, end, LA)
        assert local_start is not None and local_end is not None
        for bound in (local_start, local_end):
            assert (
                bound.replace(tzinfo=LA, fold=0).utcoffset() == bound.replace(tzinfo=LA, fold=1).utcoffset()
            )
        moment = start
        while moment < end:
            assert local_start <= _wall(moment) < local_end, (start, end, moment)
            moment += timedelta(minutes=1)
        # never more than the DST change wider on each side
        assert _wall(start) - local_start <= timedelta(hours=1)
        assert local_end - _wall(end - timedelta(microseconds=1)) <= timedelta(hours=2)
        start += timedelta(minutes=minutes)


def test_local_window_is_exact_away_from_a_change() -> None:
    start = datetime(2026, 7, 15, 16, tzinfo=UTC)  # 09:00 PDT
    assert local_window(start, start + timedelta(hours=1), LA) == (
        datetime(2026, 7, 15, 9),
        datetime(2026, 7, 15, 10),
    )
    assert local_window(start, start + timedelta(hours=1), UTC) == (
        datetime(2026, 7, 15, 16),
        datetime(2026, 7, 15, 17),
    )


def test_po_query_sends_local_bounds_and_rows_read_back_as_utc() -> None:
    start = datetime(2026, 1, 5, 17, tzinfo=UTC)  # 09:00 PST
    query = po_lines_query(modified_from=start, modified_to=start + timedelta(hours=1), zone=LA)
    assert "TO_TIMESTAMP('2026-01-05 09:00:00'" in query and "TO_TIMESTAMP('2026-01-05 10:00:00'" in query
    row = {"id": "1", "tranid": "PO1", "status": "B", "lastmod": "2026-01-05 09:30:00", "vendor": "V1",
           "trandate": "2026-01-05", "line": "1", "sku": "A", "quantity": "1", "rate": "1"}  # fmt: skip
    (po,) = purchase_orders_from_rows([row], zone=LA)
    assert not isinstance(po, Exception), po
    assert po.last_modified == datetime(2026, 1, 5, 17, 30, tzinfo=UTC)


def _settings(**extra) -> NetSuiteSettings:
    return NetSuiteSettings.from_connection(
        host=None,
        login=None,
        password=None,
        extra={
            "account_id": "1234567",
            "auth_mode": "tba",
            "consumer_key": "k",
            "consumer_secret": "s",
            "token_id": "t",
            "token_secret": "u",
            **extra,
        },  # fmt: skip
    )


def test_connection_account_timezone_is_validated_and_required_when_used() -> None:
    assert _settings(account_timezone="America/Los_Angeles").account_zone == LA
    with pytest.raises(ConfigurationError, match="account_timezone: 'Mars/Olympus' is not an IANA"):
        _settings(account_timezone="Mars/Olympus")
    with pytest.raises(ConfigurationError, match="needs account_timezone"):
        _ = _settings().account_zone


def test_sandbox_serves_suiteql_datetimes_on_the_account_clock(hook, netsuite: NetSuiteService) -> None:
    """The knob ``account_timezone``: SuiteQL shows and reads local times, the record service stays UTC."""
    query = (
        "SELECT t.id, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmod FROM transaction t "
        "WHERE t.type = 'PurchOrd' ORDER BY t.id"
    )
    utc_rows = {r["id"]: r["lastmod"] for r in hook.suiteql(query)}
    netsuite.set_knobs(account_timezone="America/Los_Angeles")
    local_rows = {r["id"]: r["lastmod"] for r in hook.suiteql(query)}
    assert utc_rows.keys() == local_rows.keys()
    for record_id, stamp in utc_rows.items():
        moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert local_rows[record_id] == _wall(moment).strftime("%Y-%m-%d %H:%M:%S")
    record_id, stamp = next(iter(utc_rows.items()))
    record = hook.get_record("purchaseOrder", record_id)
    assert record.fields["lastModifiedDate"] == stamp.replace(" ", "T") + "Z"  # the record service: UTC

    moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    local = _wall(moment).strftime("%Y-%m-%d %H:%M:%S")
    found = hook.suiteql(
        f"SELECT t.id FROM transaction t WHERE t.id = {record_id} AND "
        f"t.lastmodifieddate >= TO_TIMESTAMP('{local}', 'YYYY-MM-DD HH24:MI:SS') ORDER BY t.id"
    )
    assert [r["id"] for r in found] == [record_id]  # the literal is read on the account's clock
    later = (_wall(moment) + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert not list(
        hook.suiteql(
            f"SELECT t.id FROM transaction t WHERE t.id = {record_id} AND "
            f"t.lastmodifieddate >= TO_TIMESTAMP('{later}', 'YYYY-MM-DD HH24:MI:SS') ORDER BY t.id"
        )
    )


def test_check_account_timezone_compares_with_the_account(make_hook, netsuite: NetSuiteService) -> None:
    """The Test button tells a wrong ``account_timezone`` from the right one (record service vs SuiteQL)."""
    assert make_hook(concurrency=2, account_timezone="UTC").test_connection()[0]
    wrong = make_hook(concurrency=2, account_timezone="America/Los_Angeles")
    with pytest.raises(
        ConfigurationError, match=r"America/Los_Angeles is UTC-0[78]:00 .* shows .* UTC\+00:00"
    ):
        wrong.check_account_timezone()
    ok, message = wrong.test_connection()
    assert not ok and "account_timezone" in message
    netsuite.set_knobs(account_timezone="America/Los_Angeles")
    make_hook(concurrency=2, account_timezone="America/Los_Angeles").check_account_timezone()
    with pytest.raises(ConfigurationError, match="Europe/Berlin"):
        make_hook(concurrency=2, account_timezone="Europe/Berlin").check_account_timezone()
