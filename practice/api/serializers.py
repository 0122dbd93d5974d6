"""Shapes of the practice API: auth, me, practice policy, staff, therapists, services, hours."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from practice.api.base import AwareDateTimeField, BoundedDateField, StrictSerializer
from practice.currencies import MINOR_UNITS, fits_currency
from practice.models import (
    STAFF_ROLES,
    AuditEvent,
    Membership,
    Practice,
    Role,
    Room,
    Service,
    TaxRate,
    Therapist,
    TimeOff,
    User,
    Weekday,
)
from practice.tenancy import PracticeModelSerializer, ScopedPrimaryKeyRelatedField


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "email_verified_at"]
        read_only_fields = fields


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = UserSerializer()


class RegisterSerializer(StrictSerializer):
    practice = serializers.SlugField(max_length=60)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class VerifyEmailSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)
    date_of_birth = BoundedDateField(
        required=False,
        allow_null=True,
        help_text="Needed when the practice's record for this email holds personal data.",
    )


class EmailLinkSerializer(serializers.Serializer):
    """What an emailed link would confirm (its GET changes nothing; confirming is a POST)."""

    purpose = serializers.CharField()
    email = serializers.EmailField()
    practice = serializers.CharField()
    expires_at = serializers.DateTimeField()
    confirm_with = serializers.CharField(help_text="POST the token here to confirm.")


class TokenOnlySerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetRequestSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class EmailChangeSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PracticeSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Practice
        fields = ["id", "slug", "name", "timezone"]


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    role = serializers.CharField()
    practice = PracticeSummarySerializer()
    client = serializers.IntegerField(allow_null=True)
    therapist = serializers.IntegerField(allow_null=True)
    calendar_url = serializers.URLField(allow_null=True)


class PracticeSerializer(PracticeModelSerializer):
    """API.md "Practice policy"; `slug` is fixed once created (it is in public booking URLs)."""

    class Meta:
        model = Practice
        fields = [
            "id",
            "slug",
            "name",
            "timezone",
            "booking_horizon_days",
            "min_notice_minutes",
            "slot_step_minutes",
            "cancellation_window_hours",
            "reminder_hours_before",
            "follow_up_hours_after",
            "rebook_nudge_days",
            "odi_licensed",
            "online_booking",
            "clients_may_cancel_late",
            "late_cancel_fee_percent",
            "no_show_fee_percent",
            "sensitive_area_consent_required",
            "waitlist_offer_minutes",
            "sync_horizon_days",
            "jurisdiction",
            "hipaa_covered",
            "mcid_nprs",
            "mcid_odi",
            "mcid_rmdq",
            "mcid_psfs",
            "mcid_groc",
            "meaningful_percent",
            "alert_follow_up_pain",
            "alert_pain_rise",
            "currency",
            "address",
            "tax_number",
            "course_review_weeks",
            "course_review_visits",
            "created_at",
        ]
        read_only_fields = ["id", "slug", "created_at"]


class StaffSerializer(PracticeModelSerializer):
    """A member of staff: the user's fields flattened beside their role (owner only)."""

    email = serializers.EmailField(source="user.email", max_length=254)
    first_name = serializers.CharField(
        source="user.first_name", max_length=100, required=False, allow_blank=True
    )
    last_name = serializers.CharField(
        source="user.last_name", max_length=100, required=False, allow_blank=True
    )
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in STAFF_ROLES])
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    therapist = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "password",
            "therapist",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        if self.instance is not None:  # email and password are set at creation only
            fields["email"].read_only = True
            fields.pop("password")
        return fields

    def get_therapist(self, membership: Membership) -> int | None:
        therapist = getattr(membership.user, "therapist", None)
        return therapist.pk if therapist else None


class TherapistSerializer(PracticeModelSerializer):
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    services = ScopedPrimaryKeyRelatedField(
        many=True,
        queryset=Service.objects.all(),
        required=False,
        help_text="Services this therapist offers (the other view of a service's `therapists`).",
    )
    # Hands-on limits (issue 20.2) are the practice's business, not a client's.
    hidden_fields = {
        Role.CLIENT: {
            "email",
            "active",
            "max_daily_minutes",
            "max_weekly_minutes",
            "recovery_minutes",
        }
    }

    class Meta:
        model = Therapist
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "bio",
            "registration_number",
            "online_bookable",
            "active",
            "services",
            "max_daily_minutes",
            "max_weekly_minutes",
            "recovery_minutes",
        ]
        read_only_fields = ["id"]


class StaffChangeSerializer(StaffSerializer):
    """What `PATCH staff/{id}/` takes, for the schema: email and password are set at creation
    only (StaffSerializer drops them once there is an instance)."""

    email = None  # type: ignore[assignment]
    password = None  # type: ignore[assignment]

    class Meta(StaffSerializer.Meta):
        fields = [f for f in StaffSerializer.Meta.fields if f not in ("email", "password")]


@extend_schema_field(
    {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"}
)
class HourMinuteField(serializers.TimeField):
    """A local wall-clock time written `HH:MM` both ways (API.md "Working hours")."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


class WorkingHoursSerializer(StrictSerializer):
    weekday = serializers.ChoiceField(choices=Weekday.choices)
    start = HourMinuteField()
    end = HourMinuteField()

    def validate(self, attrs) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "End must be after start."})
        return attrs


class TimeOffSerializer(PracticeModelSerializer):
    class Meta:
        model = TimeOff
        fields = ["id", "therapist", "start", "end", "reason"]
        read_only_fields = ["id"]

    def validate(self, attrs) -> dict[str, Any]:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": "End must be after start."})
        return attrs


class TagsField(serializers.ListField):
    """Equipment tags: short lower-case words, each once (issue 20.1)."""

    child = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_-]{0,39}$",
        error_messages={"invalid": "A tag is 1-40 of a-z, 0-9, '_' and '-'."},
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=20, **kwargs)

    def to_internal_value(self, data) -> list[str]:
        return sorted(set(super().to_internal_value(data)))


class ServiceSerializer(PracticeModelSerializer):
    therapists = ScopedPrimaryKeyRelatedField(
        many=True,
        queryset=Therapist.objects.all(),
        required=False,
        help_text="Therapists who offer it; left out on create: every active therapist.",
    )
    rooms = ScopedPrimaryKeyRelatedField(
        many=True,
        queryset=Room.objects.all(),
        required=False,
        help_text="Rooms it may use (issue 20.1); naming rooms or tags makes it need a room.",
    )
    room_tags = TagsField(
        required=False, help_text="It may use any room whose equipment holds all these tags."
    )
    hidden_fields = {Role.CLIENT: {"active", "needs_room", "rooms", "room_tags"}}

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "duration_minutes",
            "buffer_minutes",
            "price",
            "tax_rate",
            "online_bookable",
            "active",
            "therapists",
            "needs_room",
            "rooms",
            "room_tags",
            "pressure_level",
        ]
        read_only_fields = ["id"]

    def validate_price(self, value: Decimal) -> Decimal:
        """A price in the practice's currency: no finer than its minor units (JPY has none)."""
        currency = self.context["request"].practice.currency
        if not fits_currency(value, currency):
            raise serializers.ValidationError(
                f"{currency} prices have {MINOR_UNITS[currency]} decimals.", code="decimals"
            )
        return value

    def validate_name(self, value: str) -> str:
        # The unique constraint settles races (409); this gives the usual case a 400 on `name`.
        request = self.context["request"]
        taken = Service.objects.filter(practice=request.practice, name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                "The practice already has a service with this name.", code="unique"
            )
        return value


class TaxRateSerializer(PracticeModelSerializer):
    """A named tax (issue 19.1): `percent` 0-100, `inclusive` when prices already hold it."""

    class Meta:
        model = TaxRate
        fields = ["id", "name", "percent", "inclusive", "active", "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def validate_name(self, value: str) -> str:
        request = self.context["request"]
        taken = TaxRate.objects.filter(practice=request.practice, name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                "The practice already has a tax rate with this name.", code="unique"
            )
        return value


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(
        source="actor.email", default=None, read_only=True, allow_null=True
    )
    at = AwareDateTimeField(read_only=True)
    record_ids = serializers.ListField(child=serializers.IntegerField(), source="ids")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "record_type", "record_ids", "ip_address"]
        read_only_fields = fields


class RoomSerializer(PracticeModelSerializer):
    """A treatment room (issue 20.1): one treatment at a time; `equipment` tags match services'
    `room_tags`."""

    equipment = TagsField(required=False)

    class Meta:
        model = Room
        fields = ["id", "name", "equipment", "active"]
        read_only_fields = ["id"]

    def validate_name(self, value: str) -> str:
        taken = Room.objects.filter(practice=self.context["request"].practice, name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                "The practice already has a room with this name.", code="unique"
            )
        return value


class DateOverrideSerializer(StrictSerializer):
    """One date's hours of a therapist in the practice's local time (issue 20.3): `start` and
    `end` replace that date's weekly hours (several rows: several intervals); both left out or
    null: a day off."""

    id = serializers.IntegerField(read_only=True)
    therapist = serializers.IntegerField(source="therapist_id", read_only=True)
    date = BoundedDateField()
    start = HourMinuteField(required=False, allow_null=True, default=None)
    end = HourMinuteField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if (start is None) != (end is None):
            missing = "end" if end is None else "start"
            raise serializers.ValidationError(
                {missing: "Give both start and end, or neither for a day off."}
            )
        if start is not None and end <= start:
            raise serializers.ValidationError({"end": "End must be after start."})
        return attrs
