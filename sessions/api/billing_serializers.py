"""Shapes of `invoices/` and `payments/` (issue 19, docs/money.md). Amounts are JSON strings
("12.50"), read and written as Decimals; output serializers run no queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from clients.models import Client
from practice.api.base import AwareDateTimeField, BoundedDateField, StrictSerializer, utc_iso
from practice.currencies import MINOR_UNITS
from practice.models import Service, TaxRate, Therapist
from practice.tenancy import ScopedPrimaryKeyRelatedField
from sessions.billing import money
from sessions.billing.invoices import LineInput
from sessions.billing.models import Invoice, InvoiceLine, LineKind, Payment, PaymentMethod
from sessions.scheduling.models import Appointment


def _amount(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=3, **kwargs)


def show(amount: Decimal, currency: str) -> str:
    """An amount as the API writes it: a string with the currency's decimals ("12.50", "1200")."""
    return str(money.quantize(amount, currency))


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def line_data(line: InvoiceLine, currency: str) -> dict:
    return {
        "id": line.pk,
        "position": line.position,
        "kind": line.kind,
        "description": line.description,
        "service": line.service_id,
        "appointment": line.appointment_id,
        "treatment_date": _date(line.treatment_date),
        "quantity": line.quantity,
        "unit_price": show(line.unit_price, currency),
        "tax_name": line.tax_name,
        "tax_percent": str(line.tax_percent),
        "tax_inclusive": line.tax_inclusive,
        "net": show(line.net, currency),
        "tax": show(line.tax, currency),
        "total": show(line.total, currency),
    }


def invoice_data(row: dict) -> dict:
    """An invoice from its columns (a `.values(*INVOICE_ROW_FIELDS)` row or a model's).

    Hand-written for the list (bench/: invoices_list): stored amounts always fit the currency's
    minor units (the services refuse finer ones), so fixed-point formatting prints them exactly."""
    currency = row["currency"]
    places = f".{MINOR_UNITS[currency]}f"
    number = row["number"]
    prefix = "CN" if row["kind"] == "credit_note" else "INV"
    total, paid, credited = row["total"], row["paid"], row["credited"]
    due = row["due_date"]
    return {
        "id": row["id"],
        "number": f"{prefix}-{number:06d}" if number is not None else f"draft-{row['id']}",
        "sequence_number": number,
        "kind": row["kind"],
        "status": row["status"],
        "client": row["client_id"],
        "therapist": row["therapist_id"],
        "appointment": row["appointment_id"],
        "credits": row["credits_id"],
        "currency": currency,
        "subtotal": format(row["subtotal"], places),
        "tax_total": format(row["tax_total"], places),
        "total": format(total, places),
        "paid": format(paid, places),
        "credited": format(credited, places),
        "balance": format(total - paid - credited, places),
        "notes": row["notes"],
        "due_date": due.isoformat() if due is not None else None,
        "void_reason": row["void_reason"],
        "issued_at": utc_iso(row["issued_at"]),
        "paid_at": utc_iso(row["paid_at"]),
        "voided_at": utc_iso(row["voided_at"]),
        "created_at": utc_iso(row["created_at"]),
        "updated_at": utc_iso(row["updated_at"]),
    }


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "position",
            "kind",
            "description",
            "service",
            "appointment",
            "treatment_date",
            "quantity",
            "unit_price",
            "tax_name",
            "tax_percent",
            "tax_inclusive",
            "net",
            "tax",
            "total",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="display_number", read_only=True)
    sequence_number = serializers.IntegerField(source="number", read_only=True, allow_null=True)
    balance = _amount(read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)
    issued_at = AwareDateTimeField(read_only=True, allow_null=True)
    paid_at = AwareDateTimeField(read_only=True, allow_null=True)
    voided_at = AwareDateTimeField(read_only=True, allow_null=True)
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "sequence_number",
            "kind",
            "status",
            "client",
            "therapist",
            "appointment",
            "credits",
            "currency",
            "subtotal",
            "tax_total",
            "total",
            "paid",
            "credited",
            "balance",
            "lines",
            "notes",
            "due_date",
            "void_reason",
            "issued_at",
            "paid_at",
            "voided_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    # The columns an invoice is drawn from; the list reads exactly these with `.values()`.
    ROW_FIELDS = (
        "id", "number", "kind", "status", "client_id", "therapist_id", "appointment_id",
        "credits_id", "currency", "subtotal", "tax_total", "total", "paid", "credited", "notes",
        "due_date", "void_reason", "issued_at", "paid_at", "voided_at", "created_at", "updated_at",
    )  # fmt: skip

    def to_representation(self, invoice: Invoice | dict) -> dict:
        """Hand-written (bench/: invoices_list): the list passes `.values()` rows and leaves out
        `lines`; a single invoice carries its lines."""
        if isinstance(invoice, dict):
            return invoice_data(invoice)
        data = invoice_data({name: getattr(invoice, name) for name in self.ROW_FIELDS})
        data["lines"] = [line_data(line, invoice.currency) for line in invoice.lines.all()]
        return data


class InvoiceRowSerializer(InvoiceSerializer):
    """An invoice as the list shows it: without `lines` (the schema of `GET invoices/`)."""

    lines = None  # type: ignore[assignment]  # removes the declared field

    class Meta(InvoiceSerializer.Meta):
        fields = [name for name in InvoiceSerializer.Meta.fields if name != "lines"]
        read_only_fields = fields


class LineInputSerializer(StrictSerializer):
    """One line in: a service (price and tax from it unless given) or a described amount."""

    service = ScopedPrimaryKeyRelatedField(queryset=Service.objects.all(), required=False)
    appointment = ScopedPrimaryKeyRelatedField(queryset=Appointment.objects.all(), required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    unit_price = _amount(required=False, min_value=Decimal(0))
    tax_rate = ScopedPrimaryKeyRelatedField(queryset=TaxRate.objects.all(), required=False)
    kind = serializers.ChoiceField(
        choices=[LineKind.SERVICE, LineKind.OTHER], default=LineKind.SERVICE
    )
    treatment_date = BoundedDateField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "service" not in attrs and ("unit_price" not in attrs or not attrs.get("description")):
            raise serializers.ValidationError(
                {"unit_price": ["A line without a service needs a description and a unit_price."]}
            )
        return attrs

    @staticmethod
    def to_line(data: dict) -> LineInput:
        return LineInput(**data)


class InvoiceCreateSerializer(StrictSerializer):
    """`lines` may be left out when `appointment` is given: the visit's service is billed."""

    client = ScopedPrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    appointment = ScopedPrimaryKeyRelatedField(queryset=Appointment.objects.all(), required=False)
    therapist = ScopedPrimaryKeyRelatedField(queryset=Therapist.objects.all(), required=False)
    lines = serializers.ListField(
        child=LineInputSerializer(), required=False, min_length=1, max_length=100
    )
    due_date = BoundedDateField(required=False, allow_null=True)
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        appointment = attrs.get("appointment")
        if "client" not in attrs:
            if appointment is None:
                raise serializers.ValidationError({"client": ["This field is required."]})
            attrs["client"] = appointment.client
        if "lines" not in attrs and appointment is None:
            raise serializers.ValidationError({"lines": ["This field is required."]})
        return attrs


class InvoiceUpdateSerializer(StrictSerializer):
    lines = serializers.ListField(
        child=LineInputSerializer(), required=False, min_length=1, max_length=100
    )
    due_date = BoundedDateField(required=False, allow_null=True)
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class VoidSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class CreditNoteSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)
    lines = serializers.ListField(child=LineInputSerializer(), min_length=1, max_length=100)


class PayOnlineSerializer(StrictSerializer):
    amount = _amount(required=False, help_text="Left out: the whole balance.")


class PayOnlineAnswerSerializer(serializers.Serializer):
    payment = serializers.IntegerField()
    provider = serializers.CharField()
    client_secret = serializers.CharField()


class PaymentSerializer(serializers.ModelSerializer):
    received_at = AwareDateTimeField(read_only=True)
    created_at = AwareDateTimeField(read_only=True)
    updated_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "client",
            "kind",
            "method",
            "status",
            "amount",
            "currency",
            "refund_of",
            "reference",
            "provider",
            "provider_reference",
            "reason",
            "received_at",
            "recorded_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, payment: Payment) -> dict:
        currency = payment.currency
        return {
            "id": payment.pk,
            "invoice": payment.invoice_id,
            "client": payment.client_id,
            "kind": payment.kind,
            "method": payment.method,
            "status": payment.status,
            "amount": show(payment.amount, currency),
            "currency": currency,
            "refund_of": payment.refund_of_id,
            "reference": payment.reference,
            "provider": payment.provider,
            "provider_reference": payment.provider_reference,
            "reason": payment.reason,
            "received_at": utc_iso(payment.received_at),
            "recorded_by": payment.recorded_by_id,
            "created_at": utc_iso(payment.created_at),
            "updated_at": utc_iso(payment.updated_at),
        }


class PaymentCreateSerializer(StrictSerializer):
    invoice = ScopedPrimaryKeyRelatedField(queryset=Invoice.objects.all())
    amount = _amount()
    currency = serializers.CharField(max_length=3)
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    received_at = AwareDateTimeField(required=False)


class RefundSerializer(StrictSerializer):
    amount = _amount()
    reason = serializers.CharField(max_length=500)
