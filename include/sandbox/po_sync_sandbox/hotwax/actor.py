"""The HotWax side of the PO flow, played on the SFTP server's files: imports PO CSVs, sends receipt feeds.

HotWax's own job (*Import purchase orders*, ``IMP_ASN_PO_FEED``) is not public code; this actor does
what its documentation says (``reference/external-systems.md`` §4): it reads every CSV in
``netsuite/purchaseorder/fulfillment/``, imports each PO line (and **would import a PO twice** if it
appeared in two files — :attr:`HotWaxActor.import_counts` keeps score so tests can prove it never
does), then moves the file to ``fulfillment/archive/``. Store staff then receive goods and HotWax's
NiFi flow drops receipt feeds into ``netsuite/purchaseorder/receipt/``: full, partial (incremental:
only what was not sent before), several files, or bad ones on request.

Everything is deterministic: file names come from a counter clock starting at
:data:`CLOCK_START`, files get fixed modification times well in the past (so an importer never takes
them for files still being written, except :meth:`HotWaxActor.bad_feed` ``"still_writing"``), and
partial receipts take the first half of each line, rounded up.

The actor works on the server's filesystem (``root`` = what the SFTP user sees as its login
directory): the sandbox's chroot (``Sandbox.services["sftp"].root``) or an OpenSSH user's home.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BASE = Path("netsuite/purchaseorder")
PO_DIR = BASE / "fulfillment"
RECEIPT_DIR = BASE / "receipt"
PO_HEADER = "external-id,product-sku,quantity,external-facility-id,item-external-id,arrival-date"
CLOCK_START = datetime(2026, 1, 5, 16, 10, 0)
#: Modification time given to finished feed files (far in the past: nobody is writing them).
SETTLED_MTIME = 1_767_600_000  # 2026-01-05T08:00:00Z

BAD_KINDS = (
    "malformed",
    "unknown_order",
    "unknown_line",
    "over_receipt",
    "negative",
    "non_numeric",
    "still_writing",
    "enormous",
    "path_separator",
    "duplicate",
)


@dataclass
class ImportedLine:
    """One PO line as HotWax holds it after importing a CSV."""

    sku: str
    quantity: int
    facility: str
    arrival_date: str
    sent: int = 0  # quantity already reported back in receipt feeds


@dataclass
class HotWaxActor:
    """HotWax Commerce as seen from the SFTP folders.

    :param root: the SFTP login directory on the server's filesystem.
    :param prefix: the feed file prefix (HotWax uses the tenant name, e.g. ``Krewe``).
    """

    root: Path
    prefix: str = "Krewe"
    orders: dict[str, dict[str, ImportedLine]] = field(default_factory=dict)
    import_counts: dict[str, int] = field(default_factory=dict)
    imported_files: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    _tick: int = 0

    @classmethod
    def from_sandbox(cls, sandbox: Any, **kwargs: Any) -> HotWaxActor:
        """The actor on a running :class:`~po_sync_sandbox.runner.Sandbox`'s SFTP root."""
        actor = cls(root=Path(sandbox.services["sftp"].root), **kwargs)
        actor.setup()
        return actor

    # ---- folders

    def path(self, relative: Path | str) -> Path:
        return self.root / relative

    def setup(self) -> None:
        """Create HotWax's folder layout (``HC_SC_CreateSFTPDirectory``'s PO part)."""
        for folder in (
            PO_DIR,
            PO_DIR / "archive",
            RECEIPT_DIR,
            RECEIPT_DIR / "archive",
            RECEIPT_DIR / "error",
        ):
            self.path(folder).mkdir(parents=True, exist_ok=True)

    def files(self, folder: Path | str) -> list[str]:
        """Names of regular files in a folder (sorted)."""
        target = self.path(folder)
        return sorted(p.name for p in target.iterdir() if p.is_file()) if target.is_dir() else []

    # ---- PO import (IMP_ASN_PO_FEED)

    def import_purchase_orders(self) -> list[str]:
        """Import every finished CSV in ``fulfillment/`` and archive it; returns the PO ids imported.

        Hidden files (``.name.part``) are uploads in progress and are left alone, as HotWax does.
        """
        imported: list[str] = []
        for name in self.files(PO_DIR):
            if name.startswith(".") or not name.endswith(".csv"):
                continue
            source = self.path(PO_DIR / name)
            lines = source.read_text("utf-8").splitlines()
            if not lines or lines[0].strip() != PO_HEADER:
                raise ValueError(f"HotWax cannot import {name}: header {lines[:1]!r}")
            seen_in_file: set[str] = set()
            for number, line in enumerate(lines[1:], start=2):
                if not line.strip():
                    continue
                values = line.split(",")
                if len(values) != 6:
                    raise ValueError(f"HotWax cannot import {name} line {number}: {line!r}")
                po_id, sku, quantity, facility, line_id, arrival = values
                if po_id not in seen_in_file:
                    seen_in_file.add(po_id)
                    self.import_counts[po_id] = self.import_counts.get(po_id, 0) + 1
                    imported.append(po_id)
                order = self.orders.setdefault(po_id, {})
                previous = order.get(line_id)
                order[line_id] = ImportedLine(
                    sku, int(float(quantity)), facility, arrival, previous.sent if previous else 0
                )
            shutil.move(str(source), str(self.path(PO_DIR / "archive" / name)))
            self.imported_files.append(name)
        return imported

    def duplicates(self) -> dict[str, int]:
        """POs HotWax imported more than once (must stay empty)."""
        return {po: n for po, n in self.import_counts.items() if n > 1}

    # ---- receipt feeds (NiFi → receipt/)

    def _name(self) -> str:
        when = CLOCK_START + timedelta(seconds=self._tick)
        self._tick += 1
        return f"{self.prefix}_PurchaseOrderReceiptFeed_{when:%Y-%m-%d-%H_%M_%S}_{self._tick % 1000:03d}.json"

    def write_feed(
        self, orders: list[dict[str, Any]], *, name: str | None = None, settled: bool = True
    ) -> str:
        """Drop a feed file into ``receipt/`` (whole, with a settled mtime); returns the name."""
        name = name or self._name()
        target = self.path(RECEIPT_DIR / name)
        temp = target.with_name(f".{name}.tmp")
        temp.write_text(json.dumps(orders, indent=1), "utf-8")
        if settled:
            os.utime(temp, (SETTLED_MTIME, SETTLED_MTIME))
        temp.rename(target)
        self.feeds.append(name)
        return name

    def _receipt(self, po_id: str, *, partial: bool) -> dict[str, Any] | None:
        items = []
        for line_id, line in sorted(self.orders[po_id].items(), key=lambda kv: int(kv[0])):
            remaining = line.quantity - line.sent
            if remaining <= 0:
                continue  # incremental: lines already sent are not sent again
            quantity = max(1, (remaining + 1) // 2) if partial else remaining
            line.sent += quantity
            items.append({"line_id": line_id, "quantity": str(quantity)})
        return {"order_id": po_id, "items": items} if items else None

    def receive(self, po_ids: list[str] | None = None, *, partial: bool = False, files: int = 1) -> list[str]:
        """Store staff receive imported POs; HotWax sends the feed(s). Returns the feed file names.

        :param po_ids: which POs (default: every imported PO with something left to receive).
        :param partial: receive half of each line (rounded up) instead of everything left.
        :param files: spread the orders over this many files.
        """
        wanted = po_ids if po_ids is not None else sorted(self.orders, key=int)
        orders = [o for po in wanted if (o := self._receipt(po, partial=partial)) is not None]
        if not orders:
            return []
        chunks = [orders[i::files] for i in range(files)] if files > 1 else [orders]
        return [self.write_feed(chunk) for chunk in chunks if chunk]

    def bad_feed(self, kind: str, *, po_id: str | None = None) -> str:
        """Drop one bad feed file of ``kind`` (see :data:`BAD_KINDS`); returns its name.

        ``po_id`` picks the imported PO used where a real one is needed (default: the first).
        """
        if kind not in BAD_KINDS:
            raise ValueError(f"unknown bad feed kind {kind!r}; known: {', '.join(BAD_KINDS)}")
        po = po_id or (sorted(self.orders, key=int)[0] if self.orders else "1")
        first_line = sorted(self.orders.get(po, {"1": None}), key=int)[0]
        if kind == "malformed":
            name = self._name()
            self.path(RECEIPT_DIR / name).write_text('[{"order_id": "' + po + '", "items": [', "utf-8")
            os.utime(self.path(RECEIPT_DIR / name), (SETTLED_MTIME, SETTLED_MTIME))
            return name
        if kind == "still_writing":
            name = self._name()
            target = self.path(RECEIPT_DIR / name)
            target.write_text('[{"order_id": "' + po + '", "items": [{"line_id": "1", "quan', "utf-8")
            now = time.time()
            os.utime(target, (now, now))
            return name
        if kind == "enormous":
            name = self._name()
            filler = [{"order_id": "999999999", "items": [{"line_id": "1", "quantity": "0"}]}] * 70_000
            return self.write_feed(filler, name=name)
        if kind == "path_separator":
            return self.write_feed(
                [{"order_id": po, "items": [{"line_id": first_line, "quantity": "1"}]}],
                name=f"..\\..\\etc\\{self.prefix}_PurchaseOrderReceiptFeed.json",
            )
        if kind == "duplicate":
            archived = self.files(RECEIPT_DIR / "archive")
            if not archived:
                raise ValueError("no archived feed to send again")
            name = archived[0]
            shutil.copy2(self.path(RECEIPT_DIR / "archive" / archived[0]), self.path(RECEIPT_DIR / name))
            os.utime(self.path(RECEIPT_DIR / name), (SETTLED_MTIME, SETTLED_MTIME))
            return name
        order: dict[str, Any] = {
            "unknown_order": {"order_id": "987654321", "items": [{"line_id": "1", "quantity": "1"}]},
            "unknown_line": {"order_id": po, "items": [{"line_id": "999", "quantity": "1"}]},
            "over_receipt": {"order_id": po, "items": [{"line_id": first_line, "quantity": "100000"}]},
            "negative": {"order_id": po, "items": [{"line_id": first_line, "quantity": "-3"}]},
            "non_numeric": {"order_id": po, "items": [{"line_id": first_line, "quantity": "three"}]},
        }[kind]
        return self.write_feed([order])
