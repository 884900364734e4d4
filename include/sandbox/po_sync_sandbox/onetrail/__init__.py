"""The Onetrail side of the sandbox: an sFTP server with the GLN folder tree, and the hub + supplier actor."""

from po_sync_sandbox.onetrail.actor import OnetrailHub
from po_sync_sandbox.onetrail.world import (
    BUYER_GLN,
    SHIP_TO_GLN,
    SUPPLIER_EDI_GLN,
    SUPPLIER_XML_GLN,
    prepare_netsuite,
)

__all__ = [
    "BUYER_GLN",
    "SHIP_TO_GLN",
    "SUPPLIER_EDI_GLN",
    "SUPPLIER_XML_GLN",
    "OnetrailHub",
    "prepare_netsuite",
]
