"""A course of care in FHIR R4 (issue 18.4, DOMAIN.md 7 "plan / course of care"): an
`EpisodeOfCare` and a `CarePlan` addressing the complaint's `Condition`, with the visits as
`Appointment`s and `Encounter`s linked to both. Built on the record export's resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sessions.records.course_models import Course, CourseStatus
from sessions.records.fhir import (
    _entry,
    _instant,
    _ref,
    appointment_resources,
    condition,
    patient,
    prune,
)
from sessions.scheduling.models import Appointment, Status

EPISODE_STATUS: dict[str, str] = {
    CourseStatus.ACTIVE: "active",
    CourseStatus.ON_HOLD: "onhold",
    CourseStatus.DISCHARGED: "finished",
    CourseStatus.REFERRED: "finished",
}
# CarePlan.status is R4 RequestStatus (DOMAIN.md 7): a referral ends the plan early.
CARE_PLAN_STATUS: dict[str, str] = {
    CourseStatus.ACTIVE: "active",
    CourseStatus.ON_HOLD: "on-hold",
    CourseStatus.DISCHARGED: "completed",
    CourseStatus.REFERRED: "revoked",
}


def _period(course: Course) -> dict[str, str]:
    period = {"start": course.start_date.isoformat()}
    if course.discharged_at is not None:
        period["end"] = _instant(course.discharged_at)
    return period


def episode_of_care(course: Course) -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": str(course.pk),
        "status": EPISODE_STATUS[course.status],
        "patient": _ref("Patient", course.client_id),
        "diagnosis": [{"condition": _ref("Condition", course.complaint_id), "rank": 1}],
        "period": _period(course),
    }


def care_plan(course: Course, appointments: list[Appointment]) -> dict[str, Any]:
    goals = ", ".join(goal.replace("_", " ") for goal in course.goals)
    activities = []
    for appointment in appointments:
        activity: dict[str, Any] = {"reference": _ref("Appointment", appointment.pk)}
        if appointment.status == Status.COMPLETED:
            activity["outcomeReference"] = [_ref("Encounter", appointment.pk)]
        activities.append(activity)
    return {
        "resourceType": "CarePlan",
        "id": str(course.pk),
        "status": CARE_PLAN_STATUS[course.status],
        "intent": "plan",
        "title": f"Course of care: {course.planned_visits} visits every {course.every_days} days",
        "description": f"Goals: {goals}." if goals else "",
        "subject": _ref("Patient", course.client_id),
        "period": _period(course),
        "addresses": [_ref("Condition", course.complaint_id)],
        "supportingInfo": [_ref("EpisodeOfCare", course.pk)],
        "activity": activities,
        "note": [{"text": course.home_care}] if course.home_care else [],
    }


def course_bundle(course: Course, appointments: list[Appointment]) -> dict[str, Any]:
    """Patient, Condition, EpisodeOfCare, CarePlan and each visit's Appointment and Encounter
    (its `episodeOfCare` pointing back at the course)."""
    resources = [
        patient(course.client),
        condition(course.complaint),
        episode_of_care(course),
        care_plan(course, appointments),
    ]
    for appointment in appointments:
        booked, encounter = appointment_resources(appointment)
        encounter["episodeOfCare"] = [_ref("EpisodeOfCare", course.pk)]
        encounter["reasonReference"] = [_ref("Condition", course.complaint_id)]
        resources += [booked, encounter]
    return prune(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _instant(datetime.now(tz=UTC)),
            "entry": [_entry(r) for r in resources],
        }
    )
