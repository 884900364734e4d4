"""HotWax's side of the SFTP exchange: the actor that imports PO CSVs and sends receipt feeds, and the demo.

* :mod:`.actor` - :class:`HotWaxActor` and the folder layout HotWax uses;
* :mod:`.demo` - the HotWax flows of ``make demo``.
"""

from __future__ import annotations

from po_sync_sandbox.hotwax.actor import (
    BAD_KINDS,
    BASE,
    CLOCK_START,
    PO_DIR,
    PO_HEADER,
    RECEIPT_DIR,
    SETTLED_MTIME,
    HotWaxActor,
    ImportedLine,
)

__all__ = [
    "BAD_KINDS",
    "BASE",
    "CLOCK_START",
    "PO_DIR",
    "PO_HEADER",
    "RECEIPT_DIR",
    "SETTLED_MTIME",
    "HotWaxActor",
    "ImportedLine",
]
