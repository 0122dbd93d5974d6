"""The waitlist: a freed slot is offered to waiting clients in order; the first claim books it."""

from __future__ import annotations

import pytest
from django.core import mail

from sessions.models import Appointment, Status, WaitlistEntry, WaitlistOffer
from tests.factories import ClientFactory
from tests.sessions.booking_setup import local

pytestmark = pytest.mark.django_db
URL = "/api/v1/waitlist/"


def claim_link(message) -> str:
    return next(word for word in message.body.split() if "/waitlist-offers/" in word)


def book(member, setup, start, client):
    return member.api.post(
        "/api/v1/appointments/",
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": client.pk,
            "start": start.isoformat(),
        },
        format="json",
    )


@pytest.fixture
def taken(owner, bookable):
    """Tomorrow 10:00 local is booked; two clients wait for a slot tomorrow, in that order."""
    start = local(bookable.practice, 1, 10)
    appointment = book(owner, bookable, start, bookable.client).json()
    day = start.astimezone(bookable.practice.tz).date()
    waiting = []
    for _ in range(2):
        client = ClientFactory(practice=bookable.practice)
        response = owner.api.post(
            URL,
            {
                "client": client.pk,
                "service": bookable.service.pk,
                "first_day": day.isoformat(),
                "last_day": day.isoformat(),
                "earliest": "09:30",
                "latest": "10:30",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        waiting.append(client)
    return appointment, waiting


def test_a_cancellation_offers_the_slot_to_every_matching_entry_in_order(
    owner, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        owner.api.post(f"/api/v1/appointments/{appointment['id']}/cancel/", {}, format="json")

    offers = list(WaitlistOffer.objects.order_by("id"))
    assert [o.entry.client for o in offers] == waiting
    assert {o.start.isoformat().replace("+00:00", "Z") for o in offers} == {appointment["start"]}
    assert [m.to for m in mail.outbox if "came free" in m.subject] == [[c.email] for c in waiting]


def test_the_first_claim_books_and_the_second_is_409(
    owner, anon, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        owner.api.post(f"/api/v1/appointments/{appointment['id']}/cancel/", {}, format="json")
    first, second = (claim_link(m) for m in mail.outbox if "came free" in m.subject)

    shown = anon.get(first)
    won = anon.post(first)
    lost = anon.post(second)
    again = anon.post(first)

    assert shown.status_code == 200
    assert won.status_code == 201, won.content
    assert lost.status_code == again.status_code == 409
    assert lost.json()["code"] == "slot_unavailable"
    live = Appointment.objects.exclude(status=Status.CANCELLED)
    assert [a.client for a in live] == [waiting[0]]
    assert WaitlistEntry.objects.get(client=waiting[0]).status == "booked"
    assert WaitlistEntry.objects.get(client=waiting[1]).status == "waiting"


def test_entries_outside_the_time_window_get_no_offer(
    owner, bookable, django_capture_on_commit_callbacks
):
    start = local(bookable.practice, 1, 10)
    appointment = book(owner, bookable, start, bookable.client).json()
    day = start.astimezone(bookable.practice.tz).date().isoformat()
    owner.api.post(
        URL,
        {
            "client": ClientFactory(practice=bookable.practice).pk,
            "service": bookable.service.pk,
            "first_day": day,
            "last_day": day,
            "earliest": "14:00",
        },
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        owner.api.post(f"/api/v1/appointments/{appointment['id']}/cancel/", {}, format="json")

    assert not WaitlistOffer.objects.exists()


def test_a_client_joins_the_waitlist_for_themselves(client_member, bookable):
    day = local(bookable.practice, 2, 9).date().isoformat()
    response = client_member.api.post(
        URL, {"service": bookable.service.pk, "first_day": day, "last_day": day}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["client"] == client_member.user.client.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"last_day": "2020-01-01", "first_day": "2020-01-01"}, "last_day"),
        ({"earliest": "12:00", "latest": "11:00"}, "latest"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_waitlist_requests_are_400(owner, bookable, change, field):
    day = local(bookable.practice, 2, 9).date().isoformat()
    body = {
        "client": bookable.client.pk,
        "service": bookable.service.pk,
        "first_day": day,
        "last_day": day,
        **change,
    }

    response = owner.api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not WaitlistEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_claims_of_one_freed_slot_book_it_once(bookable, settings):
    """Ten waitlisted clients claim the same freed slot at once: one booking, nine 409s."""
    import threading
    from collections import Counter

    from django.db import connection
    from django.utils import timezone
    from rest_framework.test import APIClient

    from practice.auth import new_secret
    from sessions.models import WaitlistOffer

    start = local(bookable.practice, 1, 10)
    day = start.astimezone(bookable.practice.tz).date()
    tokens = []
    for _ in range(10):
        entry = WaitlistEntry.objects.create(
            practice=bookable.practice,
            client=ClientFactory(practice=bookable.practice),
            service=bookable.service,
            first_day=day,
            last_day=day,
        )
        token, token_hash = new_secret("wl_")
        WaitlistOffer.objects.create(
            entry=entry,
            therapist=bookable.therapist,
            start=start,
            token_hash=token_hash,
            expires_at=timezone.now() + timezone.timedelta(hours=2),
        )
        tokens.append(token)
    barrier = threading.Barrier(len(tokens))
    answers: list[tuple[int, str | None]] = []

    def claim(token: str) -> None:
        try:
            barrier.wait(timeout=30)
            response = APIClient(raise_request_exception=False).post(
                f"/api/v1/public/waitlist-offers/{token}/claim/"
            )
            answers.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(answers) == Counter({(201, None): 1, (409, "slot_unavailable"): 9})
    assert Appointment.objects.exclude(status=Status.CANCELLED).count() == 1
    assert WaitlistEntry.objects.filter(status="booked").count() == 1
