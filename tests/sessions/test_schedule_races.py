"""Races for the last room and the last hands-on minutes (issue 20.1, 20.2): exactly one wins.

Real threads on real PostgreSQL, each on its own connection, released together. For rooms the
racers book different therapists, so only the room's exclusion constraint (scheduling 0002) can
decide; for hands-on limits they book different, non-overlapping times, so no constraint can, and
the per-therapist advisory lock in `book_appointment` must.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, time, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from practice.models import Therapist
from practice.services import set_working_hours
from sessions.scheduling.models import Appointment, Status
from tests.factories import ClientFactory, RoomFactory, ServiceFactory, TherapistFactory
from tests.sessions.booking_setup import Bookable, local
from tests.sessions.test_booking_races import _room_in_the_pool, race, tally  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/appointments/"
RACERS = 30


def booking(service, therapist: Therapist, client, start) -> Callable[[APIClient], object]:
    data = {
        "service": service.pk,
        "therapist": therapist.pk,
        "client": client.pk,
        "start": start.isoformat(),
    }
    return lambda api: api.post(URL, data)


def nine_to_five(therapist: Therapist) -> None:
    set_working_hours(
        therapist=therapist,
        intervals=[{"weekday": d, "start": time(9), "end": time(17)} for d in range(7)],
    )


def test_thirty_bookings_racing_for_the_last_room_one_wins(owner, practice):
    service = ServiceFactory(
        practice=practice, duration_minutes=60, buffer_minutes=15, needs_room=True
    )
    room = RoomFactory(practice=practice)
    therapists = [TherapistFactory(practice=practice) for _ in range(RACERS)]
    for therapist in therapists:
        therapist.services.add(service)
        nine_to_five(therapist)
    start = local(practice, 3, 10)
    client = ClientFactory(practice=practice)

    outcomes = race([booking(service, t, client, start) for t in therapists], owner.token)

    assert tally(outcomes) == Counter({(201, None): 1, (409, "slot_unavailable"): RACERS - 1})
    live = Appointment.objects.exclude(status=Status.CANCELLED)
    assert live.count() == 1
    assert live.get().room_id == room.pk


def next_monday(practice) -> date:
    day = timezone.now().astimezone(practice.tz).date() + timedelta(days=2)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def at(practice, day: date, hour: int):
    return timezone.make_aware(timezone.datetime.combine(day, time(hour)), practice.tz)


def test_bookings_at_different_times_racing_for_the_days_last_hour_one_wins(owner, bookable):
    Therapist.objects.filter(pk=bookable.therapist.pk).update(max_daily_minutes=120)
    hour = ServiceFactory(practice=bookable.practice, duration_minutes=60, buffer_minutes=0)
    bookable.therapist.services.add(hour)
    day = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    assert (
        booking(hour, bookable.therapist, bookable.client, at(bookable.practice, day, 9))(
            owner.api
        ).status_code
        == 201
    )
    starts = [at(bookable.practice, day, h) for h in range(10, 17)]  # seven, none overlapping

    outcomes = race(
        [booking(hour, bookable.therapist, bookable.client, s) for s in starts], owner.token
    )

    assert tally(outcomes) == Counter({(201, None): 1, (409, "slot_unavailable"): 6})
    assert Appointment.objects.count() == 2


def test_thirty_bookings_racing_for_the_weeks_last_hour_one_wins(owner, bookable):
    Therapist.objects.filter(pk=bookable.therapist.pk).update(max_weekly_minutes=120)
    hour = ServiceFactory(practice=bookable.practice, duration_minutes=60, buffer_minutes=0)
    bookable.therapist.services.add(hour)
    monday = next_monday(bookable.practice)
    booking(hour, bookable.therapist, bookable.client, at(bookable.practice, monday, 9))(owner.api)
    starts = [
        at(bookable.practice, monday + timedelta(days=d), h)
        for d in range(1, 7)
        for h in range(10, 15)
    ][:RACERS]

    outcomes = race(
        [booking(hour, bookable.therapist, bookable.client, s) for s in starts], owner.token
    )

    assert tally(outcomes) == Counter({(201, None): 1, (409, "slot_unavailable"): RACERS - 1})
    assert Appointment.objects.count() == 2


def test_the_database_refuses_two_live_appointments_in_one_room(bookable: Bookable, practice):
    room = RoomFactory(practice=practice)
    other = TherapistFactory(practice=practice)
    start = local(practice, 3, 10)

    def row(therapist: Therapist, status: str = Status.BOOKED) -> Appointment:
        return Appointment.objects.create(
            practice=practice,
            client=bookable.client,
            therapist=therapist,
            service=bookable.service,
            room=room,
            start=start,
            end=start + timedelta(minutes=60),
            blocked_until=start + timedelta(minutes=75),
            source="staff",
            status=status,
        )

    row(bookable.therapist)
    row(other, Status.CANCELLED)  # a cancelled one holds no room
    with pytest.raises(IntegrityError, match="appointment_room_no_overlap"), transaction.atomic():
        row(other)
    assert Appointment.objects.exclude(status=Status.CANCELLED).count() == 1
