"""One parser for the document numbers a trigger names (``resync_po_numbers`` and the like)."""

from __future__ import annotations

import pytest

from po_sync.exceptions import ConfigurationError
from po_sync.netsuite.mapping import SAFE_IDENTIFIER_RULE, document_numbers_param


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ("None", []),
        ("PO000001, PO000002  PO000003", ["PO000001", "PO000002", "PO000003"]),
        ('["PO000001", "17"]', ["PO000001", "17"]),
        (["PO000001", 17], ["PO000001", "17"]),
        # white space around a number is a separator, never part of what reaches a query
        ("PO1\n", ["PO1"]),
        ([" PO1\n"], ["PO1"]),
    ],
)
def test_accepted_shapes_give_the_numbers(value, expected):
    assert document_numbers_param(value, param="resync_po_numbers") == expected


@pytest.mark.parametrize(
    "value",
    ["PO#000002", ["PO 1"], "a'b", ["x" * 41], '["PO1",', {"PO1": 1}, [True], [None], 7],
)
def test_anything_else_is_a_configuration_error_naming_the_param(value):
    with pytest.raises(ConfigurationError, match="resync_po_numbers"):
        document_numbers_param(value, param="resync_po_numbers")


def test_the_suiteql_literal_rule_is_wider_and_says_so():
    assert document_numbers_param("PO/1.2", param="p", rule=SAFE_IDENTIFIER_RULE) == ["PO/1.2"]
    with pytest.raises(ConfigurationError, match="letters, digits, spaces"):
        document_numbers_param(["PO;1"], param="p", rule=SAFE_IDENTIFIER_RULE)
