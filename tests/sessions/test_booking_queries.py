"""The busiest write's cost (issue 22.1): a staff booking with an Idempotency-Key and 5 webhook
subscriptions, counted query by query over the whole request, and what the levers that cut it
(the key's lookup folded into its insert, the outbox in one statement, no savepoint of the booking's
own, the history answered from the row just written) must not break."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from practice.models import WebhookDelivery, WebhookEvent
from practice.services import create_room, update_service
from practice.webhooks import create_subscription, delete_subscription, update_subscription
from sessions.records.models import IntakeRequest
from sessions.scheduling.models import (
    Appointment,
    AppointmentEvent,
    CalendarLink,
    CalendarWrite,
    IdempotencyRecord,
)
from tests.sessions.booking_setup import local

URL = "/api/v1/appointments/"
EVENTS = ["appointment.created", "appointment.updated", "appointment.cancelled", "client.created"]

# What the request costs in production, where the key's transaction is the outermost (its BEGIN
# and COMMIT are not counted by Django), once the practice's configuration is kept at its current
# version (practice.config_versions; the warm-up booking reads it):
#   1 token+user (with membership and practice, and so the configuration's version)
#   1 the client, with whether this is a first visit needing an intake (issue 17.2)
#   1 the slot re-check's busy times: one UNION of time off, outside busy blocks, appointments of
#     the therapist or rooms (the diaries and the suitable rooms are kept)
#   3 inserts: the appointment, its event, its reminder
#   1 the webhook outbox (Postgres: one statement; elsewhere select + event + deliveries)
#   1 the key's record (INSERT ... ON CONFLICT DO NOTHING)
# History: 18 before issue 22 (a lookup of the key, the subscriptions read on their own, the history
# read back for the answer); then 17, and 3 more with issues 17 and 20 (first visit, intake
# request, CalDAV links) and 1 with a room. Issue 22.1 took off the booking's own SAVEPOINT and
# RELEASE (already inside the key's transaction), folded the first-visit, intake and write-back
# questions into the lookups, read the service and therapist in one query and the busy times in
# one (11), then kept the service and therapist, the diaries and the rooms per configuration
# version (8).
BOOKING_QUERIES = {"postgresql": 8, "sqlite": 10}


def _body(bookable, days: int, hour: int) -> dict:
    return {
        "service": bookable.service.pk,
        "therapist": bookable.therapist.pk,
        "client": bookable.client.pk,
        "start": local(bookable.practice, days, hour).isoformat(),
    }


def _subscribe(practice, count: int = 5, events: list[str] = EVENTS) -> list:
    return [
        create_subscription(practice=practice, url=f"https://hooks.example/{i}", events=events)[0]
        for i in range(count)
    ]


def _own_queries(captured: CaptureQueriesContext) -> list[str]:
    """The request's queries without the SAVEPOINT/RELEASE that the test's own transaction turns
    the request's BEGIN/COMMIT into (the first SAVEPOINT, the last RELEASE)."""
    queries = [q["sql"] for q in captured.captured_queries]
    first = next(i for i, sql in enumerate(queries) if sql.startswith("SAVEPOINT"))
    last = max(i for i, sql in enumerate(queries) if sql.startswith("RELEASE SAVEPOINT"))
    return [sql for i, sql in enumerate(queries) if i not in (first, last)]


@pytest.mark.django_db
def test_staff_booking_with_a_key_and_5_subscriptions_and_a_room_is_a_pinned_number_of_queries(
    owner, bookable
):
    _subscribe(bookable.practice)
    room = create_room(practice=bookable.practice, fields={"name": "Room 1"})
    update_service(service=bookable.service, fields={"needs_room": True}, therapists=None)
    owner.api.post(URL, _body(bookable, 2, 9), HTTP_IDEMPOTENCY_KEY="warm")  # per-process caches

    with CaptureQueriesContext(connection) as captured:
        response = owner.api.post(URL, _body(bookable, 3, 10), HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201, response.content
    queries = _own_queries(captured)
    assert len(queries) == BOOKING_QUERIES[connection.vendor], "\n".join(q[:120] for q in queries)
    appointment = Appointment.objects.get(pk=response.json()["id"])
    history = AppointmentEvent.objects.get(appointment=appointment)
    assert response.json()["history"] == [
        {
            "at": history.at.isoformat().replace("+00:00", "Z"),
            "actor": owner.user.pk,
            "actor_kind": "staff",
            "action": "created",
            "changes": history.changes,
        }
    ]
    event = WebhookEvent.objects.get(type="appointment.created", data__id=appointment.pk)
    assert event.deliveries.count() == 5
    assert IdempotencyRecord.objects.filter(key="k-1").count() == 1
    assert appointment.room_id == room.pk


@pytest.mark.django_db
def test_the_outbox_follows_the_subscriptions_as_they_are_now(owner, bookable):
    """No copy of the subscriptions is kept anywhere: a change is seen by the next booking."""
    practice = bookable.practice
    first, second, third = _subscribe(practice, 3)
    _subscribe(practice, 1, events=["client.created"])  # not an appointment event
    update_subscription(subscription=second, fields={"active": False})
    delete_subscription(subscription=third)

    booked = owner.api.post(URL, _body(bookable, 3, 10))
    update_subscription(subscription=first, fields={"active": False})
    unheard = owner.api.post(URL, _body(bookable, 3, 14))

    assert booked.status_code == unheard.status_code == 201
    event = WebhookEvent.objects.get(type="appointment.created", data__id=booked.json()["id"])
    assert list(event.deliveries.values_list("subscription", flat=True)) == [first.pk]
    assert event.deliveries.get().status == "pending"
    assert event.data["start"] == booked.json()["start"].replace("+00:00", "Z")
    assert not WebhookEvent.objects.filter(data__id=unheard.json()["id"]).exists()


@pytest.mark.django_db
def test_a_retry_after_the_booking_replays_it_and_writes_nothing_more(owner, bookable):
    _subscribe(bookable.practice)
    data = _body(bookable, 3, 10)

    first = owner.api.post(URL, data, HTTP_IDEMPOTENCY_KEY="again")
    retry = owner.api.post(URL, data, HTTP_IDEMPOTENCY_KEY="again")
    other = owner.api.post(URL, _body(bookable, 3, 14), HTTP_IDEMPOTENCY_KEY="again")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    # The retry and the reused key each tried and were rolled back: one of everything is left.
    assert Appointment.objects.count() == 1
    assert AppointmentEvent.objects.count() == 1
    assert WebhookEvent.objects.filter(type="appointment.created").count() == 1
    assert WebhookDelivery.objects.count() == 5
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_series_for_a_new_client_asks_for_one_intake_with_its_first_visit(owner, bookable):
    """The client's lookup answers "first visit?" once: the series' later visits must not each
    ask for an intake of their own (the annotation is spent on the first)."""
    response = owner.api.post(
        f"{URL}series/", {**_body(bookable, 3, 10), "count": 3}, HTTP_IDEMPOTENCY_KEY="s-1"
    )

    assert response.status_code == 201, response.content
    first = response.json()["occurrences"][0]["appointment"]
    (intake,) = IntakeRequest.objects.filter(client=bookable.client)
    assert intake.appointment_id == first


@pytest.mark.django_db
def test_a_booking_is_written_back_to_the_therapists_caldav_calendar_only(owner, bookable):
    """The therapist's lookup answers "any write-back calendar?": with one, the booking is queued
    for it; without one (another therapist's link), nothing is."""
    link = CalendarLink.objects.create(
        practice=bookable.practice,
        therapist=bookable.therapist,
        kind="caldav",
        url="https://dav.example/cal/",
        write_back=True,
        next_sync_at=timezone.now(),
    )

    booked = owner.api.post(URL, _body(bookable, 3, 10))
    CalendarLink.objects.filter(pk=link.pk).update(write_back=False)
    unwritten = owner.api.post(URL, _body(bookable, 3, 14))

    assert booked.status_code == unwritten.status_code == 201
    assert list(CalendarWrite.objects.values_list("link", "appointment")) == [
        (link.pk, booked.json()["id"])
    ]


def _race(calls: list, token: str) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(index: int) -> None:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=60)
            response = calls[index](api)
            answers[index] = (response.status_code, response.json() if response.content else {})
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_requests_racing_with_one_key_book_once_and_all_answer_it(owner, bookable):
    data = _body(bookable, 3, 10)

    answers = _race(
        [lambda api: api.post(URL, data, HTTP_IDEMPOTENCY_KEY="race") for _ in range(8)],
        owner.token,
    )

    assert Counter(status for status, _ in answers) == {201: 8}, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert Appointment.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_subscription_deleted_during_bookings_is_never_a_500(owner, bookable):
    """The outbox statement locks the subscriptions it writes deliveries for (FOR KEY SHARE): a
    deletion waits for those bookings, or they leave the deleted subscription out."""
    doomed = _subscribe(bookable.practice, 2)

    def delete(api):
        delete_subscription(subscription=doomed[0])
        return api.get("/api/v1/me/")

    calls = [(lambda api, day=day: api.post(URL, _body(bookable, day, 10))) for day in range(3, 10)]
    answers = _race([*calls, delete], owner.token)

    assert Counter(status for status, _ in answers) == {201: 7, 200: 1}, answers
    assert WebhookDelivery.objects.filter(subscription=doomed[1]).count() == 7
