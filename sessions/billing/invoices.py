"""Services that write invoices (issue 19.2; docs/money.md): drafts, lines, issuing with a
gapless number, voiding, credit notes. Each is one transaction and audited.

Numbers are given when an invoice is issued, not when it is drafted: issued invoices (and credit
notes, which share the sequence) are numbered 1, 2, 3 ... per practice without gaps, the usual
legal rule. The practice's counter row is locked (SELECT ... FOR UPDATE) by the issuing
transaction, so racing issues queue on it and a rollback gives the number back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clients.models import Client
from practice.audit import audit
from practice.errors import Invalid, InvalidTransition, InvoiceLocked, PreconditionFailed
from practice.models import AuditAction, Practice, Service, TaxRate, Therapist, User
from practice.webhooks import record_event
from sessions.billing import money
from sessions.billing.models import (
    INVOICE_TRANSITIONS,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    LineKind,
    PackageUse,
)
from sessions.scheduling.models import Appointment, Status


@dataclass(frozen=True)
class LineInput:
    """One line to write. `unit_price` and `tax_rate` default to the service's when left out."""

    description: str = ""
    service: Service | None = None
    appointment: Appointment | None = None
    quantity: int = 1
    unit_price: Decimal | None = None
    tax_rate: TaxRate | None = None
    kind: str = LineKind.SERVICE
    treatment_date: date | None = None


def audit_money(
    *,
    practice: Practice,
    action: str,
    record_type: str,
    record_id: int,
    client_id: int | None,
    actor: User | None,
) -> None:
    """Every money write is in the access log (issue 19 "audited"), named by its record type."""
    audit(
        practice=practice,
        action=action,
        record_type=record_type,
        record_ids=[record_id],
        actor=actor if isinstance(actor, User) else None,
        client_ids=[client_id],
    )


def audit_invoice(invoice: Invoice, action: str, actor: User | None) -> None:
    """An invoice's write in the access log (`audit_money` for the invoice itself)."""
    audit_money(
        practice=invoice.practice,
        action=action,
        record_type="invoice",
        record_id=invoice.pk,
        client_id=invoice.client_id,
        actor=actor,
    )


def _line(invoice: Invoice, position: int, given: LineInput) -> InvoiceLine:
    service = given.service
    unit_price = given.unit_price
    if unit_price is None:
        if service is None:
            raise Invalid.on("lines", "A line without a service needs a unit_price.")
        unit_price = service.price
    tax_rate = given.tax_rate if given.tax_rate is not None else getattr(service, "tax_rate", None)
    currency = invoice.currency
    if not money.fits(unit_price, currency):
        raise Invalid.on(
            "lines", f"{unit_price} has more decimals than {currency} allows.", "decimals"
        )
    if unit_price < 0:
        raise Invalid.on("lines", "A price cannot be negative.", "min_value")
    percent = tax_rate.percent if tax_rate is not None else Decimal(0)
    inclusive = tax_rate.inclusive if tax_rate is not None else True
    amounts = money.line_amounts(
        unit_price=unit_price,
        quantity=given.quantity,
        tax_percent=percent,
        inclusive=inclusive,
        currency=currency,
    )
    appointment = given.appointment
    treatment_date = given.treatment_date
    if treatment_date is None and appointment is not None:
        treatment_date = timezone.localtime(appointment.start, invoice.practice.tz).date()
    return InvoiceLine(
        invoice=invoice,
        position=position,
        kind=given.kind,
        description=given.description or (service.name if service else ""),
        service=service,
        appointment=appointment,
        treatment_date=treatment_date,
        quantity=given.quantity,
        unit_price=unit_price,
        tax_name=tax_rate.name if tax_rate is not None else "",
        tax_percent=percent,
        tax_inclusive=inclusive,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
    )


def _retotal(invoice: Invoice) -> None:
    """The invoice's totals are the sums of its rounded lines (docs/money.md)."""
    lines = list(invoice.lines.all())
    invoice.subtotal = sum((line.net for line in lines), Decimal(0))
    invoice.tax_total = sum((line.tax for line in lines), Decimal(0))
    invoice.total = sum((line.total for line in lines), Decimal(0))


def _write_lines(invoice: Invoice, lines: list[LineInput], *, start: int = 0) -> None:
    InvoiceLine.objects.bulk_create(
        [_line(invoice, start + index, given) for index, given in enumerate(lines)]
    )
    _retotal(invoice)
    invoice.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])


def _check_editable(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceLocked()


def lock_invoice(invoice: Invoice) -> Invoice:
    """The invoice's row, locked for this transaction: payments, refunds and status changes of
    one invoice queue here, so `paid` never counts a refund twice."""
    return Invoice.objects.select_for_update().select_related("practice").get(pk=invoice.pk)


@transaction.atomic
def create_invoice(
    *,
    practice: Practice,
    client: Client,
    lines: list[LineInput],
    actor: User | None,
    appointment: Appointment | None = None,
    therapist: Therapist | None = None,
    due_date: date | None = None,
    notes: str = "",
) -> Invoice:
    """A draft invoice in the practice's currency, one line per service or fee (issue 19.2)."""
    if client.practice_id != practice.pk:
        raise Invalid.on("client", "Invalid pk - object does not exist.", "does_not_exist")
    if appointment is not None and appointment.client_id != client.pk:
        raise Invalid.on("appointment", "This appointment is not the client's.")
    invoice = Invoice(
        practice=practice,
        client=client,
        appointment=appointment,
        therapist=therapist or (appointment.therapist if appointment else None),
        currency=practice.currency,
        due_date=due_date,
        notes=notes,
        created_by=actor if isinstance(actor, User) else None,
    )
    try:
        with transaction.atomic():
            invoice.save()
    except IntegrityError as error:  # invoice_one_live_per_appointment
        raise PreconditionFailed("This appointment already has an invoice.") from error
    _write_lines(invoice, lines)
    audit_invoice(invoice, AuditAction.CREATE, actor)
    return invoice


def appointment_lines(appointment: Appointment) -> list[LineInput]:
    """What a visit bills: its service at the service's price and tax rate, or at zero when it
    drew a package session (issue 19.4: the package's own invoice carried the money)."""
    service = appointment.service
    if PackageUse.objects.filter(appointment=appointment, returned_at__isnull=True).exists():
        return [
            LineInput(
                service=service,
                appointment=appointment,
                unit_price=Decimal(0),
                description=f"{service.name} (covered by package)",
            )
        ]
    return [LineInput(service=service, appointment=appointment)]


@transaction.atomic
def invoice_appointment(*, appointment: Appointment, actor: User | None) -> Invoice:
    """The appointment's live invoice, drafting it on first call (completion, or on demand):
    completing or asking twice never bills twice (unique constraint on live invoices)."""
    existing = (
        Invoice.objects.filter(appointment=appointment, kind=InvoiceKind.INVOICE)
        .exclude(status=InvoiceStatus.VOID)
        .first()
    )
    if existing is not None:
        return existing
    if appointment.status != Status.COMPLETED:
        raise PreconditionFailed("Only a completed appointment is invoiced for its service.")
    return create_invoice(
        practice=appointment.practice,
        client=appointment.client,
        appointment=appointment,
        lines=appointment_lines(appointment),
        actor=actor,
    )


@transaction.atomic
def update_draft(
    *, invoice: Invoice, actor: User | None, fields: dict, lines: list[LineInput] | None
) -> Invoice:
    """Change a draft (`notes`, `due_date`, lines replaced when given); issued ones are 409."""
    invoice = lock_invoice(invoice)
    _check_editable(invoice)
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.save()
    if lines is not None:
        invoice.lines.all().delete()
        _write_lines(invoice, lines)
    audit_invoice(invoice, AuditAction.UPDATE, actor)
    return invoice


@transaction.atomic
def add_line(*, invoice: Invoice, line: LineInput, actor: User | None) -> InvoiceLine:
    """Append a line (a service, a fee) to a draft; issued invoices are 409 (issue 19.2)."""
    invoice = lock_invoice(invoice)
    _check_editable(invoice)
    position = invoice.lines.order_by("-position").values_list("position", flat=True).first()
    written = _line(invoice, 0 if position is None else position + 1, line)
    written.save()
    _retotal(invoice)
    invoice.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])
    audit_invoice(invoice, AuditAction.UPDATE, actor)
    return written


def _next_number(practice_id: int) -> int:
    """The next number of the practice's sequence, its counter row locked until commit."""
    InvoiceSequence.objects.get_or_create(practice_id=practice_id)
    sequence = InvoiceSequence.objects.select_for_update().get(practice_id=practice_id)
    sequence.last_number = F("last_number") + 1
    sequence.save(update_fields=["last_number"])
    sequence.refresh_from_db(fields=["last_number"])
    return sequence.last_number


def _issue_event(invoice: Invoice) -> None:
    record_event(
        practice=invoice.practice_id,
        type="invoice.issued",
        data={
            "id": invoice.pk,
            "number": invoice.display_number,
            "kind": invoice.kind,
            "client": invoice.client_id,
            "appointment": invoice.appointment_id,
            "currency": invoice.currency,
            "total": str(money.quantize(invoice.total, invoice.currency)),
            "issued_at": invoice.issued_at,
        },
    )


@transaction.atomic
def issue_invoice(*, invoice: Invoice, actor: User | None) -> Invoice:
    """draft -> issued with the next gapless number (module docstring); from then on immutable."""
    invoice = lock_invoice(invoice)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidTransition(f"An invoice that is {invoice.status} cannot be issued.")
    if invoice.total <= 0 and invoice.kind == InvoiceKind.INVOICE:
        raise Invalid.on("lines", "An invoice needs at least one line with an amount.", "empty")
    invoice.number = _next_number(invoice.practice_id)
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = timezone.now()
    invoice.save(update_fields=["number", "status", "issued_at", "updated_at"])
    audit_invoice(invoice, AuditAction.UPDATE, actor)
    _issue_event(invoice)
    return invoice


def move(invoice: Invoice, to: str) -> None:
    """Check a status change against INVOICE_TRANSITIONS (409 invalid_transition otherwise)."""
    if to not in INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise InvalidTransition(f"An invoice that is {invoice.status} cannot become {to}.")
    invoice.status = to


def settle(invoice: Invoice) -> None:
    """issued <-> paid as the balance reaches or leaves zero (payments, refunds, credit notes)."""
    if invoice.status == InvoiceStatus.ISSUED and invoice.balance == 0:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = timezone.now()
    elif invoice.status == InvoiceStatus.PAID and invoice.balance > 0:
        invoice.status = InvoiceStatus.ISSUED
        invoice.paid_at = None


@transaction.atomic
def void_invoice(*, invoice: Invoice, reason: str, actor: User | None) -> Invoice:
    """Owners void a draft or an unpaid issued invoice (issue 19.2); its number stays used, so
    the sequence keeps no gap. Money received must be refunded first (409)."""
    invoice = lock_invoice(invoice)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise InvalidTransition("A credit note cannot be voided.")
    if invoice.paid > 0:
        raise PreconditionFailed("Refund the payments before voiding this invoice.")
    if invoice.credited > 0:
        raise PreconditionFailed("This invoice has credit notes; it cannot be voided.")
    move(invoice, InvoiceStatus.VOID)
    invoice.void_reason = reason
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "void_reason", "voided_at", "updated_at"])
    audit_invoice(invoice, AuditAction.UPDATE, actor)
    return invoice


@transaction.atomic
def credit_invoice(
    *, invoice: Invoice, lines: list[LineInput], reason: str, actor: User | None
) -> Invoice:
    """A credit note against an issued invoice (the correction of an immutable one), issued at
    once with the next number. It credits at most what is still owed: money already received is
    given back by a refund (docs/money.md)."""
    invoice = lock_invoice(invoice)
    if invoice.kind != InvoiceKind.INVOICE or invoice.status not in (
        InvoiceStatus.ISSUED,
        InvoiceStatus.PAID,
    ):
        raise InvalidTransition("Only an issued invoice can be credited.")
    note = Invoice.objects.create(
        practice=invoice.practice,
        kind=InvoiceKind.CREDIT_NOTE,
        credits=invoice,
        client=invoice.client,
        therapist=invoice.therapist,
        currency=invoice.currency,
        notes=reason,
        created_by=actor if isinstance(actor, User) else None,
    )
    _write_lines(note, lines)
    if note.total <= 0:
        raise Invalid.on("lines", "A credit note needs an amount above zero.", "min_value")
    if note.total > invoice.balance:
        raise Invalid.on(
            "lines",
            f"At most {invoice.balance} {invoice.currency} is still owed; refund the rest.",
            "max_value",
        )
    invoice.credited += note.total
    settle(invoice)
    invoice.save(update_fields=["credited", "status", "paid_at", "updated_at"])
    note = issue_invoice(invoice=note, actor=actor)
    audit_invoice(invoice, AuditAction.UPDATE, actor)
    return note
