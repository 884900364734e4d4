"""POS-made consignments a crashed pull left ``in_progress``: settled from what NetSuite holds.

The pull of ``vend_purchase_order_sync`` (SUPPLIER) and ``vend_transfer_order_sync`` (OUTLET) writes
one NetSuite order per POS-made consignment, by external id ``VEND-<consignment id>``, and then
records it. A crash in between leaves the consignment's record ``in_progress`` while NetSuite already
holds the order; on the next DAG run the push task sees that order first (it carries the consignment
id) and records it as its own, so the pull then takes the consignment for one made from NetSuite and
never reads it again: the record would stay open for good. Each pull therefore looks at such records
first (DESIGN.md, rule 1: the ledger agrees with the targets):

- NetSuite has the order (by external id): the record is ``synced`` to it, and the push side's record
  of that order is written too (``link``), so the push never counts it as its own write;
- no order, and the consignment is no longer one the pull takes (deleted, received, cancelled):
  ``ignored``, with the reason;
- no order and the consignment still waits: left as it is; the change feed (whose cursor a crashed
  run never moved) brings it again and the pull sends it then.

A record another run still holds is ``busy`` and left to that run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from po_sync.exceptions import RecordSkipped
from po_sync.ledger import Action, RecordStatus
from po_sync.validation import suiteql_string
from po_sync.xseries.mapping import external_id

if TYPE_CHECKING:
    from po_sync.netsuite import NetSuiteHook
    from po_sync.sync import SyncRun
    from po_sync.xseries.hook import XSeriesHook
    from po_sync.xseries.models import Consignment

ENTITY_TYPE = "consignment"
#: the pull's payload hash: a POS-made order is written once, ever
CREATED = "created"
#: at most this many left-behind records are settled per run (the rest the next run)
SETTLE_LIMIT = 100
_ID_RE = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def settle_interrupted(
    run: SyncRun,
    ns: NetSuiteHook,
    xs: XSeriesHook,
    *,
    record_type: str,
    takes: Callable[[Consignment], bool],
    link: Callable[[str, str], None],
    log: Any,
) -> list[str]:
    """Settle this flow's ``in_progress`` consignment records (see the module doc); the ids settled.

    :param record_type: the NetSuite record the pull makes (``purchaseOrder``, ``transferOrder``).
    :param takes: whether the pull still takes a consignment as it now is (status, type, not deleted).
    :param link: records the push side's record of a NetSuite order (order id, consignment id).
    """
    settled: list[str] = []
    stuck = run.ledger.find(
        run.flow, statuses=(RecordStatus.IN_PROGRESS,), entity_type=ENTITY_TYPE, limit=SETTLE_LIMIT
    )
    for state in stuck:
        cid = state.key.source_id
        if state.key.source_system != "xseries" or not _ID_RE.fullmatch(cid):
            continue
        found = ns.find_record(
            record_type, f"eid:{external_id(cid)}", expand_sub_resources=False, fields=["id"]
        )
        cons = None if found is not None else xs.consignment(cid)
        if found is None and cons is not None and takes(cons):
            continue  # not written yet: the feed brings it again
        # an order not made is recorded with no hash: should the consignment open again, it goes out
        decision = run.begin(state.key, payload_hash=CREATED if found is not None else None)
        if decision.action is Action.BUSY:
            continue  # a live run holds it: that run finishes it
        if found is not None:
            link(found.id, cid)
            log.info("consignment %s: %s %s made before a crash; recorded", cid, record_type, found.id)
            run.synced(decision, target_system="netsuite", target_id=found.id)
        else:
            now = "deleted" if cons is None or cons.deleted_at else f"{cons.status}"
            run.ignored(
                decision,
                code="NO_LONGER_OPEN",
                reason=f"consignment {cid} is {now} in X-Series and no NetSuite {record_type} was made for it",
            )
        settled.append(cid)
    return settled


def order_already_in_netsuite(
    ns: NetSuiteHook,
    cons: Consignment,
    *,
    transaction_type: str,
    consignment_field: str,
    what: str,
    link: Callable[[str, str], None],
) -> str | None:
    """The NetSuite order an earlier pull made for ``cons`` (its id, recorded with ``link`` as in
    :func:`settle_interrupted`), or ``None`` when NetSuite has none. Raises :class:`RecordSkipped`
    (``FROM_NETSUITE``) when ``cons`` was made from a NetSuite order: NetSuite holds an order of
    another external id that carries the consignment's id or whose number is its reference.

    The push records a consignment as its own only once the create's answer came back. A create whose
    answer was lost (dropped connection, timeout), or a push that failed after it, leaves a consignment
    in X-Series the push's ledger does not name yet; the pull must not take it for one made in the POS
    (it would write the order a second time, or quarantine a half-made one). Its reference is the
    NetSuite order's number, and the push finds it by that reference on its next try.

    :param transaction_type: SuiteQL ``transaction.type`` of the pull's order (``PurchOrd``, ``TrnfrOrd``).
    :param what: how the consignment is named in the skip reason (``transfer T-1``, ``order POS-1``).
    """
    clauses = [f"t.{consignment_field} = {suiteql_string(cons.id)}"]
    if cons.reference:
        clauses.append(f"t.tranid = {suiteql_string(cons.reference)}")
    rows = list(
        ns.suiteql(
            "SELECT t.id AS id, t.tranid AS tranid, t.externalid AS externalid FROM transaction t "
            f"WHERE t.type = {suiteql_string(transaction_type)} AND ({' OR '.join(clauses)}) ORDER BY t.id"
        )
    )
    for row in rows:
        if str(row.get("externalid") or "") == external_id(cons.id):
            link(str(row["id"]), cons.id)  # the order an earlier (crashed) pull already made
            return str(row["id"])
    if rows:
        raise RecordSkipped(
            f"{what} (consignment {cons.id}) belongs to NetSuite order {rows[0].get('tranid')}",
            code="FROM_NETSUITE",
            record_id=cons.id,
        )
    return None
