"""Incremental sync: `?updated_since=` on lists, ETag / If-None-Match on details."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Client
from sessions.scheduling.models import Appointment
from tests.factories import AppointmentFactory, ClientFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def since(moment: dt.datetime) -> str:
    return moment.isoformat()


@pytest.mark.parametrize("path", ["clients", "services", "therapists", "appointments"])
def test_updated_since_returns_only_rows_changed_since(owner, practice, path):
    old = {"clients": ClientFactory, "services": ServiceFactory}
    if path == "appointments":
        first = AppointmentFactory(client=ClientFactory(practice=practice))
    elif path == "therapists":
        first = practice.therapists.get()
    else:
        first = old[path](practice=practice)
    type(first).objects.filter(pk=first.pk).update(updated_at=timezone.now() - dt.timedelta(days=2))
    cutoff = timezone.now() - dt.timedelta(days=1)
    if path == "appointments":
        fresh = AppointmentFactory(
            client=first.client, therapist=first.therapist, service=first.service
        )
    elif path == "therapists":
        fresh = None
    else:
        fresh = old[path](practice=practice)

    response = owner.api.get(f"/api/v1/{path}/", {"updated_since": since(cutoff)})

    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert first.pk not in ids
    assert ids == ({fresh.pk} if fresh else set())


def test_a_cancellation_shows_up_in_the_next_sync(owner, practice):
    appointment = AppointmentFactory(client=ClientFactory(practice=practice))
    Appointment.objects.filter(pk=appointment.pk).update(
        updated_at=timezone.now() - dt.timedelta(hours=3)
    )
    cutoff = timezone.now() - dt.timedelta(minutes=1)
    owner.api.post(
        f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": "ill"}, format="json"
    )

    response = owner.api.get("/api/v1/appointments/", {"updated_since": since(cutoff)})

    (row,) = response.json()["results"]
    assert (row["id"], row["status"]) == (appointment.pk, "cancelled")


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-11-28T10:00:00",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00+05:00",  # before datetime.min once in UTC
    ],
)
def test_a_bad_updated_since_is_400(owner, value):
    response = owner.api.get("/api/v1/clients/", {"updated_since": value})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "updated_since"


@pytest.mark.parametrize("path", ["clients", "therapists", "waitlist", "appointments"])
def test_an_offset_postgres_cannot_store_is_read_in_utc(owner, practice, path):
    """ISO 8601 allows offsets up to 23:59, PostgreSQL up to 15:59: `+19:15` was a 500 on every
    list (found by the schema fuzzer). 2026-11-28T05:00+19:15 is 2026-11-27T09:45Z."""
    ClientFactory(practice=practice)

    response = owner.api.get(f"/api/v1/{path}/", {"updated_since": "2026-11-28T05:00:00+19:15"})

    assert response.status_code == 200, response.content


def test_appointment_filters_read_any_offset_in_utc(owner, practice):
    appointment = AppointmentFactory(practice=practice, start=timezone.now() + dt.timedelta(days=2))
    after = (appointment.start - dt.timedelta(hours=1)).astimezone(
        dt.timezone(dt.timedelta(hours=19, minutes=15))
    )

    response = owner.api.get("/api/v1/appointments/", {"start_after": after.isoformat()})
    too_early = owner.api.get(
        "/api/v1/appointments/", {"start_before": "0001-01-01T00:00:00+05:00"}
    )

    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [appointment.pk]
    assert too_early.status_code == 400
    assert too_early.json()["errors"][0]["field"] == "start_before"


def test_updated_since_on_a_list_without_timestamps_is_400(owner):
    response = owner.api.get("/api/v1/techniques/", {"updated_since": "2026-01-01T00:00:00Z"})

    assert response.status_code == 400


def test_detail_etag_answers_304_until_the_record_changes(owner, practice):
    client = ClientFactory(practice=practice)
    url = f"/api/v1/clients/{client.pk}/"

    first = owner.api.get(url)
    etag = first["ETag"]
    unchanged = owner.api.get(url, HTTP_IF_NONE_MATCH=etag)
    owner.api.patch(url, {"phone": "+44 7700 900111"}, format="json")
    changed = owner.api.get(url, HTTP_IF_NONE_MATCH=etag)

    assert first.status_code == 200
    assert unchanged.status_code == 304
    assert not unchanged.content
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert Client.objects.get(pk=client.pk).phone == "+44 7700 900111"


def test_every_list_says_what_to_send_as_the_next_updated_since(owner):
    response = owner.api.get("/api/v1/clients/")

    since_next = dt.datetime.fromisoformat(response["Sync-Since"])
    assert since_next.tzinfo is not None
    assert timezone.now() - dt.timedelta(minutes=2) < since_next < timezone.now()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_a_sync_is_caught_by_the_next_one(owner, practice):
    """The write is stamped, the sync runs while it is uncommitted, then it commits: the next
    sync, from the Sync-Since the first one answered, must include it (no change is lost)."""
    import threading

    from django.db import connection, transaction

    client = ClientFactory(practice=practice)
    Client.objects.filter(pk=client.pk).update(updated_at=timezone.now() - dt.timedelta(days=1))
    stamped, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        try:
            with transaction.atomic():
                row = Client.objects.get(pk=client.pk)
                row.phone = "+44 7700 900555"
                row.save()  # updated_at stamped now, visible only at commit
                stamped.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_write)
    writer.start()
    assert stamped.wait(timeout=10)
    first = owner.api.get("/api/v1/clients/", {"updated_since": since(timezone.now())})
    release.set()
    writer.join(timeout=10)
    second = owner.api.get("/api/v1/clients/", {"updated_since": first["Sync-Since"]})

    assert [row["id"] for row in first.json()["results"]] == []
    assert [row["phone"] for row in second.json()["results"]] == ["+44 7700 900555"]
