"""CSV exports that a spreadsheet opens safely (reports, revenue, outstanding balances).

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (OWASP "CSV injection"); such text cells are prefixed with a
single quote. Numbers stay numbers: a negative amount is written as a number, not as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """One cell as text that no spreadsheet evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The whole CSV document (RFC 4180, CRLF line ends) with every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
