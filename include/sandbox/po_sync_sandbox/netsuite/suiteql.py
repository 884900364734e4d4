"""SuiteQL executed by SQLite: the NetSuite dialect rewritten minimally, results shaped like NetSuite's.

Rewrites: ``transaction`` quoted (an SQLite keyword), ``BUILTIN.DF(x)`` → display names,
``BUILTIN.CF(t.status)`` → ``'PurchOrd:B'``, ``SYSDATE``; Oracle functions (``TO_DATE``, ``TO_TIMESTAMP``,
``TO_CHAR``, ``NVL``, ``TRUNC``, ``ADD_MONTHS``) are SQLite functions. Only reads of the SuiteQL tables are
authorised. SQLite's errors become NetSuite's ``INVALID_PARAMETER`` bodies.
"""

from __future__ import annotations

import re
import sqlite3
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from po_sync_sandbox.netsuite.nserrors import NsError, invalid_parameter
from po_sync_sandbox.netsuite.schema import ENTITY, ITEM, LOCATION, STATUS_TEXT, SUITEQL_TABLES, TRANSACTION
from po_sync_sandbox.netsuite.store import Store

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


class SuiteQLEngine:
    """Runs SuiteQL over a :class:`Store`'s tables.

    :param store: the sandbox data.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._results: OrderedDict[tuple[str, int], tuple[int, list[str], list[tuple[Any, ...]]]] = (
            OrderedDict()
        )
        db = store.db
        db.create_function("ns_df", 2, self._df)
        db.create_function("ns_df_status", 2, self._df_status)
        db.create_function("to_date", 1, _to_date)
        db.create_function("to_date", 2, _to_date)
        db.create_function("to_timestamp", 1, _to_timestamp)
        db.create_function("to_timestamp", 2, _to_timestamp)
        db.create_function("to_char", 1, _to_char)
        db.create_function("to_char", 2, _to_char)
        db.create_function("nvl", 2, lambda a, b: b if a is None else a)
        db.create_function("trunc", 1, _trunc)
        db.create_function("trunc", 2, _trunc)
        db.create_function("add_months", 2, _add_months)
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
    def _df_status(trantype: str | None, letter: str | None) -> str | None:
        if letter is None:
            return None
        return STATUS_TEXT.get(trantype or "", {}).get(letter, letter)

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
                    return f"ns_df_status({alias}type, {expr})"
                return f"ns_df('{column}', {expr})"

            def cf(match: re.Match[str]) -> str:
                alias = f"{match.group(1)}." if match.group(1) else ""
                return f"({alias}type || ':' || {alias}status)"

            part = _DF_RE.sub(df, part)
            part = _CF_RE.sub(cf, part)
            part = _SYSDATE_RE.sub("ns_sysdate()", part)
            part = _TRANSACTION_RE.sub('"transaction"', part)
            out.append(part)
        return "".join(out)

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
        self, query: str, *, limit: int, offset: int, cap: int = 100_000
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a query and the total row count.

        :raises NsError: 400 ``INVALID_PARAMETER`` (``o:errorQueryParam: q``) for bad queries.
        """
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
        sql = self.rewrite(query)
        store = self.store
        with store.lock:
            key = (sql, store.version)
            cached = self._results.get(key)
            if cached is None:
                store.db.set_authorizer(self._authorizer)
                try:
                    total = int(store.db.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0])
                    # the reachable rows (at most the cap) are materialised once per query and data version,
                    # so the pages of one query are consistent slices, as a paged NetSuite result is
                    cur = store.db.execute(f"SELECT * FROM ({sql}) LIMIT ?", (max(cap, 1),))
                    columns = [d[0].lower() for d in cur.description or ()]
                    cached = (total, columns, cur.fetchall())
                except sqlite3.Error as exc:
                    raise self._error(exc) from None
                finally:
                    store.db.set_authorizer(None)
                self._results[key] = cached
                while len(self._results) > 4:
                    self._results.popitem(last=False)
            else:
                self._results.move_to_end(key)
        total, columns, rows = cached
        return [dict(zip(columns, row, strict=True)) for row in rows[offset : offset + limit]], total

    def page_items(
        self, query: str, *, limit: int, offset: int, cap: int, date_style: str, omit_nulls: bool
    ) -> tuple[list[dict[str, Any]], int]:
        """One page already shaped as NetSuite's ``items`` (``links: []``, string values, NULLs left out)."""
        rows, total = self.execute(query, limit=limit, offset=offset, cap=cap)
        if not rows:
            return [], total
        plain = [c for c in rows[0] if c not in DATE_COLUMNS or date_style != "account"]
        dated = [c for c in rows[0] if c in DATE_COLUMNS and date_style == "account"]
        items = []
        for row in rows:
            item: dict[str, Any] = {"links": []}
            for column in plain:
                value = row[column]
                if value is None:
                    if not omit_nulls:
                        item[column] = None
                elif type(value) is float:
                    item[column] = str(int(value)) if value.is_integer() else repr(value)
                else:
                    item[column] = str(value)
            for column in dated:
                value = row[column]
                if value is not None:
                    item[column] = format_value(column, value, date_style)
                elif not omit_nulls:
                    item[column] = None
            items.append(item)
        return items, total

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


def format_value(column: str, value: Any, date_style: str) -> str:
    """NetSuite sends every SuiteQL value as a string; DATE columns in the account's format."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    if date_style == "account" and column in DATE_COLUMNS:
        for pattern, with_time in (("%Y-%m-%d", False), ("%Y-%m-%d %H:%M:%S", True)):
            try:
                parsed = datetime.strptime(text, pattern)
            except ValueError:
                continue
            out = f"{parsed.month}/{parsed.day}/{parsed.year}"
            if with_time:
                hour = parsed.hour % 12 or 12
                out += f" {hour}:{parsed.minute:02d} {'am' if parsed.hour < 12 else 'pm'}"
            return out
    return text


__all__ = ["SuiteQLEngine", "format_value", "timedelta"]
