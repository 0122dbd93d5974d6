"""Online payment providers (issue 19.3): one small interface, `manual` (the default: no online
payment, nothing touches a network) and Stripe (PaymentIntents, confirmed by Stripe's signed
webhook). Chosen by settings.PAYMENT_PROVIDER; tests replace `StripeProvider.transport`.

Stripe is spoken to over its plain HTTPS form API, without its SDK: creating a PaymentIntent is
one POST, and its webhook signature is HMAC-SHA256 of "{t}.{body}" under the endpoint secret,
sent as `Stripe-Signature: t=<unix>,v1=<hex>` (https://docs.stripe.com/webhooks#verify-manually).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from django.conf import settings

from practice.errors import Invalid, PreconditionFailed
from sessions.billing import money
from sessions.billing.models import Invoice


@dataclass(frozen=True)
class Intent:
    """A started online payment: the provider's reference and what the payer's browser needs."""

    reference: str
    client_secret: str


@dataclass(frozen=True)
class ProviderEvent:
    """A verified provider webhook, reduced to what billing acts on."""

    kind: str  # "succeeded" | "failed" | "ignored"
    reference: str = ""
    amount: Decimal | None = None
    currency: str = ""


class BadSignature(Invalid):
    """A provider webhook whose signature does not verify: refused, nothing written."""


class PaymentProvider(Protocol):
    name: str

    def start(self, *, invoice: Invoice, amount: Decimal, key: str) -> Intent: ...

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...


class ManualProvider:
    """Payments are recorded by staff (cash, terminal, transfer); no online payment."""

    name = "manual"

    def start(self, *, invoice: Invoice, amount: Decimal, key: str) -> Intent:
        raise PreconditionFailed("This practice does not take online payments.")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        raise BadSignature("No payment provider sends webhooks here.")


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit, as Stripe counts it (12.34 EUR -> 1234)."""
    return int(money.quantize(amount, currency).scaleb(money.minor_units(currency)))


def from_minor(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-money.minor_units(currency))


Transport = Callable[[str, dict[str, str], dict[str, str]], dict[str, Any]]


def _https_post(url: str, form: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the URL is Stripe's, from settings
        url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def verify_stripe_signature(
    *, body: bytes, header: str, secret: str, tolerance: int, now: float | None = None
) -> None:
    """Stripe's scheme: any `v1` equal to HMAC-SHA256(secret, "{t}.{body}"), `t` recent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as error:
        raise BadSignature("Stripe-Signature has no timestamp.") from error
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise BadSignature("Stripe-Signature does not match.")
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        raise BadSignature("Stripe-Signature is too old.")


class StripeProvider:
    name = "stripe"
    transport: ClassVar[Transport] = staticmethod(_https_post)  # type: ignore[assignment]

    def start(self, *, invoice: Invoice, amount: Decimal, key: str) -> Intent:
        """Create a PaymentIntent for `amount` of the invoice (Idempotency-Key: one per try)."""
        if not settings.STRIPE_SECRET_KEY:
            raise PreconditionFailed("Stripe is not configured.")
        token = base64.b64encode(f"{settings.STRIPE_SECRET_KEY}:".encode()).decode()
        answer = type(self).transport(
            f"{settings.STRIPE_API_URL}/v1/payment_intents",
            {
                "amount": str(to_minor(amount, invoice.currency)),
                "currency": invoice.currency.lower(),
                "automatic_payment_methods[enabled]": "true",
                "metadata[invoice]": str(invoice.pk),
                "metadata[practice]": str(invoice.practice_id),
            },
            {"Authorization": f"Basic {token}", "Idempotency-Key": key},
        )
        return Intent(reference=answer["id"], client_secret=answer.get("client_secret", ""))

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        if not settings.STRIPE_WEBHOOK_SECRET:
            raise BadSignature("Stripe webhooks are not configured.")
        verify_stripe_signature(
            body=body,
            header=headers.get("Stripe-Signature", ""),
            secret=settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        try:
            event = json.loads(body)
            intent = event["data"]["object"]
            kind = {
                "payment_intent.succeeded": "succeeded",
                "payment_intent.payment_failed": "failed",
            }.get(event["type"], "ignored")
            if kind == "ignored" or intent.get("object") != "payment_intent":
                return ProviderEvent(kind="ignored")
            currency = str(intent["currency"]).upper()
            received = intent.get("amount_received") or intent["amount"]
            return ProviderEvent(
                kind=kind,
                reference=str(intent["id"]),
                amount=from_minor(int(received), currency)
                if currency in money.MINOR_UNITS
                else None,
                currency=currency,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise Invalid("The provider's event could not be read.") from error


PROVIDERS: dict[str, type[ManualProvider] | type[StripeProvider]] = {
    "manual": ManualProvider,
    "stripe": StripeProvider,
}


def provider(name: str | None = None) -> PaymentProvider:
    """The configured provider (settings.PAYMENT_PROVIDER), or the one named."""
    return PROVIDERS[name or settings.PAYMENT_PROVIDER]()
