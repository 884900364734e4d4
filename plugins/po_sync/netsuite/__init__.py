"""NetSuite SuiteTalk REST + SuiteQL: the hook, its connection type, the values it returns, and the
NetSuite-side mapping every flow shares.

What lives where:

* :mod:`.hook` - :class:`NetSuiteHook` (records, SuiteQL, transforms), built from :mod:`.transport`
  (signed requests, retries, error mapping), :mod:`.auth` (TBA and M2M), :mod:`.limiter` (governance
  concurrency), :mod:`.paging` (SuiteQL pages), :mod:`.asyncjob` (``Prefer: respond-async`` jobs);
* :mod:`.connection` / :mod:`.account` - the ``netsuite`` connection type, its fields and the pool;
* :mod:`.errors` - NetSuite's error envelope mapped to the package's retriable / fatal errors;
* :mod:`.models` - typed values the hook returns;
* :mod:`.mapping` - NetSuite POs <-> the canonical model, canonical documents -> NetSuite bodies.

``NetSuiteHook`` is imported lazily so that reading ``NETSUITE_CONNECTION`` (provider metadata) does not
import the Airflow SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from po_sync.netsuite.connection import NETSUITE_CONNECTION

if TYPE_CHECKING:
    from po_sync.netsuite.hook import NetSuiteHook

__all__ = ["NETSUITE_CONNECTION", "NetSuiteHook"]


def __getattr__(name: str) -> Any:
    if name == "NetSuiteHook":
        from po_sync.netsuite.hook import NetSuiteHook

        return NetSuiteHook
    raise AttributeError(name)
