"""File formats po_sync reads and writes (HotWax CSV/JSON, vendor XML/JSON/CSV...): bytes <-> values."""
