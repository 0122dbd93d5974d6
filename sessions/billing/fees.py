"""Cancellation fees (issue 19.5; DOMAIN.md 6 "cancellation window": a late cancellation costs
50-100 % of the fee, a no-show the full fee, waived at the practice's discretion).

A late cancellation or a no-show adds one fee line, `percent` of the service price rounded half-up
to the currency's minor units, to a draft invoice for the appointment. An owner may waive it with a
reason: the line stays on the invoice at zero, the fee row keeps the amount, who and why, and the
waiver is written to the audit log.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from practice.audit import audit
from practice.errors import InvalidTransition, PreconditionFailed
from practice.models import AuditAction, User
from sessions.billing.invoices import LineInput, add_line, create_invoice
from sessions.billing.models import (
    CancellationFee,
    FeeKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from sessions.billing.money import quantize
from sessions.scheduling.models import Appointment, Status

HUNDRED = Decimal(100)
ZERO = Decimal(0)
LABELS: dict[str, str] = {
    FeeKind.LATE_CANCELLATION: "Late cancellation fee",
    FeeKind.NO_SHOW: "No-show fee",
}


def fee_for(appointment: Appointment) -> tuple[str, int] | None:
    """(kind, percent) the practice charges for how this appointment ended, or None."""
    practice = appointment.practice
    if appointment.status == Status.NO_SHOW:
        return FeeKind.NO_SHOW, practice.no_show_fee_percent
    if appointment.status == Status.CANCELLED and appointment.late_cancellation:
        return FeeKind.LATE_CANCELLATION, practice.late_cancel_fee_percent
    return None


def fee_amount(price: Decimal, percent: int, currency: str) -> Decimal:
    """`percent` of `price`, half-up to the currency's minor units (the one rounding rule)."""
    return quantize(Decimal(price) * percent / HUNDRED, currency)


def charge_fee(*, appointment: Appointment, by: User | None) -> CancellationFee | None:
    """The fee line for a late cancellation or no-show, in the status change's transaction.
    Nothing when the policy's percent is 0 or the service is free; once per appointment."""
    charged = fee_for(appointment)
    if charged is None:
        return None
    kind, percent = charged
    service = appointment.service
    currency = appointment.practice.currency
    amount = fee_amount(service.price, percent, currency)
    if amount <= 0:
        return None
    existing = CancellationFee.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    day = appointment.start.astimezone(appointment.practice.tz).date()
    line = _add_to_draft(
        appointment,
        LineInput(
            kind=LineKind.FEE,
            description=f"{LABELS[kind]}: {percent} % of {service.name} on {day.isoformat()}",
            unit_price=amount,
            service=service,
            appointment=appointment,
            treatment_date=day,
        ),
        by=by,
    )
    return CancellationFee.objects.create(
        practice=appointment.practice,
        client=appointment.client,
        appointment=appointment,
        kind=kind,
        percent=percent,
        amount=amount,
        currency=currency,
        line=line,
    )


def _add_to_draft(appointment: Appointment, line: LineInput, *, by: User | None) -> InvoiceLine:
    """On the appointment's draft invoice; a new draft if it has none. If its invoice was issued
    already (final), the fee goes on a draft of its own, not linked to the appointment."""
    live = (
        Invoice.objects.filter(appointment=appointment, kind=InvoiceKind.INVOICE)
        .exclude(status=InvoiceStatus.VOID)
        .first()
    )
    if live is not None and live.status == InvoiceStatus.DRAFT:
        return add_line(invoice=live, line=line, actor=by)
    invoice = create_invoice(
        practice=appointment.practice,
        client=appointment.client,
        appointment=appointment if live is None else None,
        therapist=appointment.therapist,
        lines=[line],
        actor=by,
    )
    return invoice.lines.get()


def _zero_line(line: InvoiceLine, invoice: Invoice) -> None:
    """A waived line keeps its words, says so, and owes nothing (`invoice`: its draft, locked)."""
    line.description = f"{line.description} (waived)"[:300]
    line.unit_price = line.net = line.tax = line.total = ZERO
    line.save(update_fields=["description", "unit_price", "net", "tax", "total"])
    sums = invoice.lines.aggregate(net=Sum("net"), tax=Sum("tax"), total=Sum("total"))
    invoice.subtotal = sums["net"] or ZERO
    invoice.tax_total = sums["tax"] or ZERO
    invoice.total = sums["total"] or ZERO
    invoice.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])


@transaction.atomic
def waive_fee(*, fee: CancellationFee, reason: str, by: User) -> CancellationFee:
    """Owners waive a fee with a reason (issue 19.5): its line drops to zero on the draft invoice
    and says so; an issued invoice is final, its fee is corrected by a credit note instead."""
    fee = CancellationFee.objects.select_for_update(of=("self",)).get(pk=fee.pk)
    if fee.waived_at is not None:
        raise InvalidTransition("This fee is waived already.")
    line = fee.line
    if line is not None:
        invoice = Invoice.objects.select_for_update().get(pk=line.invoice_id)
        if invoice.status != InvoiceStatus.DRAFT:
            raise PreconditionFailed(
                f"Invoice {invoice.display_number} is {invoice.status}: correct it with a credit "
                "note instead."
            )
        _zero_line(line, invoice)
    fee.waived_at = timezone.now()
    fee.waived_by = by
    fee.waive_reason = reason
    fee.save(update_fields=["waived_at", "waived_by", "waive_reason", "updated_at"])
    audit(
        practice=fee.practice_id,
        actor=by,
        role="owner",
        action=AuditAction.UPDATE,
        record_type="cancellation_fee_waiver",
        record_ids=[fee.pk],
        client_ids=[fee.client_id],
    )
    return fee
