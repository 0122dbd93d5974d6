"""Services that record money received and given back (issue 19.3; docs/money.md).

Every write locks the invoice's row first, so racing payments and refunds of one invoice queue:
`paid` (payments - refunds) never exceeds what is owed (a check constraint says so too) and a
payment is never refunded beyond its amount.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from practice.errors import Invalid, InvalidTransition, PreconditionFailed
from practice.models import AuditAction, User
from practice.webhooks import record_event
from sessions.billing import money, providers
from sessions.billing.invoices import audit_money, lock_invoice, settle
from sessions.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)


def check_amount(amount: Decimal, currency: str, *, field: str = "amount") -> None:
    """Positive, and no finer than the currency's minor units (0.005 EUR, 1.5 JPY are 400)."""
    if amount <= 0:
        raise Invalid.on(field, "The amount must be above zero.", "min_value")
    if not money.fits(amount, currency):
        raise Invalid.on(
            field, f"{currency} amounts have {money.minor_units(currency)} decimals.", "decimals"
        )


def _check_payable(invoice: Invoice, amount: Decimal, currency: str) -> None:
    if currency != invoice.currency:
        raise Invalid.on(
            "currency", f"This invoice is in {invoice.currency}, not {currency}.", "currency"
        )
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvalidTransition("A credit note is not paid.")
    if invoice.status == InvoiceStatus.VOID:
        raise InvalidTransition("A void invoice cannot be paid.")
    if invoice.status == InvoiceStatus.DRAFT:
        raise PreconditionFailed("Issue the invoice before recording a payment.")
    check_amount(amount, currency)
    if amount > invoice.balance:
        raise Invalid.on(
            "amount",
            f"Only {invoice.balance} {invoice.currency} is owed on this invoice.",
            "max_value",
        )


def payment_event(payment: Payment) -> None:
    record_event(
        practice=payment.practice_id,
        type="payment.recorded",
        data={
            "id": payment.pk,
            "invoice": payment.invoice_id,
            "client": payment.client_id,
            "kind": payment.kind,
            "method": payment.method,
            "amount": str(money.quantize(payment.amount, payment.currency)),
            "currency": payment.currency,
            "received_at": payment.received_at,
        },
    )


def apply_payment(invoice: Invoice, payment: Payment, actor: User | None) -> None:
    """Count a succeeded payment or refund on its (locked) invoice, audit it, announce it."""
    sign = 1 if payment.kind == PaymentKind.PAYMENT else -1
    invoice.paid += sign * payment.amount
    settle(invoice)
    invoice.save(update_fields=["paid", "status", "paid_at", "updated_at"])
    audit_money(
        practice=invoice.practice,
        action=AuditAction.CREATE,
        record_type="payment",
        record_id=payment.pk,
        client_id=payment.client_id,
        actor=actor,
    )
    payment_event(payment)


@transaction.atomic
def record_payment(
    *,
    invoice: Invoice,
    amount: Decimal,
    currency: str,
    method: str,
    actor: User | None,
    reference: str = "",
    received_at: datetime | None = None,
) -> Payment:
    """Money received for an issued invoice, in part or in full (issue 19.3): in the invoice's
    currency (400 otherwise), never more than is owed (400), never on a void invoice (409)."""
    invoice = lock_invoice(invoice)
    _check_payable(invoice, amount, currency)
    if method == PaymentMethod.PROVIDER and not reference:
        raise Invalid.on("reference", "A provider payment names the provider's reference.")
    payment = Payment.objects.create(
        practice_id=invoice.practice_id,
        invoice=invoice,
        client_id=invoice.client_id,
        kind=PaymentKind.PAYMENT,
        method=method,
        amount=amount,
        currency=currency,
        reference=reference,
        provider="manual",
        received_at=received_at or timezone.now(),
        recorded_by=actor if isinstance(actor, User) else None,
    )
    apply_payment(invoice, payment, actor)
    return payment


def refundable(payment: Payment) -> Decimal:
    """What of a payment has not been refunded yet."""
    refunded = payment.refunds.filter(status=PaymentStatus.SUCCEEDED).aggregate(total=Sum("amount"))
    return payment.amount - (refunded["total"] or Decimal(0))


@transaction.atomic
def refund_payment(
    *, payment: Payment, amount: Decimal, reason: str, actor: User | None
) -> Payment:
    """Give back part or all of a payment (owners only, issue 19.3): never more than was paid
    and not yet refunded (400); a paid invoice becomes issued again when it is owed money."""
    invoice = lock_invoice(payment.invoice)
    payment = Payment.objects.get(pk=payment.pk)
    if payment.kind != PaymentKind.PAYMENT or payment.status != PaymentStatus.SUCCEEDED:
        raise InvalidTransition("Only a received payment can be refunded.")
    check_amount(amount, payment.currency)
    left = refundable(payment)
    if amount > left:
        raise Invalid.on(
            "amount",
            f"At most {left} {payment.currency} of this payment can be refunded.",
            "max_value",
        )
    refund = Payment.objects.create(
        practice_id=payment.practice_id,
        invoice=invoice,
        client_id=payment.client_id,
        kind=PaymentKind.REFUND,
        refund_of=payment,
        method=payment.method,
        amount=amount,
        currency=payment.currency,
        provider=payment.provider,
        reason=reason,
        received_at=timezone.now(),
        recorded_by=actor if isinstance(actor, User) else None,
    )
    apply_payment(invoice, refund, actor)
    return refund


@transaction.atomic
def start_online_payment(
    *, invoice: Invoice, amount: Decimal | None, actor: User | None
) -> tuple[Payment, str]:
    """Start paying an issued invoice online through the provider (issue 19.3): a `pending`
    payment that counts only when the provider's signed webhook confirms it. Answers the payment
    and the secret the payer's browser completes it with."""
    invoice = lock_invoice(invoice)
    amount = invoice.balance if amount is None else amount
    _check_payable(invoice, amount, invoice.currency)
    chosen = providers.provider()
    payment = Payment.objects.create(
        practice_id=invoice.practice_id,
        invoice=invoice,
        client_id=invoice.client_id,
        kind=PaymentKind.PAYMENT,
        method=PaymentMethod.PROVIDER,
        status=PaymentStatus.PENDING,
        amount=amount,
        currency=invoice.currency,
        provider=chosen.name,
        received_at=timezone.now(),
        recorded_by=actor if isinstance(actor, User) else None,
    )
    intent = chosen.start(invoice=invoice, amount=amount, key=f"backcare-payment-{payment.pk}")
    payment.provider_reference = intent.reference
    payment.save(update_fields=["provider_reference", "updated_at"])
    audit_money(
        practice=invoice.practice,
        action=AuditAction.CREATE,
        record_type="payment",
        record_id=payment.pk,
        client_id=payment.client_id,
        actor=actor,
    )
    return payment, intent.client_secret


@transaction.atomic
def confirm_provider_payment(
    *, provider_name: str, event: providers.ProviderEvent
) -> Payment | None:
    """Apply a verified provider webhook: a pending payment succeeds (and counts) or fails.
    Providers retry webhooks, so a payment already settled is left as it is."""
    payment = (
        Payment.objects.filter(provider=provider_name, provider_reference=event.reference)
        .select_related("invoice")
        .first()
    )
    if payment is None or event.kind == "ignored":
        return None
    invoice = lock_invoice(payment.invoice)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != PaymentStatus.PENDING:
        return payment
    if event.kind == "failed":
        payment.status = PaymentStatus.FAILED
        payment.save(update_fields=["status", "updated_at"])
        return payment
    if event.currency != payment.currency or event.amount != payment.amount:
        raise Invalid("The provider confirmed another amount than was asked for.")
    if invoice.status == InvoiceStatus.VOID or payment.amount > invoice.balance:
        # Voided or paid meanwhile by other means: the money arrived, so it is kept (pending,
        # never counted) for an owner to refund through the provider.
        payment.reason = "Received when nothing more was owed: refund it through the provider."
        payment.save(update_fields=["reason", "updated_at"])
        return payment
    payment.status = PaymentStatus.SUCCEEDED
    payment.received_at = timezone.now()
    payment.save(update_fields=["status", "received_at", "updated_at"])
    apply_payment(invoice, payment, None)
    return payment
