"""The vendors' side of the S3 exchange: deterministic vendor actors, their world, and the demo.

* :mod:`.world` - :class:`VendorWorld` (buckets, queues, NetSuite) and :class:`VendorActor`;
* :mod:`.demo` - the vendor flows of ``make demo``.
"""

from __future__ import annotations

from po_sync_sandbox.vendors.world import (
    MALFORMED_KINDS,
    VendorActor,
    VendorWorld,
    create_multi_vendor_drop_ship,
    world_config,
)

__all__ = ["MALFORMED_KINDS", "VendorActor", "VendorWorld", "create_multi_vendor_drop_ship", "world_config"]
