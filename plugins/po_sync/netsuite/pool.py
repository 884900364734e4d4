"""Size the ``netsuite`` Airflow pool from the account's concurrency limit (``governanceLimits``).

Every NetSuite-calling task runs in the pool :data:`~po_sync.netsuite.connection.NETSUITE_POOL`, so
all DAGs together never hold more tasks than the integration may serve. ``make airflow``, the compose
file's ``airflow-init`` and the Helm chart's pool job all size it here, from the same connection the
tasks use::

    python -m po_sync.netsuite.pool --conn-id netsuite_default --fallback 5

prints the slot count (one line) and exits 0; without ``--fallback`` an unreadable limit exits 1 with
the reason (never a secret: only the connection id and the error code).
"""

from __future__ import annotations

import argparse
import sys

from po_sync.exceptions import PoSyncError
from po_sync.netsuite.models import GovernanceLimits

__all__ = ["main", "pool_slots", "read_pool_slots"]


def pool_slots(limits: GovernanceLimits, *, threads_per_task: int = 1) -> int:
    """Slots for the pool: the integration's effective limit divided by the threads one task uses.

    :param limits: what ``GET /system/v1/governanceLimits`` returned.
    :param threads_per_task: requests one task keeps in flight at once; more threads, fewer tasks.
    """
    if threads_per_task < 1:
        raise ValueError(f"threads_per_task must be at least 1, got {threads_per_task}")
    return max(1, limits.effective_limit // threads_per_task)


def read_pool_slots(conn_id: str = "netsuite_default", *, threads_per_task: int = 1) -> int:
    """Ask the account behind ``conn_id`` for its limit and return the pool's slots.

    :param conn_id: the ``netsuite`` connection the flows use.
    :param threads_per_task: see :func:`pool_slots`.
    """
    from po_sync.netsuite.hook import NetSuiteHook

    with NetSuiteHook(netsuite_conn_id=conn_id) as hook:
        return pool_slots(hook.governance_limits(), threads_per_task=threads_per_task)


def main(argv: list[str] | None = None) -> int:
    """Print the pool's slot count for ``--conn-id`` (``--fallback`` when the limit is unreadable)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conn-id", default="netsuite_default", help="the netsuite connection id")
    parser.add_argument("--threads-per-task", type=int, default=1, help="requests one task keeps in flight")
    parser.add_argument(
        "--fallback", type=int, default=None, help="slots to use when governanceLimits cannot be read"
    )
    args = parser.parse_args(argv)
    try:
        slots = read_pool_slots(args.conn_id, threads_per_task=args.threads_per_task)
    except (PoSyncError, OSError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {getattr(exc, 'code', None) or exc}"
        if args.fallback is None:
            print(
                f"cannot read governanceLimits through connection {args.conn_id!r}: {reason}", file=sys.stderr
            )
            return 1
        print(
            f"governanceLimits not readable through {args.conn_id!r} ({reason}); using {args.fallback} slots",
            file=sys.stderr,
        )
        slots = args.fallback
    print(slots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
