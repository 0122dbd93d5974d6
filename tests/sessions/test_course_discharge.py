"""Courses of care, issues 18.4 and 18.5: discharge with a reason (goals met resolves the
complaint), the discharge summary as JSON, PDF and FHIR (EpisodeOfCare + CarePlan linked to the
Condition and Encounters), the referral letter, and progress per course with the visits marked."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from clients.domain import ComplaintStatus
from clients.models import Complaint
from sessions.records.course_models import CourseMeasure
from sessions.scheduling.models import Appointment, Status
from tests.factories import ComplaintFactory, TechniqueFactory
from tests.sessions.booking_setup import Bookable
from tests.sessions.test_course_measures import complete, record, rmdq, start_course

pytestmark = pytest.mark.django_db


@pytest.fixture
def course(owner, bookable) -> dict:
    complaint = ComplaintFactory(client=bookable.client)
    record(owner.api, bookable, complaint, "rmdq", rmdq(14))
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    return start_course(owner.api, bookable, complaint, first, planned=6)


def visits(course: dict) -> list[Appointment]:
    return list(Appointment.objects.filter(course_visit__course_id=course["id"]).order_by("start"))


def signed_note(owner, bookable: Bookable, appointment: Appointment, complaint_id: int) -> None:
    technique = TechniqueFactory(practice=bookable.practice, name="Myofascial release")
    plan = owner.api.post(
        "/api/v1/session-plans/",
        {
            "appointment": appointment.pk,
            "complaint": complaint_id,
            "goals": ["pain_relief"],
            "items": [{"technique": technique.pk, "region": "lumbar", "minutes": 20}],
            "home_care": "Cat-cow stretch twice a day.",
        },
        format="json",
    )
    assert plan.status_code == 201, plan.content
    note = owner.api.post(
        "/api/v1/notes/",
        {
            "appointment": appointment.pk,
            "complaint": complaint_id,
            "subjective": "Better mornings",
            "pain_before": 5,
            "delivered_items": [plan.json()["items"][0]["id"]],
            "consent_confirmed": True,
        },
        format="json",
    )
    assert note.status_code == 201, note.content
    assert owner.api.post(f"/api/v1/notes/{note.json()['id']}/sign/").status_code == 200


def test_discharge_with_goals_met_resolves_the_complaint_and_cancels_the_rest(owner, course):
    booked = visits(course)
    for appointment in booked[:3]:
        complete(owner.api, appointment)

    response = owner.api.post(
        f"/api/v1/courses/{course['id']}/discharge/",
        {"reason": "goals_met", "notes": "Back to gardening."},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "discharged"
    assert response.json()["discharge_reason"] == "goals_met"
    assert Complaint.objects.get(pk=course["complaint"]).status == ComplaintStatus.RESOLVED
    assert [a.status for a in visits(course)] == [Status.COMPLETED] * 3 + [Status.CANCELLED] * 3
    discharge = CourseMeasure.objects.get(course_id=course["id"], point="discharge")
    assert discharge.visit_number == 3
    again = owner.api.post(f"/api/v1/courses/{course['id']}/discharge/", {"reason": "plateau"})
    assert again.status_code == 409


def test_discharge_as_referred_marks_the_course_referred_and_keeps_the_complaint(owner, course):
    response = owner.api.post(
        f"/api/v1/courses/{course['id']}/discharge/",
        {"reason": "referred", "notes": "To GP for imaging."},
    )

    assert response.json()["status"] == "referred"
    assert Complaint.objects.get(pk=course["complaint"]).status == ComplaintStatus.ACTIVE


@pytest.mark.parametrize("body", [{}, {"reason": "bored"}, {"reason": "plateau", "x": 1}])
def test_a_bad_discharge_is_400_and_changes_nothing(owner, course, body):
    response = owner.api.post(f"/api/v1/courses/{course['id']}/discharge/", body, format="json")

    assert response.status_code == 400
    assert owner.api.get(f"/api/v1/courses/{course['id']}/").json()["status"] == "active"


def test_the_summary_has_dates_visits_techniques_instruments_and_home_care(owner, bookable, course):
    booked = visits(course)
    for appointment in booked[:4]:
        complete(owner.api, appointment)
    signed_note(owner, bookable, booked[0], course["complaint"])
    record(owner.api, bookable, Complaint.objects.get(pk=course["complaint"]), "rmdq", rmdq(7))
    owner.api.post(f"/api/v1/courses/{course['id']}/discharge/", {"reason": "goals_met"})

    summary = owner.api.get(f"/api/v1/courses/{course['id']}/summary/").json()

    assert summary["interim"] is False
    assert summary["visits_attended"] == 4
    assert (
        summary["first_visit"]
        == booked[0].start.astimezone(bookable.practice.tz).date().isoformat()
    )
    assert summary["techniques"] == [
        {
            "code": summary["techniques"][0]["code"],
            "name": "Myofascial release",
            "visits": 1,
            "minutes": 20,
        }
    ]
    (rmdq_row,) = [row for row in summary["instruments"] if row["instrument"] == "rmdq"]
    assert (rmdq_row["baseline"], rmdq_row["final"], rmdq_row["meaningful"]) == (14, 7, True)
    assert rmdq_row["verdict"] == "meaningful improvement"
    assert summary["home_care"] == "Cat-cow stretch twice a day."
    assert summary["discharge_reason"] == "goals_met"


def test_the_summary_pdf_and_referral_letter_are_readable(owner, bookable, course):
    for appointment in visits(course)[:2]:
        complete(owner.api, appointment)
    owner.api.post(
        f"/api/v1/courses/{course['id']}/discharge/",
        {"reason": "referred", "notes": "Night pain: GP review."},
    )

    pdf = owner.api.get(f"/api/v1/courses/{course['id']}/summary.pdf")
    letter = owner.api.get(f"/api/v1/courses/{course['id']}/referral-letter.pdf")

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Discharge summary" in text
    assert "RMDQ" in text
    assert "2 of 6" in text
    letter_text = PdfReader(io.BytesIO(letter.content)).pages[0].extract_text()
    assert "Referral letter" in letter_text
    assert "Night pain: GP review." in letter_text


def test_the_fhir_export_is_an_episode_of_care_and_care_plan_linked_to_condition_and_encounters(
    owner, course
):
    booked = visits(course)
    complete(owner.api, booked[0])
    owner.api.post(f"/api/v1/courses/{course['id']}/discharge/", {"reason": "plateau"})

    response = owner.api.get(f"/api/v1/courses/{course['id']}/fhir/")

    assert response.status_code == 200
    document = response.json()
    Bundle.model_validate(document)
    by_type: dict[str, list[dict]] = {}
    for entry in document["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    (episode,) = by_type["EpisodeOfCare"]
    (plan,) = by_type["CarePlan"]
    (condition,) = by_type["Condition"]
    assert episode["status"] == "finished"
    assert episode["diagnosis"][0]["condition"]["reference"] == f"Condition/{condition['id']}"
    assert plan["status"] == "completed"
    assert plan["addresses"] == [{"reference": f"Condition/{condition['id']}"}]
    assert plan["activity"][0]["outcomeReference"] == [{"reference": f"Encounter/{booked[0].pk}"}]
    assert len(by_type["Encounter"]) == 6
    assert all(
        e["episodeOfCare"] == [{"reference": f"EpisodeOfCare/{episode['id']}"}]
        for e in by_type["Encounter"]
    )


def test_progress_shows_the_instruments_and_the_visits(owner, bookable, course):
    for appointment in visits(course)[:2]:
        complete(owner.api, appointment)
    record(owner.api, bookable, Complaint.objects.get(pk=course["complaint"]), "rmdq", rmdq(12))

    progress = owner.api.get(f"/api/v1/courses/{course['id']}/progress/").json()
    svg = owner.api.get(f"/api/v1/courses/{course['id']}/progress.svg")

    assert [v["status"] for v in progress["visits"]] == ["completed"] * 2 + ["booked"] * 4
    assert [v["number"] for v in progress["visits"]] == [1, 2, 3, 4, 5, 6]
    assert progress["instruments"]["rmdq"]["baseline"] == 14
    assert progress["instruments"]["rmdq"]["latest"] == 12
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    body = svg.content.decode()
    assert body.count('class="visit"') == 6
    assert "<title>visit 6</title>" in body


def test_progress_queries_do_not_grow_with_visits(owner, bookable, django_assert_max_num_queries):
    """Done when: `course_progress` costs at most 6 queries at 40 visits (the bench's figure)."""
    bookable.practice.booking_horizon_days = 365
    bookable.practice.save()
    complaint = ComplaintFactory(client=bookable.client)
    record(owner.api, bookable, complaint, "rmdq", rmdq(14))
    first = timezone.now().astimezone(bookable.practice.tz).date() + timedelta(days=3)
    response = owner.api.post(
        "/api/v1/courses/",
        {
            "client": bookable.client.pk,
            "complaint": complaint.pk,
            "therapist": bookable.therapist.pk,
            "service": bookable.service.pk,
            "start": datetime.combine(first, time(10), tzinfo=bookable.practice.tz)
            .astimezone(UTC)
            .isoformat(),
            "planned_visits": 26,
            "every_days": 1,
        },
    )
    assert response.status_code == 201, response.content
    url = f"/api/v1/courses/{response.json()['id']}/progress/"
    owner.api.get(url)

    with django_assert_max_num_queries(6):
        answer = owner.api.get(url)

    assert len(answer.json()["visits"]) == 26
