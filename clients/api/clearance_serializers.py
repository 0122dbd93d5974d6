"""Shapes of medical clearances (`clients/{id}/clearances/`, DOMAIN.md 2b "clearance first")."""

from __future__ import annotations

from rest_framework import serializers

from clients.models import MedicalClearance
from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.vocabulary import CLEARANCE_FLAGS


class MedicalClearanceInSerializer(StrictSerializer):
    flag = serializers.ChoiceField(choices=CLEARANCE_FLAGS)
    cleared_by_name = serializers.CharField(max_length=200)
    cleared_on = serializers.DateField()
    expires_on = serializers.DateField()
    document = serializers.CharField(max_length=500, required=False, allow_blank=True)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class RevokeClearanceSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class MedicalClearanceSerializer(serializers.ModelSerializer):
    recorded_at = AwareDateTimeField(read_only=True)
    revoked_at = AwareDateTimeField(read_only=True, allow_null=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = MedicalClearance
        fields = [
            "id",
            "client",
            "flag",
            "cleared_by_name",
            "cleared_on",
            "expires_on",
            "document",
            "note",
            "recorded_by",
            "recorded_at",
            "revoked_at",
            "revoked_by",
            "revocation_reason",
            "is_current",
        ]
        read_only_fields = fields

    def get_is_current(self, clearance: MedicalClearance) -> bool:
        today = self.context["today"]
        return (
            clearance.revoked_at is None and clearance.cleared_on <= today <= clearance.expires_on
        )
