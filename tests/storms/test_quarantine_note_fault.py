"""S3 fails exactly the PUT of a quarantine note (the proxy cuts that one request on every try):
the bad document or file must stay where it is, never kept without its note (DESIGN.md rule 4), and
the next quiet run writes the note and moves it.

Found by the vendor import storm: the operator logged "note ... not written", moved the document to
quarantine/ anyway, and no later run ever saw it again, so its note was lost for good.
"""

from __future__ import annotations

import pytest

from tests.faults.matrix import check
from tests.faults.test_matrix_vendors import VendorImport, VendorMerge

pytestmark = [pytest.mark.e2e, pytest.mark.storm]


@pytest.mark.parametrize("scenario", [VendorImport, VendorMerge], ids=lambda s: s.flow)
def test_a_failed_quarantine_note_leaves_the_input_in_place(
    scenario, dagbag, ledger_conn, world, netsuite, storm
) -> None:
    built = scenario(dagbag, ledger_conn, world, netsuite)
    built.prepare()
    if scenario is VendorImport:
        bucket, inbox, bad = world.config["merge_bucket"], "ready/item_receipt/", "BAD-1.json"
    else:
        bucket, inbox, bad = built.actor.bucket, f"{built.actor.prefix}inbound/", built.bad
    s = storm()
    proxy = s.proxy("AIRFLOW_CONN_AWS_DEFAULT", 0.0)
    proxy.cut_pattern = f"{bad}.error.txt".encode()
    run = built.run(retries=0)
    assert proxy.cuts > 0, "the note's PUT never went through the proxy"
    assert run.state in ("success", "failed"), run.state
    kept = [k for k in world.keys(bucket) if "quarantine/" in k]
    assert not kept, f"kept without its note: {kept}"
    assert f"{inbox}{bad}" in world.keys(bucket, inbox), f"{bad} left {inbox} without being kept"
    proxy.cut_pattern = None
    assert built.run(retries=0).state == "success"
    check(built.measure(), f"quarantine note:{built.flow}", "rerun")
