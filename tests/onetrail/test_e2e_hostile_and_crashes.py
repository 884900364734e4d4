"""The "Done when" gaps, end to end: hostile and oversize despatch files through the streaming
despatch path (quarantined with a note, the run goes on), and a crash after a NACK's NetSuite
update then a rerun (the PO fails once, the NACK file is archived once)."""

from __future__ import annotations

import hashlib

import pytest

from tests.onetrail.conftest import flagged_pos, run_dag, task_states
from tests.onetrail.test_e2e_despatch import GROUP, receipts_of, setup_orders
from tests.onetrail.test_e2e_submit import record

pytestmark = pytest.mark.timeout(400)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><Pip3B2AdvanceShipmentNotification>&lol9;</Pip3B2AdvanceShipmentNotification>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<Pip3B2AdvanceShipmentNotification>&e;</Pip3B2AdvanceShipmentNotification>"
)
DEEP = (
    b"<Pip3B2AdvanceShipmentNotification>"
    + b"<a>" * 20_000
    + b"</a>" * 20_000
    + b"</Pip3B2AdvanceShipmentNotification>"
)


def test_hostile_and_oversize_despatch_files_are_quarantined_and_the_rest_received(
    dagbag, ledger_conn, onetrail_sandbox, hub, store
):
    from po_sync.ledger import RecordKey
    from po_sync_sandbox.onetrail.world import settings_for_sandbox

    pos, drop_id, _ = setup_orders(dagbag, hub, store)
    po = next(p for p in pos.values() if p["id"] != drop_id)
    good = hub.ship(po["tranid"])
    inbox = good.parent
    limit = int(settings_for_sandbox().get("max_file_bytes", 5_000_000))
    bad = {
        "laughs.xml": (BILLION_LAUGHS, "HOSTILE_XML", "DTD"),
        "xxe.xml": (EXTERNAL_ENTITY, "HOSTILE_XML", "DTD"),
        "deep.xml": (DEEP, "HOSTILE_XML", "levels deep"),
        "huge.xml": (b"<a>" + b" " * limit + b"</a>", "FILE_TOO_LARGE", "byte limit; not read"),
    }
    for name, (data, _, _) in bad.items():
        (inbox / name).write_bytes(data)
    run = run_dag(dagbag, "onetrail_inbound")
    assert task_states(run)[GROUP] == "success"  # never a crashed run
    assert len(receipts_of(store, po["id"])) == 1 and not good.exists()
    assert (inbox / "archive" / good.name).exists()
    for name, (data, code, note) in bad.items():
        assert not (inbox / name).exists()
        assert (inbox / "error" / name).read_bytes() == data
        assert note in (inbox / "error" / f"{name}.error.txt").read_text(), name
        source = (
            f"{name}@{hashlib.sha256(data).hexdigest()}"
            if code != "FILE_TOO_LARGE"
            else f"{name}@size-{len(data)}"
        )
        state = ledger_conn.get(RecordKey("onetrail_inbound", "despatch_advice_file", "onetrail", source))
        assert state is not None and str(state.status) == "quarantined" and state.last_error_code == code, (
            name
        )


def test_crash_after_the_nack_update_then_rerun_fails_the_po_once(
    dagbag, ledger_conn, onetrail_sandbox, store, monkeypatch
):
    from po_sync_sandbox.onetrail import OnetrailHub

    hub = OnetrailHub.from_sandbox(onetrail_sandbox, known_ship_to=())  # every ship-to refused
    run = run_dag(dagbag, "onetrail_po_submit")
    assert task_states(run)["submit_purchase_orders"] == "success"
    pos = flagged_pos(store)
    hub.poll()  # NACKs in Out/RC
    nacks = sorted(p.name for p in hub.folder("Out/RC").iterdir() if p.is_file())
    assert len(nacks) == len(pos)
    monkeypatch.setenv("PO_SYNC_CRASH_AFTER_WRITE", "onetrail_po_submit")
    run = run_dag(dagbag, "onetrail_po_submit")
    assert task_states(run)["read_acknowledgements"] == "failed"
    # the first NACK reached NetSuite, its file is still there
    assert sorted(p.name for p in hub.folder("Out/RC").iterdir() if p.is_file()) == nacks
    assert any(p["status"] == "Failed" for p in flagged_pos(store))
    monkeypatch.delenv("PO_SYNC_CRASH_AFTER_WRITE")
    run = run_dag(dagbag, "onetrail_po_submit")
    assert set(task_states(run).values()) == {"success"}
    assert not [p for p in hub.folder("Out/RC").iterdir() if p.is_file()]
    assert sorted(p.name for p in (hub.folder("Out/RC") / "archive").iterdir()) == nacks
    for po in flagged_pos(store):
        assert po["status"] == "Failed" and "504E%" in po["error"]
        state = record(ledger_conn, po["id"])
        assert str(state.status) == "failed" and state.last_error_code.startswith("NACK_504E%")
    assert not (hub.folder("Out/RC") / "error").exists()  # nothing taken for a duplicate
