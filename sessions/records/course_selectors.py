"""Reads of courses of care (issue 18): the list with visit counts and measures, progress with
the visits marked, and the discharge summary the JSON, PDF, FHIR and referral letter share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from clients import instruments
from clients.models import Complaint
from clients.selectors import Progress, complaint_progress
from practice.rows import attach_rows
from sessions.records.course_models import (
    Course,
    CourseMeasure,
    CourseReview,
    CourseVisit,
    DischargeReason,
    MeasureStatus,
    Verdict,
)
from sessions.records.courses import OVERDUE_AFTER
from sessions.records.models import Note, SessionPlan
from sessions.scheduling.models import Appointment, Status


def courses_for_output() -> QuerySet[Course]:
    """Courses with what their output shows: visit counts by status, measures (no query per row)."""
    visits = "visits__appointment__status"
    return Course.objects.annotate(
        visits_completed=Count("visits", filter=Q(**{visits: Status.COMPLETED})),
        visits_no_show=Count("visits", filter=Q(**{visits: Status.NO_SHOW})),
        visits_booked=Count("visits", filter=Q(**{visits: Status.BOOKED})),
    ).prefetch_related(
        Prefetch(
            "measures",
            queryset=CourseMeasure.objects.order_by("due_at", "id"),
            to_attr="measure_list",
        )
    )


def with_course_measures(queryset: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """Appointments with their course (if any) and its open measures as `course_link`: two
    queries for a page, shown as the appointment's `measures_due` (issue 18.2)."""
    return queryset.prefetch_related(
        Prefetch(
            "course_visit",
            queryset=CourseVisit.objects.select_related("course").prefetch_related(
                Prefetch(
                    "course__measures",
                    queryset=CourseMeasure.objects.filter(status=MeasureStatus.DUE).order_by(
                        "due_at", "id"
                    ),
                    to_attr="open_measures",
                )
            ),
            to_attr="course_link",
        )
    )


def course_plan_start(
    plan: SessionPlan | None,
    appointment: Appointment | None,
    items: list[dict] | None,
    template: SessionPlan | None,
    complaint: Complaint | None,
) -> tuple[SessionPlan | None, Complaint | None]:
    """A course visit's new plan, given neither items nor a template, starts from the course's
    plan template and names its complaint (issue 18.1); any other plan is left as it was."""
    if plan is not None or appointment is None or items is not None or template is not None:
        return template, complaint
    visit = (
        CourseVisit.objects.select_related("course__plan_template", "course__complaint")
        .filter(appointment=appointment)
        .first()
    )
    if visit is None:
        return None, complaint
    return visit.course.plan_template, complaint or visit.course.complaint


# An open measure as an appointment's `measures_due` shows it (issue 18.2).
MEASURE_ROW_FIELDS = ("id", "visit_number", "instruments", "due_at", "status")


def with_open_measure_rows(rows: list[dict]) -> list[dict]:
    """A page of appointment rows with the open measures of each one's course (if any), as
    `with_course_measures` gives models: one query whatever the page's size (issue 22.2)."""
    measures = CourseMeasure.objects.filter(status=MeasureStatus.DUE).order_by("due_at", "id")
    parent = "course__visits__appointment_id"
    return attach_rows(rows, "measure_list", measures, parent, MEASURE_ROW_FIELDS)


def measure_state(measure: CourseMeasure | dict, now: datetime | None = None) -> str:
    """`due`, `overdue` (unanswered past OVERDUE_AFTER), `answered` or `cancelled`; of a measure
    or of its row (`MEASURE_ROW_FIELDS`)."""
    now = now or timezone.now()
    status, due_at = (
        (measure["status"], measure["due_at"])
        if isinstance(measure, dict)
        else (measure.status, measure.due_at)
    )
    if status == MeasureStatus.DUE and now > due_at + OVERDUE_AFTER:
        return "overdue"
    return status


def visits_of(course: Course) -> list[dict[str, Any]]:
    """The course's visits in time order, numbered, with status (one query)."""
    rows = (
        Appointment.objects.filter(course_visit__course=course)
        .order_by("start", "id")
        .values("id", "start", "end", "status")
    )
    return [{"number": n, **row} for n, row in enumerate(rows, start=1)]


def course_progress(course: Course) -> tuple[dict[str, Progress], list[dict[str, Any]]]:
    """The complaint's instruments against their baseline (the existing progress rules) and the
    course's visits to mark on them: two queries whatever the number of visits."""
    return complaint_progress(course.complaint, course.practice), visits_of(course)


def _instrument_rows(progress: dict[str, Progress]) -> list[dict[str, Any]]:
    rows = []
    for name, entry in progress.items():
        change = entry.change
        if change is None:
            continue
        verdict = (
            "meaningful improvement"
            if change.meaningful
            else ("worse" if change.worse else "no meaningful change")
        )
        rows.append(
            {
                "instrument": name,
                "baseline": float(change.baseline),
                "final": float(change.latest),
                "improvement": float(change.improvement),
                "improvement_percent": None
                if change.improvement_percent is None
                else float(change.improvement_percent),
                "mcid": float(instruments.RULES[name].mcid or 0),
                "meaningful": change.meaningful,
                "beyond_error": change.beyond_error,
                "worse": change.worse,
                "verdict": verdict,
                "measurements": len(entry.series),
            }
        )
    return rows


def techniques_delivered(course: Course) -> list[dict[str, Any]]:
    """From the signed notes of the course's visits (their snapshot at signing)."""
    notes = Note.objects.filter(
        appointment__course_visit__course=course, signed_at__isnull=False
    ).prefetch_related("delivered_items__technique")
    totals: dict[str, dict[str, Any]] = {}
    for note in notes:
        seen = set()
        for item in note.delivered(list(note.delivered_items.all())):
            entry = totals.setdefault(
                item["technique_code"],
                {
                    "code": item["technique_code"],
                    "name": item["technique_name"],
                    "visits": 0,
                    "minutes": 0,
                },
            )
            entry["minutes"] += item["minutes"] or 0
            if item["technique_code"] not in seen:
                entry["visits"] += 1
                seen.add(item["technique_code"])
    return sorted(totals.values(), key=lambda e: (-e["visits"], e["name"]))


def home_care_of(course: Course) -> str:
    """The course's own advice, else the latest plan's of its visits, else its template's."""
    if course.home_care:
        return course.home_care
    latest = (
        SessionPlan.objects.filter(appointment__course_visit__course=course)
        .exclude(home_care="")
        .order_by("-appointment__start")
        .values_list("home_care", flat=True)
        .first()
    )
    if latest:
        return latest
    return course.plan_template.home_care if course.plan_template else ""


def referral_reasons(course: Course) -> list[str]:
    """Why a referral letter is written: positive red flags, then the response review."""
    complaint = course.complaint
    reasons = [
        f"Red flag answered yes: {question.replace('_', ' ')}"
        + (
            f" ({complaint.referral_urgency.replace('_', ' ')})"
            if complaint.referral_urgency
            else ""
        )
        for question, answer in sorted(complaint.red_flags.items())
        if answer == "yes"
    ]
    review = CourseReview.objects.filter(course=course).order_by("-created_at", "-id").first()
    if review is not None and review.verdict in (Verdict.NOT_RESPONDING, Verdict.WORSE):
        reasons.append(
            f"Response to treatment: {review.verdict.replace('_', ' ')} after "
            f"{review.visits_completed} visits ({review.weeks} weeks)."
        )
    if course.discharge_reason == DischargeReason.REFERRED and course.discharge_notes:
        reasons.append(course.discharge_notes)
    return reasons


def course_summary(course: Course) -> dict[str, Any]:
    """Issue 18.4: the discharge summary (an interim one before discharge)."""
    progress, visits = course_progress(course)
    attended = [v for v in visits if v["status"] == Status.COMPLETED]
    tz = course.practice.tz
    client = course.client
    return {
        "course": course.pk,
        "interim": course.discharged_at is None,
        "practice": course.practice.name,
        "client": {"id": client.pk, "name": f"{client.first_name} {client.last_name}".strip()},
        "complaint": {
            "id": course.complaint_id,
            "regions": course.complaint.regions,
            "onset_date": course.complaint.onset_date,
            "status": course.complaint.status,
        },
        "status": course.status,
        "discharge_reason": course.discharge_reason or None,
        "discharge_notes": course.discharge_notes,
        "goals": course.goals,
        "start_date": course.start_date,
        "end_date": (course.discharged_at.astimezone(tz).date() if course.discharged_at else None),
        "first_visit": attended[0]["start"].astimezone(tz).date() if attended else None,
        "last_visit": attended[-1]["start"].astimezone(tz).date() if attended else None,
        "visits_planned": course.planned_visits,
        "visits_attended": len(attended),
        "visits": [
            {"number": v["number"], "date": v["start"].astimezone(tz).date(), "status": v["status"]}
            for v in visits
        ],
        "techniques": techniques_delivered(course),
        "instruments": _instrument_rows(progress),
        "response": course.response or None,
        "home_care": home_care_of(course),
        "referral_reasons": referral_reasons(course),
    }
