"""Courses of care (issue 18; DOMAIN.md 3 "Measurement schedule", 6 dose table): a course books its
visits through the booking services (every booking rule applies), re-measures on schedule through
the reminders outbox, reviews the response after each scored measure, and is discharged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients import instruments as scoring
from clients.domain import ComplaintStatus
from clients.models import Client, Complaint, Instrument, Outcome
from clients.selectors import complaint_progress, has_open_red_flag
from clients.services import record_outcome, resolve_complaint
from practice.errors import (
    Invalid,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    SlotUnavailable,
)
from practice.models import Practice, Service, Therapist, User
from sessions.billing import packages
from sessions.billing.models import ClientPackage
from sessions.records import alerts
from sessions.records.course_models import (
    CLOSED,
    Course,
    CourseMeasure,
    CourseMeasureRequest,
    CourseReview,
    CourseStatus,
    CourseVisit,
    DischargeReason,
    MeasureStatus,
    Verdict,
)
from sessions.records.models import GOALS, AlertKind, SessionPlan
from sessions.scheduling import booking, reminders
from sessions.scheduling.booking import Actor
from sessions.scheduling.models import Appointment, Reminder, Status
from sessions.scheduling.queue import dispatch_reminders_soon

# Instruments a course schedules (NPRS is taken at every visit already: DOMAIN.md 3).
SCHEDULED = (Instrument.ODI, Instrument.RMDQ, Instrument.PSFS, Instrument.GROC)
# GROC rates change itself and leans on recall (DOMAIN.md 3): reported, never the verdict.
SECONDARY = {Instrument.GROC}
OVERDUE_AFTER = timedelta(days=7)  # a due measure unanswered this long shows as overdue

# Set while one answer records several outcomes, so the course is reviewed once, on all of them.
_reviewing_later: ContextVar[bool] = ContextVar("course_reviewing_later", default=False)


@contextmanager
def _one_review() -> Iterator[None]:
    token = _reviewing_later.set(True)
    try:
        yield
    finally:
        _reviewing_later.reset(token)


def default_instruments(practice: Practice) -> list[str]:
    """DOMAIN.md 3: a disability index (RMDQ free; ODI where licensed) + PSFS + GROC."""
    index = Instrument.ODI if practice.odi_licensed else Instrument.RMDQ
    return [index, Instrument.PSFS, Instrument.GROC]


def _check_instruments(practice: Practice, chosen: list[str]) -> None:
    for name in chosen:
        if name not in SCHEDULED:
            raise Invalid.on("instruments", f"{name} is not a course measure ({SCHEDULED}).")
        if name == Instrument.ODI and not practice.odi_licensed:
            raise Invalid.on(
                "instruments", "ODI needs a licence: set odi_licensed.", "not_licensed"
            )


def _check_complaint(complaint: Complaint, client: Client) -> None:
    """DOMAIN.md 0 rule 2: no treatment, so no course, while a referral is open."""
    if complaint.client_id != client.pk:
        raise Invalid.on("complaint", "This complaint belongs to another client.")
    if complaint.status == ComplaintStatus.REFERRAL_REQUIRED or has_open_red_flag(client):
        raise PreconditionFailed(
            "A red flag is open: record the referral outcome (complaints/{id}/clear/) first."
        )
    if complaint.status == ComplaintStatus.RESOLVED:
        raise PreconditionFailed("This complaint is resolved: reopen it for a new course.")


def _check_goals(goals: list[str]) -> None:
    for index, goal in enumerate(goals):
        if goal not in GOALS:
            raise Invalid.on(f"goals.{index}", f"Not a goal: {', '.join(GOALS)}.", "invalid_choice")


@transaction.atomic
def start_course(
    *,
    practice: Practice,
    client: Client,
    complaint: Complaint,
    therapist: Therapist,
    service: Service,
    start: datetime,
    planned_visits: int,
    actor: Actor,
    every_days: int = 7,
    goals: list[str] | None = None,
    plan_template: SessionPlan | None = None,
    client_package: ClientPackage | None = None,
    measure_every: int = 4,
    instruments: list[str] | None = None,
    home_care: str = "",
) -> Course:
    """Issue 18.1: a course and all its visits in one transaction, all or none, every
    `every_days` at the same local time (DST-safe: `booking.series_starts`). A visit that does not
    fit is a 400 naming it; a complaint with an open red flag is a 409 (DOMAIN.md 0 rule 2)."""
    _check_complaint(complaint, client)
    _check_goals(goals or [])
    chosen = instruments or default_instruments(practice)
    _check_instruments(practice, chosen)
    if plan_template is not None and not plan_template.is_template:
        raise Invalid.on("plan_template", "Name a plan template (a plan with a name).")
    _check_package(client_package, client)
    starts = booking.series_starts(start, practice.tz, every_days, planned_visits)
    course = Course.objects.create(
        practice=practice,
        client=client,
        complaint=complaint,
        therapist=therapist,
        service=service,
        plan_template=plan_template,
        client_package=client_package,
        goals=goals or [],
        planned_visits=planned_visits,
        every_days=every_days,
        start_date=starts[0].astimezone(practice.tz).date(),
        expected_end=starts[-1].astimezone(practice.tz).date(),
        measure_every=measure_every,
        instruments=chosen,
        home_care=home_care,
        created_by=actor.user,
    )
    appointments = booking.book_visits(
        practice=practice,
        service=service,
        therapist=therapist,
        client=client,
        starts=starts,
        actor=actor,
    )
    CourseVisit.objects.bulk_create(CourseVisit(course=course, appointment=a) for a in appointments)
    return course


def _check_package(client_package: ClientPackage | None, client: Client) -> None:
    """A course draws only on a package sold to its own client (issue 19.4)."""
    if client_package is not None and client_package.client_id != client.pk:
        raise Invalid.on("client_package", "Name a package sold to this course's client.")


def _locked(course: Course) -> Course:
    return (
        Course.objects.select_for_update(of=("self",))
        .select_related("practice", "client", "complaint", "therapist", "service")
        .get(pk=course.pk)
    )


def _check_takes_visits(course: Course) -> None:
    if course.status in CLOSED:
        raise PreconditionFailed(f"This course is {course.status}: it takes no new visits.")
    if has_open_red_flag(course.client):
        raise PreconditionFailed("A red flag is open: record the referral outcome first.")


def _visits(course: Course) -> list[Appointment]:
    """The course's appointments in time order (cancelled ones included)."""
    return list(
        Appointment.objects.filter(course_visit__course=course)
        .select_related("practice", "service", "therapist", "client")
        .order_by("start", "id")
    )


def _upcoming(course: Course) -> list[Appointment]:
    now = timezone.now()
    return [a for a in _visits(course) if a.status == Status.BOOKED and a.start > now]


@transaction.atomic
def add_visit(
    *, course: Course, start: datetime, therapist: Therapist | None, actor: Actor
) -> Appointment:
    """Issue 18.1: one more visit, booked by the booking rules; a closed course is a 409. The
    plan grows when the live visits outnumber it."""
    course = _locked(course)
    _check_takes_visits(course)
    live = [a for a in _visits(course) if a.status != Status.CANCELLED]
    (appointment,) = booking.book_visits(
        practice=course.practice,
        service=course.service,
        therapist=therapist or course.therapist,
        client=course.client,
        starts=[start],
        actor=actor,
        first_index=len(live),
    )
    CourseVisit.objects.create(course=course, appointment=appointment)
    changed = ["updated_at"]
    if len(live) + 1 > course.planned_visits:
        course.planned_visits = len(live) + 1
        changed.append("planned_visits")
    local_day = start.astimezone(course.practice.tz).date()
    if local_day > course.expected_end:
        course.expected_end = local_day
        changed.append("expected_end")
    course.save(update_fields=changed)
    return appointment


def _reschedule(
    *,
    index: int,
    appointment: Appointment,
    start: datetime,
    therapist: Therapist | None,
    actor: Actor,
) -> Appointment:
    try:
        return booking.reschedule_appointment(
            appointment=appointment, start=start, therapist=therapist, actor=actor
        )
    except (Invalid, SlotUnavailable) as error:
        raise booking.visit_error(index, start, appointment.practice.tz, error) from None


@transaction.atomic
def move_visit(
    *,
    course: Course,
    appointment_id: int,
    start: datetime,
    therapist: Therapist | None,
    actor: Actor,
) -> Appointment:
    """Issue 18.1: move one booked visit of the course by the booking rules (400 naming it)."""
    course = _locked(course)
    if course.status in CLOSED:
        raise PreconditionFailed(f"This course is {course.status}: its visits are not moved.")
    visits = _visits(course)
    index = next((i for i, a in enumerate(visits) if a.pk == appointment_id), None)
    if index is None:
        raise Invalid.on("appointment", "Not a visit of this course.", "does_not_exist")
    return _reschedule(
        index=index, appointment=visits[index], start=start, therapist=therapist, actor=actor
    )


@transaction.atomic
def move_weekday(
    *, course: Course, from_weekday: int, to_weekday: int, actor: Actor
) -> list[Appointment]:
    """Issue 18.1 "move all Tuesdays to Thursdays": each upcoming booked visit on `from_weekday`
    (0 = Monday, practice time) moves to `to_weekday` of its week at the same local time; all or
    none, each through the booking rules (400 naming the visit that does not fit)."""
    course = _locked(course)
    if course.status in CLOSED:
        raise PreconditionFailed(f"This course is {course.status}: its visits are not moved.")
    tz = course.practice.tz
    visits = _visits(course)
    now = timezone.now()
    moved = []
    for index, appointment in enumerate(visits):
        local = appointment.start.astimezone(tz)
        if appointment.status != Status.BOOKED or appointment.start <= now:
            continue
        if local.weekday() != from_weekday:
            continue
        day = local.date() + timedelta(days=to_weekday - from_weekday)
        start = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
        moved.append(
            _reschedule(
                index=index, appointment=appointment, start=start, therapist=None, actor=actor
            )
        )
    if not moved:
        raise Invalid.on("from_weekday", "No upcoming visit of this course falls on that day.")
    return moved


@transaction.atomic
def cancel_rest(*, course: Course, reason: str, actor: Actor) -> list[Appointment]:
    """Issue 18.1 "cancel the rest": every upcoming booked visit, in one transaction, each by the
    cancellation rules (late cancellations marked as for any booking)."""
    course = _locked(course)
    return [
        booking.cancel_appointment(appointment=appointment, reason=reason, actor=actor)
        for appointment in _upcoming(course)
    ]


PLAN_FIELDS = ("goals", "planned_visits", "plan_template", "measure_every", "instruments")


@transaction.atomic
def update_course(*, course: Course, fields: dict[str, Any]) -> Course:
    """Goals, plan, schedule, home care, `active` <-> `on_hold`. A plan review (a change of plan
    fields, or a course resumed from hold) starts a new stage: a later review may alert again
    (issue 18.3, once per stage). A closed course is a 409."""
    course = _locked(course)
    if course.status in CLOSED:
        raise InvalidTransition(f"This course is {course.status}: it cannot change.")
    _check_goals(fields.get("goals", []))
    if "instruments" in fields:
        _check_instruments(course.practice, fields["instruments"])
    _check_package(fields.get("client_package"), course.client)
    template = fields.get("plan_template")
    if template is not None and not template.is_template:
        raise Invalid.on("plan_template", "Name a plan template (a plan with a name).")
    status = fields.get("status", course.status)
    if status not in (CourseStatus.ACTIVE, CourseStatus.ON_HOLD):
        raise Invalid.on("status", "Use discharge/ to close a course.", "invalid_choice")
    reviewed = any(
        name in fields and fields[name] != getattr(course, name) for name in PLAN_FIELDS
    ) or (course.status == CourseStatus.ON_HOLD and status == CourseStatus.ACTIVE)
    for name, value in fields.items():
        setattr(course, name, value)
    if reviewed:
        course.stage += 1
    course.save()
    return course


# --- measurement schedule (issue 18.2) -------------------------------------------------------


def measure_due_after(number: int, *, every: int, review_visit: int, planned: int) -> bool:
    """DOMAIN.md 3: every `every`th visit, at the practice's review visit (so the review of
    issue 18.3 has a score to read) and at the last planned visit."""
    return number > 0 and (number % every == 0 or number in (review_visit, planned))


def completed_visits(course: Course) -> int:
    return Appointment.objects.filter(course_visit__course=course, status=Status.COMPLETED).count()


def on_visit_completed(*, appointment: Appointment) -> CourseMeasure | None:
    """The completion hook (sessions/signals.py): when a course's visit completes and a measure is
    due, the client is asked for it through the outbox (one message per channel, sent once)."""
    visit = (
        CourseVisit.objects.select_related("course__practice", "course__client")
        .filter(appointment=appointment)
        .first()
    )
    if visit is None:
        return None
    if visit.course.client_package_id is not None:  # before billing's receiver draws any other
        packages.draw_session(appointment=appointment, prefer=visit.course.client_package_id)
    if visit.course.status in CLOSED:
        return None
    course = visit.course
    number = completed_visits(course)
    due = measure_due_after(
        number,
        every=course.measure_every,
        review_visit=course.practice.course_review_visits,
        planned=course.planned_visits,
    )
    if not due:
        return None
    return request_measures(course=course, appointment=appointment, number=number)


def request_measures(
    *, course: Course, appointment: Appointment | None, number: int, point: str = "interim"
) -> CourseMeasure | None:
    """One measure row (the database keeps it to one per visit, one at discharge) and its
    messages in the outbox, dispatched after commit."""
    measure = CourseMeasure(
        course=course,
        appointment=appointment,
        visit_number=number,
        point=point,
        instruments=list(course.instruments),
        due_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            measure.save()
    except IntegrityError:  # a replayed hook: asked already
        return None
    messages = reminders.on_measures_due(client=course.client, appointment=appointment)
    if messages:
        CourseMeasureRequest.objects.bulk_create(
            CourseMeasureRequest(measure=measure, reminder=message) for message in messages
        )
        dispatch_reminders_soon()
    return measure


def measure_for_token(token: str) -> CourseMeasure:
    """The measure an outcome-request link asks for; a wrong or expired link is a 404."""
    found = reminders.measures_request_for_token(token)
    measure = (
        CourseMeasure.objects.select_related(
            "course__practice", "course__client", "course__complaint"
        )
        .filter(requests__reminder=found)
        .first()
        if found is not None
        else None
    )
    if measure is None:
        raise NotFound("This link is invalid or has expired.")
    return measure


@transaction.atomic
def answer_measures(*, token: str, answers: dict[str, Any]) -> CourseMeasure:
    """The client's answers to an outcome request (issue 18.2), each scored by the server through
    `record_outcome` (DOMAIN.md 0 rule 5); a second answer is a 409. The course is reviewed once
    on all of them (issue 18.3)."""
    found = measure_for_token(token)
    measure = CourseMeasure.objects.select_for_update().get(pk=found.pk)
    if measure.status != MeasureStatus.DUE:
        raise InvalidTransition("These questions have already been answered.")
    course = found.course
    for name in answers:
        if name not in measure.instruments:
            raise Invalid.on(name, "Not asked in this request.")
    for name in measure.instruments:
        if name not in answers:
            raise Invalid.on(name, "This answer is required.", "required")
    with _one_review():
        for name in measure.instruments:
            _record(course, name, answers[name])
    now = timezone.now()
    measure.status, measure.answered_at = MeasureStatus.ANSWERED, now
    measure.save(update_fields=["status", "answered_at"])
    Reminder.objects.filter(course_measure_request__measure=measure).update(answered_at=now)
    review_response(course=course)
    return measure


def _record(course: Course, instrument: str, answers: Any) -> Outcome:
    try:
        return record_outcome(
            practice=course.practice,
            client=course.client,
            complaint=course.complaint,
            instrument=instrument,
            answers=answers,
            recorded_by=None,
        )
    except Invalid as error:
        for entry in error.errors or []:
            entry["field"] = f"{instrument}.{entry['field']}"
        raise


# --- response review (issue 18.3) -------------------------------------------------------------


def judge(
    changes: dict[str, scoring.Change], *, visits: int, weeks: int, practice: Practice
) -> str:
    """DOMAIN.md 6 dose table: worse on any instrument (-MCID) is `worse`; a meaningful change on
    any is `responding`; none by the practice's review week or visit is `not_responding`."""
    if any(change.worse for change in changes.values()):
        return Verdict.WORSE
    if any(change.meaningful for change in changes.values()):
        return Verdict.RESPONDING
    if visits >= practice.course_review_visits or weeks >= practice.course_review_weeks:
        return Verdict.NOT_RESPONDING
    return Verdict.NOT_YET


def review_response(*, course: Course) -> CourseReview | None:
    """Compare the course's instruments with their baseline (the complaint's first score, the
    existing progress rules); `not_responding` and `worse` alert the therapist once per stage."""
    practice = course.practice
    progress = complaint_progress(course.complaint, practice)
    changes = {
        name: entry.change
        for name, entry in progress.items()
        if name in course.instruments
        and name not in SECONDARY
        and entry.change is not None
        and len(entry.series) >= 2
    }
    if not changes:
        return None
    visits = completed_visits(course)
    today = timezone.localdate(timezone=practice.tz)
    weeks = max(0, (today - course.start_date).days // 7)
    verdict = judge(changes, visits=visits, weeks=weeks, practice=practice)
    review = CourseReview.objects.create(
        course=course,
        stage=course.stage,
        verdict=verdict,
        visits_completed=visits,
        weeks=weeks,
        changes={name: _change_json(change) for name, change in changes.items()},
    )
    Course.objects.filter(pk=course.pk).update(response=verdict, updated_at=timezone.now())
    if verdict in (Verdict.NOT_RESPONDING, Verdict.WORSE):
        _alert_once(course, review, changes)
    return review


def _change_json(change: scoring.Change) -> dict[str, Any]:
    return {
        "baseline": float(change.baseline),
        "latest": float(change.latest),
        "improvement": float(change.improvement),
        "meaningful": change.meaningful,
        "worse": change.worse,
    }


def _alert_once(course: Course, review: CourseReview, changes: dict[str, Any]) -> None:
    """One alert per course stage: the check gives the common case; the partial unique
    constraint `one_course_alert_per_stage` settles two reviews racing."""
    if CourseReview.objects.filter(course=course, stage=review.stage, alert__isnull=False).exists():
        return
    if review.verdict == Verdict.WORSE:
        worse = ", ".join(name.upper() for name, change in changes.items() if change.worse)
        message = f"Course of care: worse than baseline on {worse}."
    else:
        message = (
            f"Course of care: no meaningful change by visit {review.visits_completed} "
            f"(week {review.weeks})."
        )
    message += " Review the plan or consider referral (DOMAIN.md 6 dose table)."
    try:
        with transaction.atomic():
            review.alert = alerts.raise_alert(
                practice=course.practice_id,
                client=course.client_id,
                kind=AlertKind.COURSE_REVIEW,
                therapist=course.therapist,
                complaint=course.complaint,
                message=message,
            )
            review.save(update_fields=["alert"])
    except IntegrityError:  # another review of this stage alerted first
        review.alert = None


def on_outcome_recorded(*, outcomes: list[Outcome]) -> None:
    """Scored course instruments (outcomes/, the request link, an intake's baseline) review their
    complaints' open courses, each once however many of its instruments came together; NPRS at
    every visit does not (no query for it)."""
    scheduled = [o for o in outcomes if o.instrument in SCHEDULED]
    if not scheduled or _reviewing_later.get():
        return
    courses = Course.objects.select_related("practice", "complaint", "client", "therapist")
    for course in courses.filter(
        complaint_id__in={o.complaint_id for o in scheduled},
        status__in=(CourseStatus.ACTIVE, CourseStatus.ON_HOLD),
    ):
        if any(
            o.complaint_id == course.complaint_id and o.instrument in course.instruments
            for o in scheduled
        ):
            review_response(course=course)


# --- discharge (issue 18.4) -------------------------------------------------------------------


@transaction.atomic
def discharge_course(
    *, course: Course, reason: str, notes: str, by: User | None, actor: Actor
) -> Course:
    """Close the course: upcoming visits are cancelled, `goals_met` resolves the complaint,
    `referred` marks it referred; the discharge measure is requested unless the last visit's
    was (DOMAIN.md 3: "and at discharge"). Twice is a 409."""
    course = _locked(course)
    if course.status in CLOSED:
        raise InvalidTransition(f"This course is already {course.status}.")
    for appointment in _upcoming(course):
        booking.cancel_appointment(appointment=appointment, reason="Course discharged", actor=actor)
    course.status = (
        CourseStatus.REFERRED if reason == DischargeReason.REFERRED else CourseStatus.DISCHARGED
    )
    course.discharge_reason = reason
    course.discharge_notes = notes
    course.discharged_at = timezone.now()
    course.discharged_by = by
    course.save()
    if reason == DischargeReason.GOALS_MET and course.complaint.status == ComplaintStatus.ACTIVE:
        resolve_complaint(complaint=course.complaint)
    number = completed_visits(course)
    if not CourseMeasure.objects.filter(course=course, visit_number=number).exists():
        request_measures(course=course, appointment=None, number=number, point="discharge")
    return course
