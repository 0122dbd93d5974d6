"""Privacy endpoints (DOMAIN.md 8): legal hold, erasure requests, a client's own export, and the
access log of one client's record. Thin: sessions.records.privacy holds the rules."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.models import Client, ErasureRequest
from practice.auth import PracticeRequest
from practice.errors import NotFound
from practice.models import AuditAction, Role
from practice.permissions import WRITE
from practice.tenancy import (
    OWNER_ONLY,
    READ,
    AccessTable,
    TenantReadOnlyModelViewSet,
    log_access,
    scope,
)
from sessions.api.clinical_views import ClientExportView
from sessions.api.privacy_serializers import (
    AccessLogEntrySerializer,
    ErasureInSerializer,
    ErasureRequestSerializer,
    LegalHoldSerializer,
    LegalHoldStateSerializer,
)
from sessions.records import privacy

CLIENT_SELF: AccessTable = {Role.CLIENT: READ}
CLIENT_SELF_WRITE: AccessTable = {Role.CLIENT: WRITE}


def _client(request, pk: int) -> Client:
    """The caller's practice's client, or 404 (another practice's client does not exist)."""
    client = scope(Client.objects.all(), request).filter(pk=pk).first()
    if client is None:
        raise NotFound()
    return client


def _own_client(request) -> Client:
    client = scope(Client.objects.all(), request).filter(user=request.user).first()
    if client is None:
        raise NotFound("No client record belongs to this account.")
    return client


class LegalHoldView(APIView):
    """`POST clients/{id}/legal-hold/` (owner): set or clear the hold with a reason; audited."""

    access = OWNER_ONLY

    @extend_schema(request=LegalHoldSerializer, responses={200: LegalHoldStateSerializer})
    def post(self, request, pk: int) -> Response:
        client = _client(request, pk)
        incoming = LegalHoldSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        client = privacy.set_legal_hold(
            client=client,
            legal_hold=incoming.validated_data["legal_hold"],
            reason=incoming.validated_data["reason"],
            by=request.user,
        )
        log_access(
            request, AuditAction.UPDATE, "client_legal_hold", [client.pk], client_ids=[client.pk]
        )
        state = {
            "client": client.pk,
            "legal_hold": client.legal_hold,
            "legal_hold_reason": client.legal_hold_reason,
            "retain_until": privacy.client_retain_until(client, request.practice),
        }
        return Response(LegalHoldStateSerializer(state).data)


class _ErasureView(APIView):
    def respond(self, request, client: Client) -> Response:
        incoming = ErasureInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        erasure = privacy.file_erasure_request(
            client=client,
            requested_by=request.user,
            role=request.role,
            reason=incoming.validated_data.get("reason", ""),
        )
        return Response(ErasureRequestSerializer(erasure).data, status=status.HTTP_201_CREATED)


class ClientErasureView(_ErasureView):
    """`POST clients/{id}/erasure/` (owner, on the client's behalf)."""

    access = OWNER_ONLY

    @extend_schema(request=ErasureInSerializer, responses={201: ErasureRequestSerializer})
    def post(self, request, pk: int) -> Response:
        return self.respond(request, _client(request, pk))


class OwnErasureView(_ErasureView):
    """`POST me/erasure-request/` (a client, for their own record). Their login ends with it."""

    access = CLIENT_SELF_WRITE

    @extend_schema(request=ErasureInSerializer, responses={201: ErasureRequestSerializer})
    def post(self, request) -> Response:
        return self.respond(request, _own_client(request))


class ErasureRequestViewSet(TenantReadOnlyModelViewSet):
    """`erasure-requests/` (owner): every request with its due date and answer (DOMAIN.md 8)."""

    queryset = ErasureRequest.objects.all()
    serializer_class = ErasureRequestSerializer
    access = OWNER_ONLY
    filterset_fields = ["outcome"]
    ordering_fields = ["received_at", "id"]


class OwnExportView(ClientExportView):
    """`GET me/export/` (a client): their record as the same FHIR R4 Bundle as
    `clients/{id}/export/` (right of access, DOMAIN.md 8); every export is logged."""

    access = CLIENT_SELF

    @extend_schema(responses={200: dict})
    def get(self, request) -> Response:  # type: ignore[override]
        return super().get(request, pk=_own_client(request).pk)


class ClientAccessLogView(generics.ListAPIView):
    """`GET clients/{id}/access-log/` (owner): reads, writes and exports of one client's
    records by anyone: who (user, role or API key), what (record type and ids), when, from where."""

    request: PracticeRequest
    access = OWNER_ONLY
    serializer_class = AccessLogEntrySerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Any]:
        client = _client(self.request, self.kwargs["pk"])
        return privacy.client_access_log(practice=self.request.practice, client_id=client.pk)
