"""Issue 16: a pattern ending in ``$`` applied with ``re.match`` accepted a trailing newline."""

from __future__ import annotations

import pytest

from po_sync.exceptions import RecordValidationError
from po_sync.servicenow.mapping import plan_purchase_order
from tests.servicenow.test_mapping import HEADER, MAPS, SETTINGS, line


@pytest.mark.parametrize("number", ["PO0001\n", "PO0001\r\n"])
def test_a_po_number_with_a_trailing_newline_is_not_an_external_id(number):
    header = {**HEADER, "purchase_order_number": number, "order_type": "blanket"}
    with pytest.raises(RecordValidationError) as caught:
        plan_purchase_order(header, [line(1)], MAPS, SETTINGS)
    assert caught.value.code == "BAD_PO_NUMBER"
