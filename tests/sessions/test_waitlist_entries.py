"""Joining and leaving the waitlist through the API (sessions.scheduling.waitlist.join_waitlist /
cancel_entry): the rules the view used to hold, now in the service."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sessions.scheduling.models import WaitlistEntry, WaitlistStatus
from tests.factories import ClientFactory, WaitlistEntryFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/waitlist/"


def window(bookable) -> dict:
    today = timezone.localdate().isoformat()
    return {"service": bookable.service.pk, "first_day": today, "last_day": today}


def test_staff_must_name_the_client_and_nothing_is_written(owner, bookable):
    response = owner.api.post(URL, window(bookable), format="json")

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["client"]
    assert not WaitlistEntry.objects.exists()


def test_staff_add_a_named_client(owner, bookable):
    client = ClientFactory(practice=bookable.practice)
    response = owner.api.post(URL, {**window(bookable), "client": client.pk}, format="json")

    assert response.status_code == 201, response.content
    entry = WaitlistEntry.objects.get()
    assert (entry.client, entry.practice, entry.status) == (
        client,
        bookable.practice,
        WaitlistStatus.WAITING,
    )


def test_a_cancelled_entry_cannot_be_cancelled_again(owner, bookable):
    entry = WaitlistEntryFactory(client=ClientFactory(practice=bookable.practice))

    first = owner.api.post(f"{URL}{entry.pk}/cancel/", {}, format="json")
    again = owner.api.post(f"{URL}{entry.pk}/cancel/", {}, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["status"] == WaitlistStatus.CANCELLED
    assert again.status_code == 409, again.content
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.CANCELLED
