"""Shapes of clients, consents and complaints (API.md "Clients", "Complaints"; DOMAIN.md 1-4)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clients.domain import (
    HEALTH_FLAGS,
    RED_FLAG_ANSWERS,
    RED_FLAG_QUESTIONS,
    REFERRAL_ADVICE,
    REGIONS,
    REMINDER_CHANNELS,
    SIDES,
    ComplaintStatus,
    ReferralUrgency,
    duration_category,
)
from clients.models import (
    Client,
    Complaint,
    ComplaintClearance,
    Consent,
    Instrument,
    Outcome,
    RedFlagAnswer,
)
from clients.selectors import COMPLAINT_ROW_FIELDS, OUTCOME_ROW_FIELDS, with_complaint_history
from practice.api.base import AwareDateTimeField, StrictSerializer, utc_iso
from practice.models import API_KEY_ROLE, Role
from practice.retention import retain_until, rule_for
from practice.rows import as_row, row_of
from practice.tenancy import PracticeModelSerializer, ScopedPrimaryKeyRelatedField

PRIVACY_FIELDS = ("retain_until", "legal_hold", "legal_hold_reason", "restricted")
SENSITIVE_AREAS = (*REGIONS, "chest_wall", "breast", "inner_thigh", "abdomen")


def unique_list(values: list) -> None:
    if len(set(values)) != len(values):
        raise serializers.ValidationError("Each value may appear once.")


class ClientSerializer(PracticeModelSerializer):
    health_flags = serializers.ListField(
        child=serializers.ChoiceField(choices=HEALTH_FLAGS),
        required=False,
        max_length=len(HEALTH_FLAGS),
        validators=[unique_list],
    )
    reminder_channels = serializers.ListField(
        child=serializers.ChoiceField(choices=REMINDER_CHANNELS),
        required=False,
        max_length=len(REMINDER_CHANNELS),
        validators=[unique_list],
    )
    health_flag_regions = serializers.DictField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=REGIONS), max_length=5),
        required=False,
    )
    has_account = serializers.SerializerMethodField()
    # DOMAIN.md 4/8: the retention clock, computed from the last clinical entry, the date of birth
    # and the practice's jurisdiction (practice.retention); null while there is no clinical record.
    retain_until = serializers.DateField(read_only=True, allow_null=True)
    restricted = serializers.BooleanField(read_only=True)

    # Front desk handles contact details only; a client reads their flags but does not set them.
    # Retention and legal holds are records duties: minimum necessary keeps them from the front
    # desk and API keys; a client sees when their record may go, not whether it is on hold.
    hidden_fields = {
        Role.FRONT_DESK: {"health_flags", "health_flag_regions", *PRIVACY_FIELDS},
        API_KEY_ROLE: {"health_flags", "health_flag_regions", "date_of_birth", *PRIVACY_FIELDS},
        Role.CLIENT: {"legal_hold", "legal_hold_reason"},
    }
    # A client's email changes through `me/email/`, proven before it takes effect (issue 13.2).
    read_only_fields_for = {
        Role.CLIENT: {
            "email",
            "health_flags",
            "health_flag_regions",
            "date_of_birth",
            "first_name",
            "last_name",
        }
    }

    class Meta:
        model = Client
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "health_flags",
            "health_flag_regions",
            "reminder_channels",
            "has_account",
            *PRIVACY_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "legal_hold", "legal_hold_reason", "created_at", "updated_at"]

    def validate_health_flag_regions(self, value) -> Any:
        unknown = sorted(set(value) - set(HEALTH_FLAGS))
        if unknown:
            raise serializers.ValidationError(f"Unknown health flag(s): {', '.join(unknown)}.")
        return value

    # The columns a client row is drawn from; the list reads exactly these with `.values()`.
    ROW_FIELDS = (
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "health_flags",
        "health_flag_regions",
        "reminder_channels",
        "user_id",
        "last_clinical_entry",
        "legal_hold",
        "legal_hold_reason",
        "restricted_at",
        "created_at",
        "updated_at",
    )

    def to_representation(self, client: Client | dict) -> dict:
        """Hand-written: the clients list is the busiest read, and DRF's generic field walk costs
        more than the query (bench/: clients_list). Same fields, same formats, same role rules.
        Takes a model or a `.values(*ROW_FIELDS)` row (the list skips building models)."""
        row = row_of(client, self.ROW_FIELDS)
        birth = row["date_of_birth"]
        data = {
            "id": row["id"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "email": row["email"],
            "phone": row["phone"],
            "date_of_birth": birth.isoformat() if birth else None,
            "health_flags": row["health_flags"],
            "health_flag_regions": row["health_flag_regions"],
            "reminder_channels": row["reminder_channels"],
            "has_account": row["user_id"] is not None,
            "retain_until": None,
            "legal_hold": row["legal_hold"],
            "legal_hold_reason": row["legal_hold_reason"],
            "restricted": row["restricted_at"] is not None,
            "created_at": utc_iso(row["created_at"]),
            "updated_at": utc_iso(row["updated_at"]),
        }
        # The role's hidden fields, read from the table rather than from `self.fields`, whose
        # construction (a deep copy of every declared field) would cost more than the rows.
        request = self.context.get("request")
        role = getattr(request, "role", None) or ""
        practice = getattr(request, "practice", None)
        if practice is not None and row["last_clinical_entry"] is not None:
            until = retain_until(
                last_entry=row["last_clinical_entry"],
                date_of_birth=birth,
                rule=rule_for(practice.jurisdiction),
            )
            data["retain_until"] = until.isoformat() if until else None
        hidden = self.hidden_fields.get(role, ())
        return {name: value for name, value in data.items() if name not in hidden}

    def get_has_account(self, client: Client) -> bool:
        return client.user_id is not None

    def validate_date_of_birth(self, value) -> Any:
        if value and value > timezone.localdate():
            raise serializers.ValidationError("The date of birth cannot be in the future.")
        return value

    def validate(self, attrs) -> dict[str, Any]:
        # Judge the record as it will be after the write: a PATCH clearing the phone of a client
        # with SMS reminders breaks the rule as much as turning SMS on without one.
        channels = attrs.get("reminder_channels", getattr(self.instance, "reminder_channels", ()))
        phone = attrs.get("phone", getattr(self.instance, "phone", ""))
        if "sms" in channels and not phone:
            field = "reminder_channels" if "reminder_channels" in attrs else "phone"
            raise serializers.ValidationError({field: "SMS reminders need a phone."})
        return attrs


class ConsentSerializer(PracticeModelSerializer):
    areas = serializers.ListField(
        child=serializers.ChoiceField(choices=SENSITIVE_AREAS),
        required=False,
        max_length=len(SENSITIVE_AREAS),
        validators=[unique_list],
    )
    witnessed_by: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    withdrawn_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Consent
        fields = [
            "id",
            "client",
            "kind",
            "areas",
            "version",
            "method",
            "signed_at",
            "witnessed_by",
            "withdrawn_at",
        ]
        read_only_fields = ["id"]

    def validate(self, attrs) -> dict[str, Any]:
        if attrs.get("kind") == "sensitive_area" and not attrs.get("areas"):
            raise serializers.ValidationError(
                {"areas": "A sensitive-area consent names its areas."}
            )
        if attrs.get("signed_at") and attrs["signed_at"] > timezone.now():
            raise serializers.ValidationError({"signed_at": "Cannot be in the future."})
        return attrs


class RegionSerializer(StrictSerializer):
    region = serializers.ChoiceField(choices=REGIONS)
    side = serializers.ChoiceField(choices=SIDES)


class RedFlagAnswerSerializer(serializers.ModelSerializer):
    asked_at = AwareDateTimeField()

    class Meta:
        model = RedFlagAnswer
        fields = ["question", "answer", "source", "asked_at", "asked_by"]
        read_only_fields = fields


class ClearanceSerializer(serializers.ModelSerializer):
    cleared_at = AwareDateTimeField()

    class Meta:
        model = ComplaintClearance
        fields = ["note", "referral_urgency", "cleared_by", "cleared_at"]
        read_only_fields = fields


class RedFlagsField(serializers.DictField):
    child = serializers.ChoiceField(choices=RED_FLAG_ANSWERS)

    def to_internal_value(self, data) -> Any:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(RED_FLAG_QUESTIONS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown question(s): {', '.join(unknown)}. "
                f"Questions are: {', '.join(RED_FLAG_QUESTIONS)}."
            )
        return value


class ComplaintSerializer(PracticeModelSerializer):
    regions = serializers.ListField(child=RegionSerializer(), min_length=1, max_length=10)
    red_flags = RedFlagsField(required=False)
    duration_category = serializers.SerializerMethodField()
    red_flag_history = RedFlagAnswerSerializer(source="red_flag_answers", many=True, read_only=True)
    # DOMAIN.md 2a: what the referral calls for and what to tell the client; history of every
    # clearance (read-only: written by `clear/`).
    referral_urgency = serializers.SerializerMethodField()
    referral_advice = serializers.SerializerMethodField()
    age_red_flags = serializers.ListField(child=serializers.CharField(), read_only=True)
    clearances = ClearanceSerializer(many=True, read_only=True)
    resolved_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Complaint
        fields = [
            "id",
            "client",
            "regions",
            "onset_date",
            "onset_precision",
            "onset_type",
            "episode",
            "mechanism",
            "pain_now",
            "pain_worst_24h",
            "pain_best_24h",
            "notes",
            "red_flags",
            "duration_category",
            "status",
            "referral_urgency",
            "referral_advice",
            "age_red_flags",
            "red_flag_history",
            "cleared_at",
            "cleared_by",
            "clearance_note",
            "clearances",
            "resolved_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "referral_urgency",
            "cleared_at",
            "cleared_by",
            "clearance_note",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        if self.instance is not None and "client" in fields:
            fields["client"].read_only = True  # a complaint never moves to another client
        return fields

    @extend_schema_field(
        {"type": "string", "enum": [*ReferralUrgency.values, None], "nullable": True}
    )
    def get_referral_urgency(self, complaint: Complaint) -> str | None:
        return complaint.referral_urgency or None

    def get_referral_advice(self, complaint: Complaint) -> str | None:
        return _referral_advice(complaint.status, complaint.referral_urgency)

    def get_duration_category(self, complaint: Complaint) -> str:
        return duration_category(complaint.onset_date, self.today)

    @cached_property
    def today(self):
        """The practice's date, once per response (DOMAIN.md 1: recomputed at every read)."""
        request = self.context.get("request")
        tz = request.practice.tz if request is not None and request.practice else None
        return timezone.localdate(timezone=tz)

    def to_representation(self, complaint: Complaint | dict) -> dict:
        """Hand-written for the complaints list (bench/: complaints_list); same fields and
        formats. Takes a list row (`clients.selectors.with_complaint_history`: the list builds
        no models) or a model, read into the same row."""
        row = (
            complaint
            if isinstance(complaint, dict)
            else with_complaint_history([as_row(complaint, COMPLAINT_ROW_FIELDS)])[0]
        )
        return {
            "id": row["id"],
            "client": row["client_id"],
            "regions": row["regions"],
            "onset_date": row["onset_date"].isoformat(),
            "onset_precision": row["onset_precision"],
            "onset_type": row["onset_type"],
            "episode": row["episode"],
            "mechanism": row["mechanism"],
            "pain_now": row["pain_now"],
            "pain_worst_24h": row["pain_worst_24h"],
            "pain_best_24h": row["pain_best_24h"],
            "notes": row["notes"],
            "red_flags": row["red_flags"],
            "duration_category": duration_category(row["onset_date"], self.today),
            "status": row["status"],
            "referral_urgency": row["referral_urgency"] or None,
            "referral_advice": _referral_advice(row["status"], row["referral_urgency"]),
            "age_red_flags": row["age_red_flags"],
            "red_flag_history": [
                {
                    "question": answer["question"],
                    "answer": answer["answer"],
                    "source": answer["source"],
                    "asked_at": utc_iso(answer["asked_at"]),
                    "asked_by": answer["asked_by_id"],
                }
                for answer in row["red_flag_list"]
            ],
            "cleared_at": utc_iso(row["cleared_at"]),
            "cleared_by": row["cleared_by_id"],
            "clearance_note": row["clearance_note"],
            "clearances": [
                {
                    "note": clearance["note"],
                    "referral_urgency": clearance["referral_urgency"],
                    "cleared_by": clearance["cleared_by_id"],
                    "cleared_at": utc_iso(clearance["cleared_at"]),
                }
                for clearance in row["clearance_list"]
            ],
            "resolved_at": utc_iso(row["resolved_at"]),
            "created_by": row["created_by_id"],
            "created_at": utc_iso(row["created_at"]),
            "updated_at": utc_iso(row["updated_at"]),
        }


def _referral_advice(status: str, urgency: str) -> str | None:
    if status != ComplaintStatus.REFERRAL_REQUIRED:
        return None
    return REFERRAL_ADVICE.get(urgency)


class ClearSerializer(StrictSerializer):
    note = serializers.CharField(max_length=5000)


class OutcomeSerializer(PracticeModelSerializer):
    recorded_at = AwareDateTimeField(read_only=True)
    measured_at = AwareDateTimeField(read_only=True)
    superseded_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Outcome
        fields = [
            "id",
            "client",
            "complaint",
            "instrument",
            "answers",
            "score",
            "score_percent",
            "context",
            "source",
            "measured_at",
            "recorded_at",
            "recorded_by",
            "corrects",
            "superseded_at",
        ]
        read_only_fields = fields

    def to_representation(self, outcome: Outcome | dict) -> dict:
        """Hand-written for the outcomes list (bench/: outcomes_list); same fields and formats.
        Takes a list row (`.values(*OUTCOME_ROW_FIELDS)`: the list builds no models) or a model,
        read into the same row."""
        row = row_of(outcome, OUTCOME_ROW_FIELDS)
        score_percent = row["score_percent"]
        return {
            "id": row["id"],
            "client": row["client_id"],
            "complaint": row["complaint_id"],
            "instrument": row["instrument"],
            "answers": row["answers"],
            "score": _SCORE.to_representation(row["score"]),
            "score_percent": (
                None if score_percent is None else _SCORE_PERCENT.to_representation(score_percent)
            ),
            "context": row["context"],
            "source": row["source"],
            "measured_at": utc_iso(row["measured_at"]),
            "recorded_at": utc_iso(row["recorded_at"]),
            "recorded_by": row["recorded_by_id"],
            "corrects": row["corrects_id"],
            "superseded_at": utc_iso(row["superseded_at"]),
        }


# The model fields' decimals as a ModelSerializer writes them (strings, to the field's places).
_SCORE = serializers.DecimalField(max_digits=6, decimal_places=2)
_SCORE_PERCENT = serializers.DecimalField(max_digits=5, decimal_places=1)


@extend_schema_field({"type": "object", "additionalProperties": True})
class AnswersField(serializers.JSONField):
    """The instrument's answers: a JSON object (API.md "Outcome answers")."""

    def to_internal_value(self, data) -> Any:
        if not isinstance(data, dict):
            self.fail("invalid")
        return super().to_internal_value(data)


class OutcomeWriteSerializer(StrictSerializer):
    """API.md "Outcome answers"; a client submitting their own answers may leave out `client`."""

    client = ScopedPrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    complaint = ScopedPrimaryKeyRelatedField(queryset=Complaint.objects.all())
    instrument = serializers.ChoiceField(choices=Instrument.choices)
    answers = AnswersField()
    context = serializers.ChoiceField(  # type: ignore[assignment]  # a field, not the context
        choices=["now", "worst_24h", "best_24h", "average_24h"], default="now"
    )
    # The time the score describes (DOMAIN.md 3), e.g. answers taken on paper last week.
    measured_at = AwareDateTimeField(required=False)

    def validate_measured_at(self, value) -> Any:
        if value > timezone.now():
            raise serializers.ValidationError("A score cannot describe a time in the future.")
        return value


class PointSerializer(serializers.Serializer):
    date = serializers.DateField()
    score = serializers.FloatField()


class ProgressEntrySerializer(serializers.Serializer):
    """API.md "Outcome answers": improvement is positive when the client is better."""

    baseline = serializers.FloatField(source="change.baseline")
    latest = serializers.FloatField(source="change.latest")
    improvement = serializers.FloatField(source="change.improvement")
    improvement_percent = serializers.FloatField(
        source="change.improvement_percent", allow_null=True
    )
    meaningful = serializers.BooleanField(source="change.meaningful")
    beyond_error = serializers.BooleanField(source="change.beyond_error", allow_null=True)
    worse = serializers.BooleanField(source="change.worse")
    series = PointSerializer(many=True)


class ProgressSerializer(serializers.Serializer):
    instruments = serializers.DictField(child=ProgressEntrySerializer())
