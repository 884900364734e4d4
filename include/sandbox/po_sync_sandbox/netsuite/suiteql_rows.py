"""SuiteQL's row-limiting syntax in SQLite: ``FETCH FIRST n ROWS ONLY`` and the ``ROWNUM`` pseudocolumn.

SuiteQL is Oracle SQL, so clients limit rows the Oracle way:

* ``[OFFSET m ROWS] FETCH {FIRST|NEXT} n {ROW|ROWS} ONLY`` becomes SQLite's ``LIMIT n [OFFSET m]``.
* ``ROWNUM`` in a ``WHERE`` clause (``WHERE ... AND ROWNUM <= 10``) keeps Oracle's semantics: a row gets the
  next number only once it has passed every other condition of the clause, and only when the ROWNUM test
  accepts it (so ``ROWNUM > 1`` matches nothing); numbering happens before ``ORDER BY`` and grouping. The
  clause becomes ``CASE WHEN (<other conditions>) THEN ns_rownum_test(k, op, n) ELSE 0 END`` with a
  per-statement counter ``k`` kept by :class:`RownumCounters`.
* ``ROWNUM`` in a select list (``SELECT ROWNUM AS rn, ...``, the usual paging-by-subquery pattern) becomes
  ``ROW_NUMBER() OVER ()``: the rows' positions in the order the block produces them, before its ``ORDER BY``.

Either way the result is an ordinary result set, so the REST ``limit``/``offset`` parameters page over it
(a query with ``FETCH FIRST 25 ROWS ONLY`` has ``totalResults`` 25, whatever ``limit`` is).
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Callable

_MASK_RE = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"")
_OFFSET_FETCH_RE = re.compile(
    r"\bOFFSET\s+(\d+)\s+ROWS?\s+FETCH\s+(?:FIRST|NEXT)\s+(\d+)\s+ROWS?\s+ONLY\b", re.IGNORECASE
)
_FETCH_RE = re.compile(r"\bFETCH\s+(?:FIRST|NEXT)\s+(?:(\d+)\s+)?ROWS?\s+ONLY\b", re.IGNORECASE)
_OFFSET_RE = re.compile(r"\bOFFSET\s+(\d+)\s+ROWS?\b", re.IGNORECASE)
_ROWNUM_RE = re.compile(r"\bROWNUM\b", re.IGNORECASE)
_KEYWORD_RE = re.compile(
    r"\b(SELECT|FROM|WHERE|GROUP\s+BY|HAVING|ORDER\s+BY|LIMIT|UNION|INTERSECT|EXCEPT|MINUS|WINDOW)\b",
    re.IGNORECASE,
)
_COMPARE_AFTER = re.compile(r"\bROWNUM\s*(<=|<|=|>=|>|<>|!=)\s*(\d+)", re.IGNORECASE)
_COMPARE_BEFORE = re.compile(r"(\d+)\s*(>=|>|=|<=|<|<>|!=)\s*ROWNUM\b", re.IGNORECASE)
_FLIP = {"<=": ">=", "<": ">", ">=": "<=", ">": "<", "=": "=", "<>": "<>", "!=": "<>"}
_OPS: dict[str, Callable[[int, int], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
    "<>": operator.ne,
    "!=": operator.ne,
}


class RownumCounters:
    """The per-statement counters behind ``ns_rownum_test`` (reset before every statement runs)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        """Start numbering again (a new statement)."""
        self._local.counts = {}

    def test(self, key: int, op: str, bound: int) -> int:
        """Would the next row of counter ``key`` pass ``ROWNUM <op> bound``? If so it takes that number."""
        counts: dict[int, int] = getattr(self._local, "counts", None) or {}
        self._local.counts = counts
        candidate = counts.get(key, 0) + 1
        if _OPS[op](candidate, int(bound)):
            counts[key] = candidate
            return 1
        return 0


def _mask(sql: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def keep(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"\x00{len(saved) - 1}\x00"

    return _MASK_RE.sub(keep, sql), saved


def _unmask(sql: str, saved: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], sql)


def _fetch_to_limit(sql: str) -> str:
    sql = _OFFSET_FETCH_RE.sub(lambda m: f"LIMIT {m.group(2)} OFFSET {m.group(1)}", sql)
    sql = _FETCH_RE.sub(lambda m: f"LIMIT {m.group(1) or 1}", sql)
    return _OFFSET_RE.sub(lambda m: f"LIMIT -1 OFFSET {m.group(1)}", sql)


def _depths(sql: str) -> list[int]:
    depth = 0
    out = []
    for char in sql:
        if char == "(":
            depth += 1
        out.append(depth)
        if char == ")":
            depth -= 1
    return out


def _block(sql: str, depths: list[int], at: int) -> tuple[int, int, int]:
    """The innermost SELECT block holding position ``at``: (start, end, depth)."""
    best = (0, len(sql), 0)
    for match in re.finditer(r"\bSELECT\b", sql, re.IGNORECASE):
        start = match.start()
        if start > at:
            break
        level = depths[start]
        if min(depths[start : at + 1]) >= level and (start >= best[0]):
            end = next((i for i in range(at, len(sql)) if depths[i] < level), len(sql))
            best = (start, end, level)
    return best


def _clauses(sql: str, depths: list[int], start: int, end: int, level: int) -> list[tuple[int, int, str]]:
    """Top-level clause keywords of a block: (keyword start, keyword end, keyword)."""
    out = []
    for match in _KEYWORD_RE.finditer(sql, start, end):
        if depths[match.start()] == level:
            out.append((match.start(), match.end(), re.sub(r"\s+", " ", match.group(1).upper())))
    return out


def rewrite_row_limits(sql: str) -> str:
    """Translate ``FETCH FIRST`` / ``OFFSET ... ROWS`` and ``ROWNUM`` (see the module docstring).

    :raises ValueError: a ``ROWNUM`` use the sandbox does not translate (the caller reports it as SuiteQL's
        ``INVALID_PARAMETER``).
    """
    masked, saved = _mask(sql)
    masked = _fetch_to_limit(masked)
    counter = 0
    while True:
        found = _ROWNUM_RE.search(masked)
        if found is None:
            break
        depths = _depths(masked)
        start, end, level = _block(masked, depths, found.start())
        clauses = _clauses(masked, depths, start, end, level)
        before = [c for c in clauses if c[0] <= found.start()]
        clause = before[-1][2] if before else "SELECT"
        if clause == "SELECT":
            following = masked[found.end() :].lstrip()
            alias = (
                ""
                if re.match(r"(AS\b|[A-Za-z_]\w*)", following, re.IGNORECASE)
                and not re.match(r"FROM\b", following, re.IGNORECASE)
                else ' AS "rownum"'
            )
            masked = masked[: found.start()] + "(ROW_NUMBER() OVER ())" + alias + masked[found.end() :]
        elif clause == "WHERE":
            where_end = next((c[0] for c in clauses if c[0] > found.start()), end)
            where_start = before[-1][1]
            condition = masked[where_start:where_end]
            offset = found.start() - where_start
            match = _COMPARE_AFTER.match(condition, offset)
            if match:
                op, bound = match.group(1), match.group(2)
                span = match.span()
            else:
                match = next(
                    (m for m in _COMPARE_BEFORE.finditer(condition) if m.end() == found.end() - where_start),
                    None,
                )
                if match is None:
                    raise ValueError("ROWNUM can only be compared with a number")
                op, bound = _FLIP[match.group(2)], match.group(1)
                span = match.span()
            rest = condition[: span[0]] + "1" + condition[span[1] :]
            replaced = (
                f" CASE WHEN ({rest.strip()}) THEN ns_rownum_test({counter}, '{op}', {bound}) ELSE 0 END "
            )
            counter += 1
            masked = masked[:where_start] + replaced + masked[where_end:]
        else:
            raise ValueError(f"ROWNUM is not supported in {clause}")
        masked, more = _mask(_unmask(masked, saved))
        saved = more
    return _unmask(masked, saved)
