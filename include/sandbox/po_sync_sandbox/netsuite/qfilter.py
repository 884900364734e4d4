"""The ``q`` parameter of record collections: ``<field> <OPERATOR> <value>`` joined by AND / OR with ( ).

Dates are read in the account's date format (a knob), as N/query does; a date in another format gives
NetSuite's 400 ``INVALID_PARAMETER`` "... failed with date format ...".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from po_sync_sandbox.netsuite.nserrors import NsError, invalid_parameter

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(\[[^\]]*\])|([^\s()]+))')
_NUMBER_OPS = {"EQUAL", "GREATER", "GREATER_OR_EQUAL", "LESS", "LESS_OR_EQUAL", "BETWEEN", "ANY_OF", "WITHIN"}
_STRING_OPS = {"IS", "CONTAIN", "START_WITH", "END_WITH"}
_DATE_OPS = {"AFTER", "BEFORE", "ON", "ON_OR_AFTER", "ON_OR_BEFORE"}
_NO_VALUE = {"EMPTY"}
ALL_OPS = {op for base in (_NUMBER_OPS | _STRING_OPS | _DATE_OPS | _NO_VALUE) for op in (base, f"{base}_NOT")}


def _java_pattern(fmt: str) -> str:
    return fmt.replace("YYYY", "yyyy").replace("DD", "d").replace("MM", "M").replace("D", "d")


def _strptime_pattern(fmt: str) -> str:
    out = fmt.upper().replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d")
    return out.replace("M", "%m").replace("D", "%d").replace("%%", "%")


def parse_q(q: str, date_format: str) -> Predicate:
    """Compile a ``q`` expression into a predicate over stored documents.

    :raises NsError: 400 ``INVALID_PARAMETER`` for syntax or date-format errors.
    """
    tokens = [
        next(g for g in m.groups() if g is not None) for m in _TOKEN_RE.finditer(q) if m.group(0).strip()
    ]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise _syntax(q)
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while (peek() or "").upper() == "OR":
            take()
            right = term()
            left = (lambda a, b: lambda d: a(d) or b(d))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while (peek() or "").upper() == "AND":
            take()
            right = factor()
            left = (lambda a, b: lambda d: a(d) and b(d))(left, right)
        return left

    def factor() -> Predicate:
        if peek() == "(":
            take()
            inner = expr()
            if take() != ")":
                raise _syntax(q)
            return inner
        field = take()
        op = take().upper()
        if op not in ALL_OPS:
            raise _syntax(q)
        base = op.removesuffix("_NOT")
        values: list[str] = []
        if base not in _NO_VALUE:
            raw = take()
            if raw.startswith("["):
                values = [v.strip().strip('"') for v in raw[1:-1].split(",") if v.strip()]
            else:
                values = [raw[1:-1] if raw.startswith('"') else raw]
        check = _condition(field, base, values, date_format, q)
        return (lambda c: lambda d: not c(d))(check) if op.endswith("_NOT") else check

    predicate = expr()
    if pos != len(tokens):
        raise _syntax(q)
    return predicate


def _syntax(q: str) -> NsError:
    return invalid_parameter(f"Invalid query parameter value 'q': {q}", "q")


def _field_value(doc: dict[str, Any], field: str) -> Any:
    lowered = field.lower()
    for key, value in doc.items():
        if key.lower() == lowered:
            if isinstance(value, dict) and "id" in value:
                return value["id"]
            return value
    if lowered == "status":
        return doc.get("_status")
    return None


def _condition(field: str, op: str, values: list[str], date_format: str, q: str) -> Predicate:
    if "." in field:
        raise NsError(
            400,
            "NONEXISTENT_FIELD",
            f"Field '{field}' cannot be used in a filter: only body fields can be filtered.",
            query_param="q",
        )
    if op == "EMPTY":
        return lambda d: _field_value(d, field) in (None, "", [])
    if op in _DATE_OPS:
        pattern = _strptime_pattern(date_format)
        try:
            wanted = datetime.strptime(values[0], pattern).date()
        except ValueError:
            raise invalid_parameter(
                f'Parse of date/time "{values[0]}" failed with date format "{_java_pattern(date_format)}" in time zone America/Los_Angeles',
                "q",
            ) from None

        def as_date(d: dict[str, Any]) -> date | None:
            value = _field_value(d, field)
            if not value:
                return None
            return datetime.strptime(str(value)[:10], "%Y-%m-%d").date()

        compare = {
            "AFTER": lambda v: v > wanted,
            "BEFORE": lambda v: v < wanted,
            "ON": lambda v: v == wanted,
            "ON_OR_AFTER": lambda v: v >= wanted,
            "ON_OR_BEFORE": lambda v: v <= wanted,
        }[op]
        return lambda d: (v := as_date(d)) is not None and compare(v)
    if op in _STRING_OPS:
        wanted_text = values[0].lower()
        match = {
            "IS": lambda v: v == wanted_text,
            "CONTAIN": lambda v: wanted_text in v,
            "START_WITH": lambda v: v.startswith(wanted_text),
            "END_WITH": lambda v: v.endswith(wanted_text),
        }[op]
        return lambda d: (v := _field_value(d, field)) is not None and match(str(v).lower())
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise _syntax(q) from None

    def num(d: dict[str, Any]) -> float | None:
        value = _field_value(d, field)
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    tests: dict[str, Callable[[float], bool]] = {
        "EQUAL": lambda v: v == numbers[0],
        "GREATER": lambda v: v > numbers[0],
        "GREATER_OR_EQUAL": lambda v: v >= numbers[0],
        "LESS": lambda v: v < numbers[0],
        "LESS_OR_EQUAL": lambda v: v <= numbers[0],
        "ANY_OF": lambda v: v in numbers,
        "BETWEEN": lambda v: numbers[0] <= v <= numbers[-1],
        "WITHIN": lambda v: numbers[0] <= v <= numbers[-1],
    }
    test = tests[op]
    return lambda d: (v := num(d)) is not None and test(v)
