"""The package layout holds: partner packages talk only through the core and NetSuite, and nothing cycles.

Read from the source with :mod:`ast` (every import, including the ones inside functions and under
``TYPE_CHECKING``), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = {
    "po_sync": ROOT / "plugins" / "po_sync",
    "po_sync_sandbox": ROOT / "include" / "sandbox" / "po_sync_sandbox",
}

#: Subpackages of ``po_sync`` every flow may use.
CORE_PACKAGES = {"ledger", "models", "ui", "netsuite", "notify"}
#: One package per partner; a partner never imports another.
PARTNER_PACKAGES = {"vendors", "hotwax", "xseries", "onetrail", "servicenow"}
#: Layer folders the partner-first layout replaced: a partner's file must not reappear in one.
OLD_LAYER_FOLDERS = {"operators", "mapping", "formats", "config", "hooks"}


def _module_name(path: pathlib.Path) -> str:
    for top, folder in PACKAGES.items():
        if folder in path.parents:
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            return ".".join((top, *parts))
    raise AssertionError(path)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for folder in PACKAGES.values() for p in folder.rglob("*.py")}


def _imports(path: pathlib.Path, name: str, known: set[str]) -> Iterator[str]:
    """The first-party modules ``path`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        yield from (t for t in targets if t in known)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(path, name, known)) - {name} for name, path in modules.items()}


def _partner(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "po_sync" and len(parts) > 1 and parts[1] in PARTNER_PACKAGES:
        return parts[1]
    return None


def test_every_po_sync_subpackage_is_classified():
    subpackages = {p.parent.name for p in PACKAGES["po_sync"].glob("*/__init__.py")}
    assert subpackages <= CORE_PACKAGES | PARTNER_PACKAGES, subpackages - CORE_PACKAGES - PARTNER_PACKAGES
    assert {"netsuite", "vendors", "hotwax"} <= subpackages


def test_no_layer_folder_holds_partner_code():
    present = {p.name for p in PACKAGES["po_sync"].iterdir() if p.is_dir()} & OLD_LAYER_FOLDERS
    assert not present, f"layer folders are back in plugins/po_sync: {sorted(present)}"


def test_partners_import_only_core_and_netsuite():
    crossings = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if _partner(module) and _partner(target) and _partner(module) != _partner(target)
    ]
    assert not crossings, "partner packages talk only through core and netsuite:\n" + "\n".join(crossings)


def test_core_and_netsuite_import_no_partner():
    leaks = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module.startswith("po_sync.") and not _partner(module)
        for target in targets
        if _partner(target)
    ]
    assert not leaks, "\n".join(leaks)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_plugins_or_include():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "expected"),
    [({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]), ({"a": {"b"}, "b": set()}, None)],
)
def test_cycle_finder_finds_cycles(graph, expected):
    assert _find_cycle(graph) == expected


def test_the_graph_sees_lazy_and_type_checking_imports():
    graph = _graph()
    # hotwax/operators.py imports NetSuiteHook inside a function: the graph must still see it.
    assert "po_sync.netsuite" in graph["po_sync.hotwax.operators"]
    assert "po_sync.netsuite.mapping" in graph["po_sync.vendors.mapping"]
