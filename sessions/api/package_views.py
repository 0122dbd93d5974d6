"""`packages/` (products), `client-packages/` (sold to clients) and `fees/` (cancellation fees):
issue 19.4 and 19.5. Views pick the queryset, the role table and the serializers, and call one
service from sessions/billing/packages.py or fees.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clients.models import Client
from practice.api.base import StrictSerializer
from practice.models import Role, Service
from practice.tenancy import (
    OWNER_ONLY,
    READ,
    STAFF_WRITE,
    WRITE,
    PracticeModelSerializer,
    ScopedPrimaryKeyRelatedField,
    TenantViewSet,
)
from sessions.billing import fees, packages
from sessions.billing.models import CancellationFee, ClientPackage, Package
from sessions.billing.money import AMOUNT_DIGITS, AMOUNT_PLACES, quantize
from sessions.scheduling.models import Appointment


class MoneyField(serializers.DecimalField):
    """An amount in, as a string (StrictModelSerializer refuses a number); out as a string in the
    currency's minor units (`currency` read from the object), never a float. Its schema is the
    decimal string pattern, without a sign when the field has a minimum of 0 (config/schema.py).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", AMOUNT_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_PLACES)
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        self._currency = getattr(instance, "currency", None) or instance.practice.currency
        return super().get_attribute(instance)

    def to_representation(self, value: Any) -> str:
        return str(quantize(Decimal(value), self._currency))


class PackageSerializer(PracticeModelSerializer):
    services = ScopedPrimaryKeyRelatedField(
        many=True,
        queryset=Service.objects.all(),
        allow_empty=False,
        help_text="Services a session of the package covers (at least one).",
    )
    price = MoneyField(min_value=Decimal(0), help_text="In the practice's currency.")
    hidden_fields = {Role.CLIENT: {"active"}}

    class Meta:
        model = Package
        fields = [
            "id",
            "name",
            "description",
            "sessions",
            "services",
            "price",
            "expiry_days",
            "active",
            "updated_at",
        ]
        read_only_fields = ["id", "updated_at"]


class PackageViewSet(TenantViewSet, mixins.CreateModelMixin, mixins.UpdateModelMixin):
    """Products: owners write, every member reads (clients only those on sale)."""

    queryset = Package.objects.select_related("practice").prefetch_related("services")
    serializer_class = PackageSerializer
    access = {Role.OWNER: WRITE, Role.THERAPIST: READ, Role.FRONT_DESK: READ, Role.CLIENT: READ}
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["active"]
    ordering_fields = ["name", "price", "id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.request.role == Role.CLIENT:
            queryset = queryset.filter(active=True)
        return queryset

    def perform_create(self, serializer) -> None:
        serializer.instance = packages.create_package(
            practice=self.request.practice, fields=dict(serializer.validated_data)
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = packages.update_package(
            package=serializer.instance, fields=dict(serializer.validated_data)
        )


class ClientPackageSerializer(serializers.ModelSerializer):
    package_name = serializers.CharField(source="package.name", read_only=True)
    price = MoneyField(read_only=True)
    sessions_used = serializers.SerializerMethodField()

    class Meta:
        model = ClientPackage
        fields = [
            "id",
            "client",
            "package",
            "package_name",
            "sessions_total",
            "sessions_remaining",
            "sessions_used",
            "price",
            "currency",
            "expires_on",
            "invoice",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_sessions_used(self, obj: ClientPackage) -> int:
        return obj.sessions_total - obj.sessions_remaining


class SellSerializer(StrictSerializer):
    package = ScopedPrimaryKeyRelatedField(queryset=Package.objects.all())
    client = ScopedPrimaryKeyRelatedField(queryset=Client.objects.all())


class RestoreSerializer(StrictSerializer):
    appointment = ScopedPrimaryKeyRelatedField(queryset=Appointment.objects.all())
    reason = serializers.CharField(max_length=500)


class ClientPackageViewSet(TenantViewSet):
    """Packages sold: staff sell them (a draft invoice comes with each), clients read their own,
    owners give a session back with a reason."""

    queryset = ClientPackage.objects.select_related("package")
    serializer_class = ClientPackageSerializer
    access = {**STAFF_WRITE, Role.CLIENT: READ}
    action_access = {"restore": OWNER_ONLY}
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["client", "package"]
    ordering_fields = ["expires_on", "created_at", "id"]

    @extend_schema(request=SellSerializer, responses={201: ClientPackageSerializer})
    def create(self, request) -> Response:
        incoming = SellSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        sold = packages.sell_package(
            practice=request.practice, by=request.user, **incoming.validated_data
        )
        return Response(ClientPackageSerializer(sold).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RestoreSerializer, responses={200: ClientPackageSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk: str | None = None) -> Response:
        client_package = self.get_object()  # another practice's is 404 whatever the body
        incoming = RestoreSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        restored = packages.restore_session(
            client_package=client_package, by=request.user, **incoming.validated_data
        )
        return Response(ClientPackageSerializer(restored).data)


class CancellationFeeSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    invoice = serializers.IntegerField(source="line.invoice_id", read_only=True, allow_null=True)
    waived = serializers.BooleanField(source="is_waived", read_only=True)

    class Meta:
        model = CancellationFee
        fields = [
            "id",
            "client",
            "appointment",
            "kind",
            "percent",
            "amount",
            "currency",
            "invoice",
            "waived",
            "waived_at",
            "waived_by",
            "waive_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WaiveSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class CancellationFeeViewSet(TenantViewSet):
    """Late-cancellation and no-show fees: staff read them, clients their own; owners waive."""

    queryset = CancellationFee.objects.select_related("line")
    serializer_class = CancellationFeeSerializer
    access = {Role.OWNER: WRITE, Role.THERAPIST: READ, Role.FRONT_DESK: READ, Role.CLIENT: READ}
    action_access = {"waive": OWNER_ONLY}
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["client", "appointment", "kind"]
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=WaiveSerializer, responses={200: CancellationFeeSerializer})
    @action(detail=True, methods=["post"])
    def waive(self, request, pk: str | None = None) -> Response:
        fee = self.get_object()  # another practice's is 404 whatever the body
        incoming = WaiveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        fee = fees.waive_fee(fee=fee, by=request.user, reason=incoming.validated_data["reason"])
        return Response(CancellationFeeSerializer(fee).data)
