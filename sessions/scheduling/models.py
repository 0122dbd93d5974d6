"""Scheduling: appointments, their history, quiet refusals, idempotent create keys, the reminder
outbox and the waitlist.
Tables keep their old `treatment_` names (moved from the `treatment` app)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clients.models import Client
from practice.models import Practice, Room, Service, Therapist


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
    therapist whose occupied ranges overlap, so however many requests race, one wins; another
    (scheduling migration 0002) does the same for a room (issue 20.1).
    """

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="appointments")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    # The room it holds, for a service that needs one (issue 20.1); rooms are retired, not deleted.
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
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
    # on live public bookings (sessions/scheduling/public_caps.py). Never shown by the API.
    booked_from_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "treatment_appointment"
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["practice", "start", "id"]),
            models.Index(fields=["therapist", "start"]),
            models.Index(fields=["client", "start"]),
            models.Index(
                fields=["room", "start"], condition=Q(room__isnull=False), name="appointment_room"
            ),
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
        db_table = "treatment_appointmentevent"
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
        db_table = "treatment_quietrefusal"
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
        db_table = "treatment_idempotencyrecord"
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "principal", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"])]


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
    # The intake link of a client's first visit (issue 17), sent when it is booked (and again
    # when staff resend it), and a reminder 48 h before the visit while the intake is incomplete.
    INTAKE_REQUEST = "intake_request"
    INTAKE_REMINDER = "intake_reminder"
    # A course's outcome measures are due: the client answers them by a secret link (issue 18.2).
    MEASURES_DUE = "measures_due"


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
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
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
        "records.TherapistAlert",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delivery",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "treatment_reminder"
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "channel"],
                # An intake request may be resent by staff (each message its own link).
                condition=Q(appointment__isnull=False) & ~Q(kind="intake_request"),
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
        db_table = "treatment_waitlistentry"
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
        db_table = "treatment_waitlistoffer"
        ordering = ["created_at", "id"]


# --- outside calendars (issue 20.4) -------------------------------------------------------------


class CalendarKind(models.TextChoices):
    ICS = "ics"  # an iCalendar URL, read only
    CALDAV = "caldav"  # a CalDAV calendar: read, and optionally written back to


class CalendarLink(models.Model):
    """A therapist's other calendar, synced into busy blocks (sessions/scheduling/
    outside_calendars.py). The CalDAV app password is stored encrypted, never shown."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(
        Therapist, on_delete=models.CASCADE, related_name="calendar_links"
    )
    kind = models.CharField(max_length=8, choices=CalendarKind.choices)
    name = models.CharField(max_length=100, blank=True)
    url = models.URLField(max_length=1000)
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True)
    write_back = models.BooleanField(default=False)
    # What the last good sync left: the ics ETag, the CalDAV sync-token, when a whole window
    # was last expanded (deltas are applied on top of it for a day at most).
    etag = models.CharField(max_length=300, blank=True)
    sync_token = models.CharField(max_length=500, blank=True)
    expanded_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_sync_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["next_sync_at"], name="calendarlink_due_idx")]


class BusyBlock(models.Model):
    """Time a linked calendar says the therapist is busy; availability reads it like time off.
    Replaced only by a successful sync. `href` names the calendar object it came from, so a
    CalDAV sync-token delta replaces just that object's blocks."""

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="busy_blocks")
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    href = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["therapist", "start"], name="busyblock_therapist_start")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="busyblock_end_after"),
        ]


class CalendarWrite(models.Model):
    """The write-back outbox: an appointment to put into (or remove from) one CalDAV calendar.
    One row per link and appointment; a change marks it due again, the sender pushes the
    appointment's state as it is then (booked: PUT; cancelled or moved away: DELETE)."""

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="writes")
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)  # None: in step with the calendar
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["link", "appointment"], name="one_write_per_link"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(due_at__isnull=False), name="calendarwrite_due_idx"
            )
        ]
