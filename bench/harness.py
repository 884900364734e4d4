"""Small helpers shared by the benchmarks."""

from __future__ import annotations

from typing import Any


def result(name: str, value: float, unit: str, limit: float, *, higher_is_better: bool) -> dict[str, Any]:
    """One benchmark line; ``ratio`` >= 1 means the limit is met whichever way the unit points."""
    if higher_is_better:
        ratio = value / limit if limit else None
    else:
        ratio = limit / value if value else None
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "limit": limit,
        "ratio": round(ratio, 3) if ratio is not None else None,
    }
