"""Slot arithmetic for bookings (API.md "Booking"): pure functions over plain values, no ORM.

Working hours are wall-clock times in the practice's zone; each interval of each local day is turned
into a real (UTC) interval once, and slots step through real time from its start. So a working hour
is never shifted, duplicated or dropped by a daylight-saving change: on the day clocks change, an
interval that spans the change is simply an hour shorter or longer, as the therapist lives it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    therapist: int


@dataclass(frozen=True)
class Rules:
    """What a practice and a service say about bookable times."""

    duration: timedelta
    buffer: timedelta  # turnover after each appointment
    step: timedelta
    earliest: datetime  # now + minimum notice
    latest: datetime  # now + booking horizon


def local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant a wall-clock time on a local day happens; a time skipped by DST maps forward."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def working_intervals(
    hours: Iterable[tuple[int, time, time]], first: date, last: date, tz: ZoneInfo
) -> list[Interval]:
    """Real intervals of a therapist's weekly hours (weekday 0 = Monday) over local days."""
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in hours:
        by_weekday.setdefault(weekday, []).append((start, end))
    intervals: list[Interval] = []
    day = first
    while day <= last:
        for start, end in sorted(by_weekday.get(day.weekday(), ())):
            real = Interval(local_to_utc(day, start, tz), local_to_utc(day, end, tz))
            if intervals and real.start < intervals[-1].end:
                # An end skipped by DST maps forward past the next interval's start (00:00-02:30
                # and 03:00-03:30 in New York in March): work each instant once, offer it once.
                real = Interval(intervals[-1].end, real.end)
            if real.end > real.start:
                intervals.append(real)
        day += timedelta(days=1)
    return intervals


class Busy:
    """Sorted busy intervals of one therapist, for overlap checks in O(log n)."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self._intervals = sorted(intervals, key=lambda i: i.start)
        self._starts = [i.start for i in self._intervals]
        # Longest interval bounds how far back an overlapping interval can start.
        self._longest = max((i.end - i.start for i in self._intervals), default=timedelta(0))

    def overlaps(self, candidate: Interval) -> bool:
        lo = bisect.bisect_left(self._starts, candidate.start - self._longest)
        hi = bisect.bisect_left(self._starts, candidate.end)
        return any(self._intervals[i].overlaps(candidate) for i in range(lo, hi))


def therapist_slots(
    *,
    therapist: int,
    working: Sequence[Interval],
    time_off: Busy,
    booked: Busy,
    rules: Rules,
) -> list[Slot]:
    """Free slots of one therapist: inside working hours, outside time off, and with the service's
    buffer after it clear of every booked interval (which already carries its own buffer)."""
    slots = []
    for interval in working:
        start = interval.start
        while start + rules.duration <= interval.end:
            end = start + rules.duration
            if (
                rules.earliest <= start < rules.latest
                and not time_off.overlaps(Interval(start, end))
                and not booked.overlaps(Interval(start, end + rules.buffer))
            ):
                slots.append(Slot(start, end, therapist))
            start += rules.step
    return slots


def available_slots(
    *,
    hours: dict[int, list[tuple[int, time, time]]],
    time_off: dict[int, list[Interval]],
    booked: dict[int, list[Interval]],
    first: date,
    last: date,
    tz: ZoneInfo,
    rules: Rules,
) -> list[Slot]:
    """Slots of every therapist in `hours` on local days first..last, by time then therapist."""
    slots: list[Slot] = []
    for therapist, weekly in hours.items():
        slots += therapist_slots(
            therapist=therapist,
            working=working_intervals(weekly, first, last, tz),
            time_off=Busy(time_off.get(therapist, ())),
            booked=Busy(booked.get(therapist, ())),
            rules=rules,
        )
    slots.sort(key=lambda s: (s.start, s.therapist))
    return slots
