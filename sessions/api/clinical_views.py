"""Views of the clinical record: session plans, SOAP notes and amendments, FHIR export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client
from practice.errors import NotFound
from practice.filters import PracticeFilterSet
from practice.models import AuditAction, Role
from practice.tenancy import (
    CLINICAL,
    CLINICAL_CLIENT_READS,
    RowsListViewSet,
    TenantViewSet,
    log_access,
    scope,
)
from practice.throttling import caller_ip
from sessions.api.clinical_serializers import (
    AmendmentInSerializer,
    AmendmentSerializer,
    NoteSerializer,
    NoteWriteSerializer,
    SessionPlanSerializer,
    SessionPlanWriteSerializer,
)
from sessions.records import clinical, fhir
from sessions.records.models import IntakeStatus, Note, PlanItem, SessionPlan
from sessions.records.selectors import NOTE_ROW_FIELDS, with_note_history


class ClinicalViewSet(TenantViewSet):
    access = CLINICAL_CLIENT_READS
    http_method_names = ["get", "post", "patch", "head", "options"]

    def ip(self) -> str | None:
        return caller_ip(self.request)

    def output(self, instance, status_code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)


class SessionPlanFilter(PracticeFilterSet):
    template = django_filters.BooleanFilter(field_name="appointment", lookup_expr="isnull")

    class Meta:
        model = SessionPlan
        fields = ["appointment", "complaint", "client"]


class SessionPlanViewSet(ClinicalViewSet):
    """Plans for appointments, and templates (`?template=true`)."""

    queryset = SessionPlan.objects.prefetch_related(
        Prefetch("items", queryset=PlanItem.objects.select_related("technique"))
    )
    serializer_class = SessionPlanSerializer
    audit_as = "session_plan"
    filterset_class = SessionPlanFilter
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=SessionPlanWriteSerializer, responses={201: SessionPlanSerializer})
    def create(self, request) -> Response:
        incoming = SessionPlanWriteSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        plan = clinical.save_plan(
            practice=request.practice, by=request.user, ip=self.ip(), **incoming.validated_data
        )
        self.audit(AuditAction.CREATE, [plan])
        return self.output(plan, status.HTTP_201_CREATED)

    @extend_schema(request=SessionPlanWriteSerializer, responses={200: SessionPlanSerializer})
    def partial_update(self, request, pk=None) -> Response:
        plan = self.get_object()
        incoming = SessionPlanWriteSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        plan = clinical.save_plan(
            practice=request.practice,
            by=request.user,
            ip=self.ip(),
            plan=plan,
            **incoming.validated_data,
        )
        self.audit(AuditAction.UPDATE, [plan])
        return self.output(plan)


class NoteFilter(PracticeFilterSet):
    unsigned = django_filters.BooleanFilter(
        method="filter_unsigned", label="Unsigned for more than 48 hours"
    )

    class Meta:
        model = Note
        fields = ["client", "appointment", "complaint", "author"]

    def filter_unsigned(self, queryset, name, value) -> QuerySet[Any]:
        stale = timezone.now() - timedelta(hours=48)
        if value:
            return queryset.filter(signed_at__isnull=True, created_at__lt=stale)
        return queryset


class NoteViewSet(RowsListViewSet, ClinicalViewSet):
    """SOAP notes: the author edits until signing; afterwards, amendments (DOMAIN.md 4)."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    audit_as = "note"
    filterset_class = NoteFilter
    ordering_fields = ["created_at", "signed_at", "id"]
    action_access = {"amendments": CLINICAL}
    list_row_fields = NOTE_ROW_FIELDS

    def with_page_rows(self, rows: list[dict]) -> list[dict]:
        return with_note_history(rows)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.request.role == Role.CLIENT:
            queryset = queryset.filter(shared_with_client=True, signed_at__isnull=False)
        return queryset

    @extend_schema(request=NoteWriteSerializer, responses={201: NoteSerializer})
    def create(self, request) -> Response:
        incoming = NoteWriteSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        note = clinical.create_note(
            practice=request.practice, author=request.user, **incoming.validated_data
        )
        self.audit(AuditAction.CREATE, [note])
        return self.output(note, status.HTTP_201_CREATED)

    @extend_schema(request=NoteWriteSerializer, responses={200: NoteSerializer})
    def partial_update(self, request, pk=None) -> Response:
        note = self.get_object()
        incoming = NoteWriteSerializer(
            note, data=request.data, partial=True, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        note = clinical.update_note(note=note, by=request.user, **incoming.validated_data)
        self.audit(AuditAction.UPDATE, [note])
        return self.output(note)

    @extend_schema(request=None, responses={200: NoteSerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None) -> Response:
        note = clinical.sign_note(note=self.get_object(), by=request.user)
        self.audit(AuditAction.UPDATE, [note])
        return self.output(note)

    @extend_schema(
        request=AmendmentInSerializer,
        responses={201: AmendmentSerializer, 200: AmendmentSerializer(many=True)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def amendments(self, request, pk=None) -> Response:
        note = self.get_object()
        if request.method == "GET":
            return Response(AmendmentSerializer(note.amendments.all(), many=True).data)
        incoming = AmendmentInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        amendment = clinical.amend_note(note=note, by=request.user, **incoming.validated_data)
        self.audit(AuditAction.UPDATE, [note])
        return Response(AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED)


class ClientExportView(APIView):
    """`clients/{id}/export/`: the client's whole record as FHIR R4; every export is logged."""

    access = CLINICAL_CLIENT_READS

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int) -> Response:
        client = scope(Client.objects.all(), request).filter(pk=pk).first()
        if client is None:
            raise NotFound()
        notes = client.notes.select_related("author").prefetch_related(
            "amendments__author", "delivered_items__technique"
        )
        if request.role == Role.CLIENT:  # the notes they may read (NoteViewSet.get_queryset)
            notes = notes.filter(shared_with_client=True, signed_at__isnull=False)
        document = fhir.bundle(
            client=client,
            complaints=client.complaints.prefetch_related("red_flag_answers", "clearances"),
            appointments=client.appointments.select_related("service", "therapist__user"),
            notes=notes,
            outcomes=client.outcomes.all(),
            consents=client.consents.select_related("signature"),
            follow_up_answers=client.follow_up_answers.all(),
            clearances=client.clearances.all(),
            intakes=client.intake_requests.filter(status=IntakeStatus.SUBMITTED).select_related(
                "form"
            ),
            today=timezone.localdate(timezone=request.practice.tz),
        )
        log_access(request, AuditAction.EXPORT, "client", [client.pk])
        return Response(document)
