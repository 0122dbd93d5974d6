"""Courses of care, issues 18.2 and 18.3: when a course's visit completes and a measure is due, the
client is asked once through the reminders outbox with a secret link; the answers are scored by
the server; the response is reviewed against baseline, and `not_responding` or `worse` alerts the
therapist once per course stage."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import Outcome
from practice.models import Practice
from sessions.records.course_models import CourseMeasure, CourseReview
from sessions.records.intake import OPEN
from sessions.records.models import AlertKind, IntakeRequest, TherapistAlert
from sessions.scheduling import reminders
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, ReminderStatus
from tests.factories import ComplaintFactory
from tests.sessions.booking_setup import Bookable

pytestmark = pytest.mark.django_db

ACTIVITIES = ["sitting at work", "lifting my child"]


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def rmdq(ticked: int) -> dict:
    return {"items": [i < ticked for i in range(24)]}


def psfs(*scores: int) -> dict:
    return {
        "activities": [
            {"activity": name, "score": score}
            for name, score in zip(ACTIVITIES, scores, strict=True)
        ]
    }


def next_clock_change(practice: Practice, after: date) -> date:
    """The first local day after `after` whose UTC offset differs from the day before's."""
    day = after
    while True:
        noon = datetime.combine(day, time(12), tzinfo=practice.tz)
        nxt = datetime.combine(day + timedelta(days=1), time(12), tzinfo=practice.tz)
        if noon.utcoffset() != nxt.utcoffset():
            return day + timedelta(days=1)
        day += timedelta(days=1)


def at_local(practice: Practice, day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=practice.tz).astimezone(UTC)


def start_course(api, setup: Bookable, complaint, first: date, planned: int = 10) -> dict:
    response = api.post(
        "/api/v1/courses/",
        {
            "client": setup.client.pk,
            "complaint": complaint.pk,
            "therapist": setup.therapist.pk,
            "service": setup.service.pk,
            "start": at_local(setup.practice, first, 10).isoformat(),
            "planned_visits": planned,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def record(api, setup: Bookable, complaint, instrument: str, answers: dict) -> None:
    response = api.post(
        "/api/v1/outcomes/",
        {
            "client": setup.client.pk,
            "complaint": complaint.pk,
            "instrument": instrument,
            "answers": answers,
        },
    )
    assert response.status_code == 201, response.content


def complete(api, appointment: Appointment) -> None:
    url = f"/api/v1/appointments/{appointment.pk}/"
    if IntakeRequest.objects.filter(appointment=appointment, status__in=OPEN).exists():
        # The course's first visit is the client's first: its intake gates the check-in (17.4).
        on_paper = api.post(url + "intake-on-paper/", {"reason": "Filled in at the desk"})
        assert on_paper.status_code == 200, on_paper.content
    assert api.post(url + "check-in/").status_code == 200
    response = api.post(f"/api/v1/appointments/{appointment.pk}/complete/")
    assert response.status_code == 200, response.content


def send_request(measure: CourseMeasure) -> str:
    """Deliver the measure's message as the worker would; the link's token from the email."""
    (message,) = Reminder.objects.filter(course_measure_request__measure=measure)
    assert message.kind == ReminderKind.MEASURES_DUE
    assert message.pk in reminders.claim_due_reminders(now=timezone.now())
    before = len(mail.outbox)
    assert reminders.deliver_reminder(message.pk) == ReminderStatus.SENT
    assert reminders.deliver_reminder(message.pk) == "skipped"  # sent once
    assert len(mail.outbox) == before + 1
    link = re.search(r"/api/v1/public/outcomes/([^/\s]+)/", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    return link.group(1)


def answer(anon, token: str, ticked: int, psfs_scores: tuple[int, int], groc: int):
    return anon.post(
        f"/api/v1/public/outcomes/{token}/",
        {"answers": {"rmdq": rmdq(ticked), "psfs": psfs(*psfs_scores), "groc": {"change": groc}}},
        format="json",
    )


def visits(course: dict) -> list[Appointment]:
    return list(Appointment.objects.filter(course_visit__course_id=course["id"]).order_by("start"))


@pytest.fixture
def baseline(owner, bookable):
    complaint = ComplaintFactory(client=bookable.client)
    record(owner.api, bookable, complaint, "rmdq", rmdq(14))
    record(owner.api, bookable, complaint, "psfs", psfs(3, 4))
    return complaint


def test_ten_weekly_visits_across_a_clock_change_alert_once_when_not_responding(
    owner, anon, bookable, baseline
):
    """Done when: ten weekly visits across a DST change; the sixth visit's measure shows no
    meaningful change, and the alert appears once (not again at the eighth)."""
    practice = bookable.practice
    practice.booking_horizon_days = 365
    practice.save()
    earliest = timezone.now().astimezone(practice.tz).date() + timedelta(days=3)
    change = next_clock_change(practice, earliest)
    first = next(
        change - timedelta(weeks=w) for w in (3, 2, 1, 0) if change - timedelta(weeks=w) >= earliest
    )
    course = start_course(owner.api, bookable, baseline, first)
    booked = visits(course)
    assert len(booked) == 10
    assert {a.start.astimezone(practice.tz).time() for a in booked} == {time(10)}
    assert len({a.start.astimezone(UTC).hour for a in booked}) == 2  # the clock changed

    for number, appointment in enumerate(booked[:8], start=1):
        complete(owner.api, appointment)
        due = CourseMeasure.objects.filter(appointment=appointment).first()
        assert (due is not None) == (number in (4, 6, 8)), number
        if due is None:
            continue
        token = send_request(due)
        response = answer(anon, token, ticked=13, psfs_scores=(3, 5), groc=1)
        assert response.status_code == 201, response.content
        review = CourseReview.objects.filter(course_id=course["id"]).latest("id")
        expected = "not_yet" if number == 4 else "not_responding"
        assert review.verdict == expected, number

    alerts = TherapistAlert.objects.filter(kind=AlertKind.COURSE_REVIEW)
    assert alerts.count() == 1
    (alert,) = alerts
    assert alert.therapist == bookable.therapist
    assert "no meaningful change by visit 6" in alert.message
    assert owner.api.get(f"/api/v1/courses/{course['id']}/").json()["response"] == "not_responding"
    assert Outcome.objects.filter(complaint=baseline, instrument="rmdq").count() == 4


def test_a_worse_score_alerts_at_once_and_only_once(owner, anon, bookable, baseline):
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    course = start_course(owner.api, bookable, baseline, first, planned=8)
    booked = visits(course)
    for appointment in booked[:4]:
        complete(owner.api, appointment)
    token = send_request(CourseMeasure.objects.get(appointment=booked[3]))

    assert answer(anon, token, ticked=20, psfs_scores=(3, 4), groc=-4).status_code == 201
    record(owner.api, bookable, baseline, "rmdq", rmdq(21))  # recorded in clinic: reviewed too

    assert CourseReview.objects.filter(course_id=course["id"]).count() == 2
    assert {r.verdict for r in CourseReview.objects.all()} == {"worse"}
    (alert,) = TherapistAlert.objects.filter(kind=AlertKind.COURSE_REVIEW)
    assert "worse than baseline on RMDQ" in alert.message
    # A plan review starts a new stage: the next worse review alerts again.
    owner.api.patch(f"/api/v1/courses/{course['id']}/", {"planned_visits": 10})
    record(owner.api, bookable, baseline, "rmdq", rmdq(21))
    assert TherapistAlert.objects.filter(kind=AlertKind.COURSE_REVIEW).count() == 2


def test_a_meaningful_change_is_responding_and_alerts_nobody(owner, anon, bookable, baseline):
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    course = start_course(owner.api, bookable, baseline, first, planned=4)
    for appointment in visits(course):
        complete(owner.api, appointment)
    token = send_request(CourseMeasure.objects.get(course_id=course["id"]))

    assert answer(anon, token, ticked=6, psfs_scores=(7, 8), groc=5).status_code == 201

    assert CourseReview.objects.get().verdict == "responding"
    assert not TherapistAlert.objects.filter(kind=AlertKind.COURSE_REVIEW).exists()


@pytest.fixture
def requested(owner, bookable, baseline) -> tuple[dict, CourseMeasure]:
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    course = start_course(owner.api, bookable, baseline, first, planned=6)
    for appointment in visits(course)[:4]:
        complete(owner.api, appointment)
    return course, CourseMeasure.objects.get(course_id=course["id"])


def test_measures_due_show_on_the_appointment_and_the_course(owner, front_desk, requested):
    course, measure = requested
    fourth = visits(course)[3]

    shown = owner.api.get(f"/api/v1/appointments/{fourth.pk}/").json()["measures_due"]
    on_course = owner.api.get(f"/api/v1/courses/{course['id']}/").json()["measures"]
    desk = front_desk.api.get(f"/api/v1/appointments/{fourth.pk}/").json()["measures_due"]

    assert [(m["visit_number"], m["state"]) for m in shown] == [(4, "due")]
    assert shown[0]["instruments"] == ["rmdq", "psfs", "groc"]
    assert [(m["id"], m["state"]) for m in on_course] == [(measure.pk, "due")]
    assert desk == []  # no clinical content for the front desk


def test_an_unanswered_measure_becomes_overdue(owner, requested):
    course, measure = requested
    CourseMeasure.objects.filter(pk=measure.pk).update(due_at=timezone.now() - timedelta(days=8))

    on_course = owner.api.get(f"/api/v1/courses/{course['id']}/").json()["measures"]

    assert on_course[0]["state"] == "overdue"


def test_the_link_shows_the_questions_and_a_second_answer_is_409(anon, requested):
    _course, measure = requested
    token = send_request(measure)

    shown = anon.get(f"/api/v1/public/outcomes/{token}/")
    first = answer(anon, token, ticked=13, psfs_scores=(3, 5), groc=1)
    second = answer(anon, token, ticked=2, psfs_scores=(9, 9), groc=6)

    assert shown.status_code == 200
    questions = shown.json()["questions"]
    assert [q["instrument"] for q in questions] == ["rmdq", "psfs", "groc"]
    assert questions[1]["activities"] == ACTIVITIES
    assert first.status_code == 201
    assert second.status_code == 409
    measure.refresh_from_db()
    assert measure.status == "answered"
    assert anon.get(f"/api/v1/public/outcomes/{token}/").json()["answered"] is True


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"rmdq": {"items": [True] * 3}, "psfs": psfs(3, 4), "groc": {"change": 1}}, "rmdq."),
        ({"rmdq": rmdq(3), "psfs": psfs(3, 4), "groc": {"change": 9}}, "groc."),
        ({"rmdq": rmdq(3), "psfs": psfs(3, 4)}, "groc"),
        ({"rmdq": rmdq(3), "psfs": psfs(3, 4), "groc": {"change": 1}, "odi": {}}, "odi"),
    ],
)
def test_a_bad_answer_is_400_and_records_nothing(anon, requested, answers, field):
    _course, measure = requested
    token = send_request(measure)
    before = Outcome.objects.count()

    response = anon.post(f"/api/v1/public/outcomes/{token}/", {"answers": answers}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith(field)
    assert Outcome.objects.count() == before
    measure.refresh_from_db()
    assert measure.status == "due"


@pytest.mark.parametrize("token", ["oc_unknown", "nothing"])
def test_an_unknown_link_is_404(anon, requested, token):
    assert anon.get(f"/api/v1/public/outcomes/{token}/").status_code == 404


def test_the_link_expires_after_14_days(anon, requested):
    _course, measure = requested
    token = send_request(measure)
    Reminder.objects.filter(kind=ReminderKind.MEASURES_DUE).update(
        sent_at=timezone.now() - timedelta(days=15)
    )

    assert anon.get(f"/api/v1/public/outcomes/{token}/").status_code == 404


def test_an_opted_out_client_gets_no_message_but_the_measure_shows(owner, bookable, baseline):
    bookable.client.reminders_opt_out = True
    bookable.client.save()
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    course = start_course(owner.api, bookable, baseline, first, planned=4)

    for appointment in visits(course):
        complete(owner.api, appointment)

    assert CourseMeasure.objects.filter(course_id=course["id"]).count() == 1
    assert not Reminder.objects.filter(kind=ReminderKind.MEASURES_DUE).exists()


def test_the_appointments_list_shows_each_visit_as_its_detail_does(
    owner, therapist, front_desk, requested
):
    """The list builds no models (issue 22.2: rows, with the history, intake status and the
    course's measures read for the whole page); each row must read as its detail does, measures
    due included for clinicians and left out for the front desk."""
    course, _ = requested
    cancel = f"/api/v1/appointments/{visits(course)[5].pk}/cancel/"
    assert owner.api.post(cancel, {"reason": "Away"}).status_code == 200

    for member, clinician in ((owner, True), (therapist, True), (front_desk, False)):
        listed = member.api.get("/api/v1/appointments/", {"page_size": 100}).json()["results"]

        assert len(listed) == 6
        assert any(row["measures_due"] for row in listed) == clinician
        assert {row["intake_status"] for row in listed} == {"on_paper", "not_required"}
        assert {row["status"] for row in listed} == {"completed", "booked", "cancelled"}
        for row in listed:
            assert row == member.api.get(f"/api/v1/appointments/{row['id']}/").json()
