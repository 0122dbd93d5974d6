"""The technique catalog: every member reads it; clinicians add techniques; only the owner changes
the contraindication matrix (techniques.services)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from practice.models import AuditAction, Role
from practice.tenancy import CLINICAL, OWNER_ONLY, READ, TenantModelViewSet, log_access
from practice.throttling import caller_ip
from techniques import services
from techniques.api.serializers import (
    ContraindicationChangeSerializer,
    TechniqueSerializer,
    TechniqueUpdateSerializer,
)
from techniques.models import Technique


class TechniqueViewSet(TenantModelViewSet):
    queryset = Technique.objects.prefetch_related("contraindications")
    serializer_class = TechniqueSerializer
    access = {**CLINICAL, Role.FRONT_DESK: READ, Role.CLIENT: READ}
    filterset_fields = ["code", "is_builtin"]
    ordering_fields = ["id", "code", "name"]
    # Deleting takes a column of the matrix with it: the owner's, like the matrix.
    action_access = {"contraindication_changes": OWNER_ONLY, "destroy": OWNER_ONLY}

    def _answer(self, technique: Technique, status_code: int) -> Response:
        fresh = self.get_queryset().get(pk=technique.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    @extend_schema(request=TechniqueSerializer, responses={201: TechniqueSerializer})
    def create(self, request, *args, **kwargs) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        technique = services.create_technique(
            practice=request.practice,
            by=request.user,
            role=request.role,
            ip=caller_ip(request),
            **incoming.service_kwargs(),  # type: ignore[attr-defined]  # TechniqueSerializer
        )
        return self._answer(technique, status.HTTP_201_CREATED)

    @extend_schema(request=TechniqueUpdateSerializer, responses={200: TechniqueSerializer})
    def partial_update(self, request, *args, **kwargs) -> Response:
        technique = self.get_object()
        incoming = TechniqueUpdateSerializer(
            technique, data=request.data, partial=True, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        technique = services.update_technique(
            technique=technique,
            by=request.user,
            role=request.role,
            ip=caller_ip(request),
            **incoming.service_kwargs(),  # type: ignore[attr-defined]  # TechniqueSerializer
        )
        return self._answer(technique, status.HTTP_200_OK)

    def perform_destroy(self, instance) -> None:
        pk = instance.pk
        with transaction.atomic():
            services.delete_technique(technique=instance, role=self.request.role or "")
            log_access(self.request, AuditAction.DELETE, "technique", [pk])

    @extend_schema(responses={200: ContraindicationChangeSerializer(many=True)})
    @action(
        detail=True,
        methods=["get"],
        url_path="contraindication-changes",
        pagination_class=None,
        filter_backends=[],
    )
    def contraindication_changes(self, request, pk=None) -> Response:
        """The owner reads each change of this technique's matrix column, with before/after."""
        technique = self.get_object()
        changes = technique.contraindication_changes.all()
        return Response(ContraindicationChangeSerializer(changes, many=True).data)
