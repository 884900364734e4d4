"""The ledger: one status table that says where every record of every flow stands."""

from po_sync.ledger.schema import RecordStatus, RunStatus
from po_sync.ledger.store import Action, Decision, Ledger, RecordKey, RecordState, RunContext

__all__ = [
    "Action",
    "Decision",
    "Ledger",
    "RecordKey",
    "RecordState",
    "RecordStatus",
    "RunContext",
    "RunStatus",
]
