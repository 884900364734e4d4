"""Runtime knobs of the X-Series sandbox: token lifetime, rate budget, latency, error shape and faults.

Every knob can be changed while the server runs, from Python (``service.set_knobs(...)`` /
``service.inject_fault(...)``) or over HTTP (``POST /_sandbox/knobs``, ``POST /_sandbox/faults``).
Where Lightspeed's documentation leaves a behaviour open (``reference/external-systems.md`` §1 marks
it *unverified*), the knob picks between the readings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from po_sync_sandbox.faults import FAULT_KINDS

ERROR_SHAPES = ("2x", "legacy")


@dataclass
class Knobs:
    """What the sandbox does differently from a quiet X-Series retailer.

    :param access_token_ttl_seconds: lifetime of OAuth access tokens (the docs disagree: 604800 in the
        changelog, 86400 in the proposal, "typically 1 hour" elsewhere; connectors must use ``expires``).
    :param auth_code_ttl_seconds: lifetime of an authorization code (the proposal: 10 minutes, single use).
    :param revoked_refresh_status: HTTP status for a revoked / unknown refresh token (400 ``invalid_grant``
        per RFC 6749; some clients report 401).
    :param revoke_access_on_refresh: also revoke the access token issued with the old refresh token.
    :param registers: registers counted by the rate budget ``300 × registers + 50`` per window (None = the
        registers the retailer has, as ``GET /registers`` lists them).
    :param rate_limit: a fixed budget per window instead of the register formula (None = formula).
    :param rate_window_seconds: the budget's window (Lightspeed: 300 s). The benchmark scales it down.
    :param token_rate_limit: budget per window of the token endpoint (limited separately; None = off).
    :param latency_ms: server time added to every API call (not ``/_sandbox``).
    :param default_page_size: ``page_size`` when a list request gives none.
    :param max_page_size: largest ``page_size`` served (larger values are clamped).
    :param bulk_max: most lines one ``POST /consignments/{id}/bulk`` accepts (documented: 500).
    :param error_shape: ``2x`` = ``{"error","message"}``; ``legacy`` = ``{"errors":{"global":[...]}, "reference"}``.
    :param fault_rates: probability per call of each fault kind, from a RNG seeded with ``fault_seed``.
    :param fault_seed: seed of that RNG.
    :param timeout_seconds: how long a ``timeout`` fault holds the response back.
    :param require_json_content_type: 415 on a JSON write without ``Content-Type: application/json``.
    """

    access_token_ttl_seconds: int = 86400
    auth_code_ttl_seconds: int = 600
    revoked_refresh_status: int = 400
    revoke_access_on_refresh: bool = False
    registers: int | None = None
    rate_limit: int | None = None
    rate_window_seconds: float = 300.0
    token_rate_limit: int | None = None
    latency_ms: float = 0.0
    default_page_size: int = 100
    max_page_size: int = 10_000
    bulk_max: int = 500
    error_shape: str = "2x"
    fault_rates: dict[str, float] = field(default_factory=dict)
    fault_seed: int = 7
    timeout_seconds: float = 5.0
    require_json_content_type: bool = False

    def budget(self, registers: int) -> int:
        """Requests allowed per window: the fixed ``rate_limit`` or ``300 × registers + 50``.

        :param registers: the retailer's register count, used when the ``registers`` knob is None.
        """
        if self.rate_limit is not None:
            return self.rate_limit
        return 300 * (self.registers if self.registers is not None else registers) + 50

    def as_dict(self) -> dict[str, Any]:
        """The knobs as JSON-able values."""
        return asdict(self)


def update_knobs(knobs: Knobs, values: dict[str, Any]) -> Knobs:
    """Set knobs from a mapping; unknown names or values raise ``KeyError``."""
    names = {f.name for f in fields(Knobs)}
    for key, value in values.items():
        if key not in names:
            raise KeyError(key)
        if key == "fault_rates" and any(k not in FAULT_KINDS for k in value):
            raise KeyError(f"fault_rates: use kinds from {FAULT_KINDS}")
        if key == "error_shape" and value not in ERROR_SHAPES:
            raise KeyError(f"error_shape={value!r} (use one of {ERROR_SHAPES})")
        setattr(knobs, key, value)
    return knobs
