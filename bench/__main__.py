"""Run every benchmark module and print one JSON line per result.

Each line: ``{"name", "value", "unit", "limit", "ratio"}``; ``ratio`` is how the value stands against
its limit, oriented so that ``>= 1`` (or the target stated in the name's docs) is good. Pick modules
with ``python -m bench dag_parse netsuite``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and m.name != "harness"
    )
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.monotonic()
        try:
            results = module.run()
        except Exception as exc:  # report and go on: one broken benchmark must not hide the others
            failed.append(name)
            print(
                json.dumps({"name": f"{name}.error", "value": None, "error": f"{type(exc).__name__}: {exc}"})
            )
            continue
        for result in results:
            print(json.dumps(result), flush=True)
        print(f"# {name}: {len(results)} result(s) in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
