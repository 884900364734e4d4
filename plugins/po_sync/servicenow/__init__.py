"""ServiceNow Source-to-Pay -> NetSuite: the ``servicenow`` connection, its hook and the S2P PO flow.

What lives where:

* :mod:`.settings` - the ``servicenow`` connection type (form fields) and the flow's table names / rules;
* :mod:`.hooks` - :class:`ServiceNowHook` (Table API, Batch API, Basic / OAuth, paging, retries);
* :mod:`.mapping` - staging records -> NetSuite purchase-order bodies (pure: ERP mapping, line split);
* :mod:`.operators` - :class:`S2PPurchaseOrderSyncOperator`, the ``s2p_purchase_order_sync`` task.

``ServiceNowHook`` is imported lazily so that reading the provider metadata does not import the Airflow SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from po_sync.servicenow.settings import SERVICENOW_CONNECTION

if TYPE_CHECKING:
    from po_sync.servicenow.hooks import ServiceNowHook

__all__ = ["SERVICENOW_CONNECTION", "ServiceNowHook"]


def __getattr__(name: str) -> Any:
    if name == "ServiceNowHook":
        from po_sync.servicenow.hooks import ServiceNowHook

        return ServiceNowHook
    raise AttributeError(name)
