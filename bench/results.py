"""The report: a table on stdout and bench/results.json, merged by figure name.

Every figure, however it is measured, ends as a `Figure`: a value beside a baseline taken in the
same run, their ratio, a target and the condition that passes it (`passes_when`, spelled out in
results.json because not every figure passes the same way: some ratios must be high, some low). A
figure that needs a service the run does not have is `Skipped`: it is shown, and its entry in
results.json is left as the last run that measured it wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    baseline: float
    ratio: float
    target: float
    unit: str
    passes_when: str  # e.g. "ratio >= 0.4", "ratio <= 3", "value <= 4 and value == baseline"
    passed: bool
    baseline_unit: str = ""  # when the baseline is not counted in `unit`
    extra: dict = field(default_factory=dict)  # more entries for results.json (queries, errors)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def as_entry(figure: Figure) -> dict:
    entry = {
        "value": round(figure.value, 1),
        "baseline": round(figure.baseline, 1),
        "ratio": round(figure.ratio, 3),
        "target": figure.target,
        "unit": figure.unit,
    }
    if figure.baseline_unit:
        entry["baseline_unit"] = figure.baseline_unit
    entry["passes_when"] = figure.passes_when
    return entry | figure.extra


def write_results(figures: list[Figure | Skipped], path: Path = RESULTS_PATH) -> None:
    """Replace this run's figures and keep the others (skipped ones and other issues')."""
    try:
        entries = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        entries = {}
    entries.update({f.name: as_entry(f) for f in figures if isinstance(f, Figure)})
    path.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def _number(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text} {unit}"


def table(figures: list[Figure | Skipped]) -> str:
    header = ("figure", "value", "baseline", "ratio", "passes when", "result")
    rows = [
        (
            (
                f.name,
                _number(f.value, f.unit),
                _number(f.baseline, f.baseline_unit or f.unit),
                f"{f.ratio:.3f}",
                f.passes_when,
                "pass" if f.passed else "MISSED",
            )
            if isinstance(f, Figure)
            else (f.name, "-", "-", "-", "-", f"skipped: {f.reason}")
        )
        for f in figures
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
