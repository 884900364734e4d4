"""Fault matrix of the vendor flows: PO export (S3 + SQS notice), merge (S3 → merge bucket, archive,
quarantine) and fulfilment import (merge bucket → NetSuite, done/, quarantine)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.matrix import Outcome, Scenario, cells, check, duplicates, records, run_cell

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

EXPORT, MERGE, IMPORT = "netsuite_vendor_po_export", "vendor_fulfillment_merge", "vendor_fulfillment_import"


class _Vendors(Scenario):
    def __init__(self, dagbag: Any, ledger: Any, world: Any, netsuite: Any) -> None:
        self.dagbag, self.ledger, self.world, self.netsuite = dagbag, ledger, world, netsuite
        self.actor = world.actors["V0001"]

    def po_numbers(self) -> set[str]:
        rows = self.netsuite.store.query("SELECT tranid FROM \"transaction\" WHERE type = 'PurchOrd'")
        return {r["tranid"] for r in rows}

    def standard_po(self) -> str:
        return sorted(n for n, d in self.actor.purchase_orders().items() if d.get("drop_ship") != "true")[0]

    def names(self, bucket: str, prefix: str) -> list[str]:
        return [k.rsplit("/", 1)[-1] for k in self.world.keys(bucket, prefix)]


class VendorExport(_Vendors):
    """V0001's POs to its bucket once each, and one SQS notice per PO on its queue (one vendor, so the
    crash always falls on a PO with a notice)."""

    flow = dag_id = EXPORT
    smoke = "after_s3_put"
    conf = {"vendor": "V0001"}

    def measure(self) -> Outcome:
        out = Outcome()
        files = [
            k.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            for k in self.world.keys(self.actor.bucket, f"{self.actor.prefix}PurchaseOrder/")
        ]
        mine = set(self.actor.purchase_orders())
        out.lost += [] if mine else ["V0001 has no PO in NetSuite"]
        out.lost += [f"PO {n} not in the bucket" for n in sorted(mine - set(files))]
        out.duplicated += duplicates(files)
        notices = self.notices()
        out.lost += [f"no SQS notice for {n}" for n in sorted(mine - set(notices))]
        out.duplicated += [f"SQS notice {d}" for d in duplicates(notices)]
        # synced, or ignored = unchanged since it was sent (what a rerun records for a PO already out)
        done = {
            s.key.source_id
            for s in records(self.ledger, self.flow)
            if s.status.value in ("synced", "ignored")
        }
        out.disagreements += [f"ledger: {n} neither synced nor ignored" for n in sorted(set(files) - done)]
        return out

    def notices(self) -> list[str]:
        import json

        import boto3

        queue = self.world.config["vendors"][0]["sqs_queue"]
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.world.endpoint,
            region_name="us-east-1",
            aws_access_key_id="sandbox-access-key",
            aws_secret_access_key="sandbox-secret-key",
        )
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        out: list[str] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)
            messages = got.get("Messages", [])
            if not messages:
                return out
            out += [json.loads(m["Body"])["po_number"] for m in messages]


class VendorMerge(_Vendors):
    """One good ship notice merged once and archived once; one bad file quarantined once with its note."""

    expected_codes = frozenset({"MALFORMED_JSON"})

    flow = dag_id = MERGE
    smoke = "after_archive_copy"
    conf = {"wait_minutes": 0}

    def prepare(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, EXPORT).state == "success"
        self.number = self.standard_po()
        self.good = self.actor.ship(self.number).rsplit("/", 1)[-1]
        self.bad = self.actor.malformed("bad_json", self.number).rsplit("/", 1)[-1]

    def measure(self) -> Outcome:
        out = Outcome()
        merged = [m for m in self.world.merged("ready/") if m["kind"] == "item_receipt"]
        ids = [m["merged_id"] for m in merged]
        out.lost += [] if ids else [f"no merged receipt for {self.number}"]
        out.duplicated += duplicates(ids) + ([f"{len(ids)} merged receipts"] if len(ids) > 1 else [])
        bucket, prefix = self.actor.bucket, self.actor.prefix
        out.lost += [f"{k} left in inbound/" for k in self.actor.inbound_keys()]
        archived = self.names(bucket, f"{prefix}archive/")
        out.lost += [] if self.good in archived else [f"{self.good} not archived"]
        out.duplicated += duplicates(archived)
        quarantined = self.names(bucket, f"{prefix}quarantine/")
        for name in (self.bad, f"{self.bad}.error.txt"):
            out.lost += [] if name in quarantined else [f"{name} not in quarantine/"]
        out.duplicated += duplicates(quarantined)
        keys = self.world.keys(self.world.config["merge_bucket"])
        for state in records(self.ledger, self.flow):
            if state.status.value == "synced" and state.key.entity_type == "item_receipt":
                if f"ready/item_receipt/{state.key.source_id}.json" not in keys:
                    out.disagreements.append(f"ledger: {state.key.source_id} synced, not in the bucket")
        return out


class VendorImport(_Vendors):
    """One merged receipt becomes one NetSuite receipt and moves to done/ once; a bad merged document
    goes to quarantine/ once with its note."""

    expected_codes = frozenset({"MALFORMED_JSON"})

    flow = dag_id = IMPORT
    smoke = "after_netsuite_write"

    def prepare(self) -> None:
        from tests.faults.matrix import run_dag

        assert run_dag(self.dagbag, EXPORT).state == "success"
        self.number = self.standard_po()
        self.actor.ship(self.number)
        assert run_dag(self.dagbag, MERGE, {"wait_minutes": 0}).state == "success"
        (merged,) = self.world.merged("ready/")
        self.merged_id = merged["merged_id"]
        bucket = self.world.config["merge_bucket"]
        self.world.s3.put_object(Bucket=bucket, Key="ready/item_receipt/BAD-1.json", Body=b'{"kind": ')

    def measure(self) -> Outcome:
        out = Outcome()
        rows = self.netsuite.store.query("SELECT id, externalid FROM \"transaction\" WHERE type = 'ItemRcpt'")
        mine = [str(r["id"]) for r in rows if r["externalid"] == self.merged_id]
        out.lost += [] if mine else [f"no NetSuite receipt for {self.merged_id}"]
        out.duplicated += [f"{len(mine)} receipts for {self.merged_id}"] if len(mine) > 1 else []
        bucket = self.world.config["merge_bucket"]
        ready = self.names(bucket, "ready/")
        done = self.names(bucket, "done/")
        quarantined = self.names(bucket, "quarantine/")
        name = f"{self.merged_id}.json"
        out.lost += [f"{n} left in ready/" for n in ready]
        out.lost += [] if name in done else [f"{name} not in done/"]
        out.duplicated += duplicates(done) + duplicates(quarantined)
        for q in ("BAD-1.json", "BAD-1.json.error.txt"):
            out.lost += [] if q in quarantined else [f"{q} not in quarantine/"]
        for state in records(self.ledger, self.flow):
            if state.key.source_id == self.merged_id and (
                state.status.value not in ("synced", "ignored") or state.target_id not in mine
            ):
                out.disagreements.append(
                    f"ledger: {self.merged_id} {state.status.value} -> {state.target_id}"
                )
        return out


SCENARIOS = (VendorExport, VendorMerge, VendorImport)


@pytest.mark.parametrize(("scenario", "point", "mode"), cells(*SCENARIOS))
def test_crash_and_rerun(
    scenario: type[_Vendors], point: str, mode: str, dagbag, ledger_conn, world, netsuite, monkeypatch
) -> None:
    built = scenario(dagbag, ledger_conn, world, netsuite)
    check(run_cell(built, point, mode, monkeypatch), point, mode)
