"""Paging limits of every list (API.md "Paging limits"): what a `page` or `page_size` may be, so
that no value reaches the database as an offset it cannot hold."""

from __future__ import annotations

from rest_framework import exceptions

# The deepest row a page may start at: beyond it a database offset overflows (PostgreSQL's
# bigint, SQLite's 64-bit integer), which was a 500 ("bigint out of range") or a 409.
MAX_OFFSET = 2**62
MAX_PAGE_DIGITS = 20


def whole_number(raw: str | None) -> int | None:
    """`raw` as a positive whole number written in ASCII digits, or None (also for 5,000 digits,
    which int() refuses with a ValueError of its own)."""
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_PAGE_DIGITS:
        return None
    value = int(raw)
    return value if value >= 1 else None


def page_size_from(request, *, param: str, default: int, maximum: int) -> int:
    """`?page_size=` of every list (API.md "Paging limits"): 1 to `maximum`, else a 400."""
    raw = request.query_params.get(param)
    if raw is None:
        return default
    size = whole_number(raw)
    if size is None or size > maximum:
        raise exceptions.ValidationError({param: [f"Must be a whole number from 1 to {maximum}."]})
    return size
