"""The flows ``make demo`` runs, in order, with the sandbox actors that act between them.

Each flow issue adds its DAGs here: the conf to trigger with, an optional ``before`` step (a vendor
ships, store staff receive...), and an optional ``check`` that turns a wrong outcome into a listed
problem, so the demo fails loudly instead of printing a pretty table over a broken flow.
"""

from __future__ import annotations

from po_sync_sandbox.demo_flow import DemoFlow, Result
from po_sync_sandbox.hotwax.demo import HOTWAX_DEMO_FLOWS
from po_sync_sandbox.onetrail.demo import ONETRAIL_DEMO_FLOWS
from po_sync_sandbox.servicenow.demo import SERVICENOW_DEMO_FLOWS
from po_sync_sandbox.vendors.demo import VENDOR_DEMO_FLOWS
from po_sync_sandbox.xseries.demo_purchase_orders import XSERIES_PO_DEMO_FLOWS
from po_sync_sandbox.xseries.transfer_demo import XSERIES_TRANSFER_DEMO_FLOWS

__all__ = ["DEMO_FLOWS", "DemoFlow", "Result", "all_demo_flows"]


def _healthcheck_all_healthy(result: Result, pass_no: int) -> list[str]:
    records = result["records"]
    problems = []
    if records["failed"]:
        problems.append(f"{records['failed']} connection(s) failed their check")
    if records["synced"] != records["read"] or not records["read"]:
        problems.append(f"expected every connection checked and healthy, got {records}")
    return problems


DEMO_FLOWS: list[DemoFlow] = [
    DemoFlow(
        dag_id="po_sync_healthcheck",
        conf={
            "connections": [
                "po_sync_db",
                "netsuite_default",
                "netsuite_m2m",
                "aws_default",
                "sftp_default",
                "onetrail_sftp",
                "smtp_default",
                "servicenow_default",
                "servicenow_oauth",
            ]
        },
        check=_healthcheck_all_healthy,
    ),
]


def all_demo_flows() -> list[DemoFlow]:
    """Every flow of the demo, in order: the health check, then each partner's own list."""

    return [
        *DEMO_FLOWS,
        *HOTWAX_DEMO_FLOWS,
        *VENDOR_DEMO_FLOWS,
        *SERVICENOW_DEMO_FLOWS,
        *ONETRAIL_DEMO_FLOWS,
        *XSERIES_PO_DEMO_FLOWS,
        *XSERIES_TRANSFER_DEMO_FLOWS,
    ]
