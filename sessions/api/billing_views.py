"""`invoices/` and `payments/` (issue 19, docs/money.md), and the payment provider's webhook.

Roles: staff draft, issue and take payments; only owners void, credit and refund; a client reads
their own issued invoices and payments (never drafts) and may pay their own online.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from practice.auth import PracticeRequest
from practice.errors import Invalid
from practice.filters import IsoDateTimeFilter, PracticeFilterSet
from practice.models import API_KEY_ROLE, Role, User
from practice.permissions import WRITE
from practice.tenancy import OWNER_ONLY, READ, STAFF_WRITE, TenantViewSet
from sessions.api.billing_serializers import (
    CreditNoteSerializer,
    InvoiceCreateSerializer,
    InvoiceRowSerializer,
    InvoiceSerializer,
    InvoiceUpdateSerializer,
    LineInputSerializer,
    PaymentCreateSerializer,
    PaymentSerializer,
    PayOnlineAnswerSerializer,
    PayOnlineSerializer,
    RefundSerializer,
    VoidSerializer,
)
from sessions.api.views import PublicThrottle
from sessions.billing import documents, invoices, payments, providers
from sessions.billing.models import Invoice, InvoiceLine, InvoiceStatus, Payment
from sessions.scheduling.idempotency import idempotent

STAFF_CLIENT_READS = {**STAFF_WRITE, Role.CLIENT: READ}


def _actor(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _principal(request: Request) -> str:
    if getattr(request, "role", None) == API_KEY_ROLE:
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


class InvoiceFilter(PracticeFilterSet):
    issued_after = IsoDateTimeFilter(field_name="issued_at", lookup_expr="gte")
    issued_before = IsoDateTimeFilter(field_name="issued_at", lookup_expr="lt")

    class Meta:
        model = Invoice
        fields = ["client", "therapist", "appointment", "status", "kind", "credits"]


class InvoiceViewSet(TenantViewSet):
    """Invoices and credit notes, newest first. The list leaves `lines` out (one invoice has
    them); `?updated_since=` for sync."""

    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    access = STAFF_CLIENT_READS
    # Every read is in the access log, list pages too (issue 22.2: never drop one): an invoice
    # names its client, what they were treated for and what they paid.
    audit_as = "invoice"
    action_access = {
        "void": OWNER_ONLY,
        "credit_notes": OWNER_ONLY,
        "pay_online": {**STAFF_WRITE, Role.CLIENT: WRITE},
    }
    filterset_class = InvoiceFilter
    ordering_fields = ["created_at", "issued_at", "number", "total", "id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self) -> type[InvoiceSerializer]:
        return InvoiceRowSerializer if self.action == "list" else InvoiceSerializer

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if getattr(self.request, "role", None) == Role.CLIENT:
            queryset = queryset.exclude(status=InvoiceStatus.DRAFT)
        if self.action == "list":  # rows, not models: the list is the busiest money read
            return queryset.values(*InvoiceSerializer.ROW_FIELDS)
        return queryset.prefetch_related(
            Prefetch("lines", InvoiceLine.objects.order_by("position", "id"))
        )

    def _answer(self, invoice: Invoice, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=invoice.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @staticmethod
    def _lines(incoming: Any) -> list[invoices.LineInput] | None:
        lines = incoming.validated_data.get("lines")
        return None if lines is None else [LineInputSerializer.to_line(line) for line in lines]

    @extend_schema(
        request=InvoiceCreateSerializer,
        responses={201: InvoiceSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request: PracticeRequest) -> Response:
        """A draft; with `appointment` and no `lines`, the completed visit's service is billed."""

        def draft() -> Response:
            incoming = InvoiceCreateSerializer(
                data=request.data, context=self.get_serializer_context()
            )
            incoming.is_valid(raise_exception=True)
            data = incoming.validated_data
            lines = self._lines(incoming)
            if lines is None:
                invoice = invoices.invoice_appointment(
                    appointment=data["appointment"], actor=_actor(request)
                )
            else:
                invoice = invoices.create_invoice(
                    practice=request.practice,
                    client=data["client"],
                    appointment=data.get("appointment"),
                    therapist=data.get("therapist"),
                    due_date=data.get("due_date"),
                    notes=data["notes"],
                    lines=lines,
                    actor=_actor(request),
                )
            return self._answer(invoice, status.HTTP_201_CREATED)

        return idempotent(
            request, practice=request.practice, principal=_principal(request), create=draft
        )

    @extend_schema(request=InvoiceUpdateSerializer, responses={200: InvoiceSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change a draft; an issued invoice is 409 `invoice_locked` (credit it instead)."""
        invoice = self.get_object()
        incoming = InvoiceUpdateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        fields = {k: v for k, v in incoming.validated_data.items() if k != "lines"}
        invoice = invoices.update_draft(
            invoice=invoice, actor=_actor(request), fields=fields, lines=self._lines(incoming)
        )
        return self._answer(invoice)

    @extend_schema(request=None, responses={200: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk: str | None = None) -> Response:
        """draft -> issued with the next number of the practice's gapless sequence."""
        return self._answer(
            invoices.issue_invoice(invoice=self.get_object(), actor=_actor(request))
        )

    @extend_schema(request=VoidSerializer, responses={200: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        """Owner only: void a draft or an unpaid issued invoice, with a reason."""
        invoice = self.get_object()  # 404 before any 400 about the body
        incoming = VoidSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invoice = invoices.void_invoice(
            invoice=invoice,
            reason=incoming.validated_data["reason"],
            actor=_actor(request),
        )
        return self._answer(invoice)

    @extend_schema(request=CreditNoteSerializer, responses={201: InvoiceSerializer})
    @action(detail=True, methods=["post"], url_path="credit-notes")
    def credit_notes(self, request: Request, pk: str | None = None) -> Response:
        """Owner only: a credit note correcting this issued invoice (issued at once)."""
        invoice = self.get_object()
        incoming = CreditNoteSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        note = invoices.credit_invoice(
            invoice=invoice,
            lines=self._lines(incoming) or [],
            reason=incoming.validated_data["reason"],
            actor=_actor(request),
        )
        return self._answer(note, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={(200, "application/pdf"): bytes},
        parameters=[
            OpenApiParameter(
                "document", str, enum=list(documents.DOCUMENTS), description="invoice (default)"
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The invoice, its receipt, or an insurance receipt as a PDF."""
        kind = request.query_params.get("document", "invoice")
        if kind not in documents.DOCUMENTS:
            raise Invalid.on("document", f"One of: {', '.join(documents.DOCUMENTS)}.")
        invoice = self.get_object()
        body = documents.render(invoice=invoice, document=kind)
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{kind}-{invoice.display_number}.pdf"'
        return response

    @extend_schema(request=PayOnlineSerializer, responses={201: PayOnlineAnswerSerializer})
    @action(detail=True, methods=["post"], url_path="pay-online")
    def pay_online(self, request: Request, pk: str | None = None) -> Response:
        """Start an online card payment through the practice's provider (409 with `manual`)."""
        invoice = self.get_object()
        incoming = PayOnlineSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        payment, secret = payments.start_online_payment(
            invoice=invoice,
            amount=incoming.validated_data.get("amount"),
            actor=_actor(request),
        )
        body = {"payment": payment.pk, "provider": payment.provider, "client_secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class PaymentFilter(PracticeFilterSet):
    received_after = IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = Payment
        fields = ["invoice", "client", "kind", "method", "status"]


class PaymentViewSet(TenantViewSet):
    """Payments and refunds, newest first; staff record payments, owners refund them."""

    queryset = Payment.objects.all()
    serializer_class = PaymentSerializer
    access = STAFF_CLIENT_READS
    action_access = {"refund": OWNER_ONLY}
    audit_as = "payment"
    filterset_class = PaymentFilter
    ordering_fields = ["received_at", "amount", "id"]

    @extend_schema(
        request=PaymentCreateSerializer,
        responses={201: PaymentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request: PracticeRequest) -> Response:
        """Record money received for an issued invoice (partial allowed)."""

        def record() -> Response:
            incoming = PaymentCreateSerializer(
                data=request.data, context=self.get_serializer_context()
            )
            incoming.is_valid(raise_exception=True)
            payment = payments.record_payment(actor=_actor(request), **incoming.validated_data)
            return Response(self.get_serializer(payment).data, status=status.HTTP_201_CREATED)

        return idempotent(
            request, practice=request.practice, principal=_principal(request), create=record
        )

    @extend_schema(
        request=RefundSerializer,
        responses={201: PaymentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @action(detail=True, methods=["post"])
    def refund(self, request: PracticeRequest, pk: str | None = None) -> Response:
        """Owner only: give back part or all of this payment, never more than is left of it."""
        payment = self.get_object()

        def give_back() -> Response:
            incoming = RefundSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            refund = payments.refund_payment(
                payment=payment, actor=_actor(request), **incoming.validated_data
            )
            return Response(self.get_serializer(refund).data, status=status.HTTP_201_CREATED)

        return idempotent(
            request, practice=request.practice, principal=_principal(request), create=give_back
        )


class ProviderWebhookAnswerSerializer(serializers.Serializer):
    received = serializers.BooleanField()


class ProviderWebhookView(APIView):
    """`billing/providers/{name}/webhook/`: the provider confirms or fails an online payment.
    No login: the signature (e.g. `Stripe-Signature`) is the authentication; a bad one is 400."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (PublicThrottle,)

    @extend_schema(
        request={"application/json": dict},
        responses={200: ProviderWebhookAnswerSerializer},
        parameters=[OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request, name: str) -> Response:
        if name not in providers.PROVIDERS:
            raise Invalid.on("provider", "Unknown payment provider.")
        event = providers.provider(name).parse_webhook(body=request.body, headers=request.headers)
        payments.confirm_provider_payment(provider_name=name, event=event)
        return Response({"received": True})
