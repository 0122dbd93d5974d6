"""The project's modules import each other in one direction only: no import cycle, not even one
hidden by an import inside a function (tests/import_cycles.py prints them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "import_cycles", Path(__file__).with_name("import_cycles.py")
)
assert _spec is not None
assert _spec.loader is not None
import_cycles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_cycles)


def test_project_has_no_import_cycles():
    cycles = import_cycles.import_cycles()
    assert cycles == [], "\n".join(import_cycles.describe(group) for group in cycles)
