"""Money arithmetic, pure: Decimal amounts in a currency's minor units, never floats.

Rounding rule (docs/money.md): every line is rounded half-up to the currency's minor units
(ISO 4217 exponent: JPY 0, EUR/GBP/USD 2, KWD 3), and an invoice's totals are the sums of its
rounded lines, so a printed invoice always adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from practice.currencies import CURRENCIES, MINOR_UNITS, fits_currency

__all__ = ["CURRENCIES", "MINOR_UNITS", "LineAmounts", "line_amounts", "minor_units", "quantize"]

# Stored amounts have three decimals (the most any listed currency uses) and 11 integer digits.
AMOUNT_DIGITS = 14
AMOUNT_PLACES = 3
HUNDRED = Decimal(100)


def minor_units(currency: str) -> int:
    """The number of decimals of `currency` (ISO 4217 exponent); KeyError if not supported."""
    return MINOR_UNITS[currency]


def step(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor units."""
    return Decimal(amount).quantize(step(currency), rounding=ROUND_HALF_UP)


def fits(amount: Decimal, currency: str) -> bool:
    """Whether `amount` has no more decimals than the currency allows (0.005 EUR does not)."""
    return fits_currency(amount, currency)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(
    *, unit_price: Decimal, quantity: int, tax_percent: Decimal, inclusive: bool, currency: str
) -> LineAmounts:
    """One line's net, tax and total, each rounded half-up once (the rule above).

    Inclusive: the price already holds the tax, tax = gross x p / (100 + p). Exclusive: the tax is
    added, tax = net x p / 100. Either way total = net + tax exactly."""
    gross_or_net = quantize(Decimal(unit_price) * quantity, currency)
    percent = Decimal(tax_percent)
    if inclusive:
        tax = quantize(gross_or_net * percent / (HUNDRED + percent), currency)
        return LineAmounts(net=gross_or_net - tax, tax=tax, total=gross_or_net)
    tax = quantize(gross_or_net * percent / HUNDRED, currency)
    return LineAmounts(net=gross_or_net, tax=tax, total=gross_or_net + tax)


def balance(*, lines: Decimal, payments: Decimal, refunds: Decimal, credits: Decimal) -> Decimal:
    """What is still owed: lines - payments + refunds - issued credit notes (API docs/money.md)."""
    return lines - payments + refunds - credits
