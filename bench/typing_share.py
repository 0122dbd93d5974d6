"""`python -m bench.typing_share`: the code-shape figures of issue 16, from an ast walk.

Over app code (`config`, `practice`, `clients`, `techniques`, `sessions`; not migrations, tests,
bench or loadtest): the share of functions (methods and nested functions too) that annotate their
return, and the longest functions (lines from `def`, decorators left out, to the last line of the
body). `tests/contract/test_code_shape.py` holds both to their limits.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "practice", "clients", "techniques", "sessions")
MAX_LINES = 60
MIN_SHARE = 0.90


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    line: int
    lines: int
    annotated: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} ({self.lines} lines)"


def app_files(root: Path = ROOT) -> Iterator[Path]:
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                yield path


def functions(root: Path = ROOT) -> list[Function]:
    found = []
    for path in app_files(root):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                found.append(
                    Function(
                        path=str(path.relative_to(root)),
                        name=node.name,
                        line=node.lineno,
                        lines=end - node.lineno + 1,
                        annotated=node.returns is not None,
                    )
                )
    return found


def annotated_share(found: list[Function]) -> float:
    return sum(f.annotated for f in found) / len(found) if found else 1.0


def longest(found: list[Function], count: int) -> list[Function]:
    return sorted(found, key=lambda f: f.lines, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--longest", type=int, default=10, help="how many long functions to list")
    parser.add_argument("--unannotated", action="store_true", help="list functions without one")
    args = parser.parse_args()
    found = functions()
    annotated = sum(f.annotated for f in found)
    print(
        f"return-annotated: {annotated}/{len(found)} = {annotated_share(found):.1%}"
        f" (target >= {MIN_SHARE:.0%})"
    )
    over = [f for f in found if f.lines > MAX_LINES]
    print(f"functions over {MAX_LINES} lines: {len(over)}; longest:")
    for function in longest(found, args.longest):
        print(f"  {function}")
    if args.unannotated:
        for function in found:
            if not function.annotated:
                print(f"  unannotated: {function}")


if __name__ == "__main__":
    main()
