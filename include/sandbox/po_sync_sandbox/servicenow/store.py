"""The instance's records and ServiceNow's encoded queries over them (with dot-walking).

Every value is kept as a string, as the Table API returns them. ``sys_id`` values are deterministic
(uuid5 of the table and a counter) and timestamps come from an injectable clock, so runs repeat.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from po_sync_sandbox.servicenow.schema import TABLES, TableDef

SYS_ID_NAMESPACE = uuid.UUID("3c1f7f43-8a55-4f0c-9c7e-5a4d4f2b9e10")
SYS_FIELDS = (
    "sys_id",
    "sys_created_on",
    "sys_updated_on",
    "sys_created_by",
    "sys_updated_by",
    "sys_mod_count",
)


class QueryError(ValueError):
    """An encoded query term this instance cannot read (ignored unless the knob says no rows)."""


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def as_text(value: Any) -> str:
    """A value as the Table API stores it: strings, ``true``/``false``, ``""`` for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- encoded queries ----------------------------------------------------------------------------

# operators in the order a term is tried: longest first, so "!=" is not read as "=" nor "NOT IN" as "IN"
OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "NOT LIKE",
    "NOT IN",
    "STARTSWITH",
    "ENDSWITH",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
)
_TERM = re.compile(r"^([A-Za-z0-9_.]+?)(" + "|".join(re.escape(op) for op in OPERATORS) + r")(.*)$", re.S)


@dataclass(frozen=True)
class Term:
    """``field OP value``; ``field`` may dot-walk through references (``purchase_order.status``)."""

    field: str
    op: str
    value: str


@dataclass
class Query:
    """A parsed encoded query: OR-queries (``^NQ``) of AND-groups of OR-alternatives, plus the order."""

    disjuncts: list[list[list[Term]]]
    order: list[tuple[str, bool]]  # (field, descending)
    invalid: list[str]

    def fields(self) -> set[str]:
        """Every field path the query names (conditions and order)."""
        names = {t.field for groups in self.disjuncts for group in groups for t in group}
        return names | {f for f, _ in self.order}


def _parse_term(token: str) -> Term:
    match = _TERM.match(token)
    if match is None or (match.group(2) in ("ISEMPTY", "ISNOTEMPTY") and match.group(3)):
        raise QueryError(token)
    return Term(match.group(1), match.group(2), match.group(3))


def parse_query(text: str) -> Query:
    """Parse ``sysparm_query``: ``^`` AND, ``^OR`` OR (binds tighter than AND), ``^NQ`` new query,
    ``ORDERBYx`` / ``ORDERBYDESCx``. Unreadable terms are listed in ``invalid``."""
    disjuncts: list[list[list[Term]]] = []
    order: list[tuple[str, bool]] = []
    invalid: list[str] = []
    for part in text.split("^NQ") if text else []:
        groups: list[list[Term]] = []
        for token in part.split("^"):
            if not token or token == "EQ":
                continue
            if token.startswith("ORDERBYDESC"):
                order.append((token[len("ORDERBYDESC") :], True))
                continue
            if token.startswith("ORDERBY"):
                order.append((token[len("ORDERBY") :], False))
                continue
            alternative = token.startswith("OR") and groups
            try:
                term = _parse_term(token[2:] if alternative else token)
            except QueryError:
                invalid.append(token)
                continue
            if alternative:
                groups[-1].append(term)
            else:
                groups.append([term])
        disjuncts.append(groups)
    return Query(disjuncts, order, invalid)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(left: str, op: str, right: str) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "ISEMPTY":
        return left == ""
    if op == "ISNOTEMPTY":
        return left != ""
    if op == "IN":
        return left in right.split(",")
    if op == "NOT IN":
        return left not in right.split(",")
    if op == "LIKE":
        return right.lower() in left.lower()
    if op == "NOT LIKE":
        return right.lower() not in left.lower()
    if op == "STARTSWITH":
        return left.lower().startswith(right.lower())
    if op == "ENDSWITH":
        return left.lower().endswith(right.lower())
    a, b = _number(left), _number(right)
    pair: tuple[Any, Any] = (a, b) if a is not None and b is not None else (left, right)
    if op == ">":
        return bool(pair[0] > pair[1])
    if op == ">=":
        return bool(pair[0] >= pair[1])
    if op == "<":
        return bool(pair[0] < pair[1])
    return bool(pair[0] <= pair[1])


class Store:
    """Tables of records (``{table: {sys_id: {field: str}}}``), thread-safe.

    :param clock: returns ``YYYY-MM-DD HH:MM:SS`` (UTC) for ``sys_created_on`` / ``sys_updated_on``.
    """

    def __init__(self, clock: Callable[[], str] = now_text) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.tables: dict[str, dict[str, dict[str, str]]] = {name: {} for name in TABLES}
        self._counter = 0
        self._numbers: dict[str, int] = {}

    # -- definitions ------------------------------------------------------------------------------

    def table(self, name: str) -> dict[str, dict[str, str]]:
        """A table's rows; ``KeyError`` when the instance has no such table."""
        return self.tables[name]

    @staticmethod
    def definition(name: str) -> TableDef:
        return TABLES.get(name) or TableDef(name)

    def has_field(self, table: str, field_name: str) -> bool:
        """Whether any row of ``table`` has the column (or it is a system / reference column)."""
        if field_name in SYS_FIELDS or field_name in self.definition(table).references:
            return True
        rows = self.tables.get(table, {})
        return any(field_name in row for row in rows.values()) or not rows

    # -- writes -----------------------------------------------------------------------------------

    def new_sys_id(self, table: str) -> str:
        with self.lock:
            self._counter += 1
            return uuid.uuid5(SYS_ID_NAMESPACE, f"{table}:{self._counter}").hex

    def insert(self, table: str, values: dict[str, Any], *, user: str = "admin") -> dict[str, str]:
        """Insert a row; unknown tables raise ``KeyError``. ``number`` is filled for numbered tables."""
        with self.lock:
            rows = self.tables[table]
            sys_id = as_text(values.get("sys_id")) or self.new_sys_id(table)
            stamp = self.clock()
            row = {k: as_text(v) for k, v in values.items()}
            row.update(
                sys_id=sys_id,
                sys_created_on=stamp,
                sys_updated_on=stamp,
                sys_created_by=user,
                sys_updated_by=user,
                sys_mod_count="0",
            )
            prefix = self.definition(table).number_prefix
            if prefix and not row.get("number"):
                self._numbers[table] = self._numbers.get(table, 1000) + 1
                row["number"] = f"{prefix}{self._numbers[table]:07d}"
            rows[sys_id] = row
            return dict(row)

    def update(
        self, table: str, sys_id: str, values: dict[str, Any], *, user: str = "admin"
    ) -> dict[str, str]:
        """Set fields on a row; ``KeyError`` when it does not exist."""
        with self.lock:
            row = self.tables[table][sys_id]
            changed = {k: as_text(v) for k, v in values.items() if k not in SYS_FIELDS}
            row.update(changed)
            row["sys_updated_on"] = self.clock()
            row["sys_updated_by"] = user
            row["sys_mod_count"] = str(int(row.get("sys_mod_count", "0")) + 1)
            return dict(row)

    def delete(self, table: str, sys_id: str) -> None:
        with self.lock:
            del self.tables[table][sys_id]

    # -- reads ------------------------------------------------------------------------------------

    def get(self, table: str, sys_id: str) -> dict[str, str] | None:
        with self.lock:
            row = self.tables[table].get(sys_id)
            return dict(row) if row is not None else None

    def value(self, table: str, row: dict[str, str], path: str) -> str:
        """A field's value, dot-walking through references (``purchase_order.status``)."""
        head, _, rest = path.partition(".")
        value = row.get(head, "")
        if not rest:
            return value
        target = self.definition(table).references.get(head)
        if not target or not value:
            return ""
        referenced = self.tables.get(target, {}).get(value)
        return self.value(target, referenced, rest) if referenced is not None else ""

    def display(self, table: str, row: dict[str, str], path: str) -> str:
        """The display value of a field: the referenced record's display field, a choice's label."""
        head, _, rest = path.partition(".")
        definition = self.definition(table)
        if rest:
            target = definition.references.get(head)
            referenced = self.tables.get(target or "", {}).get(row.get(head, ""))
            return self.display(target or "", referenced, rest) if referenced is not None else ""
        value = row.get(head, "")
        target = definition.references.get(head)
        if target and value:
            referenced = self.tables.get(target, {}).get(value)
            return referenced.get(self.definition(target).display, "") if referenced else ""
        return definition.choices.get(head, {}).get(value, value)

    def matches(self, table: str, row: dict[str, str], query: Query) -> bool:
        if not query.disjuncts:
            return True
        for groups in query.disjuncts:
            if all(
                any(_compare(self.value(table, row, t.field), t.op, t.value) for t in group)
                for group in groups
            ):
                return True
        return False

    def select(self, table: str, query: Query) -> list[dict[str, str]]:
        """Matching rows (copies), ordered as the query says, else by creation then ``sys_id``."""
        with self.lock:
            rows = [dict(r) for r in self.tables[table].values() if self.matches(table, r, query)]
        rows.sort(key=lambda r: (r.get("sys_created_on", ""), r["sys_id"]))
        for field_name, descending in reversed(query.order):
            rows.sort(key=lambda r, f=field_name: _sort_key(self.value(table, r, f)), reverse=descending)
        return rows

    def rows(self, table: str, **equal: str) -> list[dict[str, str]]:
        """Rows whose fields equal the given values (tests and actors)."""
        with self.lock:
            return [
                dict(r)
                for r in self.tables[table].values()
                if all(r.get(k, "") == as_text(v) for k, v in equal.items())
            ]

    def bulk(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, str]]:
        """Insert many ``(table, values)`` at once (the actor)."""
        with self.lock:
            return [self.insert(table, values) for table, values in items]


def _sort_key(value: str) -> tuple[int, float, str]:
    number = _number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)
