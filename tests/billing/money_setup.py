"""What the money tests share: appointments moved through the API, packages, issued invoices."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from clients.models import Client
from practice.models import Practice, Service, Therapist
from sessions.billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, Package
from sessions.scheduling.models import Appointment, Status
from tests.factories import AppointmentFactory, ServiceFactory, TherapistFactory


def appointment(
    practice: Practice,
    *,
    client: Client,
    service: Service | None = None,
    therapist: Therapist | None = None,
    status: str = Status.CHECKED_IN,
    start: datetime | None = None,
) -> Appointment:
    """An appointment written directly (no slot rules), ready for its next move."""
    fields: dict = {"client": client, "status": status}
    fields["service"] = service or ServiceFactory(practice=practice, price=Decimal("60.00"))
    fields["therapist"] = therapist or TherapistFactory(practice=practice)
    if start is not None:
        fields["start"] = start
    return AppointmentFactory(**fields)


def package(practice: Practice, services: list[Service], **fields) -> Package:
    made = Package.objects.create(
        practice=practice,
        name=fields.pop("name", "Ten back sessions"),
        sessions=fields.pop("sessions", 10),
        price=fields.pop("price", Decimal("500.00")),
        expiry_days=fields.pop("expiry_days", 365),
        **fields,
    )
    made.services.set(services)
    return made


def issued_invoice(
    practice: Practice,
    *,
    client: Client,
    amount: str,
    issued_at: datetime,
    therapist: Therapist | None = None,
    service: Service | None = None,
    paid: str = "0",
    kind: str = InvoiceKind.INVOICE,
    credits: Invoice | None = None,
    status: str = InvoiceStatus.ISSUED,
    number: int | None = None,
) -> Invoice:
    """An issued invoice (or credit note) of one tax-free line, written directly."""
    total = Decimal(amount)
    last = Invoice.objects.filter(practice=practice).exclude(number=None).count()
    invoice = Invoice.objects.create(
        practice=practice,
        client=client,
        therapist=therapist,
        kind=kind,
        credits=credits,
        number=number or last + 1,
        status=status,
        currency=practice.currency,
        subtotal=total,
        total=total,
        paid=Decimal(paid),
        issued_at=issued_at,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        description=service.name if service else "Other",
        service=service,
        unit_price=total,
        net=total,
        tax=Decimal(0),
        total=total,
    )
    return invoice


def days_ago(days: int) -> datetime:
    """`days` local days before now, a minute earlier (never in the future, never tomorrow)."""
    return timezone.now() - timedelta(days=days, minutes=1)
