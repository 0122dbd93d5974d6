"""Shapes of the privacy endpoints: legal hold, erasure requests, a client's access log."""

from __future__ import annotations

from rest_framework import serializers

from clients.models import ErasureRequest
from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.models import AuditEvent


class LegalHoldSerializer(StrictSerializer):
    legal_hold = serializers.BooleanField()
    reason = serializers.CharField(max_length=500)


class LegalHoldStateSerializer(serializers.Serializer):
    client = serializers.IntegerField()
    legal_hold = serializers.BooleanField()
    legal_hold_reason = serializers.CharField()
    retain_until = serializers.DateField(allow_null=True)


class ErasureInSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class ErasedItemSerializer(serializers.Serializer):
    what = serializers.CharField()
    detail = serializers.CharField()
    records = serializers.DictField(child=serializers.IntegerField(), required=False)


class KeptItemSerializer(serializers.Serializer):
    what = serializers.CharField()
    records = serializers.DictField(child=serializers.IntegerField())
    rule = serializers.CharField()
    kept_until = serializers.DateField(allow_null=True, help_text="null under a legal hold")
    purge_from = serializers.DateField()


class ErasureRequestSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="client_number", read_only=True)
    received_at = AwareDateTimeField(read_only=True)
    completed_at = AwareDateTimeField(read_only=True)
    erased = ErasedItemSerializer(many=True, read_only=True)
    kept = KeptItemSerializer(many=True, read_only=True)

    class Meta:
        model = ErasureRequest
        fields = [
            "id",
            "client",
            "requested_by_role",
            "reason",
            "received_at",
            "due_by",
            "completed_at",
            "outcome",
            "erased",
            "kept",
            "explanation",
            "emailed_to_client",
        ]
        read_only_fields = fields


class AccessLogEntrySerializer(serializers.ModelSerializer):
    """One row of `clients/{id}/access-log/`: who, what record, which action, when, from where."""

    at = AwareDateTimeField(read_only=True)
    actor = serializers.EmailField(source="actor.email", default=None, read_only=True)
    api_key = serializers.SerializerMethodField()
    record_ids = serializers.ListField(child=serializers.IntegerField(), source="ids")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "role",
            "api_key",
            "action",
            "record_type",
            "record_ids",
            "ip_address",
        ]
        read_only_fields = fields

    def get_api_key(self, event: AuditEvent) -> str | None:
        key = event.api_key
        return f"{key.prefix}… ({key.name})" if key is not None else None
