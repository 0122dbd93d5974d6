"""availability_14d: `sessions.scheduling.selectors.free_slots` for 14 days beside a brute force.

The brute force walks the same grid (each therapist's working hours, the practice's slot step, the
notice and horizon rules) and asks the database about every candidate slot: one overlap query
against the appointments and, if that one is clear, one against the time off. Both must return the
same slots; the figure is how much faster the set-based selector (3 queries) is.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import time
from collections import defaultdict

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.measure import BenchError
from bench.results import Figure
from bench.schedule import Schedule
from practice.models import Practice, Service, TimeOff, WorkingHours
from sessions.scheduling.availability import Slot
from sessions.scheduling.models import Appointment, Status
from sessions.scheduling.selectors import booking_rules, free_slots

NAME = "availability_14d"
DAYS = 14
TARGET = 10.0  # the selector at least 10x faster than the brute force
MAX_QUERIES = 3
FAST_CALLS_PER_ROUND = 5


def brute_force_slots(
    *, practice: Practice, service: Service, first: dt.date, last: dt.date, now: dt.datetime
) -> tuple[list[Slot], int]:
    """Every candidate of the grid checked with its own queries; returns the slots and the number
    of candidates."""
    rules = booking_rules(practice, service, now)
    tz = practice.tz
    hours: dict[int, list[tuple[int, dt.time, dt.time]]] = defaultdict(list)
    for therapist, weekday, start, end in WorkingHours.objects.filter(
        practice=practice, therapist__active=True, therapist__services=service
    ).values_list("therapist_id", "weekday", "start", "end"):
        hours[therapist].append((weekday, start, end))

    def booked(therapist: int, start: dt.datetime, end: dt.datetime) -> bool:
        return (
            Appointment.objects.filter(
                therapist_id=therapist, start__lt=end + rules.buffer, blocked_until__gt=start
            )
            .exclude(status=Status.CANCELLED)
            .exists()
        )

    def off(therapist: int, start: dt.datetime, end: dt.datetime) -> bool:
        return TimeOff.objects.filter(therapist_id=therapist, start__lt=end, end__gt=start).exists()

    slots = []
    candidates = 0
    for therapist, weekly in hours.items():
        day = first
        while day <= last:
            for weekday, wall_start, wall_end in sorted(weekly):
                if weekday != day.weekday():
                    continue
                start = dt.datetime.combine(day, wall_start, tzinfo=tz).astimezone(dt.UTC)
                close = dt.datetime.combine(day, wall_end, tzinfo=tz).astimezone(dt.UTC)
                while start + rules.duration <= close:
                    end = start + rules.duration
                    if rules.earliest <= start < rules.latest:
                        candidates += 1
                        if not booked(therapist, start, end) and not off(therapist, start, end):
                            slots.append(Slot(start, end, therapist))
                    start += rules.step
            day += dt.timedelta(days=1)
    slots.sort(key=lambda s: (s.start, s.therapist))
    return slots, candidates


def _timed(call) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def measure_availability(schedule: Schedule, *, rounds: int, say) -> Figure:
    practice = schedule.service.practice
    service = schedule.service
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
    if set(slots) != set(brute_slots) or len(slots) != len(brute_slots):
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
        f"({in_window} in the {DAYS} days), {schedule.time_off} time off; {candidates} candidate "
        f"slots, {len(slots)} free, the same from both"
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
