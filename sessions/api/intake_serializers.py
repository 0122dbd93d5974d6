"""Serializers of the intake (issue 17): the form versions, the link's view of one intake, and the
staff's view of a client's submissions and proposals."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from practice.api.base import AwareDateTimeField, StrictSerializer, utc_iso
from sessions.records import intake_forms
from sessions.records.models import (
    ConsentSignature,
    HealthFlagProposal,
    IntakeForm,
    IntakeRequest,
)


class IntakeFormSerializer(serializers.ModelSerializer):
    """A published version (read-only: publishing a change is a new version)."""

    sections = serializers.SerializerMethodField()
    consent_documents = serializers.SerializerMethodField()
    published_at = AwareDateTimeField(allow_null=True)

    class Meta:
        model = IntakeForm
        fields = [
            "id",
            "version",
            "title",
            "sections",
            "consent_documents",
            "questions",
            "published_at",
        ]
        read_only_fields = fields

    def get_sections(self, form: IntakeForm) -> list[str]:
        return [s for s in intake_forms.SECTIONS if s != "questions" or form.questions]

    def get_consent_documents(self, form: IntakeForm) -> list[dict[str, Any]]:
        return [{**d, "sha256": intake_forms.document_sha256(d)} for d in form.consent_documents]


class IntakeFormCreateSerializer(intake_forms.IntakeFormIn):
    """The body of a new version (docs/intake.md). The very checks the service layer defines, so
    that the schema shows the shape they take (a list of consent documents, never null)."""


class IntakeSectionsSerializer(serializers.Serializer):
    """A PATCH or submit body: any of the sections, each an object of answers
    (docs/intake.md)."""

    contact = serializers.JSONField(required=False)
    health = serializers.JSONField(required=False)
    complaint = serializers.JSONField(required=False)
    baseline = serializers.JSONField(required=False)
    consents = serializers.JSONField(required=False)
    questions = serializers.JSONField(required=False)


class IntakeAppointmentSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()


class IntakeLinkSerializer(serializers.Serializer):
    """What the link shows: the practice, the visit's time, the form, the drafts. Never the
    practice's staff or any other client."""

    practice = serializers.CharField()
    timezone = serializers.CharField()
    appointment = IntakeAppointmentSerializer(allow_null=True)
    status = serializers.CharField()
    first_name = serializers.CharField()
    form = IntakeFormSerializer()
    drafts = serializers.JSONField()
    missing = serializers.ListField(child=serializers.CharField())
    submitted_at = AwareDateTimeField(allow_null=True)


def link_view(intake: IntakeRequest) -> dict[str, Any]:
    appointment = intake.appointment
    return {
        "practice": intake.practice.name,
        "timezone": intake.practice.timezone,
        "appointment": {"start": appointment.start, "end": appointment.end}
        if appointment
        else None,
        "status": intake.status,
        "first_name": intake.client.first_name,
        "form": intake.form,
        "drafts": intake.drafts,
        "missing": intake_forms.missing_for_submit(intake.drafts, intake.form),
        "submitted_at": intake.submitted_at,
    }


class ProposalSerializer(serializers.ModelSerializer):
    decided_at = AwareDateTimeField(allow_null=True)
    created_at = AwareDateTimeField()

    class Meta:
        model = HealthFlagProposal
        fields = [
            "id",
            "flag",
            "action",
            "status",
            "decided_by",
            "decided_at",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class SignatureSerializer(serializers.ModelSerializer):
    signed_at = AwareDateTimeField()
    kind = serializers.CharField(source="consent.kind")

    class Meta:
        model = ConsentSignature
        fields = [
            "consent",
            "kind",
            "signed_name",
            "signed_at",
            "ip_address",
            "user_agent",
            "document_version",
            "document_sha256",
            "guardian_name",
            "guardian_relationship",
        ]
        read_only_fields = fields


class ClientIntakeSerializer(serializers.ModelSerializer):
    """Staff's view of one intake: its answers, what it changed, and what awaits a therapist."""

    form_version = serializers.IntegerField(source="form.version")
    appointment_start = serializers.SerializerMethodField()
    proposals = ProposalSerializer(many=True)
    signatures = SignatureSerializer(many=True)
    submitted_at = AwareDateTimeField(allow_null=True)
    on_paper_at = AwareDateTimeField(allow_null=True)
    created_at = AwareDateTimeField()

    class Meta:
        model = IntakeRequest
        fields = [
            "id",
            "appointment",
            "appointment_start",
            "form_version",
            "status",
            "drafts",
            "effects",
            "proposals",
            "signatures",
            "submitted_at",
            "on_paper_reason",
            "on_paper_by",
            "on_paper_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_appointment_start(self, intake: IntakeRequest) -> str | None:
        appointment = intake.appointment
        return utc_iso(appointment.start) if appointment else None


class DecisionSerializer(StrictSerializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OnPaperSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)
