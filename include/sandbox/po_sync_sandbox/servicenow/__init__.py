"""A faithful local ServiceNow instance (Table API, Batch API, OAuth, HTTPS) with the S2P procurement tables."""

from __future__ import annotations

from po_sync_sandbox.servicenow.knobs import Knobs
from po_sync_sandbox.servicenow.service import ServiceNowService

__all__ = ["Knobs", "ServiceNowService"]
