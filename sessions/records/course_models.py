"""Courses of care (issue 18, DOMAIN.md 3 and 6 "dose"): a planned run of visits for one
complaint, its measurement schedule, its response reviews. Kept apart from the other records
models (imported by `models.py`) so the app's other features grow beside it without collisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clients.models import Client, Complaint
from practice.models import Practice, Service, Therapist
from sessions.scheduling.models import Appointment


class CourseStatus(models.TextChoices):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DISCHARGED = "discharged"
    REFERRED = "referred"


# A course in one of these takes no new visits (issue 18 "Bad input": 409).
CLOSED = (CourseStatus.DISCHARGED, CourseStatus.REFERRED)


class DischargeReason(models.TextChoices):
    GOALS_MET = "goals_met"
    PLATEAU = "plateau"
    REFERRED = "referred"
    CLIENT_CHOICE = "client_choice"


class Verdict(models.TextChoices):
    """The response review after a scored measure (issue 18.3)."""

    RESPONDING = "responding"
    NOT_YET = "not_yet"
    NOT_RESPONDING = "not_responding"
    WORSE = "worse"


class Course(models.Model):
    """A course of care: one client's complaint, its goals, the planned visits (booked through
    the booking services and linked by `CourseVisit`), its measurement schedule and status.
    `stage` grows when the plan is reviewed, so a review alert is raised once per stage."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="courses")
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="courses")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    # The package its visits draw on first (issue 19.4); without one, or when it is used up or
    # expired, a completed visit draws on the client's package that expires first, as any visit.
    client_package = models.ForeignKey(
        "billing.ClientPackage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="courses",
    )
    plan_template = models.ForeignKey(
        "records.SessionPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    goals = models.JSONField(default=list, blank=True)
    planned_visits = models.PositiveSmallIntegerField()
    every_days = models.PositiveSmallIntegerField(default=7)
    start_date = models.DateField()
    expected_end = models.DateField()
    status = models.CharField(
        max_length=12, choices=CourseStatus.choices, default=CourseStatus.ACTIVE
    )
    # DOMAIN.md 3 schedule: disability index + PSFS + GROC every `measure_every` visits, at the
    # practice's review visit and at discharge.
    measure_every = models.PositiveSmallIntegerField(default=4)
    instruments = models.JSONField(default=list)
    stage = models.PositiveSmallIntegerField(default=1)
    response = models.CharField(max_length=16, choices=Verdict.choices, blank=True, default="")
    home_care = models.TextField(blank=True, max_length=5000)
    discharge_reason = models.CharField(
        max_length=16, choices=DischargeReason.choices, blank=True, default=""
    )
    discharge_notes = models.TextField(blank=True, max_length=5000)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_visits__gte=1, planned_visits__lte=52),
                name="course_planned_visits_range",
            ),
            models.CheckConstraint(
                condition=Q(every_days__gte=1, every_days__lte=56), name="course_every_days_range"
            ),
            models.CheckConstraint(condition=Q(measure_every__gte=1), name="course_measure_every"),
            models.CheckConstraint(
                condition=Q(expected_end__gte=F("start_date")), name="course_dates_order"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=CLOSED) | Q(discharged_at__isnull=False),
                name="course_closed_has_discharge_time",
            ),
        ]

    def __str__(self) -> str:
        return f"course {self.pk} of complaint {self.complaint_id}"


class CourseVisit(models.Model):
    """An appointment that belongs to a course (scheduling never knows about courses)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="visits")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="course_visit"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class MeasureStatus(models.TextChoices):
    DUE = "due"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


class CourseMeasure(models.Model):
    """Instruments due after a visit (or at discharge): the client is asked once through the
    reminders outbox (`requests`: one message per channel), answers by its secret link."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="measures")
    # The completed visit that made it due; none for the discharge measure.
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="course_measures"
    )
    visit_number = models.PositiveSmallIntegerField()
    point = models.CharField(max_length=10, default="interim")  # interim | discharge
    instruments = models.JSONField(default=list)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MeasureStatus.choices, default="due")
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # The completion hook runs once per visit even if it is replayed or raced.
            models.UniqueConstraint(
                fields=["course", "appointment"],
                condition=Q(appointment__isnull=False),
                name="one_course_measure_per_visit",
            ),
            models.UniqueConstraint(
                fields=["course"],
                condition=Q(point="discharge"),
                name="one_discharge_measure_per_course",
            ),
        ]


class CourseMeasureRequest(models.Model):
    """One outbox message asking for a measure; its link (the row's token) finds the measure."""

    measure = models.ForeignKey(CourseMeasure, on_delete=models.CASCADE, related_name="requests")
    reminder = models.OneToOneField(
        "scheduling.Reminder", on_delete=models.CASCADE, related_name="course_measure_request"
    )


class CourseReview(models.Model):
    """One response review: the verdict after a scored measure, the changes it read, and the
    alert it raised. At most one alert per course stage, held by the database."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="reviews")
    stage = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    visits_completed = models.PositiveSmallIntegerField()
    weeks = models.PositiveSmallIntegerField()
    changes = models.JSONField(default=dict)
    alert = models.OneToOneField(
        "records.TherapistAlert",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="course_review",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "stage"],
                condition=Q(alert__isnull=False),
                name="one_course_alert_per_stage",
            ),
        ]
