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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["practice", "start", "id"]),
            models.Index(fields=["therapist", "start"]),
            models.Index(fields=["client", "start"]),
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


class IdempotencyRecord(models.Model):
    """The first answer to a create request, replayed for a retry with the same Idempotency-Key."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    principal = models.CharField(max_length=80)  # "user:<id>", "public:<ip>", "key:<id>"
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
