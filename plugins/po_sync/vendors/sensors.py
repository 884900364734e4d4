"""Sensors for the vendor flows: deferrable waits on the vendors' inbound folders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from po_sync.task_failure import fail_fast_on_fatal
from po_sync.vendors.s3 import first_files
from po_sync.vendors.settings import VARIABLE_KEY, load_vendors_config
from po_sync.vendors.triggers import S3PrefixesTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["VendorFilesSensor"]


class VendorFilesSensor(BaseSensorOperator):
    """Wait, deferred in the triggerer, until any vendor's inbound folder holds a file; skip after ``wait_for``.

    :param vendor_id: only this vendor (templated; empty = all enabled vendors).
    :param aws_conn_id: the S3 connection.
    :param wait_minutes: how long to wait before skipping the run (nothing arrived); templated.
    :param variable_key: Airflow Variable with the vendor settings.
    """

    template_fields: Sequence[str] = ("vendor_id", "wait_minutes")

    def __init__(
        self,
        *,
        vendor_id: Any = "",
        aws_conn_id: str = "aws_default",
        wait_minutes: Any = 25,
        variable_key: str = VARIABLE_KEY,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 30)
        super().__init__(**kwargs)
        self.vendor_id = vendor_id
        self.aws_conn_id = aws_conn_id
        self.wait_minutes = wait_minutes
        self.variable_key = variable_key

    def _locations(self) -> list[list[str]]:
        config = load_vendors_config(self.variable_key)
        return [[v.bucket, v.inbound_prefix] for v in config.active(str(self.vendor_id or "") or None)]

    def poke(self, context: Context) -> bool:
        return bool(first_files(self.aws_conn_id, self._locations()))

    @fail_fast_on_fatal()
    def execute(self, context: Context) -> Any:
        locations = self._locations()
        found = first_files(self.aws_conn_id, locations)
        if found:
            return {"found": found}
        deadline = (datetime.now(UTC) + timedelta(minutes=float(self.wait_minutes or 0))).isoformat()
        self.defer(
            trigger=S3PrefixesTrigger(locations, self.aws_conn_id, float(self.poke_interval), deadline),
            method_name="execute_complete",
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        if not event or event.get("status") != "found":
            raise AirflowSkipException("no vendor file arrived in time; nothing to merge this run")
        return {"found": event["locations"]}
