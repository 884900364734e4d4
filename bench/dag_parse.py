"""Parse time of each DAG file, measured as the dag-processor pays it.

Every file is parsed in a fresh interpreter that has already imported Airflow's SDK (the
dag-processor has it loaded too), so the number is what the file itself costs: its imports of
po_sync and the DAG construction. Median of five runs. Limit: 1 s per file, well under Airflow's
``dagbag_import_timeout`` of 30 s, because the dag-processor re-parses every file every 30 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import result

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
LIMIT_SECONDS = 1.0

_PROBE = """
import importlib.util, sys, time
import airflow.sdk  # loaded already in the dag-processor
path = sys.argv[1]
spec = importlib.util.spec_from_file_location("dag_under_bench", path)
module = importlib.util.module_from_spec(spec)
started = time.perf_counter()
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def parse_seconds(path: Path) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def run() -> list[dict[str, Any]]:
    files = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
    return [
        result(
            f"dag_parse_seconds.{path.name}", parse_seconds(path), "s", LIMIT_SECONDS, higher_is_better=False
        )
        for path in files
    ]
