"""The follow-up question after a completed session (API.md "Reminders and follow-ups").

The link in the follow-up message is the only credential: GET shows the question without a login,
POST {"pain": 0-10, "comment"?} stores an NPRS outcome for the complaint once, the link expires 7
days after it was sent, and an answer at least 2 above that session's pain_before alerts the
therapist. Every refusal is checked in the database too: nothing written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import Client, Complaint, Outcome
from sessions.records.models import TherapistAlert
from sessions.scheduling import reminders
from sessions.scheduling.models import Appointment, Reminder, ReminderKind, Status
from tests.factories import AppointmentFactory, ComplaintFactory, NoteFactory, ReminderFactory
from tests.sessions.test_reminders import make_bookable

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def url(token: str) -> str:
    return f"/api/v1/public/follow-ups/{token}/"


@dataclass
class FollowUp:
    appointment: Appointment
    complaint: Complaint
    reminder: Reminder
    token: str


def send_follow_up(reminder: Reminder) -> str:
    """Send the follow-up as the worker would and read its token from the message."""
    assert reminder.pk in reminders.claim_due_reminders(now=reminder.scheduled_for)
    sent_before = len(mail.outbox)
    assert reminders.deliver_reminder(reminder.pk) == "sent"
    link = re.search(r"/api/v1/public/follow-ups/([^/\s]+)/", mail.outbox[sent_before].body)
    assert link, mail.outbox[sent_before].body
    return link.group(1)


@pytest.fixture
def follow_up(owner, practice, therapist) -> FollowUp:
    return make_follow_up(practice, therapist)


def make_follow_up(practice, therapist) -> FollowUp:
    """A session completed two days ago with pain_before 4, whose follow-up has just been sent."""
    setup = make_bookable(practice, therapist.user.therapist)
    complaint = ComplaintFactory(client=setup.client, mechanism="Lifted a wardrobe")
    appointment = AppointmentFactory(
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
        start=timezone.now() - timedelta(days=2, hours=1),
        status=Status.COMPLETED,
    )
    NoteFactory(
        client=setup.client,
        appointment=appointment,
        complaint=complaint,
        author=therapist.user,
        pain_before=4,
    )
    row = ReminderFactory(
        appointment=appointment,
        kind=ReminderKind.FOLLOW_UP,
        scheduled_for=timezone.now() - timedelta(minutes=1),
    )
    return FollowUp(appointment, complaint, row, send_follow_up(row))


def nprs(complaint: Complaint) -> list[Outcome]:
    return list(complaint.outcomes.filter(instrument="nprs"))


# --- the question ---------------------------------------------------------------------------


def test_the_question_is_shown_without_login(anon, follow_up):
    response = anon.get(url(follow_up.token))

    assert response.status_code == 200, response.content
    payload = response.json()
    assert payload["practice"] == "North Back Clinic"
    assert "0" in payload["question"]
    assert "10" in payload["question"]
    assert payload["answered"] is False
    assert "wardrobe" not in response.content.decode().lower()


def test_completing_through_the_api_leads_to_a_working_link(owner, anon, practice, therapist):
    setup = make_bookable(practice, therapist.user.therapist)
    appointment = AppointmentFactory(
        client=setup.client,
        therapist=setup.therapist,
        service=setup.service,
        start=timezone.now() - timedelta(hours=2),
    )
    owner.api.post(f"/api/v1/appointments/{appointment.pk}/check-in/")
    owner.api.post(f"/api/v1/appointments/{appointment.pk}/complete/")
    (row,) = Reminder.objects.filter(appointment=appointment, kind=ReminderKind.FOLLOW_UP)

    token = send_follow_up(row)

    assert anon.get(url(token)).status_code == 200


# --- answering ------------------------------------------------------------------------------


def test_an_answer_is_stored_as_an_nprs_outcome_of_the_complaint(anon, follow_up):
    response = anon.post(url(follow_up.token), {"pain": 3, "comment": "Much easier"})

    assert response.status_code == 201, response.content
    (outcome,) = nprs(follow_up.complaint)
    assert outcome.answers == {"pain": 3}
    assert outcome.score == 3
    assert outcome.client_id == follow_up.appointment.client_id
    assert outcome.recorded_by is None
    follow_up.reminder.refresh_from_db()
    assert follow_up.reminder.answered_at is not None
    assert anon.get(url(follow_up.token)).json()["answered"] is True


def test_a_second_answer_is_409_and_changes_nothing(anon, follow_up):
    assert anon.post(url(follow_up.token), {"pain": 3}).status_code == 201

    again = anon.post(url(follow_up.token), {"pain": 9})

    assert again.status_code == 409, again.content
    assert again.json()["code"] == "invalid_transition"
    assert [o.answers for o in nprs(follow_up.complaint)] == [{"pain": 3}]
    assert not TherapistAlert.objects.exists()


def test_one_answer_per_visit_whatever_the_channel(anon, follow_up, capsys):
    Client.objects.filter(pk=follow_up.appointment.client_id).update(phone="+44 7700 900123")
    sms = ReminderFactory(
        appointment=follow_up.appointment,
        kind=ReminderKind.FOLLOW_UP,
        channel="sms",
        scheduled_for=timezone.now() - timedelta(minutes=1),
    )
    assert sms.pk in reminders.claim_due_reminders()
    capsys.readouterr()
    assert reminders.deliver_reminder(sms.pk) == "sent"
    printed = capsys.readouterr().out  # the console SMS backend
    sms_token = re.search(r"/api/v1/public/follow-ups/([^/\s]+)/", printed).group(1)
    assert sms_token != follow_up.token

    assert anon.post(url(follow_up.token), {"pain": 2}).status_code == 201
    second = anon.post(url(sms_token), {"pain": 2})

    assert second.status_code == 409
    assert len(nprs(follow_up.complaint)) == 1


def test_the_outcome_goes_to_the_sessions_complaint(anon, follow_up):
    newer = ComplaintFactory(client=follow_up.appointment.client)

    anon.post(url(follow_up.token), {"pain": 5})

    assert len(nprs(follow_up.complaint)) == 1
    assert nprs(newer) == []


@pytest.mark.parametrize(
    "body",
    [
        {"pain": 11},
        {"pain": -1},
        {"pain": "a lot"},
        {"pain": 4.5},
        {},
        {"comment": "no score"},
        {"pain": 4, "score": 4},
    ],
    ids=["11", "-1", "text", "fraction", "empty", "comment-only", "unknown-field"],
)
def test_a_bad_answer_is_400_and_writes_nothing(anon, follow_up, body):
    response = anon.post(url(follow_up.token), body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert nprs(follow_up.complaint) == []
    follow_up.reminder.refresh_from_db()
    assert follow_up.reminder.answered_at is None
    assert anon.post(url(follow_up.token), {"pain": 4}).status_code == 201  # still open


def test_the_link_expires_after_7_days(anon, follow_up):
    Reminder.objects.filter(pk=follow_up.reminder.pk).update(
        sent_at=timezone.now() - timedelta(days=8)
    )

    assert anon.get(url(follow_up.token)).status_code == 404
    response = anon.post(url(follow_up.token), {"pain": 3})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert nprs(follow_up.complaint) == []
    follow_up.reminder.refresh_from_db()
    assert follow_up.reminder.answered_at is None


def test_the_link_still_works_just_before_7_days(anon, follow_up):
    Reminder.objects.filter(pk=follow_up.reminder.pk).update(
        sent_at=timezone.now() - timedelta(days=7) + timedelta(minutes=5)
    )

    assert anon.get(url(follow_up.token)).status_code == 200
    assert anon.post(url(follow_up.token), {"pain": 3}).status_code == 201


@pytest.mark.parametrize("token", ["fu_unknown", "x" * 60, "nonsense"])
def test_an_unknown_token_is_404(anon, follow_up, token):
    assert anon.get(url(token)).status_code == 404
    response = anon.post(url(token), {"pain": 3})

    assert response.status_code == 404
    assert nprs(follow_up.complaint) == []


def test_a_follow_up_not_yet_sent_has_no_working_link(anon, follow_up):
    Reminder.objects.filter(pk=follow_up.reminder.pk).update(sent_at=None)

    assert anon.get(url(follow_up.token)).status_code == 404
    assert anon.post(url(follow_up.token), {"pain": 3}).status_code == 404


# --- the escalation rule --------------------------------------------------------------------


def test_pain_two_above_pain_before_alerts_the_therapist(
    anon, follow_up, therapist, django_capture_on_commit_callbacks
):
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = anon.post(url(follow_up.token), {"pain": 6, "comment": "Worse since Tuesday"})

    assert response.status_code == 201, response.content
    (alert,) = TherapistAlert.objects.all()
    assert alert.therapist == follow_up.appointment.therapist
    assert alert.appointment == follow_up.appointment
    assert alert.practice == follow_up.appointment.practice
    assert "6/10" in alert.message
    assert alert.acknowledged_at is None
    (message,) = mail.outbox
    assert message.to == [follow_up.appointment.therapist.user.email]
    assert "wardrobe" not in message.body.lower()


def test_pain_one_above_pain_before_alerts_nobody(
    anon, follow_up, django_capture_on_commit_callbacks
):
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = anon.post(url(follow_up.token), {"pain": 5})

    assert response.status_code == 201
    assert not TherapistAlert.objects.exists()
    assert mail.outbox == []
