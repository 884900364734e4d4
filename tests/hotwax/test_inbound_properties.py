"""Property tests (hypothesis): any HotWax receipt feed, and any resync conf, gives clean orders whose
ids are safe in a NetSuite URL, a per-order problem, or a refused file - never an unhandled exception
(issue 10, item 5)."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from po_sync.exceptions import ConfigurationError
from po_sync.hotwax.formats import ReceiptFeedError, parse_receipt_feed
from po_sync.hotwax.mapping import receipt_external_id

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URL_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")

NASTY = [
    "1",
    "12",
    "PO1\n",
    "PO#2",
    "../1",
    "1/2",
    "1 OR 1=1",
    "",
    " 3",
    "1e3",
    "-1",
    "９",
    "1" * 30,
    None,
    7,
    2.5,
]
value = st.one_of(st.sampled_from(NASTY), st.text(max_size=12), st.integers(), st.booleans(), st.none())


@st.composite
def feeds(draw: st.DrawFn) -> object:
    orders = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        items = [
            {"line_id": draw(value), "quantity": draw(st.one_of(value, st.sampled_from(["1", "2", 3])))}
            for _ in range(draw(st.integers(min_value=0, max_value=3)))
        ]
        order: dict[str, object] = {"order_id": draw(value), "items": items}
        if draw(st.booleans()):
            order[draw(st.text(max_size=5))] = draw(value)
        orders.append(order)
    return draw(st.sampled_from([orders, {"orders": orders}, orders[:1], "x", None]))


def _check(data: bytes) -> None:
    try:
        feed = parse_receipt_feed(data, max_bytes=65_536)
    except ReceiptFeedError as exc:  # the whole file goes to error/ with this message
        assert str(exc)
        return
    for problem in feed.problems:  # per-order quarantine, with a message
        assert problem.message
    for order in feed.orders:  # clean orders: ids go into URL paths as they are
        assert order.order_id.isdigit() and order.order_id.isascii(), order.order_id
        assert all(line.line_id.isascii() and line.line_id.isdigit() for line in order.lines)
        assert URL_SAFE.match(receipt_external_id("f.json", "ab" * 32, order.order_id))


@PROPERTY
@given(feed=feeds())
def test_generated_receipt_feeds_are_clean_or_quarantined(feed: object) -> None:
    _check(json.dumps(feed).encode())


@PROPERTY
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_a_refused_file(data: bytes) -> None:
    _check(data)


@PROPERTY
@given(
    value=st.one_of(
        st.text(max_size=30), st.lists(st.one_of(st.sampled_from(NASTY[:12]), st.text(max_size=8)))
    )
)
@example(value=["PO1\n"])  # `$` matched before a trailing newline: the check passed it into the query
def test_resync_conf_is_a_safe_query_or_a_configuration_error(value: object) -> None:
    from po_sync.hotwax.operators import HotWaxPurchaseOrderExportOperator

    op = HotWaxPurchaseOrderExportOperator(task_id="export", resync_po_numbers=value)  # type: ignore[arg-type]
    try:
        resync = op._resync()
    except ConfigurationError as exc:
        assert "resync_po_numbers" in str(exc)
        return
    query = op.query(resync)
    for number in resync:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", number), number
        assert f"'{number}'" in query
