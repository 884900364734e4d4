"""Fault matrix of the HotWax flows: PO export (SFTP temp upload, rename, exported flags) and receipt
import (NetSuite receipts, error/ reports, .failed.json, archive/)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from po_sync_sandbox.hotwax import PO_DIR, RECEIPT_DIR
from tests.faults.matrix import Outcome, Scenario, cells, check, duplicates, records, run_cell
from tests.hotwax.conftest import receipts_of

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

EXPORT, IMPORT = "hotwax_po_export", "hotwax_receipt_import"
POS = ["1", "2", "3", "4", "5"]
EXPORT_CONF = {"resync_po_numbers": [], "dry_run": False}
IMPORT_CONF = {"dry_run": False, "max_file_bytes": 5_000_000, "min_file_age_seconds": 30}


class _HotWax(Scenario):
    def __init__(self, dagbag: Any, ledger: Any, sandbox: Any, actor: Any) -> None:
        self.dagbag, self.ledger, self.actor = dagbag, ledger, actor
        self.store = sandbox.services["netsuite"].store


class HotWaxExport(_HotWax):
    """Every Pending Receipt PO imported by HotWax exactly once, and flagged exported in NetSuite."""

    flow = dag_id = EXPORT
    smoke = "after_upload"
    conf = EXPORT_CONF

    def measure(self) -> Outcome:
        out = Outcome()
        imported = self.actor.import_purchase_orders()
        out.lost += [f"PO {po} never reached HotWax" for po in POS if po not in self.actor.import_counts]
        out.duplicated += [f"PO {po} imported {n} times" for po, n in self.actor.duplicates().items()]
        out.duplicated += duplicates(imported)
        for po in POS:
            if not self.store.get("purchaseOrder", po).get("custbody_hc_order_exported"):
                out.disagreements.append(f"PO {po}: exported flag not set")
        synced = {s.key.source_id for s in records(self.ledger, self.flow) if s.status.value == "synced"}
        out.disagreements += [f"ledger: PO {po} not synced" for po in POS if po not in synced]
        out.disagreements += [f"temp file {n} left" for n in self.actor.files(PO_DIR) if n.startswith(".")]
        return out


class HotWaxImport(_HotWax):
    """A feed with two good orders and one bad one, and a malformed feed: two receipts once each, the
    feed archived once, the bad order in error/<stem>.failed.json once, the malformed feed in error/
    once, each with its report."""

    expected_codes = frozenset({"UNKNOWN_LINE", "BAD_FILE"})

    flow = dag_id = IMPORT
    smoke = "after_receipt"
    conf = IMPORT_CONF

    def prepare(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, EXPORT, EXPORT_CONF).state == "success"
        assert self.actor.import_purchase_orders() == POS
        orders = [self.actor._receipt(po, partial=False) for po in ("1", "2")]
        bad = {"order_id": "3", "items": [{"line_id": "999", "quantity": "1"}]}
        self.feed = self.actor.write_feed([*orders, bad])
        self.malformed = self.actor.bad_feed("malformed")

    def measure(self) -> Outcome:
        out = Outcome()
        for po in ("1", "2"):
            n = len(receipts_of(self.store, po))
            out.lost += [f"no receipt for PO {po}"] if n == 0 else []
            out.duplicated += [f"{n} receipts for PO {po}"] if n > 1 else []
        n = len(receipts_of(self.store, "3"))
        out.duplicated += [f"{n} receipts for the bad order (PO 3)"] if n else []
        inbox = self.actor.files(RECEIPT_DIR)
        out.lost += [f"{name} left in receipt/" for name in inbox]
        archive = self.actor.files(RECEIPT_DIR / "archive")
        stem = self.feed.rsplit(".", 1)[0]
        mine = [n for n in archive if n.startswith(stem)]
        out.lost += [] if mine else [f"{self.feed} not archived"]
        out.duplicated += [f"{self.feed} archived {len(mine)} times: {mine}"] if len(mine) > 1 else []
        errors = self.actor.files(RECEIPT_DIR / "error")
        tagged = [e for e in errors if re.fullmatch(re.escape(stem) + r"\.[0-9a-f]{12}\.failed\.json", e)]
        failed = tagged[0] if len(tagged) == 1 else f"{stem}.<tag>.failed.json"  # its name carries a tag
        out.duplicated += [f"{len(tagged)} failed-order files: {tagged}"] if len(tagged) > 1 else []
        wanted = [
            failed,
            f"{failed}.errors.csv",
            self.malformed,
            f"{self.malformed}.errors.csv",
        ]
        out.lost += [f"{w} not in error/" for w in wanted if w not in errors]
        extra = [e for e in errors if e not in wanted]
        out.duplicated += [f"unexpected in error/: {extra}"] if extra else []
        for state in records(self.ledger, self.flow):
            if state.key.entity_type == "receipt_file" and state.key.source_id.startswith(self.feed):
                if state.status.value != "synced":
                    out.disagreements.append(f"ledger: {self.feed} is {state.status.value}")
        return out


SCENARIOS = (HotWaxExport, HotWaxImport)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[_HotWax], point: str, mode: str, dagbag, ledger_conn, hotwax_sandbox, actor, monkeypatch
) -> None:
    built = scenario(dagbag, ledger_conn, hotwax_sandbox, actor)
    check(run_cell(built, point, mode, monkeypatch), point, mode)
