"""Print the project's import cycles (every import counts, also one inside a function).

    .venv/bin/python tests/import_cycles.py

Each cycle is printed as one strongly connected group of modules with the imports that tie it;
nothing printed and exit status 0 means no cycle. tests/test_import_cycles.py asserts the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "practice", "clients", "techniques", "sessions")


def import_cycles() -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's SCCs)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # recursion depth is bounded by the longest import chain
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges.get(module, []):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in edges.get(module, []):
                groups.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return sorted(groups)


def describe(group: list[str]) -> str:
    members = set(group)
    graph_edges = []
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    for module in group:
        graph_edges.extend(
            f"  {module} -> {imported}"
            for imported in sorted(graph.find_modules_directly_imported_by(module))
            if imported in members
        )
    return "\n".join([f"cycle of {len(group)} modules:", *graph_edges])


def main() -> int:
    cycles = import_cycles()
    for group in cycles:
        print(describe(group))  # noqa: T201
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
