"""Online payment providers (issue 19.3): `manual` by default (no network), Stripe through
PaymentIntents confirmed by its signed webhook. Stripe's answers are recorded payloads
(tests/sessions/stripe/); nothing here touches a network."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from sessions.billing import invoices
from sessions.billing.invoices import LineInput
from sessions.billing.models import Invoice, Payment
from sessions.billing.providers import (
    BadSignature,
    StripeProvider,
    from_minor,
    to_minor,
    verify_stripe_signature,
)

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "stripe"
SECRET = "whsec_test_5f1c0d8e2b"
WEBHOOK = "/api/v1/billing/providers/stripe/webhook/"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@pytest.fixture
def stripe(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_abc"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    calls: list[tuple[str, dict, dict]] = []

    def transport(url: str, form: dict, headers: dict) -> dict:
        calls.append((url, form, headers))
        return recorded("payment_intent_created")

    monkeypatch.setattr(StripeProvider, "transport", staticmethod(transport))
    return calls


@pytest.fixture
def invoice(practice, client_member) -> Invoice:
    draft = invoices.create_invoice(
        practice=practice,
        client=client_member.user.client,
        lines=[LineInput(description="Massage", unit_price=Decimal("80.00"))],
        actor=None,
    )
    return invoices.issue_invoice(invoice=draft, actor=None)


def _post_event(anon, payload: dict, **headers):
    body = json.dumps(payload).encode()
    signature = headers.pop("signature", None) or signed(body)
    return anon.post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def test_minor_units_for_stripe():
    assert to_minor(Decimal("80.00"), "EUR") == 8000
    assert to_minor(Decimal(5500), "JPY") == 5500
    assert to_minor(Decimal("1.250"), "KWD") == 1250
    assert from_minor(8000, "EUR") == Decimal("80.00")


def test_manual_provider_takes_no_online_payment(client_member, invoice):
    answer = client_member.api.post(f"/api/v1/invoices/{invoice.pk}/pay-online/", {}, format="json")
    assert answer.status_code == 409
    assert not Payment.objects.exists()


def test_a_client_pays_online_and_the_signed_webhook_confirms_it(
    stripe, client_member, invoice, anon
):
    answer = client_member.api.post(f"/api/v1/invoices/{invoice.pk}/pay-online/", {}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["client_secret"].startswith("pi_3QJx2bLkdIwHu7ix0X9rT4aB_secret")
    ((url, form, headers),) = stripe
    assert url.endswith("/v1/payment_intents")
    assert (form["amount"], form["currency"]) == ("8000", "eur")
    assert headers["Idempotency-Key"].startswith("backcare-payment-")
    payment = Payment.objects.get()
    assert (payment.status, payment.provider_reference) == (
        "pending",
        "pi_3QJx2bLkdIwHu7ix0X9rT4aB",
    )
    invoice.refresh_from_db()
    assert invoice.paid == 0  # a pending payment does not count

    confirmed = _post_event(anon, recorded("payment_intent_succeeded"))
    assert confirmed.status_code == 200, confirmed.json()
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == "succeeded"
    assert (invoice.status, invoice.paid) == ("paid", Decimal("80.00"))
    # Stripe retries webhooks: the same event again changes nothing
    assert _post_event(anon, recorded("payment_intent_succeeded")).status_code == 200
    invoice.refresh_from_db()
    assert invoice.paid == Decimal("80.00")


def test_a_failed_payment_intent_marks_the_payment_failed(stripe, client_member, invoice, anon):
    client_member.api.post(f"/api/v1/invoices/{invoice.pk}/pay-online/", {}, format="json")
    assert _post_event(anon, recorded("payment_intent_payment_failed")).status_code == 200
    assert Payment.objects.get().status == "failed"
    invoice.refresh_from_db()
    assert invoice.paid == 0


@pytest.mark.parametrize(
    "signature",
    [
        "t=1,v1=00",
        "v1=abc",
        "garbage",
        signed(b"another body"),
        signed(json.dumps(recorded("payment_intent_succeeded")).encode(), secret="whsec_wrong"),
    ],
)
def test_a_webhook_whose_signature_does_not_verify_is_400_and_changes_nothing(
    stripe, client_member, invoice, anon, signature
):
    client_member.api.post(f"/api/v1/invoices/{invoice.pk}/pay-online/", {}, format="json")
    answer = _post_event(anon, recorded("payment_intent_succeeded"), signature=signature)
    assert answer.status_code == 400
    assert Payment.objects.get().status == "pending"


def test_an_old_signature_is_refused():
    body = b"{}"
    with pytest.raises(BadSignature):
        verify_stripe_signature(
            body=body, header=signed(body, at=1_000), secret=SECRET, tolerance=300, now=2_000
        )
    verify_stripe_signature(
        body=body, header=signed(body, at=1_900), secret=SECRET, tolerance=300, now=2_000
    )


def test_other_events_are_acknowledged_and_ignored(stripe, anon):
    assert _post_event(anon, recorded("charge_refunded")).status_code == 200


def test_the_manual_provider_has_no_webhook(anon):
    answer = anon.post(
        "/api/v1/billing/providers/manual/webhook/", b"{}", content_type="application/json"
    )
    assert answer.status_code == 400
    unknown = anon.post(
        "/api/v1/billing/providers/paypal/webhook/", b"{}", content_type="application/json"
    )
    assert unknown.status_code == 400


def test_a_confirmation_for_a_voided_invoice_is_kept_aside_not_counted(
    stripe, client_member, owner, invoice, anon
):
    client_member.api.post(f"/api/v1/invoices/{invoice.pk}/pay-online/", {}, format="json")
    invoices.void_invoice(invoice=invoice, reason="Issued by mistake", actor=owner.user)
    assert _post_event(anon, recorded("payment_intent_succeeded")).status_code == 200
    payment = Payment.objects.get()
    assert payment.status == "pending"
    assert "refund" in payment.reason
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid) == ("void", 0)
