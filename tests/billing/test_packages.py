"""Packages (issue 19.4): products of N sessions, sold to clients (invoiced), drawn by completed
visits in the order of expiry, never below zero, given back when a completion is undone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from practice.models import AuditEvent, Tombstone
from sessions.billing.models import (
    CancellationFee,
    ClientPackage,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Package,
    PackageUse,
)
from sessions.scheduling.booking import Actor
from sessions.scheduling.events import appointment_status_changed
from sessions.scheduling.models import Appointment, Status
from tests.billing.money_setup import appointment, package
from tests.factories import ClientFactory, ServiceFactory

pytestmark = pytest.mark.django_db

PACKAGES = "/api/v1/packages/"
SOLD = "/api/v1/client-packages/"


@pytest.fixture
def service(practice):
    return ServiceFactory(practice=practice, name="Deep tissue 60", price=Decimal("60.00"))


@pytest.fixture
def client_record(client_member):
    return client_member.user.client


def complete(api, visit: Appointment):
    return api.post(f"/api/v1/appointments/{visit.pk}/complete/")


def sold(practice, client, service, *, remaining: int | None = None, **fields) -> ClientPackage:
    product = package(practice, [service], **fields)
    return ClientPackage.objects.create(
        practice=practice,
        client=client,
        package=product,
        sessions_total=product.sessions,
        sessions_remaining=product.sessions if remaining is None else remaining,
        price=product.price,
        currency=practice.currency,
        expires_on=timezone.localdate() + timedelta(days=product.expiry_days),
    )


# --- products ------------------------------------------------------------------------------------


def test_owner_creates_a_package_of_sessions_of_some_services(owner, service):
    body = {
        "name": "Five for the back",
        "sessions": 5,
        "services": [service.pk],
        "price": "250.00",
        "expiry_days": 180,
    }

    response = owner.api.post(PACKAGES, body, format="json")

    assert response.status_code == 201, response.content
    made = response.json()
    assert made["price"] == "250.00"
    assert made["services"] == [service.pk]
    assert Package.objects.get(pk=made["id"]).sessions == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sessions": 0}, "sessions"),
        ({"price": "-1.00"}, "price"),
        ({"price": "10.005"}, "price"),
        ({"services": []}, "services"),
        ({"expiry_days": 0}, "expiry_days"),
        ({"practice": 99}, "practice"),
    ],
)
def test_a_bad_package_is_400_and_nothing_is_written(owner, service, change, field):
    body = {"name": "P", "sessions": 5, "services": [service.pk], "price": "10", "expiry_days": 9}

    response = owner.api.post(PACKAGES, {**body, **change}, format="json")

    assert response.status_code == 400, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not Package.objects.exists()


def test_another_practices_service_is_not_a_package_service(owner, other_practice):
    theirs = ServiceFactory(practice=other_practice)
    body = {"name": "P", "sessions": 5, "services": [theirs.pk], "price": "10", "expiry_days": 9}

    response = owner.api.post(PACKAGES, body, format="json")

    assert response.status_code == 400
    assert not Package.objects.exists()


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_owners_write_packages(members, service, role):
    body = {"name": "P", "sessions": 5, "services": [service.pk], "price": "10", "expiry_days": 9}

    response = members[role].api.post(PACKAGES, body, format="json")

    assert response.status_code == 403
    assert not Package.objects.exists()


# --- selling --------------------------------------------------------------------------------------


def test_front_desk_sells_a_package_with_a_draft_invoice(front_desk, practice, service):
    client = ClientFactory(practice=practice)
    product = package(practice, [service], sessions=10, price=Decimal("500.00"), expiry_days=90)

    response = front_desk.api.post(
        SOLD, {"package": product.pk, "client": client.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sessions_remaining"] == 10
    assert body["price"] == "500.00"
    assert body["expires_on"] == (timezone.localdate() + timedelta(days=90)).isoformat()
    invoice = Invoice.objects.get(pk=body["invoice"])
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.client == client
    assert invoice.total == Decimal("500.00")
    assert invoice.lines.get().kind == LineKind.PACKAGE


def test_an_inactive_package_is_not_sold(owner, practice, service):
    client = ClientFactory(practice=practice)
    product = package(practice, [service], active=False)

    response = owner.api.post(SOLD, {"package": product.pk, "client": client.pk}, format="json")

    assert response.status_code == 400
    assert not ClientPackage.objects.exists()
    assert not Invoice.objects.exists()


def test_clients_see_only_their_own_packages(client_member, practice, service, client_record):
    mine = sold(practice, client_record, service)
    sold(practice, ClientFactory(practice=practice), service, name="Someone else's")

    response = client_member.api.get(SOLD)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_a_client_cannot_buy_through_the_staff_route(client_member, practice, service):
    product = package(practice, [service])

    response = client_member.api.post(
        SOLD, {"package": product.pk, "client": client_member.user.client.pk}, format="json"
    )

    assert response.status_code == 403
    assert not ClientPackage.objects.exists()


# --- drawing sessions -----------------------------------------------------------------------------


def test_a_completion_draws_a_session_and_bills_zero(therapist, practice, service):
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service, sessions=10)
    visit = appointment(practice, client=client, service=service)

    response = complete(therapist.api, visit)

    assert response.status_code == 200, response.content
    bought.refresh_from_db()
    assert bought.sessions_remaining == 9
    line = InvoiceLine.objects.get(appointment=visit)
    assert line.total == 0
    assert "covered by package" in line.description
    assert Invoice.objects.get(appointment=visit).total == 0


def test_a_service_the_package_does_not_cover_is_billed_in_full(therapist, practice, service):
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service)
    other = ServiceFactory(practice=practice, price=Decimal("75.00"))
    visit = appointment(practice, client=client, service=other)

    complete(therapist.api, visit)

    bought.refresh_from_db()
    assert bought.sessions_remaining == 10
    assert InvoiceLine.objects.get(appointment=visit).total == Decimal("75.00")


def test_the_package_expiring_first_is_drawn_first(therapist, practice, service):
    client = ClientFactory(practice=practice)
    later = sold(practice, client, service, name="Later", expiry_days=300)
    sooner = sold(practice, client, service, name="Sooner", expiry_days=30)
    expired = sold(practice, client, service, name="Expired", expiry_days=1)
    ClientPackage.objects.filter(pk=expired.pk).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    # Inside both windows: the factory's own start cycles up to 35 days ahead, past "Sooner"'s.
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    visit = appointment(practice, client=client, service=service, start=start)

    complete(therapist.api, visit)

    assert ClientPackage.objects.get(pk=sooner.pk).sessions_remaining == 9
    assert ClientPackage.objects.get(pk=later.pk).sessions_remaining == 10
    assert ClientPackage.objects.get(package__name="Expired").sessions_remaining == 10


def test_a_used_up_package_is_never_drawn_below_zero(therapist, practice, service):
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service, sessions=1)
    first, second = (appointment(practice, client=client, service=service) for _ in range(2))

    complete(therapist.api, first)
    complete(therapist.api, second)

    bought.refresh_from_db()
    assert bought.sessions_remaining == 0
    assert InvoiceLine.objects.get(appointment=first).total == 0
    assert InvoiceLine.objects.get(appointment=second).total == Decimal("60.00")


def test_another_clients_package_is_not_drawn(therapist, practice, service):
    theirs = sold(practice, ClientFactory(practice=practice), service)
    visit = appointment(practice, client=ClientFactory(practice=practice), service=service)

    complete(therapist.api, visit)

    assert ClientPackage.objects.get(pk=theirs.pk).sessions_remaining == 10


# --- giving a session back ------------------------------------------------------------------------


def test_owner_gives_a_session_back_with_a_reason(owner, therapist, practice, service):
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service)
    visit = appointment(practice, client=client, service=service)
    complete(therapist.api, visit)

    response = owner.api.post(
        f"{SOLD}{bought.pk}/restore/",
        {"appointment": visit.pk, "reason": "Completed by mistake"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["sessions_remaining"] == 10
    use = PackageUse.objects.get(appointment=visit)
    assert use.returned_at is not None
    assert use.return_reason == "Completed by mistake"
    assert AuditEvent.objects.filter(record_type="package_use").exists()
    again = owner.api.post(
        f"{SOLD}{bought.pk}/restore/", {"appointment": visit.pk, "reason": "x"}, format="json"
    )
    assert again.status_code == 409
    assert ClientPackage.objects.get(pk=bought.pk).sessions_remaining == 10


def test_a_session_that_was_not_drawn_is_not_given_back(owner, practice, service):
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service, remaining=5)
    visit = appointment(practice, client=client, service=service, status=Status.COMPLETED)

    response = owner.api.post(
        f"{SOLD}{bought.pk}/restore/", {"appointment": visit.pk, "reason": "x"}, format="json"
    )

    assert response.status_code == 400
    assert ClientPackage.objects.get(pk=bought.pk).sessions_remaining == 5


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_owners_give_sessions_back(members, practice, service, role):
    client = members["client"].user.client
    bought = sold(practice, client, service, remaining=9)
    visit = appointment(practice, client=client, service=service, status=Status.COMPLETED)
    PackageUse.objects.create(client_package=bought, appointment=visit)

    response = members[role].api.post(
        f"{SOLD}{bought.pk}/restore/", {"appointment": visit.pk, "reason": "x"}, format="json"
    )

    assert response.status_code == 403
    assert ClientPackage.objects.get(pk=bought.pk).sessions_remaining == 9


def test_a_completion_undone_gives_its_session_back(therapist, practice, service):
    """No API path leaves `completed` today (API.md "Booking"); the billing receiver handles the
    move whenever scheduling sends it."""
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service)
    visit = appointment(practice, client=client, service=service)
    complete(therapist.api, visit)
    Appointment.objects.filter(pk=visit.pk).update(status=Status.CHECKED_IN)
    visit.refresh_from_db()

    appointment_status_changed.send(
        Appointment, appointment=visit, before=Status.COMPLETED, actor=Actor(kind="staff")
    )

    assert ClientPackage.objects.get(pk=bought.pk).sessions_remaining == 10


def test_erasing_a_client_with_a_package_and_a_fee_deletes_them_and_leaves_tombstones(
    owner, therapist, practice, service
):
    """Packages and fees protect the client row; erasure of a record with no clinical entries
    deletes them first (sessions/records/privacy.py) and `deleted/` shows each."""
    client = ClientFactory(practice=practice)
    bought = sold(practice, client, service)
    missed = appointment(practice, client=client, service=service, status=Status.BOOKED)
    therapist.api.post(f"/api/v1/appointments/{missed.pk}/no-show/")
    fee = CancellationFee.objects.get(appointment=missed)

    response = owner.api.post(f"/api/v1/clients/{client.pk}/erasure/", {}, format="json")

    assert response.status_code == 201, response.content
    assert not ClientPackage.objects.filter(pk=bought.pk).exists()
    assert not CancellationFee.objects.filter(pk=fee.pk).exists()
    gone = set(Tombstone.objects.values_list("record_type", "record_id"))
    assert {("client_package", bought.pk), ("cancellation_fee", fee.pk)} <= gone
