"""Allow ``python -m po_sync_sandbox`` as an alias of the ``po-sync-sandbox`` console script."""

from __future__ import annotations

from po_sync_sandbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
