"""The one-time authorize step for an X-Series OAuth connection (a person approves the app).

``python -m po_sync.xseries.authorize --conn-id xseries_default`` prints the consent URL; after approving,
the browser lands on the connection's redirect URI with ``?code=...&state=...``; then
``python -m po_sync.xseries.authorize --conn-id xseries_default --code CODE`` trades the code (single
use, about 10 minutes) for the first token pair and stores it in the connection's token store. Nothing
secret is printed.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from po_sync.exceptions import PoSyncError
from po_sync.xseries.hook import XSeriesHook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m po_sync.xseries.authorize", description=__doc__)
    parser.add_argument("--conn-id", default=XSeriesHook.default_conn_name)
    parser.add_argument("--code", help="the code from the redirect; without it, print the consent URL")
    parser.add_argument("--connect-url", help="another consent page (legacy secure.vendhq.com, a sandbox)")
    args = parser.parse_args(argv)
    hook = XSeriesHook(args.conn_id)
    try:
        if not args.code:
            print(
                hook.tokens.authorization_url(state=secrets.token_urlsafe(16), connect_url=args.connect_url)
            )
            return 0
        pair = hook.tokens.exchange_code(args.code)
    except PoSyncError as exc:
        print(f"authorize failed: {exc}", file=sys.stderr)
        return 1
    finally:
        hook.close()
    print(
        f"stored the first token pair for {args.conn_id}; the access token expires at {pair.expires_at:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
