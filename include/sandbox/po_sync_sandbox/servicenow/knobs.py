"""Runtime knobs of the ServiceNow stand-in: latency, the rate-limit rule, faults and open questions.

Change them from Python (``service.set_knobs(...)`` / ``service.inject_fault(...)``) or over HTTP
(``POST /_sandbox/knobs``, ``POST /_sandbox/faults``).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

FAULT_KINDS = ("429", "500", "503", "drop")


@dataclass
class Knobs:
    """What the stand-in does differently from a quiet instance.

    :param latency_ms: added to every API call (not ``/_sandbox``).
    :param rate_limit_per_hour: an inbound REST rate-limit rule (``sys_rate_limit_rules``) for every
        user: past this many calls in the hour the instance answers 429; None = no rule.
    :param retry_after_seconds: the ``Retry-After`` (seconds) on a 429; None = seconds until the hour ends.
    :param token_lifetime_seconds: OAuth access token lifespan (Application Registry; 1800 is common).
    :param refresh_token_lifetime_seconds: OAuth refresh token lifespan.
    :param client_credentials_enabled: ``glide.oauth.inbound.client.credential.grant_type.enabled``.
    :param invalid_query_returns_no_rows: ``glide.invalid_query.returns_no_rows`` (default false: invalid
        parts of a query are ignored).
    :param unversioned_table_version: what ``/api/now/table`` behaves as (``v1``: 404 on an empty list).
    :param default_limit: ``sysparm_limit`` when none is given (10000).
    :param batch_max_requests: most ``rest_requests`` one Batch API call takes; more is 400 (None = any).
    """

    latency_ms: float = 0.0
    rate_limit_per_hour: int | None = None
    retry_after_seconds: int | None = 1
    token_lifetime_seconds: int = 1800
    refresh_token_lifetime_seconds: int = 8_640_000
    client_credentials_enabled: bool = False
    invalid_query_returns_no_rows: bool = False
    unversioned_table_version: str = "v2"
    default_limit: int = 10_000
    batch_max_requests: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def update_knobs(knobs: Knobs, values: dict[str, Any]) -> Knobs:
    """Set knobs from a mapping; unknown names raise ``KeyError``."""
    names = {f.name for f in fields(Knobs)}
    for key, value in values.items():
        if key not in names:
            raise KeyError(key)
        setattr(knobs, key, value)
    return knobs


@dataclass
class ScriptedFault:
    """The next ``count`` calls whose method and path match get ``kind``."""

    kind: str
    count: int = 1
    method: str | None = None
    path_contains: str | None = None


class FaultPlan:
    """Scripted faults, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripted: list[ScriptedFault] = []

    def inject(self, fault: ScriptedFault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._scripted.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._scripted.clear()

    def next_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._scripted:
                if fault.method and fault.method.upper() != method.upper():
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._scripted.remove(fault)
                return fault.kind
        return None
