"""Billing: invoices (and credit notes), their lines, payments and refunds, the number sequence.

Amounts are Decimals stored with three decimals (the most any supported currency uses) and kept
to the currency's minor units by the services (sessions/billing/money.py); never floats.
Check constraints keep every stored amount non-negative and every line's total = net + tax.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
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

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    # The invoice's client, kept on the row so that tenancy scopes payments like any client record.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="payments")
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
            models.Index(fields=["client", "received_at"]),
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


# --- packages and cancellation fees (issue 19.4, 19.5) ------------------------------------------


class Package(models.Model):
    """A product: `sessions` sessions of some services for one price, to be used within
    `expiry_days` of the sale (issue 19.4)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    sessions = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    services: models.ManyToManyField = models.ManyToManyField(Service, related_name="+")
    price = amount_field(validators=[MinValueValidator(Decimal(0))])
    expiry_days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="package_name_unique"),
            models.CheckConstraint(
                condition=Q(sessions__gte=1, expiry_days__gte=1, price__gte=0),
                name="package_sessions_expiry_price",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClientPackage(models.Model):
    """A package sold to a client: what is left of it and until when. `sessions_remaining` only
    moves by conditional UPDATEs (sessions/billing/packages.py), and the database keeps it between
    0 and the sessions sold, so racing completions never draw it below zero."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="packages")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="sold")
    sessions_total = models.PositiveSmallIntegerField()
    sessions_remaining = models.PositiveSmallIntegerField()
    price = amount_field()  # what the client paid, copied at the sale
    currency = models.CharField(max_length=3)
    expires_on = models.DateField()  # the last day (practice's local days) it can be used
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["expires_on", "id"]
        indexes = [
            models.Index(fields=["client", "expires_on"]),
            models.Index(fields=["practice", "updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_remaining__gte=0)
                & Q(sessions_remaining__lte=F("sessions_total")),
                name="client_package_remaining_in_range",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="client_package_price"),
        ]

    def __str__(self) -> str:
        return f"{self.package} for {self.client}"


class PackageUse(models.Model):
    """One session of a client package drawn by one completed appointment. An appointment draws
    at most once at a time (completing twice never draws twice); a session given back keeps its
    row, marked returned, with who did it and why."""

    client_package = models.ForeignKey(ClientPackage, on_delete=models.CASCADE, related_name="uses")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="package_uses"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    return_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(returned_at__isnull=True),
                name="package_use_one_per_appointment",
            ),
        ]


class FeeKind(models.TextChoices):
    LATE_CANCELLATION = "late_cancellation"
    NO_SHOW = "no_show"


class CancellationFee(models.Model):
    """The practice's fee for a late cancellation or no-show (issue 19.5), charged as a line on a
    draft invoice. Waiving it (owners only, with a reason, audited) sets the line to zero and
    keeps this row, so the fee stays visible as waived."""

    client_path = "client"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="fees")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="cancellation_fee"
    )
    kind = models.CharField(max_length=20, choices=FeeKind.choices)
    percent = models.PositiveSmallIntegerField()
    amount = amount_field()  # percent of the service price, half-up; kept after a waiver
    currency = models.CharField(max_length=3)
    line = models.OneToOneField(
        InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="fee"
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    waive_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # incremental sync (`?updated_since=`)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "updated_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0, percent__gte=1, percent__lte=100),
                name="cancellation_fee_amount",
            ),
            models.CheckConstraint(
                condition=Q(waived_at__isnull=True) | ~Q(waive_reason=""),
                name="cancellation_fee_waiver_has_reason",
            ),
        ]

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None
