"""Erasure requests (DOMAIN.md 8 "GDPR erasure vs retention"): contact, marketing and portal data
go; clinical records under retention stay, restricted; the client is told why and until when."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import Client, Complaint, ErasureRequest, Outcome
from practice.auth import calendar_url
from practice.models import AuditEvent, AuthToken, Membership, User, WebhookDelivery, WebhookEvent
from practice.retention import add_years
from sessions.records.models import Note
from sessions.scheduling.models import Appointment, IdempotencyRecord, Reminder, WaitlistEntry
from tests.conftest import make_member
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    NoteFactory,
    OutcomeFactory,
    ReminderFactory,
    WaitlistEntryFactory,
    WebhookSubscriptionFactory,
)
from tests.sessions.booking_setup import local, make_bookable

ME_ERASURE = "/api/v1/me/erasure-request/"


def erasure_url(client) -> str:
    return f"/api/v1/clients/{client.pk}/erasure/"


def treated(client, therapist_user=None):
    """A completed visit with a note and an outcome today, and one future booking with its
    reminder, a waiting-list entry: the record an erasure request meets."""
    past = AppointmentFactory(
        client=client,
        status="completed",
        start=timezone.now() - dt.timedelta(days=3),
        booked_from_ip="203.0.113.9",  # booked through the public page
        **({"therapist": therapist_user.therapist} if therapist_user else {}),
    )
    NoteFactory(client=client, appointment=past)
    OutcomeFactory(complaint=ComplaintFactory(client=client))
    future = AppointmentFactory(client=client, start=timezone.now() + dt.timedelta(days=5))
    reminder = ReminderFactory(appointment=future)
    nudge = ReminderFactory(
        appointment=None,
        client=client,
        practice=client.practice,
        kind="rebook_nudge",
        scheduled_for=timezone.now() + dt.timedelta(days=9),
    )
    WaitlistEntryFactory(client=client)
    return past, future, reminder, nudge


def test_a_client_erases_their_account_and_keeps_restricted_clinical_records(
    client_member, practice, anon, django_capture_on_commit_callbacks
):
    practice.jurisdiction = "ca_on"
    practice.save(update_fields=["jurisdiction"])
    client = client_member.user.client
    past, future, reminder, nudge = treated(client)
    feed = calendar_url(client_member.user)
    assert anon.get(feed).status_code == 200
    user_id = client_member.user.pk

    with django_capture_on_commit_callbacks(execute=True):
        response = client_member.api.post(ME_ERASURE, {"reason": "Moving away"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    until = add_years(timezone.localdate(), 10)
    assert body["outcome"] == "restricted"
    assert body["client"] == client.pk
    (treatment,) = [k for k in body["kept"] if k["what"] == "treatment_records"]
    assert treatment["kept_until"] == until.isoformat()
    assert "Ontario RMTs (CMTO) requires 10 years of treatment records" in treatment["rule"]
    assert (
        f"Kept until {until.isoformat()}: Ontario RMTs (CMTO) requires 10 years"
        in body["explanation"]
    )
    assert treatment["records"]["notes"] == 1
    assert {e["what"] for e in body["erased"]} >= {
        "contact_details",
        "portal_account",
        "future_appointments",
    }
    assert body["due_by"] >= timezone.localdate().isoformat()

    # contact, marketing and portal data are gone
    client.refresh_from_db()
    assert (client.email, client.phone, client.reminder_channels, client.user_id) == (
        "",
        "",
        [],
        None,
    )
    assert client.reminders_opt_out is True
    assert client.restricted_at is not None
    assert not User.objects.filter(pk=user_id).exists()
    assert not AuthToken.objects.filter(user_id=user_id).exists()
    assert not Membership.objects.filter(user_id=user_id).exists()
    assert client_member.api.get("/api/v1/me/").status_code == 401
    assert anon.get(feed).status_code == 404
    login = anon.post(
        "/api/v1/auth/token/", {"email": "client@north.test", "password": PASSWORD}, format="json"
    )
    assert login.status_code in (400, 401)
    # the future booking and every pending message are cancelled; the waiting list entry is gone
    future.refresh_from_db()
    assert future.status == "cancelled"
    assert set(
        Reminder.objects.filter(pk__in=[reminder.pk, nudge.pk]).values_list("status", flat=True)
    ) == {"cancelled"}
    assert not WaitlistEntry.objects.filter(client=client).exists()
    # clinical records stay; the address the booking came from does not
    past.refresh_from_db()
    assert past.status == "completed"
    assert past.booked_from_ip is None
    assert Note.objects.filter(client=client).count() == 1
    assert Outcome.objects.filter(client=client).count() == 1
    assert Complaint.objects.filter(client=client).count() == 1
    # the answer is stored, and emailed to the address before it was erased
    stored = ErasureRequest.objects.get()
    assert (stored.client_id, stored.requested_by_role, stored.outcome) == (
        client.pk,
        "client",
        "restricted",
    )
    assert stored.due_by <= timezone.localdate() + dt.timedelta(days=31)
    (sent,) = mail.outbox
    assert sent.to == ["client@north.test"]
    assert f"Kept until {until.isoformat()}" in sent.body
    assert AuditEvent.objects.filter(record_type="client_erasure", client_id=client.pk).exists()


def test_a_client_without_clinical_records_is_erased_entirely(client_member):
    client = client_member.user.client
    future = AppointmentFactory(client=client, start=timezone.now() + dt.timedelta(days=5))

    response = client_member.api.post(ME_ERASURE, {}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "erased"
    assert response.json()["kept"] == []
    assert not Client.objects.filter(pk=client.pk).exists()
    assert not Appointment.objects.filter(pk=future.pk).exists()
    assert not User.objects.filter(email="client@north.test").exists()
    stored = ErasureRequest.objects.get()
    assert (stored.client_id, stored.client_number) == (None, client.pk)


def test_records_already_past_retain_until_are_deleted_on_request(owner, practice):
    client = ClientFactory(practice=practice, date_of_birth=dt.date(1950, 1, 1))
    NoteFactory(client=client)
    Note.objects.filter(client=client).update(
        updated_at=timezone.now() - dt.timedelta(days=365 * 11)
    )
    Client.objects.filter(pk=client.pk).update(
        last_clinical_entry=timezone.localdate() - dt.timedelta(days=365 * 11)
    )

    response = owner.api.post(erasure_url(client), {"reason": "Asked by phone"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "erased"
    assert not Client.objects.filter(pk=client.pk).exists()
    assert not Note.objects.filter(client_id=client.pk).exists()


def test_a_legal_hold_keeps_the_clinical_record_even_past_retention(owner, practice):
    client = ClientFactory(practice=practice, legal_hold=True, legal_hold_reason="Claim")
    NoteFactory(client=client)
    Client.objects.filter(pk=client.pk).update(last_clinical_entry=dt.date(2001, 1, 1))
    Note.objects.filter(client=client).update(updated_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))

    response = owner.api.post(erasure_url(client), {}, format="json")

    assert response.status_code == 201
    (treatment,) = [k for k in response.json()["kept"] if k["what"] == "treatment_records"]
    assert treatment["kept_until"] is None
    assert "legal hold" in treatment["rule"]
    assert Note.objects.filter(client=client).count() == 1
    client.refresh_from_db()
    assert client.email == ""
    assert client.restricted_at is not None


def test_restricted_records_are_hidden_unbookable_and_read_only_by_owner_and_treating_therapist(
    owner, therapist, front_desk, practice
):
    client = ClientFactory(practice=practice)
    treated(client, therapist_user=therapist.user)
    other_therapist = make_member(practice, "therapist", "other-therapist@north.test")
    owner.api.post(erasure_url(client), {}, format="json")
    detail = f"/api/v1/clients/{client.pk}/"

    assert client.pk not in [r["id"] for r in owner.api.get("/api/v1/clients/").json()["results"]]
    assert [
        r["id"] for r in owner.api.get("/api/v1/clients/", {"restricted": "true"}).json()["results"]
    ] == [client.pk]
    assert owner.api.get(detail).status_code == 200
    assert therapist.api.get(detail).status_code == 200
    assert therapist.api.get("/api/v1/notes/", {"client": client.pk}).json()["results"]
    assert other_therapist.api.get(detail).status_code == 404
    assert other_therapist.api.get("/api/v1/notes/", {"client": client.pk}).json()["results"] == []
    assert front_desk.api.get(detail).status_code == 404
    # no edits, no bookings
    assert owner.api.patch(detail, {"phone": "+44 1"}, format="json").status_code == 403
    appointment = Appointment.objects.filter(client=client).first()
    booking = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": appointment.service_id,
            "therapist": appointment.therapist_id,
            "client": client.pk,
            "start": (timezone.now() + dt.timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    assert booking.status_code in (400, 409), booking.content
    assert not Appointment.objects.filter(client=client, status="booked").exists()
    client.refresh_from_db()
    assert client.phone == ""


@pytest.mark.parametrize("role", ["therapist", "front_desk"])
def test_staff_other_than_the_owner_cannot_file_an_erasure(members, practice, role):
    client = ClientFactory(practice=practice, email="keep@example.com")
    response = members[role].api.post(erasure_url(client), {}, format="json")
    assert response.status_code == 403
    client.refresh_from_db()
    assert client.email == "keep@example.com"
    assert client.restricted_at is None
    assert not ErasureRequest.objects.exists()


def test_staff_cannot_use_the_clients_own_endpoint_and_a_client_cannot_erase_another(
    owner, client_member, practice
):
    other = ClientFactory(practice=practice, email="other@example.com")
    assert owner.api.post(ME_ERASURE, {}, format="json").status_code == 403
    assert client_member.api.post(erasure_url(other), {}, format="json").status_code == 403
    other.refresh_from_db()
    assert other.email == "other@example.com"
    assert not ErasureRequest.objects.exists()


def test_another_practices_owner_gets_404(other_owner, practice):
    client = ClientFactory(practice=practice, email="mine@example.com")
    response = other_owner.api.post(erasure_url(client), {}, format="json")
    assert response.status_code == 404
    client.refresh_from_db()
    assert client.email == "mine@example.com"
    assert not ErasureRequest.objects.exists()


def test_unknown_fields_are_refused(owner, practice):
    client = ClientFactory(practice=practice)
    response = owner.api.post(erasure_url(client), {"outcome": "erased"}, format="json")
    assert response.status_code == 400
    assert Client.objects.filter(pk=client.pk).exists()


def test_owner_lists_erasure_requests_with_due_dates_and_others_cannot(
    owner, therapist, practice, other_owner
):
    client = ClientFactory(practice=practice)
    NoteFactory(client=client)
    owner.api.post(erasure_url(client), {}, format="json")

    listed = owner.api.get("/api/v1/erasure-requests/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert (row["client"], row["outcome"], row["requested_by_role"]) == (
        client.pk,
        "restricted",
        "owner",
    )
    assert row["due_by"]
    assert therapist.api.get("/api/v1/erasure-requests/").status_code == 403
    assert other_owner.api.get("/api/v1/erasure-requests/").json()["results"] == []


# --- issue 13.5: erasure scrubs every copy -------------------------------------------------------


@pytest.mark.parametrize("treatment", [True, False], ids=["restricted", "erased"])
def test_erasure_scrubs_contact_details_from_the_webhook_outbox(owner, practice, treatment):
    WebhookSubscriptionFactory(practice=practice, events=["client.created"])
    created = owner.api.post(
        "/api/v1/clients/",
        {
            "first_name": "Erin",
            "last_name": "Vale",
            "email": "erin.vale@example.com",
            "phone": "+44 7700 900777",
        },
    )
    assert created.status_code == 201, created.content
    client = Client.objects.get(pk=created.json()["id"])
    if treatment:
        treated(client)
    event = WebhookEvent.objects.get(type="client.created")
    WebhookDelivery.objects.filter(event=event).update(
        response_snippet='{"echo": "erin.vale@example.com"}'
    )
    assert "erin.vale@example.com" in json.dumps(event.data)

    response = owner.api.post(erasure_url(client), {}, format="json")

    assert response.status_code == 201, response.content
    event.refresh_from_db()
    stored = json.dumps(event.data) + "".join(
        WebhookDelivery.objects.values_list("response_snippet", flat=True)
    )
    assert "erin.vale@example.com" not in stored
    assert "7700 900777" not in stored
    assert event.data["id"] == client.pk  # the event itself stays: it happened
    # A redelivery sends only what is left.
    delivery = WebhookDelivery.objects.filter(event=event).first()
    subscription = delivery.subscription
    owner.api.post(f"/api/v1/webhooks/{subscription.pk}/deliveries/{delivery.pk}/redeliver/")
    event.refresh_from_db()
    assert "erin.vale@example.com" not in json.dumps(event.data)


def test_erasure_drops_idempotency_records_of_the_clients_bookings(owner, practice, therapist):
    bookable = make_bookable(practice, therapist.user)
    client = bookable.client
    booked = owner.api.post(
        "/api/v1/appointments/",
        {
            "service": bookable.service.pk,
            "therapist": bookable.therapist.pk,
            "client": client.pk,
            "start": local(practice, 3, 10).isoformat(),
        },
        HTTP_IDEMPOTENCY_KEY="erase-me",
    )
    assert booked.status_code == 201, booked.content
    assert IdempotencyRecord.objects.filter(key="erase-me").exists()

    response = owner.api.post(erasure_url(client), {}, format="json")

    assert response.status_code == 201, response.content
    assert not IdempotencyRecord.objects.filter(key="erase-me").exists()
