"""A faithful local Lightspeed Retail X-Series (formerly Vend): API 2.0 + date-versioned alias, OAuth 2.0
with rotating refresh tokens, personal tokens, consignments, products, outlets, suppliers, the version
cursor, the 5-minute rate budget and fault knobs (``reference/external-systems.md`` §1)."""

from __future__ import annotations

from po_sync_sandbox.xseries.knobs import Knobs
from po_sync_sandbox.xseries.service import XSeriesService

__all__ = ["Knobs", "XSeriesService"]
