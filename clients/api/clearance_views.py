"""`clients/{id}/clearances/`: medical clearances of one client, listed and recorded by clinicians;
every read and write is in the access log."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from clients import services
from clients.api.clearance_serializers import (
    MedicalClearanceInSerializer,
    MedicalClearanceSerializer,
    RevokeClearanceSerializer,
)
from clients.models import Client
from practice.errors import NotFound
from practice.models import AuditAction
from practice.tenancy import CLINICAL, log_access, scope


class ClientClearancesView(APIView):
    access = CLINICAL

    def client(self, request, pk: int) -> Client:
        client = scope(Client.objects.all(), request).filter(pk=pk).first()
        if client is None:
            raise NotFound()
        return client

    def context(self, request) -> dict:
        return {"today": timezone.localdate(timezone=request.practice.tz)}

    @extend_schema(responses={200: MedicalClearanceSerializer(many=True)})
    def get(self, request, pk: int) -> Response:
        client = self.client(request, pk)
        clearances = list(client.clearances.all())
        log_access(
            request,
            AuditAction.READ,
            "medical_clearance",
            [c.pk for c in clearances],
            client_ids=[client.pk],
        )
        return Response(
            MedicalClearanceSerializer(clearances, many=True, context=self.context(request)).data
        )

    @extend_schema(
        request=MedicalClearanceInSerializer, responses={201: MedicalClearanceSerializer}
    )
    def post(self, request, pk: int) -> Response:
        client = self.client(request, pk)
        incoming = MedicalClearanceInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with transaction.atomic():
            clearance = services.record_medical_clearance(
                practice=request.practice,
                client=client,
                recorded_by=request.user,
                **incoming.validated_data,
            )
            log_access(
                request,
                AuditAction.CREATE,
                "medical_clearance",
                [clearance.pk],
                client_ids=[client.pk],
            )
        return Response(
            MedicalClearanceSerializer(clearance, context=self.context(request)).data,
            status=status.HTTP_201_CREATED,
        )


class ClientClearanceRevokeView(ClientClearancesView):
    """`POST clients/{id}/clearances/{cid}/revoke/`: a clinician withdraws a clearance, with a
    reason; kept as history and no longer current."""

    http_method_names = ["post", "options"]

    @extend_schema(request=RevokeClearanceSerializer, responses={200: MedicalClearanceSerializer})
    def post(self, request, pk: int, cid: int):  # type: ignore[override]
        client = self.client(request, pk)
        clearance = client.clearances.filter(pk=cid).first()
        if clearance is None:
            raise NotFound()
        incoming = RevokeClearanceSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with transaction.atomic():
            clearance = services.revoke_medical_clearance(
                clearance=clearance, by=request.user, reason=incoming.validated_data["reason"]
            )
            log_access(
                request,
                AuditAction.UPDATE,
                "medical_clearance",
                [clearance.pk],
                client_ids=[client.pk],
            )
        return Response(MedicalClearanceSerializer(clearance, context=self.context(request)).data)
