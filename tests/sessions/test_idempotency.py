"""`Idempotency-Key` on creating POSTs (API.md "Conventions"): a retry replays the first answer,
a reused key with another body is 409, only successes are kept, and keys live at least 24 hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from practice.models import Practice
from sessions.scheduling.models import Appointment, IdempotencyRecord, Status
from sessions.tasks import purge_idempotency_records
from tests.factories import AppointmentFactory, ClientFactory
from tests.sessions.booking_setup import Bookable, local

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def body(setup: Bookable, when: datetime) -> dict:
    return {
        "service": setup.service.pk,
        "therapist": setup.therapist.pk,
        "client": setup.client.pk,
        "start": when.isoformat(),
    }


def post(member, data: dict, key: str | None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return member.api.post(URL, data, **headers)


def test_same_key_and_body_replays_the_first_response(owner, bookable):
    data = body(bookable, local(bookable.practice, 3, 10))

    first = post(owner, data, "key-1")
    again = post(owner, data, "key-1")

    assert first.status_code == 201, first.content
    assert again.status_code == 201, again.content
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_body_without_a_key_is_a_new_request(owner, bookable):
    data = body(bookable, local(bookable.practice, 3, 10))

    assert post(owner, data, None).status_code == 201
    second = post(owner, data, None)

    assert second.status_code == 409
    assert second.json()["code"] == "slot_unavailable"
    assert IdempotencyRecord.objects.count() == 0


def test_same_key_with_another_body_is_409_idempotency_key_reused(owner, bookable):
    assert post(owner, body(bookable, local(bookable.practice, 3, 10)), "key-1").status_code == 201

    response = post(owner, body(bookable, local(bookable.practice, 3, 14)), "key-1")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "idempotency_key_reused"
    assert Appointment.objects.count() == 1


def test_keys_belong_to_one_user(owner, front_desk, bookable):
    mine = post(owner, body(bookable, local(bookable.practice, 3, 10)), "shared-key")
    theirs = post(front_desk, body(bookable, local(bookable.practice, 3, 14)), "shared-key")

    assert mine.status_code == 201, mine.content
    assert theirs.status_code == 201, theirs.content  # not "reused": another user's key space
    assert mine.json()["id"] != theirs.json()["id"]
    assert Appointment.objects.count() == 2


def test_another_user_with_the_same_key_and_body_is_not_replayed(owner, front_desk, bookable):
    data = body(bookable, local(bookable.practice, 3, 10))
    assert post(owner, data, "shared-key").status_code == 201

    response = post(front_desk, data, "shared-key")

    # A replay would hand front desk the owner's stored answer; it is a request of its own.
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "slot_unavailable"
    assert "Idempotent-Replayed" not in response


def test_a_refused_booking_is_not_stored_so_a_retry_can_succeed(owner, bookable):
    start = local(bookable.practice, 3, 10)
    blocker = AppointmentFactory(
        client=ClientFactory(practice=bookable.practice),
        therapist=bookable.therapist,
        service=bookable.service,
        start=start,
    )
    data = body(bookable, start)

    refused = post(owner, data, "retry-key")
    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "slot_unavailable"
    assert IdempotencyRecord.objects.count() == 0

    blocker.status = Status.CANCELLED
    blocker.save()
    retried = post(owner, data, "retry-key")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried
    assert Appointment.objects.exclude(status=Status.CANCELLED).get().pk == retried.json()["id"]
    assert IdempotencyRecord.objects.count() == 1


def test_an_invalid_request_is_not_stored(owner, bookable):
    off_grid = body(bookable, local(bookable.practice, 3, 10, 7))

    first = post(owner, off_grid, "bad-key")
    fixed = post(owner, body(bookable, local(bookable.practice, 3, 10)), "bad-key")

    assert first.status_code == 400, first.content
    # The key was not spent on the failure: a corrected body under it books, not "reused".
    assert fixed.status_code == 201, fixed.content
    assert Appointment.objects.count() == 1


def test_an_overlong_key_is_400(owner, bookable):
    response = post(owner, body(bookable, local(bookable.practice, 3, 10)), "k" * 201)

    assert response.status_code == 400, response.content
    assert Appointment.objects.count() == 0


def test_series_requests_are_idempotent_too(owner, bookable):
    data = {**body(bookable, local(bookable.practice, 3, 10)), "count": 3}

    first = owner.api.post(f"{URL}series/", data, HTTP_IDEMPOTENCY_KEY="course-1")
    again = owner.api.post(f"{URL}series/", data, HTTP_IDEMPOTENCY_KEY="course-1")

    assert first.status_code == 201, first.content
    assert again.json() == first.json()
    assert Appointment.objects.count() == 3


def _record(practice: Practice, key: str, age: timedelta) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(
        practice=practice,
        principal="user:1",
        key=key,
        request_hash="0" * 64,
        status_code=201,
        response={},
    )
    # created_at is auto_now_add: age the row with an UPDATE.
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_purge_drops_records_older_than_48_hours_and_keeps_newer(practice):
    kept = [
        _record(practice, "fresh", timedelta(minutes=5)),
        _record(practice, "a-day", timedelta(hours=24, minutes=1)),
        _record(practice, "almost-two-days", timedelta(hours=47, minutes=59)),
    ]
    _record(practice, "old", timedelta(hours=48, minutes=1))
    _record(practice, "older", timedelta(days=10))

    deleted = purge_idempotency_records.delay().get()

    assert deleted == 2
    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == {r.pk for r in kept}


def test_a_key_still_replays_after_24_hours(owner, bookable):
    data = body(bookable, local(bookable.practice, 3, 10))
    first = post(owner, data, "day-old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    purge_idempotency_records()

    again = post(owner, data, "day-old")

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Appointment.objects.count() == 1
