"""Who receives a purchase order into NetSuite: the vendor flows (ship notices) or HotWax (store receiving).

Both flows can create item receipts for the same standard PO; if both did, the second would fail with
``OVER_RECEIPT`` (or, worse, receive twice what arrived once). The Airflow Variable
``po_sync_receiving`` says which flow owns receiving, per location and per vendor::

    {"default": "vendor_files",
     "vendors": {"V0002": "hotwax"},
     "locations": {"3": "hotwax"}}

``locations`` (NetSuite location internal ids of the PO) win over ``vendors`` (vendor ``entityId``),
which win over ``default``. Owners: ``vendor_files`` (``vendor_fulfillment_import``), ``hotwax``
(``hotwax_receipt_import``) or ``any`` (no owner: both may receive, as before this setting existed;
the default when the Variable is not set). The flow that does not own a PO skips its receipt as
``ignored`` with the reason on the ledger page, instead of failing.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from po_sync.exceptions import ConfigurationError

__all__ = ["OWNER_FLOWS", "VARIABLE_KEY", "ReceivingOwnership", "load_receiving", "parse_receiving"]

VARIABLE_KEY = "po_sync_receiving"
Owner = Literal["vendor_files", "hotwax", "any"]
#: Owner → the DAG that receives, for messages.
OWNER_FLOWS = {
    "vendor_files": "vendor_fulfillment_import",
    "hotwax": "hotwax_receipt_import",
    "any": "any flow",
}


class ReceivingOwnership(BaseModel):
    """Which flow receives POs, by location, vendor, or by default.

    :param default: the owner where no location or vendor entry applies.
    :param vendors: vendor ``entityId`` → owner.
    :param locations: NetSuite location internal id → owner (wins over ``vendors``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Owner = "any"
    vendors: dict[str, Owner] = {}
    locations: dict[str, Owner] = {}

    def owner(self, *, vendor: str | None, location: str | None) -> tuple[Owner, str]:
        """The owner of a PO and the setting that decided it (for the reason a person reads)."""
        if location is not None and str(location) in self.locations:
            return self.locations[str(location)], f"{VARIABLE_KEY}.locations[{str(location)!r}]"
        if vendor is not None and vendor in self.vendors:
            return self.vendors[vendor], f"{VARIABLE_KEY}.vendors[{vendor!r}]"
        return self.default, f"{VARIABLE_KEY}.default"

    def skip_reason(self, flow: str, *, po: str, vendor: str | None, location: str | None) -> str | None:
        """Why ``flow`` (``vendor_files`` or ``hotwax``) must not receive ``po`` (None = it may)."""
        owner, setting = self.owner(vendor=vendor, location=location)
        if owner in ("any", flow):
            return None
        return (
            f"PO {po} (vendor {vendor or '?'}, location {location or '?'}) is received by "
            f"{OWNER_FLOWS[owner]} ({setting} = {owner!r}); not received here"
        )


def parse_receiving(
    data: str | bytes | dict[str, Any] | None, *, source: str = VARIABLE_KEY
) -> ReceivingOwnership:
    """Validate the setting (None or empty = no owner: both flows may receive).

    :raises ConfigurationError: naming the source and the wrong field.
    """
    if not data:
        return ReceivingOwnership()
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        return ReceivingOwnership.model_validate(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source}: not JSON ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"{source}: {problems}") from None


def load_receiving(variable_key: str = VARIABLE_KEY) -> ReceivingOwnership:
    """The setting in force (the Airflow Variable; not set = no owner). Call from a task, not at parse time."""
    from airflow.sdk import Variable

    return parse_receiving(
        Variable.get(variable_key, default=None), source=f"Airflow Variable {variable_key!r}"
    )
