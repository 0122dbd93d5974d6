"""Views of the clients app: scoped, role-checked, thin over clients.services."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clients import services
from clients.api.serializers import (
    ClearSerializer,
    ClientSerializer,
    ComplaintSerializer,
    ConsentSerializer,
    OutcomeSerializer,
    OutcomeWriteSerializer,
    ProgressSerializer,
)
from clients.charts import chart_title, progress_svg
from clients.models import Client, Complaint, Consent, Outcome
from clients.selectors import (
    COMPLAINT_ROW_FIELDS,
    OUTCOME_ROW_FIELDS,
    complaint_progress,
    with_complaint_history,
)
from practice.models import API_KEY_ROLE, AuditAction, Role, User
from practice.tenancy import (
    CLINICAL,
    CLINICAL_CLIENT_READS,
    WRITE,
    RowsListViewSet,
    TenantModelViewSet,
    TenantViewSet,
    log_access,
)


class ClientViewSet(TenantViewSet, mixins.CreateModelMixin, mixins.UpdateModelMixin):
    """Client records. Not deletable: clinical records follow a retention clock (DOMAIN.md 4)."""

    queryset = Client.objects.all()
    serializer_class = ClientSerializer
    access = {
        Role.OWNER: WRITE,
        Role.THERAPIST: WRITE,
        Role.FRONT_DESK: WRITE,
        Role.CLIENT: WRITE,
        API_KEY_ROLE: WRITE,  # contact details only (ClientSerializer.hidden_fields)
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    audit_as = "client"
    filterset_fields = {
        "email": ["exact", "iexact"],
        "last_name": ["exact", "istartswith"],
        "phone": ["exact"],
    }
    ordering_fields = ["last_name", "first_name", "created_at", "id"]
    search_fields = ["first_name", "last_name", "email"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action == "list":  # rows, not models: the busiest read skips model building
            # Restricted records (kept after an erasure request, DOMAIN.md 8) leave the default
            # list; `?restricted=true` lists them instead, for whoever may read them.
            restricted = self.request.query_params.get("restricted") in ("true", "1")
            queryset = queryset.filter(restricted_at__isnull=not restricted)
            queryset = queryset.values(*ClientSerializer.ROW_FIELDS)
        return queryset

    def may_change(self, request, client) -> bool:
        """A restricted record is kept for the record duties only: no edits (DOMAIN.md 8)."""
        return client.restricted_at is None

    def create(self, request, *args, **kwargs) -> Response:
        if request.role == Role.CLIENT:
            self.permission_denied(request, "Clients sign up through auth/register/.")
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def perform_create(self, serializer):
        serializer.instance = services.create_client(
            practice=self.request.practice, fields=dict(serializer.validated_data)
        )
        self.audit(AuditAction.CREATE, [serializer.instance])

    @transaction.atomic
    def perform_update(self, serializer):
        by = self.request.user if isinstance(self.request.user, User) else None
        serializer.instance, revoked = services.update_client(
            client=serializer.instance, fields=dict(serializer.validated_data), by=by
        )
        self.audit(AuditAction.UPDATE, [serializer.instance])
        log_access(
            self.request,
            AuditAction.UPDATE,
            "medical_clearance",
            [c.pk for c in revoked],
            client_ids=[serializer.instance.pk],
        )


class ConsentViewSet(TenantViewSet, mixins.CreateModelMixin):
    """Consent records (DOMAIN.md 4): created by clinicians, withdrawn by them or the client."""

    queryset = Consent.objects.all()
    serializer_class = ConsentSerializer
    access = CLINICAL_CLIENT_READS
    action_access = {"withdraw": {**CLINICAL, Role.CLIENT: WRITE}}
    audit_as = "consent"
    filterset_fields = ["client", "kind"]
    ordering_fields = ["signed_at", "id"]

    @transaction.atomic
    def perform_create(self, serializer) -> None:
        serializer.instance = services.record_consent(
            practice=self.request.practice,
            witnessed_by=self.request.user,  # type: ignore[arg-type]  # staff only (access)
            fields=dict(serializer.validated_data),
        )
        self.audit(AuditAction.CREATE, [serializer.instance])

    @extend_schema(request=None, responses={200: ConsentSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None) -> Response:
        consent = services.withdraw_consent(consent=self.get_object())
        self.audit(AuditAction.UPDATE, [consent])
        return Response(self.get_serializer(consent).data)


class ComplaintViewSet(RowsListViewSet, TenantModelViewSet):
    """Back-pain complaints with red-flag screening; never visible to front desk."""

    queryset = Complaint.objects.all()
    serializer_class = ComplaintSerializer
    access = CLINICAL_CLIENT_READS
    http_method_names = ["get", "post", "patch", "head", "options"]
    audit_as = "complaint"
    filterset_fields = ["client", "status", "mechanism"]
    list_row_fields = COMPLAINT_ROW_FIELDS
    ordering_fields = ["created_at", "onset_date", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action == "progress_svg":  # the chart names the client by initials
            queryset = queryset.select_related("client")
        return queryset

    def with_page_rows(self, rows: list[dict]) -> list[dict]:
        return with_complaint_history(rows)

    @transaction.atomic
    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        complaint = services.create_complaint(
            practice=self.request.practice,
            created_by=self.request.user,  # type: ignore[arg-type]  # a member: authenticated
            **data,
        )
        serializer.instance = self.get_queryset().get(pk=complaint.pk)
        self.audit(AuditAction.CREATE, [complaint])

    @transaction.atomic
    def perform_update(self, serializer) -> None:
        complaint = services.update_complaint(
            complaint=serializer.instance,
            updated_by=self.request.user,  # type: ignore[arg-type]  # a member: authenticated
            **serializer.validated_data,
        )
        serializer.instance = self.get_queryset().get(pk=complaint.pk)
        self.audit(AuditAction.UPDATE, [complaint])

    @extend_schema(responses={200: ProgressSerializer})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def progress(self, request, pk=None) -> Response:
        """Per instrument: series, baseline, latest and the change rules of DOMAIN.md 3."""
        complaint = self.get_object()
        progress = complaint_progress(complaint, request.practice)
        return Response(ProgressSerializer({"instruments": progress}).data)

    @extend_schema(responses={(200, "image/svg+xml"): str})
    def progress_svg(self, request, pk=None) -> HttpResponse:
        """`complaints/{id}/progress.svg` (routed in config/urls.py: no trailing slash)."""
        complaint = self.get_object()
        progress = complaint_progress(complaint, request.practice)
        title = chart_title(
            first_name=complaint.client.first_name,
            last_name=complaint.client.last_name,
            regions=complaint.regions,
        )
        svg = progress_svg(progress, title)
        return HttpResponse(svg, content_type="image/svg+xml")

    @extend_schema(request=ClearSerializer, responses={200: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None) -> Response:
        """A clinician records the referral outcome, lifting `referral_required`."""
        incoming = ClearSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        complaint = services.clear_complaint(
            complaint=self.get_object(),
            note=incoming.validated_data["note"],
            cleared_by=request.user,
        )
        self.audit(AuditAction.UPDATE, [complaint])
        return Response(self.get_serializer(self.get_queryset().get(pk=complaint.pk)).data)

    @extend_schema(request=None, responses={200: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None) -> Response:
        """`active` -> `resolved` (409 `invalid_transition` otherwise: clear a referral first)."""
        complaint = services.resolve_complaint(complaint=self.get_object())
        self.audit(AuditAction.UPDATE, [complaint])
        return Response(self.get_serializer(self.get_queryset().get(pk=complaint.pk)).data)

    @extend_schema(request=None, responses={200: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None) -> Response:
        """`resolved` -> `active`: the complaint recurs."""
        complaint = services.reopen_complaint(complaint=self.get_object())
        self.audit(AuditAction.UPDATE, [complaint])
        return Response(self.get_serializer(self.get_queryset().get(pk=complaint.pk)).data)


class OutcomeViewSet(RowsListViewSet, TenantViewSet):
    """Outcome measures scored by the server (DOMAIN.md 3); a client submits their own answers."""

    queryset = Outcome.objects.all()
    list_row_fields = OUTCOME_ROW_FIELDS
    serializer_class = OutcomeSerializer
    access = {**CLINICAL, Role.CLIENT: WRITE}
    http_method_names = ["get", "post", "head", "options"]
    audit_as = "outcome"
    filterset_fields = ["client", "complaint", "instrument", "context"]
    ordering_fields = ["measured_at", "recorded_at", "id"]

    @extend_schema(request=OutcomeWriteSerializer, responses={201: OutcomeSerializer})
    def create(self, request) -> Response:
        incoming = OutcomeWriteSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        complaint = data["complaint"]
        client = data.pop("client", None) or complaint.client
        outcome = services.record_outcome(
            practice=request.practice, client=client, recorded_by=request.user, **data
        )
        self.audit(AuditAction.CREATE, [outcome])
        return Response(self.get_serializer(outcome).data, status=status.HTTP_201_CREATED)
