"""NetSuite SuiteTalk REST + SuiteQL: the hook, its connection type and the values it returns.

``NetSuiteHook`` is imported lazily so that reading ``NETSUITE_CONNECTION`` (provider metadata) does not
import the Airflow SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from po_sync.hooks.netsuite.connection import NETSUITE_CONNECTION

if TYPE_CHECKING:
    from po_sync.hooks.netsuite.hook import NetSuiteHook

__all__ = ["NETSUITE_CONNECTION", "NetSuiteHook"]


def __getattr__(name: str) -> Any:
    if name == "NetSuiteHook":
        from po_sync.hooks.netsuite.hook import NetSuiteHook

        return NetSuiteHook
    raise AttributeError(name)
