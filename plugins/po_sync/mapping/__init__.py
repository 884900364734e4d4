"""Pure mapping functions between external shapes and the canonical model (no I/O)."""
