"""Per-vendor / per-partner settings, validated with pydantic and read at run time (never at parse time)."""
