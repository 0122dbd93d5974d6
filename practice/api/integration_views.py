"""API keys and webhook subscriptions (API.md "Integrations", "Webhooks"): owner only; secrets
are shown once, in the answer to the POST that creates them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from practice import services, webhooks
from practice.api.base import AwareDateTimeField, StrictSerializer
from practice.models import (
    API_KEY_ROLE,
    SCHEDULING_TOMBSTONE_TYPES,
    TOMBSTONE_TYPES,
    WEBHOOK_EVENTS,
    ApiKey,
    Role,
    Tombstone,
    WebhookDelivery,
    WebhookSubscription,
)
from practice.tenancy import OWNER_ONLY, READ, PracticeScopedViewSet, TenantViewSet


class ApiKeySerializer(serializers.ModelSerializer):
    created_at = AwareDateTimeField(read_only=True)
    last_used_at = AwareDateTimeField(read_only=True, allow_null=True)
    revoked_at = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class NameSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class ApiKeyViewSet(TenantViewSet, mixins.DestroyModelMixin):
    """`DELETE` revokes a key at once; the row stays for the record."""

    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    access = OWNER_ONLY
    http_method_names = ["get", "post", "delete", "head", "options"]

    @extend_schema(request=NameSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request) -> Response:
        incoming = NameSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        key, secret = services.create_api_key(
            practice=request.practice,
            name=incoming.validated_data["name"],
            created_by=request.user,
        )
        key.key = secret  # type: ignore[attr-defined]  # shown this once
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance) -> None:
        services.revoke_api_key(key=instance)


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), min_length=1, max_length=10
    )
    paused = serializers.SerializerMethodField()
    created_at = AwareDateTimeField(read_only=True)
    paused_at = AwareDateTimeField(read_only=True, allow_null=True)
    failing_since = AwareDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "active",
            "paused",
            "paused_at",
            "failing_since",
            "created_at",
        ]
        read_only_fields = fields

    def get_paused(self, subscription) -> bool:
        return subscription.paused_at is not None


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookWriteSerializer(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), min_length=1, max_length=10
    )
    active = serializers.BooleanField(required=False)
    paused = serializers.BooleanField(required=False)

    def validate_url(self, url) -> Any:
        try:
            webhooks.check_url(url)
        except webhooks.UnsafeURL as error:
            raise serializers.ValidationError(str(error), code="unsafe_url") from None
        return url

    def validate_events(self, events) -> Any:
        return sorted(set(events))


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(source="event.pk")
    type = serializers.CharField(source="event.type")
    created_at = AwareDateTimeField()
    last_attempt_at = AwareDateTimeField()
    next_attempt_at = AwareDateTimeField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "response_snippet",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
        ]
        read_only_fields = fields


class WebhookViewSet(TenantViewSet, mixins.DestroyModelMixin):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSerializer
    access = OWNER_ONLY
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance):
        webhooks.delete_subscription(subscription=instance)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request) -> Response:
        incoming = WebhookWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        subscription, secret = webhooks.create_subscription(
            practice=request.practice,
            url=data["url"],
            events=data["events"],
            active=data.get("active", True),
        )
        subscription.secret = secret  # type: ignore[attr-defined]  # shown this once
        return Response(WebhookCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookWriteSerializer, responses={200: WebhookSerializer})
    def partial_update(self, request, pk=None) -> Response:
        subscription = self.get_object()
        incoming = WebhookWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        paused = data.pop("paused", None)
        subscription = webhooks.update_subscription(
            subscription=subscription, fields=data, paused=paused
        )
        return Response(WebhookSerializer(subscription).data)

    @extend_schema(responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None) -> Response:
        subscription = self.get_object()
        page = self.paginate_queryset(
            WebhookDelivery.objects.filter(subscription=subscription).select_related("event")
        )
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>\d+)/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None) -> Response:
        """Send a delivery again now (a new attempt, same event id for de-duplication)."""
        subscription = self.get_object()
        delivery = get_object_or_404(WebhookDelivery, pk=delivery_id, subscription=subscription)
        delivery = webhooks.redeliver(delivery=delivery)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- deletions, for `?updated_since=` sync (practice.tombstones) ---------------------------------


class TombstoneSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(
        source="record_type", choices=TOMBSTONE_TYPES, help_text="What was deleted."
    )
    id = serializers.IntegerField(source="record_id", help_text="The deleted record's id.")
    deleted_at = AwareDateTimeField()

    class Meta:
        model = Tombstone
        fields = ["type", "id", "deleted_at"]


class DeletedViewSet(PracticeScopedViewSet, mixins.ListModelMixin):
    """`deleted/`: records hard-deleted (erasure, purge, removed time off), by type and id, kept
    for the practice's `sync_horizon_days`. Sync with the lists' own `Sync-Since`/`updated_since`:
    rows changed there, rows gone here. Front desk and API keys see the scheduling types only."""

    queryset = Tombstone.objects.all()
    serializer_class = TombstoneSerializer
    access = {Role.OWNER: READ, Role.THERAPIST: READ, Role.FRONT_DESK: READ, API_KEY_ROLE: READ}
    filterset_fields = {"record_type": ["exact"]}
    ordering_fields = ["deleted_at", "id"]
    ordering = ["deleted_at", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.request.role not in (Role.OWNER, Role.THERAPIST):
            queryset = queryset.filter(record_type__in=SCHEDULING_TOMBSTONE_TYPES)
        return queryset

    def check_updated_since(self, when) -> None:
        """Deletions older than the horizon are gone: a client that last synced before it must
        sync from scratch, and is told so rather than shown an incomplete feed."""
        horizon = self.request.practice.sync_horizon_days  # type: ignore[attr-defined]
        if when < timezone.now() - timedelta(days=horizon):
            raise serializers.ValidationError(
                {
                    "updated_since": [
                        f"Older than this practice's sync horizon ({horizon} days): "
                        "sync the lists from scratch."
                    ]
                }
            )
