"""Money arithmetic (issue 19.1): minor units, half-up per line, tax inclusive or added."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.billing import money


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("EUR", "10.005", "10.01"),  # half-up, not banker's rounding
        ("EUR", "10.004", "10.00"),
        ("GBP", "0.125", "0.13"),
        ("JPY", "1500.5", "1501"),
        ("JPY", "1500.4", "1500"),
        ("KWD", "1.2345", "1.235"),
    ],
)
def test_amounts_round_half_up_to_the_currencys_minor_units(currency, amount, expected):
    assert money.quantize(Decimal(amount), currency) == Decimal(expected)
    assert str(money.quantize(Decimal(amount), currency)) == expected


def test_minor_units_follow_iso_4217():
    assert (money.minor_units("JPY"), money.minor_units("EUR"), money.minor_units("KWD")) == (
        0,
        2,
        3,
    )
    with pytest.raises(KeyError):
        money.minor_units("XXX")


def test_inclusive_tax_is_taken_out_of_the_price():
    line = money.line_amounts(
        unit_price=Decimal("60.00"),
        quantity=1,
        tax_percent=Decimal(20),
        inclusive=True,
        currency="EUR",
    )
    assert (line.net, line.tax, line.total) == (
        Decimal("50.00"),
        Decimal("10.00"),
        Decimal("60.00"),
    )


def test_exclusive_tax_is_added_and_rounded_once_per_line():
    line = money.line_amounts(
        unit_price=Decimal("19.99"),
        quantity=3,
        tax_percent=Decimal("8.25"),
        inclusive=False,
        currency="USD",
    )
    # 59.97 x 8.25 % = 4.947525 -> 4.95
    assert (line.net, line.tax, line.total) == (Decimal("59.97"), Decimal("4.95"), Decimal("64.92"))


def test_yen_lines_have_no_decimals():
    line = money.line_amounts(
        unit_price=Decimal(5500),
        quantity=1,
        tax_percent=Decimal(10),
        inclusive=True,
        currency="JPY",
    )
    assert (line.net, line.tax, line.total) == (Decimal(5000), Decimal(500), Decimal(5500))


def test_fits_refuses_amounts_finer_than_the_currency():
    assert money.fits(Decimal("10.50"), "EUR")
    assert not money.fits(Decimal("10.505"), "EUR")
    assert not money.fits(Decimal("1.5"), "JPY")
    assert money.fits(Decimal("1.505"), "KWD")


@given(
    currency=st.sampled_from(["EUR", "JPY", "KWD", "USD"]),
    cents=st.integers(min_value=0, max_value=10**9),
    quantity=st.integers(min_value=1, max_value=50),
    percent=st.decimals(min_value=0, max_value=100, places=2),
    inclusive=st.booleans(),
)
def test_every_line_adds_up_in_minor_units(currency, cents, quantity, percent, inclusive):
    price = money.quantize(Decimal(cents) / 100, currency)
    line = money.line_amounts(
        unit_price=price,
        quantity=quantity,
        tax_percent=percent,
        inclusive=inclusive,
        currency=currency,
    )
    assert line.total == line.net + line.tax
    assert min(line.net, line.tax) >= 0
    for value in (line.net, line.tax, line.total):
        assert money.fits(value, currency)
    if inclusive:
        assert line.total == money.quantize(price * quantity, currency)
    else:
        assert line.net == money.quantize(price * quantity, currency)
