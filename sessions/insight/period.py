"""A report's period: practice-local days turned into UTC bounds (DST-correct), plus the small
statistics every report shares (medians, shares with the small-group rule). No ORM here."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

# Issue 21: a report covers at most two years; longer is a 400, so one request cannot make the
# database aggregate a practice's whole history at once.
MAX_DAYS = 731
DEFAULT_DAYS = 90
# Issue 21 "never a percentage of fewer than 5 without saying so": below this many, a share is
# null and the group is marked `small_group` (its counts are still shown).
SMALL_GROUP_BELOW = 5


@dataclass(frozen=True)
class Period:
    """Local days `first`..`last` (both included) of a practice, and the UTC instants that bound
    them: `start` is local midnight of `first`, `end` local midnight after `last` (exclusive). On a
    daylight-saving day the local day is 23 or 25 hours long; the bounds follow the wall clock."""

    first: date
    last: date
    tz: tzinfo
    therapist_id: int | None = None

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.tz)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def as_dict(self) -> dict:
        return {
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
            "timezone": str(self.tz),
            "therapist": self.therapist_id,
        }


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def default_days(today: date) -> tuple[date, date]:
    """Without `start`/`end`: the last DEFAULT_DAYS local days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def median(values: Iterable[float | int | Decimal]) -> float | None:
    """The median, rounded to 1 decimal; null for no values."""
    numbers = [float(value) for value in values]
    if not numbers:
        return None
    return rounded(statistics.median(numbers))


def rounded(value: float, places: str = "0.1") -> float:
    return float(Decimal(str(value)).quantize(Decimal(places), ROUND_HALF_UP))


def share(part: int, whole: int) -> float | None:
    """part / whole rounded to 3 decimals, or null when the whole is below the small-group size."""
    if whole < SMALL_GROUP_BELOW:
        return None
    return rounded(part / whole, "0.001")


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 3 decimals; null when there is nothing to divide by."""
    return rounded(part / whole, "0.001") if whole else None


def is_small(whole: int) -> bool:
    return whole < SMALL_GROUP_BELOW
