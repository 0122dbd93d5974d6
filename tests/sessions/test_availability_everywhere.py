"""One availability everywhere (issue 20.5): the public page, the waitlist and courses (series)
offer and book through `free_slots`, so rooms, hands-on limits and date overrides apply on each
of those paths exactly as on the staff's `availability/` and `appointments/`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from practice.models import Practice, Room, Service, Therapist
from practice.services import set_working_hours
from sessions.scheduling import waitlist
from sessions.scheduling.models import Appointment, Status, WaitlistOffer
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    DateOverrideFactory,
    RoomFactory,
    ServiceFactory,
    TherapistFactory,
    WaitlistEntryFactory,
)
from tests.sessions.test_availability_api import at

pytestmark = pytest.mark.django_db

SLUG = "north"
PUBLIC_AVAILABILITY = f"/api/v1/public/{SLUG}/availability/"
PUBLIC_BOOKINGS = f"/api/v1/public/{SLUG}/bookings/"
SERIES = "/api/v1/appointments/series/"


@pytest.fixture(autouse=True)
def _private_rate_limit_counters(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "availability-everywhere-tests",
        }
    }
    cache.clear()
    yield
    cache.clear()


@dataclass
class Clinic:
    practice: Practice
    therapist: Therapist
    colleague: Therapist
    service: Service
    room: Room
    day: date


@pytest.fixture
def clinic(practice) -> Clinic:
    """Two online-bookable therapists working 09:00-17:00, one room, a 60-minute service (+15)
    that needs it; `day` is three days ahead."""
    service = ServiceFactory(
        practice=practice, name="Back massage", duration_minutes=60, buffer_minutes=15
    )
    service.needs_room = True
    service.save()
    therapists = [TherapistFactory(practice=practice) for _ in range(2)]
    for therapist in therapists:
        therapist.services.add(service)
        set_working_hours(
            therapist=therapist,
            intervals=[{"weekday": d, "start": time(9), "end": time(17)} for d in range(7)],
        )
    day = timezone.now().astimezone(practice.tz).date() + timedelta(days=3)
    return Clinic(practice, *therapists, service, RoomFactory(practice=practice), day)


def occupy(clinic: Clinic, therapist: Therapist, hour: int, **fields) -> Appointment:
    return AppointmentFactory(
        client=ClientFactory(practice=clinic.practice),
        therapist=therapist,
        service=clinic.service,
        start=at(clinic.practice, clinic.day, hour),
        **fields,
    )


def public_starts(anon, clinic: Clinic, therapist: Therapist) -> set[str]:
    response = anon.get(
        PUBLIC_AVAILABILITY,
        {"service": clinic.service.pk, "start": clinic.day, "end": clinic.day},
    )
    assert response.status_code == 200, response.content
    return {s["start"] for s in response.json()["slots"] if s["therapist"] == therapist.pk}


def public_book(anon, clinic: Clinic, therapist: Therapist, hour: int):
    return anon.post(
        PUBLIC_BOOKINGS,
        {
            "service": clinic.service.pk,
            "therapist": therapist.pk,
            "start": at(clinic.practice, clinic.day, hour).isoformat(),
            "first_name": "Robin",
            "last_name": "Ashdown",
            "email": "robin.ashdown@example.com",
            "phone": "+44 7700 900456",
        },
        REMOTE_ADDR="203.0.113.10",
    )


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- the public page ----------------------------------------------------------------------------


def test_the_public_page_hides_and_refuses_a_time_whose_only_room_is_taken(anon, clinic):
    occupy(clinic, clinic.colleague, 10, room=clinic.room)

    assert iso(at(clinic.practice, clinic.day, 10)) not in public_starts(
        anon, clinic, clinic.therapist
    )
    refused = public_book(anon, clinic, clinic.therapist, 10)
    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"

    won = public_book(anon, clinic, clinic.therapist, 13)
    assert won.status_code == 201, won.content
    assert Appointment.objects.get(start=at(clinic.practice, clinic.day, 13)).room == clinic.room


def test_the_public_page_respects_a_full_day(anon, clinic):
    Therapist.objects.filter(pk=clinic.therapist.pk).update(max_daily_minutes=60)
    occupy(clinic, clinic.therapist, 9, room=clinic.room)

    assert public_starts(anon, clinic, clinic.therapist) == set()
    assert public_book(anon, clinic, clinic.therapist, 14).status_code == 409
    assert public_starts(anon, clinic, clinic.colleague)


def test_the_public_page_respects_a_day_off_and_extra_hours(anon, clinic):
    DateOverrideFactory(therapist=clinic.therapist, date=clinic.day, start=None, end=None)
    DateOverrideFactory(therapist=clinic.colleague, date=clinic.day, start=time(18), end=time(20))

    assert public_starts(anon, clinic, clinic.therapist) == set()
    assert public_book(anon, clinic, clinic.therapist, 10).status_code == 400
    assert public_starts(anon, clinic, clinic.colleague) == {
        iso(at(clinic.practice, clinic.day, 18, m)) for m in (0, 15, 30, 45)
    } | {iso(at(clinic.practice, clinic.day, 19))}
    assert public_book(anon, clinic, clinic.colleague, 18).status_code == 201


# --- the waitlist -------------------------------------------------------------------------------


def waiting_for(clinic: Clinic):
    return WaitlistEntryFactory(
        client=ClientFactory(practice=clinic.practice),
        service=clinic.service,
        first_day=clinic.day,
        last_day=clinic.day,
        earliest=time(9, 30),
        latest=time(10, 30),
    )


def free_the_ten_oclock(clinic: Clinic) -> list[WaitlistOffer]:
    freed = occupy(clinic, clinic.therapist, 10)  # its room aside
    freed.status = Status.CANCELLED
    freed.save()
    return waitlist.offer_freed_time(
        therapist_id=clinic.therapist.pk, start=freed.start, end=freed.blocked_until
    )


def test_the_waitlist_is_not_offered_a_freed_time_whose_room_is_taken(clinic):
    waiting_for(clinic)
    occupy(clinic, clinic.colleague, 10, room=clinic.room)

    assert free_the_ten_oclock(clinic) == []

    RoomFactory(practice=clinic.practice, name="Second")
    assert len(free_the_ten_oclock(clinic)) == 1


def test_the_waitlist_is_not_offered_time_past_the_therapists_limit(clinic):
    waiting_for(clinic)
    Therapist.objects.filter(pk=clinic.therapist.pk).update(max_daily_minutes=60)
    occupy(clinic, clinic.therapist, 15, room=clinic.room)

    assert free_the_ten_oclock(clinic) == []


def test_the_waitlist_is_not_offered_time_on_a_day_off(clinic):
    waiting_for(clinic)
    DateOverrideFactory(therapist=clinic.therapist, date=clinic.day, start=None, end=None)

    assert free_the_ten_oclock(clinic) == []


# --- courses (series) ---------------------------------------------------------------------------


def test_a_course_books_rooms_and_reports_the_dates_a_room_limit_or_override_refuses(owner, clinic):
    client = ClientFactory(practice=clinic.practice)
    Therapist.objects.filter(pk=clinic.therapist.pk).update(max_daily_minutes=60)
    week = timedelta(weeks=1)
    AppointmentFactory(  # week 2: the room is taken at 10:00 by a colleague
        client=client,
        therapist=clinic.colleague,
        service=clinic.service,
        room=clinic.room,
        start=at(clinic.practice, clinic.day + week, 10),
    )
    AppointmentFactory(  # week 3: the therapist's day is already full
        client=client,
        therapist=clinic.therapist,
        service=clinic.service,
        room=clinic.room,
        start=at(clinic.practice, clinic.day + 2 * week, 15),
    )
    DateOverrideFactory(  # week 4: a day off
        therapist=clinic.therapist, date=clinic.day + 3 * week, start=None, end=None
    )

    response = owner.api.post(
        SERIES,
        {
            "service": clinic.service.pk,
            "therapist": clinic.therapist.pk,
            "client": client.pk,
            "start": at(clinic.practice, clinic.day, 10).isoformat(),
            "count": 5,
            "all_or_nothing": False,
        },
    )

    assert response.status_code == 201, response.content
    occurrences = response.json()["occurrences"]
    assert [o["available"] for o in occurrences] == [True, False, False, False, True]
    booked = Appointment.objects.filter(pk__in=[o["appointment"] for o in occurrences[::4]])
    assert {a.room_id for a in booked} == {clinic.room.pk}
