"""SuiteQL executed by SQLite: the NetSuite dialect rewritten minimally, results shaped like NetSuite's.

Rewrites: ``transaction`` quoted (an SQLite keyword), ``BUILTIN.DF(x)`` → display names,
``BUILTIN.CF(t.status)`` → ``'PurchOrd:B'``, ``SYSDATE``; Oracle functions (``TO_DATE``, ``TO_TIMESTAMP``,
``TO_CHAR``, ``NVL``, ``TRUNC``, ``ADD_MONTHS``) are SQLite functions. Only reads of the SuiteQL tables are
authorised. SQLite's errors become NetSuite's ``INVALID_PARAMETER`` bodies.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from po_sync_sandbox.netsuite.nserrors import NsError, invalid_parameter
from po_sync_sandbox.netsuite.schema import ENTITY, ITEM, LOCATION, STATUS_TEXT, SUITEQL_TABLES, TRANSACTION
from po_sync_sandbox.netsuite.store import Store
from po_sync_sandbox.netsuite.suiteql_rows import RownumCounters, rewrite_row_limits

_STRING_RE = re.compile(r"('(?:[^']|'')*')")
_DF_RE = re.compile(
    r"BUILTIN\s*\.\s*DF\s*\(\s*([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_][\w]*)?)\s*\)", re.IGNORECASE
)
_CF_RE = re.compile(r"BUILTIN\s*\.\s*CF\s*\(\s*(?:([A-Za-z_]\w*)\s*\.\s*)?status\s*\)", re.IGNORECASE)
_TRANSACTION_RE = re.compile(r'(?<!["\w])transaction(?![\w"])', re.IGNORECASE)
_SYSDATE_RE = re.compile(r"\bSYSDATE\b", re.IGNORECASE)
_FROM_TABLE_RE = re.compile(r"\b(?:from|join)\s+([A-Za-z_][\w]*)", re.IGNORECASE)
DATE_COLUMNS = {
    "trandate",
    "createddate",
    "lastmodifieddate",
    "datecreated",
    "duedate",
    "shipdate",
    "closedate",
}
_DF_FAMILY = {
    "entity": ENTITY,
    "vendor": ENTITY,
    "customer": ENTITY,
    "item": ITEM,
    "location": LOCATION,
    "transferlocation": LOCATION,
    "createdfrom": TRANSACTION,
    "transaction": TRANSACTION,
    "subsidiary": "subsidiary",
    "currency": "currency",
}


def _oracle_to_strftime(fmt: str) -> str:
    out = []
    i = 0
    tokens = [
        ("YYYY", "%Y"),
        ("HH24", "%H"),
        ("HH12", "%I"),
        ("MONTH", "%B"),
        ("MON", "%b"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("HH", "%I"),
        ("MI", "%M"),
        ("SS", "%S"),
        ("AM", "%p"),
        ("PM", "%p"),
        ("YY", "%y"),
    ]
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.find('"', i + 1)
            end = len(fmt) if end < 0 else end
            out.append(fmt[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        for token, repl in tokens:
            if fmt[i : i + len(token)].upper() == token:
                out.append(repl)
                i += len(token)
                break
        else:
            out.append(fmt[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def _parse_value(value: Any, fmt: str | None) -> datetime | None:
    if value is None:
        return None
    text = str(value).strip()
    if fmt:
        try:
            return datetime.strptime(text, _oracle_to_strftime(fmt))
        except ValueError:
            raise sqlite3.OperationalError(f"date {text!r} does not match format {fmt!r}") from None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise sqlite3.OperationalError(f"cannot read {text!r} as a date")


def _to_date(value: Any, fmt: str | None = None) -> str | None:
    parsed = _parse_value(value, fmt)
    return parsed.strftime("%Y-%m-%d") if parsed else None


def _to_timestamp(value: Any, fmt: str | None = None) -> str | None:
    parsed = _parse_value(value, fmt)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else None


def _to_char(value: Any, fmt: str | None = None) -> str | None:
    if value is None:
        return None
    if fmt is None:
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    parsed = _parse_value(value, None)
    return parsed.strftime(_oracle_to_strftime(fmt)) if parsed else None


_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


class AccountClock:
    """The account's time zone as SuiteQL sees it: datetimes are kept in UTC (the REST record service
    gives them as ``...Z``) and SuiteQL shows and reads them on the account's wall clock.

    :param store: the sandbox data; its knob ``account_timezone`` names the zone (``UTC`` = no change).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def zone(self) -> ZoneInfo | None:
        name = self.store.knobs.account_timezone
        return None if name in ("", "UTC", "Etc/UTC") else ZoneInfo(name)

    def local(self, value: Any) -> Any:
        """A stored UTC ``YYYY-MM-DD HH:MM:SS`` as the account's wall clock; anything else unchanged."""
        zone = self.zone
        if zone is None or not isinstance(value, str) or not _DATETIME_RE.match(value):
            return value
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    def utc(self, value: Any) -> Any:
        """A wall-clock ``YYYY-MM-DD HH:MM:SS`` of the account as stored UTC (the earlier of a repeated hour)."""
        zone = self.zone
        if zone is None or not isinstance(value, str) or not _DATETIME_RE.match(value):
            return value
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _trunc(value: Any, unit: str | None = None) -> Any:
    if isinstance(value, int | float):
        return int(value)
    parsed = _parse_value(value, None)
    return parsed.strftime("%Y-%m-%d") if parsed else None


def _add_months(value: Any, months: int) -> str | None:
    parsed = _parse_value(value, None)
    if parsed is None:
        return None
    month = parsed.month - 1 + int(months)
    year = parsed.year + month // 12
    month = month % 12 + 1
    day = min(
        parsed.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return parsed.replace(year=year, month=month, day=day).strftime("%Y-%m-%d")


def _sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _value_as_text(ref: str) -> str:
    """SQL for NetSuite's rendering of a SuiteQL value: a string; whole REALs without ``.0``."""
    return (
        f"(CASE typeof({ref}) WHEN 'null' THEN NULL "
        f"WHEN 'real' THEN (CASE WHEN {ref} = CAST({ref} AS INTEGER) THEN CAST(CAST({ref} AS INTEGER) AS TEXT) "
        f"ELSE CAST({ref} AS TEXT) END) ELSE CAST({ref} AS TEXT) END)"
    )


def _account_date(ref: str) -> str:
    """SQL for a DATE column in the account's format: ``M/D/YYYY``, with `` h:mm am`` when it has a time."""
    day = (
        f"CAST(substr({ref}, 6, 2) AS INTEGER) || '/' || CAST(substr({ref}, 9, 2) AS INTEGER) || '/' || "
        f"substr({ref}, 1, 4)"
    )
    hour = f"CAST(substr({ref}, 12, 2) AS INTEGER)"
    clock = (
        f"(({hour} + 11) % 12 + 1) || ':' || substr({ref}, 15, 2) || ' ' || "
        f"(CASE WHEN {hour} < 12 THEN 'am' ELSE 'pm' END)"
    )
    digits = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
    return (
        f"(CASE WHEN {ref} GLOB '{digits}' THEN {day} "
        f"WHEN {ref} GLOB '{digits} [0-9][0-9]:[0-9][0-9]:[0-9][0-9]' THEN {day} || ' ' || {clock} "
        f"ELSE {_value_as_text(ref)} END)"
    )


def _row_json_sql(columns: list[str], *, date_style: str, omit_nulls: bool, local: bool = False) -> str:
    """SQL rendering one result row (alias ``q``) as the JSON text of a NetSuite SuiteQL item.

    :param local: show DATE columns' times on the account's wall clock (``ns_local``).
    """
    members = []
    for column in columns:
        ref = 'q."' + column.replace('"', '""') + '"'
        name = column.lower()
        if local and name in DATE_COLUMNS:
            ref = f"ns_local({ref})"
        value = (
            _account_date(ref) if date_style == "account" and name in DATE_COLUMNS else _value_as_text(ref)
        )
        members.append(f"{_sql_text(name)}, {value}")
    if omit_nulls:  # a JSON merge patch drops the members whose value is null
        return f"""json_patch('{{"links":[]}}', json_object({", ".join(members)}))"""
    return "json_object('links', json('[]'), " + ", ".join(members) + ")"


@dataclass(frozen=True)
class _Result:
    """A query's reachable rows, kept in a temporary table in result order.

    :param table: the temporary table.
    :param seq: the name that reads its row number (``rowid`` unless the query has such a column).
    :param columns: the result's column names, as SQLite names them.
    :param stored: rows in the table (at most the cap).
    :param total: rows the query has in all (``totalResults``).
    """

    table: str
    seq: str
    columns: list[str]
    stored: int
    total: int


class SuiteQLEngine:
    """Runs SuiteQL over a :class:`Store`'s tables.

    :param store: the sandbox data.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._results: OrderedDict[tuple[str, int, int, str], _Result] = OrderedDict()
        self._result_ids = itertools.count(1)
        self.clock = clock = AccountClock(store)
        db = store.db
        db.create_function("ns_df", 2, self._df)
        db.create_function("ns_local", 1, clock.local)
        db.create_function("to_date", 1, _to_date)
        db.create_function("to_date", 2, _to_date)
        db.create_function("to_timestamp", 1, lambda v: clock.utc(_to_timestamp(v)))
        db.create_function("to_timestamp", 2, lambda v, f: clock.utc(_to_timestamp(v, f)))
        db.create_function("to_char", 1, lambda v: _to_char(clock.local(v)))
        db.create_function("to_char", 2, lambda v, f: _to_char(clock.local(v), f))
        db.create_function("nvl", 2, lambda a, b: b if a is None else a)
        db.create_function("trunc", 1, lambda v: _trunc(clock.local(v)))
        db.create_function("trunc", 2, lambda v, u: _trunc(clock.local(v), u))
        db.create_function("add_months", 2, _add_months)
        self.rownum = RownumCounters()
        db.create_function("ns_rownum_test", 3, self.rownum.test)
        db.create_function("ns_sysdate", 0, lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))

    def _df(self, column: str, value: Any) -> Any:
        if value is None:
            return None
        family = _DF_FAMILY.get(column)
        if family is None:
            return value
        key = str(int(value)) if isinstance(value, float) else str(value)
        return self.store.name_of(family, key) or value

    @staticmethod
    def rewrite(query: str) -> str:
        """Translate the NetSuite SQL dialect into SQLite, leaving string literals alone."""
        parts = _STRING_RE.split(query.strip().rstrip(";"))
        out = []
        for index, part in enumerate(parts):
            if index % 2 == 1:
                out.append(part)
                continue

            def df(match: re.Match[str]) -> str:
                expr = re.sub(r"\s+", "", match.group(1))
                column = expr.rsplit(".", 1)[-1].lower()
                if column == "status":
                    alias = expr.rsplit(".", 1)[0] + "." if "." in expr else ""
                    return _status_text_case(f"{alias}type", expr)
                return f"ns_df('{column}', {expr})"

            def cf(match: re.Match[str]) -> str:
                alias = f"{match.group(1)}." if match.group(1) else ""
                return f"({alias}type || ':' || {alias}status)"

            part = _DF_RE.sub(df, part)
            part = _CF_RE.sub(cf, part)
            part = _SYSDATE_RE.sub("ns_sysdate()", part)
            part = _TRANSACTION_RE.sub('"transaction"', part)
            out.append(part)
        try:
            return rewrite_row_limits("".join(out))
        except ValueError as exc:
            raise invalid_parameter(
                f"Invalid search query. Detailed unprocessed description follows. Search error occurred: {exc}.",
                "q",
            ) from None

    def _authorizer(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            return (
                sqlite3.SQLITE_OK
                if (arg1 or "").lower() in SUITEQL_TABLES or arg1 is None or arg1 == ""
                else sqlite3.SQLITE_DENY
            )
        return sqlite3.SQLITE_DENY

    def execute(
        self, query: str, *, limit: int, offset: int, cap: int = 100_000, date_style: str, omit_nulls: bool
    ) -> tuple[list[str], int]:
        """One page of a query as NetSuite's ``items`` (each row a JSON object text) and the total row count.

        The first page of a query (per data version) stores its reachable rows (at most ``cap``) in a temporary
        table, so the pages of one query are consistent slices, as a paged NetSuite result is. Each page is then
        shaped by SQLite itself (``json_object``: ``links: []``, every value a string, NULLs left out when
        ``omit_nulls``, DATE columns in the account's format when ``date_style`` is ``account``): serving a page
        is C work with the GIL released, not Python work per value that would hold up every other call.

        :raises NsError: 400 ``INVALID_PARAMETER`` (``o:errorQueryParam: q``) for bad queries.
        """
        self._check_query(query)
        sql = self.rewrite(query)
        store = self.store
        with store.lock:
            key = (sql, store.version, cap, store.knobs.account_timezone)
            result = self._results.get(key)
            if result is None:
                result = self._materialise(sql, cap=cap)
                self._results[key] = result
                while len(self._results) > 4:
                    _, evicted = self._results.popitem(last=False)
                    store.db.execute(f"DROP TABLE IF EXISTS temp.{evicted.table}")
            else:
                self._results.move_to_end(key)
            if offset >= result.stored or limit <= 0:
                return [], result.total
            render = _row_json_sql(
                result.columns,
                date_style=date_style,
                omit_nulls=omit_nulls,
                local=self.clock.zone is not None,
            )
            rows = store.db.execute(
                f"SELECT {render} FROM temp.{result.table} AS q "
                f"WHERE q.{result.seq} > ? AND q.{result.seq} <= ? ORDER BY q.{result.seq}",
                (offset, offset + limit),
            ).fetchall()
        return [row[0] for row in rows], result.total

    def _check_query(self, query: str) -> None:
        if not query or not query.strip():
            raise invalid_parameter(
                "Invalid search query. Detailed unprocessed description follows. Empty query.", "q"
            )
        if not re.match(r"^\s*(select|with)\b", query, re.IGNORECASE):
            raise invalid_parameter(
                "Invalid search query. Detailed unprocessed description follows. Only SELECT statements are supported.",
                "q",
            )
        for table in _FROM_TABLE_RE.findall(query):
            if table.lower() not in SUITEQL_TABLES and not re.search(
                rf"\bwith\b.*\b{table}\b\s+as", query, re.I | re.S
            ):
                raise invalid_parameter(
                    f"Invalid search query. Detailed unprocessed description follows. Invalid search type: {table.lower()}.",
                    "q",
                )

    def _materialise(self, sql: str, *, cap: int) -> _Result:
        """Store the first ``cap`` rows of ``sql`` in a temporary table (the store lock held)."""
        db = self.store.db
        db.set_authorizer(self._authorizer)
        try:  # compiling under the authorizer is what checks the query: only reads of SuiteQL tables
            self.rownum.reset()
            cur = db.execute(f"SELECT * FROM ({sql}) LIMIT 0")
            columns = [d[0] for d in cur.description or ()]
            cur.fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        finally:
            db.set_authorizer(None)
        taken = {c.lower() for c in columns}
        seq = next((name for name in ("rowid", "_rowid_", "oid") if name not in taken), None)
        if seq is None:
            raise invalid_parameter(
                "Invalid search query. Detailed unprocessed description follows. "
                "Columns named rowid, _rowid_ and oid cannot all be used at once.",
                "q",
            )
        table = f"suiteql_result_{next(self._result_ids)}"
        try:
            self.rownum.reset()
            db.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM ({sql}) LIMIT ?", (max(cap, 1),))
            stored = int(db.execute(f"SELECT COUNT(*) FROM temp.{table}").fetchone()[0])
            total = stored
            if stored >= cap:  # only a capped result needs counting past what was stored
                self.rownum.reset()
                total = int(db.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0])
        except sqlite3.Error as exc:
            db.execute(f"DROP TABLE IF EXISTS temp.{table}")
            raise self._error(exc) from None
        return _Result(table=table, seq=seq, columns=columns, stored=stored, total=total)

    @staticmethod
    def _error(exc: sqlite3.Error) -> NsError:
        text = str(exc)
        prefix = "Invalid search query. Detailed unprocessed description follows. "
        match = re.search(r"no such column: (?:\w+\.)?(\w+)", text)
        if match:
            return invalid_parameter(
                f"{prefix}Search error occurred: Unknown identifier '{match.group(1)}'.", "q"
            )
        match = re.search(r"no such table: (\w+)", text)
        if match:
            return invalid_parameter(f"{prefix}Invalid search type: {match.group(1)}.", "q")
        if "not authorized" in text or "prohibited" in text:
            return invalid_parameter(f"{prefix}Search error occurred: Record was not found.", "q")
        return invalid_parameter(f"{prefix}Search error occurred: {text}.", "q")


def _status_text_case(type_expr: str, letter_expr: str) -> str:
    """``BUILTIN.DF(t.status)`` as a plain SQL CASE over :data:`STATUS_TEXT` (SQLite evaluates it without calling
    back into Python, which matters when a result has tens of thousands of rows). Unknown letters stay letters."""
    whens = " ".join(
        f"WHEN '{trantype}:{letter}' THEN '{text.replace(chr(39), chr(39) * 2)}'"
        for trantype, texts in STATUS_TEXT.items()
        for letter, text in texts.items()
    )
    return f"(CASE {type_expr} || ':' || {letter_expr} {whens} ELSE {letter_expr} END)"


__all__ = ["SuiteQLEngine", "timedelta"]
