"""Issue 16 audit: a pattern ending in ``$`` applied with ``re.match`` / ``re.search`` also accepts a
trailing newline (``re.match(r"^x$", "x\\n")`` matches), so ``PO1\\n`` passed checks meant to keep
values clean. Patterns must be applied with ``fullmatch`` (or end in ``\\Z``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "plugins" / "po_sync"
COMPILED = re.compile(r"^(_?[A-Z][A-Z0-9_]*) = re\.compile\(r?[\"'](.*)[\"']\)", re.M)


def test_the_trap_is_real() -> None:
    assert re.match(r"^[A-Z0-9]+$", "PO1\n") and not re.fullmatch(r"[A-Z0-9]+", "PO1\n")


def test_no_pattern_ending_in_dollar_is_used_with_match_or_search() -> None:
    """Scans the package for compiled patterns and how they are applied."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        for name, pattern in COMPILED.findall(text):
            if pattern.endswith("$") and re.search(rf"\b{name}\.(match|search)\(", text):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
