"""Reading SuiteQL results page by page: pages fetched concurrently, rows yielded in order, memory bounded."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from po_sync.exceptions import ConfigurationError

SUITEQL_ROW_CAP = 100_000
MAX_PAGE_SIZE = 1000

_ORDER_BY_RE = re.compile(r"\border\s+by\b", re.IGNORECASE)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class SuiteQLPage:
    """One SuiteQL response envelope."""

    items: list[dict[str, Any]]
    has_more: bool
    offset: int
    total_results: int


def require_order_by(query: str) -> None:
    """SuiteQL pages are consistent only under a unique ORDER BY; refuse queries without one."""
    if not _ORDER_BY_RE.search(query):
        raise ConfigurationError("SuiteQL queries read by pages need a unique ORDER BY (e.g. ORDER BY t.id)")


def iter_pages(
    fetch: Callable[[int, int], SuiteQLPage],
    *,
    page_size: int,
    row_cap: int,
    workers: int,
    on_first_page: Callable[[SuiteQLPage], None] | None = None,
) -> Iterator[SuiteQLPage]:
    """Yield the pages of one query in order, up to ``row_cap`` rows.

    The first page says how many rows there are; the other pages are then fetched ``workers`` at a time
    (the hook's limiter still caps what is in flight) and yielded in order, so memory holds at most about
    ``2 × workers`` pages whatever the result size.

    :param fetch: ``fetch(offset, limit)`` returning a page.
    :param page_size: rows per page (1–1000); offsets stay multiples of it.
    :param row_cap: the most rows NetSuite serves for one query (100,000).
    :param workers: pages fetched concurrently.
    :param on_first_page: called with the first page before anything is yielded.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigurationError("SuiteQL page size must be between 1 and 1000")
    first = fetch(0, page_size)
    if on_first_page:
        on_first_page(first)
    yield first
    if not first.has_more:
        return
    reachable = min(first.total_results, row_cap)
    offsets = iter(range(page_size, reachable, page_size))
    last: SuiteQLPage = first
    if workers <= 1:
        for offset in offsets:
            last = fetch(offset, page_size)
            yield last
            if not last.has_more:
                return
    else:
        with ThreadPoolExecutor(max_workers=workers * 2, thread_name_prefix="suiteql") as pool:
            pending: deque[Future[SuiteQLPage]] = deque()
            try:
                for offset in offsets:
                    pending.append(pool.submit(fetch, offset, page_size))
                    if len(pending) >= workers * 2:
                        last = pending.popleft().result()
                        yield last
                while pending:
                    last = pending.popleft().result()
                    yield last
            finally:
                for future in pending:
                    future.cancel()
    # rows added while reading: keep going sequentially while NetSuite says there is more
    offset = last.offset + len(last.items)
    while last.has_more and offset < row_cap and last.items:
        last = fetch(offset, page_size)
        yield last
        offset = last.offset + len(last.items)


def map_in_order(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int
) -> Iterator[tuple[T, R | BaseException]]:
    """Run ``fn`` over ``items`` on ``workers`` threads, yielding ``(item, result or exception)`` in order.

    At most ``2 × workers`` items are in flight, so an endless iterable streams.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="netsuite") as pool:
        pending: deque[tuple[T, Future[R]]] = deque()

        def drain_one() -> tuple[T, R | BaseException]:
            item, future = pending.popleft()
            try:
                return item, future.result()
            except Exception as exc:  # noqa: BLE001 - handed to the caller per item
                return item, exc

        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= workers * 2:
                yield drain_one()
        while pending:
            yield drain_one()
