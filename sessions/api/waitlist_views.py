"""`waitlist/` (clients for themselves, staff for a client) and the public claim link."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clients.models import Client
from practice.api.base import AwareDateTimeField, BoundedDateField, StrictSerializer
from practice.models import Role, Service, Therapist
from practice.tenancy import STAFF_WRITE, WRITE, ScopedPrimaryKeyRelatedField, TenantViewSet
from sessions.api.serializers import AppointmentSerializer
from sessions.api.views import PublicView
from sessions.scheduling import waitlist
from sessions.scheduling.models import WaitlistEntry
from sessions.scheduling.selectors import appointments_with_parties


class WaitlistEntrySerializer(serializers.ModelSerializer):
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "client",
            "service",
            "therapist",
            "first_day",
            "last_day",
            "earliest",
            "latest",
            "status",
            "appointment",
            "created_at",
        ]
        read_only_fields = fields


class WaitlistWriteSerializer(StrictSerializer):
    client = ScopedPrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    service = ScopedPrimaryKeyRelatedField(queryset=Service.objects.filter(active=True))
    therapist = ScopedPrimaryKeyRelatedField(
        queryset=Therapist.objects.all(), required=False, allow_null=True
    )
    first_day = BoundedDateField()
    last_day = BoundedDateField()
    earliest = serializers.TimeField(required=False, allow_null=True)
    latest = serializers.TimeField(required=False, allow_null=True)

    def validate(self, attrs) -> dict[str, Any]:
        if attrs["last_day"] < attrs["first_day"]:
            raise serializers.ValidationError({"last_day": "Must not be before first_day."})
        if (attrs["last_day"] - attrs["first_day"]).days > 90:
            raise serializers.ValidationError({"last_day": "A window covers at most 90 days."})
        if attrs["last_day"] < timezone.localdate():
            raise serializers.ValidationError({"last_day": "This window has already passed."})
        if attrs.get("earliest") and attrs.get("latest") and attrs["latest"] <= attrs["earliest"]:
            raise serializers.ValidationError({"latest": "Must be after earliest."})
        return attrs


class WaitlistViewSet(TenantViewSet):
    queryset = WaitlistEntry.objects.all()
    serializer_class = WaitlistEntrySerializer
    access = {**STAFF_WRITE, Role.CLIENT: WRITE}
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["client", "service", "status"]
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=WaitlistWriteSerializer, responses={201: WaitlistEntrySerializer})
    def create(self, request) -> Response:
        incoming = WaitlistWriteSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        client = data.pop("client", None)
        if request.role == Role.CLIENT:
            client = Client.objects.filter(user=request.user).first()
        entry = waitlist.join_waitlist(practice=request.practice, client=client, fields=data)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: WaitlistEntrySerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None) -> Response:
        entry = waitlist.cancel_entry(entry=self.get_object())
        return Response(WaitlistEntrySerializer(entry).data)


class WaitlistOfferSerializer(serializers.Serializer):
    service = serializers.CharField()
    therapist = serializers.CharField()
    start = AwareDateTimeField()
    expires_at = AwareDateTimeField()
    claimed = serializers.BooleanField()


class WaitlistClaimView(PublicView):
    """`public/waitlist-offers/{token}/claim/`: GET shows the offer, POST claims it."""

    @extend_schema(responses={200: WaitlistOfferSerializer})
    def get(self, request, token) -> Response:
        offer = waitlist.offer_for_token(token)
        return Response(
            WaitlistOfferSerializer(
                {
                    "service": offer.entry.service.name,
                    "therapist": offer.therapist.user.first_name,
                    "start": offer.start,
                    "expires_at": offer.expires_at,
                    "claimed": offer.claimed_at is not None,
                }
            ).data
        )

    @extend_schema(request=None, responses={201: AppointmentSerializer})
    def post(self, request, token) -> Response:
        appointment = waitlist.claim_offer(token=token)
        fresh = appointments_with_parties().get(pk=appointment.pk)
        return Response(AppointmentSerializer(fresh).data, status=status.HTTP_201_CREATED)
