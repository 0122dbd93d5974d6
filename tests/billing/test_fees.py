"""Cancellation fees (issue 19.5; DOMAIN.md 6): a late cancellation or no-show adds a fee line,
percent of the service price half-up, to a draft invoice; owners waive it with a reason (audited),
and the line stays visible as waived. The public page shows the policy before booking."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from practice.models import AuditEvent, Practice
from sessions.billing.models import (
    CancellationFee,
    FeeKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from sessions.scheduling.models import Status
from tests.billing.money_setup import appointment
from tests.factories import ClientFactory, ServiceFactory

pytestmark = pytest.mark.django_db

FEES = "/api/v1/fees/"


@pytest.fixture
def service(practice):
    return ServiceFactory(practice=practice, name="Deep tissue 60", price=Decimal("45.55"))


def booked_soon(practice, service, hours: int = 3, client=None):
    return appointment(
        practice,
        client=client or ClientFactory(practice=practice),
        service=service,
        status=Status.BOOKED,
        start=timezone.now() + timedelta(hours=hours),
    )


def test_a_late_cancellation_adds_half_the_price_rounded_half_up(front_desk, practice, service):
    visit = booked_soon(practice, service)

    response = front_desk.api.post(
        f"/api/v1/appointments/{visit.pk}/cancel/", {"reason": "Sick"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["late_cancellation"] is True
    fee = CancellationFee.objects.get(appointment=visit)
    assert fee.kind == FeeKind.LATE_CANCELLATION
    assert fee.amount == Decimal("22.78")  # 45.55 x 50 % = 22.775, half-up
    line = InvoiceLine.objects.get(appointment=visit)
    assert line.kind == LineKind.FEE
    assert line.total == Decimal("22.78")
    invoice = line.invoice
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.total == Decimal("22.78")
    assert invoice.client_id == visit.client_id


def test_a_no_show_adds_the_full_fee(therapist, practice, service):
    visit = booked_soon(practice, service)

    response = therapist.api.post(f"/api/v1/appointments/{visit.pk}/no-show/")

    assert response.status_code == 200
    fee = CancellationFee.objects.get(appointment=visit)
    assert (fee.kind, fee.percent, fee.amount) == (FeeKind.NO_SHOW, 100, Decimal("45.55"))


def test_the_practices_own_percent_is_used(therapist, practice, service):
    Practice.objects.filter(pk=practice.pk).update(no_show_fee_percent=75)
    visit = booked_soon(practice, service)

    therapist.api.post(f"/api/v1/appointments/{visit.pk}/no-show/")

    assert CancellationFee.objects.get(appointment=visit).amount == Decimal("34.16")  # 34.1625


def test_a_cancellation_outside_the_window_costs_nothing(front_desk, practice, service):
    visit = booked_soon(practice, service, hours=72)

    front_desk.api.post(f"/api/v1/appointments/{visit.pk}/cancel/", {"reason": "x"}, format="json")

    assert not CancellationFee.objects.exists()
    assert not Invoice.objects.exists()


def test_a_zero_percent_policy_charges_nothing(therapist, practice, service):
    Practice.objects.filter(pk=practice.pk).update(no_show_fee_percent=0)
    visit = booked_soon(practice, service)

    therapist.api.post(f"/api/v1/appointments/{visit.pk}/no-show/")

    assert not CancellationFee.objects.exists()
    assert not InvoiceLine.objects.exists()


def test_staff_and_the_client_see_the_fee(members, practice, service):
    visit = booked_soon(practice, service, client=members["client"].user.client)
    someone_else = booked_soon(practice, service, hours=5)
    for booked in (visit, someone_else):
        members["therapist"].api.post(f"/api/v1/appointments/{booked.pk}/no-show/")

    staff_view = members["front_desk"].api.get(FEES).json()["results"]
    own_view = members["client"].api.get(FEES).json()["results"]

    assert len(staff_view) == 2
    assert [row["appointment"] for row in own_view] == [visit.pk]
    assert own_view[0]["amount"] == "45.55"
    assert own_view[0]["waived"] is False


# --- waiving --------------------------------------------------------------------------------------


@pytest.fixture
def fee(therapist, practice, service) -> CancellationFee:
    visit = booked_soon(practice, service)
    therapist.api.post(f"/api/v1/appointments/{visit.pk}/no-show/")
    return CancellationFee.objects.get(appointment=visit)


def test_owner_waives_a_fee_with_a_reason_and_it_stays_visible(owner, fee):
    response = owner.api.post(
        f"{FEES}{fee.pk}/waive/", {"reason": "Family emergency"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["waived"] is True
    assert body["waive_reason"] == "Family emergency"
    assert body["amount"] == "45.55"  # what was waived
    line = InvoiceLine.objects.get(pk=fee.line_id)
    assert line.total == 0
    assert line.description.endswith("(waived)")
    assert Invoice.objects.get(pk=line.invoice_id).total == 0
    logged = AuditEvent.objects.get(record_type="cancellation_fee_waiver")
    assert logged.actor == owner.user
    assert logged.client_id == fee.client_id


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_owners_waive(members, practice, service, role):
    visit = booked_soon(practice, service, client=members["client"].user.client)
    members["therapist"].api.post(f"/api/v1/appointments/{visit.pk}/no-show/")
    fee = CancellationFee.objects.get(appointment=visit)

    response = members[role].api.post(f"{FEES}{fee.pk}/waive/", {"reason": "x"}, format="json")

    assert response.status_code == 403
    assert CancellationFee.objects.get(pk=fee.pk).waived_at is None
    assert InvoiceLine.objects.get(pk=fee.line_id).total == Decimal("45.55")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "ok", "amount": "1"}])
def test_a_waiver_needs_a_reason_and_nothing_else(owner, fee, body):
    response = owner.api.post(f"{FEES}{fee.pk}/waive/", body, format="json")

    assert response.status_code == 400
    assert CancellationFee.objects.get(pk=fee.pk).waived_at is None


def test_a_fee_is_waived_once(owner, fee):
    owner.api.post(f"{FEES}{fee.pk}/waive/", {"reason": "first"}, format="json")

    response = owner.api.post(f"{FEES}{fee.pk}/waive/", {"reason": "second"}, format="json")

    assert response.status_code == 409
    assert CancellationFee.objects.get(pk=fee.pk).waive_reason == "first"


def test_a_fee_on_an_issued_invoice_is_not_waived_in_place(owner, fee):
    Invoice.objects.filter(pk=fee.line.invoice_id).update(
        status=InvoiceStatus.ISSUED, number=1, issued_at=timezone.now()
    )

    response = owner.api.post(f"{FEES}{fee.pk}/waive/", {"reason": "late"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "precondition_failed"
    assert CancellationFee.objects.get(pk=fee.pk).waived_at is None
    assert InvoiceLine.objects.get(pk=fee.line_id).total == Decimal("45.55")


def test_another_practices_fee_is_404(other_owner, fee):
    response = other_owner.api.post(f"{FEES}{fee.pk}/waive/", {"reason": "x"}, format="json")

    assert response.status_code == 404
    assert CancellationFee.objects.get(pk=fee.pk).waived_at is None


# --- the policy, before booking -------------------------------------------------------------------


def test_the_public_page_shows_the_fee_policy(anon, practice):
    Practice.objects.filter(pk=practice.pk).update(
        late_cancel_fee_percent=80, cancellation_window_hours=48
    )

    body = anon.get(f"/api/v1/public/{practice.slug}/").json()

    assert body["cancellation_window_hours"] == 48
    assert body["late_cancel_fee_percent"] == 80
    assert body["no_show_fee_percent"] == 100
