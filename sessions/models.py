"""The visit from booking to follow-up: appointments, their history, and idempotent create keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clients.models import Client
from practice.models import Practice, Service, Therapist


class Status(models.TextChoices):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# API.md "Booking": the only moves; anything else is 409 invalid_transition.
TRANSITIONS: dict[str, set[str]] = {
    Status.BOOKED: {Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW},
    Status.CHECKED_IN: {Status.COMPLETED},
}


class Source(models.TextChoices):
    STAFF = "staff"
    CLIENT = "client"
    PUBLIC = "public"
    API = "api"


class Appointment(models.Model):
    """One booked visit. It occupies [start, blocked_until): its time plus the service's turnover.

    On Postgres an exclusion constraint (migration 0002) forbids two live appointments of one
    therapist whose occupied ranges overlap, so however many requests race, one wins.
    """

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="appointments")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    blocked_until = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    late_cancellation = models.BooleanField(default=False)
    cancellation_reason = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # iCalendar SEQUENCE: grows with every change a calendar should pick up.
    sequence = models.PositiveIntegerField(default=0)
    manage_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # Public bookings only: the caller's address (an IPv6 one as its /64), for the per-address cap
    # on live public bookings (sessions/public_caps.py). Never shown by the API.
    booked_from_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["practice", "start", "id"]),
            models.Index(fields=["therapist", "start"]),
            models.Index(fields=["client", "start"]),
            models.Index(
                fields=["practice", "booked_from_ip", "start"],
                condition=Q(booked_from_ip__isnull=False),
                name="appointment_public_ip_start",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="appointment_order"),
            models.CheckConstraint(
                condition=Q(blocked_until__gte=F("end")), name="appointment_blocked_covers_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.service_id}/{self.therapist_id}"

    @property
    def is_live(self) -> bool:
        return self.status != Status.CANCELLED


class AppointmentEvent(models.Model):
    """Every change of an appointment: who, when, from what to what (shown on the appointment)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_kind = models.CharField(max_length=10, choices=Source.choices)
    action = models.CharField(max_length=20)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]


class QuietRefusal(models.Model):
    """A public booking refused without telling the booker (issue 13.3): a client who may not
    book online gets the answer anyone gets, and this is what its manage link then shows and what
    the live-booking caps count, as for a booking. It holds its time from the public side only
    (public availability, public and client bookings: `free_slots(hold_quiet_refusals=...)`),
    never in the staff's diary; the client is told by email why nothing was booked."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    late_cancellation = models.BooleanField(default=False)
    manage_token_hash = models.CharField(max_length=64, unique=True)
    booked_from_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "start"])]


class IdempotencyRecord(models.Model):
    """The first answer to a create request, replayed for a retry with the same Idempotency-Key."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    principal = models.CharField(max_length=80)  # "user:<id>", "public", "key:<id>"
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "principal", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"])]


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
        ordering = ["created_at", "id"]


# --- reminders, follow-ups and rebooking nudges (API.md "Reminders and follow-ups") ------------


class ReminderKind(models.TextChoices):
    REMINDER = "reminder"
    FOLLOW_UP = "follow_up"
    REBOOK_NUDGE = "rebook_nudge"
    ALERT = "alert"  # a TherapistAlert, to its therapist (or the owners), never to the client
    WAITLIST_OFFER = "waitlist_offer"  # a freed slot offered to a waitlisted client
    # The public page answers a client who may not book online like anyone else; this message
    # tells them why nothing was booked (issue 13.3; DOMAIN.md 0, rule 2).
    ONLINE_BLOCKED = "online_blocked"


class ReminderStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # claimed by the dispatcher, handed to a send task
    SENDING = "sending"  # claimed by one send task; back to queued if its lease runs out
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Reminder(models.Model):
    """One message to send at one time. The schedule is data in the database, written in the same
    transaction as the appointment change that causes it; the broker only carries ids."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="reminders")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    # A waitlist offer's message: sent once and retried like a reminder; its token is the claim's.
    waitlist_offer = models.ForeignKey(
        "WaitlistOffer", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(max_length=14, choices=ReminderKind.choices)
    channel = models.CharField(max_length=8)
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Follow-ups: the answer link's token (hash only) and when it was answered.
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    alert = models.OneToOneField(
        "TherapistAlert", null=True, blank=True, on_delete=models.CASCADE, related_name="delivery"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "channel"],
                condition=Q(appointment__isnull=False),
                name="one_reminder_per_appointment_kind_channel",
            ),
        ]
        indexes = [
            # The dispatcher's claim: due rows in time order (partial, so it stays small).
            models.Index(
                fields=["scheduled_for"],
                condition=Q(status="scheduled"),
                name="reminder_due_idx",
            ),
            models.Index(
                fields=["lease_until"],
                condition=Q(status__in=["queued", "sending"]),
                name="reminder_lease_idx",
            ),
        ]


class AlertKind(models.TextChoices):
    RED_FLAG = "red_flag"  # a positive red-flag answer, at intake, a visit or a follow-up
    SCREENING_REVIEW = "screening_review"  # a screening question answered `unsure`
    FOLLOW_UP_PAIN = "follow_up_pain"  # DOMAIN.md 6: follow-up pain high or risen


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
        ordering = ["answered_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(pain__lte=10), name="follow_up_pain_range"),
        ]


# --- waitlist ---------------------------------------------------------------------------------


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting"
    BOOKED = "booked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class WaitlistEntry(models.Model):
    """A client asks for a service (and maybe a therapist) within local days and times."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="waitlist")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        Therapist, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    earliest = models.TimeField(null=True, blank=True)  # local times; none = any time
    latest = models.TimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["practice", "status", "last_day"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")), name="waitlist_days_order"
            ),
        ]


class WaitlistOffer(models.Model):
    """A freed slot offered to one waitlisted client; the first claim books it."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    # Offers made before their messages went through the reminder outbox carry their claim
    # token here; newer ones carry one per message sent (Reminder.token_hash).
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
