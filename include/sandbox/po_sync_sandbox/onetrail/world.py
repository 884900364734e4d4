"""The NetSuite side of an Onetrail set-up, as a buyer would configure it with the eInteract bundle.

:func:`prepare_netsuite` ticks "Onetrail enabled" and fills the GLN on two vendors (one trading in
Onetrail XML, one in EDIFACT), gives every item an MPN, and marks those vendors' open POs for
electronic submission ("Save & Submit Electronically"). It returns the ``po_sync_onetrail`` settings
that match.
"""

from __future__ import annotations

from typing import Any

#: Valid GLNs (GS1 check digit): the reference's sample parties, and one more supplier.
BUYER_GLN = "8714253023366"
SUPPLIER_XML_GLN = "8714253023236"
SUPPLIER_EDI_GLN = "4000001000005"
SHIP_TO_GLN = "8714253023380"
DROP_SHIP_GLN = "8714253023397"


def mpn_for(sku: str) -> str:
    """The sandbox's MPN for an item: derived from its name, so tests can predict it."""
    return f"MPN-{sku}"


def prepare_netsuite(store: Any, *, vendors: int = 2, flag_pos: bool = True) -> dict[str, Any]:
    """Set the eInteract fields on the sandbox's NetSuite records; returns the matching settings.

    :param store: the NetSuite sandbox's :class:`~po_sync_sandbox.netsuite.store.Store`.
    :param vendors: how many vendors (lowest ids first) become Onetrail suppliers (1 or 2).
    :param flag_pos: mark those vendors' Pending Receipt POs for submission.
    """
    vendor_ids = [str(r["id"]) for r in store.query("SELECT id FROM vendor ORDER BY id")]
    glns = [SUPPLIER_XML_GLN, SUPPLIER_EDI_GLN][:vendors]
    for vendor_id, gln in zip(vendor_ids, glns, strict=False):
        store.update(
            "vendor",
            vendor_id,
            {"custentity_onetrail_enabled": True, "custentity_onetrail_gln": gln},
            replace=set(),
        )
    for row in store.query("SELECT id, itemid FROM item ORDER BY id"):
        store.update("inventoryItem", str(row["id"]), {"mpn": mpn_for(str(row["itemid"]))}, replace=set())
    if flag_pos:
        for vendor_id in vendor_ids[: len(glns)]:
            for po_id in purchase_orders_of(store, vendor_id):
                mark_for_submission(store, po_id)
    return settings_for_sandbox()


def purchase_orders_of(store: Any, vendor_id: str) -> list[str]:
    rows = store.query(
        "SELECT id FROM \"transaction\" WHERE type = 'PurchOrd' AND entity = ? AND status = 'B' ORDER BY id",
        (int(vendor_id),),
    )
    return [str(r["id"]) for r in rows]


def mark_for_submission(store: Any, po_id: str, **fields: Any) -> None:
    """What "Save & Submit Electronically" leaves on the PO: the flag, status Not Submitted."""
    body = {"custbody_onetrail_submit": True, "custbody_onetrail_submit_status": "Not Submitted", **fields}
    store.update("purchaseOrder", po_id, body, replace=set())


def settings_for_sandbox(**overrides: Any) -> dict[str, Any]:
    """The ``po_sync_onetrail`` Variable for the sandbox: buyer GLN, one EDIFACT partner, charges, terms."""
    settings: dict[str, Any] = {
        "buyer_gln": BUYER_GLN,
        "ship_to_gln": SHIP_TO_GLN,
        "drop_ship_gln": DROP_SHIP_GLN,
        "partners": {SUPPLIER_EDI_GLN: {"format": "edifact"}},
        "auto_accept": ["quantity", "date", "split", "added", "deleted"],
        "charge_types": {"FREIGHT": "601", "HANDLING": "602"},
        "payment_terms": {"NET30": "2", "NET60": "3"},
    }
    settings.update(overrides)
    return settings
