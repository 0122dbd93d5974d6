"""Billing: invoices (and credit notes), their lines, payments and refunds, the number sequence.

Amounts are Decimals stored with three decimals (the most any supported currency uses) and kept
to the currency's minor units by the services (sessions/billing/money.py); never floats.
Check constraints keep every stored amount non-negative and every line's total = net + tax.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clients.models import Client
from practice.models import Practice, Service, Therapist
from sessions.billing.money import AMOUNT_DIGITS, AMOUNT_PLACES
from sessions.scheduling.models import Appointment


def amount_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(
        max_digits=AMOUNT_DIGITS,
        decimal_places=AMOUNT_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


class InvoiceSequence(models.Model):
    """The practice's invoice counter: one row, locked (SELECT ... FOR UPDATE) by the transaction
    that issues an invoice, so two issues never share a number and a rollback gives it back."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(default=0)


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


# draft -> issued -> paid | void; a paid invoice becomes issued again when a refund reopens it.
# A draft may be voided too (thrown away before it got a number).
INVOICE_TRANSITIONS: dict[str, set[str]] = {
    InvoiceStatus.DRAFT: {InvoiceStatus.ISSUED, InvoiceStatus.VOID},
    InvoiceStatus.ISSUED: {InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.PAID: {InvoiceStatus.ISSUED},
}


class Invoice(models.Model):
    """An invoice to a client, or a credit note correcting an issued one (`kind`, `credits`).

    `number` is given at issue, not at creation: issued invoices are numbered without gaps per
    practice (the usual legal rule), drafts have none. Totals are the sums of the rounded lines;
    `paid` is payments minus refunds; `credited` the issued credit notes against it; balance is
    total - paid - credited (docs/money.md)."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    number = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="invoices")
    therapist = models.ForeignKey(
        Therapist, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    credits = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    currency = models.CharField(max_length=3)
    subtotal = amount_field(default=Decimal(0))  # sum of lines' net
    tax_total = amount_field(default=Decimal(0))
    total = amount_field(default=Decimal(0))  # sum of lines' total
    paid = amount_field(default=Decimal(0))  # payments - refunds
    credited = amount_field(default=Decimal(0))  # issued credit notes against this invoice
    notes = models.CharField(max_length=1000, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "created_at", "id"]),
            models.Index(fields=["practice", "status", "issued_at"]),
            models.Index(fields=["practice", "updated_at"]),
            models.Index(fields=["client", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "number"],
                condition=Q(number__isnull=False),
                name="invoice_number_unique",
            ),
            # One live invoice per completed appointment: completing twice never bills twice.
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(appointment__isnull=False, kind="invoice") & ~Q(status="void"),
                name="invoice_one_live_per_appointment",
            ),
            models.CheckConstraint(
                condition=Q(number__isnull=True) | ~Q(status="draft"),
                name="invoice_draft_has_no_number",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | Q(number__isnull=False)
                | Q(status="void", issued_at__isnull=True),
                name="invoice_issued_has_number",
            ),
            models.CheckConstraint(
                condition=Q(
                    subtotal__gte=0, tax_total__gte=0, total__gte=0, paid__gte=0, credited__gte=0
                ),
                name="invoice_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("tax_total")), name="invoice_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(paid__lte=F("total") - F("credited")), name="invoice_not_overpaid"
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", credits__isnull=True)
                | Q(kind="credit_note", credits__isnull=False),
                name="invoice_credit_note_credits_an_invoice",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        if self.number is None:
            return f"draft-{self.pk}"
        prefix = "CN" if self.kind == InvoiceKind.CREDIT_NOTE else "INV"
        return f"{prefix}-{self.number:06d}"

    @property
    def balance(self) -> Decimal:
        """Still owed: lines - payments + refunds - credit notes (sessions/billing/money.py)."""
        return self.total - self.paid - self.credited

    @property
    def is_editable(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class LineKind(models.TextChoices):
    SERVICE = "service"
    FEE = "fee"
    PACKAGE = "package"
    OTHER = "other"


class InvoiceLine(models.Model):
    """One line: a service given, a fee, a package sold. Tax name, percent and inclusiveness are
    copied from the rate when the line is written, so later rate changes never alter it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=LineKind.choices, default=LineKind.SERVICE)
    description = models.CharField(max_length=300)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    treatment_date = models.DateField(null=True, blank=True)  # insurance receipts show it
    quantity = models.PositiveSmallIntegerField(default=1)
    unit_price = amount_field()
    tax_name = models.CharField(max_length=60, blank=True)
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(0))
    tax_inclusive = models.BooleanField(default=True)
    net = amount_field()
    tax = amount_field()
    total = amount_field()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, net__gte=0, tax__gte=0, total__gte=0),
                name="invoice_line_amounts_not_negative",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="invoice_line_quantity"),
            models.CheckConstraint(
                condition=Q(total=F("net") + F("tax")), name="invoice_line_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(tax_percent__gte=0, tax_percent__lte=100),
                name="invoice_line_tax_percent_range",
            ),
        ]


class PaymentKind(models.TextChoices):
    PAYMENT = "payment"
    REFUND = "refund"


class PaymentMethod(models.TextChoices):
    CASH = "cash"
    CARD_TERMINAL = "card_terminal"
    BANK_TRANSFER = "bank_transfer"
    PROVIDER = "provider"  # an online payment through a provider (sessions/billing/providers.py)


class PaymentStatus(models.TextChoices):
    PENDING = "pending"  # a provider payment waiting for its webhook
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Payment(models.Model):
    """Money received for an invoice (`payment`) or given back (`refund`, naming its payment).

    Only succeeded rows count towards the invoice's `paid`. `amount` is always positive; a refund
    subtracts. Refunds of a payment never exceed it (services, under the invoice's row lock)."""

    client_path = "invoice__client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=8, choices=PaymentKind.choices, default=PaymentKind.PAYMENT)
    method = models.CharField(max_length=14, choices=PaymentMethod.choices)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.SUCCEEDED
    )
    amount = amount_field()
    currency = models.CharField(max_length=3)
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    reference = models.CharField(max_length=200, blank=True)  # terminal slip, transfer reference
    provider = models.CharField(max_length=20, blank=True)  # "manual", "stripe"
    provider_reference = models.CharField(max_length=200, blank=True)  # e.g. a PaymentIntent id
    reason = models.CharField(max_length=500, blank=True)  # why a refund was given
    received_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "received_at", "id"]),
            models.Index(fields=["practice", "updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind="payment", refund_of__isnull=True)
                | Q(kind="refund", refund_of__isnull=False),
                name="payment_refund_names_its_payment",
            ),
            models.UniqueConstraint(
                fields=["practice", "provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="payment_provider_reference_unique",
            ),
        ]
