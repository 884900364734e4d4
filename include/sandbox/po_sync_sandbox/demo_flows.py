"""The flows ``make demo`` runs, in order, with the sandbox actors that act between them.

Each flow issue adds its DAGs here: the conf to trigger with, an optional ``before`` step (a vendor
ships, store staff receive...), and an optional ``check`` that turns a wrong outcome into a listed
problem, so the demo fails loudly instead of printing a pretty table over a broken flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from po_sync_sandbox.runner import Sandbox

Result = dict[str, Any]


@dataclass(frozen=True)
class DemoFlow:
    """One DAG of the demo.

    :param dag_id: the DAG to trigger.
    :param conf: the trigger conf (validated against the DAG's params by Airflow).
    :param before: called with the sandbox and the pass number before the run is triggered.
    :param check: returns a list of problems with the run's result (empty when all is well).
    :param timeout: seconds to wait for the run.
    :param group: flows of one group run their passes together (pass 1 of each, then pass 2 of
        each) before the next group starts, so one group's second pass is not disturbed by another
        group changing the same NetSuite records in between (a changed PO is rightly re-sent).
    """

    dag_id: str
    conf: dict[str, Any] = field(default_factory=dict)
    before: Callable[[Sandbox, int], None] | None = None
    check: Callable[[Result, int], list[str]] | None = None
    timeout: float = 600
    group: str = ""


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
                "smtp_default",
            ]
        },
        check=_healthcheck_all_healthy,
    ),
]


def all_demo_flows() -> list[DemoFlow]:
    """Every flow of the demo, in order: the health check, then each flow issue's own list.

    Imported here, not at module level, because those modules import :class:`DemoFlow` from this one.
    """
    from po_sync_sandbox.demo_hotwax import HOTWAX_DEMO_FLOWS
    from po_sync_sandbox.demo_vendors import VENDOR_DEMO_FLOWS

    return [*DEMO_FLOWS, *HOTWAX_DEMO_FLOWS, *VENDOR_DEMO_FLOWS]
