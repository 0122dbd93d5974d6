"""A bookable week for the scheduling figures: 3 therapists with working hours and a service, 500
appointments (bulk_create, `booked`, never overlapping one therapist's others, each with the
`created` history event a booking writes) and some time off.

Seeded once, on first use, by the figures that need it (availability, booking, reminders, the
appointments list).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from bench.seed import SEED, SeededPractice
from clients.models import Client
from practice.models import Role, Service, Therapist, TimeOff
from practice.services import create_user_in_practice, set_working_hours
from sessions.scheduling.models import (
    Appointment,
    AppointmentEvent,
    BusyBlock,
    CalendarKind,
    CalendarLink,
    Source,
    Status,
)

THERAPISTS = 3
APPOINTMENTS = 500
# Appointments fall on days FIRST_DAY..LAST_DAY from today (the practice's local days), about 40%
# of the working time: the 14 days the availability figure asks for are in the middle.
FIRST_DAY, LAST_DAY = -14, 41
DURATION = dt.timedelta(minutes=45)
BUFFER = dt.timedelta(minutes=15)
# Weekly hours (weekday 0 = Monday), with a lunch break; the first therapist also works Saturdays.
WEEK = [{"weekday": day, "start": dt.time(9), "end": dt.time(13)} for day in range(5)] + [
    {"weekday": day, "start": dt.time(14), "end": dt.time(18)} for day in range(5)
]
SATURDAY = [{"weekday": 5, "start": dt.time(9), "end": dt.time(13)}]


@dataclass(frozen=True)
class Schedule:
    service: Service
    therapists: list[Therapist]
    appointments: int
    time_off: int


def _local(day: dt.date, wall: dt.time, tz) -> dt.datetime:
    return dt.datetime.combine(day, wall, tzinfo=tz).astimezone(dt.UTC)


def _layout(rng: random.Random, therapist: Therapist, hours: list[dict], today, tz) -> list:
    """Back-to-back-ish blocks of one therapist inside their hours, 15-minute aligned, with random
    gaps: every block is [start, start + duration + buffer) and none overlaps another."""
    blocks = []
    for offset in range(FIRST_DAY, LAST_DAY + 1):
        day = today + dt.timedelta(days=offset)
        for interval in (h for h in hours if h["weekday"] == day.weekday()):
            start = _local(day, interval["start"], tz)
            end = _local(day, interval["end"], tz)
            start += dt.timedelta(minutes=15 * rng.choice((0, 0, 1, 2)))
            while start + DURATION <= end:
                blocks.append((therapist, start))
                start += DURATION + BUFFER + dt.timedelta(minutes=15 * rng.choice((0, 0, 1, 4)))
    return blocks


def seed_schedule(seeded: SeededPractice, *, seed: int = SEED) -> Schedule:
    rng = random.Random(seed + 1)
    practice = seeded.practice
    tz = practice.tz
    today = timezone.localdate(timezone=tz)
    with transaction.atomic():
        service = Service.objects.create(
            practice=practice,
            name="Back massage (45 min)",
            duration_minutes=45,
            buffer_minutes=15,
            price=55,
        )
        therapists = []
        blocks = []
        for number in range(THERAPISTS):
            user = create_user_in_practice(
                practice=practice,
                email=f"therapist{number}@bench.example",
                password=None,
                role=Role.THERAPIST,
                first_name=("Maya", "Tom", "Ines")[number % 3],
                last_name="Bench",
            )
            therapist = Therapist.objects.get(user=user)
            therapist.services.add(service)
            hours = WEEK + (SATURDAY if number == 0 else [])
            set_working_hours(therapist=therapist, intervals=hours)
            therapists.append(therapist)
            blocks += _layout(rng, therapist, hours, today, tz)

        client_ids = list(Client.objects.filter(practice=practice).values_list("pk", flat=True))
        chosen = rng.sample(blocks, k=min(APPOINTMENTS, len(blocks)))
        appointments = Appointment.objects.bulk_create(
            [
                Appointment(
                    practice=practice,
                    client_id=rng.choice(client_ids),
                    therapist=therapist,
                    service=service,
                    start=start,
                    end=start + DURATION,
                    blocked_until=start + DURATION + BUFFER,
                    status=Status.BOOKED,
                    source=rng.choice((Source.STAFF, Source.STAFF, Source.CLIENT)),
                    booked_by=seeded.owner,
                )
                for therapist, start in chosen
            ],
            batch_size=500,
        )
        # Each with the history event a booking writes (shown by the appointments list).
        AppointmentEvent.objects.bulk_create(
            [
                AppointmentEvent(
                    appointment=appointment,
                    actor=seeded.owner,
                    actor_kind=appointment.source,
                    action="created",
                    changes={"status": Status.BOOKED, "start": appointment.start.isoformat()},
                )
                for appointment in appointments
            ],
            batch_size=500,
        )
        # Time off per therapist: a whole day and an afternoon inside the next two weeks, and a
        # week of holiday long past (outside every window asked for).
        time_off = []
        for number, therapist in enumerate(therapists):
            day = today + dt.timedelta(days=3 + 4 * number)
            afternoon = today + dt.timedelta(days=8 + number)
            past = today - dt.timedelta(days=60 + 10 * number)
            time_off += [
                TimeOff(
                    practice=practice,
                    therapist=therapist,
                    start=_local(day, dt.time(0), tz),
                    end=_local(day + dt.timedelta(days=1), dt.time(0), tz),
                    reason="Course",
                ),
                TimeOff(
                    practice=practice,
                    therapist=therapist,
                    start=_local(afternoon, dt.time(13, 30), tz),
                    end=_local(afternoon, dt.time(18), tz),
                    reason="Appointment",
                ),
                TimeOff(
                    practice=practice,
                    therapist=therapist,
                    start=_local(past, dt.time(0), tz),
                    end=_local(past + dt.timedelta(days=7), dt.time(0), tz),
                    reason="Holiday",
                ),
            ]
        TimeOff.objects.bulk_create(time_off)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Schedule(
        service=service, therapists=therapists, appointments=len(chosen), time_off=len(time_off)
    )


def seed_outside_busy_blocks(
    therapists: list[Therapist], *, count: int = 200, seed: int = SEED
) -> int:
    """`count` busy blocks from outside calendars (issue 20.4), spread over the therapists'
    days FIRST_DAY..LAST_DAY inside working time (30-90 minutes, 15-minute aligned), on one ics
    link per therapist: what the availability figure reads beside time off. Returns the count."""
    rng = random.Random(seed + 2)
    tz = therapists[0].practice.tz
    today = timezone.localdate(timezone=tz)
    with transaction.atomic():
        links = [
            CalendarLink.objects.create(
                practice_id=t.practice_id,
                therapist=t,
                kind=CalendarKind.ICS,
                url=f"https://calendar.example.com/bench-{t.pk}.ics",
                next_sync_at=timezone.now() + dt.timedelta(days=365),
            )
            for t in therapists
        ]
        blocks = []
        for number in range(count):
            link = links[number % len(links)]
            day = today + dt.timedelta(days=rng.randint(FIRST_DAY, LAST_DAY))
            start = _local(day, dt.time(9 + rng.randint(0, 7), 15 * rng.randint(0, 3)), tz)
            length = dt.timedelta(minutes=30 * rng.randint(1, 3))
            blocks.append(
                BusyBlock(link=link, therapist=link.therapist, start=start, end=start + length)
            )
        BusyBlock.objects.bulk_create(blocks)
    return count
