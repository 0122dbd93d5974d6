"""Shapes of availability, appointments, series and public bookings (API.md "Booking")."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.db.models import OuterRef
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clients.models import Client
from practice.api.base import AwareDateTimeField, BoundedDateField, StrictSerializer, utc_iso
from practice.config_versions import remember
from practice.models import Practice, Service, Therapist
from practice.rows import as_row
from practice.tenancy import ScopedPrimaryKeyRelatedField, scope
from sessions.records.course_selectors import MEASURE_ROW_FIELDS, measure_state
from sessions.records.intake import INTAKE_STATUS_ROW_FIELD, intake_status, with_intake_need
from sessions.records.models import IntakeStatus
from sessions.scheduling.calendar_write_back import with_write_back, writes_back
from sessions.scheduling.models import Appointment, AppointmentEvent
from sessions.scheduling.selectors import (
    APPOINTMENT_ROW_FIELDS,
    EVENT_ROW_FIELDS,
    MAX_RANGE_DAYS,
)


class AvailabilityQuerySerializer(StrictSerializer):
    service = serializers.IntegerField(min_value=1, help_text="Id of the service to book.")
    start = BoundedDateField(
        help_text="First day (YYYY-MM-DD) of the range, a day in the practice's own time zone "
        "(`timezone` of `public/{slug}/` or `practice/`), not UTC."
    )
    end = BoundedDateField(
        help_text="Last day (YYYY-MM-DD) of the range, included, in the practice's time zone; "
        f"at most {MAX_RANGE_DAYS} days after `start`."
    )
    therapist = serializers.IntegerField(
        min_value=1, required=False, help_text="Only this therapist's slots (id)."
    )

    def validate(self, attrs) -> dict[str, Any]:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end is before the start."})
        if (attrs["end"] - attrs["start"]).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"end": f"A range covers at most {MAX_RANGE_DAYS} days."}
            )
        return attrs


def _local_iso(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).isoformat()


class SlotSerializer(serializers.Serializer):
    """One slot; `context["tz"]` is the practice's time zone for the `*_local` fields."""

    start = AwareDateTimeField(help_text="Start, in UTC.")
    end = AwareDateTimeField(help_text="End, in UTC.")
    start_local = serializers.SerializerMethodField(
        help_text="The same start in the practice's local time, with its UTC offset "
        "(e.g. `2026-03-02T09:00:00-05:00`): what a booking page shows."
    )
    end_local = serializers.SerializerMethodField(
        help_text="The same end in the practice's local time, with its UTC offset."
    )
    therapist = serializers.IntegerField(help_text="Id of the therapist free at that time.")

    def get_start_local(self, slot) -> str:
        return _local_iso(slot.start, self.context["tz"])

    def get_end_local(self, slot) -> str:
        return _local_iso(slot.end, self.context["tz"])


class AvailabilitySerializer(serializers.Serializer):
    timezone = serializers.CharField(
        help_text="The practice's IANA time zone: the `start`/`end` days and `*_local` times."
    )
    slots = SlotSerializer(many=True)


class AppointmentEventSerializer(serializers.ModelSerializer):
    at = AwareDateTimeField()

    class Meta:
        model = AppointmentEvent
        fields = ["at", "actor", "actor_kind", "action", "changes"]
        read_only_fields = fields


class AppointmentSerializer(serializers.ModelSerializer):
    """Output only; runs no queries (appointments_with_parties prefetches)."""

    start = AwareDateTimeField()
    end = AwareDateTimeField()
    history = AppointmentEventSerializer(source="events", many=True)
    client_name = serializers.SerializerMethodField()
    therapist_name = serializers.SerializerMethodField()
    service_name = serializers.CharField(source="service.name")
    intake_status = serializers.SerializerMethodField()
    measures_due = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "status",
            "intake_status",
            "start",
            "end",
            "client",
            "client_name",
            "therapist",
            "therapist_name",
            "service",
            "service_name",
            "room",
            "late_cancellation",
            "cancellation_reason",
            "source",
            "sequence",
            "history",
            "measures_due",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    # The methods below type the fields for the schema; `to_representation` writes them alike.
    def get_measures_due(self, appointment: Appointment) -> list[dict]:
        """A course visit's open outcome measures (issue 18.2), `due` or `overdue`, for
        clinicians (`with_course_measures` prefetches them); empty for anyone else."""
        return self.to_representation(appointment)["measures_due"]

    def get_client_name(self, appointment: Appointment) -> str:
        return f"{appointment.client.first_name} {appointment.client.last_name}"

    def get_therapist_name(self, appointment: Appointment) -> str:
        return appointment.therapist.user.full_name

    @extend_schema_field({"type": "string", "enum": [s.value for s in IntakeStatus]})
    def get_intake_status(self, appointment: Appointment) -> str:
        """Issue 17.4; the viewset joins `intake_request`, so this runs no query."""
        return intake_status(appointment)

    def to_representation(self, appointment: Appointment | dict) -> dict:
        """Hand-written for the appointments list (bench/: appointments_list); same fields and
        formats. Takes a list row (`.values()` of the row fields, with
        `with_appointment_history` and, for clinicians, `with_open_measure_rows`: the list builds
        no models) or a model with its parties joined and its history prefetched (and, for
        clinicians, `with_course_measures`), read into the same row without a query."""
        row = appointment if isinstance(appointment, dict) else appointment_row(appointment)
        now = timezone.now()
        return {
            "id": row["id"],
            "status": row["status"],
            "intake_status": intake_status(row),
            "start": utc_iso(row["start"]),
            "end": utc_iso(row["end"]),
            "client": row["client_id"],
            "client_name": f"{row['client__first_name']} {row['client__last_name']}",
            "therapist": row["therapist_id"],
            # as User.full_name
            "therapist_name": (
                f"{row['therapist__user__first_name']} {row['therapist__user__last_name']}"
            ).strip(),
            "service": row["service_id"],
            "service_name": row["service__name"],
            "room": row["room_id"],
            "late_cancellation": row["late_cancellation"],
            "cancellation_reason": row["cancellation_reason"],
            "source": row["source"],
            "sequence": row["sequence"],
            "history": [
                {
                    "at": utc_iso(event["at"]),
                    "actor": event["actor_id"],
                    "actor_kind": event["actor_kind"],
                    "action": event["action"],
                    "changes": event["changes"],
                }
                for event in row["event_list"]
            ],
            "measures_due": [
                {
                    "id": measure["id"],
                    "visit_number": measure["visit_number"],
                    "instruments": measure["instruments"],
                    "due_at": measure["due_at"],
                    "state": measure_state(measure, now),
                }
                # only clinicians' rows carry their courses' measures
                for measure in row.get("measure_list", ())
            ],
            "created_at": utc_iso(row["created_at"]),
            "updated_at": utc_iso(row["updated_at"]),
        }


def appointment_row(appointment: Appointment) -> dict:
    """A model as the list's row: its columns and joined parties, the intake's status, its
    prefetched history and (where `with_course_measures` read it) its course's open measures."""
    row = as_row(appointment, APPOINTMENT_ROW_FIELDS)
    row[INTAKE_STATUS_ROW_FIELD] = intake_status(appointment)
    row["event_list"] = [as_row(event, EVENT_ROW_FIELDS) for event in appointment.events.all()]
    link = getattr(appointment, "course_link", None)
    if link is not None:
        row["measure_list"] = [
            as_row(measure, MEASURE_ROW_FIELDS) for measure in link.course.open_measures
        ]
    return row


def _plain_id(value: Any) -> int | None:
    """An id as a body gives it (a JSON number or a form's digits), or None for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is int and 0 < value < 2**31:
        return value
    return None


def _offer(request: Any, data: dict) -> dict[str, Any]:
    """The body's service and therapist read in one query, through the row that says the
    therapist offers the service (issue 22.1), with what the booking asks of the therapist (see
    `therapist` below); {} when there is no such row, and each is then looked up on its own for
    its usual answer (unknown id, wrong type, or the booking's "does not offer this service")."""
    service_id, therapist_id = _plain_id(data.get("service")), _plain_id(data.get("therapist"))
    if request is None or service_id is None or therapist_id is None:
        return {}

    def load() -> dict[str, Any]:
        offer = (
            Therapist.services.through.objects.filter(
                service_id=service_id,
                therapist_id=therapist_id,
                # the fields' own scope (one query still: subqueries of the same statement)
                service__in=scope(Service.objects.all(), request),
                therapist__in=scope(Therapist.objects.all(), request),
            )
            .select_related("service", "therapist__user")
            .annotate(writes_back=writes_back(OuterRef("therapist_id")))
            .first()
        )
        if offer is None:
            return {}
        offer.therapist.writes_back = offer.writes_back
        return {"service": offer.service, "therapist": offer.therapist}

    # Services and therapists are the practice's, the same for every role (`scope`): the key
    # needs no more than the ids.
    return remember(getattr(request, "practice", None), ("offer", service_id, therapist_id), load)


class OfferedField(ScopedPrimaryKeyRelatedField):
    """A service or therapist id that `AppointmentCreateSerializer` may have read already."""

    def to_internal_value(self, data: Any) -> Any:
        known = getattr(self.parent, "offer", {}).get(self.field_name)
        if known is not None and known.pk == _plain_id(data):
            return known
        return super().to_internal_value(data)


class AppointmentCreateSerializer(StrictSerializer):
    """`client` is required from staff; a client booking for themselves may leave it out."""

    service = OfferedField(queryset=Service.objects.all())
    # With the user: the booking's answer names the therapist (AppointmentViewSet._created); and
    # with what the booking asks of each (issue 22.1): does the therapist's calendar take the
    # booking back, is it the client's first visit.
    therapist = OfferedField(queryset=with_write_back(Therapist.objects.select_related("user")))
    client = ScopedPrimaryKeyRelatedField(
        queryset=with_intake_need(Client.objects.all()), required=False
    )
    start = AwareDateTimeField()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            self.offer = _offer(self.context.get("request"), data)
        return super().to_internal_value(data)


class SeriesCreateSerializer(AppointmentCreateSerializer):
    every_days = serializers.IntegerField(min_value=1, max_value=56, default=7)
    count = serializers.IntegerField(min_value=2, max_value=12)
    all_or_nothing = serializers.BooleanField(default=True)


class OccurrenceSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    available = serializers.SerializerMethodField()
    appointment = serializers.IntegerField(source="appointment.pk", allow_null=True, default=None)
    detail = serializers.CharField(source="error", allow_null=True)

    def get_available(self, occurrence) -> bool:
        return occurrence.error is None


class SeriesSerializer(serializers.Serializer):
    booked = serializers.BooleanField()
    occurrences = OccurrenceSerializer(many=True)


class CancelSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RescheduleSerializer(StrictSerializer):
    start = AwareDateTimeField()
    therapist = ScopedPrimaryKeyRelatedField(queryset=Therapist.objects.all(), required=False)


class PublicRescheduleSerializer(StrictSerializer):
    start = AwareDateTimeField()
    therapist = serializers.IntegerField(
        min_value=1, required=False, help_text="Another online-bookable therapist (optional)."
    )


class PublicBookingSerializer(StrictSerializer):
    service = serializers.IntegerField(min_value=1)
    therapist = serializers.IntegerField(min_value=1)
    start = AwareDateTimeField()
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class PublicAppointmentSerializer(serializers.ModelSerializer):
    """What the holder of a manage link sees: the booking, nothing clinical."""

    start = AwareDateTimeField()
    end = AwareDateTimeField()
    service = serializers.CharField(source="service.name")
    therapist = serializers.CharField(source="therapist.user.full_name")

    class Meta:
        model = Appointment
        fields = ["status", "start", "end", "service", "therapist", "late_cancellation"]
        read_only_fields = fields


class PublicBookingResultSerializer(PublicAppointmentSerializer):
    manage_url = serializers.SerializerMethodField()

    class Meta(PublicAppointmentSerializer.Meta):
        fields = [*PublicAppointmentSerializer.Meta.fields, "manage_url"]
        read_only_fields = fields

    def get_manage_url(self, appointment) -> str:
        return self.context["manage_url"]


class PublicPracticeSerializer(serializers.ModelSerializer):
    """What a booking widget shows before anything is picked: who, where in time, which rules."""

    timezone = serializers.CharField(
        help_text="IANA time zone: availability days and local times are in it."
    )
    min_notice_minutes = serializers.IntegerField(
        help_text="Minutes between now and the earliest bookable start."
    )
    booking_horizon_days = serializers.IntegerField(
        help_text="Days ahead, from today, that can be booked."
    )
    cancellation_window_hours = serializers.IntegerField(
        help_text="Hours before the start inside which a cancellation is late."
    )
    clients_may_cancel_late = serializers.BooleanField(
        help_text="Whether a client may cancel inside the window themselves (else they call)."
    )
    late_cancel_fee_percent = serializers.IntegerField(
        help_text="Percent of the service price charged for a late cancellation."
    )
    no_show_fee_percent = serializers.IntegerField(
        help_text="Percent of the service price charged when the client does not come."
    )
    online_booking = serializers.BooleanField(
        help_text="Whether the practice takes bookings here; when false, the other "
        "`public/{slug}/` routes answer 404."
    )

    class Meta:
        model = Practice
        fields = [
            "slug",
            "name",
            "timezone",
            "online_booking",
            "min_notice_minutes",
            "booking_horizon_days",
            "cancellation_window_hours",
            "clients_may_cancel_late",
            "late_cancel_fee_percent",
            "no_show_fee_percent",
        ]
        read_only_fields = fields


class PublicServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "description", "duration_minutes", "price"]
        read_only_fields = fields


class PublicTherapistSerializer(serializers.ModelSerializer):
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")

    class Meta:
        model = Therapist
        fields = ["id", "first_name", "last_name", "bio", "services"]
        read_only_fields = fields
