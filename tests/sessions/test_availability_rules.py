"""Slot arithmetic (`sessions.scheduling.availability`) as properties: any
zone, any week around a DST change,
any weekly hours (API.md "Booking": "Days are the practice's days; daylight-saving changes are
handled").

The oracle here is written independently of the module: a wall-clock time of a local day becomes an
instant by PEP 495 / RFC 5545 (a repeated time is its first occurrence, a skipped time is read with
the offset before the gap), and a working interval is the real time between its two ends. From that
the exact slot set follows, so every test checks both directions: no slot outside the rules, and no
slot within them missing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions.scheduling.availability import Busy, Interval, Rules, Slot, available_slots

NAMED_ZONES = ("Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata")


def _loadable(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


ALL_ZONES = sorted(name for name in zoneinfo.available_timezones() if _loadable(name))

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- calendar helpers ---------------------------------------------------------------------------


def nth_sunday(year: int, month: int, n: int) -> date:
    """The n-th Sunday of a month (n = -1: the last)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def usual_dst_sundays(year: int) -> list[date]:
    """EU (last Sunday of March/October), US (second Sunday of March, first of November),
    southern hemisphere (first Sunday of April/October)."""
    return [
        nth_sunday(year, 3, -1),
        nth_sunday(year, 10, -1),
        nth_sunday(year, 4, 1),
        nth_sunday(year, 10, 1),
        nth_sunday(year, 3, 2),
        nth_sunday(year, 11, 1),
    ]


@cache
def offset_change_days(zone: str, year: int) -> tuple[date, ...]:
    """Local days on which this zone's UTC offset changes (its own DST or other transitions)."""
    tz = ZoneInfo(zone)
    days = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(tz).utcoffset()
    while moment.year == year:
        moment += timedelta(hours=3)
        local = moment.astimezone(tz)
        if local.utcoffset() != previous:
            days.append(local.date())
            previous = local.utcoffset()
    return tuple(days)


def instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """PEP 495 fold=0: the first occurrence of a repeated time; a skipped time is read with the
    offset in force before the gap (RFC 5545 3.3.5), so it lands after the gap."""
    naive = datetime.combine(day, wall)
    offset = naive.replace(tzinfo=tz).utcoffset()
    assert offset is not None
    return (naive - offset).replace(tzinfo=UTC)


def local_days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def overlaps(start: datetime, end: datetime, other: Interval) -> bool:
    return start < other.end and other.start < end


# --- scenarios ----------------------------------------------------------------------------------

zones = st.one_of(st.sampled_from(NAMED_ZONES), st.sampled_from(ALL_ZONES))
# Minutes of a day, biased to the small hours, where most clocks change.
minutes_of_day = st.one_of(
    st.integers(0, 287).map(lambda units: units * 5), st.integers(0, 4 * 60 - 1)
)


def as_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def weekly_hours(draw) -> list[tuple[int, time, time]]:
    """1-3 non-overlapping intervals on some weekdays (weekday 0 = Monday), as set_working_hours
    would store them."""
    hours = []
    for weekday in range(7):
        count = draw(st.integers(0, 3))
        if not count:
            continue
        bounds = sorted(
            draw(st.lists(minutes_of_day, min_size=2 * count, max_size=2 * count, unique=True))
        )
        hours += [
            (weekday, as_time(start), as_time(end))
            for start, end in zip(bounds[::2], bounds[1::2], strict=True)
        ]
    return hours


@dataclass(frozen=True)
class Scenario:
    zone: str
    first: date
    last: date
    hours: dict[int, list[tuple[int, time, time]]]
    duration: timedelta
    buffer: timedelta
    step: timedelta

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def base(self) -> datetime:
        """Local midnight starting the first day, as an instant."""
        return instant(self.first, time(0), self.tz)

    def rules(self, earliest: datetime | None = None, latest: datetime | None = None) -> Rules:
        return Rules(
            duration=self.duration,
            buffer=self.buffer,
            step=self.step,
            earliest=earliest or self.base - timedelta(days=2),
            latest=latest or self.base + timedelta(days=30),
        )

    def slots(self, rules: Rules, booked=None, time_off=None) -> list[Slot]:
        return available_slots(
            hours=self.hours,
            time_off=time_off or {},
            booked=booked or {},
            first=self.first,
            last=self.last,
            tz=self.tz,
            rules=rules,
        )

    def working(self, therapist: int) -> list[tuple[date, time, time, datetime, datetime]]:
        """Each worked interval of a local day with its opening and closing instants.

        An interval opens no earlier than the one before it closes: an end skipped by DST is read
        after the gap and may reach past the next interval's start, and an instant is worked once.
        """
        out: list[tuple[date, time, time, datetime, datetime]] = []
        for day in local_days(self.first, self.last):
            for weekday, start, end in sorted(self.hours[therapist], key=lambda h: h[1]):
                if weekday != day.weekday():
                    continue
                opening, closing = instant(day, start, self.tz), instant(day, end, self.tz)
                if out:
                    opening = max(opening, out[-1][4])
                if closing > opening:
                    out.append((day, start, end, opening, closing))
        return out

    def grid(self, therapist: int) -> list[tuple[datetime, datetime]]:
        """Every start = opening + k * step (real time) whose slot ends by the closing."""
        out = []
        for _day, _start, _end, opening, closing in self.working(therapist):
            start = opening
            while start + self.duration <= closing:
                out.append((start, start + self.duration))
                start += self.step
        return out


@st.composite
def scenarios(draw, therapists: int = 2) -> Scenario:
    zone = draw(zones)
    year = draw(st.integers(2024, 2030))
    anchor = draw(st.sampled_from(usual_dst_sundays(year) + list(offset_change_days(zone, year))))
    first = anchor + timedelta(days=draw(st.integers(-3, 2)))
    last = first + timedelta(days=draw(st.integers(0, 6)))
    count = draw(st.integers(1, therapists))
    return Scenario(
        zone=zone,
        first=first,
        last=last,
        hours={10 + n: draw(weekly_hours()) for n in range(count)},
        duration=timedelta(minutes=draw(st.integers(1, 36)) * 5),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 15, 30, 60]))),
        step=timedelta(minutes=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60]))),
    )


@st.composite
def busy_intervals(draw, scenario: Scenario) -> dict[int, list[Interval]]:
    """Intervals anywhere from a day before the range to a day after it, 5 min to 6 h long."""
    span = ((scenario.last - scenario.first).days + 3) * 24 * 12
    out = {}
    for therapist in scenario.hours:
        intervals = []
        for _ in range(draw(st.integers(0, 6))):
            start = scenario.base + timedelta(minutes=5 * draw(st.integers(-24 * 12, span)))
            intervals.append(
                Interval(start, start + timedelta(minutes=5 * draw(st.integers(1, 72))))
            )
        out[therapist] = intervals
    return out


# --- where slots lie ----------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_every_slot_lies_inside_a_working_interval_of_its_local_day(scenario):
    slots = scenario.slots(scenario.rules())

    for slot in slots:
        assert slot.end - slot.start == scenario.duration
        local_start = slot.start.astimezone(scenario.tz)
        day = local_start.date()
        assert scenario.first <= day <= scenario.last, (slot, local_start)
        containing = [
            (start, end, opening, closing)
            for worked_day, start, end, opening, closing in scenario.working(slot.therapist)
            if worked_day == day and opening <= slot.start and slot.end <= closing
        ]
        assert containing, f"{local_start} .. {slot.end.astimezone(scenario.tz)} outside hours"
        start, _end, opening, closing = containing[0]
        # On the grid of that interval, counted in real time from its opening.
        assert (slot.start - opening) % scenario.step == timedelta(0)
        # In local time, where no clock change lies between them, the slot starts no earlier than
        # the interval's (normalised) wall-clock start and ends no later than its end.
        local_end = slot.end.astimezone(scenario.tz)
        local_opening = opening.astimezone(scenario.tz)
        local_closing = closing.astimezone(scenario.tz)
        if local_start.utcoffset() == local_opening.utcoffset():
            assert local_start.time() >= local_opening.time()
            assert local_opening.time() == start or local_opening.time() > start  # gap: later
        if local_end.utcoffset() == local_closing.utcoffset():
            assert local_end.replace(tzinfo=None) <= local_closing.replace(tzinfo=None)


@PROPERTY
@given(scenarios())
def test_no_slot_is_duplicated_and_slots_come_in_time_then_therapist_order(scenario):
    slots = scenario.slots(scenario.rules())

    assert len(slots) == len(set(slots))
    assert len({(s.start, s.therapist) for s in slots}) == len(slots)
    assert slots == sorted(slots, key=lambda s: (s.start, s.therapist))


@PROPERTY
@given(scenarios())
def test_no_slot_is_missing(scenario):
    """Every start = opening + k * step whose slot ends by the closing is offered."""
    slots = set(scenario.slots(scenario.rules()))

    expected = {
        Slot(start, end, therapist)
        for therapist in scenario.hours
        for start, end in scenario.grid(therapist)
    }
    assert expected - slots == set()
    assert slots - expected == set()


@PROPERTY
@given(scenarios(therapists=1))
def test_a_working_interval_without_a_clock_change_keeps_its_wall_clock_times(scenario):
    """DST never shifts a working hour: where no change falls inside an interval, its slots start
    at its wall-clock start plus whole steps, and the first one exactly at that start."""
    [therapist] = scenario.hours
    slots = scenario.slots(scenario.rules())
    for day, start, end, opening, closing in scenario.working(therapist):
        tz = scenario.tz
        steady = opening.astimezone(tz).utcoffset() == closing.astimezone(tz).utcoffset()
        if not steady or opening.astimezone(tz).time() != start:
            continue  # spans a change, or starts in a gap: covered by the real-time properties
        wall = datetime.combine(day, end) - datetime.combine(day, start)
        wall_minutes = wall // timedelta(minutes=1)
        inside = [s for s in slots if opening <= s.start and s.end <= closing]
        fitting = wall_minutes >= scenario.duration // timedelta(minutes=1)
        assert bool(inside) == fitting
        step = scenario.step // timedelta(minutes=1)
        expected_count = (
            (wall_minutes - scenario.duration // timedelta(minutes=1)) // step + 1 if fitting else 0
        )
        assert len(inside) == expected_count, (day, start, end)
        for index, slot in enumerate(inside):
            local = slot.start.astimezone(tz)
            assert local.date() == day
            minutes = (datetime.combine(day, local.time()) - datetime.combine(day, start)) // (
                timedelta(minutes=1)
            )
            assert minutes == index * step
            assert slot.end.astimezone(tz).time() <= end


@PROPERTY
@given(scenarios(therapists=1))
def test_an_interval_spanning_a_clock_change_is_as_long_as_the_therapist_lives_it(scenario):
    """Its slots fill its wall-clock length minus the jump: an hour fewer in spring, an hour more
    in autumn (never a lost or repeated hour of slots)."""
    [therapist] = scenario.hours
    slots = scenario.slots(scenario.rules())
    for day, start, end, opening, closing in scenario.working(therapist):
        if opening != instant(day, start, scenario.tz):
            continue  # clipped by the interval before it (see Scenario.working)
        naive_start, naive_end = datetime.combine(day, start), datetime.combine(day, end)
        jump = (
            naive_end.replace(tzinfo=scenario.tz).utcoffset()
            - naive_start.replace(tzinfo=scenario.tz).utcoffset()
        )
        lived = (naive_end - naive_start) - jump
        inside = [s for s in slots if opening <= s.start and s.end <= closing]
        expected = (
            (lived - scenario.duration) // scenario.step + 1 if lived >= scenario.duration else 0
        )
        assert len(inside) == expected, (day, start, end, lived)


# --- what takes slots away ----------------------------------------------------------------------


@PROPERTY
@given(st.data())
def test_booked_intervals_and_time_off_remove_exactly_the_slots_they_touch(data):
    """Time off removes slots overlapping it; a booked interval (which carries its own turnover)
    removes slots overlapping it or whose own buffer after them would run into it."""
    scenario = data.draw(scenarios())
    booked = data.draw(busy_intervals(scenario))
    time_off = data.draw(busy_intervals(scenario))

    slots = scenario.slots(scenario.rules(), booked=booked, time_off=time_off)

    for slot in slots:
        assert not any(overlaps(slot.start, slot.end, off) for off in time_off[slot.therapist])
        after = slot.end + scenario.buffer
        assert not any(overlaps(slot.start, after, taken) for taken in booked[slot.therapist])
    expected = {
        Slot(start, end, therapist)
        for therapist in scenario.hours
        for start, end in scenario.grid(therapist)
        if not any(overlaps(start, end, off) for off in time_off[therapist])
        and not any(overlaps(start, end + scenario.buffer, taken) for taken in booked[therapist])
    }
    assert set(slots) == expected


@PROPERTY
@given(st.data())
def test_min_notice_and_horizon_bound_the_first_and_last_start(data):
    scenario = data.draw(scenarios())
    span_minutes = ((scenario.last - scenario.first).days + 2) * 24 * 60
    earliest = scenario.base + timedelta(minutes=data.draw(st.integers(-60, span_minutes)))
    latest = earliest + timedelta(minutes=data.draw(st.integers(0, span_minutes)))

    slots = scenario.slots(scenario.rules(earliest=earliest, latest=latest))

    assert all(earliest <= slot.start < latest for slot in slots)
    expected = {
        Slot(start, end, therapist)
        for therapist in scenario.hours
        for start, end in scenario.grid(therapist)
        if earliest <= start < latest
    }
    assert set(slots) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 600)), max_size=12),
    st.integers(-100, 2100),
    st.integers(1, 600),
)
def test_busy_overlap_lookup_agrees_with_checking_every_interval(raw, start, length):
    """Busy bisects on starts; a long interval starting far back must still be found."""
    origin = datetime(2027, 1, 1, tzinfo=UTC)
    intervals = [
        Interval(origin + timedelta(minutes=s), origin + timedelta(minutes=s + n)) for s, n in raw
    ]
    candidate = Interval(
        origin + timedelta(minutes=start), origin + timedelta(minutes=start + length)
    )

    assert Busy(intervals).overlaps(candidate) == any(i.overlaps(candidate) for i in intervals)


# --- worked examples ----------------------------------------------------------------------------


def nine_to_five_rules(base: datetime) -> Rules:
    return Rules(
        duration=timedelta(minutes=60),
        buffer=timedelta(minutes=15),
        step=timedelta(minutes=15),
        earliest=base - timedelta(days=30),
        latest=base + timedelta(days=30),
    )


@pytest.mark.parametrize(
    ("zone", "change"),
    [
        ("Europe/London", date(2027, 3, 28)),
        ("Europe/London", date(2027, 10, 31)),
        ("America/New_York", date(2027, 3, 14)),
        ("America/New_York", date(2027, 11, 7)),
        ("Australia/Sydney", date(2027, 4, 4)),
        ("Australia/Sydney", date(2027, 10, 3)),
        ("Asia/Kolkata", date(2027, 3, 28)),
    ],
)
def test_nine_to_five_stays_nine_to_five_through_a_dst_week(zone, change):
    tz = ZoneInfo(zone)
    first, last = change - timedelta(days=3), change + timedelta(days=3)
    every_day = [(weekday, time(9), time(17)) for weekday in range(7)]

    slots = available_slots(
        hours={1: every_day},
        time_off={},
        booked={},
        first=first,
        last=last,
        tz=tz,
        rules=nine_to_five_rules(instant(first, time(0), tz)),
    )

    by_day: dict[date, list[str]] = {}
    for slot in slots:
        local = slot.start.astimezone(tz)
        assert slot.end.astimezone(tz).date() == local.date()
        by_day.setdefault(local.date(), []).append(local.strftime("%H:%M"))
    wanted = [f"{9 + q // 4:02d}:{q % 4 * 15:02d}" for q in range(29)]  # 09:00 .. 16:00
    assert by_day == dict.fromkeys(local_days(first, last), wanted)


def test_an_hour_repeated_in_autumn_is_worked_twice_not_offered_twice():
    """London, 31 October 2027: 01:00-02:00 happens twice; hours 00:00-03:00 are 4 real hours."""
    tz = ZoneInfo("Europe/London")
    day = date(2027, 10, 31)
    slots = available_slots(
        hours={1: [(day.weekday(), time(0), time(3))]},
        time_off={},
        booked={},
        first=day,
        last=day,
        tz=tz,
        rules=nine_to_five_rules(instant(day, time(0), tz)),
    )

    starts = [slot.start for slot in slots]
    assert starts[0] == datetime(2027, 10, 30, 23, 0, tzinfo=UTC)  # 00:00 BST
    assert starts[-1] == datetime(2027, 10, 31, 2, 0, tzinfo=UTC)  # 02:00 GMT
    assert len(starts) == len(set(starts)) == 13  # every 15 min over 4 real hours, minus 1 h
    walls = [(s.astimezone(tz).strftime("%H:%M"), s.astimezone(tz).fold) for s in starts]
    assert ("01:00", 0) in walls
    assert ("01:00", 1) in walls


def test_an_hour_skipped_in_spring_is_not_offered():
    """London, 28 March 2027: 01:00-02:00 does not exist; hours 00:00-03:00 are 2 real hours."""
    tz = ZoneInfo("Europe/London")
    day = date(2027, 3, 28)
    slots = available_slots(
        hours={1: [(day.weekday(), time(0), time(3))]},
        time_off={},
        booked={},
        first=day,
        last=day,
        tz=tz,
        rules=nine_to_five_rules(instant(day, time(0), tz)),
    )

    walls = [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]
    assert walls == ["00:00", "00:15", "00:30", "00:45", "02:00"]


def test_an_interval_ending_in_the_spring_gap_does_not_offer_the_next_one_twice():
    """New York, 10 March 2024: 02:00-03:00 is skipped. Hours 00:00-02:30 and 03:00-03:30: the
    first end is read as 03:30 EDT, past the second start; 03:00 and 03:15 are offered once."""
    tz = ZoneInfo("America/New_York")
    day = date(2024, 3, 10)
    slots = available_slots(
        hours={1: [(day.weekday(), time(0), time(2, 30)), (day.weekday(), time(3), time(3, 30))]},
        time_off={},
        booked={},
        first=day,
        last=day,
        tz=tz,
        rules=Rules(
            duration=timedelta(minutes=15),
            buffer=timedelta(0),
            step=timedelta(minutes=15),
            earliest=datetime(2024, 1, 1, tzinfo=UTC),
            latest=datetime(2025, 1, 1, tzinfo=UTC),
        ),
    )

    walls = [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]
    night = [f"{h:02d}:{m:02d}" for h in (0, 1) for m in (0, 15, 30, 45)]
    assert walls == [*night, "03:00", "03:15"]


def test_a_booking_right_after_the_buffer_leaves_the_slot_free_and_one_minute_earlier_does_not():
    tz = ZoneInfo("Europe/London")
    day = date(2027, 6, 7)
    rules = nine_to_five_rules(instant(day, time(0), tz))
    hours = {1: [(day.weekday(), time(9), time(11))]}

    def starts(taken_from: datetime) -> list[str]:
        taken = Interval(taken_from, taken_from + timedelta(hours=1))
        slots = available_slots(
            hours=hours, time_off={}, booked={1: [taken]}, first=day, last=day, tz=tz, rules=rules
        )
        return [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]

    ten_fifteen = datetime(2027, 6, 7, 10, 15, tzinfo=tz)  # 09:00 + 60 min + 15 min buffer
    assert "09:00" in starts(ten_fifteen)
    assert "09:00" not in starts(ten_fifteen - timedelta(minutes=1))
