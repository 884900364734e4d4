"""Deep links from a ledger record: its DAG run and task log in the Airflow UI, its NetSuite record.

The Airflow UI routes are those of Airflow 3's React UI (``/dags/<dag>/runs/<run>/tasks/<task>``,
whose first tab is the log; ``/mapped/<i>`` for one mapped task instance). NetSuite record pages
live on the account's own host, ``https://<account>.app.netsuite.com``, under the record type's
``.nl`` page with ``?id=<internal id>``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

#: ledger entity type -> NetSuite UI page of that record type
NETSUITE_PAGES = {
    "purchase_order": "/app/accounting/transactions/purchord.nl",
    "item_receipt": "/app/accounting/transactions/itemrcpt.nl",
    "item_fulfillment": "/app/accounting/transactions/itemship.nl",
    "vendor_bill": "/app/accounting/transactions/vendbill.nl",
    "transfer_order": "/app/accounting/transactions/trnfrord.nl",
}


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def dag_run_url(base: str, dag_id: str | None, run_id: str | None) -> str | None:
    if not dag_id or not run_id:
        return None
    return f"{base}/dags/{_q(dag_id)}/runs/{_q(run_id)}"


def task_log_url(
    base: str, dag_id: str | None, run_id: str | None, task_id: str | None, map_index: int | None = None
) -> str | None:
    run = dag_run_url(base, dag_id, run_id)
    if run is None or not task_id:
        return None
    url = f"{run}/tasks/{_q(task_id)}"
    if map_index is not None and map_index >= 0:
        url += f"/mapped/{int(map_index)}"
    return url


def netsuite_app_host(account_id: str | None) -> str | None:
    """``1234567_SB1`` -> ``https://1234567-sb1.app.netsuite.com``."""
    if not account_id:
        return None
    return f"https://{account_id.strip().replace('_', '-').lower()}.app.netsuite.com"


def netsuite_record_url(account_id: str | None, record: dict[str, Any]) -> str | None:
    """The NetSuite UI page of the record, when one side of it is a NetSuite internal id."""
    host = netsuite_app_host(account_id)
    page = NETSUITE_PAGES.get(str(record.get("entity_type")))
    if host is None or page is None:
        return None
    if record.get("target_system") == "netsuite" and str(record.get("target_id") or "").isdigit():
        internal_id = record["target_id"]
    elif record.get("source_system") == "netsuite" and str(record.get("source_id") or "").isdigit():
        internal_id = record["source_id"]
    else:
        return None
    return f"{host}{page}?{urlencode({'id': internal_id})}"


def netsuite_account_id(conn_id: str = "netsuite_default") -> str | None:
    """The account id of the NetSuite connection, or None when there is none (never raises)."""
    try:
        from airflow.sdk import BaseHook

        extra = BaseHook.get_connection(conn_id).extra_dejson
    except Exception:  # noqa: BLE001 - a page without the NetSuite link is better than no page
        return None
    value = extra.get("account_id") or extra.get("extra__netsuite__account_id")
    return str(value) if value else None
