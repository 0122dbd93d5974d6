"""ISO 4217 currencies a practice may invoice in, with their minor units (pure: no Django).

The money arithmetic is in sessions/billing/money.py; the table lives here because the practice
chooses its currency and practice sits below billing."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 minor units of the currencies a practice may choose; anything absent is refused.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2, "DKK": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3,
    "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2,
    "PLN": 2, "RON": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2,
    "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip
CURRENCIES = tuple(sorted(MINOR_UNITS))


def fits_currency(amount: Decimal, currency: str) -> bool:
    """Whether `amount` has no more decimals than `currency` allows (0.005 EUR, 1.5 JPY do not)."""
    return Decimal(amount) == Decimal(amount).quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]))
