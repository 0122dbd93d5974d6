"""`therapists/{id}/calendars/`: a therapist's outside calendars (issue 20.4), managed by the owner
or by the therapist for themselves. An `ics` link is an iCalendar URL read by subscription; a
`caldav` link is a CalDAV calendar with a user name and an app password, which is stored encrypted
and never shown; `write_back` (CalDAV only) puts booked appointments into that calendar."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.errors import NotFound
from practice.models import Role, Therapist
from practice.tenancy import CLINICAL, scope
from practice.webhooks import UnsafeURL
from sessions.scheduling import outside_calendars
from sessions.scheduling.models import CalendarKind, CalendarLink


class CalendarLinkSerializer(serializers.ModelSerializer):
    has_password = serializers.SerializerMethodField()
    last_synced_at = AwareDateTimeField(read_only=True, allow_null=True)
    next_sync_at = AwareDateTimeField(read_only=True)
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = CalendarLink
        fields = [
            "id",
            "therapist",
            "kind",
            "name",
            "url",
            "username",
            "has_password",
            "write_back",
            "last_synced_at",
            "last_error",
            "failures",
            "next_sync_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_password(self, link: CalendarLink) -> bool:
        return bool(link.password_encrypted)


class CalendarLinkUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    url = serializers.URLField(max_length=1000, required=False)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True)
    password = serializers.CharField(
        max_length=500, required=False, write_only=True, trim_whitespace=False
    )
    write_back = serializers.BooleanField(required=False)

    def validate_url(self, url: str) -> str:
        try:
            outside_calendars.check_calendar_url(url)
        except UnsafeURL as error:
            raise serializers.ValidationError(str(error), code="unsafe_url") from None
        return url

    def check_kind(self, kind: str, url: str | None) -> None:
        """CalDAV fields on an `ics` link are a 400, not silently dropped; a CalDAV password
        travels with every request, so only over https (unless private hosts are allowed, as
        on a developer's machine)."""
        plain = url is not None and url.lower().startswith("http:")
        if kind == CalendarKind.CALDAV and plain and not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
            raise serializers.ValidationError(
                {"url": ["A caldav link must use https."]}, code="unsafe_url"
            )
        if kind == CalendarKind.ICS:
            extra = [f for f in ("username", "password", "write_back") if self.initial_data.get(f)]
            if extra:
                raise serializers.ValidationError(
                    {f: ["Only a caldav link has this."] for f in extra}
                )


class CalendarLinkCreateSerializer(CalendarLinkUpdateSerializer):
    kind = serializers.ChoiceField(choices=CalendarKind.choices)
    url = serializers.URLField(max_length=1000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.check_kind(attrs["kind"], attrs["url"])
        if attrs["kind"] == CalendarKind.CALDAV:
            missing = [f for f in ("username", "password") if not attrs.get(f)]
            if missing:
                raise serializers.ValidationError(
                    {f: ["A caldav link needs this."] for f in missing}
                )
        return attrs


class TherapistCalendarsView(APIView):
    """`GET` a therapist's links; `POST` links one (its first sync is due at once)."""

    access = CLINICAL  # the owner; a therapist for themselves only (`therapist` below)

    def therapist(self, request, pk: int) -> Therapist:
        therapist = scope(Therapist.objects.all(), request).filter(pk=pk).first()
        if therapist is None or (
            request.role == Role.THERAPIST and therapist.user_id != request.user.pk
        ):
            raise NotFound()
        return therapist

    @extend_schema(responses={200: CalendarLinkSerializer(many=True)})
    def get(self, request, pk: int) -> Response:
        therapist = self.therapist(request, pk)
        links = CalendarLink.objects.filter(therapist=therapist)
        return Response(CalendarLinkSerializer(links, many=True).data)

    @extend_schema(request=CalendarLinkCreateSerializer, responses={201: CalendarLinkSerializer})
    def post(self, request, pk: int) -> Response:
        therapist = self.therapist(request, pk)
        incoming = CalendarLinkCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        link = outside_calendars.create_link(therapist=therapist, **incoming.validated_data)
        return Response(CalendarLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class TherapistCalendarView(TherapistCalendarsView):
    """One link: `GET`, `PATCH` (name, url, credentials, write_back), `DELETE` (its busy blocks
    go with it)."""

    http_method_names = ["get", "patch", "delete", "head", "options"]

    def link(self, request, pk: int, cid: int) -> CalendarLink:
        link = CalendarLink.objects.filter(therapist=self.therapist(request, pk), pk=cid).first()
        if link is None:
            raise NotFound()
        return link

    @extend_schema(responses={200: CalendarLinkSerializer})
    def get(self, request, pk: int, cid: int) -> Response:  # type: ignore[override]
        return Response(CalendarLinkSerializer(self.link(request, pk, cid)).data)

    @extend_schema(request=CalendarLinkUpdateSerializer, responses={200: CalendarLinkSerializer})
    def patch(self, request, pk: int, cid: int) -> Response:
        link = self.link(request, pk, cid)
        incoming = CalendarLinkUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        incoming.check_kind(link.kind, incoming.validated_data.get("url"))
        fields = dict(incoming.validated_data)
        password = fields.pop("password", None)
        link = outside_calendars.update_link(link=link, fields=fields, password=password)
        return Response(CalendarLinkSerializer(link).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, cid: int) -> Response:
        outside_calendars.delete_link(link=self.link(request, pk, cid))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TherapistCalendarSyncView(TherapistCalendarView):
    """`POST .../sync/`: sync this link now, whatever its backoff (202; the result shows on the
    link as `last_synced_at` / `last_error`)."""

    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses={202: CalendarLinkSerializer})
    def post(self, request, pk: int, cid: int) -> Response:  # type: ignore[override]
        link = outside_calendars.request_sync(link=self.link(request, pk, cid))
        return Response(CalendarLinkSerializer(link).data, status=status.HTTP_202_ACCEPTED)
