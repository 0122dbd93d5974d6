"""A course books its visits through the same rules as a single booking (issue 20.5, issue 17.2):
a room for a service that needs one, the therapist's hands-on limits counting the course's own
visits, and the intake request of a client's first visit. `booking.book_visits` is a second path
to a booked appointment, so each rule that `book_appointment` keeps is checked on it here."""

from __future__ import annotations

import pytest

from practice.models import Room
from sessions.records.models import IntakeRequest
from sessions.scheduling.models import Appointment
from tests.factories import ComplaintFactory
from tests.sessions.test_courses import at_local, body, next_weekday

pytestmark = pytest.mark.django_db

URL = "/api/v1/courses/"


def test_a_course_for_a_service_that_needs_a_room_books_each_visit_into_a_room(owner, bookable):
    room = Room.objects.create(practice=bookable.practice, name="Room 1", equipment=["table"])
    bookable.service.needs_room = True
    bookable.service.save(update_fields=["needs_room"])
    complaint = ComplaintFactory(client=bookable.client)
    first = next_weekday(bookable.practice, 1)

    response = owner.api.post(
        URL,
        body(bookable, complaint, at_local(bookable.practice, first, 10), planned_visits=4),
    )

    assert response.status_code == 201, response.content
    rooms = set(Appointment.objects.filter(client=bookable.client).values_list("room", flat=True))
    assert rooms == {room.pk}


def test_a_course_counts_its_own_visits_against_the_weekly_hands_on_limit(owner, bookable):
    bookable.therapist.max_weekly_minutes = 60  # one 60-minute visit a week
    bookable.therapist.save(update_fields=["max_weekly_minutes"])
    complaint = ComplaintFactory(client=bookable.client)
    monday = next_weekday(bookable.practice, 0)

    response = owner.api.post(
        URL,
        body(
            bookable,
            complaint,
            at_local(bookable.practice, monday, 10),
            planned_visits=4,
            every_days=3,  # Monday and Thursday: two visits in the first week
        ),
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "visits.1"
    assert not Appointment.objects.filter(client=bookable.client).exists()


def test_a_course_that_is_the_clients_first_booking_creates_their_intake(owner, bookable):
    complaint = ComplaintFactory(client=bookable.client)
    first = next_weekday(bookable.practice, 1)

    response = owner.api.post(
        URL,
        body(bookable, complaint, at_local(bookable.practice, first, 10), planned_visits=3),
    )

    assert response.status_code == 201, response.content
    earliest = Appointment.objects.filter(client=bookable.client).order_by("start").first()
    (intake,) = IntakeRequest.objects.filter(client=bookable.client)
    assert intake.appointment_id == earliest.pk
    assert intake.status == "pending"
