"""practice.spreadsheet: CSV cells never run as formulas, numbers stay numbers."""

import csv
import io
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from practice.spreadsheet import render_csv, safe_cell


def test_formula_cells_are_quoted_and_numbers_are_not():
    text = render_csv(["name", "amount"], [["=HYPERLINK(\"x\")", Decimal("-12.50")], ["@SUM", -3]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "amount"], ["'=HYPERLINK(\"x\")", "-12.50"], ["'@SUM", "-3"]]


@given(st.text())
def test_no_text_cell_starts_like_a_formula(text):
    assert not safe_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))
