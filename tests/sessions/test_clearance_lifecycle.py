"""Medical clearances after review (issue 12 follow-up; DOMAIN.md 2b "clearance first"): judged on
the session's day, withdrawn by a clinician or by the flag being recorded again, and kept as
history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import MedicalClearance
from practice.models import AuditEvent
from sessions.records.models import Note, PlanItem, SessionPlan
from techniques.models import Technique
from tests.factories import AppointmentFactory, ClientFactory, SessionPlanFactory

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/session-plans/"
NOTES = "/api/v1/notes/"


def today():
    return timezone.localdate()


def item(practice) -> dict:
    effleurage = Technique.objects.get(practice=practice, code="effleurage")
    return {"technique": effleurage.pk, "region": "lumbar", "minutes": 10, "pressure": 1}


def clearance(client, *, expires_on=None) -> MedicalClearance:
    return MedicalClearance.objects.create(
        practice=client.practice,
        client=client,
        flag="dvt",
        cleared_by_name="Dr. A. Patel (GP)",
        cleared_on=today() - dt.timedelta(days=10),
        expires_on=expires_on or today() + dt.timedelta(days=90),
        document="Letter of 2 Dec",
    )


def revoke_url(c: MedicalClearance) -> str:
    return f"/api/v1/clients/{c.client_id}/clearances/{c.pk}/revoke/"


def at(days: int):
    return timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=days)


# --- judged on the session's day ----------------------------------------------------------------


def test_a_clearance_expiring_today_does_not_cover_a_session_in_twenty_days(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    clearance(client, expires_on=today())
    later = AppointmentFactory(client=client, start=at(20), end=at(20) + dt.timedelta(hours=1))

    response = therapist.api.post(
        PLANS, {"appointment": later.pk, "items": [item(practice)]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["code"] == "contraindicated_clearance_required"
    assert not SessionPlan.objects.exists()


def test_delivery_is_judged_on_the_appointments_day(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    clearance(client, expires_on=today())
    later = AppointmentFactory(
        client=client, start=at(20), end=at(20) + dt.timedelta(hours=1), status="checked_in"
    )
    plan = SessionPlanFactory(appointment=later)
    planned = PlanItem.objects.create(
        plan=plan,
        position=0,
        technique=Technique.objects.get(practice=practice, code="effleurage"),
        region="lumbar",
        minutes=10,
        pressure=1,
    )

    response = therapist.api.post(
        NOTES, {"appointment": later.pk, "delivered_items": [planned.pk]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert not Note.objects.exists()


# --- revoked by a clinician ---------------------------------------------------------------------


def test_a_revoked_clearance_no_longer_lets_plans_through_and_is_audited(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    given = clearance(client)
    appointment = AppointmentFactory(client=client)
    body = {"appointment": appointment.pk, "items": [item(practice)]}

    revoked = therapist.api.post(
        revoke_url(given), {"reason": "The GP withdrew the letter."}, format="json"
    )
    again = therapist.api.post(revoke_url(given), {"reason": "twice"}, format="json")
    refused = therapist.api.post(PLANS, body, format="json")
    listed = therapist.api.get(f"/api/v1/clients/{client.pk}/clearances/").json()

    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["is_current"] is False
    assert revoked.json()["revocation_reason"] == "The GP withdrew the letter."
    assert again.status_code == 409
    assert refused.status_code == 400, refused.content
    assert not SessionPlan.objects.exists()
    assert [(c["id"], c["is_current"]) for c in listed] == [(given.pk, False)]
    given.refresh_from_db()
    assert given.revoked_by == therapist.user
    assert given.revocation_reason == "The GP withdrew the letter."
    event = AuditEvent.objects.get(record_type="medical_clearance", action="update")
    assert event.ids == [given.pk]
    assert event.client_id == client.pk


def test_revoking_needs_a_reason_and_leaves_the_clearance_current(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    given = clearance(client)

    response = therapist.api.post(revoke_url(given), {}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    given.refresh_from_db()
    assert given.revoked_at is None


@pytest.mark.parametrize("role", ["front_desk", "client_member"])
def test_revoking_is_clinical(request, practice, role):
    member = request.getfixturevalue(role)
    given = clearance(ClientFactory(practice=practice, health_flags=["dvt"]))

    response = member.api.post(revoke_url(given), {"reason": "no"}, format="json")

    assert response.status_code == 403
    given.refresh_from_db()
    assert given.revoked_at is None


def test_another_clients_clearance_is_not_found(therapist, practice):
    given = clearance(ClientFactory(practice=practice, health_flags=["dvt"]))
    other = ClientFactory(practice=practice, health_flags=["dvt"])

    response = therapist.api.post(
        f"/api/v1/clients/{other.pk}/clearances/{given.pk}/revoke/", {"reason": "x"}, format="json"
    )

    assert response.status_code == 404
    given.refresh_from_db()
    assert given.revoked_at is None


# --- revoked when the flag is recorded again ----------------------------------------------------


def test_a_flag_recorded_again_revokes_its_old_clearance(therapist, practice):
    client = ClientFactory(practice=practice, health_flags=["dvt"])
    given = clearance(client)
    appointment = AppointmentFactory(client=client)
    url = f"/api/v1/clients/{client.pk}/"

    kept = therapist.api.patch(url, {"phone": "+15550001111"}, format="json")
    given.refresh_from_db()
    still_current = given.revoked_at is None
    cleared = therapist.api.patch(url, {"health_flags": []}, format="json")
    new_clot = therapist.api.patch(url, {"health_flags": ["dvt"]}, format="json")
    refused = therapist.api.post(
        PLANS, {"appointment": appointment.pk, "items": [item(practice)]}, format="json"
    )

    assert (kept.status_code, cleared.status_code, new_clot.status_code) == (200, 200, 200)
    assert still_current
    given.refresh_from_db()
    assert given.revoked_at is not None
    assert refused.status_code == 400, refused.content
    assert not SessionPlan.objects.exists()
    assert AuditEvent.objects.filter(
        record_type="medical_clearance", action="update", client_id=client.pk
    ).exists()
