"""The retention clock of clinical records (DOMAIN.md 4 "Retention", 8 "Retention"): pure dates.

`retain_until = max(last_entry + N years, date_of_birth + majority_age + N years)` (DOMAIN.md 4),
with N per practice jurisdiction. Records are kept through `retain_until` and may be purged from
the day after. Where an anniversary falls on 29 February of a common year it moves to 1 March, so a
period is never cut short by a day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db import models


class Jurisdiction(models.TextChoices):
    # Until the owner picks one, the longest rule DOMAIN.md 4 lists: purging is irreversible.
    UNSPECIFIED = "unspecified", "Not set (longest rule: 10 years, minors 10 years after 18)"
    ONTARIO = "ca_on", "Ontario RMTs (CMTO)"
    FLORIDA = "us_fl", "Florida (state rule for physicians' records)"
    TEXAS = "us_tx", "Texas (state rule for physicians' records)"
    US_OTHER = "us_other", "Other US state (HIPAA documentation period)"


@dataclass(frozen=True)
class RetentionRule:
    years: int
    majority_age: int
    source: str  # the rule as told to a client who asks why a record is kept

    def describe(self, label: str) -> str:
        return f"{label} requires {self.years} years of treatment records ({self.source})"


# DOMAIN.md 4 "Retention" table: Ontario 10 y from the last entry, minors 10 y after the 18th
# birthday [S44]; HIPAA sets no record period, state law does (Florida 5 y, Texas 7 y) [S45, S46],
# and HIPAA's own documentation period is 6 years. The minors clause of DOMAIN.md's formula is
# applied to every jurisdiction: it only ever keeps a record longer.
RULES: dict[str, RetentionRule] = {
    Jurisdiction.UNSPECIFIED: RetentionRule(
        10, 18, "no jurisdiction set: the longest rule, 10 years from the last entry"
    ),
    Jurisdiction.ONTARIO: RetentionRule(
        10, 18, "CMTO: 10 years from the last entry; for minors, 10 years after the 18th birthday"
    ),
    Jurisdiction.FLORIDA: RetentionRule(5, 18, "Florida: 5 years from the last entry"),
    Jurisdiction.TEXAS: RetentionRule(7, 18, "Texas: 7 years from the last entry"),
    Jurisdiction.US_OTHER: RetentionRule(
        6, 18, "HIPAA documentation period: 6 years from the last entry"
    ),
}


def rule_for(jurisdiction: str) -> RetentionRule:
    return RULES.get(jurisdiction, RULES[Jurisdiction.UNSPECIFIED])


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return day.replace(year=year)


def retain_until(
    *, last_entry: dt.date | None, date_of_birth: dt.date | None, rule: RetentionRule
) -> dt.date | None:
    """The last day a client's clinical records must be kept; None when there are none."""
    if last_entry is None:
        return None
    until = add_years(last_entry, rule.years)
    if date_of_birth is not None:
        until = max(until, add_years(date_of_birth, rule.majority_age + rule.years))
    return until


def latest_entry_cutoff(*, today: dt.date, rule: RetentionRule) -> dt.date:
    """Candidates: a last entry before this day may be past the adult clock on `today`.

    Only narrows a database query; the purge decides each client with `retain_until` itself, so a
    29 February at either end can never make it delete a day early.
    """
    return add_years(today, -rule.years)


def birth_cutoff(*, today: dt.date, rule: RetentionRule) -> dt.date:
    """Candidates: clients born before this day may be past the minors clause on `today`."""
    return add_years(today, -(rule.majority_age + rule.years))


def erasure_due_by(received: dt.date, *, hipaa_covered: bool) -> dt.date:
    """When an answer is due: GDPR one month (Art. 12(3)); HIPAA's 30 days where it is stricter
    (164.524, the nearest HIPAA clock: HIPAA grants no erasure right) (DOMAIN.md 8)."""
    month = received.month % 12 + 1
    year = received.year + (received.month == 12)
    day = min(received.day, calendar.monthrange(year, month)[1])
    due = dt.date(year, month, day)
    if hipaa_covered:
        due = min(due, received + dt.timedelta(days=30))
    return due
