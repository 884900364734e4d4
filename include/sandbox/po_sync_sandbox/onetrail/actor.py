"""Onetrail and the supplier behind it, played on the sFTP server's files, step by step.

* :meth:`OnetrailHub.poll` is Onetrail picking up what the buyer put in ``In/Orders``: each order is
  checked and answered with a technical ACK (``000E``) or NACK (e.g. ``504E%<ship-to>`` for an
  unknown ship-to GLN, the reference's example) in ``Out/RC``, then taken off the folder. A document
  id seen before is dropped (an EDI hub's duplicate check) and counted in :attr:`duplicates`.
* :meth:`OnetrailHub.answer` is the supplier's order response for one of the reference's eight
  scenarios (:data:`SCENARIOS`), written to ``Out/OrdRsp`` in the supplier's format.

Deterministic: document ids count up, dates derive from the order date, nothing is random. State
(orders received, documents sent) lives beside the server root, outside what the client sees.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from po_sync.onetrail.formats import (
    AckException,
    Acknowledgement,
    Container,
    DespatchAdvice,
    DespatchLine,
    Invoice,
    InvoiceCharge,
    InvoiceLine,
    OnetrailFormatError,
    OrderDocument,
    OrderResponse,
    ResponseLine,
    detect_format,
    dump,
    load,
)
from po_sync_sandbox.onetrail.world import BUYER_GLN, DROP_SHIP_GLN, SHIP_TO_GLN, SUPPLIER_EDI_GLN

#: Onetrail XML order-response codes → the reference's UBL codes (header, line).
UBL_HEADER = {"Accept": "AP", "Change": "CA", "Reject": "RE"}
UBL_LINE = {"Accept": "5", "Change": "3", "Add": "1", "Reject": "7", "Delete": "9"}
SCENARIOS = (
    "confirmed",
    "confirmed_with_changes",
    "order_on_hold",
    "line_on_hold",
    "order_deleted",
    "lines_deleted",
    "line_added",
    "line_split",
)
SETTLED_MTIME = 1_767_600_000  # 2026-01-05T08:00:00Z: files the hub wrote are not being written


class OnetrailHub:
    """Onetrail + supplier for one buyer's home folder.

    :param root: the sFTP server's root (what the client sees as ``/``).
    :param buyer_gln: the buyer's GLN (home folder).
    :param test: use the ``Test/`` tree.
    :param known_ship_to: ship-to GLNs Onetrail knows; an order to another is NACKed ``504E%<gln>``.
    :param edifact_sellers: suppliers that answer in EDIFACT (the others in Onetrail XML).
    :param added_mpn: the MPN the supplier adds in the ``line_added`` scenario.
    """

    def __init__(
        self,
        root: Path,
        buyer_gln: str = BUYER_GLN,
        *,
        test: bool = False,
        known_ship_to: tuple[str, ...] = (SHIP_TO_GLN, DROP_SHIP_GLN, BUYER_GLN),
        edifact_sellers: tuple[str, ...] = (SUPPLIER_EDI_GLN,),
        added_mpn: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.home = self.root / buyer_gln / ("Test" if test else "")
        self.buyer_gln = buyer_gln
        self.known_ship_to = set(known_ship_to)
        self.edifact_sellers = set(edifact_sellers)
        self.added_mpn = added_mpn
        self.state_dir = self.root.parent / "onetrail_hub"
        (self.state_dir / "received").mkdir(parents=True, exist_ok=True)
        self._state_file = self.state_dir / "state.json"
        self.state: dict[str, Any] = (
            json.loads(self._state_file.read_text())
            if self._state_file.exists()
            else {"seq": 0, "orders": {}, "duplicates": 0, "nacked": [], "sent": []}
        )

    @classmethod
    def from_sandbox(cls, sandbox: Any, **kwargs: Any) -> OnetrailHub:
        service = sandbox.services["onetrail_sftp"]
        return cls(service.root, getattr(service, "gln", BUYER_GLN), **kwargs)

    # ---- state

    def _save(self) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        os.replace(tmp, self._state_file)

    def _next(self, prefix: str) -> str:
        self.state["seq"] += 1
        return f"{prefix}-{self.state['seq']:06d}"

    @property
    def duplicates(self) -> int:
        return int(self.state["duplicates"])

    def folder(self, name: str) -> Path:
        return self.home / name

    def orders(self, po_number: str) -> list[OrderDocument]:
        """Every order document received for a PO, oldest first."""
        out = []
        for entry in self.state["orders"].get(po_number, []):
            data = (self.state_dir / "received" / entry["file"]).read_bytes()
            out.append(load(data, "order", name=entry["file"]))
        return out

    def latest(self, po_number: str) -> OrderDocument:
        orders = self.orders(po_number)
        if not orders:
            raise KeyError(f"no order received for {po_number}")
        return orders[-1]

    def received_ids(self) -> list[str]:
        return [e["document_id"] for entries in self.state["orders"].values() for e in entries]

    def _write(self, folder: str, name: str, data: bytes) -> Path:
        target_dir = self.folder(folder)
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target_dir / f".{name}.part"
        tmp.write_bytes(data)
        os.utime(tmp, (SETTLED_MTIME, SETTLED_MTIME))
        target = target_dir / name
        os.replace(tmp, target)
        self.state["sent"].append(f"{folder}/{name}")
        return target

    def _format(self, seller_gln: str) -> str:
        return "edifact" if seller_gln in self.edifact_sellers else "xml"

    def _ext(self, seller_gln: str) -> str:
        return "edi" if seller_gln in self.edifact_sellers else "xml"

    # ---- Onetrail picks up orders

    def poll(self) -> list[str]:
        """Take every finished file out of ``In/Orders``, ACK or NACK it; returns the document ids taken."""
        taken = []
        inbox = self.folder("In/Orders")
        for path in sorted(inbox.iterdir()) if inbox.exists() else ():
            if path.name.startswith(".") or not path.is_file():
                continue
            data = path.read_bytes()
            try:
                doc = load(data, "order", name=path.name)
            except OnetrailFormatError as exc:
                ack = Acknowledgement(
                    self._next("NACK"), path.stem, (AckException("500E", description=exc.message),)
                )
                self._write("Out/RC", f"{ack.document_id}.xml", dump(ack))
                self.state["nacked"].append(path.stem)
                path.unlink()
                continue
            if doc.document_id in self.received_ids():
                self.state["duplicates"] += 1
                path.unlink()
                continue
            problems = []
            if doc.ship_to_gln not in self.known_ship_to:
                problems.append(
                    AckException(f"504E%{doc.ship_to_gln}", description=f"invalid ship-to {doc.ship_to_gln}")
                )
            ack = Acknowledgement(
                self._next("ACK" if not problems else "NACK"), doc.document_id, tuple(problems)
            )
            self._write("Out/RC", f"{ack.document_id}.xml", dump(ack))
            stored = f"{doc.document_id}{path.suffix or '.xml'}"
            (self.state_dir / "received" / stored).write_bytes(data)
            if problems:
                self.state["nacked"].append(doc.document_id)
            else:
                self.state["orders"].setdefault(doc.po_number, []).append(
                    {
                        "document_id": doc.document_id,
                        "file": stored,
                        "function": doc.function,
                        "format": detect_format(data),
                    }
                )
            path.unlink()
            taken.append(doc.document_id)
        self._save()
        return taken

    def requests_received(self, po_number: str) -> int:
        """How many ``Request`` documents arrived for a PO (more than one means it was ordered twice)."""
        return sum(1 for e in self.state["orders"].get(po_number, []) if e["function"] == "Request")

    # ---- the supplier answers

    def answer(self, po_number: str, scenario: str = "confirmed", *, codes: str = "onetrail") -> Path:
        """Write the supplier's order response for ``scenario`` (one of :data:`SCENARIOS`).

        :param codes: ``onetrail`` (Accept / Change / Reject / Delete, lines also Add) or ``ubl``
            (the reference's UBL codes: header AP / CA / RE, lines 5 / 3 / 1 / 7 / 9); UBL has no
            header code for a deleted order, so ``order_deleted`` cannot be answered in it.
        """
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
        if codes not in ("onetrail", "ubl"):
            raise ValueError(f"unknown codes {codes!r}; expected onetrail or ubl")
        if codes == "ubl" and scenario == "order_deleted":
            raise ValueError("UBL has no header code for a deleted order")
        order = self.latest(po_number)
        ship = order.order_date + timedelta(days=3)
        lines = [line for line in order.lines if line.status != "Delete"]

        def same(line: Any, status: str = "Accept") -> ResponseLine:
            return ResponseLine(
                line.line_number,
                status,
                mpn=line.mpn,
                quantity=line.quantity,
                unit_price=line.unit_price,
                ship_date=ship,
            )

        header = "Accept"
        out: list[ResponseLine] = []
        if scenario == "confirmed":
            out = [same(line) for line in lines]
        elif scenario == "confirmed_with_changes":
            header = "Change"
            first = next((line for line in lines if line.quantity >= 2), lines[0])
            out = [
                replace(
                    same(first, "Change"),
                    quantity=max(first.quantity - 1, Decimal(1)),
                    unit_price=(first.unit_price * Decimal("0.95")).quantize(Decimal("0.01")),
                    delivery_date=ship + timedelta(days=7),
                ),
                *[same(line) for line in lines if line is not first],
            ]
        elif scenario == "order_on_hold":
            header = "Reject"
        elif scenario == "line_on_hold":
            header = "Change"
            out = [same(line) for line in lines[:-1]] + [same(lines[-1], "Reject")]
        elif scenario == "order_deleted":
            header = "Delete"
        elif scenario == "lines_deleted":
            header = "Change"
            out = [same(line) for line in lines[:-1]] + [
                ResponseLine(lines[-1].line_number, "Delete", mpn=lines[-1].mpn)
            ]
        elif scenario == "line_added":
            header = "Change"
            out = [same(line) for line in lines] + [
                ResponseLine(
                    None,
                    "Add",
                    mpn=self.added_mpn or lines[0].mpn,
                    quantity=Decimal(1),
                    unit_price=lines[0].unit_price,
                    ship_date=ship,
                )
            ]
        elif scenario == "line_split":
            header = "Change"
            first = next((line for line in lines if line.quantity >= 2), lines[0])
            part = (first.quantity / 2).to_integral_value(rounding="ROUND_DOWN")
            out = [
                replace(same(first, "Change"), quantity=first.quantity - part),
                replace(same(first, "Change"), quantity=part, ship_date=ship + timedelta(days=14)),
                *[same(line) for line in lines if line is not first],
            ]
        # What the supplier will ship per original line: the first answer for each line (0 when held
        # or deleted); lines it adds or splits off are not shipped by this actor.
        promised: dict[str, str] = {}
        for line in order.lines:
            promised[line.line_number] = "0" if header in ("Reject", "Delete") else str(line.quantity)
        for rline in out:
            if (
                rline.line_number
                and rline.line_number in promised
                and rline.line_number not in [r.line_number for r in out[: out.index(rline)]]
            ):
                keep = rline.status in ("Accept", "Change") and rline.quantity is not None
                promised[rline.line_number] = str(rline.quantity) if keep else "0"
        self.state.setdefault("promised", {})[po_number] = promised
        if codes == "ubl":
            header = UBL_HEADER[header]
            out = [replace(rline, status=UBL_LINE[rline.status]) for rline in out]
        response = OrderResponse(
            document_id=self._next("RSP"),
            po_number=po_number,
            status=header,
            buyer_gln=order.buyer_gln,
            seller_gln=order.seller_gln,
            issued_at=datetime.combine(order.order_date + timedelta(days=1), datetime.min.time()),
            lines=tuple(out),
            seller_order_number=f"SO-{po_number}",
            currency=order.currency,
        )
        path = self._write(
            "Out/OrdRsp",
            f"{response.document_id}.{self._ext(order.seller_gln)}",
            dump(response, self._format(order.seller_gln)),  # type: ignore[arg-type]
        )
        self._save()
        return path

    # ---- the supplier ships

    def shipped(self, po_number: str) -> dict[str, str]:
        """PO line → quantity shipped so far (as text, exact)."""
        return dict(self.state.setdefault("shipped", {}).get(po_number, {}))

    def ship(
        self, po_number: str, *, partial: bool = False, serials: bool = True, containers: int = 1
    ) -> Path | None:
        """Ship what remains of the latest order (``partial``: half of each line, rounded down, at least
        one) in a despatch advice in ``Out/Desadv``, with SSCCs, tracking numbers and one serial number
        per unit; None when nothing remains. Drop-ship orders ship to the consignee's GLN."""
        order = self.latest(po_number)
        done = self.shipped(po_number)
        todo: list[tuple[str, str, Decimal]] = []
        promised = self.state.get("promised", {}).get(po_number, {})
        for line in order.lines:
            if line.status == "Delete" or order.status == "Delete":
                continue
            ordered = Decimal(promised.get(line.line_number, str(line.quantity)))
            remaining = ordered - Decimal(done.get(line.line_number, "0"))
            if remaining <= 0:
                continue
            quantity = (
                max((remaining / 2).to_integral_value(rounding="ROUND_DOWN"), Decimal(1))
                if partial
                else remaining
            )
            todo.append((line.line_number, line.mpn, quantity))
        if not todo:
            return None
        number = self._next("DSP")
        boxes: list[list[DespatchLine]] = [[] for _ in range(max(1, min(containers, len(todo))))]
        for index, (line_number, mpn, quantity) in enumerate(todo):
            serial_numbers = (
                tuple(
                    f"SN-{po_number}-{line_number}-{int(Decimal(done.get(line_number, '0'))) + k + 1}"
                    for k in range(int(quantity))
                )
                if serials and quantity == quantity.to_integral_value()
                else ()
            )
            boxes[index % len(boxes)].append(
                DespatchLine(po_number, line_number, quantity, mpn=mpn, serial_numbers=serial_numbers)
            )
            done[line_number] = str(Decimal(done.get(line_number, "0")) + quantity)
        seq = int(self.state["seq"])
        despatch = DespatchAdvice(
            document_id=number,
            despatch_number=number,
            buyer_gln=order.buyer_gln,
            seller_gln=order.seller_gln,
            ship_to_gln=order.ship_to_gln,
            ship_date=order.order_date + timedelta(days=4),
            delivery_date=order.order_date + timedelta(days=6),
            issued_at=datetime.combine(order.order_date + timedelta(days=4), datetime.min.time()),
            containers=tuple(
                Container(
                    f"{376543210000000000 + seq * 10 + i:018d}", tuple(box), "PACKAGE", f"1Z{seq:06d}{i}"
                )
                for i, box in enumerate(boxes)
            ),
        )
        self.state["shipped"][po_number] = done
        path = self._write(
            "Out/Desadv",
            f"{number}.{self._ext(order.seller_gln)}",
            dump(despatch, self._format(order.seller_gln)),  # type: ignore[arg-type]
        )
        self._save()
        return path

    # ---- the supplier invoices

    def invoice(
        self,
        po_number: str,
        *,
        freight: Decimal | None = Decimal("15.00"),
        charge_type: str = "FREIGHT",
        tax_rate: Decimal = Decimal("0.21"),
        terms: str | None = "NET30",
    ) -> Path | None:
        """Invoice what was shipped and not yet invoiced (Onetrail INV format or INVOIC), with freight
        as a charge, tax per line and charge, payment terms and a due date 30 days on; None when there
        is nothing to invoice."""
        order = self.latest(po_number)
        invoiced = self.state.setdefault("invoiced", {}).setdefault(po_number, {})
        prices = {line.line_number: line for line in order.lines}
        cent = Decimal("0.01")
        lines = []
        for line_number, quantity_text in sorted(self.shipped(po_number).items()):
            quantity = Decimal(quantity_text) - Decimal(invoiced.get(line_number, "0"))
            if quantity <= 0 or line_number not in prices:
                continue
            price = prices[line_number].unit_price
            tax = (quantity * price * tax_rate).quantize(cent)
            lines.append(
                InvoiceLine(
                    str(len(lines) + 1), line_number, quantity, price, tax, mpn=prices[line_number].mpn
                )
            )
            invoiced[line_number] = str(Decimal(invoiced.get(line_number, "0")) + quantity)
        if not lines:
            return None
        charges = (
            (InvoiceCharge(charge_type, freight, (freight * tax_rate).quantize(cent), "Freight"),)
            if freight
            else ()
        )
        net = sum((line.net_amount for line in lines), Decimal(0)) + sum(
            (c.amount for c in charges), Decimal(0)
        )
        tax_total = sum((line.tax_amount for line in lines), Decimal(0)) + sum(
            (c.tax_amount for c in charges), Decimal(0)
        )
        number = self._next("INV")
        day = order.order_date + timedelta(days=5)
        invoice = Invoice(
            invoice_number=number,
            po_number=po_number,
            currency=order.currency,
            invoice_date=day,
            due_date=day + timedelta(days=30),
            seller_gln=order.seller_gln,
            buyer_gln=order.buyer_gln,
            ship_to_gln=order.ship_to_gln,
            lines=tuple(lines),
            charges=charges,
            tax_total=tax_total,
            total=net + tax_total,
            payment_terms=terms,
        )
        path = self._write(
            "Out/Invoice",
            f"{number}.{self._ext(order.seller_gln)}",
            dump([invoice], self._format(order.seller_gln)),  # type: ignore[arg-type]
        )
        self._save()
        return path
