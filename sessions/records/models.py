"""Clinical records: session plans and items, notes and amendments, therapist alerts and
follow-up answers. Tables keep their old `treatment_` names (moved from the `treatment` app)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clients.models import Client
from practice.models import Practice, Therapist
from sessions.scheduling.models import Appointment

# --- clinical record: session plans, SOAP notes, amendments -----------------------------------

GOALS = (
    "muscle_relaxation",
    "circulation",
    "stress_reduction",
    "posture",
    "pain_relief",
    "flexibility",
    "mental_relaxation",
)


class SessionPlan(models.Model):
    """Ordered technique items for an appointment and its complaint, or a reusable template
    (`name` set, no client) that a plan can start from (API.md "Session plans")."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.PROTECT, related_name="session_plans"
    )
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="plan"
    )
    complaint = models.ForeignKey(
        "clients.Complaint", null=True, blank=True, on_delete=models.PROTECT, related_name="plans"
    )
    name = models.CharField(max_length=120, blank=True)
    goals = models.JSONField(default=list, blank=True)
    home_care = models.TextField(blank=True, max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "treatment_sessionplan"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(appointment__isnull=False) & Q(name=""))
                | (Q(appointment__isnull=True) & ~Q(name="")),
                name="plan_is_for_appointment_or_template",
            ),
        ]

    @property
    def is_template(self) -> bool:
        return self.appointment_id is None


class PlanItem(models.Model):
    plan = models.ForeignKey(SessionPlan, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    technique = models.ForeignKey(
        "techniques.Technique", on_delete=models.PROTECT, related_name="+"
    )
    region = models.CharField(max_length=20)
    side = models.CharField(max_length=10, blank=True)
    minutes = models.PositiveSmallIntegerField()
    pressure = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.CharField(max_length=1000, blank=True)
    # DOMAIN.md 0 rule 3: an override needs a reason, and what it overrode is kept.
    override_reason = models.CharField(max_length=1000, blank=True)
    overridden = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "treatment_planitem"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="plan_item_position"),
            models.CheckConstraint(
                condition=Q(pressure__isnull=True) | Q(pressure__gte=1, pressure__lte=5),
                name="plan_item_pressure_walton",
            ),
            models.CheckConstraint(condition=Q(minutes__gte=1), name="plan_item_minutes"),
        ]


def delivered_entry(item: PlanItem) -> dict:
    """One delivered item as a note records it: what was done, where, how long, how hard."""
    return {
        "id": item.pk,
        "technique": item.technique_id,
        "technique_code": item.technique.code,
        "technique_name": item.technique.name,
        "region": item.region,
        "side": item.side,
        "minutes": item.minutes,
        "pressure": item.pressure,
    }


class Note(models.Model):
    """A SOAP treatment note (DOMAIN.md 4). Signing locks it; corrections are amendments."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="notes")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="note"
    )
    complaint = models.ForeignKey(
        "clients.Complaint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="session_notes",
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    subjective = models.TextField(blank=True, max_length=10000)
    objective = models.TextField(blank=True, max_length=10000)
    assessment = models.TextField(blank=True, max_length=10000)
    plan = models.TextField(blank=True, max_length=10000)
    pain_before = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_after = models.PositiveSmallIntegerField(null=True, blank=True)
    consent_confirmed = models.BooleanField(default=False)
    delivered_items = models.ManyToManyField(PlanItem, blank=True, related_name="+")
    shared_with_client = models.BooleanField(default=False)
    # pain_before / pain_after are also NPRS outcomes of the complaint (DOMAIN.md 3 schedule).
    pain_before_outcome = models.OneToOneField(
        "clients.Outcome", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pain_after_outcome = models.OneToOneField(
        "clients.Outcome", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # The delivered items as they were at signing (`delivered_entry` each): a signed note says what
    # was delivered then, whatever a technique is renamed to later.
    delivered_snapshot = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "treatment_note"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "signed_at", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(pain_before__isnull=True) | Q(pain_before__lte=10),
                name="note_pain_before_range",
            ),
            models.CheckConstraint(
                condition=Q(pain_after__isnull=True) | Q(pain_after__lte=10),
                name="note_pain_after_range",
            ),
        ]

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def delivered(self, items: list[PlanItem] | None = None) -> list[dict]:
        """What was delivered: the snapshot of a signed note, else the linked items as they are
        now (`items`, when the caller prefetched them with their techniques)."""
        if self.delivered_snapshot is not None:
            return self.delivered_snapshot
        if items is None:
            items = list(self.delivered_items.select_related("technique"))
        return [delivered_entry(item) for item in sorted(items, key=lambda i: (i.position, i.pk))]


class AmendmentKind(models.TextChoices):
    AMENDMENT = "amendment"
    CORRECTION = "correction"
    LATE_ENTRY = "late_entry"


class Amendment(models.Model):
    """Kept beside the original, which stays readable (DOMAIN.md 4, "Signing and amendments")."""

    note = models.ForeignKey(Note, on_delete=models.PROTECT, related_name="amendments")
    kind = models.CharField(max_length=12, choices=AmendmentKind.choices)
    text = models.TextField(max_length=10000)
    reason = models.CharField(max_length=1000, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "treatment_amendment"
        ordering = ["created_at", "id"]


class AlertKind(models.TextChoices):
    RED_FLAG = "red_flag"  # a positive red-flag answer, at intake, a visit or a follow-up
    SCREENING_REVIEW = "screening_review"  # a screening question answered `unsure`
    FOLLOW_UP_PAIN = "follow_up_pain"  # DOMAIN.md 6: follow-up pain high or risen
    COURSE_REVIEW = "course_review"  # issue 18.3: a course not responding, or worse


class TherapistAlert(models.Model):
    """Something in a client's record that needs a clinician's attention (DOMAIN.md 6 escalation,
    2a screening). Listed at `alerts/` until acknowledged; each is also sent once by email
    through the reminders outbox (a `Reminder` of kind `alert`)."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    # The treating therapist when one is known; else the practice's owners are told.
    therapist = models.ForeignKey(
        Therapist, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    complaint = models.ForeignKey(
        "clients.Complaint", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    follow_up_answer = models.ForeignKey(
        "FollowUpAnswer", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    urgency = models.CharField(max_length=24, blank=True, default="")
    questions = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True, max_length=2000)

    class Meta:
        db_table = "treatment_therapistalert"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["practice", "created_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="alert_open_idx",
            )
        ]


class FollowUpAnswer(models.Model):
    """The client's answer to a follow-up, kept whole: pain, comment and red-flag checkboxes
    (DOMAIN.md 6), whatever else it led to (an NPRS outcome, alerts)."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="follow_up_answers")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="follow_up_answers"
    )
    complaint = models.ForeignKey(
        "clients.Complaint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pain = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=1000)
    red_flags = models.JSONField(default=list, blank=True)  # questions the client ticked
    text_red_flags = models.JSONField(default=list, blank=True)  # questions the comment suggests
    outcome = models.OneToOneField(
        "clients.Outcome", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField()

    class Meta:
        db_table = "treatment_followupanswer"
        ordering = ["answered_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(pain__lte=10), name="follow_up_pain_range"),
        ]


# --- intake before the first visit (issue 17) ----------------------------------------------------


class IntakeForm(models.Model):
    """One published version of a practice's intake form. Immutable: a change is a new version,
    so what a client answered and signed always reads against the text they saw."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    # [{"kind": "general"|"sensitive_area", "version", "title", "text", "areas": [...]}]
    consent_documents = models.JSONField(default=list)
    # [{"key", "label", "type": "text"|"choice"|"yes_no", "choices": [...], "required": bool}]
    questions = models.JSONField(default=list)
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "version"], name="intake_form_version")
        ]


class IntakeStatus(models.TextChoices):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ON_PAPER = "on_paper"


INTAKE_COMPLETE = (IntakeStatus.SUBMITTED, IntakeStatus.ON_PAPER)


class IntakeRequest(models.Model):
    """The intake of one client's first visit: drafts per section, then one submission and what
    it changed (`effects`), or staff's note that it was done on paper."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="intake_requests")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="intake_request"
    )
    form = models.ForeignKey(IntakeForm, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(
        max_length=12, choices=IntakeStatus.choices, default=IntakeStatus.PENDING
    )
    drafts = models.JSONField(default=dict, blank=True)  # {section: answers}, as last saved
    effects = models.JSONField(default=dict, blank=True)  # what the submission changed
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_from_ip = models.GenericIPAddressField(null=True, blank=True)
    submitted_user_agent = models.CharField(max_length=500, blank=True)
    on_paper_reason = models.CharField(max_length=500, blank=True)
    on_paper_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_paper_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "status"])]


class ProposalStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class HealthFlagProposal(models.Model):
    """A client's intake would lift a restriction (a health flag on file they did not tick): it
    waits for a therapist to confirm or reject it; added restrictions apply at once."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="flag_proposals")
    intake = models.ForeignKey(IntakeRequest, on_delete=models.CASCADE, related_name="proposals")
    flag = models.CharField(max_length=40)
    action = models.CharField(max_length=10, default="remove")
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ConsentSignature(models.Model):
    """How a consent given through the intake was signed: typed full name, time, caller address
    and user agent, and the sha256 of the exact document text and version (DOMAIN.md 4); for a
    minor, the guardian who signed."""

    consent = models.OneToOneField(
        "clients.Consent", on_delete=models.CASCADE, related_name="signature"
    )
    intake = models.ForeignKey(IntakeRequest, on_delete=models.CASCADE, related_name="signatures")
    signed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    document_version = models.CharField(max_length=40)
    document_sha256 = models.CharField(max_length=64)
    guardian_name = models.CharField(max_length=200, blank=True)
    guardian_relationship = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["signed_at", "id"]
# Courses of care (issue 18) live in their own module; imported here so Django registers them.
from sessions.records.course_models import (  # noqa: E402, F401
    Course,
    CourseMeasure,
    CourseMeasureRequest,
    CourseReview,
    CourseVisit,
)
