"""availability_14d: `sessions.scheduling.selectors.free_slots` for 14 days beside a brute force.

The figure asks what a clinic's week is made of (issue 20): a service that needs one of 4 rooms
(the seeded appointments spread over them), the 3 therapists' hands-on limits per day and week,
two date overrides (a day off, a long day), and 200 short outside busy blocks. The brute force walks
the same grid (each therapist's hours of each date, the practice's slot step, the notice and horizon
rules) and asks the database about every candidate slot: one overlap query against the
appointments, then one against the time off, the minutes of its day and of its week, and its rooms
one by one until one is free. Both must return the same slots and rooms; the figure is how much
faster the set-based selector (4 queries) is.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.measure import BenchError
from bench.results import Figure
from bench.schedule import Schedule, seed_outside_busy_blocks
from practice.models import DateOverride, Practice, Room, Service, Therapist, TimeOff, WorkingHours
from sessions.scheduling.availability import Slot
from sessions.scheduling.models import Appointment, BusyBlock, CalendarLink, Status
from sessions.scheduling.selectors import booking_rules, free_slots

NAME = "availability_14d"
DAYS = 14
TARGET = 10.0  # the selector at least 10x faster than the brute force
MAX_QUERIES = 4
FAST_CALLS_PER_ROUND = 5
ROOMS = 4
DAILY_LIMIT, WEEKLY_LIMIT = 240, 1080  # minutes: they bite on the busier days and weeks
BUSY_BLOCKS = 200  # synced from outside calendars (issue 20.4): availability reads them as time off


def _rooms_by_appointment(schedule: Schedule) -> dict[int, int]:
    """The seeded appointments spread over the rooms, none overlapping another in its room."""
    rooms = list(
        Room.objects.filter(practice=schedule.service.practice).values_list("pk", flat=True)
    )
    free_from = dict.fromkeys(rooms, dt.datetime.min.replace(tzinfo=dt.UTC))
    chosen: dict[int, int] = {}
    appointments = Appointment.objects.filter(therapist__in=schedule.therapists).exclude(
        status=Status.CANCELLED
    )
    for pk, start, blocked_until in appointments.order_by("start").values_list(
        "pk", "start", "blocked_until"
    ):
        room = next((r for r in rooms if free_from[r] <= start), None)
        if room is not None:
            chosen[pk] = room
            free_from[room] = blocked_until
    return chosen


@contextmanager
def clinic_week(schedule: Schedule) -> Iterator[Service]:
    """Rooms, limits, overrides and busy blocks for the measurement, all undone afterwards (the
    other scheduling figures book the plain service of the same therapists)."""
    practice = schedule.service.practice
    tz = practice.tz
    today = timezone.localdate(timezone=tz)
    with transaction.atomic():
        for number in range(ROOMS):
            Room.objects.create(practice=practice, name=f"Bench room {number}", equipment=["table"])
        for pk, room in _rooms_by_appointment(schedule).items():
            Appointment.objects.filter(pk=pk).update(room_id=room)
        service = Service.objects.create(
            practice=practice,
            name="Back massage in a room (45 min)",
            duration_minutes=45,
            buffer_minutes=15,
            needs_room=True,
            room_tags=["table"],
        )
        service.therapists.set(schedule.therapists)  # type: ignore[attr-defined]
        Therapist.objects.filter(pk__in=[t.pk for t in schedule.therapists]).update(
            max_daily_minutes=DAILY_LIMIT, max_weekly_minutes=WEEKLY_LIMIT
        )
        first, second = schedule.therapists[:2]
        DateOverride.objects.create(
            practice=practice, therapist=first, date=today + dt.timedelta(days=5)
        )
        DateOverride.objects.create(
            practice=practice,
            therapist=second,
            date=today + dt.timedelta(days=6),
            start=dt.time(8),
            end=dt.time(20),
        )
    seed_outside_busy_blocks(list(schedule.therapists), count=BUSY_BLOCKS)
    try:
        yield service
    finally:
        with transaction.atomic():
            CalendarLink.objects.filter(practice=practice).delete()  # and its busy blocks
            DateOverride.objects.filter(practice=practice).delete()
            Therapist.objects.filter(pk__in=[t.pk for t in schedule.therapists]).update(
                max_daily_minutes=None, max_weekly_minutes=None
            )
            Appointment.objects.filter(practice=practice).update(room=None)
            service.rooms.clear()
            service.delete()
            Room.objects.filter(practice=practice).delete()


def _grid(practice: Practice, service: Service, first: dt.date, last: dt.date):
    """(therapist, local day, wall start, wall end) of every working interval: weekly hours, or
    the date's overrides where it has some."""
    weekly: dict[int, list[tuple[int, dt.time, dt.time]]] = defaultdict(list)
    for therapist, weekday, start, end in WorkingHours.objects.filter(
        practice=practice, therapist__active=True, therapist__services=service
    ).values_list("therapist_id", "weekday", "start", "end"):
        weekly[therapist].append((weekday, start, end))
    dated: dict[tuple[int, dt.date], list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for therapist, day, start, end in DateOverride.objects.filter(
        practice=practice, date__gte=first, date__lte=last
    ).values_list("therapist_id", "date", "start", "end"):
        dated[(therapist, day)] += [] if start is None else [(start, end)]
    for therapist, hours in weekly.items():
        day = first
        while day <= last:
            if (therapist, day) in dated:
                wall = dated[(therapist, day)]
            else:
                wall = [(s, e) for weekday, s, e in hours if weekday == day.weekday()]
            for wall_start, wall_end in sorted(wall):
                yield therapist, day, wall_start, wall_end
            day += dt.timedelta(days=1)


def brute_force_slots(
    *, practice: Practice, service: Service, first: dt.date, last: dt.date, now: dt.datetime
) -> tuple[list[Slot], int]:
    """Every candidate of the grid checked with its own queries; returns the slots and the number
    of candidates."""
    rules = booking_rules(practice, service, now)
    tz = practice.tz
    rooms = list(Room.objects.filter(practice=practice, active=True).order_by("id"))
    rooms = [r.pk for r in rooms if set(service.room_tags) <= set(r.equipment)]
    limits = {
        t.pk: (t.max_daily_minutes, t.max_weekly_minutes)
        for t in Therapist.objects.filter(practice=practice)
    }
    live = Appointment.objects.exclude(status=Status.CANCELLED)

    def booked(therapist: int, start: dt.datetime, end: dt.datetime) -> bool:
        return live.filter(
            therapist_id=therapist, start__lt=end + rules.buffer, blocked_until__gt=start
        ).exists()

    def off(therapist: int, start: dt.datetime, end: dt.datetime) -> bool:
        overlapping = {"therapist_id": therapist, "start__lt": end, "end__gt": start}
        return (
            TimeOff.objects.filter(**overlapping).exists()
            or BusyBlock.objects.filter(**overlapping).exists()
        )

    def minutes(therapist: int, first_day: dt.date, days: int) -> int:
        since = dt.datetime.combine(first_day, dt.time(), tz)
        until = dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time(), tz)
        total = live.filter(therapist_id=therapist, start__gte=since, start__lt=until).aggregate(
            taken=Sum(F("end") - F("start"))
        )["taken"]
        return int(total.total_seconds() // 60) if total else 0

    def within_limits(therapist: int, day: dt.date) -> bool:
        daily, weekly = limits[therapist]
        if daily is not None and minutes(therapist, day, 1) + service.duration_minutes > daily:
            return False
        monday = day - dt.timedelta(days=day.weekday())
        return weekly is None or minutes(therapist, monday, 7) + service.duration_minutes <= weekly

    def free_rooms(start: dt.datetime, end: dt.datetime) -> tuple[int, ...] | None:
        """The suitable rooms free at start..end; () for a service that needs none, None when
        it needs one and none is free."""
        if not service.needs_room:
            return ()
        free = tuple(
            room
            for room in rooms
            if not live.filter(
                room_id=room, start__lt=end + rules.buffer, blocked_until__gt=start
            ).exists()
        )
        return free or None

    slots = []
    candidates = 0
    for therapist, day, wall_start, wall_end in _grid(practice, service, first, last):
        start = dt.datetime.combine(day, wall_start, tzinfo=tz).astimezone(dt.UTC)
        close = dt.datetime.combine(day, wall_end, tzinfo=tz).astimezone(dt.UTC)
        while start + rules.duration <= close:
            end = start + rules.duration
            if rules.earliest <= start < rules.latest:
                candidates += 1
                if (
                    not booked(therapist, start, end)
                    and not off(therapist, start, end)
                    and within_limits(therapist, day)
                    and (found := free_rooms(start, end)) is not None
                ):
                    slots.append(Slot(start, end, therapist, found))
            start += rules.step
    slots.sort(key=lambda s: (s.start, s.therapist))
    return slots, candidates


def _timed(call) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def measure_availability(schedule: Schedule, *, rounds: int, say) -> Figure:
    with clinic_week(schedule) as service:
        return _measure(schedule, service, rounds=rounds, say=say)


def _measure(schedule: Schedule, service: Service, *, rounds: int, say) -> Figure:
    practice = schedule.service.practice
    first = timezone.localdate(timezone=practice.tz) + dt.timedelta(days=1)
    last = first + dt.timedelta(days=DAYS - 1)
    now = timezone.now()  # one "now" for both, so the notice and horizon cut the same slots

    def fast() -> list[Slot]:
        return free_slots(practice=practice, service=service, first=first, last=last, now=now)

    def brute() -> tuple[list[Slot], int]:
        return brute_force_slots(
            practice=practice, service=service, first=first, last=last, now=now
        )

    with CaptureQueriesContext(connection) as fast_queries:
        slots = fast()
    with CaptureQueriesContext(connection) as brute_queries:
        brute_slots, candidates = brute()
    with_rooms = {(s.start, s.therapist, s.rooms) for s in slots}
    if with_rooms != {(s.start, s.therapist, s.rooms) for s in brute_slots} or len(slots) != len(
        brute_slots
    ):
        raise BenchError(
            f"{NAME}: free_slots gave {len(slots)} slots, the brute force {len(brute_slots)}."
        )
    in_window = (
        Appointment.objects.filter(
            therapist__in=schedule.therapists,
            start__lt=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), practice.tz),
            blocked_until__gt=dt.datetime.combine(first, dt.time(), practice.tz),
        )
        .exclude(status=Status.CANCELLED)
        .count()
    )
    say(
        f"  {NAME}: {len(schedule.therapists)} therapists, {schedule.appointments} appointments "
        f"({in_window} in the {DAYS} days) in {ROOMS} rooms, {schedule.time_off} time off, "
        f"{BUSY_BLOCKS} busy blocks, limits {DAILY_LIMIT}/{WEEKLY_LIMIT} min a day/week, 2 date "
        f"overrides; {candidates} candidate slots, {len(slots)} free, the same from both"
    )
    say(
        f"  {NAME}: free_slots made {len(fast_queries)} queries (at most {MAX_QUERIES}), "
        f"the brute force {len(brute_queries)}"
    )

    fast_ms: list[float] = []
    brute_ms: list[float] = []
    for number in range(rounds):
        calls = [lambda: brute_ms.append(_timed(brute)[0])]
        calls += [lambda: fast_ms.append(_timed(fast)[0])] * FAST_CALLS_PER_ROUND
        for call in calls if number % 2 else reversed(calls):
            call()
    value = statistics.median(fast_ms)
    baseline = statistics.median(brute_ms)
    speedup = baseline / value
    say(
        f"  {NAME}: {rounds} rounds, free_slots {min(fast_ms):.1f}-{max(fast_ms):.1f} ms, "
        f"brute force {min(brute_ms):.0f}-{max(brute_ms):.0f} ms"
    )
    return Figure(
        name=NAME,
        value=value,
        baseline=baseline,
        ratio=speedup,
        target=TARGET,
        unit="ms",
        passes_when=f"ratio >= {TARGET:g} and queries <= {MAX_QUERIES} (ratio = baseline / value)",
        passed=speedup >= TARGET and len(fast_queries) <= MAX_QUERIES,
        extra={
            "queries": len(fast_queries),
            "baseline_queries": len(brute_queries),
            "slots": len(slots),
            "candidates": candidates,
        },
    )
