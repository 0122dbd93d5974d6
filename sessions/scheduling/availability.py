"""Slot arithmetic for bookings (API.md "Booking"): pure functions over plain values, no ORM.

Working hours are wall-clock times in the practice's zone; each interval of each local day is turned
into a real (UTC) interval once, and slots step through real time from its start. So a working hour
is never shifted, duplicated or dropped by a daylight-saving change: on the day clocks change, an
interval that spans the change is simply an hour shorter or longer, as the therapist lives it.
A date override (issue 20.3) replaces one local date's weekly hours and goes through the same
conversion, so it is as DST-correct as the week.

A slot is offered when, besides the therapist's hours and diary: a suitable room is free for it and
its turnover (`RoomPlan`, issue 20.1), and the therapist's hands-on minutes of that local day and
week stay within their limits, with a recovery gap after a deep session (`Limits`, `HandsOn`,
issue 20.2). Each input is one more independent test of a candidate (`_fits`), so another kind of
busy time (an outside calendar's) joins as one more input beside `time_off`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    # The suitable rooms free for it, in the order a booking takes them (issue 20.1); empty for a
    # service that needs no room. Not part of a slot's identity: the time and therapist are.
    rooms: tuple[int, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Rules:
    """What a practice and a service say about bookable times."""

    duration: timedelta
    buffer: timedelta  # turnover after each appointment
    step: timedelta
    earliest: datetime  # now + minimum notice
    latest: datetime  # now + booking horizon
    deep: bool = False  # a deep-pressure service: the therapist's recovery gap follows it


@dataclass(frozen=True)
class Limits:
    """A therapist's hands-on limits (issue 20.2); None is no limit."""

    daily: timedelta | None = None  # treatment time per practice-local day
    weekly: timedelta | None = None  # ... per practice-local week, Monday to Sunday
    recovery: timedelta = timedelta(0)  # rest after a deep session, before the next one starts

    @property
    def caps_time(self) -> bool:
        return self.daily is not None or self.weekly is not None


NO_LIMITS = Limits()

DayHours = Sequence[tuple[time, time]]  # wall-clock (start, end) intervals of one local date


def local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant a wall-clock time on a local day happens; a time skipped by DST maps forward."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def working_intervals(
    hours: Iterable[tuple[int, time, time]],
    first: date,
    last: date,
    tz: ZoneInfo,
    overrides: Mapping[date, DayHours] | None = None,
) -> list[Interval]:
    """Real intervals of a therapist's weekly hours (weekday 0 = Monday) over local days; a date
    in `overrides` has the override's hours instead (none: a day off)."""
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in hours:
        by_weekday.setdefault(weekday, []).append((start, end))
    overrides = overrides or {}
    intervals: list[Interval] = []
    day = first
    while day <= last:
        wall = overrides[day] if day in overrides else by_weekday.get(day.weekday(), ())
        for start, end in sorted(wall):
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


def occupied(
    start: datetime, end: datetime, blocked_until: datetime, *, deep: bool, recovery: timedelta
) -> Interval:
    """What a booked session keeps of its therapist's time: to the end of its buffer, or of the
    recovery gap after a deep session if that is longer (issue 20.2)."""
    return Interval(start, max(blocked_until, end + recovery) if deep else blocked_until)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class HandsOn:
    """Treatment time a therapist already has per practice-local day and week (issue 20.2)."""

    def __init__(self, sessions: Iterable[Interval], tz: ZoneInfo, limits: Limits) -> None:
        self._tz = tz
        self._limits = limits
        self._days: dict[date, timedelta] = defaultdict(timedelta)
        self._weeks: dict[date, timedelta] = defaultdict(timedelta)
        for session in sessions:
            day = session.start.astimezone(tz).date()
            self._days[day] += session.end - session.start
            self._weeks[_monday(day)] += session.end - session.start

    def fits(self, start: datetime, duration: timedelta) -> bool:
        """A session of `duration` starting at `start` keeps its day and week within the limits."""
        day = start.astimezone(self._tz).date()
        daily, weekly = self._limits.daily, self._limits.weekly
        return (daily is None or self._days[day] + duration <= daily) and (
            weekly is None or self._weeks[_monday(day)] + duration <= weekly
        )


@dataclass(frozen=True)
class RoomPlan:
    """The rooms a service may use, in the order a booking takes them, and when each is taken
    (with its turnover buffer) (issue 20.1)."""

    suitable: Sequence[int]
    booked: Mapping[int, Busy]

    def free(self, candidate: Interval) -> tuple[int, ...]:
        return tuple(
            room
            for room in self.suitable
            if room not in self.booked or not self.booked[room].overlaps(candidate)
        )


@dataclass(frozen=True)
class _Diary:
    """One therapist's inputs besides the hours: what is taken and what they may still do."""

    time_off: Busy
    booked: Busy
    limits: Limits = NO_LIMITS
    hands_on: HandsOn | None = None


def _fits(
    start: datetime, diary: _Diary, rules: Rules, rooms: RoomPlan | None
) -> tuple[int, ...] | None:
    """None if a session starting at `start` cannot be booked; else the free rooms for it."""
    end = start + rules.duration
    tail = max(rules.buffer, diary.limits.recovery) if rules.deep else rules.buffer
    if not rules.earliest <= start < rules.latest:
        return None
    if diary.time_off.overlaps(Interval(start, end)):
        return None
    if diary.booked.overlaps(Interval(start, end + tail)):
        return None
    if diary.hands_on is not None and not diary.hands_on.fits(start, rules.duration):
        return None
    if rooms is None:
        return ()
    free = rooms.free(Interval(start, end + rules.buffer))
    return free or None


def therapist_slots(
    *,
    therapist: int,
    working: Sequence[Interval],
    time_off: Busy,
    booked: Busy,
    rules: Rules,
    limits: Limits = NO_LIMITS,
    hands_on: HandsOn | None = None,
    rooms: RoomPlan | None = None,
) -> list[Slot]:
    """Free slots of one therapist: inside working hours, outside time off, with the service's
    buffer (or a deep session's recovery) after it clear of every booked interval (which already
    carries its own), within the hands-on limits, and with a suitable room free if it needs one."""
    diary = _Diary(time_off=time_off, booked=booked, limits=limits, hands_on=hands_on)
    slots = []
    for interval in working:
        start = interval.start
        while start + rules.duration <= interval.end:
            free_rooms = _fits(start, diary, rules, rooms)
            if free_rooms is not None:
                slots.append(Slot(start, start + rules.duration, therapist, free_rooms))
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
    overrides: Mapping[int, Mapping[date, DayHours]] | None = None,
    limits: Mapping[int, Limits] | None = None,
    hands_on: Mapping[int, list[Interval]] | None = None,
    rooms: RoomPlan | None = None,
) -> list[Slot]:
    """Slots of every therapist in `hours` on local days first..last, by time then therapist.

    `overrides`: per therapist, local dates whose hours replace the week's; `limits` and
    `hands_on` (their sessions, for the day and week tallies): hands-on limits; `rooms`: the
    service's rooms (None: it needs none). `time_off` holds every interval the therapist is away,
    whatever its source."""
    overrides, limits, hands_on = overrides or {}, limits or {}, hands_on or {}
    slots: list[Slot] = []
    for therapist, weekly in hours.items():
        own = limits.get(therapist, NO_LIMITS)
        slots += therapist_slots(
            therapist=therapist,
            working=working_intervals(weekly, first, last, tz, overrides.get(therapist)),
            time_off=Busy(time_off.get(therapist, ())),
            booked=Busy(booked.get(therapist, ())),
            rules=rules,
            limits=own,
            hands_on=HandsOn(hands_on.get(therapist, ()), tz, own) if own.caps_time else None,
            rooms=rooms,
        )
    slots.sort(key=lambda s: (s.start, s.therapist))
    return slots
