"""Shapes of session plans, notes and amendments (API.md "Clinical records", "Session plans")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clients.models import Client, Complaint
from practice.api.base import AwareDateTimeField, StrictSerializer, utc_iso
from practice.models import Role
from practice.rows import as_row
from practice.tenancy import ScopedPrimaryKeyRelatedField
from practice.vocabulary import REGIONS
from sessions.records.models import (
    GOALS,
    Amendment,
    AmendmentKind,
    Note,
    PlanItem,
    SessionPlan,
)
from sessions.records.selectors import NOTE_ROW_FIELDS, with_note_history
from sessions.scheduling.models import Appointment
from techniques.models import Technique

SIDES = ("left", "right", "bilateral", "midline")


class PlanItemInSerializer(StrictSerializer):
    technique = ScopedPrimaryKeyRelatedField(queryset=Technique.objects.all())
    region = serializers.ChoiceField(choices=REGIONS)
    side = serializers.ChoiceField(choices=SIDES, required=False, allow_blank=True)
    minutes = serializers.IntegerField(min_value=1, max_value=240)
    pressure = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    override_reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class PlanItemSerializer(serializers.ModelSerializer):
    technique_code = serializers.CharField(source="technique.code")
    technique_name = serializers.CharField(source="technique.name")

    class Meta:
        model = PlanItem
        fields = [
            "id",
            "position",
            "technique",
            "technique_code",
            "technique_name",
            "region",
            "side",
            "minutes",
            "pressure",
            "notes",
            "override_reason",
            "overridden",
        ]
        read_only_fields = fields


class ClientPlanItemSerializer(PlanItemSerializer):
    """What a client reads of their plan: techniques and where, not the clinician's notes."""

    class Meta(PlanItemSerializer.Meta):
        fields = ["position", "technique_code", "technique_name", "region", "side", "minutes"]
        read_only_fields = fields


class SessionPlanSerializer(serializers.ModelSerializer):
    items = PlanItemSerializer(many=True)

    class Meta:
        model = SessionPlan
        fields = [
            "id",
            "appointment",
            "complaint",
            "client",
            "name",
            "goals",
            "home_care",
            "items",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        if getattr(request, "role", None) == Role.CLIENT:
            fields["items"] = ClientPlanItemSerializer(many=True)
            for name in ("created_by", "complaint"):
                fields.pop(name)
        return fields


class SessionPlanWriteSerializer(StrictSerializer):
    appointment = ScopedPrimaryKeyRelatedField(queryset=Appointment.objects.all(), required=False)
    complaint = ScopedPrimaryKeyRelatedField(queryset=Complaint.objects.all(), required=False)
    template = ScopedPrimaryKeyRelatedField(
        queryset=SessionPlan.objects.filter(appointment__isnull=True), required=False
    )
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    goals = serializers.ListField(
        child=serializers.ChoiceField(choices=GOALS), required=False, max_length=len(GOALS)
    )
    home_care = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    items = PlanItemInSerializer(  # type: ignore[call-arg]  # ListSerializer takes max_length
        many=True, required=False, max_length=40
    )

    def validate_goals(self, goals) -> Any:
        if len(set(goals)) != len(goals):
            raise serializers.ValidationError("Each goal once.")
        return goals


class AmendmentSerializer(serializers.ModelSerializer):
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Amendment
        fields = ["id", "kind", "text", "reason", "author", "created_at"]
        read_only_fields = fields


class AmendmentInSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=AmendmentKind.choices, default=AmendmentKind.AMENDMENT)
    text = serializers.CharField(max_length=10000)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class DeliveredItemSerializer(serializers.Serializer):
    """A delivered item as the note records it, fixed at signing (models.delivered_entry)."""

    id = serializers.IntegerField()
    technique = serializers.IntegerField()
    technique_code = serializers.CharField()
    technique_name = serializers.CharField()
    region = serializers.CharField()
    side = serializers.CharField()
    minutes = serializers.IntegerField()
    pressure = serializers.IntegerField(allow_null=True)


class NoteSerializer(serializers.ModelSerializer):
    amendments = AmendmentSerializer(many=True, read_only=True)
    delivered = DeliveredItemSerializer(many=True, read_only=True)
    is_signed = serializers.BooleanField(read_only=True)
    signed_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Note
        fields = [
            "id",
            "client",
            "appointment",
            "complaint",
            "author",
            "subjective",
            "objective",
            "assessment",
            "plan",
            "pain_before",
            "pain_after",
            "consent_confirmed",
            "delivered_items",
            "delivered",
            "shared_with_client",
            "is_signed",
            "signed_at",
            "amendments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, note: Note | dict) -> dict:
        """Hand-written for the notes list (bench/: notes_list); same fields and formats. Takes a
        list row (`sessions.records.selectors.with_note_history`: the list builds no models) or a
        model, read into the same row."""
        row = (
            note
            if isinstance(note, dict)
            else with_note_history([as_row(note, NOTE_ROW_FIELDS)])[0]
        )
        snapshot = row["delivered_snapshot"]
        return {
            "id": row["id"],
            "client": row["client_id"],
            "appointment": row["appointment_id"],
            "complaint": row["complaint_id"],
            "author": row["author_id"],
            "subjective": row["subjective"],
            "objective": row["objective"],
            "assessment": row["assessment"],
            "plan": row["plan"],
            "pain_before": row["pain_before"],
            "pain_after": row["pain_after"],
            "consent_confirmed": row["consent_confirmed"],
            "delivered_items": [item["id"] for item in row["delivered_list"]],
            "delivered": snapshot if snapshot is not None else row["delivered_list"],
            "shared_with_client": row["shared_with_client"],
            "is_signed": row["signed_at"] is not None,
            "signed_at": utc_iso(row["signed_at"]),
            "amendments": [
                {
                    "id": amendment["id"],
                    "kind": amendment["kind"],
                    "text": amendment["text"],
                    "reason": amendment["reason"],
                    "author": amendment["author_id"],
                    "created_at": utc_iso(amendment["created_at"]),
                }
                for amendment in row["amendment_list"]
            ],
            "created_at": utc_iso(row["created_at"]),
            "updated_at": utc_iso(row["updated_at"]),
        }


class NoteWriteSerializer(StrictSerializer):
    client = ScopedPrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    appointment = ScopedPrimaryKeyRelatedField(queryset=Appointment.objects.all(), required=False)
    complaint = ScopedPrimaryKeyRelatedField(
        queryset=Complaint.objects.all(), required=False, allow_null=True
    )
    subjective = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    objective = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    assessment = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    plan = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    pain_before = serializers.IntegerField(
        min_value=0, max_value=10, required=False, allow_null=True
    )
    pain_after = serializers.IntegerField(
        min_value=0, max_value=10, required=False, allow_null=True
    )
    consent_confirmed = serializers.BooleanField(required=False)
    shared_with_client = serializers.BooleanField(required=False)
    delivered_items = serializers.PrimaryKeyRelatedField(
        queryset=PlanItem.objects.all(), many=True, required=False
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        practice = getattr(self.context.get("request"), "practice", None)
        # Plan items are scoped through their plan's practice.
        delivered = fields["delivered_items"]  # many=True: a ManyRelatedField
        delivered.child_relation.queryset = (  # type: ignore[attr-defined]
            PlanItem.objects.filter(plan__practice=practice).select_related("plan")
        )
        if self.instance is not None:  # a note stays with its client and appointment
            fields.pop("client")
            fields.pop("appointment")
        return fields
