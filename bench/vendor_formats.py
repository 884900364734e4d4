"""The vendor CSV parser on a hostile header: one 5 MiB file with ~500,000 columns.

``vendors.csv_wide_header`` times :func:`po_sync.vendors.formats.load_document` refusing a CSV whose
header holds 500,000 columns, every one repeated once (the duplicate check was quadratic: 40,000
columns took 16 s). ``vendors.csv_wide_header_unique`` is the same width without duplicates (refused
for its width). Median of 5. Limit: 2 s each (the parse of 5 MiB itself dominates).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.harness import result

COLUMNS = 500_000
LIMIT_S = 2.0
RUNS = 5


def _file(unique: bool) -> bytes:
    half = COLUMNS // 2
    names = [f"c{i}" for i in range(COLUMNS if unique else half)]
    header = ",".join(["document_type", *names, *([] if unique else names)])
    return f"{header}\nship_notice{',' * (len(names) * (1 if unique else 2))}\n".encode()


def _time(data: bytes) -> float:
    from po_sync.vendors.formats import DocumentFormatError, load_document

    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        try:
            load_document(data, "csv", source="inbound/wide.csv", max_bytes=len(data) + 1)
        except DocumentFormatError:
            pass
        else:  # pragma: no cover - the benchmark's premise
            raise AssertionError("a 500,000-column CSV was accepted")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[dict[str, Any]]:
    return [
        result("vendors.csv_wide_header", _time(_file(unique=False)), "s", LIMIT_S, higher_is_better=False),
        result(
            "vendors.csv_wide_header_unique", _time(_file(unique=True)), "s", LIMIT_S, higher_is_better=False
        ),
    ]
