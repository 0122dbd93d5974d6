"""The reminder schedule follows the appointment (API.md "Reminders and follow-ups").

Every lifecycle change is made through the API (or `sessions.scheduling.booking`),
and the test reads the
reminder rows it left: kind, channel, due time, status. The schedule is data in the database, so
these tests need no broker; where a message goes out at once they run the on-commit dispatch with
eager Celery and count the emails.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from clients.domain import ComplaintStatus
from clients.models import Client
from practice.models import Practice, Therapist
from practice.services import set_working_hours
from sessions.records.intake import current_form
from sessions.records.models import IntakeRequest, IntakeStatus
from sessions.scheduling import reminders
from sessions.scheduling.models import Reminder, ReminderKind, ReminderStatus, Status
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ComplaintFactory,
    ReminderFactory,
    ServiceFactory,
)
from tests.sessions.booking_setup import Bookable, local

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
REMINDERS = "/api/v1/reminders/"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


# --- helpers shared with the other reminder test files ------------------------------------------


def make_bookable(practice: Practice, therapist: Therapist) -> Bookable:
    """`therapist` works 00:00-23:45 local every day and offers a 60-min service (no buffer)."""
    service = ServiceFactory(practice=practice, duration_minutes=60, buffer_minutes=0)
    therapist.services.add(service)
    set_working_hours(
        therapist=therapist,
        intervals=[{"weekday": day, "start": time(0), "end": time(23, 45)} for day in range(7)],
    )
    client = ClientFactory(
        practice=practice, reminder_channels=["email"], email="dana@example.com", first_name="Dana"
    )
    # A client whose intake is done: these files count the appointment's own messages, not the
    # first visit's intake link (issue 17, tests/sessions/test_intake.py).
    IntakeRequest.objects.create(
        practice=practice,
        client=client,
        form=current_form(practice=practice),
        status=IntakeStatus.ON_PAPER,
    )
    return Bookable(practice, therapist, service, client)


@pytest.fixture
def bookable(practice, therapist) -> Bookable:
    return make_bookable(practice, therapist.user.therapist)


def soon(practice: Practice, *, min_hours: int = 3) -> datetime:
    """A bookable whole hour a few hours from now (past the notice, inside a 24 h window)."""
    top = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hours in range(min_hours + 1, 20):
        candidate = top + timedelta(hours=hours)
        if 1 <= candidate.astimezone(practice.tz).hour <= 21:
            return candidate
    raise AssertionError("no bookable hour found")  # pragma: no cover - 20 hours always hold one


def book(api, setup: Bookable, start: datetime, client: Client | None = None) -> dict:
    response = api.post(
        APPOINTMENTS,
        {
            "service": setup.service.pk,
            "therapist": setup.therapist.pk,
            "client": (client or setup.client).pk,
            "start": start.isoformat(),
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def rows(appointment_id: int, kind: str = ReminderKind.REMINDER) -> list[Reminder]:
    return list(Reminder.objects.filter(appointment_id=appointment_id, kind=kind).order_by("id"))


# --- booking ------------------------------------------------------------------------------------


def test_booking_three_days_ahead_schedules_one_reminder_per_channel_24h_before(
    owner, bookable, django_capture_on_commit_callbacks
):
    Client.objects.filter(pk=bookable.client.pk).update(reminder_channels=["email", "sms"])
    start = local(bookable.practice, 3, 10)

    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(owner.api, bookable, start)

    scheduled = rows(appointment["id"])
    assert sorted(r.channel for r in scheduled) == ["email", "sms"]
    for row in scheduled:
        assert row.scheduled_for == start - timedelta(hours=24)
        assert row.status == ReminderStatus.SCHEDULED
        assert row.client_id == bookable.client.pk
        assert row.practice_id == bookable.practice.pk
        assert (row.attempts, row.sent_at, row.last_error) == (0, None, "")
    assert mail.outbox == []  # nothing is due yet: the dispatch after commit sent nothing


def test_the_practice_policy_sets_how_long_before(owner, bookable):
    bookable.practice.reminder_hours_before = 48
    bookable.practice.save()
    start = local(bookable.practice, 5, 11)

    appointment = book(owner.api, bookable, start)

    (row,) = rows(appointment["id"])
    assert row.scheduled_for == start - timedelta(hours=48)


def test_booking_inside_the_window_is_due_at_once_and_sent_once(
    owner, bookable, django_capture_on_commit_callbacks
):
    start = soon(bookable.practice)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment = book(owner.api, bookable, start)

    assert callbacks, "the booking asked for no dispatch after commit"
    (row,) = rows(appointment["id"])
    assert before <= row.scheduled_for <= timezone.now()
    assert row.status == ReminderStatus.SENT
    assert row.sent_at is not None
    assert row.attempts == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@example.com"]
    local_start = start.astimezone(bookable.practice.tz)
    assert local_start.strftime("%H:%M") in mail.outbox[0].body


def test_a_rolled_back_booking_leaves_no_reminder_and_sends_nothing(
    owner, bookable, django_capture_on_commit_callbacks
):
    start = soon(bookable.practice)
    book(owner.api, bookable, start)
    other = ClientFactory(practice=bookable.practice)

    with django_capture_on_commit_callbacks(execute=True):
        taken = owner.api.post(
            APPOINTMENTS,
            {
                "service": bookable.service.pk,
                "therapist": bookable.therapist.pk,
                "client": other.pk,
                "start": start.isoformat(),
            },
        )

    assert taken.status_code == 409
    assert not Reminder.objects.filter(client=other).exists()


def test_no_reminder_for_a_start_already_past(bookable):
    appointment = AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=timezone.now() - timedelta(minutes=5),
    )

    reminders.on_booked(appointment)

    assert rows(appointment.pk) == []


# --- the client's channels and opt-out ----------------------------------------------------------


@pytest.mark.parametrize(
    "preferences",
    [
        {"reminders_opt_out": True},
        {"reminder_channels": []},
    ],
    ids=["unsubscribed", "no-channels"],
)
def test_a_client_who_wants_no_messages_gets_no_rows(owner, bookable, preferences):
    Client.objects.filter(pk=bookable.client.pk).update(
        **{"reminder_channels": ["email", "sms"], **preferences}
    )

    appointment = book(owner.api, bookable, local(bookable.practice, 3, 10))
    owner.api.post(f"{APPOINTMENTS}{appointment['id']}/check-in/")
    owner.api.post(f"{APPOINTMENTS}{appointment['id']}/complete/")

    assert not Reminder.objects.filter(client=bookable.client).exists()


def test_sms_only_for_a_client_with_a_phone(owner, bookable):
    with_phone = ClientFactory(
        practice=bookable.practice, reminder_channels=["email", "sms"], phone="+44 7700 900001"
    )
    without_phone = ClientFactory(
        practice=bookable.practice, reminder_channels=["email", "sms"], phone=""
    )

    first = book(owner.api, bookable, local(bookable.practice, 3, 10), client=with_phone)
    second = book(owner.api, bookable, local(bookable.practice, 3, 12), client=without_phone)

    assert sorted(r.channel for r in rows(first["id"])) == ["email", "sms"]
    assert [r.channel for r in rows(second["id"])] == ["email"]


# --- reschedule ---------------------------------------------------------------------------------


def test_reschedule_moves_the_reminder_to_the_new_time(owner, bookable):
    appointment = book(owner.api, bookable, local(bookable.practice, 3, 10))
    new_start = local(bookable.practice, 6, 14)

    response = owner.api.post(
        f"{APPOINTMENTS}{appointment['id']}/reschedule/", {"start": new_start.isoformat()}
    )

    assert response.status_code == 200, response.content
    (row,) = rows(appointment["id"])
    assert row.scheduled_for == new_start - timedelta(hours=24)
    assert row.status == ReminderStatus.SCHEDULED


def test_a_reminder_already_sent_is_sent_again_for_the_new_time(
    owner, bookable, django_capture_on_commit_callbacks
):
    first_start = soon(bookable.practice)
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(owner.api, bookable, first_start)
    assert [r.status for r in rows(appointment["id"])] == [ReminderStatus.SENT]
    new_start = first_start + timedelta(hours=1)  # still inside the 24 h window

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.api.post(
            f"{APPOINTMENTS}{appointment['id']}/reschedule/", {"start": new_start.isoformat()}
        )

    assert response.status_code == 200, response.content
    (row,) = rows(appointment["id"])
    assert row.status == ReminderStatus.SENT
    assert len(mail.outbox) == 2
    new_local = new_start.astimezone(bookable.practice.tz)
    assert new_local.strftime("%A %d %B %Y at %H:%M") in mail.outbox[1].body


def test_a_sent_reminder_is_rescheduled_when_the_new_time_is_further_away(
    owner, bookable, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(owner.api, bookable, soon(bookable.practice))
    new_start = local(bookable.practice, 4, 9)

    owner.api.post(
        f"{APPOINTMENTS}{appointment['id']}/reschedule/", {"start": new_start.isoformat()}
    )

    (row,) = rows(appointment["id"])
    assert (row.status, row.sent_at) == (ReminderStatus.SCHEDULED, None)
    assert row.scheduled_for == new_start - timedelta(hours=24)


# --- cancel, no-show, complete -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [("cancel", {"reason": "Away"}), ("no-show", None)],
    ids=["cancel", "no-show"],
)
def test_cancel_and_no_show_cancel_every_pending_row(owner, bookable, action, body):
    Client.objects.filter(pk=bookable.client.pk).update(reminder_channels=["email", "sms"])
    appointment = book(owner.api, bookable, local(bookable.practice, 3, 10))
    # One row already handed to a send task: it must not go out either.
    Reminder.objects.filter(appointment_id=appointment["id"], channel="sms").update(
        status=ReminderStatus.QUEUED, lease_until=timezone.now() + timedelta(minutes=5)
    )

    response = owner.api.post(f"{APPOINTMENTS}{appointment['id']}/{action}/", body)

    assert response.status_code == 200, response.content
    assert {r.status for r in rows(appointment["id"])} == {ReminderStatus.CANCELLED}
    assert all(r.lease_until is None for r in rows(appointment["id"]))


def test_cancelling_leaves_a_sent_reminder_as_sent(
    owner, bookable, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(owner.api, bookable, soon(bookable.practice))

    owner.api.post(f"{APPOINTMENTS}{appointment['id']}/cancel/", {"reason": "Away"})

    (row,) = rows(appointment["id"])
    assert row.status == ReminderStatus.SENT


def test_a_cancelled_appointment_sends_nothing_even_if_its_row_was_claimed(bookable):
    row = ReminderFactory(
        appointment=AppointmentFactory(
            client=bookable.client, therapist=bookable.therapist, service=bookable.service
        ),
        scheduled_for=timezone.now() - timedelta(minutes=1),
    )
    assert reminders.claim_due_reminders() == [row.pk]
    type(row.appointment).objects.filter(pk=row.appointment_id).update(status=Status.CANCELLED)

    assert reminders.deliver_reminder(row.pk) == ReminderStatus.CANCELLED

    row.refresh_from_db()
    assert row.status == ReminderStatus.CANCELLED
    assert mail.outbox == []


def test_completing_schedules_a_follow_up_48h_after_the_end(owner, bookable):
    start = local(bookable.practice, 2, 10)
    appointment = book(owner.api, bookable, start)

    owner.api.post(f"{APPOINTMENTS}{appointment['id']}/check-in/")
    response = owner.api.post(f"{APPOINTMENTS}{appointment['id']}/complete/")

    assert response.status_code == 200, response.content
    (follow_up,) = rows(appointment["id"], ReminderKind.FOLLOW_UP)
    # Completed before its end: due at end + 48 h (API.md "Pinned details").
    assert follow_up.scheduled_for == start + timedelta(minutes=60) + timedelta(hours=48)
    assert follow_up.status == ReminderStatus.SCHEDULED
    assert follow_up.channel == "email"


def test_completing_after_the_end_counts_from_completion(owner, bookable):
    bookable.practice.follow_up_hours_after = 72
    bookable.practice.save()
    appointment = AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=timezone.now() - timedelta(hours=5),
    )
    owner.api.post(f"{APPOINTMENTS}{appointment.pk}/check-in/")

    before = timezone.now()
    owner.api.post(f"{APPOINTMENTS}{appointment.pk}/complete/")
    after = timezone.now()

    (follow_up,) = rows(appointment.pk, ReminderKind.FOLLOW_UP)
    assert before + timedelta(hours=72) <= follow_up.scheduled_for <= after + timedelta(hours=72)


# --- rebooking nudge ------------------------------------------------------------------------------


@pytest.fixture
def lapsed(bookable) -> Client:
    """A client with an active complaint whose last session ended 30 days ago (policy: 28)."""
    ComplaintFactory(client=bookable.client, status=ComplaintStatus.ACTIVE)
    AppointmentFactory(
        client=bookable.client,
        therapist=bookable.therapist,
        service=bookable.service,
        start=timezone.now() - timedelta(days=30, hours=1),
        status=Status.COMPLETED,
    )
    return bookable.client


def nudges(client: Client) -> list[Reminder]:
    return list(Reminder.objects.filter(client=client, kind=ReminderKind.REBOOK_NUDGE))


def test_a_lapsed_client_gets_one_rebook_nudge(lapsed):
    assert reminders.queue_rebook_nudges() == 1
    assert reminders.queue_rebook_nudges() == 0  # the beat runs hourly: still one

    (nudge,) = nudges(lapsed)
    assert nudge.appointment_id is None
    assert nudge.status == ReminderStatus.SCHEDULED
    assert nudge.scheduled_for <= timezone.now()


def test_no_nudge_when_something_is_booked(lapsed, bookable):
    AppointmentFactory(
        client=lapsed,
        therapist=bookable.therapist,
        service=bookable.service,
        start=timezone.now() + timedelta(days=3),
    )

    assert reminders.queue_rebook_nudges() == 0
    assert nudges(lapsed) == []


@pytest.mark.parametrize("status", [ComplaintStatus.RESOLVED, ComplaintStatus.REFERRAL_REQUIRED])
def test_no_nudge_without_an_active_complaint(lapsed, status):
    lapsed.complaints.update(status=status)

    assert reminders.queue_rebook_nudges() == 0
    assert nudges(lapsed) == []


def test_no_nudge_before_rebook_nudge_days(lapsed):
    lapsed.practice.rebook_nudge_days = 31
    lapsed.practice.save()

    assert reminders.queue_rebook_nudges() == 0


def test_no_nudge_for_an_unsubscribed_client(lapsed):
    Client.objects.filter(pk=lapsed.pk).update(reminders_opt_out=True)

    assert reminders.queue_rebook_nudges() == 0


# --- reminders/ --------------------------------------------------------------------------------


def test_reminders_list_shows_the_delivery_result(owner, bookable):
    appointment = AppointmentFactory(
        client=bookable.client, therapist=bookable.therapist, service=bookable.service
    )
    sent_at = timezone.now() - timedelta(minutes=3)
    sent = ReminderFactory(appointment=appointment, status=ReminderStatus.SENT, sent_at=sent_at)
    failed = ReminderFactory(
        appointment=appointment,
        channel="sms",
        status=ReminderStatus.FAILED,
        attempts=5,
        last_error="SMS provider refused: 400",
    )
    sending = ReminderFactory(appointment=appointment, kind="follow_up", status="sending")
    ReminderFactory(appointment__client=bookable.client)  # another appointment's

    response = owner.api.get(REMINDERS, {"appointment": appointment.pk})

    assert response.status_code == 200, response.content
    by_id = {row["id"]: row for row in response.json()["results"]}
    assert set(by_id) == {sent.pk, failed.pk, sending.pk}
    assert by_id[sent.pk]["status"] == "sent"
    assert datetime.fromisoformat(by_id[sent.pk]["sent_at"]) == sent_at
    assert by_id[failed.pk]["status"] == "failed"
    assert by_id[failed.pk]["last_error"] == "SMS provider refused: 400"
    assert by_id[failed.pk]["sent_at"] is None
    # Internal hand-over states read as "scheduled" (API.md "Reminders" statuses).
    assert by_id[sending.pk]["status"] == "scheduled"
    assert by_id[sent.pk]["kind"] == "reminder"
    assert by_id[sent.pk]["channel"] == "email"
    assert by_id[sent.pk]["appointment"] == appointment.pk
    assert by_id[sent.pk]["client"] == bookable.client.pk


def test_reminders_are_scoped_to_the_practice(owner, other_owner, other_practice, bookable):
    mine = ReminderFactory(appointment__client=bookable.client)
    theirs = ReminderFactory(appointment__client__practice=other_practice)

    own = owner.api.get(REMINDERS)
    other = other_owner.api.get(REMINDERS)

    assert [r["id"] for r in own.json()["results"]] == [mine.pk]
    assert [r["id"] for r in other.json()["results"]] == [theirs.pk]
    assert owner.api.get(f"{REMINDERS}{theirs.pk}/").status_code == 404
    assert other_owner.api.get(f"{REMINDERS}{mine.pk}/").status_code == 404


def test_a_client_sees_only_their_own_reminders(client_member, front_desk, bookable):
    own_client = client_member.user.client
    own = ReminderFactory(appointment__client=own_client)
    someone_else = ReminderFactory(appointment__client=bookable.client)

    listed = client_member.api.get(REMINDERS)
    desk = front_desk.api.get(REMINDERS)

    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["results"]] == [own.pk]
    assert client_member.api.get(f"{REMINDERS}{someone_else.pk}/").status_code == 404
    assert {r["id"] for r in desk.json()["results"]} == {own.pk, someone_else.pk}


def test_reminders_are_read_only(owner, bookable):
    row = ReminderFactory(appointment__client=bookable.client)

    assert owner.api.post(REMINDERS, {"kind": "reminder"}).status_code == 405
    assert owner.api.patch(f"{REMINDERS}{row.pk}/", {"status": "sent"}).status_code == 405
    assert owner.api.delete(f"{REMINDERS}{row.pk}/").status_code == 405
    row.refresh_from_db()
    assert row.status == ReminderStatus.SCHEDULED
