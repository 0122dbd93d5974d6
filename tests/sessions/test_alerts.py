"""Follow-up answers screened for red flags and `alerts/` (issue 12, part B, items 2 and 3).

A follow-up's comment and checkboxes are stored with the answer and screened (DOMAIN.md 6); any
positive answer refers the complaint and alerts the therapist. Alerts are listed at `alerts/`,
filtered by `?acknowledged=`, acknowledged with a note (audited), and each is emailed once through
the reminders outbox. A follow-up of 8-10, or a rise of 2 over the last recorded pain, alerts even
without a pain-before score.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from clients import services
from clients.models import Client, Complaint, Outcome
from practice.models import AuditEvent, Practice
from sessions.records.models import FollowUpAnswer, Note, TherapistAlert
from sessions.scheduling import reminders
from sessions.scheduling.models import Reminder, ReminderKind
from tests.factories import OutcomeFactory, TherapistAlertFactory
from tests.sessions.test_follow_ups import FollowUp, make_follow_up, url

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def follow_up(owner, practice, therapist) -> FollowUp:
    return make_follow_up(practice, therapist)


def answer(anon, follow_up: FollowUp, capture, payload):
    mail.outbox.clear()
    with capture(execute=True):
        return anon.post(url(follow_up.token), payload, format="json")


# --- item 2: the comment and checkboxes ----------------------------------------------------------


def test_a_comment_describing_saddle_numbness_and_retention_refers_and_alerts(
    anon, therapist, follow_up, django_capture_on_commit_callbacks
):
    comment = "Numb around the saddle area since yesterday and urine retention this morning"

    response = answer(
        anon, follow_up, django_capture_on_commit_callbacks, {"pain": 3, "comment": comment}
    )

    assert response.status_code == 201, response.content
    (stored,) = FollowUpAnswer.objects.all()
    assert stored.comment == comment
    assert stored.text_red_flags == ["saddle_numbness", "bladder_bowel_change"]
    complaint = Complaint.objects.get(pk=follow_up.complaint.pk)
    assert complaint.status == "referral_required"
    assert complaint.referral_urgency == "emergency_same_day"
    assert "red_flag_open" in Client.objects.get(pk=complaint.client_id).health_flags
    alerts = therapist.api.get(ALERTS, {"acknowledged": "false"}).json()["results"]
    assert [(a["kind"], a["urgency"], a["questions"]) for a in alerts] == [
        ("red_flag", "emergency_same_day", ["saddle_numbness", "bladder_bowel_change"])
    ]
    assert alerts[0]["follow_up_answer"]["comment"] == comment
    assert alerts[0]["therapist"] == follow_up.appointment.therapist_id
    (message,) = mail.outbox
    assert message.to == [follow_up.appointment.therapist.user.email]
    assert "retention" not in message.body  # the email says where to look, not what was said
    history = therapist.api.get(f"/api/v1/complaints/{complaint.pk}/").json()["red_flag_history"]
    assert {(h["question"], h["answer"], h["source"]) for h in history} == {
        ("saddle_numbness", "yes", "follow_up_text"),
        ("bladder_bowel_change", "yes", "follow_up_text"),
    }
    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(complaint.pk),
        record_type="complaint",
        action="update",
        actor=None,
        client_id=complaint.client_id,
    ).exists()
    assert AuditEvent.objects.filter(record_type="follow_up_answer", action="create").exists()


def test_a_ticked_red_flag_box_refers_and_alerts(
    anon, therapist, follow_up, django_capture_on_commit_callbacks
):
    response = answer(
        anon,
        follow_up,
        django_capture_on_commit_callbacks,
        {"pain": 2, "red_flags": {"fever_or_infection": True, "cancer_history": False}},
    )

    assert response.status_code == 201, response.content
    assert FollowUpAnswer.objects.get().red_flags == ["fever_or_infection"]
    assert Complaint.objects.get(pk=follow_up.complaint.pk).status == "referral_required"
    (alert,) = TherapistAlert.objects.all()
    assert (alert.kind, alert.urgency, alert.questions) == (
        "red_flag",
        "urgent_referral",
        ["fever_or_infection"],
    )


def test_the_question_lists_the_red_flag_checkboxes(anon, follow_up):
    data = anon.get(url(follow_up.token)).json()

    assert set(data["red_flags"]) >= {"saddle_numbness", "bladder_bowel_change"}


def test_an_unknown_checkbox_is_400_and_nothing_is_written(anon, follow_up):
    response = anon.post(
        url(follow_up.token), {"pain": 2, "red_flags": {"headache": True}}, format="json"
    )

    assert response.status_code == 400, response.content
    assert not FollowUpAnswer.objects.exists()
    assert not TherapistAlert.objects.exists()
    assert Reminder.objects.get(pk=follow_up.reminder.pk).answered_at is None
    assert Complaint.objects.get(pk=follow_up.complaint.pk).status == "active"


def test_a_plain_comment_is_stored_and_alerts_nobody(
    anon, follow_up, django_capture_on_commit_callbacks
):
    response = answer(
        anon, follow_up, django_capture_on_commit_callbacks, {"pain": 3, "comment": "Much easier"}
    )

    assert response.status_code == 201
    assert FollowUpAnswer.objects.get().comment == "Much easier"
    assert not TherapistAlert.objects.exists()
    assert mail.outbox == []


# --- item 3: pain alerts without pain_before ------------------------------------------------------


def test_a_follow_up_of_eight_alerts_without_pain_before(
    anon, follow_up, django_capture_on_commit_callbacks
):
    Note.objects.filter(appointment=follow_up.appointment).update(pain_before=None)

    response = answer(anon, follow_up, django_capture_on_commit_callbacks, {"pain": 8})

    assert response.status_code == 201
    (alert,) = TherapistAlert.objects.all()
    assert alert.kind == "follow_up_pain"
    assert "8/10" in alert.message


def test_a_rise_of_two_over_the_last_recorded_pain_alerts_without_pain_before(
    anon, follow_up, django_capture_on_commit_callbacks
):
    Note.objects.filter(appointment=follow_up.appointment).update(pain_before=None)
    OutcomeFactory(
        complaint=follow_up.complaint,
        score=3,
        answers={"pain": 3},
        recorded_at=timezone.now() - dt.timedelta(days=3),
    )

    response = answer(anon, follow_up, django_capture_on_commit_callbacks, {"pain": 5})

    assert response.status_code == 201
    (alert,) = TherapistAlert.objects.all()
    assert "above 3/10" in alert.message


def test_alert_thresholds_are_the_practices(anon, follow_up, django_capture_on_commit_callbacks):
    Practice.objects.filter(pk=follow_up.appointment.practice_id).update(
        alert_follow_up_pain=10, alert_pain_rise=5
    )

    response = answer(anon, follow_up, django_capture_on_commit_callbacks, {"pain": 8})

    assert response.status_code == 201  # 8 < 10, and 4 above pain before (4) < 5
    assert not TherapistAlert.objects.exists()
    assert Outcome.objects.filter(source="follow_up").count() == 1


# --- item 3: alerts/ ------------------------------------------------------------------------------


def test_alerts_are_listed_filtered_and_acknowledged_with_a_note(therapist, owner, practice):
    alert = TherapistAlertFactory(practice=practice, client__practice=practice)
    other = TherapistAlertFactory(practice=practice, client__practice=practice)
    url_of = f"{ALERTS}{alert.pk}/"

    response = therapist.api.post(f"{url_of}acknowledge/", {"note": "Phoned: better today."})

    assert response.status_code == 200, response.content
    assert response.json()["acknowledged_by"] == therapist.user.pk
    assert response.json()["acknowledgement_note"] == "Phoned: better today."
    open_ids = [a["id"] for a in owner.api.get(ALERTS, {"acknowledged": "false"}).json()["results"]]
    done_ids = [a["id"] for a in owner.api.get(ALERTS, {"acknowledged": "true"}).json()["results"]]
    assert (open_ids, done_ids) == ([other.pk], [alert.pk])
    again = therapist.api.post(f"{url_of}acknowledge/", {"note": "again"})
    assert again.status_code == 409
    assert TherapistAlert.objects.get(pk=alert.pk).acknowledgement_note == "Phoned: better today."
    assert AuditEvent.objects.filter(
        AuditEvent.records_containing(alert.pk), record_type="alert", action="update"
    ).exists()


def test_another_practices_alert_is_404(other_owner, practice):
    alert = TherapistAlertFactory(practice=practice, client__practice=practice)

    assert other_owner.api.get(f"{ALERTS}{alert.pk}/").status_code == 404
    response = other_owner.api.post(f"{ALERTS}{alert.pk}/acknowledge/", {"note": "x"})
    assert response.status_code == 404
    assert TherapistAlert.objects.get(pk=alert.pk).acknowledged_at is None


def test_an_alert_is_emailed_once_through_the_outbox(
    anon, owner, follow_up, django_capture_on_commit_callbacks
):
    answer(anon, follow_up, django_capture_on_commit_callbacks, {"pain": 9})
    (delivery,) = Reminder.objects.filter(kind=ReminderKind.ALERT)
    assert delivery.status == "sent"
    assert len(mail.outbox) == 1

    assert reminders.deliver_reminders([delivery.pk]) == {delivery.pk: "skipped"}
    assert len(mail.outbox) == 1
    listed = owner.api.get(ALERTS).json()["results"]
    assert listed[0]["delivery_status"] == "sent"


def test_an_alert_without_a_therapist_goes_to_the_owners(
    therapist, owner, client_member, practice, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    client = client_member.user.client
    # A staff member who is not a therapist screens: nobody treating is known yet.
    with django_capture_on_commit_callbacks(execute=True):
        complaint = services.create_complaint(
            practice=practice,
            client=client,
            created_by=None,
            regions=[{"region": "lumbar", "side": "left"}],
            onset_date=timezone.localdate(),
            onset_type="sudden",
            mechanism="lifting",
            pain_now=5,
            red_flags={"saddle_numbness": "yes"},
        )

    (alert,) = TherapistAlert.objects.filter(complaint=complaint)
    assert alert.therapist is None
    assert [m.to for m in mail.outbox] == [[owner.user.email]]


def test_alert_deliveries_are_not_shown_to_the_client(client_member, therapist, practice):
    client = client_member.user.client
    TherapistAlertFactory(practice=practice, client=client)
    Reminder.objects.create(
        practice=practice,
        client=client,
        kind=ReminderKind.ALERT,
        channel="email",
        scheduled_for=timezone.now(),
        alert=TherapistAlert.objects.get(),
    )

    mine = client_member.api.get("/api/v1/reminders/").json()["results"]
    staff = therapist.api.get("/api/v1/reminders/").json()["results"]

    assert [r["kind"] for r in mine] == []
    assert [r["kind"] for r in staff] == ["alert"]
