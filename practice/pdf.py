"""Readable one-column PDF documents (invoices, receipts, discharge summaries, referral letters).

One small builder over fpdf2 so that every document the practice hands out looks the same: a
header with the practice's details, headings, paragraphs, label/value rows and tables. It uses
the PDF core font (Helvetica), so nothing depends on fonts installed on the host; text outside
Latin-1 is transliterated where a plain equivalent exists and replaced with "?" otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# Characters that documents commonly carry and Latin-1 lacks, with a plain stand-in.
_PLAIN = str.maketrans({
    "→": "->", "←": "<-", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
    "…": "...", "≤": "<=", "≥": ">=", "•": "-", "€": "EUR", "×": "x",
})


def plain_text(text: object) -> str:
    """The text as the core font can print it (Latin-1)."""
    return str(text).translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


@dataclass
class Document:
    """A document built top to bottom; `render()` answers the PDF bytes."""

    title: str
    issuer_lines: Sequence[str] = ()
    _pdf: FPDF = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pdf = FPDF(format="A4")
        self._pdf.set_auto_page_break(auto=True, margin=18)
        self._pdf.set_title(plain_text(self.title))
        self._pdf.add_page()
        self._pdf.set_font("Helvetica", "B", 16)
        self._line(self.title, height=9)
        self._pdf.set_font("Helvetica", "", 9)
        for line in self.issuer_lines:
            self._line(line, height=4.5)
        self._pdf.ln(4)

    def _line(self, text: object, *, height: float = 6) -> None:
        self._pdf.multi_cell(0, height, plain_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> Document:
        self._pdf.ln(2)
        self._pdf.set_font("Helvetica", "B", 12)
        self._line(text, height=7)
        self._pdf.set_font("Helvetica", "", 10)
        return self

    def paragraph(self, text: str) -> Document:
        self._pdf.set_font("Helvetica", "", 10)
        self._line(text, height=5)
        self._pdf.ln(1)
        return self

    def fields(self, rows: Sequence[tuple[str, object]]) -> Document:
        """Label/value pairs, the label in bold on the left."""
        for label, value in rows:
            self._pdf.set_font("Helvetica", "B", 10)
            self._pdf.cell(55, 5.5, plain_text(label))
            self._pdf.set_font("Helvetica", "", 10)
            self._line("" if value is None else value, height=5.5)
        return self

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]],
              *, align_right: Sequence[int] = ()) -> Document:
        """A ruled table; columns listed in `align_right` (e.g. amounts) are right-aligned."""
        self._pdf.set_font("Helvetica", "", 9)
        aligns = tuple("RIGHT" if i in align_right else "LEFT" for i in range(len(header)))
        with self._pdf.table(text_align=aligns, line_height=5.5, first_row_as_headings=True) as t:
            for cells in (header, *rows):
                row = t.row()
                for cell in cells:
                    row.cell(plain_text("" if cell is None else cell))
        self._pdf.ln(2)
        return self

    def render(self) -> bytes:
        return bytes(self._pdf.output())
