"""Slot arithmetic with rooms and hands-on limits (issue 20.1, 20.2) as properties: for any room
bookings, sessions, limits and recovery gap, `available_slots` offers exactly the candidates a plain
oracle, written without the module's helpers, accepts, and each with exactly the free rooms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions.scheduling.availability import (
    Busy,
    Interval,
    Limits,
    RoomPlan,
    Rules,
    available_slots,
)

TZ = ZoneInfo("Europe/London")
FIRST = date(2027, 3, 22)  # a Monday; the week holds the spring clock change (Sunday 28th)
LAST = FIRST + timedelta(days=6)
HOURS = [(weekday, time(9), time(17)) for weekday in range(7)]
STEP = timedelta(minutes=30)


def local(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(9), tzinfo=TZ).astimezone(UTC) + timedelta(minutes=minutes)


days = st.integers(min_value=0, max_value=6).map(lambda n: FIRST + timedelta(days=n))
offsets = st.integers(min_value=-60, max_value=8 * 60).map(lambda m: m - m % 15)
intervals = st.builds(
    lambda day, start, length: Interval(local(day, start), local(day, start + length)),
    days,
    offsets,
    st.sampled_from([30, 45, 60, 90]),
)
maybe_minutes = st.one_of(st.none(), st.sampled_from([0, 60, 120, 180, 300, 600, 900]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sessions=st.lists(intervals, max_size=10),
    room_bookings=st.dictionaries(st.integers(1, 3), st.lists(intervals, max_size=6), max_size=3),
    suitable=st.lists(st.integers(1, 4), unique=True, max_size=3),
    needs_room=st.booleans(),
    daily=maybe_minutes,
    weekly=maybe_minutes,
    recovery=st.sampled_from([0, 15, 45]),
    deep=st.booleans(),
    buffer=st.sampled_from([0, 15]),
)
def test_offered_slots_are_exactly_those_the_rules_allow(
    sessions, room_bookings, suitable, needs_room, daily, weekly, recovery, deep, buffer
):
    rules = Rules(
        duration=timedelta(minutes=60),
        buffer=timedelta(minutes=buffer),
        step=STEP,
        earliest=datetime(2000, 1, 1, tzinfo=UTC),
        latest=datetime(2100, 1, 1, tzinfo=UTC),
        deep=deep,
    )
    limits = Limits(
        daily=None if daily is None else timedelta(minutes=daily),
        weekly=None if weekly is None else timedelta(minutes=weekly),
        recovery=timedelta(minutes=recovery),
    )
    # The therapist's booked time: each session with the buffer (not deep sessions here).
    booked = [Interval(s.start, s.end + rules.buffer) for s in sessions]
    rooms = (
        RoomPlan(suitable, {room: Busy(taken) for room, taken in room_bookings.items()})
        if needs_room
        else None
    )

    found = available_slots(
        hours={1: HOURS},
        time_off={},
        booked={1: booked},
        limits={1: limits},
        hands_on={1: sessions},
        rooms=rooms,
        first=FIRST,
        last=LAST,
        tz=TZ,
        rules=rules,
    )

    expected = {}
    for offset in range(7):
        day = FIRST + timedelta(days=offset)
        start = datetime.combine(day, time(9), tzinfo=TZ).astimezone(UTC)
        close = datetime.combine(day, time(17), tzinfo=TZ).astimezone(UTC)
        while start + rules.duration <= close:
            free = oracle(
                start, day, sessions, booked, room_bookings, suitable, needs_room, rules, limits
            )
            if free is not None:
                expected[start] = free
            start += STEP
    assert {slot.start: slot.rooms for slot in found} == expected


def oracle(start, day, sessions, booked, room_bookings, suitable, needs_room, rules, limits):
    end = start + rules.duration
    tail = max(rules.buffer, limits.recovery) if rules.deep else rules.buffer
    if any(b.start < end + tail and start < b.end for b in booked):
        return None
    on_day = [s for s in sessions if s.start.astimezone(TZ).date() == day]
    monday = day - timedelta(days=day.weekday())
    in_week = [
        s for s in sessions if monday <= s.start.astimezone(TZ).date() < monday + timedelta(7)
    ]
    day_minutes = sum((s.end - s.start for s in on_day), timedelta())
    week_minutes = sum((s.end - s.start for s in in_week), timedelta())
    if limits.daily is not None and day_minutes + rules.duration > limits.daily:
        return None
    if limits.weekly is not None and week_minutes + rules.duration > limits.weekly:
        return None
    if not needs_room:
        return ()
    free = tuple(
        room
        for room in suitable
        if not any(
            b.start < end + rules.buffer and start < b.end for b in room_bookings.get(room, [])
        )
    )
    return free or None
