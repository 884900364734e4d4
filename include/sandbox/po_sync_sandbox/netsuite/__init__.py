"""A faithful local NetSuite (SuiteTalk REST records, SuiteQL, TBA + M2M auth, governance, faults)."""

from __future__ import annotations

from po_sync_sandbox.netsuite.generator import GenerateSpec
from po_sync_sandbox.netsuite.knobs import Knobs
from po_sync_sandbox.netsuite.service import NetSuiteService

__all__ = ["GenerateSpec", "Knobs", "NetSuiteService"]
