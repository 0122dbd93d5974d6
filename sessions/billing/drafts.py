"""Lines that packages and cancellation fees put on draft invoices (issue 19.4, 19.5).

A draft is the only invoice that takes new lines (an issued one is corrected by credit note), so
every helper here works on a draft, locked, and refreshes its totals from its rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from clients.models import Client
from practice.models import Practice, Service, Therapist, User
from sessions.billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from sessions.billing.money import line_amounts
from sessions.scheduling.models import Appointment

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineSpec:
    """What one line says and costs; tax comes from `service`'s rate when `taxed`."""

    kind: str
    description: str
    unit_price: Decimal
    service: Service | None = None
    appointment: Appointment | None = None
    treatment_date: date | None = None
    taxed: bool = True


def draft_for_appointment(*, appointment: Appointment, by: User | None) -> Invoice:
    """The appointment's live draft invoice, locked; a new one if it has none.

    If the appointment's live invoice was issued already, the new lines go on a draft of their own
    (not linked to the appointment: one live invoice per appointment, and an issued one is final).
    """
    live = (
        Invoice.objects.select_for_update(of=("self",))
        .filter(appointment=appointment, kind=InvoiceKind.INVOICE)
        .exclude(status=InvoiceStatus.VOID)
        .first()
    )
    if live is not None and live.status == InvoiceStatus.DRAFT:
        return live
    return new_draft(
        practice=appointment.practice,
        client=appointment.client,
        therapist=appointment.therapist,
        appointment=appointment if live is None else None,
        by=by,
    )


def new_draft(
    *,
    practice: Practice,
    client: Client,
    therapist: Therapist | None,
    appointment: Appointment | None,
    by: User | None,
) -> Invoice:
    return Invoice.objects.create(
        practice=practice,
        client=client,
        therapist=therapist,
        appointment=appointment,
        currency=practice.currency,
        created_by=by,
    )


def add_line(invoice: Invoice, spec: LineSpec) -> InvoiceLine:
    """Append one line, rounded half-up once (sessions/billing/money.py), and refresh totals."""
    rate = spec.service.tax_rate if spec.service is not None and spec.taxed else None
    amounts = line_amounts(
        unit_price=spec.unit_price,
        quantity=1,
        tax_percent=rate.percent if rate is not None else ZERO,
        inclusive=rate.inclusive if rate is not None else True,
        currency=invoice.currency,
    )
    last = invoice.lines.order_by("-position").values_list("position", flat=True).first()
    line = InvoiceLine.objects.create(
        invoice=invoice,
        position=(last or 0) + 1,
        kind=spec.kind,
        description=spec.description[:300],
        service=spec.service,
        appointment=spec.appointment,
        treatment_date=spec.treatment_date,
        unit_price=spec.unit_price,
        tax_name=rate.name if rate is not None else "",
        tax_percent=rate.percent if rate is not None else ZERO,
        tax_inclusive=rate.inclusive if rate is not None else True,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
    )
    refresh_totals(invoice)
    return line


def zero_line(line: InvoiceLine, invoice: Invoice) -> None:
    """A waived line keeps its words and shows nothing owed (`invoice`: its draft, locked)."""
    InvoiceLine.objects.filter(pk=line.pk).update(unit_price=ZERO, net=ZERO, tax=ZERO, total=ZERO)
    refresh_totals(invoice)


def refresh_totals(invoice: Invoice) -> None:
    sums = invoice.lines.aggregate(net=Sum("net"), tax=Sum("tax"), total=Sum("total"))
    invoice.subtotal = sums["net"] or ZERO
    invoice.tax_total = sums["tax"] or ZERO
    invoice.total = sums["total"] or ZERO
    invoice.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])


def service_line(appointment: Appointment, *, covered_by_package: bool) -> LineSpec:
    """The line of a completed appointment: its service at its price, or at zero when a package
    session covers it (the package's own invoice carried the money)."""
    service = appointment.service
    suffix = " (covered by package)" if covered_by_package else ""
    return LineSpec(
        kind=LineKind.SERVICE,
        description=f"{service.name}{suffix}",
        unit_price=ZERO if covered_by_package else service.price,
        service=service,
        appointment=appointment,
        treatment_date=appointment.start.astimezone(appointment.practice.tz).date(),
    )
