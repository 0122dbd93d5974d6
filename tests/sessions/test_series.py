"""Courses of care (`appointments/series/`): up to 12 sessions at the same local time every N days,
booked all or none (or only the free ones), with an answer that says which occurrences are free.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from clients.domain import ComplaintStatus
from practice.models import Practice
from sessions.scheduling.models import Appointment, AppointmentEvent
from tests.factories import AppointmentFactory, ClientFactory, ComplaintFactory, ServiceFactory
from tests.sessions.booking_setup import Bookable

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/series/"


def at_local(practice: Practice, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=practice.tz).astimezone(UTC)


def today(practice: Practice) -> date:
    return timezone.now().astimezone(practice.tz).date()


def course(setup: Bookable, start: datetime, **extra) -> dict:
    return {
        "service": setup.service.pk,
        "therapist": setup.therapist.pk,
        "client": setup.client.pk,
        "start": start.isoformat(),
        **extra,
    }


def october_clock_change_after(day: date) -> date:
    """The next last-Sunday-of-October (Europe/London leaves summer time) after `day`."""
    year = day.year
    while True:
        last = date(year, 10, 31)
        change = last - timedelta(days=(last.weekday() - 6) % 7)
        if change > day:
            return change
        year += 1


def test_a_weekly_course_of_four_books_four_sessions_at_the_same_local_time(owner, bookable):
    first_day = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, course(bookable, at_local(bookable.practice, first_day, 10), count=4)
    )

    assert response.status_code == 201, response.content
    payload = response.json()
    assert payload["booked"] is True
    assert len(payload["occurrences"]) == 4
    assert all(o["available"] and o["appointment"] for o in payload["occurrences"])
    appointments = list(Appointment.objects.order_by("start"))
    assert [a.pk for a in appointments] == [o["appointment"] for o in payload["occurrences"]]
    local_starts = [a.start.astimezone(bookable.practice.tz) for a in appointments]
    assert [s.date() for s in local_starts] == [first_day + timedelta(weeks=i) for i in range(4)]
    assert {s.time() for s in local_starts} == {time(10)}
    assert {a.client_id for a in appointments} == {bookable.client.pk}


def test_every_n_days(owner, bookable):
    first_day = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, course(bookable, at_local(bookable.practice, first_day, 10), count=3, every_days=2)
    )

    assert response.status_code == 201, response.content
    days = [a.start.astimezone(bookable.practice.tz).date() for a in Appointment.objects.all()]
    assert days == [first_day, first_day + timedelta(days=2), first_day + timedelta(days=4)]


def test_a_course_across_the_october_clock_change_keeps_the_local_hour(owner, bookable):
    practice = bookable.practice
    practice.booking_horizon_days = 365
    practice.save()
    earliest = today(practice) + timedelta(days=3)
    change = october_clock_change_after(earliest)
    # Up to three sessions before the change, the rest after it; the first one still bookable.
    weeks_before = next(w for w in (3, 2, 1) if change - timedelta(weeks=w) >= earliest)
    first_day = change - timedelta(weeks=weeks_before)

    response = owner.api.post(URL, course(bookable, at_local(practice, first_day, 10), count=4))

    assert response.status_code == 201, response.content
    appointments = list(Appointment.objects.order_by("start"))
    assert len(appointments) == 4
    assert {a.start.astimezone(practice.tz).time() for a in appointments} == {time(10)}
    utc_hours = [a.start.astimezone(UTC).hour for a in appointments]
    # 10:00 BST is 09:00 UTC; 10:00 GMT is 10:00 UTC.
    assert utc_hours == [9] * weeks_before + [10] * (4 - weeks_before)
    for occurrence, appointment in zip(response.json()["occurrences"], appointments, strict=True):
        assert datetime.fromisoformat(occurrence["start"]) == appointment.start


def test_one_taken_occurrence_with_all_or_nothing_books_nothing(owner, bookable):
    first_day = today(bookable.practice) + timedelta(days=3)
    taken = AppointmentFactory(
        client=ClientFactory(practice=bookable.practice),
        therapist=bookable.therapist,
        service=bookable.service,
        start=at_local(bookable.practice, first_day + timedelta(weeks=2), 10, 30),
    )
    events_before = AppointmentEvent.objects.count()

    response = owner.api.post(
        URL, course(bookable, at_local(bookable.practice, first_day, 10), count=4)
    )

    assert response.status_code == 409, response.content
    payload = response.json()
    assert payload["code"] == "slot_unavailable"
    assert payload["booked"] is False
    assert [o["available"] for o in payload["occurrences"]] == [True, True, False, True]
    assert all(o["appointment"] is None for o in payload["occurrences"])
    assert payload["occurrences"][2]["detail"]
    assert list(Appointment.objects.values_list("pk", flat=True)) == [taken.pk]
    assert AppointmentEvent.objects.count() == events_before


def test_all_or_nothing_is_the_default(owner, bookable):
    first_day = today(bookable.practice) + timedelta(days=3)
    AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=at_local(bookable.practice, first_day + timedelta(weeks=1), 10),
    )

    response = owner.api.post(
        URL, course(bookable, at_local(bookable.practice, first_day, 10), count=2)
    )

    assert response.status_code == 409
    assert Appointment.objects.count() == 1


def test_without_all_or_nothing_the_free_occurrences_are_booked(owner, bookable):
    first_day = today(bookable.practice) + timedelta(days=3)
    taken = AppointmentFactory(
        client=ClientFactory(practice=bookable.practice),
        therapist=bookable.therapist,
        service=bookable.service,
        start=at_local(bookable.practice, first_day + timedelta(weeks=1), 10),
    )

    response = owner.api.post(
        URL,
        course(bookable, at_local(bookable.practice, first_day, 10), count=4, all_or_nothing=False),
    )

    assert response.status_code == 201, response.content
    occurrences = response.json()["occurrences"]
    assert [o["available"] for o in occurrences] == [True, False, True, True]
    assert occurrences[1]["appointment"] is None
    booked = [o["appointment"] for o in occurrences if o["appointment"]]
    assert len(booked) == 3
    assert set(
        Appointment.objects.filter(client=bookable.client).values_list("pk", flat=True)
    ) == set(booked)
    assert Appointment.objects.exclude(pk__in=booked).get() == taken


@pytest.mark.parametrize(
    ("days", "hour", "minute", "field", "code"),
    [
        (3, 10, 7, "start", "off_grid"),
        (3, 7, 0, "start", "off_grid"),
        (-1, 10, 0, "start", "too_soon"),
        (200, 10, 0, "start", "beyond_horizon"),
    ],
)
@pytest.mark.parametrize("all_or_nothing", [True, False])
def test_a_course_whose_first_start_is_not_bookable_is_400(
    owner, bookable, days, hour, minute, field, code, all_or_nothing
):
    first_day = today(bookable.practice) + timedelta(days=days)
    first = at_local(bookable.practice, first_day, hour, minute)

    response = owner.api.post(URL, course(bookable, first, count=3, all_or_nothing=all_or_nothing))

    assert response.status_code == 400, response.content
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {(field, code)}
    assert Appointment.objects.count() == 0


def test_a_therapist_who_does_not_offer_the_service_is_400(owner, bookable):
    other = ServiceFactory(practice=bookable.practice)
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)

    response = owner.api.post(URL, course(bookable, first, count=3, service=other.pk))

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["therapist"]
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize("field", ["service", "therapist", "client"])
def test_another_practices_ids_are_400(owner, bookable, other_practice, field):
    foreign = {
        "service": lambda: ServiceFactory(practice=other_practice).pk,
        "therapist": lambda: other_practice.therapists.get().pk,
        "client": lambda: ClientFactory(practice=other_practice).pk,
    }[field]()
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)

    response = owner.api.post(URL, course(bookable, first, count=3, **{field: foreign}))

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        (field, "does_not_exist")
    ]
    assert Appointment.objects.count() == 0


def test_a_client_with_a_referral_required_complaint_cannot_book_a_course(client_member, bookable):
    ComplaintFactory(client=client_member.user.client, status=ComplaintStatus.REFERRAL_REQUIRED)
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)
    data = course(bookable, first, count=2)
    del data["client"]

    response = client_member.api.post(URL, data)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "precondition_failed"
    assert Appointment.objects.count() == 0


def test_occurrences_beyond_the_horizon_are_not_free(owner, bookable):
    practice = bookable.practice
    # 11 days from now, whatever the hour: the weekly visits on days 3 and 10 at 10:00 fall inside,
    # the one on day 17 outside (with 10, day 10 at 10:00 fell outside before 10:00 each morning).
    practice.booking_horizon_days = 11
    practice.save()
    first_day = today(practice) + timedelta(days=3)

    response = owner.api.post(URL, course(bookable, at_local(practice, first_day, 10), count=3))

    assert response.status_code == 409, response.content
    assert [o["available"] for o in response.json()["occurrences"]] == [True, True, False]
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize("count", [13, 1, 0])
def test_a_course_of_more_than_12_or_fewer_than_2_is_400(owner, bookable, count):
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)

    response = owner.api.post(URL, course(bookable, first, count=count))

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["count"]
    assert Appointment.objects.count() == 0


def test_a_course_of_12_is_accepted(owner, bookable):
    practice = bookable.practice
    first = at_local(practice, today(practice) + timedelta(days=3), 10)

    response = owner.api.post(URL, course(bookable, first, count=12))

    assert response.status_code == 201, response.content
    assert Appointment.objects.count() == 12


@pytest.mark.parametrize(
    "extra",
    [
        {"start": "2030-01-07T10:00:00"},  # naive
        {"status": "booked"},  # unknown field
        {"every_days": 0},
    ],
)
def test_bad_course_input_is_400(owner, bookable, extra):
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)

    response = owner.api.post(URL, {**course(bookable, first, count=3), **extra})

    assert response.status_code == 400, response.content
    assert Appointment.objects.count() == 0


def test_a_client_books_a_course_for_themselves(client_member, bookable):
    first = at_local(bookable.practice, today(bookable.practice) + timedelta(days=3), 10)
    data = course(bookable, first, count=2)
    del data["client"]

    response = client_member.api.post(URL, data)

    assert response.status_code == 201, response.content
    assert set(Appointment.objects.values_list("client", flat=True)) == {
        client_member.user.client.pk
    }
