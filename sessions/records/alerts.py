"""Alerts for clinicians (DOMAIN.md 6 escalation, 2a screening): raised in the transaction of
the answer that causes them, listed at `alerts/` until acknowledged, and sent once by email
through the reminders outbox (a `Reminder` of kind `alert`: claimed, sent, marked, never twice).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clients.domain import REFERRAL_ADVICE, referral_urgency
from clients.models import Client, Complaint
from practice.errors import InvalidTransition
from practice.models import Practice, Therapist, User
from sessions.records.models import AlertKind, FollowUpAnswer, TherapistAlert
from sessions.scheduling.models import Appointment, Reminder, ReminderKind
from sessions.scheduling.queue import dispatch_reminders_soon


def raise_alert(
    *,
    practice: Practice | int,
    client: Client | int,
    kind: str,
    message: str,
    therapist: Therapist | None = None,
    appointment: Appointment | None = None,
    complaint: Complaint | None = None,
    follow_up_answer: FollowUpAnswer | None = None,
    questions: list[str] | None = None,
) -> TherapistAlert:
    """One alert and its one outgoing message, dispatched after commit (a rolled-back answer
    alerts nobody)."""
    practice_id = practice if isinstance(practice, int) else practice.pk
    client_id = client if isinstance(client, int) else client.pk
    alert = TherapistAlert.objects.create(
        practice_id=practice_id,
        client_id=client_id,
        therapist=therapist,
        appointment=appointment,
        complaint=complaint,
        follow_up_answer=follow_up_answer,
        kind=kind,
        urgency=referral_urgency(questions or []) if kind == AlertKind.RED_FLAG else "",
        questions=questions or [],
        message=message[:500],
    )
    Reminder.objects.create(
        practice_id=practice_id,
        client_id=client_id,
        appointment=None,
        kind=ReminderKind.ALERT,
        channel="email",
        scheduled_for=timezone.now(),
        alert=alert,
    )
    dispatch_reminders_soon()
    return alert


@transaction.atomic
def acknowledge_alert(*, alert: TherapistAlert, by: User, note: str) -> TherapistAlert:
    """A clinician has seen and acted on the alert; a second acknowledgement is a 409."""
    locked = TherapistAlert.objects.select_for_update().get(pk=alert.pk)
    if locked.acknowledged_at is not None:
        raise InvalidTransition("This alert is already acknowledged.")
    locked.acknowledged_at = timezone.now()
    locked.acknowledged_by = by
    locked.acknowledgement_note = note
    locked.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    return locked


def alert_on_screening(
    *,
    complaint: Complaint,
    positive: list[str],
    unsure: list[str],
    by: User | None,
    appointment_id: int | None,
) -> list[TherapistAlert]:
    """A positive screening answer alerts with its urgency and the advice to give; `unsure` asks
    for a review (DOMAIN.md 2a). The visit's therapist hears, else the one who screened."""
    appointment = (
        Appointment.objects.select_related("therapist").get(pk=appointment_id)
        if appointment_id
        else None
    )
    therapist = appointment.therapist if appointment else None
    if therapist is None and by is not None:
        therapist = Therapist.objects.filter(user=by).first()
    follow_up = (
        FollowUpAnswer.objects.filter(appointment_id=appointment_id).order_by("-id").first()
        if appointment_id
        else None
    )
    messages = []
    if positive:
        urgency = referral_urgency(positive)
        advice = REFERRAL_ADVICE.get(urgency, "")
        red_flag = f"Red flag: {', '.join(positive)} ({urgency}). {advice}"
        messages.append((AlertKind.RED_FLAG, positive, red_flag))
    if unsure:
        review = f"Screening answered unsure, review: {', '.join(unsure)}."
        messages.append((AlertKind.SCREENING_REVIEW, unsure, review))
    return [
        raise_alert(
            practice=complaint.practice_id,
            client=complaint.client_id,
            kind=kind,
            therapist=therapist,
            appointment=appointment,
            complaint=complaint,
            follow_up_answer=follow_up,
            questions=questions,
            message=message,
        )
        for kind, questions, message in messages
    ]
