"""The technique catalog: every member reads it; clinicians add techniques and adjust the matrix."""

from __future__ import annotations

from practice.errors import Invalid
from practice.models import Role
from practice.tenancy import CLINICAL, READ, ModelViewSet
from techniques.api.serializers import TechniqueSerializer
from techniques.models import Technique


class TechniqueViewSet(ModelViewSet):
    queryset = Technique.objects.prefetch_related("contraindications")
    serializer_class = TechniqueSerializer
    access = {**CLINICAL, Role.FRONT_DESK: READ, Role.CLIENT: READ}
    filterset_fields = ["code", "is_builtin"]
    ordering_fields = ["id", "code", "name"]

    def perform_destroy(self, instance):
        if instance.is_builtin:
            raise Invalid("Built-in techniques cannot be deleted; adjust them instead.")
        super().perform_destroy(instance)
