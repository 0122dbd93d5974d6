"""The report: a table on stdout and bench/results.json, merged by figure name."""

from __future__ import annotations

import json
from pathlib import Path

from bench.measure import Measured

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


def as_entry(measured: Measured) -> dict:
    return {
        "value": round(measured.value, 1),
        "baseline": round(measured.baseline, 1),
        "ratio": round(measured.ratio, 3),
        "target": measured.pair.target,
        "unit": measured.pair.unit,
    }


def write_results(figures: list[Measured], path: Path = RESULTS_PATH) -> None:
    """Replace this run's figures and keep the others (later issues add their own)."""
    try:
        entries = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        entries = {}
    entries.update({measured.pair.name: as_entry(measured) for measured in figures})
    path.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def table(figures: list[Measured]) -> str:
    header = ("figure", "value", "baseline", "ratio", "target", "result")
    rows = [
        (
            measured.pair.name,
            f"{measured.value:.1f} {measured.pair.unit}",
            f"{measured.baseline:.1f} {measured.pair.unit}",
            f"{measured.ratio:.3f}",
            f">= {measured.pair.target}",
            "pass" if measured.passed else "MISSED",
        )
        for measured in figures
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
