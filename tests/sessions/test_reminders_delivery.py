"""Claiming and sending one reminder (sessions.scheduling.reminders: claim_due_reminders,
deliver_reminder).

What the client receives (practice name, local time in the practice's zone, an unsubscribe link, no
clinical content), that a send runs once however often it is asked, and what a failure leaves on the
row: a transient one retries with backoff until MAX_ATTEMPTS, a permanent one fails at once, a
sender that died gives its row back when the lease runs out. The SMS HTTP backend is exercised
against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from clients.models import Client
from sessions import tasks
from sessions.scheduling import reminders
from sessions.scheduling.messaging import HttpSms, PermanentError, TransientError
from sessions.scheduling.models import Reminder, ReminderKind, ReminderStatus
from tests.factories import (
    AppointmentFactory,
    ComplaintFactory,
    NoteFactory,
    ReminderFactory,
)
from tests.sessions.test_reminders import Bookable, book, local, make_bookable

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user.therapist)


class RefusingEmailBackend(BaseEmailBackend):
    """An SMTP server that cannot be reached: the error smtplib raises is an OSError."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def due_reminder(bookable, **overrides) -> Reminder:
    appointment = AppointmentFactory(
        client=bookable.client, therapist=bookable.therapist, service=bookable.service
    )
    values = {"scheduled_for": timezone.now() - timedelta(minutes=1), **overrides}
    return ReminderFactory(appointment=appointment, **values)


def claim_and_send(reminder: Reminder, now: datetime | None = None) -> str:
    assert reminder.pk in reminders.claim_due_reminders(now=now), "the reminder was not due"
    return reminders.deliver_reminder(reminder.pk)


# --- the message ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_utc", "expected"),
    [
        # Clocks go forward at 01:00 UTC: 09:00 UTC is 10:00 BST on the day itself.
        (datetime(2027, 3, 28, 9, 0, tzinfo=UTC), "Sunday 28 March 2027 at 10:00"),
        # Clocks go back at 01:00 UTC: 10:00 UTC is 10:00 GMT on the day itself.
        (datetime(2026, 10, 25, 10, 0, tzinfo=UTC), "Sunday 25 October 2026 at 10:00"),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_the_message_shows_the_local_time_on_a_dst_day(bookable, start_utc, expected):
    appointment = AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=start_utc,
    )
    row = ReminderFactory(appointment=appointment)

    assert claim_and_send(row, now=row.scheduled_for) == ReminderStatus.SENT

    (message,) = mail.outbox
    assert expected in message.body
    assert "Europe/London" in message.body
    assert "North Back Clinic" in message.subject
    assert "North Back Clinic" in message.body


def test_a_booking_on_a_dst_day_is_reminded_with_the_local_hour(owner, bookable):
    bookable.practice.booking_horizon_days = 365
    bookable.practice.save()
    start = datetime(2027, 3, 28, 10, 0, tzinfo=bookable.practice.tz)  # 09:00 UTC
    appointment = book(owner.api, bookable, start)
    (row,) = Reminder.objects.filter(appointment_id=appointment["id"])
    assert row.scheduled_for == datetime(2027, 3, 27, 9, 0, tzinfo=UTC)

    assert claim_and_send(row, now=row.scheduled_for) == ReminderStatus.SENT

    assert "Sunday 28 March 2027 at 10:00" in mail.outbox[0].body
    assert "09:00" not in mail.outbox[0].body


def test_messages_carry_no_clinical_content(bookable):
    Client.objects.filter(pk=bookable.client.pk).update(health_flags=["osteoporosis"])
    complaint = ComplaintFactory(client=bookable.client, mechanism="Lifted a wardrobe")
    row = due_reminder(bookable)
    NoteFactory(
        client=bookable.client,
        appointment=row.appointment,
        complaint=complaint,
        subjective="Sciatica flare after gardening",
    )
    follow_up = ReminderFactory(
        appointment=row.appointment, kind=ReminderKind.FOLLOW_UP, scheduled_for=timezone.now()
    )
    nudge = ReminderFactory(
        appointment=None,
        client=bookable.client,
        practice=bookable.practice,
        kind=ReminderKind.REBOOK_NUDGE,
        scheduled_for=timezone.now(),
    )

    assert set(reminders.claim_due_reminders()) == {row.pk, follow_up.pk, nudge.pk}
    for reminder in (row, follow_up, nudge):
        reminders.deliver_reminder(reminder.pk)

    assert len(mail.outbox) == 3
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}".lower()
        for clinical in ("osteoporosis", "wardrobe", "lumbar", "sciatica", "gardening"):
            assert clinical not in text, (clinical, message.body)
        assert "North Back Clinic".lower() in text
        assert "/api/v1/public/unsubscribe/" in message.body


def test_the_follow_up_links_to_its_question(bookable):
    row = due_reminder(bookable, kind=ReminderKind.FOLLOW_UP)

    claim_and_send(row)

    link = re.search(r"/api/v1/public/follow-ups/(\S+)/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    assert reminders.follow_up_for_token(link.group(1)) == row


def test_the_reminder_carries_a_manage_link_that_shows_and_cancels_the_booking(anon, bookable):
    bookable.practice.cancellation_window_hours = 0
    bookable.practice.save()
    row = due_reminder(bookable)

    claim_and_send(row)

    link = re.search(r"/api/v1/public/bookings/(\S+)/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    shown = anon.get(f"/api/v1/public/bookings/{link.group(1)}/")
    assert shown.status_code == 200, shown.content
    assert shown.json()["status"] == "booked"
    assert datetime.fromisoformat(shown.json()["start"]) == row.appointment.start
    cancelled = anon.post(f"/api/v1/public/bookings/{link.group(1)}/cancel/", {"reason": "Ill"})
    assert cancelled.status_code == 200, cancelled.content
    row.appointment.refresh_from_db()
    assert row.appointment.status == "cancelled"


def test_a_follow_up_link_is_not_a_manage_link(anon, bookable):
    row = due_reminder(bookable, kind=ReminderKind.FOLLOW_UP)
    claim_and_send(row)
    token = re.search(r"/api/v1/public/follow-ups/(\S+)/", mail.outbox[0].body).group(1)

    response = anon.post(f"/api/v1/public/bookings/{token}/cancel/", {"reason": "x"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    row.appointment.refresh_from_db()
    assert row.appointment.status == "booked"


# --- once ---------------------------------------------------------------------------------


def test_sending_twice_sends_one_message(bookable):
    row = due_reminder(bookable)

    assert claim_and_send(row) == ReminderStatus.SENT
    assert reminders.deliver_reminder(row.pk) == "skipped"  # a redelivered task

    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (ReminderStatus.SENT, 1)
    assert reminders.claim_due_reminders(now=timezone.now() + timedelta(days=1)) == []


def test_an_unclaimed_reminder_is_not_sent(bookable):
    row = due_reminder(bookable)

    assert reminders.deliver_reminder(row.pk) == "skipped"

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == ReminderStatus.SCHEDULED


def test_a_reminder_not_yet_due_is_not_claimed(bookable):
    row = due_reminder(bookable, scheduled_for=timezone.now() + timedelta(minutes=10))

    assert reminders.claim_due_reminders() == []
    assert reminders.claim_due_reminders(now=timezone.now() + timedelta(minutes=11)) == [row.pk]


def test_claims_come_in_batches(bookable):
    rows = [due_reminder(bookable) for _ in range(5)]

    first = reminders.claim_due_reminders(batch=3)
    second = reminders.claim_due_reminders(batch=3)

    assert len(first) == 3
    assert sorted(first + second) == sorted(r.pk for r in rows)
    assert reminders.claim_due_reminders(batch=3) == []


def test_one_tick_dispatches_every_due_reminder_batch_after_batch(monkeypatch, bookable):
    monkeypatch.setattr(reminders, "BATCH", 3)
    monkeypatch.setattr(reminders, "CHUNK", 2)
    rows = [due_reminder(bookable) for _ in range(7)]

    assert tasks.dispatch_reminders() == 7  # eager: each chunk's send task runs at once

    assert len(mail.outbox) == 7
    assert set(Reminder.objects.values_list("status", flat=True)) == {ReminderStatus.SENT}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.client.email for r in rows)


def test_a_chunk_sends_its_queued_rows_once_and_skips_the_others(bookable):
    queued = [due_reminder(bookable) for _ in range(3)]
    not_due = due_reminder(bookable, scheduled_for=timezone.now() + timedelta(hours=1))
    assert sorted(reminders.claim_due_reminders()) == sorted(r.pk for r in queued)
    ids = [r.pk for r in queued] + [not_due.pk]

    first = reminders.deliver_reminders(ids)
    again = reminders.deliver_reminders(ids)  # the same task, redelivered

    assert first == {**{r.pk: ReminderStatus.SENT for r in queued}, not_due.pk: "skipped"}
    assert again == dict.fromkeys(ids, "skipped")
    assert len(mail.outbox) == 3
    not_due.refresh_from_db()
    assert not_due.status == ReminderStatus.SCHEDULED


def test_a_lapsed_lease_puts_the_row_back_and_it_is_sent_once(bookable):
    row = due_reminder(bookable)
    assert reminders.claim_due_reminders() == [row.pk]
    # The worker that took it dies after claiming it for sending, before sending anything.
    Reminder.objects.filter(pk=row.pk).update(
        status=ReminderStatus.SENDING, lease_until=timezone.now() + reminders.LEASE, attempts=1
    )
    assert (
        reminders.claim_due_reminders(now=timezone.now() + timedelta(minutes=1)) == []
    )  # lease holds

    later = timezone.now() + reminders.LEASE + timedelta(minutes=1)
    assert reminders.claim_due_reminders(now=later) == [row.pk]
    assert reminders.deliver_reminder(row.pk) == ReminderStatus.SENT
    assert reminders.deliver_reminder(row.pk) == "skipped"  # the dead worker's task, redelivered

    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.lease_until) == (ReminderStatus.SENT, 2, None)


# --- failures ------------------------------------------------------------------------------


def test_a_transient_error_retries_with_backoff_then_fails(settings, bookable):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    row = due_reminder(bookable)
    now = timezone.now()
    delays = []

    for attempt in range(1, reminders.MAX_ATTEMPTS):
        before = timezone.now()
        assert claim_and_send(row, now=now) == ReminderStatus.SCHEDULED
        row.refresh_from_db()
        assert row.status == ReminderStatus.SCHEDULED
        assert row.attempts == attempt
        assert "Connection refused" in row.last_error
        assert row.lease_until is None
        delays.append(row.scheduled_for - before)
        assert reminders.claim_due_reminders(now=row.scheduled_for - timedelta(seconds=5)) == []
        now = row.scheduled_for

    assert claim_and_send(row, now=now) == ReminderStatus.FAILED
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == (
        ReminderStatus.FAILED,
        reminders.MAX_ATTEMPTS,
        None,
    )
    assert "Connection refused" in row.last_error
    assert delays == sorted(delays)
    assert delays[0] >= timedelta(minutes=1)
    assert delays[-1] > 4 * delays[0]
    assert reminders.claim_due_reminders(now=now + timedelta(days=1)) == []


def test_a_transient_error_then_success_sends_once(settings, bookable):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    row = due_reminder(bookable)
    claim_and_send(row)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    row.refresh_from_db()

    assert claim_and_send(row, now=row.scheduled_for) == ReminderStatus.SENT

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (ReminderStatus.SENT, 2, "")
    assert len(mail.outbox) == 1


def test_a_permanent_error_fails_at_once_with_the_reason(bookable):
    Client.objects.filter(pk=bookable.client.pk).update(email="")
    row = due_reminder(bookable)

    assert claim_and_send(row) == ReminderStatus.FAILED

    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == (ReminderStatus.FAILED, 1, None)
    assert row.last_error == "No email address for this client."
    assert reminders.claim_due_reminders(now=timezone.now() + timedelta(days=1)) == []


def test_the_delivery_result_is_visible_in_reminders(owner, bookable):
    sent = due_reminder(bookable)
    claim_and_send(sent)
    Client.objects.filter(pk=bookable.client.pk).update(email="")
    failed = due_reminder(bookable)
    claim_and_send(failed)

    response = owner.api.get("/api/v1/reminders/")

    shown = {row["id"]: row for row in response.json()["results"]}
    assert shown[failed.pk]["status"] == "failed"
    assert shown[failed.pk]["last_error"] == "No email address for this client."
    assert shown[failed.pk]["sent_at"] is None
    assert shown[sent.pk]["status"] == "sent"
    assert shown[sent.pk]["last_error"] == ""
    sent.refresh_from_db()
    assert datetime.fromisoformat(shown[sent.pk]["sent_at"]) == sent.sent_at


# --- SMS over HTTP ------------------------------------------------------------------------


@dataclass
class SmsProvider:
    """A local HTTP server standing in for an SMS provider: records requests, answers `status`."""

    url: str
    status: int = 201
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def sms_provider(settings) -> Iterator[SmsProvider]:
    provider = SmsProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            provider.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers["Authorization"],
                    "content_type": self.headers["Content-Type"],
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(provider.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://acct:s3cret@127.0.0.1:{server.server_address[1]}/v1/messages"
    settings.SMS_URL = provider.url
    settings.SMS_FROM = "NorthBack"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_sms_reminder_is_posted_as_json_with_basic_auth(sms_provider, bookable):
    Client.objects.filter(pk=bookable.client.pk).update(phone="+44 7700 900777")
    row = due_reminder(bookable, channel="sms")

    assert claim_and_send(row) == ReminderStatus.SENT

    (request,) = sms_provider.requests
    assert request["path"] == "/v1/messages"
    assert request["content_type"] == "application/json"
    assert request["authorization"] == "Basic " + base64.b64encode(b"acct:s3cret").decode()
    assert request["body"]["to"] == "+44 7700 900777"
    assert request["body"]["from"] == "NorthBack"
    assert "North Back Clinic" in request["body"]["body"]
    assert "/api/v1/public/unsubscribe/" in request["body"]["body"]
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, TransientError), (503, TransientError), (429, TransientError), (400, PermanentError)],
)
def test_the_sms_provider_answer_decides_retry_or_fail(sms_provider, status, error):
    sms_provider.status = status

    with pytest.raises(error, match=str(status)):
        HttpSms(sms_provider.url, "NorthBack").send(to="+44 7700 900777", body="Hello")

    assert len(sms_provider.requests) == 1


def test_an_unreachable_sms_provider_is_transient():
    with pytest.raises(TransientError):
        HttpSms("http://u:p@127.0.0.1:9/none", "NorthBack").send(to="+1", body="Hello")


def test_a_5xx_from_the_provider_reschedules_and_a_4xx_fails(sms_provider, bookable):
    transient = due_reminder(bookable, channel="sms")
    permanent = due_reminder(bookable, channel="sms")
    claimed = reminders.claim_due_reminders()
    assert set(claimed) == {transient.pk, permanent.pk}

    sms_provider.status = 502
    assert reminders.deliver_reminder(transient.pk) == ReminderStatus.SCHEDULED
    sms_provider.status = 404
    assert reminders.deliver_reminder(permanent.pk) == ReminderStatus.FAILED

    transient.refresh_from_db()
    permanent.refresh_from_db()
    assert transient.status == ReminderStatus.SCHEDULED
    assert transient.last_error == "SMS provider answered 502"
    assert permanent.status == ReminderStatus.FAILED
    assert permanent.last_error == "SMS provider refused: 404"


# --- unsubscribe --------------------------------------------------------------------------


def unsubscribe_path(body: str) -> str:
    link = re.search(r"https?://[^/\s]+(/api/v1/public/unsubscribe/\S+/)", body)
    assert link, body
    return link.group(1)


def test_the_unsubscribe_link_opts_out_and_cancels_what_is_scheduled(anon, owner, bookable):
    sent = due_reminder(bookable)
    claim_and_send(sent)
    pending = due_reminder(bookable, scheduled_for=timezone.now() + timedelta(days=2))
    path = unsubscribe_path(mail.outbox[0].body)
    preview = anon.get(path)  # opening the link (or a mail scanner fetching it) changes nothing
    assert preview.status_code == 200
    assert preview.json()["unsubscribed"] is False
    bookable.client.refresh_from_db()
    assert bookable.client.reminders_opt_out is False

    response = anon.post(path)

    assert response.status_code == 200, response.content
    assert response.json()["unsubscribed"] is True
    bookable.client.refresh_from_db()
    assert bookable.client.reminders_opt_out is True
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.status == ReminderStatus.CANCELLED
    assert sent.status == ReminderStatus.SENT
    # Later bookings schedule nothing for this client.
    later = book(owner.api, bookable, local(bookable.practice, 5, 10))
    assert not Reminder.objects.filter(appointment_id=later["id"]).exists()


def test_a_reminder_already_handed_to_a_worker_is_not_sent_after_unsubscribing(anon, bookable):
    first = due_reminder(bookable)
    claim_and_send(first)
    queued = due_reminder(bookable)
    assert reminders.claim_due_reminders() == [queued.pk]

    assert anon.post(unsubscribe_path(mail.outbox[0].body)).status_code == 200
    reminders.deliver_reminder(queued.pk)

    assert len(mail.outbox) == 1
    queued.refresh_from_db()
    assert queued.status == ReminderStatus.CANCELLED


def test_a_forged_unsubscribe_link_is_404(anon, bookable):
    token = reminders.unsubscribe_token(bookable.client)
    forged = f"{bookable.client.pk + 1}:{token.split(':', 1)[1]}"

    assert anon.get(f"/api/v1/public/unsubscribe/{forged}/").status_code == 404
    assert anon.get("/api/v1/public/unsubscribe/nonsense/").status_code == 404
    bookable.client.refresh_from_db()
    assert bookable.client.reminders_opt_out is False
