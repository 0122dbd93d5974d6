"""The waitlist: a freed slot is offered to waiting clients in order; the first claim books it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import Client
from sessions.scheduling import reminders, waitlist
from sessions.scheduling.models import (
    Appointment,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Status,
    WaitlistEntry,
    WaitlistOffer,
)
from tests.factories import ClientFactory, ComplaintFactory, WaitlistEntryFactory
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
    from sessions.scheduling.models import WaitlistOffer

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


# --- offers go through the reminder outbox (issue 14.4) -----------------------------------------


def cancel(owner, appointment, capture) -> None:
    with capture(execute=True):
        response = owner.api.post(
            f"/api/v1/appointments/{appointment['id']}/cancel/", {}, format="json"
        )
    assert response.status_code == 200, response.content


def offer_mails() -> list:
    return [m for m in mail.outbox if "came free" in m.subject]


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_offers_are_outbox_messages_sent_once_in_waitlist_order(
    owner, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    mail.outbox.clear()

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    rows = list(Reminder.objects.filter(kind=ReminderKind.WAITLIST_OFFER).order_by("id"))
    assert [(r.client, r.channel, r.status) for r in rows] == [
        (client, "email", ReminderStatus.SENT) for client in waiting
    ]
    assert [r.waitlist_offer.entry.client for r in rows] == waiting
    assert all(r.token_hash for r in rows)  # the claim link is stored hashed with `sent`
    assert [m.to for m in offer_mails()] == [[c.email] for c in waiting]

    assert set(reminders.deliver_reminders([r.pk for r in rows]).values()) == {"skipped"}
    assert len(offer_mails()) == 2
    # Staff see them with the other messages.
    kinds = [r["kind"] for r in owner.api.get("/api/v1/reminders/").json()["results"]]
    assert kinds.count("waitlist_offer") == 2


def test_a_client_who_opted_out_gets_no_offer_message(
    owner, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    Client.objects.filter(pk=waiting[0].pk).update(reminders_opt_out=True)
    mail.outbox.clear()

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    assert [m.to for m in offer_mails()] == [[waiting[1].email]]
    assert not Reminder.objects.filter(client=waiting[0]).exists()


def test_a_client_with_an_open_red_flag_is_skipped_and_the_next_is_offered(
    owner, anon, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    ComplaintFactory(client=waiting[0], status="referral_required")
    mail.outbox.clear()

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    assert [m.to for m in offer_mails()] == [[waiting[1].email]]
    assert [o.entry.client for o in WaitlistOffer.objects.all()] == [waiting[1]]
    assert not Reminder.objects.filter(client=waiting[0]).exists()
    assert WaitlistEntry.objects.get(client=waiting[0]).status == "waiting"
    claimed = anon.post(claim_link(offer_mails()[0]))
    assert claimed.status_code == 201, claimed.content


def test_an_offer_goes_by_sms_too_where_the_client_asked_for_it(
    owner, taken, django_capture_on_commit_callbacks, capsys
):
    appointment, waiting = taken
    Client.objects.filter(pk=waiting[1].pk).update(
        reminder_channels=["email", "sms"], phone="+44 7700 900123"
    )
    Client.objects.filter(pk=waiting[0].pk).update(reminder_channels=["sms"], phone="")

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    sent = Reminder.objects.filter(kind=ReminderKind.WAITLIST_OFFER, status=ReminderStatus.SENT)
    assert sorted(sent.values_list("client", "channel")) == [
        (waiting[1].pk, "email"),
        (waiting[1].pk, "sms"),
    ]  # no phone: no SMS, and email was not asked for
    assert "[sms] to +44 7700 900123" in capsys.readouterr().out


def test_a_failed_offer_message_is_retried_and_its_link_then_claims(
    owner, anon, taken, settings, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    settings.EMAIL_BACKEND = "tests.sessions.test_reminders_delivery.RefusingEmailBackend"

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    rows = Reminder.objects.filter(kind=ReminderKind.WAITLIST_OFFER)
    assert set(rows.values_list("status", "attempts")) == {(ReminderStatus.SCHEDULED, 1)}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    later = max(rows.values_list("scheduled_for", flat=True))
    reminders.deliver_reminders(reminders.claim_due_reminders(now=later))

    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.SENT}
    claimed = anon.post(claim_link(offer_mails()[0]))
    assert claimed.status_code == 201, claimed.content
    assert Appointment.objects.get(pk=claimed.json()["id"]).client == waiting[0]


def test_an_offer_message_whose_offer_expired_before_it_went_out_is_not_sent(
    owner, taken, django_capture_on_commit_callbacks
):
    appointment, _ = taken
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):  # the dispatch does not run yet
        owner.api.post(f"/api/v1/appointments/{appointment['id']}/cancel/", {}, format="json")
    # The offer task runs after commit; run it here, then let the claim window pass.
    offers = waitlist.offer_freed_time(
        therapist_id=Appointment.objects.get(pk=appointment["id"]).therapist_id,
        start=Appointment.objects.get(pk=appointment["id"]).start,
        end=Appointment.objects.get(pk=appointment["id"]).blocked_until,
    )
    assert len(offers) == 2
    WaitlistOffer.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    results = reminders.deliver_reminders(reminders.claim_due_reminders())

    assert set(results.values()) == {ReminderStatus.CANCELLED}
    assert offer_mails() == []


def test_the_claim_window_is_the_practices_and_an_expired_offer_is_409(
    owner, anon, taken, django_capture_on_commit_callbacks
):
    appointment, waiting = taken
    practice = waiting[0].practice
    practice.waitlist_offer_minutes = 30
    practice.save(update_fields=["waitlist_offer_minutes"])
    mail.outbox.clear()
    before = timezone.now()

    cancel(owner, appointment, django_capture_on_commit_callbacks)

    offer = WaitlistOffer.objects.order_by("id").first()
    assert before + timedelta(minutes=30) <= offer.expires_at
    assert offer.expires_at <= timezone.now() + timedelta(minutes=30)
    link = claim_link(offer_mails()[0])
    WaitlistOffer.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    refused = anon.post(link)

    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    assert "expired" in refused.json()["detail"]
    assert not Appointment.objects.exclude(status=Status.CANCELLED).exists()
    assert WaitlistEntry.objects.get(client=waiting[0]).status == "waiting"


def test_entries_past_their_last_day_expire_and_are_offered_nothing(owner, bookable):
    today = timezone.localdate()
    past = WaitlistEntryFactory(
        client=bookable.client,
        service=bookable.service,
        first_day=today - timedelta(days=10),
        last_day=today - timedelta(days=2),
    )
    current = WaitlistEntryFactory(
        client=bookable.client, service=bookable.service, first_day=today, last_day=today
    )

    assert waitlist.expire_entries() == 1

    past.refresh_from_db()
    current.refresh_from_db()
    assert (past.status, current.status) == ("expired", "waiting")
    listed = {row["id"]: row["status"] for row in owner.api.get(URL).json()["results"]}
    assert listed == {past.pk: "expired", current.pk: "waiting"}
