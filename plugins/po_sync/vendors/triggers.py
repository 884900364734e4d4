"""Triggers for the vendor flows: they run in the triggerer and serialize only plain arguments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from po_sync.vendors.s3 import first_files

__all__ = ["S3PrefixesTrigger"]


class S3PrefixesTrigger(BaseTrigger):
    """Fires when any of ``locations`` (``[bucket, prefix]`` pairs) holds an object, or at ``deadline``.

    :param locations: where to look.
    :param aws_conn_id: the S3 connection.
    :param poke_interval: seconds between checks.
    :param deadline: ISO timestamp after which it fires with ``status = "timeout"``.
    """

    def __init__(
        self, locations: list[list[str]], aws_conn_id: str, poke_interval: float, deadline: str
    ) -> None:
        super().__init__()
        self.locations = [list(x) for x in locations]
        self.aws_conn_id = aws_conn_id
        self.poke_interval = poke_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "locations": self.locations,
                "aws_conn_id": self.aws_conn_id,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            found = await asyncio.to_thread(first_files, self.aws_conn_id, self.locations)
            if found:
                yield TriggerEvent({"status": "found", "locations": found})
                return
            if datetime.now(UTC) >= deadline:
                yield TriggerEvent({"status": "timeout"})
                return
            await asyncio.sleep(self.poke_interval)
