"""Courses of care, issue 18.1: a course books its visits in one transaction through the booking
rules (all or none, DST-safe, a 400 naming the visit that does not fit), links them, and its
visits are added, moved and cancelled singly or together; a closed course takes no new visits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone

from clients.domain import ComplaintStatus
from practice.models import Practice
from sessions.records.course_models import Course, CourseVisit
from sessions.scheduling.models import Appointment, Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    TechniqueFactory,
)
from tests.sessions.booking_setup import Bookable

pytestmark = pytest.mark.django_db

URL = "/api/v1/courses/"


def at_local(practice: Practice, day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=practice.tz).astimezone(UTC)


def today(practice: Practice) -> date:
    return timezone.now().astimezone(practice.tz).date()


def body(setup: Bookable, complaint, start: datetime, **extra) -> dict:
    return {
        "client": setup.client.pk,
        "complaint": complaint.pk,
        "therapist": setup.therapist.pk,
        "service": setup.service.pk,
        "start": start.isoformat(),
        "planned_visits": 10,
        "goals": ["pain_relief", "flexibility"],
        **extra,
    }


@pytest.fixture
def complaint(bookable):
    return ComplaintFactory(client=bookable.client)


def next_weekday(practice: Practice, weekday: int, after_days: int = 3) -> date:
    day = today(practice) + timedelta(days=after_days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def test_a_course_books_its_visits_weekly_and_links_them(owner, bookable, complaint):
    first = next_weekday(bookable.practice, 1)  # a Tuesday

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10))
    )

    assert response.status_code == 201, response.content
    course = response.json()
    assert course["status"] == "active"
    assert course["visits"] == {"planned": 10, "used": 0, "completed": 0, "booked": 10, "left": 10}
    assert course["instruments"] == ["rmdq", "psfs", "groc"]
    assert course["start_date"] == first.isoformat()
    assert course["expected_end"] == (first + timedelta(weeks=9)).isoformat()
    linked = Appointment.objects.filter(course_visit__course_id=course["id"]).order_by("start")
    days = [a.start.astimezone(bookable.practice.tz).date() for a in linked]
    assert days == [first + timedelta(weeks=i) for i in range(10)]
    assert {a.start.astimezone(bookable.practice.tz).time() for a in linked} == {time(10)}


def test_odi_is_the_disability_index_where_licensed(owner, bookable, complaint):
    bookable.practice.odi_licensed = True
    bookable.practice.save()
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10))
    )

    assert response.json()["instruments"] == ["odi", "psfs", "groc"]


def test_one_taken_visit_is_a_400_naming_it_and_books_nothing(owner, bookable, complaint):
    first = today(bookable.practice) + timedelta(days=3)
    AppointmentFactory(
        client=ClientFactory(practice=bookable.practice),
        therapist=bookable.therapist,
        service=bookable.service,
        start=at_local(bookable.practice, first + timedelta(weeks=3), 10),
    )

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10))
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "visits.3"
    assert error["code"] == "slot_unavailable"
    assert "Visit 4" in error["detail"]
    assert Course.objects.count() == 0
    assert Appointment.objects.count() == 1  # only the one that was there


def test_a_visit_beyond_the_horizon_is_a_400_naming_it(owner, bookable, complaint):
    bookable.practice.booking_horizon_days = 30
    bookable.practice.save()
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10))
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == "beyond_horizon"
    assert error["field"] == "visits.4"  # day 3 + 4 weeks = day 31
    assert Appointment.objects.count() == 0
    assert Course.objects.count() == 0


def test_a_time_outside_working_hours_is_a_400_naming_the_first_visit(owner, bookable, complaint):
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 20))
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["field"], error["code"]) == ("visits.0", "off_grid")
    assert Appointment.objects.count() == 0


def test_a_complaint_needing_referral_is_409_and_books_nothing(owner, bookable):
    complaint = ComplaintFactory(client=bookable.client, status=ComplaintStatus.REFERRAL_REQUIRED)
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10))
    )

    assert response.status_code == 409
    assert response.json()["code"] == "precondition_failed"
    assert Course.objects.count() == 0
    assert Appointment.objects.count() == 0


def test_another_clients_complaint_is_400(owner, bookable):
    stranger = ComplaintFactory(client=ClientFactory(practice=bookable.practice))
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(URL, body(bookable, stranger, at_local(bookable.practice, first, 10)))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "complaint"


@pytest.mark.parametrize(
    "extra",
    [{"practice": 1}, {"status": "discharged"}, {"goals": ["world_peace"]}, {"planned_visits": 0}],
)
def test_bad_bodies_are_400_and_book_nothing(owner, bookable, complaint, extra):
    first = today(bookable.practice) + timedelta(days=3)

    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10), **extra)
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Appointment.objects.count() == 0


@pytest.fixture
def course(owner, bookable, complaint) -> dict:
    first = next_weekday(bookable.practice, 1)
    response = owner.api.post(
        URL, body(bookable, complaint, at_local(bookable.practice, first, 10), planned_visits=4)
    )
    assert response.status_code == 201, response.content
    return response.json()


def visits(course_id: int) -> list[Appointment]:
    return list(Appointment.objects.filter(course_visit__course_id=course_id).order_by("start"))


def test_a_visit_is_added_and_the_plan_grows(owner, bookable, course):
    last = visits(course["id"])[-1].start
    start = last + timedelta(weeks=1)

    response = owner.api.post(f"{URL}{course['id']}/visits/", {"start": start.isoformat()})

    assert response.status_code == 201, response.content
    assert len(visits(course["id"])) == 5
    detail = owner.api.get(f"{URL}{course['id']}/").json()
    assert detail["visits"]["planned"] == 5
    assert detail["expected_end"] == start.astimezone(bookable.practice.tz).date().isoformat()


def test_one_visit_is_moved_by_the_booking_rules(owner, bookable, course):
    second = visits(course["id"])[1]
    new_start = second.start + timedelta(hours=3)

    moved = owner.api.post(
        f"{URL}{course['id']}/move-visit/",
        {"appointment": second.pk, "start": new_start.isoformat()},
    )
    refused = owner.api.post(
        f"{URL}{course['id']}/move-visit/",
        {"appointment": second.pk, "start": (second.start + timedelta(hours=12)).isoformat()},
    )

    assert moved.status_code == 200, moved.content
    assert datetime.fromisoformat(moved.json()["start"]) == new_start
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "visits.1"
    second.refresh_from_db()
    assert second.start == new_start


def test_all_tuesdays_move_to_thursdays_at_the_same_time(owner, bookable, course):
    before = visits(course["id"])

    response = owner.api.post(
        f"{URL}{course['id']}/move-weekday/", {"from_weekday": 1, "to_weekday": 3}
    )

    assert response.status_code == 200, response.content
    assert len(response.json()["visits"]) == 4
    after = visits(course["id"])
    tz = bookable.practice.tz
    assert {a.start.astimezone(tz).weekday() for a in after} == {3}
    assert [a.start.astimezone(tz).date() for a in after] == [
        a.start.astimezone(tz).date() + timedelta(days=2) for a in before
    ]
    assert {a.start.astimezone(tz).time() for a in after} == {time(10)}


def test_moving_a_weekday_is_all_or_nothing(owner, bookable, course):
    before = visits(course["id"])
    thursday = before[2].start + timedelta(days=2)
    AppointmentFactory(
        client=ClientFactory(practice=bookable.practice),
        therapist=bookable.therapist,
        service=bookable.service,
        start=thursday,
    )

    response = owner.api.post(
        f"{URL}{course['id']}/move-weekday/", {"from_weekday": 1, "to_weekday": 3}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "visits.2"
    assert [a.start for a in visits(course["id"])] == [a.start for a in before]


def test_cancel_the_rest_cancels_every_upcoming_visit(owner, course):
    response = owner.api.post(f"{URL}{course['id']}/cancel-rest/", {"reason": "moving away"})

    assert response.status_code == 200, response.content
    assert {a.status for a in visits(course["id"])} == {Status.CANCELLED}
    detail = owner.api.get(f"{URL}{course['id']}/").json()
    assert detail["visits"]["booked"] == 0


def test_a_discharged_course_takes_no_new_visits(owner, course):
    owner.api.post(f"{URL}{course['id']}/discharge/", {"reason": "client_choice"})
    start = visits(course["id"])[-1].start + timedelta(weeks=2)

    response = owner.api.post(f"{URL}{course['id']}/visits/", {"start": start.isoformat()})

    assert response.status_code == 409
    assert CourseVisit.objects.filter(course_id=course["id"]).count() == 4


def test_front_desk_and_another_practice_cannot_see_a_course(
    front_desk, other_owner, course, client_member
):
    assert front_desk.api.get(f"{URL}{course['id']}/").status_code == 403
    assert other_owner.api.get(f"{URL}{course['id']}/").status_code == 404
    assert client_member.api.get(f"{URL}{course['id']}/").status_code == 404


def test_a_plan_review_starts_a_new_stage(owner, course):
    on_hold = owner.api.patch(f"{URL}{course['id']}/", {"status": "on_hold"})
    resumed = owner.api.patch(f"{URL}{course['id']}/", {"status": "active"})
    closed = owner.api.patch(f"{URL}{course['id']}/", {"status": "discharged"})

    assert on_hold.json()["stage"] == 1
    assert resumed.json()["stage"] == 2
    assert closed.status_code == 400


def test_a_visits_new_plan_starts_from_the_course_template(owner, bookable, complaint, therapist):
    technique = TechniqueFactory(practice=bookable.practice)
    template = owner.api.post(
        "/api/v1/session-plans/",
        {
            "name": "Low back course",
            "goals": ["pain_relief"],
            "items": [{"technique": technique.pk, "region": "lumbar", "minutes": 20}],
            "home_care": "Cat-cow twice a day.",
        },
        format="json",
    )
    assert template.status_code == 201, template.content
    first = today(bookable.practice) + timedelta(days=3)
    start = at_local(bookable.practice, first, 10)
    created = owner.api.post(
        URL,
        body(bookable, complaint, start, planned_visits=2, plan_template=template.json()["id"]),
    )
    visit = visits(created.json()["id"])[0]

    plan = owner.api.post("/api/v1/session-plans/", {"appointment": visit.pk}, format="json")

    assert plan.status_code == 201, plan.content
    assert plan.json()["complaint"] == complaint.pk
    assert [i["technique"] for i in plan.json()["items"]] == [technique.pk]
    assert plan.json()["home_care"] == "Cat-cow twice a day."
