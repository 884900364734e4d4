"""The X-Series purchase-order flows of ``make demo``: token refresh, POs both ways, item receipts.

Pass 1: the sandbox's access-token lifetime is set short (``DEMO_TOKEN_TTL`` seconds), then
``vend_token_refresh`` rotates the pair; a buyer creates five Pending Receipt POs in NetSuite and store
staff type a stock order in the POS; ``vend_purchase_order_sync`` makes one SUPPLIER consignment per PO
and one NetSuite PO for the POS order; the access token is expired server-side as the run starts
(and is short-lived anyway), so the run must rotate it (checked: at least one refresh during the run,
no refresh token ever reused); the warehouse receives two of the
POs in NetSuite and ``vend_item_receipt_sync`` receives their consignments.
Pass 2: the token is rotated again; nothing is created twice (no new consignment, no new NetSuite PO,
no second receipt).

The connection ``xseries_default`` comes from the sandbox with a bootstrap refresh token the sandbox
minted; the first refresh stores the pair (encrypted) in the ledger. Nothing here prints a token.
Register with ``all_demo_flows``; the NetSuite and X-Series stand-ins must be running.
"""

from __future__ import annotations

from typing import Any

from po_sync_sandbox.demo_flow import DemoFlow, Result

__all__ = ["XSERIES_PO_DEMO_FLOWS"]

#: Access-token lifetime during the demo: short enough that a run outlives its token.
DEMO_TOKEN_TTL = 12
NEW_POS = 5
RECEIVE = 2
_STATE: dict[str, Any] = {}


def _services(sandbox: Any) -> tuple[Any, Any]:
    if _STATE.get("sandbox") is not sandbox:
        _STATE.clear()
        _STATE.update(sandbox=sandbox, pos=[], pos_made=[], received=[])
    return sandbox.services["netsuite"], sandbox.services["xseries"]


def _oauth() -> dict[str, int]:
    oauth = _STATE["sandbox"].services["xseries"].oauth
    return {"refreshed": oauth.refreshed, "reused": oauth.refresh_reuse_rejected}


def _supplier_orders(xs: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cons in xs.store.consignments.values():
        if cons["type"] == "SUPPLIER" and not cons["deleted_at"]:
            out.setdefault(cons.get("reference") or "", []).append(cons["id"])
    return out


def _counts(ns: Any, xs: Any) -> dict[str, int]:
    return {
        "consignments_created": len(xs.store.created_via_api),
        "netsuite_pos": len(list(ns.store.iter_docs("purchaseOrder"))),
    }


# -- vend_token_refresh ------------------------------------------------------------------------------


def _before_refresh(sandbox: Any, pass_no: int) -> None:
    _ns, xs = _services(sandbox)
    xs.set_knobs(access_token_ttl_seconds=DEMO_TOKEN_TTL, registers=10)
    _STATE["oauth_before"] = _oauth()


def _check_refresh(result: Result, pass_no: int) -> list[str]:
    now, before = _oauth(), _STATE["oauth_before"]
    problems = []
    if now["refreshed"] <= before["refreshed"]:
        problems.append("the token refresh run did not rotate the pair")
    if now["reused"]:
        problems.append(f"{now['reused']} refresh(es) with a rotated-away token (lockout risk)")
    return problems


# -- vend_purchase_order_sync ------------------------------------------------------------------------


def _new_pos(ns: Any) -> list[dict[str, str]]:
    """Five Pending Receipt POs of three lines at the three mapped locations (a buyer in NetSuite)."""
    store = ns.store
    vendor = str(store.query("SELECT id FROM vendor ORDER BY id LIMIT 1")[0]["id"])
    locations = [str(r["id"]) for r in store.query("SELECT id FROM location ORDER BY id LIMIT 3")]
    items = [
        str(r["id"])
        for r in store.query("SELECT id FROM item WHERE itemid LIKE 'SKU-%' ORDER BY id LIMIT 12")
    ]
    made = []
    for index in range(NEW_POS):
        lines = [
            {"item": {"id": items[(index * 2 + k) % len(items)]}, "quantity": 3 + k, "rate": 4.5 + k}
            for k in range(3)
        ]
        body = {
            "entity": {"id": vendor},
            "location": {"id": locations[index % len(locations)]},
            "memo": f"X-Series demo PO {index + 1}",
            "item": {"items": lines},
        }
        po_id = str(store.create("purchaseOrder", body))
        made.append({"id": po_id, "tranid": store.get("purchaseOrder", po_id)["tranId"]})
    return made


def _before_po_sync(sandbox: Any, pass_no: int) -> None:
    ns, xs = _services(sandbox)
    if pass_no == 1:
        _STATE["pos"] = _new_pos(ns)
        order = xs.staff.create_supplier_order(
            outlet="Store Airport",
            supplier="Globex Supply",
            lines={"SKU-00003": 4, "SKU-00007": 2},
            reference="POS-DEMO-1",
        )
        _STATE["pos_made"] = [order["id"]]
        # A run on a fast machine can finish inside the short token lifetime: the token the refresh
        # just stored is expired server-side now, so the run's first call meets a 401 and must rotate.
        xs.oauth.expire_access_tokens()
    _STATE["oauth_before"] = _oauth()
    _STATE["counts_before"] = _counts(ns, xs)


def _check_po_sync(result: Result, pass_no: int) -> list[str]:
    sandbox = _STATE["sandbox"]
    ns, xs = sandbox.services["netsuite"], sandbox.services["xseries"]
    records, problems = result["records"], []
    if records["failed"]:
        problems.append(f"{records['failed']} order(s) failed")
    orders = _supplier_orders(xs)
    twice = {ref: ids for ref, ids in orders.items() if ref and len(ids) > 1}
    if twice:
        problems.append(f"consignments made twice: {twice}")
    missing = [po["tranid"] for po in _STATE["pos"] if po["tranid"] not in orders]
    if missing:
        problems.append(f"POs without a consignment: {missing}")
    made = [
        d for d in ns.store.iter_docs("purchaseOrder") if str(d.get("externalId", "")).startswith("VEND-")
    ]
    if len(made) != len(_STATE["pos_made"]):
        problems.append(f"expected {len(_STATE['pos_made'])} NetSuite PO(s) from the POS, found {len(made)}")
    now, before = _oauth(), _STATE["oauth_before"]
    if now["reused"]:
        problems.append(f"{now['reused']} refresh(es) with a rotated-away token (lockout risk)")
    counts = _counts(ns, xs)
    if pass_no == 1:
        if now["refreshed"] <= before["refreshed"]:
            problems.append("the access token was not rotated during the run (token TTL knob)")
        if records["synced"] < NEW_POS + len(_STATE["pos_made"]):
            problems.append(f"expected at least {NEW_POS} POs + the POS order synced, got {records}")
    else:
        if counts != _STATE["counts_before"]:
            problems.append(f"pass 2 created something: {_STATE['counts_before']} -> {counts}")
        # the PO made from the POS order was recorded on the push side when it was made: nothing moves
        if records["synced"]:
            problems.append(f"pass 2 should find nothing new, got {records}")
    return problems


# -- vend_item_receipt_sync --------------------------------------------------------------------------


def _before_receipts(sandbox: Any, pass_no: int) -> None:
    ns, xs = _services(sandbox)
    if pass_no == 1:
        chosen = _STATE["pos"][:RECEIVE]
        for po in chosen:  # the warehouse saves the (only) item receipt of each
            ns.store.transform("purchaseOrder", po["id"], "itemReceipt", {})
        _STATE["received"] = chosen
    _STATE["counts_before"] = _counts(ns, xs)
    _STATE["bulk_before"] = xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0)


def _check_receipts(result: Result, pass_no: int) -> list[str]:
    xs = _STATE["sandbox"].services["xseries"]
    records, problems = result["records"], []
    if records["failed"]:
        problems.append(f"{records['failed']} receipt(s) failed")
    orders = _supplier_orders(xs)
    for po in _STATE["received"]:
        ids = orders.get(po["tranid"], [])
        status = xs.store.consignments[ids[0]]["status"] if ids else None
        if status != "RECEIVED":
            problems.append(f"{po['tranid']}: consignment is {status}, expected RECEIVED")
    for po in _STATE["pos"][RECEIVE:]:
        ids = orders.get(po["tranid"], [])
        if ids and xs.store.consignments[ids[0]]["status"] == "RECEIVED":
            problems.append(f"{po['tranid']} was received in X-Series without a NetSuite receipt")
    if pass_no == 1 and records["synced"] < RECEIVE:
        problems.append(f"expected {RECEIVE} consignments received, got {records}")
    if pass_no > 1:
        bulk = xs.stats.as_dict()["by_route"].get("POST consignments/{id}/bulk", 0)
        if records["synced"] or bulk != _STATE["bulk_before"]:
            problems.append(
                f"pass 2 should receive nothing again, got {records} ({bulk - _STATE['bulk_before']} bulk calls)"
            )
    return problems


XSERIES_PO_DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        group="xseries",
        dag_id="vend_token_refresh",
        before=_before_refresh,
        check=_check_refresh,
        timeout=300,
    ),
    DemoFlow(
        group="xseries",
        dag_id="vend_purchase_order_sync",
        conf={"resync_po_numbers": [], "dry_run": False},
        before=_before_po_sync,
        check=_check_po_sync,
        timeout=600,
    ),
    DemoFlow(
        group="xseries",
        dag_id="vend_item_receipt_sync",
        conf={"dry_run": False},
        before=_before_receipts,
        check=_check_receipts,
        timeout=600,
    ),
]
