"""`alerts/`: what needs a clinician's attention (DOMAIN.md 6, 2a), and `acknowledge/`."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.filters import PracticeFilterSet
from practice.models import AuditAction
from practice.tenancy import CLINICAL, TenantViewSet
from sessions.records import alerts
from sessions.records.models import FollowUpAnswer, TherapistAlert


class FollowUpAnswerSerializer(serializers.ModelSerializer):
    answered_at = AwareDateTimeField()

    class Meta:
        model = FollowUpAnswer
        fields = ["id", "pain", "comment", "red_flags", "text_red_flags", "answered_at"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    created_at = AwareDateTimeField()
    acknowledged_at = AwareDateTimeField(allow_null=True)
    follow_up_answer = FollowUpAnswerSerializer(allow_null=True)
    delivery_status = serializers.SerializerMethodField()

    class Meta:
        model = TherapistAlert
        fields = [
            "id",
            "client",
            "therapist",
            "appointment",
            "complaint",
            "kind",
            "urgency",
            "questions",
            "message",
            "follow_up_answer",
            "delivery_status",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
        ]
        read_only_fields = fields

    def get_delivery_status(self, alert: TherapistAlert) -> str | None:
        """The email's status in the outbox (`scheduled`, `sent`, `failed`)."""
        delivery = getattr(alert, "delivery", None)
        if delivery is None:
            return None
        return "scheduled" if delivery.status in ("queued", "sending") else delivery.status


class AcknowledgeSerializer(StrictSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AlertFilter(PracticeFilterSet):
    acknowledged = django_filters.BooleanFilter(method="filter_acknowledged")

    class Meta:
        model = TherapistAlert
        fields = ["client", "therapist", "complaint", "kind"]

    def filter_acknowledged(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(acknowledged_at__isnull=not value)


class AlertViewSet(TenantViewSet):
    """Alerts of the practice, newest first; `?acknowledged=false` lists the open ones."""

    queryset = TherapistAlert.objects.select_related("follow_up_answer", "delivery")
    serializer_class = AlertSerializer
    access = CLINICAL
    audit_as = "alert"
    filterset_class = AlertFilter
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=AcknowledgeSerializer, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None) -> Response:
        """Mark the alert seen and acted on, with a note (audited); twice is 409."""
        incoming = AcknowledgeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        alert = alerts.acknowledge_alert(
            alert=self.get_object(), by=request.user, note=incoming.validated_data["note"]
        )
        self.audit(AuditAction.UPDATE, [alert])
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data)
