"""What one flow of ``make demo`` is: the DAG, its conf, the actors' step before it and the check after.

Partner demos (``po_sync_sandbox/<partner>/demo.py``) build :class:`DemoFlow` values from this module;
:mod:`po_sync_sandbox.demo_flows` lists them in order.
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
