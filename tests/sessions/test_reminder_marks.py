"""The sender's marks (issue 22.3, 22.5): one statement each, committed without waiting for the
disk, and leaving no session state on the connection (a pooler in transaction mode may give the
next statement to another server connection, and a SET would follow it there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from practice.queueing import update_not_waiting_for_disk
from sessions.scheduling import reminders
from sessions.scheduling.models import Reminder, ReminderStatus
from tests.factories import AppointmentFactory, ReminderFactory
from tests.sessions.booking_setup import make_bookable

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def _due(practice, therapist) -> Reminder:
    setup = make_bookable(practice, therapist.user)
    appointment = AppointmentFactory(
        client=setup.client, therapist=setup.therapist, service=setup.service
    )
    return ReminderFactory(
        appointment=appointment, scheduled_for=timezone.now() - timedelta(minutes=1)
    )


def test_a_sent_reminder_is_marked_by_one_statement_that_leaves_no_session_setting(
    practice, therapist
):
    reminder = _due(practice, therapist)
    assert reminder.pk in reminders.claim_due_reminders()

    with CaptureQueriesContext(connection) as captured:
        assert reminders.deliver_reminder(reminder.pk) == ReminderStatus.SENT

    marks = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert any("set_config('synchronous_commit', 'off', true)" in sql for sql in marks)
    assert not any(q["sql"].lstrip().upper().startswith(("SET ", "RESET ")) for q in captured)
    assert _setting("synchronous_commit") == "on"
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.SENT
    assert reminder.sent_at is not None
    assert reminder.lease_until is None
    assert reminder.token_hash  # the manage link's hash is kept with `sent`


def test_the_update_writes_every_field_and_counts_the_row(practice, therapist):
    reminder = _due(practice, therapist)
    later = timezone.now() + timedelta(minutes=4)

    updated = update_not_waiting_for_disk(
        Reminder,
        reminder.pk,
        status=ReminderStatus.SCHEDULED,
        scheduled_for=later,
        lease_until=None,
        last_error="x" * 10,
    )

    assert updated == 1
    assert update_not_waiting_for_disk(Reminder, reminder.pk + 999, status="sent") == 0
    reminder.refresh_from_db()
    assert (reminder.status, reminder.scheduled_for, reminder.last_error) == (
        ReminderStatus.SCHEDULED,
        later,
        "x" * 10,
    )
    assert _setting("synchronous_commit") == "on"
