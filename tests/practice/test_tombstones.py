"""Hard deletions are visible to sync (issue 14.5): erasure, purge and removed time off leave a
tombstone (type and id only) in `deleted/` for the practice's sync horizon, and scheduling
deletions send `<type>.deleted` webhook events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import models
from django.utils import timezone

from clients.models import (
    Client,
    Complaint,
    ComplaintClearance,
    Consent,
    MedicalClearance,
    Outcome,
    RedFlagAnswer,
)
from practice.models import TOMBSTONE_TYPES, Practice, TimeOff, Tombstone, WebhookEvent
from practice.tombstones import TRACKED, purge_old_tombstones
from sessions.records import privacy
from sessions.records.models import Note, PlanItem, SessionPlan
from sessions.scheduling.models import Appointment
from techniques.models import Technique
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ConsentFactory,
    ReminderFactory,
    SessionPlanFactory,
    TherapistAlertFactory,
    TherapistFactory,
    TimeOffFactory,
    TombstoneFactory,
    WebhookSubscriptionFactory,
)
from tests.privacy.test_purge import TODAY, record

pytestmark = pytest.mark.django_db

DELETED = "/api/v1/deleted/"


def feed(member, **params) -> set[tuple[str, int]]:
    api = getattr(member, "api", member)  # a Member, or a bare APIClient (an API key)
    response = api.get(DELETED, {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    assert "Sync-Since" in response
    for row in response.json()["results"]:
        assert set(row) == {"type", "id", "deleted_at"}
    return {(row["type"], row["id"]) for row in response.json()["results"]}


def test_removed_time_off_is_in_the_feed_since_the_last_sync_and_sent_to_webhooks(
    owner, therapist, practice
):
    WebhookSubscriptionFactory(practice=practice, events=["time_off.deleted"])
    time_off = TimeOffFactory(therapist=therapist.user.therapist)
    sync_since = owner.api.get(DELETED)["Sync-Since"]

    response = therapist.api.delete(f"/api/v1/time-off/{time_off.pk}/")

    assert response.status_code == 204
    assert not TimeOff.objects.filter(pk=time_off.pk).exists()
    assert feed(owner, updated_since=sync_since) == {("time_off", time_off.pk)}
    event = WebhookEvent.objects.get(type="time_off.deleted")
    assert event.data == {"id": time_off.pk, "type": "time_off"}
    assert event.deliveries.count() == 1


def test_an_erased_client_leaves_only_the_type_and_id_of_what_was_deleted(
    owner, front_desk, practice
):
    WebhookSubscriptionFactory(practice=practice, events=["client.deleted", "appointment.deleted"])
    client = ClientFactory(practice=practice, email="erase.me@example.com", first_name="Zed")
    future = AppointmentFactory(client=client, start=timezone.now() + dt.timedelta(days=5))

    response = owner.api.post(f"/api/v1/clients/{client.pk}/erasure/", {}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "erased"
    # The cancelled appointment's history rows go with it (clinicians see those tombstones too).
    scheduling = {row for row in feed(owner) if row[0] != "appointment_event"}
    assert scheduling == {("client", client.pk), ("appointment", future.pk)}
    assert feed(front_desk) == {("client", client.pk), ("appointment", future.pk)}
    assert {e.type for e in WebhookEvent.objects.all()} >= {"client.deleted", "appointment.deleted"}
    text = str(list(Tombstone.objects.values())) + str(
        list(WebhookEvent.objects.values_list("data", flat=True))
    )
    assert "erase.me" not in text
    assert "Zed" not in text


def test_a_purge_leaves_tombstones_and_clinical_ones_only_clinicians_see(
    owner, therapist, front_desk, practice, anon
):
    client = record(practice, last_entry=dt.date(2020, 6, 14))  # kept until 2030-06-14
    complaint = Complaint.objects.get(client=client)
    note = Note.objects.get(client=client)
    outcome = Outcome.objects.get(client=client)

    report = privacy.purge_records_past_retention(today=TODAY)

    assert report.purged == [client.pk]
    clinical = {("complaint", complaint.pk), ("note", note.pk), ("outcome", outcome.pk)}
    everything = feed(owner)
    assert clinical | {("client", client.pk), ("appointment", note.appointment_id)} <= everything
    assert feed(therapist) == everything
    assert not feed(front_desk) & clinical
    assert ("client", client.pk) in feed(front_desk)
    created = owner.api.post("/api/v1/api-keys/", {"name": "Sync"}).json()
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert not feed(anon) & clinical


def test_a_client_cannot_read_the_feed(client_member):
    response = client_member.api.get(DELETED)

    assert response.status_code == 403


def test_another_practices_deletions_are_not_shown(owner, other_practice):
    theirs = TombstoneFactory(practice=other_practice)

    assert ("appointment", theirs.record_id) not in feed(owner)


def test_the_feed_filters_by_type_and_time(owner, practice):
    old = TombstoneFactory(practice=practice, record_type="client")
    Tombstone.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=2))
    new = TombstoneFactory(practice=practice, record_type="appointment")
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()

    assert feed(owner, updated_since=yesterday) == {("appointment", new.record_id)}
    assert feed(owner, record_type="client") == {("client", old.record_id)}


def test_a_sync_older_than_the_horizon_is_told_to_start_over(owner, practice):
    practice.sync_horizon_days = 7
    practice.save(update_fields=["sync_horizon_days"])
    too_old = (timezone.now() - dt.timedelta(days=8)).isoformat()

    response = owner.api.get(DELETED, {"updated_since": too_old})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "updated_since"
    assert "horizon" in response.json()["detail"]


def test_tombstones_are_kept_for_the_practices_horizon_then_purged(practice, other_practice):
    practice.sync_horizon_days = 7
    practice.save(update_fields=["sync_horizon_days"])
    now = timezone.now()
    rows = {
        name: TombstoneFactory(practice=where)
        for name, where in (("old", practice), ("recent", practice), ("theirs", other_practice))
    }
    for name, age in (("old", 8), ("recent", 6), ("theirs", 8)):  # theirs: default 30 days
        Tombstone.objects.filter(pk=rows[name].pk).update(deleted_at=now - dt.timedelta(days=age))

    assert purge_old_tombstones(now=now) == 1

    assert set(Tombstone.objects.values_list("pk", flat=True)) == {
        rows["recent"].pk,
        rows["theirs"].pk,
    }


def test_the_owner_sets_the_sync_horizon(owner, practice):
    response = owner.api.patch("/api/v1/practice/", {"sync_horizon_days": 90}, format="json")

    assert response.status_code == 200, response.content
    practice.refresh_from_db()
    assert practice.sync_horizon_days == 90
    refused = owner.api.patch("/api/v1/practice/", {"sync_horizon_days": 0}, format="json")
    assert refused.status_code == 400


def test_deleting_a_whole_practice_leaves_no_tombstones(other_practice):
    TimeOffFactory(therapist=TherapistFactory(practice=other_practice))

    Practice.objects.filter(pk=other_practice.pk).delete()

    assert not Tombstone.objects.exists()


# --- every record type erasure or the purge deletes is tracked (generated) ----------------------

DELETES_WITH = (models.CASCADE, models.PROTECT)  # PROTECT: _delete_everything deletes them first


def deleted_with_a_client() -> set[type[models.Model]]:
    """The models whose rows go when a client's whole record is deleted (erasure, purge): the
    client and every model reached from it by a cascading (or first-deleted, protected) key."""
    found: set[type[models.Model]] = set()
    todo: list[type[models.Model]] = [Client]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        todo.extend(
            relation.related_model
            for relation in model._meta.related_objects
            if relation.on_delete in DELETES_WITH
        )
    return found


def test_every_record_type_a_client_erasure_deletes_is_tracked():
    models_ = deleted_with_a_client()

    assert {Client, Complaint, Note, MedicalClearance, ComplaintClearance} <= models_
    untracked = sorted(m._meta.label for m in models_ if m not in TRACKED)
    assert untracked == [], "add track_deletions(...) for these (practice.tombstones)"
    assert set(TRACKED.values()) <= set(TOMBSTONE_TYPES)


def test_a_purge_leaves_a_tombstone_for_every_row_it_deletes(owner, practice):
    client = record(practice, last_entry=dt.date(2020, 6, 14))
    complaint = Complaint.objects.get(client=client)
    appointment = Appointment.objects.get(client=client)
    ComplaintClearance.objects.create(
        complaint=complaint, note="GP saw them", cleared_by=owner.user, cleared_at=timezone.now()
    )
    RedFlagAnswer.objects.create(
        complaint=complaint, question="saddle_numbness", answer="no", asked_at=timezone.now()
    )
    ConsentFactory(client=client)
    MedicalClearance.objects.create(
        practice=practice,
        client=client,
        flag="dvt",
        cleared_by_name="Dr. B",
        cleared_on=dt.date(2020, 6, 1),
        expires_on=dt.date(2020, 9, 1),
        note="Letter",
    )
    ReminderFactory(appointment=appointment)
    TherapistAlertFactory(client=client)
    plan = SessionPlanFactory(appointment=appointment)
    PlanItem.objects.create(
        plan=plan,
        position=0,
        technique=Technique.objects.get(practice=practice, code="effleurage"),
        region="lumbar",
        minutes=10,
    )
    at = dt.datetime(2020, 6, 14, 12, tzinfo=dt.UTC)  # every record dated at the last entry
    Consent.objects.filter(client=client).update(signed_at=at)
    MedicalClearance.objects.filter(client=client).update(recorded_at=at)
    SessionPlan.objects.filter(client=client).update(updated_at=at)
    Complaint.objects.filter(client=client).update(updated_at=at)
    Appointment.objects.filter(client=client).update(updated_at=at)
    Client.objects.filter(pk=client.pk).update(last_clinical_entry=at.date())
    before = {
        (TRACKED[model], pk)
        for model in deleted_with_a_client()
        for pk in model.objects.values_list("pk", flat=True)
    }

    report = privacy.purge_records_past_retention(today=TODAY)

    assert report.purged == [client.pk]
    kinds = {kind for kind, _ in before}
    assert {"complaint_clearance", "medical_clearance", "alert", "plan_item", "consent"} <= kinds
    assert set(Tombstone.objects.values_list("record_type", "record_id")) >= before
