"""Clients, their consent records, back-pain complaints with red-flag screening, and outcomes."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.domain import (
    ComplaintStatus,
    Episode,
    Mechanism,
    OnsetPrecision,
    OnsetType,
    ReferralUrgency,
)
from practice.models import Practice


def default_reminder_channels() -> list[str]:
    return ["email"]


class Client(models.Model):
    client_path = ""  # tenancy: a client user sees only their own row

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="clients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="client",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    health_flags = models.JSONField(default=list, blank=True)
    # Local flags (DOMAIN.md 2c "L"): the regions they affect, e.g. {"recent_surgery": ["lumbar"]}.
    health_flag_regions = models.JSONField(default=dict, blank=True)
    reminder_channels = models.JSONField(default=default_reminder_channels)
    reminders_opt_out = models.BooleanField(default=False)  # set by the unsubscribe link
    # The retention clock (DOMAIN.md 4): the practice-local day of the latest clinical entry, kept
    # by sessions.records.privacy
    # on every clinical write; `retain_until` follows from it, the date of
    # birth and the practice's jurisdiction (practice.retention). Null: no clinical record yet.
    last_clinical_entry = models.DateField(null=True, blank=True)
    # Legal hold: no purge while set (owner only, with a reason; history in LegalHoldChange).
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = models.CharField(max_length=500, blank=True)
    # Set by an erasure request that had to keep clinical records (DOMAIN.md 8): hidden from
    # default lists, not bookable, not messaged; read only by the owner and treating therapists.
    restricted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["practice", "last_name", "first_name", "id"]),
            models.Index(fields=["practice", "email"]),
            models.Index(fields=["practice", "last_clinical_entry"], name="client_retention_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ConsentKind(models.TextChoices):
    GENERAL = "general"
    SENSITIVE_AREA = "sensitive_area"


class ConsentMethod(models.TextChoices):
    WRITTEN = "written"
    VERBAL = "verbal"


class Consent(models.Model):
    """Consent as a record, not a checkbox (DOMAIN.md 4, "Consent")."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    areas = models.JSONField(default=list, blank=True)
    version = models.CharField(max_length=40)
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    signed_at = models.DateTimeField()
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_at", "-id"]


class Complaint(models.Model):
    """A back-pain complaint (DOMAIN.md 1); `duration_category` is computed, never stored."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="complaints")
    regions = models.JSONField()
    onset_date = models.DateField()
    onset_precision = models.CharField(
        max_length=5, choices=OnsetPrecision.choices, default=OnsetPrecision.DAY
    )
    onset_type = models.CharField(max_length=10, choices=OnsetType.choices)
    episode = models.CharField(max_length=10, choices=Episode.choices, default=Episode.FIRST)
    mechanism = models.CharField(max_length=30, choices=Mechanism.choices)
    pain_now = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    pain_worst_24h = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    pain_best_24h = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    notes = models.TextField(blank=True, max_length=5000)
    # Latest answer per question; every answer is also kept in RedFlagAnswer with time and asker.
    red_flags = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=ComplaintStatus.choices, default=ComplaintStatus.ACTIVE
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clearance_note = models.TextField(blank=True, max_length=5000)
    # DOMAIN.md 2a: the most urgent action the positive answers call for ("" when none), and the
    # age-based flags computed from the client's date of birth at the onset date.
    referral_urgency = models.CharField(
        max_length=24, choices=ReferralUrgency.choices, blank=True, default=""
    )
    age_red_flags = models.JSONField(default=list, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "client", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(pain_now__lte=10), name="complaint_pain_now_range"),
        ]


class RedFlagAnswer(models.Model):
    """One answer to one screening question, with when and by whom it was asked (DOMAIN.md 2a)."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="red_flag_answers"
    )
    question = models.CharField(max_length=40)
    answer = models.CharField(max_length=6)
    # Where the answer came from: staff at intake or a visit, a follow-up checkbox, or a
    # follow-up comment whose words suggested it (DOMAIN.md 6).
    source = models.CharField(max_length=20, default="staff")
    asked_at = models.DateTimeField()
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["asked_at", "id"]


class ComplaintClearance(models.Model):
    """Every clearance of a referral is kept: a second never overwrites the first (DOMAIN.md 2a)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="clearances")
    note = models.TextField(max_length=5000)
    referral_urgency = models.CharField(max_length=24, blank=True, default="")
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_at = models.DateTimeField()

    class Meta:
        ordering = ["cleared_at", "id"]


class Instrument(models.TextChoices):
    NPRS = "nprs"
    ODI = "odi"
    RMDQ = "rmdq"
    PSFS = "psfs"
    GROC = "groc"


class OutcomeSource(models.TextChoices):
    INTAKE = "intake"  # the complaint's pain_now: the baseline
    SESSION_BEFORE = "session_before"  # a note's pain_before
    SESSION_AFTER = "session_after"  # a note's pain_after
    FOLLOW_UP = "follow_up"  # the follow-up link's answer
    RECORDED = "recorded"  # answers recorded through outcomes/


class Outcome(models.Model):
    """A scored outcome measure (DOMAIN.md 3); the score is computed by the server."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="outcomes")
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="outcomes")
    instrument = models.CharField(max_length=10, choices=Instrument.choices)
    answers = models.JSONField()
    score = models.DecimalField(max_digits=6, decimal_places=2)
    score_percent = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    context = models.CharField(max_length=20, default="now")
    # What produced it: the intake's pain_now, a note's pain before/after the session, a
    # follow-up answer, or answers recorded directly.
    source = models.CharField(
        max_length=20, choices=OutcomeSource.choices, default=OutcomeSource.RECORDED
    )
    # The time the score describes (the session, the intake), not when it was written: the
    # series is ordered by it, so a late note does not reorder it (DOMAIN.md 3).
    measured_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A correction replaces a score without erasing it: the old row stays, marked superseded,
    # and the new one points at it (DOMAIN.md 4: never overwrite).
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["measured_at", "id"]
        indexes = [models.Index(fields=["complaint", "instrument", "measured_at"])]


class LegalHoldChange(models.Model):
    """Each time the owner sets or clears a client's legal hold, with the reason (DOMAIN.md 4)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="legal_hold_changes")
    legal_hold = models.BooleanField()
    reason = models.CharField(max_length=500)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]


class ErasureOutcome(models.TextChoices):
    ERASED = "erased"  # nothing was under retention: the whole record is gone
    RESTRICTED = "restricted"  # contact and portal data erased, clinical records kept, restricted


class ErasureRequest(models.Model):
    """A client's erasure request and what was done (DOMAIN.md 8 "GDPR erasure vs retention").

    Kept after the client is gone, as proof of the answer: it names the client by number only.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="erasure_requests"
    )
    client_number = models.PositiveIntegerField()  # the client's id, kept when the row goes
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_role = models.CharField(max_length=20)
    reason = models.CharField(max_length=1000, blank=True)
    received_at = models.DateTimeField()
    due_by = models.DateField()
    completed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=ErasureOutcome.choices)
    erased = models.JSONField(default=list)
    kept = models.JSONField(default=list)
    explanation = models.TextField()
    emailed_to_client = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["practice", "received_at"])]


class MedicalClearance(models.Model):
    """A medical clearance for a flag that needs one (DOMAIN.md 2b: `dvt`, high-risk pregnancy,
    active cancer treatment, uncontrolled hypertension/cardiac): who cleared, when, on which
    document or note, until when. Session plans read the current ones (clients.selectors)."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="clearances")
    flag = models.CharField(max_length=40)
    cleared_by_name = models.CharField(max_length=200)  # the clinician who gave it (e.g. the GP)
    cleared_on = models.DateField()
    expires_on = models.DateField()
    document = models.CharField(max_length=500, blank=True)  # reference of the letter or form
    note = models.TextField(blank=True, max_length=5000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # Withdrawn by a clinician, or because the flag was newly recorded again (a new clot needs a
    # new clearance): kept as history, never current again.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revocation_reason = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-cleared_on", "-id"]
        indexes = [models.Index(fields=["client", "flag", "expires_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("cleared_on")),
                name="clearance_expires_after_it_is_given",
            ),
            models.CheckConstraint(
                condition=~Q(document="") | ~Q(note=""), name="clearance_has_document_or_note"
            ),
        ]
