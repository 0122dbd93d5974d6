"""Views of what a clinic's week is made of (issue 20): rooms and a therapist's date overrides.

Thin, as everywhere: a scoped lookup, a serializer for the shape, one service for the write.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from practice import services
from practice.api.base import BoundedDateField, StrictSerializer
from practice.api.serializers import DateOverrideSerializer, RoomSerializer
from practice.models import API_KEY_ROLE, DateOverride, Role, Room, Therapist
from practice.tenancy import READ, WRITE, TenantModelViewSet, scope

# Rooms: the owner sets them up; staff and integrations see them (a booking names its room).
ROOMS_ACCESS: dict[str, str] = {
    API_KEY_ROLE: READ,
    Role.OWNER: WRITE,
    Role.THERAPIST: READ,
    Role.FRONT_DESK: READ,
}

# A therapist's date overrides: the owner and the therapist write (their own, `_therapist`);
# the front desk and integrations read them, as they read the diary.
OVERRIDES_ACCESS: dict[str, str] = {
    API_KEY_ROLE: READ,
    Role.OWNER: WRITE,
    Role.THERAPIST: WRITE,
    Role.FRONT_DESK: READ,
}


MAX_LISTED = 500  # a year and more of overrides; the list is not paged


class RoomViewSet(TenantModelViewSet):
    """`rooms/` (issue 20.1): DELETE retires a room (bookings keep pointing at it)."""

    queryset = Room.objects.all()
    serializer_class = RoomSerializer
    access = ROOMS_ACCESS
    filterset_fields = ["active"]
    ordering_fields = ["name", "id"]

    def perform_create(self, serializer) -> None:
        serializer.instance = services.create_room(
            practice=self.request.practice, fields=dict(serializer.validated_data)
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.update_room(
            room=serializer.instance, fields=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance) -> None:
        services.retire_room(room=instance)


class DateOverridesQuerySerializer(StrictSerializer):
    since = BoundedDateField(required=False, help_text="From this date (default: today).")
    until = BoundedDateField(required=False, help_text="Up to this date (default: no end).")


def _therapist(request, pk: int, *, writing: bool) -> Therapist:
    """The therapist in the caller's practice (404 otherwise); a therapist changes only their
    own date overrides (403)."""
    therapist = scope(Therapist.objects.all(), request).filter(pk=pk).first()
    if therapist is None:
        raise NotFound()
    if writing and request.role == Role.THERAPIST and therapist.user_id != request.user.pk:
        raise PermissionDenied("Therapists change their own date overrides.")
    return therapist


class DateOverridesView(APIView):
    """`therapists/{id}/date-overrides/` (issue 20.3): a date's hours replacing its weekly hours,
    in the practice's local time; no hours is a day off."""

    access = OVERRIDES_ACCESS

    @extend_schema(
        parameters=[DateOverridesQuerySerializer],
        responses={200: DateOverrideSerializer(many=True)},
    )
    def get(self, request, pk: int) -> Response:
        therapist = _therapist(request, pk, writing=False)
        query = DateOverridesQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        since = query.validated_data.get("since") or timezone.localdate(
            timezone=request.practice.tz
        )
        rows = DateOverride.objects.filter(therapist=therapist, date__gte=since)
        if "until" in query.validated_data:
            rows = rows.filter(date__lte=query.validated_data["until"])
        return Response(DateOverrideSerializer(rows[:MAX_LISTED], many=True).data)

    @extend_schema(request=DateOverrideSerializer, responses={201: DateOverrideSerializer})
    def post(self, request, pk: int) -> Response:
        therapist = _therapist(request, pk, writing=True)
        incoming = DateOverrideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        override = services.add_date_override(therapist=therapist, **incoming.validated_data)
        return Response(DateOverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class DateOverrideView(APIView):
    """`therapists/{id}/date-overrides/{override_id}/`: DELETE gives the date back to the week."""

    access = OVERRIDES_ACCESS

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int, override_id: int) -> Response:
        therapist = _therapist(request, pk, writing=True)
        override = DateOverride.objects.filter(therapist=therapist, pk=override_id).first()
        if override is None:
            raise NotFound()
        services.remove_date_override(override=override)
        return Response(status=status.HTTP_204_NO_CONTENT)
