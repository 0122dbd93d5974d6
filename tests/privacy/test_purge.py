"""Legal hold and the scheduled purge (DOMAIN.md 4 "Retention", 8): records past `retain_until`
go, held records and records inside retention never do, and running it twice is harmless."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clients.models import Client, Complaint, LegalHoldChange, Outcome
from practice.models import AuditEvent, User
from sessions.records import privacy
from sessions.records.models import Amendment, Note
from sessions.scheduling.models import Appointment
from sessions.tasks import purge_expired_records
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    NoteFactory,
    OutcomeFactory,
)

TODAY = dt.date(2030, 6, 15)


def record(practice, *, last_entry: dt.date, date_of_birth=dt.date(1970, 1, 1), user=None):
    """A client with a complaint, outcome, completed visit, signed note and amendment, whose clock
    says `last_entry`, and whose records are all dated then."""
    client = ClientFactory(practice=practice, date_of_birth=date_of_birth, user=user)
    complaint = ComplaintFactory(client=client)
    OutcomeFactory(complaint=complaint)
    appointment = AppointmentFactory(client=client, status="completed")
    note = NoteFactory(client=client, appointment=appointment)
    Amendment.objects.create(note=note, author=note.author, kind="correction", text="typo")
    at = dt.datetime.combine(last_entry, dt.time(12), tzinfo=dt.UTC)
    for model in (Complaint, Note, Appointment):
        model.objects.filter(client=client).update(updated_at=at)
    Outcome.objects.filter(client=client).update(recorded_at=at)
    Amendment.objects.filter(note__client=client).update(created_at=at)
    Client.objects.filter(pk=client.pk).update(last_clinical_entry=last_entry)
    client.refresh_from_db()
    return client


def exists(client) -> bool:
    return Client.objects.filter(pk=client.pk).exists()


def clinical_rows(client) -> int:
    return sum(
        m.objects.filter(client_id=client.pk).count()
        for m in (Complaint, Outcome, Appointment, Note)
    )


# --- legal hold -----------------------------------------------------------------------------------


def test_owner_sets_and_clears_a_legal_hold_with_a_reason_and_both_are_audited(owner, practice):
    client = ClientFactory(practice=practice)
    url = f"/api/v1/clients/{client.pk}/legal-hold/"

    held = owner.api.post(url, {"legal_hold": True, "reason": "Claim 2030/17"}, format="json")
    assert held.status_code == 200, held.content
    assert held.json()["legal_hold"] is True
    client.refresh_from_db()
    assert (client.legal_hold, client.legal_hold_reason) == (True, "Claim 2030/17")

    cleared = owner.api.post(url, {"legal_hold": False, "reason": "Claim settled"}, format="json")
    assert cleared.status_code == 200
    client.refresh_from_db()
    assert (client.legal_hold, client.legal_hold_reason) == (False, "")
    history = list(
        LegalHoldChange.objects.filter(client=client)
        .order_by("id")
        .values_list("legal_hold", "reason", "changed_by")
    )
    assert history == [
        (True, "Claim 2030/17", owner.user.pk),
        (False, "Claim settled", owner.user.pk),
    ]
    assert (
        AuditEvent.objects.filter(record_type="client_legal_hold", client_id=client.pk).count() == 2
    )


def test_a_legal_hold_needs_a_reason(owner, practice):
    client = ClientFactory(practice=practice)
    response = owner.api.post(
        f"/api/v1/clients/{client.pk}/legal-hold/", {"legal_hold": True}, format="json"
    )
    assert response.status_code == 400
    client.refresh_from_db()
    assert client.legal_hold is False
    assert not LegalHoldChange.objects.exists()


@pytest.mark.parametrize("role", ["therapist", "front_desk", "client"])
def test_only_the_owner_places_a_legal_hold(members, practice, role):
    client = ClientFactory(practice=practice)
    response = members[role].api.post(
        f"/api/v1/clients/{client.pk}/legal-hold/",
        {"legal_hold": True, "reason": "x"},
        format="json",
    )
    assert response.status_code == 403
    client.refresh_from_db()
    assert client.legal_hold is False


def test_another_practices_owner_cannot_hold_my_client(other_owner, practice):
    client = ClientFactory(practice=practice)
    response = other_owner.api.post(
        f"/api/v1/clients/{client.pk}/legal-hold/",
        {"legal_hold": True, "reason": "x"},
        format="json",
    )
    assert response.status_code == 404
    client.refresh_from_db()
    assert client.legal_hold is False


# --- the purge ------------------------------------------------------------------------------------


def test_purge_deletes_a_record_past_retain_until_with_its_login(practice):
    user = User.objects.create_user("gone@example.com", "pw-12345678")
    expired = record(practice, last_entry=dt.date(2020, 6, 14), user=user)  # until 2030-06-14

    report = privacy.purge_records_past_retention(today=TODAY)

    assert report.purged == [expired.pk]
    assert not exists(expired)
    assert clinical_rows(expired) == 0
    assert not Amendment.objects.exists()
    assert not User.objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.filter(
        record_type="client_purged", client_id=expired.pk, action="delete"
    ).exists()


def test_purge_never_deletes_clinical_records_inside_retention(practice):
    last_day = record(practice, last_entry=dt.date(2020, 6, 15))  # until 2030-06-15: today
    minor = record(practice, last_entry=dt.date(2015, 1, 1), date_of_birth=dt.date(2010, 1, 1))
    before = {c.pk: clinical_rows(c) for c in (last_day, minor)}

    report = privacy.purge_records_past_retention(today=TODAY)

    assert report.purged == []
    assert exists(last_day)
    assert exists(minor)
    assert {c.pk: clinical_rows(c) for c in (last_day, minor)} == before


def test_purge_trusts_the_records_not_a_stale_clock(practice):
    """A clock left behind (a write that missed it) cannot make the purge delete a fresh record."""
    client = record(practice, last_entry=dt.date(2029, 1, 1))
    Client.objects.filter(pk=client.pk).update(last_clinical_entry=dt.date(2001, 1, 1))

    report = privacy.purge_records_past_retention(today=TODAY)

    assert report.kept_inside_retention == [client.pk]
    assert exists(client)
    assert clinical_rows(client) == 4


def test_a_legal_hold_blocks_the_purge_until_cleared(owner, practice):
    client = record(practice, last_entry=dt.date(2010, 1, 1))
    privacy.set_legal_hold(client=client, legal_hold=True, reason="Litigation", by=owner.user)

    assert privacy.purge_records_past_retention(today=TODAY).purged == []
    assert exists(client)
    assert clinical_rows(client) == 4

    privacy.set_legal_hold(client=client, legal_hold=False, reason="Closed", by=owner.user)
    assert privacy.purge_records_past_retention(today=TODAY).purged == [client.pk]
    assert not exists(client)


def test_a_shorter_jurisdiction_shortens_the_clock_at_once(practice):
    client = record(practice, last_entry=dt.date(2024, 6, 1))  # 10 years: 2034
    assert privacy.purge_records_past_retention(today=TODAY).purged == []
    practice.jurisdiction = "us_fl"  # 5 years: until 2029-06-01
    practice.save(update_fields=["jurisdiction"])
    assert privacy.purge_records_past_retention(today=TODAY).purged == [client.pk]


def test_running_the_purge_twice_is_harmless(practice):
    expired = record(practice, last_entry=dt.date(2001, 1, 1))
    kept = record(practice, last_entry=dt.date(2029, 1, 1))

    first = privacy.purge_records_past_retention(today=TODAY)
    second = privacy.purge_records_past_retention(today=TODAY)

    assert first.purged == [expired.pk]
    assert second.purged == []
    assert exists(kept)
    assert clinical_rows(kept) == 4
    assert AuditEvent.objects.filter(record_type="client_purged").count() == 1


def test_the_beat_task_is_scheduled_and_runs_the_purge(practice):
    assert settings.CELERY_BEAT_SCHEDULE["purge-expired-records"]["task"] == (
        "sessions.tasks.purge_expired_records"
    )
    kept = record(practice, last_entry=timezone.localdate())
    assert purge_expired_records.delay().get() == 0
    assert exists(kept)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_delete_each_record_once(practice):
    expired = [record(practice, last_entry=dt.date(2001, 1, 1)) for _ in range(5)]
    kept = record(practice, last_entry=dt.date(2029, 1, 1))
    reports, errors = [], []

    def run():
        try:
            reports.append(privacy.purge_records_past_retention(today=TODAY))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    purged = sorted(pk for report in reports for pk in report.purged)
    assert purged == sorted(c.pk for c in expired)
    assert not Client.objects.filter(pk__in=purged).exists()
    assert exists(kept)
    assert clinical_rows(kept) == 4
    assert AuditEvent.objects.filter(record_type="client_purged").count() == 5
